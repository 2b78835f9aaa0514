/**
 * Traces for the native tests, written with the addon's userspace writer (the real format):
 * every event of the table with values chosen per field type, on several CPUs, with gaps longer
 * than the compact header's 27 bits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { eventTable, type FieldValue, type WriteEvent } from '../../native/index';

const made: string[] = [];

/** A fresh directory under the system's temporary folder; removeTempDirs() deletes them all. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `rwd-${prefix}-`));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A value of the given format type, varied by k. */
export function valueOf(type: string, k: number): FieldValue {
  switch (type) {
    case 'U8':
      return k % 256;
    case 'U16':
      return 1000 + k;
    case 'U32':
      return 70000 + k;
    case 'U64':
      return (1n << 40n) + BigInt(k);
    case 'S8':
      return -5 - (k % 100);
    case 'S16':
      return -300 - k;
    case 'S32':
      return -70000 - k;
    case 'S64':
      return -(1n << 40n) - BigInt(k);
    case 'X64':
      return 0xdead0000n + BigInt(k);
    case 'BE16':
      return 0x1234 + k;
    case 'BE32':
    case 'IP4':
      return 0x0a000001 + k;
    case 'IP6':
      return Array.from({ length: 16 }, (_, i) => (i * 17 + k) % 256);
    case 'STR':
      return `s-${k}`;
    case 'SYSCALL': // named ones, one past the table, and the -1 of a number beyond int16
      return [0, 110, 257, 449, 1000, -1][k % 6] as number;
    default:
      throw new Error(`no test value for type ${type}`);
  }
}

/** Every event of the table, `rounds` times, spread over `cpus` CPUs. */
export function everyEvent(rounds: number, cpus: number, start = 1_000n): WriteEvent[] {
  const table = eventTable();
  const events: WriteEvent[] = [];
  const ts = Array.from({ length: cpus }, () => start);
  let k = 0;
  for (let r = 0; r < rounds; r++) {
    for (const e of table) {
      const cpu = k % cpus;
      // Mostly small steps; every 7th a step longer than 2^27 ns (an extended header).
      ts[cpu] = (ts[cpu] as bigint) + (k % 7 === 6 ? (1n << 27n) + 11n : BigInt(100 + (k % 50)));
      const fields: Record<string, FieldValue> = {};
      for (const f of e.fields) fields[f.name] = valueOf(f.type, k);
      events.push({ cpu, name: e.name, timestamp: ts[cpu] as bigint, fields });
      k++;
    }
  }
  return events;
}

/** A CPU's scheduling story: slices, a syscall cut by a switch, an irq with a softirq inside. */
export function schedStory(cpu: number, t0: bigint, tid: number): WriteEvent[] {
  const at = (dt: number) => t0 + BigInt(dt);
  const sw = (dt: number, prev: number, next: number): WriteEvent => ({
    cpu,
    name: 'sched_switch',
    timestamp: at(dt),
    fields: { prev_tid: prev, prev_prio: 120, prev_state: 0, next_tid: next, next_prio: 120 },
  });
  return [
    {
      cpu,
      name: 'statedump_process',
      timestamp: at(0),
      fields: {
        tid,
        pid: tid,
        ppid: 1,
        comm: `worker-${cpu}`,
        state: 0,
        cpu,
        cgroup_id: 0n,
        pid_ns: 0,
        mnt_ns: 0,
        net_ns: 0,
      },
    },
    sw(1000, 0, tid),
    { cpu, name: 'sys_enter', timestamp: at(2000), fields: { id: 0 } },
    { cpu, name: 'irq_handler_entry', timestamp: at(3000), fields: { irq: 11 } },
    { cpu, name: 'softirq_entry', timestamp: at(3500), fields: { vec: 3 } },
    { cpu, name: 'softirq_exit', timestamp: at(3600), fields: {} },
    { cpu, name: 'irq_handler_exit', timestamp: at(4000), fields: { ret: 1 } },
    sw(5000, tid, 0),
    { cpu, name: 'sched_wakeup', timestamp: at(5500), fields: { tid, prio: 120, target_cpu: cpu } },
    sw(6000, 0, tid),
    { cpu, name: 'sys_exit', timestamp: at(7000), fields: { ret: 5 } },
    { cpu, name: 'sys_enter', timestamp: at(7100), fields: { id: 1 } },
    { cpu, name: 'sys_exit_wide', timestamp: at(7200), fields: { ret: 1n << 40n } },
    sw(8000, tid, 0),
  ];
}
