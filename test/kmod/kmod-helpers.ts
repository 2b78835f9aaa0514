/**
 * Shared pieces of the kernel module suites: paths, the test programs of test/kmod/, and small
 * wrappers that run them and rewindctl in a VM and parse their JSON.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../vm/kernel';
import type { Vm } from '../vm/vm';

export const KO = 'kmod/rewind.ko';
/** The operator tool, built by `make -C kmod`. */
export const CTL = 'kmod/tools/rewindctl';

/** Where buildHelpers() puts the test programs: a folder the VM sees at the same path. */
export const BIN = join(projectRoot, 'test-output', 'kmod-bin');
/** Workload generator: `getppid N`, `pingpong N`, `tcp PORT`, `tcp6 PORT` (test/kmod/workload.c). */
export const WORKLOAD = join(BIN, 'workload');
/** ioctl/mmap fuzzer: `IOCTLS MMAPS [SEED]` (test/kmod/fuzz.c). */
export const FUZZ = join(BIN, 'fuzz');
/**
 * Structured ioctl fuzz, per state: `PHASE CALLS SEED [THREADS]`; also `mmap` (every offset and
 * length class) and `hold [close]` (keeps a mapping open) (test/kmod/fuzz-abi.c).
 */
export const FUZZ_ABI = join(BIN, 'fuzz-abi');
/** Decodes and verifies snapshots: `DIR`, `--loop SECONDS DIR` (test/kmod/snapshot-check.c). */
export const SNAPSHOT_CHECK = join(BIN, 'snapshot-check');
/**
 * Test-hook events: `emit N [--cpu C] [--seconds S]`, `timer start P B`, `timer nmi P B` (the
 * timers and NMIs), `timer stop` (test/kmod/test-events.c).
 */
export const TEST_EVENTS = join(BIN, 'test-events');

/**
 * Holds a module copy to user memory on a userfaultfd page while another thread maps the device
 * or reconfigures: `snapshot|metadata|reconfigure [TIMEOUT_S]` (test/kmod/uffd-copy.c).
 */
export const UFFD_COPY = join(BIN, 'uffd-copy');

const HELPERS = [WORKLOAD, FUZZ, FUZZ_ABI, SNAPSHOT_CHECK, TEST_EVENTS, UFFD_COPY];

/**
 * Builds the test programs (test/kmod/*.c) on the host, where gcc is fast, into BIN; returns BIN.
 * Several jest workers may call it at once: each compiles to a name of its own in BIN and renames
 * it into place, which is atomic, so no process ever runs a half-written binary.
 */
export function buildHelpers(): string {
  mkdirSync(BIN, { recursive: true });
  for (const out of HELPERS) {
    const name = out.slice(BIN.length + 1);
    const tmp = join(BIN, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}`);
    const r = spawnSync(
      'gcc',
      [
        '-O2',
        '-Wall',
        '-Wextra',
        '-I',
        join(projectRoot, 'kmod', 'include'),
        '-I',
        join(projectRoot, 'kmod', 'tools'),
        '-o',
        tmp,
        join(projectRoot, 'test', 'kmod', `${name}.c`),
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) {
      rmSync(tmp, { force: true });
      throw new Error(`gcc ${name}.c failed:\n${r.stderr}`);
    }
    renameSync(tmp, out);
  }
  return BIN;
}

/**
 * The first names of an X-macro table of the UAPI header, in order: `REWIND_STATS_COUNTERS` gives
 * the counter fields, `REWIND_PROBE_TABLE` the probe names (its third column). Read from the
 * header itself, so a test compares a program's output with the ABI, not with a copy of it.
 */
export function uapiTable(table: 'REWIND_STATS_COUNTERS' | 'REWIND_PROBE_TABLE'): string[] {
  const header = readFileSync(join(projectRoot, 'kmod', 'include', 'uapi', 'rewind.h'), 'utf8');
  const body = new RegExp(`#define ${table}\\(X\\)((?:.*\\\\\\n)*.*)`).exec(header)?.[1] ?? '';
  const column = table === 'REWIND_PROBE_TABLE' ? 2 : 0;
  const rows = [...body.matchAll(/X\(([^)]*)\)/g)].map(
    (m) => (m[1] as string).split(',')[column]?.trim() ?? '',
  );
  if (rows.length === 0) throw new Error(`${table} not found in uapi/rewind.h`);
  return rows;
}

/**
 * The versions the headers define: `REWIND_ABI_VERSION` (uapi/rewind.h) and
 * `REWIND_FORMAT_VERSION` (rewind/format.h). Read from the headers, so a test compares what the
 * module reports with the source it was built from, never with a copy of a number.
 */
export function headerVersions(): { abi: number; format: number } {
  const define = (file: string, name: string): number => {
    const text = readFileSync(join(projectRoot, 'kmod', 'include', file), 'utf8');
    const m = new RegExp(`^#define ${name}\\s+(\\d+)\\s*$`, 'm').exec(text);
    if (!m) throw new Error(`${name} not found in kmod/include/${file}`);
    return Number(m[1]);
  };
  return {
    abi: define('uapi/rewind.h', 'REWIND_ABI_VERSION'),
    format: define('rewind/format.h', 'REWIND_FORMAT_VERSION'),
  };
}

/** (Re)loads the module with the given parameters; busybox's static insmod starts fast. */
export const reload = (vm: Vm, params = ''): Promise<string> =>
  vm.run(`busybox rmmod rewind 2>/dev/null; busybox insmod ${KO} ${params}`);

/** Counters of one CPU (`rewindctl stats`: the keys are struct rewind_stats' field names). */
export interface CpuStats {
  cpu: number;
  online: number;
  events_written: number;
  bytes_written: number;
  lost_full: number;
  lost_nesting: number;
  lost_wrap: number;
  lost_too_big: number;
  packets_overwritten: number;
  subbuf_switches: number;
  oldest_timestamp: number;
  write_pos: number;
  consumed_pos: number;
}

/** The counters that add up across CPUs; the timestamp and positions do not. */
export type TotalStats = Omit<
  CpuStats,
  'cpu' | 'online' | 'oldest_timestamp' | 'write_pos' | 'consumed_pos'
>;

export interface Stats {
  cpus: CpuStats[];
  total: TotalStats;
}

export interface Check {
  streams: { file: string; cpu: number; packets: number; first_seq: number; last_seq: number }[];
  packets: number;
  events: number;
  corrupt: number;
  packet_gaps: number;
  time_backwards: number;
  test_events: number;
  test_bad: number;
  test_out_of_order: number;
  test_gaps: number;
  test_ctx: number[];
  counts: Record<string, number>;
}

/** Runs a command in the VM and parses its stdout as JSON. */
export async function json<T>(vm: Vm, command: string, timeoutMs?: number): Promise<T> {
  const out = await vm.run(command, timeoutMs ? { timeoutMs } : {});
  try {
    return JSON.parse(out) as T;
  } catch {
    throw new Error(`\`${command}\` did not print JSON:\n${out.slice(0, 2000)}`);
  }
}

export const stats = (vm: Vm): Promise<Stats> => json<Stats>(vm, `${CTL} stats`);
export const check = (vm: Vm, dir: string): Promise<Check> =>
  json<Check>(vm, `${SNAPSHOT_CHECK} ${dir}`);

/** babeltrace2 on a snapshot: exit status, stderr, and the text output's lines. */
export async function babeltrace(
  vm: Vm,
  dir: string,
): Promise<{ code: number; stderr: string; warnings: number; names: Map<string, number> }> {
  const r = await vm.exec(`babeltrace2 ${dir} > ${dir}.txt`, { timeoutMs: 120_000 });
  const warnings = Number((await vm.run(`grep -c WARNING ${dir}.txt || true`)).trim());
  const uniq = await vm.run(
    `sed -E 's/^[^ ]+ [^ ]+ [^ ]+ ([a-z0-9_]+):.*/\\1/' ${dir}.txt | sort | uniq -c`,
  );
  const names = new Map<string, number>();
  for (const line of uniq.trim().split('\n')) {
    const m = /^\s*(\d+) (\S+)$/.exec(line);
    if (m) names.set(m[2] as string, Number(m[1]));
  }
  return { code: r.code, stderr: r.stderr, warnings, names };
}

/**
 * Snapshots into dir (statedump included) and judges the copy: snapshot-check must find nothing
 * corrupt, torn, reordered or missing inside it, and babeltrace2 must read it without a word on
 * stderr — but for its "Tracer discarded N events" reports when `allowDiscarded` is set (rings
 * left in discard mode or with refusals report them honestly; that is accounting, not damage).
 * Throws naming what failed; returns snapshot-check's result.
 */
export async function validSnapshot(
  vm: Vm,
  dir: string,
  { allowDiscarded = false }: { allowDiscarded?: boolean } = {},
): Promise<Check> {
  await vm.run(`${CTL} snapshot ${dir} > /dev/null`);
  const c = await check(vm, dir);
  const bad = Object.entries({
    corrupt: c.corrupt,
    test_bad: c.test_bad,
    test_out_of_order: c.test_out_of_order,
    time_backwards: c.time_backwards,
    packet_gaps: c.packet_gaps,
  }).filter(([, n]) => n !== 0);
  const bt = await babeltrace(vm, dir);
  const stderr = bt.stderr
    .split('\n')
    .filter(
      (l) =>
        l.trim() !== '' && !(allowDiscarded && /^WARNING: Tracer discarded \d+ events/.test(l)),
    )
    .join('\n');
  if (bad.length > 0 || bt.code !== 0 || stderr !== '') {
    throw new Error(
      `snapshot ${dir} does not validate: ${JSON.stringify(Object.fromEntries(bad))}, ` +
        `babeltrace2 exit ${bt.code}: ${bt.stderr.slice(0, 2000)}`,
    );
  }
  return c;
}

/**
 * The mixed workload every kernel records: fork/exec, pipes, sleeps, TCP over loopback on
 * `tcpPort`, file I/O, a migration, direct block I/O to null_blk (loaded by the caller), and an
 * exec of a copied binary, /tmp/<tag>-sleeper, whose pid ends up in /tmp/<tag>-sleeper.pid.
 */
export function mixedWorkload(tcpPort: number, tag: string): string {
  return `
set -e
${WORKLOAD} getppid 100
${WORKLOAD} tcp ${tcpPort}
echo data | cat | wc -c > /dev/null
sleep 0.1
dd if=/dev/zero of=/tmp/${tag}-file bs=64k count=16 2>/dev/null
sync
sh -c 'taskset -pc 0 $$ > /dev/null; taskset -pc 1 $$ > /dev/null; true'
dd if=/dev/zero of=/dev/nullb0 bs=4k count=16 oflag=direct 2>/dev/null
cp /bin/sleep /tmp/${tag}-sleeper
/tmp/${tag}-sleeper 0.2 &
echo $! > /tmp/${tag}-sleeper.pid
wait
`;
}
