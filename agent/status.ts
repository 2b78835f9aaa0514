/**
 * GET /v1/status (pure): what `kubectl rewind agents` shows for a node — the recorder's state and
 * why, the module loader's state and why (from its state file: the loader runs in another pod),
 * the rings, how many seconds of history each CPU holds, what was refused, the versions.
 */
import type { CpuStats, DeviceInfo } from '../native';
import type { ModuleLoaderStatus } from './module/state-file';
import { windowSeconds } from './recorder-plan';
import type { RecorderState } from './recorder';

export interface StatusInput {
  node: string;
  agentVersion: string;
  kernelRelease: string;
  recorder: RecorderState;
  /** What the node's module loader last said (module-state.ts). */
  moduleLoader: ModuleLoaderStatus;
  info: DeviceInfo | undefined;
  versions: { abi: number; format: number } | undefined;
  stats: CpuStats[];
  refusalCounters: { counter: keyof CpuStats; reason: string }[];
  monotonicNow: bigint;
  snapshotInFlight: boolean;
}

export function buildStatus(s: StatusInput) {
  const cpus = s.stats
    .filter((c) => c.online)
    .map((c) => ({
      cpu: c.cpu,
      windowSeconds: windowSeconds(c.oldestTimestamp, s.monotonicNow),
      eventsWritten: c.eventsWritten.toString(),
      packetsOverwritten: c.packetsOverwritten.toString(),
      eventsRefused: Object.fromEntries(
        s.refusalCounters.map((r) => [r.reason, (c[r.counter] as bigint).toString()]),
      ),
    }));
  const refused = s.stats.reduce(
    (sum, c) => sum + s.refusalCounters.reduce((t, r) => t + (c[r.counter] as bigint), 0n),
    0n,
  );
  const windows = cpus.map((c) => c.windowSeconds);
  return {
    node: s.node,
    agentVersion: s.agentVersion,
    kernelRelease: s.kernelRelease,
    recorder: {
      state: s.recorder.state,
      detail: s.recorder.detail,
      differences: s.recorder.differences,
      recording: s.recorder.state === 'recording',
    },
    /** The loaded module's versions, as the agent reads them from the device. */
    module: s.versions ? { abiVersion: s.versions.abi, formatVersion: s.versions.format } : null,
    /** Whether the module is loaded, and why not: the loader's own words. */
    moduleLoader: {
      state: s.moduleLoader.state,
      reason: s.moduleLoader.reason,
      detail: s.moduleLoader.detail,
      since: s.moduleLoader.since,
    },
    rings: s.info
      ? {
          subbufBytes: s.info.subbufSize,
          subbufs: s.info.numSubbufs,
          bytesPerCpu: s.info.subbufSize * s.info.numSubbufs,
          mode: s.info.mode === 1 ? 'discard' : 'overwrite',
          cpus: s.info.nrCpuIds,
        }
      : null,
    /** The history every online CPU holds: the smallest window. */
    windowSeconds: windows.length ? Math.min(...windows) : 0,
    eventsRefused: refused.toString(),
    cpus,
    snapshotInFlight: s.snapshotInFlight,
  };
}
