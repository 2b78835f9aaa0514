// The loader process's shell: /healthz and /readyz over real HTTP on a real Lifecycle, the
// metrics, the capped backoff and the re-check of a loaded module, driven by a hand-fired timer so
// nothing sleeps; the state file it writes for the agent. The kernel's side is the stand-in of fixtures/module/fake-kernel.ts (the host
// cannot load rewind.ko); module-vm.test.ts runs the same server against a real kernel.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Lifecycle } from '../../common/lifecycle';
import { startModuleLoader, type ModuleLoader, type Timers } from '../../agent/module/loader';
import type { ModulePolicy } from '../../agent/module/policy';
import { parseStateFile } from '../../agent/module/state-file';
import { FakeKernel } from './fixtures/module/fake-kernel';
import { httpGet, metric, testPolicy } from './fixtures/module/support';
import { KO, modinfoRelease, realModule } from './fixtures/module/modules';

const release = modinfoRelease(KO);

/** Timers the test fires by hand; `pending` shows what the loader is waiting for. */
class HandTimers implements Timers {
  private next = 1;
  readonly waits = new Map<number, { fn: () => void; ms: number }>();
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.waits.set(id, { fn, ms });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.waits.delete(handle as number);
  }
  /** The delays waited for, in ms. */
  get pending(): number[] {
    return [...this.waits.values()].map((w) => w.ms);
  }
  fireAll(): void {
    const due = [...this.waits.values()];
    this.waits.clear();
    for (const w of due) w.fn();
  }
}

interface Rig {
  loader: ModuleLoader;
  lifecycle: Lifecycle;
  kernel: FakeKernel;
  timers: HandTimers;
  policy: ModulePolicy;
  url: string;
  /** The state file the loader writes (under the rig's folder). */
  stateFile: string;
}

const rigs: Rig[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await r.loader.stop();
    await r.lifecycle.shutdown({ drain: false });
  }
});
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function rig(
  over: Partial<ModulePolicy> = {},
  stateFile?: (root: string) => string,
): Promise<Rig> {
  const root = mkdtempSync(join(tmpdir(), 'rwd-loader-'));
  dirs.push(root);
  const statePath = stateFile?.(root) ?? join(root, 'run', 'module', 'state.json');
  const policy = testPolicy(root, { retryMaxSeconds: 30, ...over });
  const kernel = new FakeKernel(join(root, 'kernel'));
  const timers = new HandTimers();
  const lifecycle = new Lifecycle({ drainMs: 0 });
  const loader = await startModuleLoader(policy, lifecycle, {
    port: 0,
    bind: '127.0.0.1',
    log: pino({ level: 'silent' }),
    registry: new Registry(),
    io: kernel.io(release),
    timers,
    recheckMs: 30_000,
    stateFile: statePath,
  });
  lifecycle.started();
  await loader.settled();
  const r = {
    loader,
    lifecycle,
    kernel,
    timers,
    policy,
    url: `http://${lifecycle.addresses().health}`,
    stateFile: statePath,
  };
  rigs.push(r);
  return r;
}

async function fire(r: Rig): Promise<void> {
  r.timers.fireAll();
  await r.loader.settled();
}

function putPrebuilt(policy: ModulePolicy): void {
  mkdirSync(join(policy.prebuiltDir, release), { recursive: true });
  writeFileSync(join(policy.prebuiltDir, release, 'rewind.ko'), realModule());
}

describe('the module loader process', () => {
  it('stays up degraded, says why, counts each failure and backs off to the cap', async () => {
    const r = await rig();
    const health = await httpGet(`${r.url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.body).toMatch(
      /^degraded: build-failed \(no prebuilt module for .* no module source in /,
    );
    const ready = await httpGet(`${r.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.body).toContain('module: degraded: build-failed');
    expect(r.timers.pending).toEqual([5000]);

    const waited: number[] = [];
    for (let i = 0; i < 5; i++) {
      await fire(r);
      waited.push(...r.timers.pending);
    }
    expect(waited).toEqual([10000, 20000, 30000, 30000, 30000]);
    const m = (await httpGet(`${r.url}/metrics`)).body;
    expect(metric(m, 'rewind_agent_module_load_attempts_total')).toBe(6);
    expect(metric(m, 'rewind_agent_module_load_failures_total{reason="build-failed"}')).toBe(6);
    expect(metric(m, 'rewind_agent_module_state{state="build-failed"}')).toBe(1);
    expect(metric(m, 'rewind_agent_module_state{state="pending"}')).toBe(0);
    expect(r.kernel.calls).toEqual([]);
  });

  it('loads once the module is there, turns ready, and re-checks it cheaply', async () => {
    const r = await rig();
    expect(r.loader.outcome.state).toBe('build-failed');
    putPrebuilt(r.policy);
    await fire(r);
    expect(r.loader.outcome.state).toBe('loaded');
    expect((await httpGet(`${r.url}/healthz`)).body).toMatch(/^loaded: rewind inserted from /);
    expect((await httpGet(`${r.url}/readyz`)).status).toBe(200);
    const m = (await httpGet(`${r.url}/metrics`)).body;
    expect(metric(m, 'rewind_agent_module_state{state="loaded"}')).toBe(1);
    expect(metric(m, 'rewind_agent_module_state{state="build-failed"}')).toBe(0);
    expect(metric(m, 'rewind_agent_module_load_attempts_total')).toBe(2);
    expect(r.timers.pending).toEqual([30_000]);

    // A re-check that finds it still there inserts nothing and counts no attempt.
    await fire(r);
    expect(r.kernel.calls).toHaveLength(1);
    expect(
      metric((await httpGet(`${r.url}/metrics`)).body, 'rewind_agent_module_load_attempts_total'),
    ).toBe(2);

    // Removed by hand: the next re-check loads it again; the backoff starts over.
    r.kernel.unload();
    await fire(r);
    expect(r.loader.outcome.state).toBe('loaded');
    expect(r.kernel.calls).toHaveLength(2);

    // Replaced by a module of another ABI: reported, retried, never removed.
    r.kernel.load({ abi: '9', format: '1' });
    await fire(r);
    expect(r.loader.outcome.state).toBe('abi-mismatch');
    expect((await httpGet(`${r.url}/healthz`)).body).toMatch(/^degraded: abi-mismatch \(.*ABI 9/);
    expect((await httpGet(`${r.url}/readyz`)).status).toBe(503);
    expect(r.timers.pending).toEqual([5000]);
    expect(r.kernel.calls.filter((c) => c.startsWith('rmmod'))).toEqual([]);
  });

  it('stops retrying on shutdown and, with unloadOnExit, removes the module', async () => {
    const r = await rig({ unloadOnExit: true });
    putPrebuilt(r.policy);
    await fire(r);
    expect(r.loader.outcome.state).toBe('loaded');
    await r.loader.stop();
    expect(r.timers.pending).toEqual([]);
    expect(r.kernel.calls.at(-1)).toBe('rmmod rewind');
  });

  it('logs a refused rmmod and resolves (the agent still holds the device)', async () => {
    const r = await rig({ unloadOnExit: true });
    putPrebuilt(r.policy);
    await fire(r);
    r.kernel.rmmod = () => ({ code: 1, output: 'rmmod: ERROR: Module rewind is in use\n' });
    await expect(r.loader.stop()).resolves.toBeUndefined();
    expect(r.kernel.calls.at(-1)).toBe('rmmod rewind');
  });

  it('starts no attempt once the lifecycle is shutting down', async () => {
    const r = await rig();
    const before = r.kernel.calls.length;
    await r.lifecycle.shutdown({ drain: false });
    putPrebuilt(r.policy);
    await fire(r);
    expect(r.kernel.calls.length).toBe(before);
    expect(r.loader.outcome.state).toBe('build-failed');
  });

  it('keeps rmmod off without unloadOnExit, and never inserts under the kill switch', async () => {
    const r = await rig({ load: 'never' });
    putPrebuilt(r.policy);
    await fire(r);
    expect(r.loader.outcome.state).toBe('disabled');
    expect((await httpGet(`${r.url}/healthz`)).body).toMatch(/^degraded: disabled \(/);
    r.kernel.load();
    await fire(r);
    expect(r.loader.outcome.state).toBe('loaded');
    await r.loader.stop();
    expect(r.kernel.calls).toEqual([]);
  });

  it('writes each state to the state file for the agent: degraded with its reason, then loaded', async () => {
    const r = await rig();
    const onDisk = () => {
      const p = parseStateFile(readFileSync(r.stateFile, 'utf8'));
      if (!p.ok) throw new Error(p.why);
      return p.record;
    };
    const degraded = onDisk();
    expect(degraded).toMatchObject({
      state: 'degraded',
      reason: 'build-failed',
      detail: r.loader.outcome.detail,
      kernelRelease: release,
      pid: process.pid,
    });
    // The same line /healthz answers, from the file's fields.
    expect((await httpGet(`${r.url}/healthz`)).body).toBe(
      `degraded: ${degraded.reason} (${degraded.detail})`,
    );
    // Failing the same way again changes nothing: same since.
    await fire(r);
    expect(onDisk().since).toBe(degraded.since);

    putPrebuilt(r.policy);
    await fire(r);
    expect(onDisk()).toMatchObject({
      state: 'loaded',
      reason: null,
      detail: r.loader.outcome.detail,
    });
  });

  it('removes the state file once it unloaded the module on its way out', async () => {
    const r = await rig({ unloadOnExit: true });
    putPrebuilt(r.policy);
    await fire(r);
    expect(existsSync(r.stateFile)).toBe(true);
    await r.loader.stop();
    expect(r.kernel.calls.at(-1)).toBe('rmmod rewind');
    expect(existsSync(r.stateFile)).toBe(false);
  });

  it('runs on when the state file cannot be written', async () => {
    const r = await rig({}, (root) => {
      writeFileSync(join(root, 'taken'), 'a file where the folder should be');
      return join(root, 'taken', 'state.json');
    });
    expect(r.loader.outcome.state).toBe('build-failed');
    putPrebuilt(r.policy);
    await fire(r);
    expect(r.loader.outcome.state).toBe('loaded');
    expect((await httpGet(`${r.url}/readyz`)).status).toBe(200);
  });
});
