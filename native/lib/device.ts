/**
 * /dev/rewind. Only the agent opens it (ARCHITECTURE.md). The probe list and the statistics'
 * counters are written here as literal types for typing, and tested equal to the binding's
 * (test/native/tables.test.ts), which generates them from the UAPI header's tables.
 */
import { z } from 'zod';

import { addon, type NativeBinding, type NativeDevice } from './addon';
import { camelKeys } from './naming';
import { check, nonEmpty } from './validate';

/** Probe names, in the bit order of enum rewind_probe (REWIND_PROBE_TABLE, uapi/rewind.h). */
export const PROBES = [
  'sched_switch',
  'sched_waking',
  'sched_wakeup',
  'sched_wakeup_new',
  'sched_process_fork',
  'sched_process_exec',
  'sched_process_exit',
  'sched_migrate_task',
  'task_rename',
  'irq_handler_entry',
  'irq_handler_exit',
  'softirq_entry',
  'softirq_exit',
  'sys_enter',
  'sys_exit',
  'net_dev_queue',
  'netif_receive_skb',
  'block_rq_issue',
  'block_rq_complete',
  'page_fault_user',
] as const;

export type Probe = (typeof PROBES)[number];

/**
 * The 64-bit counters of a CPU's statistics, in struct order (REWIND_STATS_COUNTERS, camelCase);
 * their help texts: nativeConstants().statsCounters.
 */
export const STATS_COUNTERS = [
  'eventsWritten',
  'bytesWritten',
  'lostFull',
  'lostNesting',
  'lostWrap',
  'lostTooBig',
  'packetsOverwritten',
  'subbufSwitches',
  'oldestTimestamp',
  'writePos',
  'consumedPos',
] as const;

export type StatsCounter = (typeof STATS_COUNTERS)[number];

/** struct rewind_stats: one CPU's counters since configure. */
export type CpuStats = { cpu: number; online: boolean } & Record<StatsCounter, bigint>;

/** struct rewind_info. */
export interface DeviceInfo {
  abiVersion: number;
  /** 0 empty, 1 configured, 2 tracing. */
  state: number;
  nrCpuIds: number;
  subbufSize: number;
  numSubbufs: number;
  /** 0 overwrite, 1 discard. */
  mode: number;
  probeMask: bigint;
  probeActive: bigint;
  mmapStride: bigint;
  /** Bytes of metadata. */
  metadataLen: bigint;
  testHooks: boolean;
}

export interface SnapshotResult {
  dir: string;
  bytes: bigint;
  packets: bigint;
  skipped: bigint;
  metadataBytes: bigint;
  cpus: {
    cpu: number;
    file: string;
    bytes: bigint;
    packets: bigint;
    skipped: bigint;
    firstSeq: bigint;
    lastSeq: bigint;
  }[];
}

export interface DeviceConfig {
  /** Bytes, a power of two >= the page size (default: the module's). */
  subbufSize?: number;
  /** A power of two >= 2 (default: the module's). */
  numSubbufs?: number;
  mode?: 'overwrite' | 'discard';
  /** Probe names (uapi enum rewind_probe order) or 'all' (default). */
  probes?: 'all' | Probe[];
  /**
   * Node name written into the metadata ("" = the kernel's nodename): at most 63 bytes of UTF-8,
   * the module's limit. A longer node name goes to the merge instead (the input's `node`), which
   * carries it whole into the unified trace.
   */
  hostname?: string;
}

const powerOfTwo = (min: number) =>
  z
    .number()
    .int()
    .min(min)
    .refine((v) => (v & (v - 1)) === 0, 'must be a power of two');

function deviceConfig(hostnameMaxBytes: number) {
  return z
    .object({
      subbufSize: powerOfTwo(4096).optional(),
      numSubbufs: powerOfTwo(2).optional(),
      mode: z.enum(['overwrite', 'discard']).optional(),
      probes: z.union([z.literal('all'), z.array(z.enum(PROBES))]).optional(),
      hostname: z
        .string()
        .refine((s) => !s.includes('\0'), 'must not contain NUL')
        .refine(
          (s) => Buffer.byteLength(s, 'utf8') <= hostnameMaxBytes,
          `must be at most ${hostnameMaxBytes} bytes of UTF-8 (the module's limit); the merge ` +
            "takes a longer node name whole as the input's node",
        )
        .optional(),
    })
    .strict();
}

const snapshotOptions = z
  .object({
    statedump: z.boolean().optional(),
    remeasure: z.boolean().optional(),
    consume: z.boolean().optional(),
  })
  .strict();
const cpuIndex = z.number().int().min(0);

/** The ABI and wire-format versions this addon was built for, and its tables. */
export function nativeConstants(): NativeBinding['constants'] {
  return addon().constants;
}

/**
 * /dev/rewind. Opening checks the module's ABI and wire-format versions; a mismatch is a
 * RewindError ERR_REWIND_ABI naming both. Every failure is a RewindError (errors.ts): a call
 * while a snapshot owns the device is refused with code 'EBUSY'. close() (or the process exiting)
 * waits for a running snapshot, closes the file and unmaps every mapping.
 */
export class RewindDevice {
  private constructor(private readonly dev: NativeDevice) {}

  static open(path?: string): RewindDevice {
    const p = check('RewindDevice.open', nonEmpty.optional(), path, 'path');
    const b = addon();
    return new RewindDevice(new b.Device(p ?? b.constants.devicePath));
  }

  get abiVersion(): number {
    return this.dev.abiVersion;
  }

  get formatVersion(): number {
    return this.dev.formatVersion;
  }

  info(): DeviceInfo {
    return camelKeys<DeviceInfo>(this.dev.info());
  }

  stats(cpu: number): CpuStats {
    return camelKeys<CpuStats>(this.dev.stats(check('RewindDevice.stats', cpuIndex, cpu, 'cpu')));
  }

  /** Statistics of every CPU id 0..nrCpuIds-1. */
  allStats(): CpuStats[] {
    const n = this.info().nrCpuIds;
    return Array.from({ length: n }, (_, cpu) => camelKeys<CpuStats>(this.dev.stats(cpu)));
  }

  /** (Re)allocates the rings; refused by the module while tracing. */
  configure(config: DeviceConfig = {}): void {
    const { constants } = addon();
    const schema = deviceConfig(constants.hostnameMaxBytes);
    const c = check('RewindDevice.configure', schema, config, 'config');
    let probeMask = constants.probesAll;
    if (c.probes && c.probes !== 'all') {
      probeMask = 0n;
      for (const p of c.probes) probeMask |= 1n << BigInt(PROBES.indexOf(p));
    }
    this.dev.configure({
      subbufSize: c.subbufSize,
      numSubbufs: c.numSubbufs,
      mode: c.mode === 'discard' ? 1 : 0,
      probeMask,
      hostname: c.hostname ?? '',
    });
  }

  start(): void {
    this.dev.start();
  }

  stop(): void {
    this.dev.stop();
  }

  statedump(): void {
    this.dev.statedump();
  }

  flush(): void {
    this.dev.flush();
  }

  /** The TSDL metadata; remeasure re-reads the clock offset first. */
  metadata(remeasure = false): string {
    return this.dev.metadata(remeasure);
  }

  /** A copy of the CPU's ring through its read-only mapping (live: it changes under the copy). */
  readRing(cpu: number): Buffer {
    return this.dev.readRing(check('RewindDevice.readRing', cpuIndex, cpu, 'cpu'));
  }

  /**
   * Statedump + flush, then metadata and one stream file per CPU into dir, in a worker thread
   * (the event loop never blocks). Each CPU's packets go from the ring straight into the mapped
   * stream file: one copy. The snapshot owns the device until it resolves.
   */
  async snapshot(
    dir: string,
    options: { statedump?: boolean; remeasure?: boolean; consume?: boolean } = {},
  ): Promise<SnapshotResult> {
    check('RewindDevice.snapshot', nonEmpty, dir, 'dir');
    const o = check('RewindDevice.snapshot', snapshotOptions, options, 'options');
    return camelKeys<SnapshotResult>(await this.dev.snapshot(dir, o));
  }

  /** Test hooks (module loaded with test_hooks=1): emit `count` events on the current CPU. */
  testEmit(count: number): bigint {
    check('RewindDevice.testEmit', z.number().int().positive(), count, 'count');
    return this.dev.test({ op: 0, count });
  }

  /** Test hooks: a hardirq timer on every online CPU emitting `burst` events per period. */
  testTimerStart(periodNs: number, burst: number): void {
    check('RewindDevice.testTimerStart', z.number().int().positive(), periodNs, 'periodNs');
    check('RewindDevice.testTimerStart', z.number().int().positive(), burst, 'burst');
    this.dev.test({ op: 1, periodNs, burst });
  }

  /** Stops the test timers; resolves the number of events they wrote. */
  testTimerStop(): bigint {
    return this.dev.test({ op: 2 });
  }

  close(): void {
    this.dev.close();
  }
}
