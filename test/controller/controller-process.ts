/**
 * The built controller (`node dist/controller/main.js`) as a child process for end-to-end suites:
 * free ports on loopback, its log kept in a file, /readyz and /metrics over plain HTTP, SIGKILL or
 * SIGTERM to stop it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtProgram } from '../agent/vm-node';
import { projectRoot } from '../vm/kernel';
import { freePort } from '../vm/vm';

export interface ControllerProcess {
  name: string;
  apiPort: number;
  healthPort: number;
  child: ChildProcess;
  logFile: string;
  log(): string;
  /** GET on the health port (status and body), or undefined when not answering. */
  health(path: string): Promise<{ status: number; body: string } | undefined>;
  waitReady(timeoutMs?: number): Promise<void>;
  /** A metric's value summed over its series (0 when absent). */
  metric(name: string): Promise<number>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startController(
  name: string,
  env: Record<string, string>,
  logDir: string,
): Promise<ControllerProcess> {
  const apiPort = await freePort();
  const healthPort = await freePort();
  const logFile = join(logDir, `${name}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  const [node, main] = builtProgram('controller').split(' ') as [string, string];
  const child = spawn(node, [main], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH,
      POD_NAME: name,
      REWIND_CONTROLLER_BIND: '127.0.0.1',
      REWIND_CONTROLLER_API_PORT: String(apiPort),
      REWIND_CONTROLLER_HEALTH_PORT: String(healthPort),
      REWIND_DRAIN_SECONDS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const health = async (path: string) => {
    try {
      const r = await fetch(`http://127.0.0.1:${healthPort}${path}`, {
        signal: AbortSignal.timeout(3000),
      });
      return { status: r.status, body: await r.text() };
    } catch {
      return undefined;
    }
  };
  const p: ControllerProcess = {
    name,
    apiPort,
    healthPort,
    child,
    logFile,
    log: () => readFileSync(logFile, 'utf8'),
    health,
    async waitReady(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (child.exitCode !== null)
          throw new Error(`controller ${name} exited ${child.exitCode}:\n${p.log()}`);
        if ((await health('/readyz'))?.status === 200) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`controller ${name} did not become ready:\n${p.log()}`);
    },
    async metric(metric) {
      const r = await health('/metrics');
      if (!r) throw new Error(`controller ${name} does not answer /metrics`);
      let sum = 0;
      for (const line of r.body.split('\n')) {
        const m = new RegExp(`^${metric}(\\{[^}]*\\})? (\\S+)$`).exec(line);
        if (m) sum += Number(m[2]);
      }
      return sum;
    },
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
      out.end();
    },
  };
  return p;
}
