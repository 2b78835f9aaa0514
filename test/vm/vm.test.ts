// The VM API: several VMs at once, commands, forwarded ports, and the kernel log check.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startVm, stopVm } from './jest';
import { projectRoot } from './kernel';
import type { Vm } from './vm';

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/', timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

// A small HTTP server started in the background inside the guest; it answers with the hostname.
const serveHostname =
  `setsid node -e "require('http').createServer((q,s)=>s.end(require('os').hostname()))` +
  `.listen(8080)" </dev/null >/tmp/http.log 2>&1 &`;

describe('two VMs at once', () => {
  const vms: Vm[] = [];
  afterAll(async () => {
    for (const vm of vms) await stopVm(vm);
  });

  it('reaches an HTTP server inside each through its own forwarded port', async () => {
    vms.push(
      ...(await Promise.all(
        ['alpha', 'beta'].map((name) => startVm({ name, forwardPorts: [8080], cpus: 1 })),
      )),
    );
    const [alpha, beta] = vms as [Vm, Vm];
    expect(alpha.hostPort(8080)).not.toBe(beta.hostPort(8080));
    for (const vm of vms) await vm.run(serveHostname);
    for (const vm of vms) {
      // The server needs a moment to start node over 9p; poll until it answers.
      let answer = '';
      for (let i = 0; i < 120 && answer === ''; i++) {
        answer = await httpGet(vm.hostPort(8080)).catch(() => '');
        if (answer === '') await new Promise((r) => setTimeout(r, 250));
      }
      expect(answer).toBe(vm.name);
    }
  });

  it('runs commands with their status, output and a writable /tmp', async () => {
    const vm = vms[0] as Vm;
    const r = await vm.exec('echo out; echo err >&2; touch /tmp/ok && exit 7');
    expect(r).toMatchObject({ code: 7, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    expect((await vm.exec('touch /work-is-read-only')).code).not.toBe(0);
    expect(await vm.run('pwd')).toBe(`${projectRoot}\n`);
    expect(await vm.run('ls /sys/kernel/tracing/events/sched')).toContain('sched_switch');
  });

  it('times a hung command out', async () => {
    const r = await (vms[1] as Vm).exec('sleep 30', { timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
  });
});

describe('the kernel log check', () => {
  it('fails a VM whose kernel log shows a WARNING:', async () => {
    const vm = await startVm({ name: 'warns', cpus: 1 });
    await vm.run('echo "<4>WARNING: CPU: 0 PID: 1 at rewind-test: injected" > /dev/kmsg');
    await expect(vm.checkKernelLog()).rejects.toThrow(/WARNING: CPU: 0 PID: 1 at rewind-test/);
    await stopVm(vm); // already reported: stop() does not report the same line twice
  });

  it('fails a jest test whose VM logs a WARNING:, and keeps the log with its output', () => {
    const outFile = join(mkdtempSync(join(tmpdir(), 'rewind-jest-')), 'results.json');
    const r = spawnSync(
      'npx',
      [
        'jest',
        '--ci',
        '--rootDir',
        projectRoot,
        '--testMatch',
        '**/test/vm/fixtures/*.fixture.ts',
        '--json',
        '--outputFile',
        outFile,
      ],
      { cwd: projectRoot, encoding: 'utf8', timeout: 170_000 },
    );
    const results = JSON.parse(readFileSync(outFile, 'utf8')) as {
      numFailedTests: number;
      numPassedTests: number;
      testResults: { assertionResults: { status: string; failureMessages: string[] }[] }[];
    };
    expect(r.status).not.toBe(0);
    expect(results.numFailedTests).toBe(1);
    const failure = results.testResults[0]?.assertionResults[0];
    expect(failure?.status).toBe('failed');
    expect(failure?.failureMessages.join('\n')).toMatch(/WARNING: fixture warning/);
    expect(r.stderr).toMatch(/kernel log of VM fixture .*kept in/);
  });
});
