/**
 * A monitoring server a test or the demo starts (Prometheus, Alertmanager): Debian's binary,
 * spawned on a free loopback port with its output in a log file, ready when `/-/ready` answers
 * 200, stopped by stopChild (which resolves only once it exited, so a caller may remove its
 * folder next). A start that fails — the process exits, or is not ready in time — rejects with
 * what it logged (errors first): that is where Prometheus and Alertmanager say what they refuse.
 * No jest here: the demo starts the same servers.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { exited, stopChild } from '../child';
import { freePort } from '../ports';

export interface Daemon {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The file its stdout and stderr go to. */
  log: string;
  /** Its log's errors and warnings, then its last lines: for error messages. */
  tail(lines?: number): string;
  /** SIGTERM (SIGKILL after a grace); resolves once it exited. Idempotent. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** For messages: `prometheus`, `alertmanager am-1`. */
  name: string;
  binary: string;
  /** Its command line, given the loopback address it must listen on (`127.0.0.1:<port>`). */
  args(listen: string): string[];
  /** Appended to, so that a restart keeps the earlier run's lines. */
  log: string;
  readyTimeoutMs?: number;
}

/** The first of `candidates` that runs (`--version` exits 0), or an error saying what to install. */
export function findBinary(candidates: string[], install: string): string {
  const found = candidates.find((b) => spawnSync(b, ['--version']).status === 0);
  if (found === undefined) {
    throw new Error(`${candidates.join(' or ')} not found: install ${install} (scripts/setup.sh)`);
  }
  return found;
}

/**
 * What its log says: its errors and warnings (Prometheus and Alertmanager log in logfmt,
 * `level=error`), which a shutdown's lines would push out of a plain tail, then its last lines.
 */
function logSummary(file: string, lines = 12): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trimEnd();
  } catch {
    return '(no log)';
  }
  const all = text.split('\n');
  const errors = all.filter((l) => /\blevel=(error|warn)\b/.test(l)).slice(-lines);
  const last = all.slice(-lines).filter((l) => !errors.includes(l));
  return [
    ...(errors.length > 0 ? ['errors and warnings:', ...errors] : []),
    'last lines:',
    ...last,
  ].join('\n');
}

/**
 * Start it and wait until it is ready. A free port is picked, then released for the server to
 * bind; if another process took it in between (the server exits saying so), start again.
 */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (error) {
      const lostPortRace = error instanceof Error && /address already in use/.test(error.message);
      if (!lostPortRace || attempt === 3) throw error;
    }
  }
}

async function startOnce(opts: DaemonOptions): Promise<Daemon> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const fd = openSync(opts.log, 'a');
  let child: ChildProcess;
  try {
    child = spawn(opts.binary, opts.args(`127.0.0.1:${port}`), {
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  // Should the caller die without stopping it (an uncaught error, process.exit), it goes too.
  const killOnExit = (): void => {
    if (!exited(child)) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  const tail = (lines?: number): string => logSummary(opts.log, lines);
  const stop = async (): Promise<void> => {
    // No pid: it never started (spawn's 'error'), and no 'exit' will come.
    if (child.pid !== undefined) await stopChild(child);
    process.removeListener('exit', killOnExit);
  };

  const exit = new Promise<string>((resolve) => {
    child.once('error', (e) => resolve(e.message));
    child.once('exit', (code, signal) => resolve(`exited (${signal ?? code})`));
  });
  let gone: string | undefined;
  void exit.then((why) => (gone = why));
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  for (;;) {
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ready) break;
    if (gone !== undefined || Date.now() > deadline) {
      await stop();
      const why = gone ?? `not ready at ${url}/-/ready after ${opts.readyTimeoutMs ?? 60_000} ms`;
      throw new Error(`${opts.name} ${why}; its log (${opts.log}) says:\n${tail()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, log: opts.log, tail, stop };
}
