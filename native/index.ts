/**
 * The typed front of the native engine. Loads the compiled addon (built by `npm run build:native`)
 * and validates arguments with precise messages before they reach C++ (a wrong option is an
 * Error naming the function, the option and what was expected, never a C++ exception).
 *
 * Times: `timestamp` is a trace clock value (ns since the node's clock origin, as babeltrace2's
 * `--clock-cycles` prints it); `timeNs` is the same instant on the Unix epoch, corrected by the
 * node's clock correction. Both are bigints: nanoseconds since 1970 do not fit a double.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

// The addon lives in native/build/Release whether this file runs from the sources (ts-jest)
// or from dist/native (the built packages and the image).
const ADDON_CANDIDATES = [
  join(__dirname, 'build', 'Release', 'rewind_native.node'),
  join(__dirname, '..', '..', 'native', 'build', 'Release', 'rewind_native.node'),
];

/** A field value: integers up to 32 bits are numbers, 64-bit ones bigints; byte arrays number[]. */
export type FieldValue = number | bigint | string | number[];

export interface TraceEvent {
  /** Node name: the input's name, else the trace's env.hostname. */
  node: string;
  cpu: number;
  id: number;
  name: string;
  /** Trace clock value (ns). */
  timestamp: bigint;
  /** Unix-epoch ns, corrected. */
  timeNs: bigint;
  fields: Record<string, FieldValue>;
}

export interface EventDescription {
  id: number;
  name: string;
  fields: { name: string; type: string }[];
}

/** Per CPU: the window its packets cover (Unix-epoch ns, corrected), losses and damage. */
export interface StreamSummary {
  file: string;
  cpu: number;
  packets: number;
  events: number;
  windowStartNs: bigint;
  windowEndNs: bigint;
  firstSeq: number;
  lastSeq: number;
  /** Gaps in packet_seq_num (overwritten or skipped by the snapshot). */
  lostPackets: number;
  /** events_discarded grew by this much across the window. */
  lostEventsInWindow: number;
  /** events_discarded of the last packet: refused since the rings were configured. */
  lostEventsTotal: number;
  damagedPackets: number;
  damagedBytes: number;
}

export interface NodeSummary {
  name: string;
  dir: string;
  hostname: string;
  traceUuid: string;
  clockUuid: string;
  clockOffsetNs: bigint;
  correctionNs: bigint;
  events: number;
  eventsByType: Record<string, number>;
  streams: StreamSummary[];
  lostEvents: number;
  lostPackets: number;
  damagedPackets: number;
}

/** Output (c): events by node and type, window per CPU, lost events and packets, damage. */
export interface TraceSummary {
  events: number;
  firstNs: bigint;
  lastNs: bigint;
  nodes: NodeSummary[];
  /** Damaged packets skipped (lenient reads), each with file and byte offset. */
  damage: { file: string; offset: number; reason: string }[];
}

// The summary as the addon's JSON carries it: 64-bit nanoseconds as strings.
type WithNsStrings<T, K extends keyof T> = Omit<T, K> & { [P in K]: string };
type RawStreamSummary = WithNsStrings<StreamSummary, 'windowStartNs' | 'windowEndNs'>;
type RawNodeSummary = WithNsStrings<
  Omit<NodeSummary, 'streams'> & { streams: RawStreamSummary[] },
  'clockOffsetNs' | 'correctionNs'
>;
type RawSummary = WithNsStrings<
  Omit<TraceSummary, 'nodes'> & { nodes: RawNodeSummary[] },
  'firstNs' | 'lastNs'
>;

interface NativeDevice {
  readonly abiVersion: number;
  readonly formatVersion: number;
  close(): void;
  info(): DeviceInfo;
  stats(cpu: number): CpuStats;
  configure(c: Record<string, unknown>): void;
  start(): void;
  stop(): void;
  statedump(): void;
  flush(): void;
  metadata(remeasure: boolean): string;
  readRing(cpu: number): Buffer;
  snapshot(dir: string, o: Record<string, unknown>): Promise<SnapshotResult>;
  test(o: Record<string, unknown>): bigint;
}

interface NativeBinding {
  version(): string;
  buildDescription(): string;
  eventTable(): EventDescription[];
  decode(
    inputs: NativeInput[],
    o: Record<string, unknown>,
  ): Promise<{ events: TraceEvent[]; truncated: boolean; summary: string }>;
  merge(inputs: NativeInput[], o: Record<string, unknown>): Promise<string>;
  writeTrace(dir: string, o: Record<string, unknown>, events: unknown[]): Promise<void>;
  writeSyntheticTrace(dir: string, o: Record<string, unknown>): Promise<number>;
  Device: new (path: string) => NativeDevice;
  constants: { abiVersion: number; formatVersion: number; devicePath: string; probesAll: bigint };
}

interface NativeInput {
  dir: string;
  node?: string;
  correctionNs?: bigint;
}

let binding: NativeBinding | undefined;

function load(): NativeBinding {
  if (!binding) {
    const path = ADDON_CANDIDATES.find((p) => existsSync(p)) ?? (ADDON_CANDIDATES[0] as string);
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      binding = require(path) as NativeBinding;
    } catch (e) {
      throw new Error(
        `the native addon is not built (${path}): run \`npm run build:native\` ` +
          `(${(e as Error).message})`,
      );
    }
  }
  return binding;
}

// ---- Validation ---------------------------------------------------------------------------

const int64 = z.union([z.bigint(), z.number().int()]).transform((v) => BigInt(v));
const nonEmpty = z.string().min(1, 'must be a non-empty string');

const inputSchema = z.union([
  nonEmpty.transform((dir) => ({ dir })),
  z
    .object({
      dir: nonEmpty,
      node: nonEmpty.optional(),
      correctionNs: int64.optional(),
    })
    .strict(),
]);
const inputsSchema = z.union([inputSchema.transform((i) => [i]), z.array(inputSchema).min(1)]);

const windowSchema = {
  strict: z.boolean().optional(),
  fromNs: int64.optional(),
  toNs: int64.optional(),
};

function check<T>(fn: string, schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue ? [what, ...issue.path.map(String)].join('.') : what;
  throw new TypeError(`${fn}: ${path}: ${issue?.message ?? 'invalid'}`);
}

function toBig(s: string): bigint {
  return BigInt(s);
}

function parseSummary(json: string): TraceSummary {
  const raw = JSON.parse(json) as RawSummary;
  return {
    events: raw.events,
    firstNs: toBig(raw.firstNs),
    lastNs: toBig(raw.lastNs),
    damage: raw.damage,
    nodes: raw.nodes.map((n) => ({
      ...n,
      clockOffsetNs: toBig(n.clockOffsetNs),
      correctionNs: toBig(n.correctionNs),
      streams: n.streams.map((s) => ({
        ...s,
        windowStartNs: toBig(s.windowStartNs),
        windowEndNs: toBig(s.windowEndNs),
      })),
    })),
  };
}

// ---- The trace engine ----------------------------------------------------------------------

/** The native engine's version, e.g. "0.1.0". */
export function nativeVersion(): string {
  return load().version();
}

/** Version, compiler and C++ standard of the loaded addon. */
export function nativeBuildDescription(): string {
  return load().buildDescription();
}

/** The event table compiled in (from kmod/include/rewind/format.h). */
export function eventTable(): EventDescription[] {
  return load().eventTable();
}

/** A trace directory (or a directory of traces), optionally named and clock-corrected. */
export type TraceInput = string | { dir: string; node?: string; correctionNs?: bigint | number };

export interface DecodeOptions {
  /** The first damage is an error naming file and byte offset (default: skip and count it). */
  strict?: boolean;
  /** Stop collecting after this many events (the summary still covers all). */
  limit?: number;
  fromNs?: bigint | number;
  toNs?: bigint | number;
}

const decodeOptions = z
  .object({ ...windowSchema, limit: z.number().int().positive().optional() })
  .strict();

/** Decodes traces into events in global time order (all nodes, all CPUs). */
export async function decodeTrace(
  inputs: TraceInput | TraceInput[],
  options: DecodeOptions = {},
): Promise<{ events: TraceEvent[]; truncated: boolean; summary: TraceSummary }> {
  const ins = check('decodeTrace', inputsSchema, inputs, 'inputs');
  const o = check('decodeTrace', decodeOptions, options, 'options');
  const r = await load().decode(ins, o);
  return { events: r.events, truncated: r.truncated, summary: parseSummary(r.summary) };
}

/** Reads every packet strictly: resolves with the summary, or rejects naming file and offset. */
export async function validateTrace(inputs: TraceInput | TraceInput[]): Promise<TraceSummary> {
  const ins = check('validateTrace', inputsSchema, inputs, 'inputs');
  return parseSummary(await load().merge(ins, { strict: true }));
}

/** The summary of traces, damaged packets skipped and counted. */
export async function traceStats(inputs: TraceInput | TraceInput[]): Promise<TraceSummary> {
  const ins = check('traceStats', inputsSchema, inputs, 'inputs');
  return parseSummary(await load().merge(ins, {}));
}

export interface MergeOptions {
  /** Output (a): the unified trace directory (one CTF trace per node). */
  out?: string;
  /** Output (b): Chrome Trace Event JSON file. */
  chrome?: string;
  strict?: boolean;
  fromNs?: bigint | number;
  toNs?: bigint | number;
}

const mergeOptions = z
  .object({ ...windowSchema, out: nonEmpty.optional(), chrome: nonEmpty.optional() })
  .strict();

/**
 * The streaming merge of nodes x CPUs with per-node clock correction, into any of the outputs;
 * resolves with the summary (output c).
 */
export async function mergeTraces(
  inputs: TraceInput | TraceInput[],
  options: MergeOptions,
): Promise<TraceSummary> {
  const ins = check('mergeTraces', inputsSchema, inputs, 'inputs');
  const o = check('mergeTraces', mergeOptions, options, 'options');
  const { out, chrome, ...rest } = o;
  return parseSummary(await load().merge(ins, { ...rest, ctfDir: out, chromePath: chrome }));
}

/** Chrome Trace Event JSON (Perfetto UI): a process per node, a track per CPU. */
export async function exportChrome(
  inputs: TraceInput | TraceInput[],
  outJson: string,
  options: Omit<MergeOptions, 'out' | 'chrome'> = {},
): Promise<TraceSummary> {
  return mergeTraces(inputs, { ...options, chrome: outJson });
}

export interface WriteEvent {
  cpu: number;
  /** Event name (or give id). */
  name?: string;
  id?: number;
  timestamp: bigint | number;
  fields?: Record<string, FieldValue | Buffer>;
}

export interface WriteOptions {
  hostname: string;
  /** Trace uuid (default: random). */
  uuid?: string;
  /** Clock uuid, the host's boot_id (default: random). */
  clockUuid?: string;
  /** Unix-epoch ns of clock value 0. */
  clockOffsetNs?: bigint | number;
  /** Bytes per packet (default 65536). */
  packetSize?: number;
}

/** Bytes per packet: room for a header and a few events, at most a 256 MiB packet. */
const packetSize = z
  .number()
  .int()
  .min(128)
  .max(1 << 28);
const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, {
  message: 'must be a uuid',
});
const writeOptions = z
  .object({
    hostname: nonEmpty,
    uuid: uuid.optional(),
    clockUuid: uuid.optional(),
    clockOffsetNs: int64.optional(),
    packetSize: packetSize.optional(),
  })
  .strict();
const writeEvent = z
  .object({
    cpu: z.number().int().min(0).max(0xffffffff),
    name: nonEmpty.optional(),
    id: z.number().int().min(0).optional(),
    timestamp: int64.refine((v) => v >= 0n, 'must not be negative'),
    fields: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .refine((e) => e.name !== undefined || e.id !== undefined, 'needs a name or an id');

/**
 * Writes a Rewind trace from userspace: the packets and metadata the module writes. Timestamps
 * must not decrease per CPU.
 */
export async function writeTrace(
  dir: string,
  options: WriteOptions,
  events: WriteEvent[],
): Promise<void> {
  check('writeTrace', nonEmpty, dir, 'dir');
  const o = check('writeTrace', writeOptions, options, 'options');
  const evs = check('writeTrace', z.array(writeEvent), events, 'events');
  await load().writeTrace(dir, o, evs);
}

export interface SyntheticOptions {
  hostname?: string;
  cpus?: number;
  eventsPerCpu?: number;
  seed?: number;
  clockOffsetNs?: bigint | number;
  packetSize?: number;
}

const syntheticOptions = z
  .object({
    hostname: nonEmpty.optional(),
    cpus: z.number().int().min(1).max(4096).optional(),
    eventsPerCpu: z.number().int().min(1).optional(),
    seed: z.number().int().min(0).optional(),
    clockOffsetNs: int64.optional(),
    packetSize: packetSize.optional(),
  })
  .strict();

/**
 * A synthetic kernel workload (switches, wakeups, syscalls, interrupts, network, block I/O)
 * written in the real format, deterministic per seed; resolves the number of events. For
 * benchmarks and tests that run without the module.
 */
export async function writeSyntheticTrace(
  dir: string,
  options: SyntheticOptions = {},
): Promise<number> {
  check('writeSyntheticTrace', nonEmpty, dir, 'dir');
  return load().writeSyntheticTrace(
    dir,
    check('writeSyntheticTrace', syntheticOptions, options, 'options'),
  );
}

// ---- The device ----------------------------------------------------------------------------

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
  metadataLength: bigint;
  testHooks: boolean;
}

export interface CpuStats {
  cpu: number;
  online: boolean;
  eventsWritten: bigint;
  bytesWritten: bigint;
  lostFull: bigint;
  lostNesting: bigint;
  lostWrap: bigint;
  lostTooBig: bigint;
  packetsOverwritten: bigint;
  subbufSwitches: bigint;
  oldestTimestamp: bigint;
  writePos: bigint;
  consumedPos: bigint;
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
  probes?: 'all' | string[];
  /** Node name written into the metadata ("" = the kernel's nodename). */
  hostname?: string;
}

/** Probe names, in the bit order of enum rewind_probe (kmod/include/uapi/rewind.h). */
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

const powerOfTwo = (min: number) =>
  z
    .number()
    .int()
    .min(min)
    .refine((v) => (v & (v - 1)) === 0, 'must be a power of two');
const deviceConfig = z
  .object({
    subbufSize: powerOfTwo(4096).optional(),
    numSubbufs: powerOfTwo(2).optional(),
    mode: z.enum(['overwrite', 'discard']).optional(),
    probes: z.union([z.literal('all'), z.array(z.enum(PROBES))]).optional(),
    hostname: z.string().max(63, 'must be at most 63 bytes').optional(),
  })
  .strict();
const snapshotOptions = z
  .object({
    statedump: z.boolean().optional(),
    remeasure: z.boolean().optional(),
    consume: z.boolean().optional(),
  })
  .strict();
const cpuIndex = z.number().int().min(0);

/** The ABI and wire-format versions this addon was built for. */
export function nativeConstants(): NativeBinding['constants'] {
  return load().constants;
}

/**
 * /dev/rewind. Only the agent opens it (ARCHITECTURE.md). Opening checks the module's ABI and
 * wire-format versions; a mismatch is an error naming both. close() (or the process exiting)
 * closes the file and unmaps every mapping.
 */
export class RewindDevice {
  private constructor(private readonly dev: NativeDevice) {}

  static open(path?: string): RewindDevice {
    const p = check('RewindDevice.open', nonEmpty.optional(), path, 'path');
    const b = load();
    return new RewindDevice(new b.Device(p ?? b.constants.devicePath));
  }

  get abiVersion(): number {
    return this.dev.abiVersion;
  }

  get formatVersion(): number {
    return this.dev.formatVersion;
  }

  info(): DeviceInfo {
    return this.dev.info();
  }

  stats(cpu: number): CpuStats {
    return this.dev.stats(check('RewindDevice.stats', cpuIndex, cpu, 'cpu'));
  }

  /** Statistics of every CPU id 0..nrCpuIds-1. */
  allStats(): CpuStats[] {
    const n = this.info().nrCpuIds;
    return Array.from({ length: n }, (_, cpu) => this.dev.stats(cpu));
  }

  /** (Re)allocates the rings; refused by the module while tracing. */
  configure(config: DeviceConfig = {}): void {
    const c = check('RewindDevice.configure', deviceConfig, config, 'config');
    let probeMask = load().constants.probesAll;
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
   * stream file: one copy.
   */
  snapshot(
    dir: string,
    options: { statedump?: boolean; remeasure?: boolean; consume?: boolean } = {},
  ): Promise<SnapshotResult> {
    check('RewindDevice.snapshot', nonEmpty, dir, 'dir');
    return this.dev.snapshot(
      dir,
      check('RewindDevice.snapshot', snapshotOptions, options, 'options'),
    );
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
