/**
 * The node's CPU time: /proc/stat's aggregate line parsed (pure, on real samples of several
 * kernels' formats), and `rewind_agent_node_cpu_seconds_total` as the agent's real registry
 * (agent/metrics.ts) exports it, from this host's own /proc/stat and from files put in its place.
 * The recorder behind the registry is the real class, never started: these metrics do not touch
 * the device.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { agentMetrics } from './metrics';
import { CPU_MODES, parseProcStatCpu, USER_HZ } from './node-cpu';
import { Recorder } from './recorder';

/** This host (Linux 6.18, two CPUs), `intr` left out: ten fields, steal counted. */
const LINUX_6_18 = `cpu  5546460 0 721604 4262252 18437 0 24950 38744 0 0
cpu0 2747048 0 335016 2187397 2630 0 10776 19170 0 0
cpu1 2799411 0 386587 2074854 15807 0 14174 19574 0 0
ctxt 369685084
btime 1796091864
processes 447787
procs_running 1
procs_blocked 0
softirq 20623030 0 2179928 9 3231646 1703548 0 8565 9897936 3080 3598318
`;

/** proc_stat(5)'s example: guest time (175628) is already inside user and is not a mode. */
const MAN_PAGE = `cpu 10132153 290696 3084719 46828483 16683 0 25195 0 175628 0
cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0
`;

/** Red Hat Enterprise Linux 4's reference guide (Linux 2.6.9): seven fields, no steal yet. */
const LINUX_2_6_9 = `cpu  259246 7001 60190 34250993 137517 772 0
cpu0 259246 7001 60190 34250993 137517 772 0
intr 354133732 347209999 2272 0 4 4 0 0 3 1 1249247 0 0 80143 0 422626 5169433
ctxt 12547729
btime 1093631447
processes 130523
procs_running 1
procs_blocked 0
`;

/** Linux 2.4's format: user, nice, system, idle only. */
const LINUX_2_4 = `cpu  1139 0 800 213593
cpu0 1139 0 800 213593
page 103287 48227
`;

describe('parseProcStatCpu', () => {
  test('USER_HZ ticks become seconds, per mode, from the aggregate line only', () => {
    expect(USER_HZ).toBe(100);
    expect(parseProcStatCpu(LINUX_6_18)).toEqual({
      user: 55464.6,
      nice: 0,
      system: 7216.04,
      idle: 42622.52,
      iowait: 184.37,
      irq: 0,
      softirq: 249.5,
      steal: 387.44,
    });
    expect(parseProcStatCpu(MAN_PAGE)).toEqual({
      user: 101321.53,
      nice: 2906.96,
      system: 30847.19,
      idle: 468284.83,
      iowait: 166.83,
      irq: 0,
      softirq: 251.95,
      steal: 0,
    });
  });

  test("older kernels' shorter lines: the modes they have", () => {
    expect(parseProcStatCpu(LINUX_2_6_9)).toEqual({
      user: 2592.46,
      nice: 70.01,
      system: 601.9,
      idle: 342509.93,
      iowait: 1375.17,
      irq: 7.72,
      softirq: 0,
    });
    expect(parseProcStatCpu(LINUX_2_4)).toEqual({
      user: 11.39,
      nice: 0,
      system: 8,
      idle: 2135.93,
    });
  });

  test('fields a later kernel may add after guest_nice are ignored', () => {
    const cpu = parseProcStatCpu('cpu  100 0 200 300 4 0 5 6 7 8 999 999\n');
    expect(cpu).toEqual({
      user: 1,
      nice: 0,
      system: 2,
      idle: 3,
      iowait: 0.04,
      irq: 0,
      softirq: 0.05,
      steal: 0.06,
    });
    expect(Object.keys(cpu ?? {})).toEqual([...CPU_MODES]);
  });

  test.each([
    ['empty', ''],
    ['no aggregate line, only per-CPU ones', 'cpu0 1 2 3 4 5 6 7 8\ncpu1 1 2 3 4 5 6 7 8\n'],
    ['three fields', 'cpu  1 2 3\n'],
    ['a negative field', 'cpu  1 2 -3 4 5 6 7 8\n'],
    ['a field that is not a whole number', 'cpu  1 2 3 4.5 5 6 7 8\n'],
    ['a word among the fields', 'cpu  1 2 3 4 five 6 7 8\n'],
    ['an exponent', 'cpu  1e3 2 3 4\n'],
    ['more ticks than a double counts', 'cpu  1 2 3 99999999999999999999\n'],
    ['a truncated read', 'cp'],
    ['another file', 'MemTotal:       16384256 kB\nMemFree:         1234 kB\n'],
  ])('no reading from %s', (_what, text) => {
    expect(parseProcStatCpu(text)).toBeUndefined();
  });
});

describe('rewind_agent_node_cpu_seconds_total (the registry)', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rewind-node-cpu-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const registryOver = (procStat?: string) => {
    const recorder = new Recorder(
      {
        devicePath: join(dir, 'no-device'),
        ring: { subbufBytes: 65536, subbufs: 16, mode: 'overwrite', probes: 'all' },
        hostname: 'node-a',
        reconfigure: false,
      },
      pino({ level: 'silent' }),
      {
        open: () => {
          throw new Error('not opened in this test');
        },
        setTimeout: () => ({ cancel: () => undefined }),
      },
    );
    return agentMetrics({
      node: 'node-a',
      version: '0.0.0-test',
      kernelRelease: '6.1.0-test',
      recorder,
      monotonicNow: () => 0n,
      ...(procStat !== undefined ? { procStat } : {}),
    }).registry;
  };

  /** The metric's samples in the exposition: mode → value. */
  const samples = (exposition: string): Record<string, number> =>
    Object.fromEntries(
      [...exposition.matchAll(/^rewind_agent_node_cpu_seconds_total\{mode="(\w+)"\} (\S+)$/gm)].map(
        (m) => [m[1], Number(m[2])],
      ),
    );

  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  test("this host's /proc/stat, read at each scrape: every mode, counting up", async () => {
    const registry = registryOver();
    const first = samples(await registry.metrics());
    expect(Object.keys(first).sort()).toEqual([...CPU_MODES].sort());
    for (const v of Object.values(first)) expect(v).toBeGreaterThanOrEqual(0);
    expect(first.idle! + first.user!).toBeGreaterThan(0);
    const exposition = await registry.metrics();
    expect(exposition).toContain('# TYPE rewind_agent_node_cpu_seconds_total counter');
    const second = samples(exposition);
    const total = (s: Record<string, number>) => Object.values(s).reduce((a, b) => a + b, 0);
    expect(total(second)).toBeGreaterThanOrEqual(total(first));
  });

  test('promtool check metrics accepts the exposition', async () => {
    const text = await registryOver().metrics();
    expect(text).toMatch(/^rewind_agent_node_cpu_seconds_total\{mode="idle"\} /m);
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (r.error !== undefined)
      throw new Error("promtool not found: install Debian's prometheus package (scripts/setup.sh)");
    expect(r.stdout + r.stderr).not.toMatch(/node_cpu/);
    expect(r.status).toBe(0);
  });

  test('a copy of /proc/stat gives exactly its parse', async () => {
    // Read and written, not copied: /proc files have no size for copy_file_range to go by.
    const text = readFileSync('/proc/stat', 'utf8');
    const expected = parseProcStatCpu(text);
    expect(expected).toBeDefined();
    expect(samples(await registryOver(file('stat-copy', text)).metrics())).toEqual(expected);
  });

  test('the value is the file at scrape time, not a sum of scrapes; old kernels: fewer modes', async () => {
    const path = file('stat-changing', LINUX_6_18);
    const registry = registryOver(path);
    expect(samples(await registry.metrics())).toMatchObject({ idle: 42622.52, steal: 387.44 });
    // Two scrapes at once: each resets and sets after its read, so neither doubles the other.
    const both = await Promise.all([registry.metrics(), registry.metrics()]);
    for (const e of both) expect(samples(e)).toMatchObject({ idle: 42622.52, user: 55464.6 });
    writeFileSync(path, LINUX_2_6_9);
    expect(samples(await registry.metrics())).toEqual({
      user: 2592.46,
      nice: 70.01,
      system: 601.9,
      idle: 342509.93,
      iowait: 1375.17,
      irq: 7.72,
      softirq: 0,
    });
  });

  test.each([
    ['missing', () => join(dir, 'no-such-stat')],
    ['malformed', () => file('stat-bad', 'cpu  1 2 x 4\n')],
    ['a directory', () => dir],
  ])('/proc/stat %s: the metric has no sample, the scrape still works', async (_what, path) => {
    const registry = registryOver(path());
    const exposition = await registry.metrics();
    expect(samples(exposition)).toEqual({});
    expect(exposition).not.toMatch(/^rewind_agent_node_cpu_seconds_total\{/m);
    // The rest of the scrape is there.
    expect(exposition).toMatch(/^rewind_agent_recorder_state\{state="starting"\} 1$/m);
    expect(exposition).toMatch(/^rewind_agent_build_info\{/m);
  });

  test('a reading that goes bad after a good one removes the samples, never keeps stale ones', async () => {
    const path = file('stat-goes-bad', LINUX_2_4);
    const registry = registryOver(path);
    expect(samples(await registry.metrics())).toEqual({
      user: 11.39,
      nice: 0,
      system: 8,
      idle: 2135.93,
    });
    writeFileSync(path, 'garbage\n');
    expect(samples(await registry.metrics())).toEqual({});
  });
});
