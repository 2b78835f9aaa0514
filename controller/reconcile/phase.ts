/**
 * The TraceSnapshot state machine, pure: from the object as the informer holds it and a few facts
 * (who I am, what time it is, whether a previous merge's input is still on disk), the one next
 * action. The reconciler performs it. Also the status helpers every transition uses, so
 * conditions and observedGeneration are written one way.
 *
 * "Collected once": a snapshot whose collection was started by another process (its collector
 * annotation is not this process's identity) is never collected again. The reconciler runs only
 * while it holds the leader Lease, and a leader that cannot renew stops before another can take
 * the Lease, so a foreign collector on a Collecting snapshot is a previous leader that died: the
 * snapshot fails with CollectionInterrupted, and a person or an alert creates a new one. A merge
 * is different: its input (each node's collected trace) is on the controller's volume and the
 * merge is idempotent, so a Merging snapshot is resumed when that input is still there.
 */
import {
  ANNOTATION_COLLECTOR,
  type Condition,
  FINAL_PHASES,
  FINALIZER,
  type SnapshotPhase,
  type TraceSnapshot,
  type TraceSnapshotStatus,
} from '../model';

export interface PhaseFacts {
  /** This process's collector identity (the leader holder identity). */
  identity: string;
  /** Now, ms since the epoch. */
  now: number;
  /** ttlSecondsAfterFinished when the spec has none; 0 keeps finished snapshots forever. */
  defaultTtlSeconds: number;
  /**
   * Whether the collected node data of a Merging snapshot is still on disk; undefined until the
   * reconciler looked (it is asked only through the `checkDisk` action, it costs a disk read).
   */
  collectedOnDisk?: boolean;
}

export type PhaseAction =
  /** Nothing to do (final without TTL, or the object is gone from under us). */
  | { kind: 'none' }
  /** Add FINALIZER before anything is stored for this snapshot. */
  | { kind: 'addFinalizer' }
  /** Being deleted: delete the stored data, then remove FINALIZER. */
  | { kind: 'deleteData' }
  /** Claim the snapshot for this process and start collecting (Pending → Collecting). */
  | { kind: 'claim' }
  /** This process is collecting or merging it: nothing until that ends. */
  | { kind: 'inFlight' }
  /** Another process was merging it: look whether its input is on disk, then decide again. */
  | { kind: 'checkDisk' }
  /** Claim it and merge the collected data again. */
  | { kind: 'resumeMerge' }
  /** Write phase Failed with this reason and message. */
  | { kind: 'fail'; reason: string; message: string }
  /** Finished and its TTL has passed: delete the object (the finalizer then deletes the data). */
  | { kind: 'expire' }
  /** Finished, TTL not yet passed: look again after this delay. */
  | { kind: 'requeueAfter'; delayMs: number };

export const REASON_INTERRUPTED = 'CollectionInterrupted';
export const REASON_MERGE_INTERRUPTED = 'MergeInterrupted';

export function isFinal(phase: SnapshotPhase | undefined): boolean {
  return phase !== undefined && FINAL_PHASES.includes(phase);
}

/** Whose collection this is (the annotation the claim writes), or undefined. */
export function collectorOf(s: TraceSnapshot): string | undefined {
  return s.metadata.annotations?.[ANNOTATION_COLLECTOR];
}

export function decide(s: TraceSnapshot, facts: PhaseFacts): PhaseAction {
  const hasFinalizer = s.metadata.finalizers?.includes(FINALIZER) ?? false;
  if (s.metadata.deletionTimestamp !== undefined) {
    return hasFinalizer ? { kind: 'deleteData' } : { kind: 'none' };
  }
  if (!hasFinalizer) return { kind: 'addFinalizer' };

  const phase = s.status?.phase;
  const collector = collectorOf(s);
  const mine = collector === facts.identity;
  if (isFinal(phase)) return ttlAction(s, facts);
  if (phase === 'Merging') {
    if (mine) return { kind: 'inFlight' };
    if (facts.collectedOnDisk === undefined) return { kind: 'checkDisk' };
    if (facts.collectedOnDisk) return { kind: 'resumeMerge' };
    return {
      kind: 'fail',
      reason: REASON_MERGE_INTERRUPTED,
      message:
        `the merge was interrupted (collector ${collector ?? 'unknown'} stopped) and the ` +
        'collected node data is gone; create a new TraceSnapshot to take a new snapshot',
    };
  }
  // Pending, none or Collecting: a claim by anyone else means agents may have been asked already.
  if (collector !== undefined && !mine) {
    return {
      kind: 'fail',
      reason: REASON_INTERRUPTED,
      message:
        `the collection was interrupted (collector ${collector} stopped); a snapshot is ` +
        'collected once: create a new TraceSnapshot to take a new snapshot',
    };
  }
  if (mine) return { kind: 'inFlight' };
  return { kind: 'claim' };
}

function ttlAction(s: TraceSnapshot, facts: PhaseFacts): PhaseAction {
  const ttl = s.spec.ttlSecondsAfterFinished ?? facts.defaultTtlSeconds;
  if (ttl <= 0) return { kind: 'none' };
  const finished = Date.parse(s.status?.completionTime ?? s.metadata.creationTimestamp ?? '');
  if (Number.isNaN(finished)) return { kind: 'none' };
  const delayMs = finished + ttl * 1000 - facts.now;
  return delayMs <= 0 ? { kind: 'expire' } : { kind: 'requeueAfter', delayMs };
}

/** Kubernetes' time format: RFC 3339 in UTC, whole seconds (metav1.Time). */
export function kubeTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export type ConditionChange = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

/**
 * The conditions with `change` applied: lastTransitionTime moves only when the condition's
 * status changes (meta.SetStatusCondition's rule); reason and message follow the latest.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  change: ConditionChange,
  now: number,
  generation: number | undefined,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === change.type);
  const previous = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    ...change,
    lastTransitionTime:
      previous !== undefined && previous.status === change.status
        ? previous.lastTransitionTime
        : kubeTime(now),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

/** The status with `patch` and conditions applied, observedGeneration set to the object's. */
export function nextStatus(
  s: TraceSnapshot,
  patch: TraceSnapshotStatus,
  conditions: ConditionChange[],
  now: number,
): TraceSnapshotStatus {
  const generation = s.metadata.generation;
  let list = s.status?.conditions;
  for (const c of conditions) list = setCondition(list, c, now, generation);
  return {
    ...s.status,
    ...patch,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    ...(list !== undefined ? { conditions: list } : {}),
  };
}

/** Phase Failed with `reason`: Ready False, completionTime now. */
export function failedStatus(
  s: TraceSnapshot,
  reason: string,
  message: string,
  now: number,
): TraceSnapshotStatus {
  return nextStatus(
    s,
    { phase: 'Failed', completionTime: kubeTime(now) },
    [{ type: 'Ready', status: 'False', reason, message }],
    now,
  );
}
