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
      };
    }),
    podEvents: sum(r.nodes.map((n) => n.pod_events)),
    damage: r.damage,
  };
}
