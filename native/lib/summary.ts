/**
 * Output (c) of the merge: the summary. The core returns its facts as its own structure (nodes,
 * streams with their node's index, damage; C++ field names, times as bigints); this module names
 * them for JavaScript and computes what is derived: each stream's window on the Unix epoch, its
 * lost events, and the per-node sums.
 */

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

/** A system call by how often it was entered; `name` null for a number x86-64 does not name. */
export interface SyscallCount {
  id: number;
  name: string | null;
  count: number;
}

/** An interrupt by how often its handler ran; `name` from the statedump, null if it gave none. */
export interface IrqCount {
  irq: number;
  name: string | null;
  count: number;
}

/** A thread that ran in the window: named by its comm ('' if no event gave one) and pod. */
export interface ThreadUse {
  tid: number;
  comm: string;
  /** `namespace/pod` from the trace's process_pod events; '' when unknown. */
  pod: string;
  switchesIn: number;
  cpuNs: number;
}

/** What `stats` names (traceStats): most frequent or busiest first. */
export interface NodeNames {
  syscalls: SyscallCount[];
  irqs: IrqCount[];
  threads: ThreadUse[];
}

export interface NodeSummary {
  /** The node's full name: the input's node name, else the trace's env.hostname. */
  name: string;
  dir: string;
  /** env.hostname of the input trace (the module keeps at most 63 bytes of it). */
  hostname: string;
  traceUuid: string;
  clockUuid: string;
  clockOffsetNs: bigint;
  correctionNs: bigint;
  events: number;
  eventsByType: Record<string, number>;
  /** process_pod events the unified trace added for this node (not counted in `events`). */
  podEvents: number;
  streams: StreamSummary[];
  lostEvents: number;
  lostPackets: number;
  damagedPackets: number;
  /** Only from traceStats (`rewind-trace stats`). */
  names?: NodeNames;
}

/** Events by node and type, window per CPU, lost events and packets, damage. */
export interface TraceSummary {
  events: number;
  firstNs: bigint;
  lastNs: bigint;
  nodes: NodeSummary[];
  /** process_pod events the unified trace added (not counted in `events`). */
  podEvents: number;
  /** Damaged packets skipped (lenient reads), each with file and byte offset. */
  damage: { file: string; offset: number; reason: string }[];
}

/** rwd::MergeResult as the binding hands it over (native/src/binding/trace.cc). */
export interface NativeMergeResult {
  events: number;
  first_ns: bigint;
  last_ns: bigint;
  nodes: {
    name: string;
    dir: string;
    hostname: string;
    trace_uuid: string;
    clock_uuid: string;
    clock_offset_ns: bigint;
    correction_ns: bigint;
    /** Unix-epoch ns of clock value 0, corrected. */
    origin_ns: bigint;
    events: number;
    pod_events: number;
    events_by_type: Record<string, number>;
    /** With the merge's `names` option (native/src/core/name_stats.h), in no order. */
    syscalls?: SyscallCount[];
    irqs?: IrqCount[];
    threads?: {
      tid: number;
      comm: string;
      pod: string;
      switches_in: number;
      cpu_ns: number;
    }[];
  }[];
  streams: {
    node: number;
    path: string;
    cpu: number;
    packets: number;
    events: number;
    /** Clock values of the first and last packet read. */
    first_ts: bigint;
    last_ts: bigint;
    first_seq: number;
    last_seq: number;
    lost_packets: number;
    discarded_first: number;
    discarded_last: number;
    damaged_packets: number;
    damaged_bytes: number;
  }[];
  damage: { file: string; offset: number; reason: string }[];
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/** `{[key]: value}`, or nothing when value is undefined (an absent key, not an undefined one). */
const optional = <K extends string, V>(key: K, value: V | undefined) =>
  value === undefined ? {} : ({ [key]: value } as Record<K, V>);

/** Most first; ties by number, so the order is the same for the same trace. */
function byCount<T extends { count: number }>(xs: T[], key: (x: T) => number): T[] {
  return [...xs].sort((a, b) => b.count - a.count || key(a) - key(b));
}

function namesOf(n: NativeMergeResult['nodes'][number]): NodeNames | undefined {
  if (!n.syscalls || !n.irqs || !n.threads) return undefined;
  return {
    syscalls: byCount(n.syscalls, (x) => x.id),
    irqs: byCount(n.irqs, (x) => x.irq),
    threads: n.threads
      .map((t) => ({
        tid: t.tid,
        comm: t.comm,
        pod: t.pod,
        switchesIn: t.switches_in,
        cpuNs: t.cpu_ns,
      }))
      .sort((a, b) => b.cpuNs - a.cpuNs || b.switchesIn - a.switchesIn || a.tid - b.tid),
  };
}

export function toSummary(r: NativeMergeResult): TraceSummary {
  return {
    events: r.events,
    firstNs: r.first_ns,
    lastNs: r.last_ns,
    nodes: r.nodes.map((n, i) => {
      const streams: StreamSummary[] = r.streams
        .filter((s) => s.node === i)
        .map((s) => ({
          file: s.path,
          cpu: s.cpu,
          packets: s.packets,
          events: s.events,
          windowStartNs: s.packets ? n.origin_ns + s.first_ts : 0n,
          windowEndNs: s.packets ? n.origin_ns + s.last_ts : 0n,
          firstSeq: s.first_seq,
          lastSeq: s.last_seq,
          lostPackets: s.lost_packets,
          lostEventsInWindow: s.discarded_last - s.discarded_first,
          lostEventsTotal: s.discarded_last,
          damagedPackets: s.damaged_packets,
          damagedBytes: s.damaged_bytes,
        }));
      return {
        name: n.name,
        dir: n.dir,
        hostname: n.hostname,
        traceUuid: n.trace_uuid,
        clockUuid: n.clock_uuid,
        clockOffsetNs: n.clock_offset_ns,
        correctionNs: n.correction_ns,
        events: n.events,
        eventsByType: n.events_by_type,
        podEvents: n.pod_events,
        streams,
        lostEvents: sum(streams.map((s) => s.lostEventsInWindow)),
        lostPackets: sum(streams.map((s) => s.lostPackets)),
        damagedPackets: sum(streams.map((s) => s.damagedPackets)),
        ...optional('names', namesOf(n)),
      };
    }),
    podEvents: sum(r.nodes.map((n) => n.pod_events)),
    damage: r.damage,
  };
}
