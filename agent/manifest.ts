/**
 * `manifest.json`, the description that travels with each snapshot's trace (pure): which node,
 * kernel and boot it came from, its clock, the module's per-CPU statistics at the snapshot, the
 * files, and the node's container facts for naming processes. The controller reads it; the
 * clock and identity fields are read from the trace's own metadata, so they cannot disagree
 * with the trace.
 */
import type { CpuStats, SnapshotResult } from '../native';
import type { CgroupFacts } from './cgroups';

export const MANIFEST_VERSION = 1;

/** The node's container facts (agent/cgroups), JSON-ready. */
export type ContainerFacts = CgroupFacts;

/** The fields of the TSDL metadata the manifest repeats. */
export interface MetadataFacts {
  traceUuid: string;
  hostname: string;
  /** The clock's uuid: the node's boot_id. */
  bootId: string;
  /** realtime - monotonic, ns: the trace's clock offset (absolute = true). */
  clockOffsetNs: bigint;
}

function field(metadata: string, block: string, name: string): string {
  const body = new RegExp(`(?:^|\\n)${block}\\s*\\{([\\s\\S]*?)\\n\\};`).exec(metadata)?.[1];
  if (body === undefined) throw new Error(`the trace metadata has no ${block} block`);
  const m = new RegExp(`\\b${name}\\s*=\\s*("((?:[^"\\\\]|\\\\.)*)"|-?\\d+)\\s*;`).exec(body);
  if (!m) throw new Error(`the trace metadata's ${block} block has no ${name}`);
  return m[2] ?? (m[1] as string);
}

/** Reads the manifest's trace fields from the module's TSDL metadata; throws naming a missing one. */
export function metadataFacts(metadata: string): MetadataFacts {
  const offsetS = BigInt(field(metadata, 'clock', 'offset_s'));
  const offset = BigInt(field(metadata, 'clock', 'offset'));
  return {
    traceUuid: field(metadata, 'trace', 'uuid'),
    hostname: field(metadata, 'env', 'hostname'),
    bootId: field(metadata, 'clock', 'uuid'),
    clockOffsetNs: offsetS * 1_000_000_000n + offset,
  };
}

export interface ManifestInput {
  node: string;
  /** uname -r of the node. */
  kernelRelease: string;
  agentVersion: string;
  abiVersion: number;
  formatVersion: number;
  metadata: MetadataFacts;
  /** The trace clock (monotonic ns) and realtime when the snapshot was asked for. */
  requestedAt: { monotonicNs: bigint; realtimeNs: bigint };
  /** Seconds of history asked for (the whole rings when absent). */
  windowSeconds?: number;
  result: SnapshotResult;
  stats: CpuStats[];
  ring: { subbufBytes: number; subbufs: number; mode: string; probes: string[] | 'all' };
  containers: ContainerFacts;
  /** Files of the trace directory in the archive, relative to it. */
  files: string[];
}

const str = (v: bigint): string => v.toString();

/**
 * The manifest as JSON-ready data. 64-bit values are decimal strings (JSON numbers lose
 * precision above 2^53). The window is advisory: the trace holds the whole rings, and the
 * controller cuts it to [from, to] when it merges.
 */
export function buildManifest(m: ManifestInput) {
  const to = m.requestedAt.monotonicNs;
  const from =
    m.windowSeconds === undefined ? undefined : to - BigInt(Math.round(m.windowSeconds * 1e9));
  return {
    manifestVersion: MANIFEST_VERSION,
    node: m.node,
    kernelRelease: m.kernelRelease,
    bootId: m.metadata.bootId,
    traceUuid: m.metadata.traceUuid,
    traceHostname: m.metadata.hostname,
    agentVersion: m.agentVersion,
    abiVersion: m.abiVersion,
    formatVersion: m.formatVersion,
    clock: {
      name: 'monotonic',
      offsetNs: str(m.metadata.clockOffsetNs),
      requestedAtMonotonicNs: str(m.requestedAt.monotonicNs),
      requestedAtRealtimeNs: str(m.requestedAt.realtimeNs),
    },
    window:
      from === undefined
        ? { seconds: null }
        : { seconds: m.windowSeconds, fromMonotonicNs: str(from), toMonotonicNs: str(to) },
    ring: m.ring,
    snapshot: {
      bytes: str(m.result.bytes),
      packets: str(m.result.packets),
      skippedPackets: str(m.result.skipped),
      metadataBytes: str(m.result.metadataBytes),
      cpus: m.result.cpus.map((c) => ({
        cpu: c.cpu,
        file: c.file.split('/').pop(),
        bytes: str(c.bytes),
        packets: str(c.packets),
        skippedPackets: str(c.skipped),
        firstSeq: str(c.firstSeq),
        lastSeq: str(c.lastSeq),
      })),
    },
    stats: m.stats.map((s) =>
      Object.fromEntries(
        Object.entries(s).map(([k, v]) => [k, typeof v === 'bigint' ? str(v) : v]),
      ),
    ),
    containers: m.containers,
    files: m.files,
  };
}

export type Manifest = ReturnType<typeof buildManifest>;
