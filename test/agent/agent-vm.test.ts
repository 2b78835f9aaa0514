/**
 * rewind-agent over the real module, in a VM: the agent runs as the chart runs it (the built
 * `rewind-agent serve`, its TLS Secret's files, NODE_NAME), the host reaches its snapshot API
 * only through the forwarded port with the controller's client certificate, and babeltrace2
 * judges every trace. Covers: a snapshot tar whose trace (statedump included) reads with no
 * warning and whose manifest matches it; history kept across SIGKILL and restart; refusals at
 * the handshake and by identity; 429 for a concurrent snapshot; promtool on the live /metrics;
 * the window gauge against the workload; SIGTERM leaving the rings recording.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../vm/kernel';
import { useVm } from '../vm/jest';
import { agentRequest, untar } from './agent-client';
import { makeTestPki, type TestPki } from './certs';
import { AGENT_API, AGENT_HEALTH, LOADER_HEALTH, loadModuleInVm, startAgentInVm } from './vm-node';

const API = AGENT_API;
const HEALTH = AGENT_HEALTH;
const LOADER = LOADER_HEALTH;
const out = join(projectRoot, 'test-output', 'agent-vm');

describe('rewind-agent in a VM with the real module', () => {
  mkdirSync(out, { recursive: true });
  // The guest sees the host's files read-only at the same paths, except /tmp (a tmpfs).
  const pki: TestPki = makeTestPki(out);
  const vm = useVm({ name: 'agent-a', cpus: 2, forwardPorts: [API, HEALTH, LOADER] });

  // 4 MiB per CPU: enough to hold history across an agent's restart (node loading its
  // modules under TCG is seconds of page faults and syscalls), and a syscall storm wraps it.
  const startAgent = () =>
    startAgentInVm(vm(), {
      node: 'agent-a',
      pki,
      env: { REWIND_RING_SUBBUF_BYTES: '65536', REWIND_RING_SUBBUFS: '64' },
    });
  const loadModule = () => loadModuleInVm(vm(), 'agent-a', out);

  const snapshot = (extra: Partial<Parameters<typeof agentRequest>[0]> = {}) =>
    agentRequest({
      port: vm().hostPort(API),
      ca: pki.caPem,
      client: pki.controller,
      method: 'POST',
      path: '/v1/snapshots',
      ...extra,
    });

  /** babeltrace2's text of a snapshot's trace; fails on any warning. */
  function readTrace(dir: string): string {
    const bt = spawnSync('babeltrace2', [join(dir, 'trace')], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    });
    expect(bt.stderr).toBe('');
    expect(bt.status).toBe(0);
    return bt.stdout;
  }

  beforeAll(async () => {
    await loadModule();
    await startAgent();
  }, 600_000);

  afterAll(() => {
    rmSync(pki.dir, { recursive: true, force: true });
  });

  it('runs as the chart runs it: the loader loaded the prebuilt module, the agent records', async () => {
    const health = await vm().httpGet(LOADER, '/healthz');
    expect(health.body).toMatch(/^ok|loaded/);
    expect(await vm().run('cat /sys/module/rewind/parameters/abi_version')).toMatch(/^\d+\n$/);
    const loader = await vm().run('cat /tmp/loader.log');
    expect(loader).toMatch(/prebuilt/);
    const status = await agentRequest({
      port: vm().hostPort(API),
      ca: pki.caPem,
      client: pki.controller,
      path: '/v1/status',
    });
    expect(JSON.parse(status.body.toString()).recorder).toMatchObject({ state: 'recording' });
  });

  it('serves the controller a tar whose trace babeltrace2 reads, statedump included, and whose manifest matches it', async () => {
    await vm().run('for i in 1 2 3; do ls /proc >/dev/null; done');
    const r = await snapshot({ body: JSON.stringify({ windowSeconds: 5 }) });
    expect(r.status).toBe(200);
    const dir = untar(r.body, out);
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      const text = readTrace(dir);
      expect(text).toMatch(/statedump_start/);
      expect(text).toMatch(/statedump_process/);
      expect(text).toMatch(/statedump_end/);
      const metadata = readFileSync(join(dir, 'trace', 'metadata'), 'utf8');
      expect(metadata).toContain(`uuid = "${manifest.traceUuid}"`);
      expect(metadata).toContain('hostname = "agent-a"');
      const bootId = (await vm().run('cat /proc/sys/kernel/random/boot_id')).trim();
      expect(manifest.bootId).toBe(bootId);
      expect(manifest.kernelRelease).toBe((await vm().run('uname -r')).trim());
      const offsetS = /offset_s = (-?\d+);/.exec(metadata)?.[1];
      const offset = /\toffset = (-?\d+);/.exec(metadata)?.[1];
      expect(manifest.clock.offsetNs).toBe(
        (BigInt(offsetS as string) * 1_000_000_000n + BigInt(offset as string)).toString(),
      );
      expect(manifest.files).toEqual(['metadata', 'stream_0', 'stream_1']);
      expect(manifest.stats.map((s: { cpu: number }) => s.cpu)).toEqual([0, 1]);
      expect(manifest.node).toBe('agent-a');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('keeps the recorded history when the agent is killed with SIGKILL and restarted', async () => {
    const marker = `rewind-marker-${process.pid}`;
    await vm().run(`cp /bin/true /tmp/${marker} && /tmp/${marker}`);
    await vm().run('kill -9 $(cat /tmp/agent.pid)');
    await startAgent();
    const r = await snapshot();
    expect(r.status).toBe(200);
    const dir = untar(r.body, out);
    try {
      const text = readTrace(dir);
      expect(text).toMatch(new RegExp(`sched_process_exec:.*filename = "/tmp/${marker}"`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await vm().run('cat /tmp/agent.log')).toMatch(/attached to the running recorder/);
  }, 180_000);

  it('refuses anyone but the controller, and never sends a trace byte', async () => {
    const port = vm().hostPort(API);
    await expect(
      agentRequest({ port, ca: pki.caPem, method: 'POST', path: '/v1/snapshots' }),
    ).rejects.toThrow();
    await expect(snapshot({ client: pki.foreignController })).rejects.toThrow();
    const forbidden = await snapshot({ client: pki.intruder });
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers['content-type']).toMatch(/json/);
  });

  it('answers a second snapshot at the same time with 429', async () => {
    const [a, b] = await Promise.all([snapshot(), snapshot()]);
    expect([a.status, b.status].sort()).toEqual([200, 429]);
    const refused = a.status === 429 ? a : b;
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  }, 180_000);

  it('exports metrics promtool accepts, and a window that shrinks when the workload grows', async () => {
    const metrics = async () => (await vm().httpGet(HEALTH, '/metrics')).body;
    const text = await metrics();
    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(promtool.stdout + promtool.stderr).toBe('');
    expect(promtool.status).toBe(0);
    const windows = (t: string) =>
      [...t.matchAll(/^rewind_agent_recorder_window_seconds\{cpu="(\d+)"\} (\S+)$/gm)].map((m) =>
        Number(m[2]),
      );
    // A syscall storm on both CPUs (dd one byte at a time: two syscalls, four events per
    // byte) wraps the rings: the oldest history is overwritten and each CPU's window shrinks to
    // what the storm's seconds filled.
    await vm().run('sleep 3');
    const quiet = windows(await metrics());
    expect(quiet).toHaveLength(2);
    await vm().run(
      'for c in 0 1; do taskset -c $c dd if=/dev/zero of=/dev/null bs=1 count=300000 2>/dev/null & done; wait',
      { timeoutMs: 180_000 },
    );
    const busy = windows(await metrics());
    for (let cpu = 0; cpu < 2; cpu++) expect(busy[cpu]).toBeLessThan(quiet[cpu] as number);
    // Quiet again, the window grows with the time that passes (nothing overwrites it).
    await vm().run('sleep 2');
    const later = windows(await metrics());
    expect(Math.max(...later)).toBeGreaterThan(Math.max(...busy) + 1);
    expect(text).toMatch(/^rewind_agent_build_info\{.*abi_version="\d+".*\} 1$/m);
  }, 240_000);

  it('on SIGTERM fails readiness first, exits within the grace period, and the rings keep recording', async () => {
    const pid = (await vm().run('cat /tmp/agent.pid')).trim();
    await vm().run(`kill -TERM ${pid}`);
    const ready = await vm().httpGet(HEALTH, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatch(/shutting down/);
    const started = Date.now();
    await vm().run(`while kill -0 ${pid} 2>/dev/null; do sleep 0.2; done`, { timeoutMs: 30_000 });
    expect(Date.now() - started).toBeLessThan(30_000);
    // The module still records with no agent holding the device.
    const stats = JSON.parse(await vm().run(`${projectRoot}/kmod/tools/rewindctl stats`));
    const before = JSON.stringify(stats);
    await vm().run('ls /proc >/dev/null; sleep 0.5');
    const after = await vm().run(`${projectRoot}/kmod/tools/rewindctl stats`);
    expect(after).not.toBe(before);
    expect(JSON.parse(await vm().run(`${projectRoot}/kmod/tools/rewindctl info`)).state).toBe(2);
    writeFileSync(join(out, 'agent.log'), await vm().run('cat /tmp/agent.log'));
  }, 120_000);
});
