/**
 * Shared pieces of the kernel module suites: paths, and small wrappers that run rewindctl in a VM
 * and parse its JSON.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../vm/kernel';
import type { Vm } from '../vm/vm';

export const KO = 'kmod/rewind.ko';
export const CTL = 'kmod/rewindctl';

/**
 * The test helpers (test/kmod/*.c), built on the host where gcc is fast, into a folder of the
 * project that the VM sees at the same path. Returns that folder.
 */
export function buildHelpers(): string {
  const out = join(projectRoot, 'test-output', 'kmod-bin');
  mkdirSync(out, { recursive: true });
  for (const name of ['bench', 'fuzz']) {
    const r = spawnSync(
      'gcc',
      ['-O2', '-Wall', '-Wextra', '-I', join(projectRoot, 'kmod', 'include'), '-o', join(out, name),
        join(projectRoot, 'test', 'kmod', `${name}.c`)],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`gcc ${name}.c failed:\n${r.stderr}`);
  }
  return out;
}

/** (Re)loads the module with the given parameters; busybox's static insmod starts fast. */
export const reload = (vm: Vm, params = ''): Promise<string> =>
  vm.run(`busybox rmmod rewind 2>/dev/null; busybox insmod ${KO} ${params}`);

export interface CpuStats {
  cpu: number;
  events_written: number;
  bytes_written: number;
  lost_full: number;
  lost_nesting: number;
  lost_wrap: number;
  lost_too_big: number;
  packets_overwritten: number;
  subbuf_switches: number;
  oldest_timestamp: number;
}

export interface Stats {
  cpus: CpuStats[];
  total: Omit<CpuStats, 'cpu' | 'oldest_timestamp'>;
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
export const check = (vm: Vm, dir: string): Promise<Check> => json<Check>(vm, `${CTL} check ${dir}`);

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
