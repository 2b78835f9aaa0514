/**
 * Every transition of the pure state machine (controller/reconcile/phase.ts) and the condition
 * rules (lastTransitionTime only on a status change, observedGeneration).
 */
import {
  decide,
  failedStatus,
  kubeTime,
  nextStatus,
  type PhaseFacts,
  setCondition,
} from '../../controller/reconcile/phase';
import {
  ANNOTATION_COLLECTOR,
  FINALIZER,
  type SnapshotPhase,
  type TraceSnapshot,
} from '../../controller/model';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const ME = 'rewind-controller-abc-1234';
const facts: PhaseFacts = { identity: ME, now: NOW, defaultTtlSeconds: 3600 };

function snap(
  phase?: SnapshotPhase,
  more: {
    collector?: string;
    finalizer?: boolean;
    deleting?: boolean;
    ttl?: number;
    done?: string;
  } = {},
): TraceSnapshot {
  return {
    apiVersion: 'rewind.dev/v1alpha1',
    kind: 'TraceSnapshot',
    metadata: {
      name: 's',
      namespace: 'ns',
      uid: 'u',
      generation: 1,
      creationTimestamp: '2026-01-01T11:00:00Z',
      ...(more.finalizer === false ? {} : { finalizers: [FINALIZER] }),
      ...(more.collector ? { annotations: { [ANNOTATION_COLLECTOR]: more.collector } } : {}),
      ...(more.deleting ? { deletionTimestamp: '2026-01-01T12:00:00Z' } : {}),
    },
    spec: {
      target: { nodeNames: ['a'] },
      windowSeconds: 10,
      ...(more.ttl !== undefined ? { ttlSecondsAfterFinished: more.ttl } : {}),
    },
    ...(phase ? { status: { phase, ...(more.done ? { completionTime: more.done } : {}) } } : {}),
  };
}

describe('decide', () => {
  test('a new snapshot gets the finalizer first, then is claimed', () => {
    expect(decide(snap(undefined, { finalizer: false }), facts)).toEqual({ kind: 'addFinalizer' });
    expect(decide(snap(), facts)).toEqual({ kind: 'claim' });
    expect(decide(snap('Pending'), facts)).toEqual({ kind: 'claim' });
  });

  test('deletion with the finalizer deletes data; without it nothing', () => {
    for (const phase of [undefined, 'Collecting', 'Complete'] as const) {
      expect(decide(snap(phase, { deleting: true }), facts)).toEqual({ kind: 'deleteData' });
      expect(decide(snap(phase, { deleting: true, finalizer: false }), facts)).toEqual({
        kind: 'none',
      });
    }
  });

  test('my own collection or merge in flight: wait', () => {
    expect(decide(snap('Collecting', { collector: ME }), facts)).toEqual({ kind: 'inFlight' });
    expect(decide(snap('Pending', { collector: ME }), facts)).toEqual({ kind: 'inFlight' });
    expect(decide(snap('Merging', { collector: ME }), facts)).toEqual({ kind: 'inFlight' });
  });

  test("another process's collection: Failed(CollectionInterrupted), never collected again", () => {
    for (const phase of ['Collecting', 'Pending', undefined] as const) {
      const action = decide(snap(phase, { collector: 'old-leader-1' }), facts);
      expect(action).toMatchObject({ kind: 'fail', reason: 'CollectionInterrupted' });
      if (action.kind !== 'fail') throw new Error('unreachable');
      expect(action.message).toContain('old-leader-1');
      expect(action.message).toContain('create a new TraceSnapshot');
    }
  });

  test("another process's merge: check the disk, then resume or fail", () => {
    const s = snap('Merging', { collector: 'old-leader-1' });
    expect(decide(s, facts)).toEqual({ kind: 'checkDisk' });
    expect(decide(s, { ...facts, collectedOnDisk: true })).toEqual({ kind: 'resumeMerge' });
    expect(decide(s, { ...facts, collectedOnDisk: false })).toMatchObject({
      kind: 'fail',
      reason: 'MergeInterrupted',
    });
  });

  test('final phases: TTL from completionTime; the default when absent; 0 keeps forever', () => {
    for (const phase of ['Complete', 'PartiallyFailed', 'Failed'] as const) {
      // Finished 10 minutes ago, TTL 1 hour (the default): 50 minutes left.
      expect(decide(snap(phase, { done: '2026-01-01T11:50:00Z' }), facts)).toEqual({
        kind: 'requeueAfter',
        delayMs: 50 * 60_000,
      });
      expect(decide(snap(phase, { done: '2026-01-01T11:50:00Z', ttl: 600 }), facts)).toEqual({
        kind: 'expire',
      });
      expect(decide(snap(phase, { done: '2026-01-01T11:50:00Z', ttl: 601 }), facts)).toEqual({
        kind: 'requeueAfter',
        delayMs: 1000,
      });
      expect(decide(snap(phase, { done: '2026-01-01T11:50:00Z', ttl: 0 }), facts)).toEqual({
        kind: 'none',
      });
      expect(
        decide(snap(phase, { done: '2026-01-01T11:50:00Z' }), { ...facts, defaultTtlSeconds: 0 }),
      ).toEqual({ kind: 'none' });
      // A final phase is final whoever collected it.
      expect(
        decide(snap(phase, { done: '2026-01-01T11:59:00Z', collector: 'other' }), facts),
      ).toMatchObject({ kind: 'requeueAfter' });
    }
  });
});

describe('conditions and status', () => {
  test('lastTransitionTime changes only when the status changes', () => {
    const c1 = setCondition(
      undefined,
      { type: 'Ready', status: 'False', reason: 'Collecting', message: 'a' },
      NOW,
      1,
    );
    expect(c1).toEqual([
      {
        type: 'Ready',
        status: 'False',
        reason: 'Collecting',
        message: 'a',
        lastTransitionTime: '2026-01-01T12:00:00Z',
        observedGeneration: 1,
      },
    ]);
    const c2 = setCondition(
      c1,
      { type: 'Ready', status: 'False', reason: 'Merging', message: 'b' },
      NOW + 60_000,
      2,
    );
    expect(c2[0]).toMatchObject({
      reason: 'Merging',
      message: 'b',
      lastTransitionTime: '2026-01-01T12:00:00Z',
      observedGeneration: 2,
    });
    const c3 = setCondition(
      c2,
      { type: 'Ready', status: 'True', reason: 'Complete', message: 'c' },
      NOW + 120_000,
      2,
    );
    expect(c3[0].lastTransitionTime).toBe('2026-01-01T12:02:00Z');
    const c4 = setCondition(
      c3,
      { type: 'Collected', status: 'True', reason: 'AllNodesCollected', message: '' },
      NOW,
      2,
    );
    expect(c4.map((c) => c.type)).toEqual(['Ready', 'Collected']);
    expect(c3).toHaveLength(1); // inputs are not modified
  });

  test('nextStatus keeps other fields and sets observedGeneration', () => {
    const s = snap('Collecting');
    s.metadata.generation = 3;
    s.status = { phase: 'Collecting', nodeCount: 2 };
    const st = nextStatus(s, { phase: 'Merging' }, [], NOW);
    expect(st).toEqual({ phase: 'Merging', nodeCount: 2, observedGeneration: 3 });
  });

  test('failedStatus: phase, completionTime, Ready False with the reason', () => {
    const st = failedStatus(snap('Collecting'), 'CollectionInterrupted', 'm', NOW + 1500);
    expect(st.phase).toBe('Failed');
    expect(st.completionTime).toBe('2026-01-01T12:00:01Z');
    expect(st.conditions).toEqual([
      expect.objectContaining({
        type: 'Ready',
        status: 'False',
        reason: 'CollectionInterrupted',
        message: 'm',
      }),
    ]);
    expect(kubeTime(NOW)).toBe('2026-01-01T12:00:00Z');
  });
});
