// The VM API: several VMs at once, commands, forwarded ports, a private network between VMs, and
// the kernel log check.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startVm, stopVm } from './jest';
import { projectRoot } from './kernel';
import { openFiles, startSwitch, type VdeSwitch } from './switch';
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

/**
 * Sends `text` from the host to address:port, as far as the host's own network takes it. Whether
 * it connects says nothing here (a sandbox's gateway may accept any connection): the receiver
 * judges whether the text arrived.
 */
function hostSends(address: string, port: number, text: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, timeout: 3000 });
    const end = (): void => {
      socket.destroy();
      resolve();
    };
    socket.once('connect', () => socket.end(text, () => setTimeout(end, 500)));
    socket.once('timeout', end);
    socket.once('error', end);
  });
}

describe('two VMs at once, on a private network of their own', () => {
  const vms: Vm[] = [];
  let sw: VdeSwitch | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'rewind-vmnet-'));
  afterAll(async () => {
    try {
      for (const vm of vms) await stopVm(vm);
    } finally {
      await sw?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reaches an HTTP server inside each through its own forwarded port', async () => {
    sw = await startSwitch(dir);
    const switchSocket = sw.socket;
    vms.push(
      ...(await Promise.all(
        [
          ['alpha', '10.99.0.2/24'],
          ['beta', '10.99.0.3/24'],
        ].map(([name, address]) =>
          startVm({
            name,
            forwardPorts: [8080],
            cpus: 1,
            privateNetwork: { switchSocket, address: address as string },
          }),
        ),
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

  it('carries ping and TCP between the guests on the private network, and nothing to or from the host', async () => {
    const [a, b] = vms as [Vm, Vm];
    expect([a.privateAddress, b.privateAddress]).toEqual(['10.99.0.2', '10.99.0.3']);
    // Each guest's private NIC has the MAC derived from its address, and no route leads out.
    expect(await b.run('ip -o addr show | grep 10.99.0.3/24')).toMatch(/eth1/);
    expect(await b.run('cat /sys/class/net/eth1/address')).toBe('52:54:0a:63:00:03\n');
    expect(await a.run('ip route')).not.toMatch(/default/);
    expect((await a.exec('ip route get 1.1.1.1')).stderr).toMatch(/unreachable/);
    // The segment lives only in the switch: it holds no tap (no /dev/net/tun open), and no
    // interface of the host has an address or a route on it. (Other lanes add and remove host
    // interfaces of their own meanwhile, so the host's list of interfaces proves nothing.)
    const switchFiles = openFiles((sw as VdeSwitch).pid);
    expect(switchFiles.filter((file) => file.startsWith('socket:')).length).toBeGreaterThan(0);
    expect(switchFiles).not.toContain('/dev/net/tun');
    const ip = (...args: string[]) => spawnSync('ip', args, { encoding: 'utf8' }).stdout;
    const addresses = ip('-o', 'addr', 'show');
    expect(addresses).toMatch(/ inet 127\.0\.0\.1\//);
    expect(addresses).not.toMatch(/ inet 10\.99\.0\./);
    expect(ip('route', 'show', 'table', 'all')).not.toMatch(/10\.99\.0\./);

    await a.run('busybox ping -c1 -W5 10.99.0.3', { timeoutMs: 20_000 });

    await b.run('setsid busybox nc -l -p 7000 </dev/null >/tmp/got 2>&1 &');
    await b.run(
      'for i in $(seq 100); do busybox netstat -ltn | grep -q ":7000 " && exit 0; sleep 0.1; done; exit 1',
    );
    // B listens now, for one connection: the host's try must not be it.
    await hostSends('10.99.0.3', 7000, 'hello-from-the-host\n');
    await a.run('echo hello-from-a | busybox nc -w 5 10.99.0.3 7000', { timeoutMs: 20_000 });
    await b.run(
      'for i in $(seq 100); do grep -q hello-from-a /tmp/got && exit 0; sleep 0.1; done; exit 1',
    );
    expect(await b.run('cat /tmp/got')).toBe('hello-from-a\n');
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
        '**/test/vm/fixtures/kernel-warning.fixture.ts',
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
