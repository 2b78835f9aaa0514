/**
 * Starting the cluster's long-running processes (etcd, the API server, the controllers, CoreDNS,
 * containerd, the kubelet, kube-proxy) with their output in a log file, and waiting until one is
 * ready: a probe that answers, or the process's exit with the end of its log.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { openSync, readFileSync, closeSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { exited } from '../child';

/** Start `file` with stdout and stderr appended to `logFile`. */
export function spawnLogged(
  file: string,
  args: string[],
  logFile: string,
  env: NodeJS.ProcessEnv = process.env,
): ChildProcess {
  const log = openSync(logFile, 'a');
  try {
    return spawn(file, args, { stdio: ['ignore', log, log], env });
  } finally {
    closeSync(log);
  }
}

/** The last lines of a log file, for an error message. */
export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Poll `probe` every 200 ms until it returns true; fail when `child` exits or time runs out. */
export async function waitFor(
  what: string,
  child: ChildProcess,
  logFile: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited(child)) {
      throw new Error(
        `${what} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready; ` +
          `last lines of ${logFile}:\n${tail(logFile)}`,
      );
    }
    try {
      if (await probe()) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what} not ready after ${timeoutMs} ms; last lines of ${logFile}:\n${tail(logFile)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** GET over plain HTTP; resolves with the status and body. */
export function httpGet(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * GET over HTTPS without verifying the server (the controllers' health ports serve a certificate
 * they sign themselves); resolves with the status.
 */
export function httpsGetStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { timeout: 2000, rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a host command to completion; never throws on a non-zero exit. */
export function command(
  file: string,
  args: string[],
  options: { timeoutMs?: number; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`${file} ${args.join(' ')}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
      },
    );
    child.stdin?.end(options.input);
  });
}

/** Like command(), but throws with its output unless it exits 0; returns stdout. */
export async function commandOk(
  file: string,
  args: string[],
  options: { timeoutMs?: number; input?: string } = {},
): Promise<string> {
  const result = await command(file, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${file} ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}
