/**
 * The module ladder of issue 9 ("Done when") on a real kernel in qemu, one VM for every case
 * (rmmod between them): a prebuilt module for another release is never tried and the source build
 * takes over and loads; an already-loaded module is attached without an insmod; the kill switch
 * never loads; with no source and no prebuilt module the loader process stays up, degraded, says
 * why on /healthz, counts the failures and retries, and writes that state and reason to the state
 * file the agent reads (read back here with the agent's own reader; `serve` itself does not run
 * in this suite: module-state-status.test.ts covers /v1/status over that reader).
 *
 * Building rewind.ko inside the TCG guest takes longer than 3 minutes on this machine (measured:
 * the case timed out at 180 s with make still running), so by default the source build runs ON
 * THE HOST, with the loader's own builder (buildIntoCache), for the VM's kernel release into the
 * shared cache folder; in the VM the ladder skips the prebuilt module of another release, finds
 * that cache entry by the source hash, and loads it. REWIND_MODULE_GUEST_BUILD=1 builds in the
 * guest instead (and prints how long it took). The cache race and a build on a miss are tested
 * with real make on the host in module-ladder.test.ts.
 *
 * The versions the ladder expects are read from the module source under test
 * (fixtures/module/modules.ts sourceVersions), not from the native addon: in a tree under edit
 * the addon may have been built before format.h changed. The agent proper passes the addon's.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStateFile } from '../../agent/module-state';
import { buildIntoCache, cachedModulePath } from '../../agent/module/build';
import { runCommand } from '../../agent/module/io';
import type { LoadOutcome, ModulePolicy } from '../../agent/module/policy';
import { readSources, sourceHash } from '../../agent/module/sources';
import { loaderStatus, parseStateFile } from '../../agent/module/state-file';
import { useVm } from '../vm/jest';
import { metric, testPolicy } from './fixtures/module/support';
import {
  KMOD,
  otherRelease,
  realModule,
  sourceVersions,
  withVermagic,
} from './fixtures/module/modules';

const GUEST = 'node -r ./test/ts-register.js test/agent/fixtures/module/guest';
const PORT = 19402;
const versions = sourceVersions();
const GUEST_BUILD = process.env.REWIND_MODULE_GUEST_BUILD === '1';
const MINUTES = 60_000;

interface Once {
  outcome: LoadOutcome;
  calls: string[];
  ms: number;
}

const root = mkdtempSync(join(tmpdir(), 'rwd-module-vm-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const quote = (v: unknown): string => `'${JSON.stringify(v)}'`;

const policy = (over: Partial<ModulePolicy>): ModulePolicy => testPolicy(root, over);

async function until<T>(what: string, f: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

describe('the module ladder in a real kernel', () => {
  const vm = useVm({ name: 'module-ladder', cpus: 2, shareDirs: [root], forwardPorts: [PORT] });
  let release = '';
  let built = '';

  const once = async (p: ModulePolicy): Promise<Once> =>
    JSON.parse(
      await vm().run(`${GUEST}/once.ts ${quote(p)} ${quote(versions)}`, {
        timeoutMs: 35 * MINUTES,
      }),
    ) as Once;
  const loaded = async (): Promise<boolean> =>
    (await vm().exec('test -d /sys/module/rewind')).code === 0;

  beforeAll(async () => {
    release = (await vm().run('uname -r')).trim();
    if (GUEST_BUILD) return;
    const sources = await readSources(KMOD);
    const host = await buildIntoCache({
      sources,
      kdir: `/lib/modules/${release}/build`,
      target: cachedModulePath(join(root, 'cache'), release, sourceHash(sources)),
      io: { run: runCommand, buildJobs: 2, now: () => Date.now() },
    });
    if (!host.ok) throw new Error(`the host build for ${release} failed: ${host.detail}`);
  }, 10 * MINUTES);

  it(
    'never tries a prebuilt module of another release; the source build takes over',
    async () => {
      const prebuilt = join(root, 'prebuilt', release, 'rewind.ko');
      mkdirSync(join(prebuilt, '..'), { recursive: true });
      const other = otherRelease(release);
      writeFileSync(prebuilt, withVermagic(realModule(), release, other));
      const p = policy({ sourceDir: KMOD });
      const r = await once(p);
      // How long a build takes in the TCG guest (issue 9 asks for it to be measured).
      process.stdout.write(
        `module-vm: the ladder took ${r.ms} ms (${GUEST_BUILD ? 'building in the guest' : 'the host built the cache entry'})\n`,
      );
      const target = cachedModulePath(
        p.buildCacheDir,
        release,
        sourceHash(await readSources(KMOD)),
      );
      expect(r.outcome).toMatchObject({ state: 'loaded', path: target });
      expect(r.calls.filter((c) => !c.startsWith('make '))).toEqual([`insmod ${target}`]);
      expect(r.calls.filter((c) => c.startsWith('make '))).toHaveLength(GUEST_BUILD ? 1 : 0);
      expect(await loaded()).toBe(true);
      const shown = await vm().run(
        'cat /sys/module/rewind/parameters/abi_version /sys/module/rewind/parameters/format_version',
      );
      expect(shown.trim().split('\n').map(Number)).toEqual([
        versions.abiVersion,
        versions.formatVersion,
      ]);
      // modinfo(8) in the guest agrees the build is for this kernel.
      expect((await vm().run(`modinfo -F vermagic ${target}`)).split(' ')[0]).toBe(release);
      built = target;
      await vm().run('rmmod rewind');
    },
    (GUEST_BUILD ? 40 : 5) * MINUTES,
  );

  it(
    'attaches to a module already loaded, inserting nothing',
    async () => {
      expect(built).not.toBe('');
      // The module the previous case built from the source under test (kmod/rewind.ko may predate
      // the source's version parameters while others edit the tree).
      await vm().run(`insmod ${built}`);
      const prebuilt = join(root, 'prebuilt', release, 'rewind.ko');
      writeFileSync(prebuilt, readFileSync(built));
      const r = await once(policy({ sourceDir: KMOD }));
      expect(r.outcome.state).toBe('loaded');
      expect(r.outcome.detail).toContain(
        `already loaded, ABI ${versions.abiVersion}, format ${versions.formatVersion}`,
      );
      expect(r.calls).toEqual([]);
      await vm().run('rmmod rewind');
    },
    10 * MINUTES,
  );

  it(
    'never loads with the kill switch',
    async () => {
      expect(await loaded()).toBe(false);
      const r = await once(policy({ load: 'never', sourceDir: KMOD }));
      expect(r.outcome.state).toBe('disabled');
      expect(r.calls).toEqual([]);
      expect(await loaded()).toBe(false);
    },
    10 * MINUTES,
  );

  it(
    'stays up degraded without source or prebuilt module: /healthz and the state file say why, metrics count',
    async () => {
      const p = policy({ prebuiltDir: join(root, 'none'), retryMaxSeconds: 1 });
      const log = join(root, 'server.log');
      // In the shared folder, so the host reads what the guest's loader wrote.
      const stateFile = join(root, 'run', 'module', 'state.json');
      const pid = (
        await vm().run(
          `nohup ${GUEST}/server.ts ${quote(p)} ${quote(versions)} ${PORT} ${stateFile} > ${log} 2>&1 < /dev/null & echo $!`,
        )
      ).trim();
      try {
        const health = await until(
          'a degraded /healthz',
          async () => {
            const h = await vm().httpGet(PORT, '/healthz');
            return h.body.startsWith('degraded') ? h : undefined;
          },
          120_000,
        );
        expect(health.status).toBe(200);
        expect(health.body).toBe(
          `degraded: build-failed (no prebuilt module for ${release} in ${join(root, 'none')} and no ` +
            `module source in ${p.sourceDir} to build one: ship a prebuilt ${release}/rewind.ko or the source)`,
        );
        // Several attempts later (1 s apart) the process is still there and counting.
        const metrics = await until(
          'three attempts',
          async () => {
            const m = (await vm().httpGet(PORT, '/metrics')).body;
            return (metric(m, 'rewind_agent_module_load_attempts_total') ?? 0) >= 3 ? m : undefined;
          },
          120_000,
        );
        const attempts = metric(metrics, 'rewind_agent_module_load_attempts_total') as number;
        expect(
          metric(metrics, 'rewind_agent_module_load_failures_total{reason="build-failed"}'),
        ).toBe(attempts);
        expect(metric(metrics, 'rewind_agent_module_state{state="build-failed"}')).toBe(1);
        expect(metric(metrics, 'rewind_agent_module_state{state="loaded"}')).toBe(0);
        const ready = await vm().httpGet(PORT, '/readyz');
        expect(ready.status).toBe(503);
        expect(ready.body).toContain('module: degraded: build-failed');
        expect((await vm().exec(`kill -0 ${pid}`)).code).toBe(0);
        expect(await loaded()).toBe(false);

        // The state the agent shows in /v1/status: degraded, the reason, the same sentence.
        const written = parseStateFile(readFileSync(stateFile, 'utf8'));
        expect(written).toMatchObject({
          ok: true,
          record: {
            state: 'degraded',
            reason: 'build-failed',
            kernelRelease: release,
            pid: Number(pid),
          },
        });
        if (!written.ok) throw new Error(written.why);
        expect(`degraded: ${written.record.reason} (${written.record.detail})`).toBe(health.body);
        expect(loaderStatus(stateFile, await readStateFile(stateFile), release)).toEqual({
          state: 'degraded',
          reason: 'build-failed',
          detail: written.record.detail,
          since: written.record.since,
        });
      } finally {
        await vm().exec(
          `kill -TERM ${pid}; for i in $(seq 50); do kill -0 ${pid} 2>/dev/null || break; sleep 0.2; done`,
        );
      }
      expect((await vm().exec(`kill -0 ${pid}`)).code).not.toBe(0);
      const lines = readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { msg: string }).msg);
      expect(lines).toContainEqual(
        `prebuilt: no ${join(root, 'none', release, 'rewind.ko')} (ENOENT)`,
      );
      expect(lines.filter((l) => l.includes('next attempt in 1 s')).length).toBeGreaterThanOrEqual(
        2,
      );
    },
    5 * MINUTES,
  );
});
