// The built agent and controller, started as real processes the way their containers start them:
// they serve /healthz and /metrics, fail readiness on SIGTERM and exit 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../vm/vm';

const root = join(__dirname, '..', '..');

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in:\n${seen}`)), timeoutMs);
    const onData = (c: Buffer): void => {
      seen += c.toString();
      const line = seen.split('\n').find((l) => pattern.test(l));
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited ${code} before ${pattern}:\n${seen}`)));
  });
}

describe.each([
  [
    'agent',
    'REWIND_AGENT_HEALTH_PORT',
    /^rewind_agent_info\{node="node-under-test",version="0\.1\.0"\} 1$/m,
  ],
  [
    'controller',
    'REWIND_CONTROLLER_HEALTH_PORT',
    /^rewind_controller_info\{version="0\.1\.0"\} 1$/m,
  ],
])('the %s process', (name, portVariable, infoMetric) => {
  it('serves its endpoints and shuts down cleanly on SIGTERM', async () => {
    const main = join(root, 'dist', name, 'main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
    const port = await freePort();
    const child = spawn('node', [main], {
      env: {
        ...process.env,
        [portVariable]: String(port),
        NODE_NAME: 'node-under-test',
        REWIND_DRAIN_SECONDS: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await waitForLine(child, /started/, 20_000);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toMatch(infoMetric);

      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
