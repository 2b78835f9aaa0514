/**
 * Following a snapshot (pure part): the one progress line of its status — phase, nodes done of
 * total, bytes so far, time since it was asked — and whether it changed enough to print again.
 * On a terminal the line is rewritten in place; otherwise one plain line per change (watch.ts).
 */
import { FINAL_PHASES, type SnapshotPhase, type TraceSnapshot } from '../controller/model';
import { humanBytes, humanDuration } from './format';

export interface Progress {
  phase: SnapshotPhase;
  nodesDone: number;
  nodesTotal: number | undefined;
  bytes: number;
}

export function progressOf(s: TraceSnapshot): Progress {
  const st = s.status;
  const phase = st?.phase ?? 'Pending';
  const final = FINAL_PHASES.includes(phase);
  const nodesTotal = st?.progress?.nodesTotal ?? st?.nodeCount;
  const nodesDone = final
    ? (st?.nodes?.filter((n) => n.phase === 'Collected' || n.phase === 'Failed').length ?? 0)
    : (st?.progress?.nodesDone ?? 0);
  const bytes =
    final && st?.trace?.sizeBytes !== undefined ? st.trace.sizeBytes : (st?.progress?.bytes ?? 0);
  return { phase, nodesDone, nodesTotal, bytes };
}

/** `Collecting   nodes 1/3   12 MiB   5s` */
export function progressLine(p: Progress, elapsedMs: number): string {
  return [
    p.phase.padEnd(15),
    `nodes ${p.nodesDone}/${p.nodesTotal ?? '?'}`.padEnd(12),
    humanBytes(p.bytes).padEnd(10),
    humanDuration(elapsedMs),
  ].join(' ');
}

/** A new plain line is worth printing when the phase, the nodes done or the total changed. */
export function progressChanged(a: Progress | undefined, b: Progress): boolean {
  return (
    a === undefined ||
    a.phase !== b.phase ||
    a.nodesDone !== b.nodesDone ||
    a.nodesTotal !== b.nodesTotal
  );
}

export const isFinal = (s: TraceSnapshot): boolean =>
  FINAL_PHASES.includes(s.status?.phase ?? 'Pending');
