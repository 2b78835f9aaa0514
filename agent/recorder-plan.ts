/**
 * What the agent does with the recorder it finds (pure). The module keeps recording when the
 * device is closed, so an agent that restarts — killed, upgraded, rescheduled — attaches to the
 * running rings and loses no history. Reconfiguring drops the history, so it happens only when
 * there is none (empty) or on an explicit setting (`--ring-reconfigure`); otherwise the agent
 * keeps the running recorder and says what differs.
 */
import type { DeviceInfo, Probe } from '../native';
import { PROBES } from '../native';

/** The ring settings the agent was given. */
export interface RingSettings {
  subbufBytes: number;
  subbufs: number;
  mode: 'overwrite' | 'discard';
  probes: 'all' | readonly Probe[];
}

/** Device states (struct rewind_info.state). */
export const DEVICE_STATE = { empty: 0, configured: 1, tracing: 2 } as const;

export type RecorderPlan =
  /** Nothing recorded yet: configure the rings and start. */
  | { action: 'configure-and-start' }
  /** Rings configured as wanted but not recording (stopped by hand): start, keeping them. */
  | { action: 'start' }
  /** Recording as wanted: attach. */
  | { action: 'attach' }
  /** Running with other settings; kept (history is worth more), differences reported. */
  | { action: 'keep'; differences: string[]; tracing: boolean }
  /** Running with other settings and told to apply them: stop, configure, start. */
  | { action: 'reconfigure'; differences: string[] };

/** The probe mask of a probe list (bit i = PROBES[i], enum rewind_probe order). */
export function probeMask(probes: RingSettings['probes'], all: bigint): bigint {
  if (probes === 'all') return all;
  let mask = 0n;
  for (const p of probes) mask |= 1n << BigInt(PROBES.indexOf(p));
  return mask;
}

function probeNames(mask: bigint): string {
  const names = PROBES.filter((_p, i) => (mask >> BigInt(i)) & 1n);
  return names.length === PROBES.length ? 'all' : names.join(',') || 'none';
}

/** How the running rings differ from the wanted ones, one phrase each. */
export function ringDifferences(info: DeviceInfo, wanted: RingSettings, allMask: bigint): string[] {
  const out: string[] = [];
  if (info.subbufSize !== wanted.subbufBytes)
    out.push(`sub-buffer bytes ${info.subbufSize} (wanted ${wanted.subbufBytes})`);
  if (info.numSubbufs !== wanted.subbufs)
    out.push(`sub-buffers ${info.numSubbufs} (wanted ${wanted.subbufs})`);
  const mode = info.mode === 1 ? 'discard' : 'overwrite';
  if (mode !== wanted.mode) out.push(`mode ${mode} (wanted ${wanted.mode})`);
  const mask = probeMask(wanted.probes, allMask);
  if (info.probeMask !== mask)
    out.push(`probes ${probeNames(info.probeMask)} (wanted ${probeNames(mask)})`);
  return out;
}

export function planRecorder(
  info: DeviceInfo,
  wanted: RingSettings,
  allMask: bigint,
  reconfigure: boolean,
): RecorderPlan {
  if (info.state === DEVICE_STATE.empty) return { action: 'configure-and-start' };
  const tracing = info.state === DEVICE_STATE.tracing;
  const differences = ringDifferences(info, wanted, allMask);
  if (differences.length === 0) return tracing ? { action: 'attach' } : { action: 'start' };
  return reconfigure
    ? { action: 'reconfigure', differences }
    : { action: 'keep', differences, tracing };
}

/**
 * Seconds of history a CPU's ring holds: from its oldest event to now on the trace clock
 * (monotonic ns); 0 when the ring is empty.
 */
export function windowSeconds(oldestTimestampNs: bigint, nowNs: bigint): number {
  if (oldestTimestampNs === 0n || nowNs <= oldestTimestampNs) return 0;
  return Number(nowNs - oldestTimestampNs) / 1e9;
}
