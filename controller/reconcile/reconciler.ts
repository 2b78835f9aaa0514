/**
 * The TraceSnapshot reconciler: the snapshot informer feeds a work queue; workers take keys and
 * perform what phase.ts decides (finalizer, claim, collect through the pipeline, merge, final
 * status, TTL deletion, data deletion), writing every change through the StatusWriter.
 *
 * Run it only while holding the leader Lease (`start()` on election; after losing it the process
 * exits, as controller-runtime does): phase.ts reads a foreign collector as a dead previous
 * leader. A collection holds its worker and its key for its whole length, so updates of that
 * snapshot (its own progress writes included) are coalesced and looked at once it ended.
 *
 * `stop()` is a crash as far as snapshots are concerned: in-flight work is aborted and nothing
 * more is written; the next leader fails or resumes what was in flight (phase.ts).
 */
import { oneLine } from '../../common/errors';
import type { EventRecorder } from '../kube/events';
import type { Informer } from '../kube/informer';
import type { SnapshotApi } from '../kube/snapshots';
import type { ControllerMetrics, NodeFailureReason } from '../metrics';
import {
  LABEL_TRIGGER,
  type NodeCollection,
  type NodePlan,
  type NodeStatus,
  snapshotKey,
  type TraceSnapshot,
  type TraceSnapshotStatus,
  type Trigger,
} from '../model';
import { type Clock } from './clock';
import { type ConditionChange, decide, failedStatus, isFinal, kubeTime, nextStatus } from './phase';
import type { SnapshotPipeline, SnapshotProgress } from './pipeline';
import { WorkQueue } from './queue';
import { DEFAULT_STATUS_WRITER_OPTIONS, StatusWriter } from './status-writer';
import { planTargets, type TargetFacts } from './targets';

/** The part of a pino logger the reconciler uses. */
export interface ReconcilerLog {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

export interface ReconcilerOptions {
  /** Snapshots reconciled at once. */
  workers: number;
  /** The agents' API port (9401). */
  agentPort: number;
  /** ttlSecondsAfterFinished when a spec has none; 0 keeps them. */
  defaultTtlSeconds: number;
  /** Minimum time between two progress writes of one snapshot. */
  progressIntervalMs: number;
  /** Every cached snapshot is looked at again this often (controller-runtime's SyncPeriod). */
  resyncMs: number;
}

export const DEFAULT_RECONCILER_OPTIONS: ReconcilerOptions = {
  workers: 4,
  agentPort: 9401,
  defaultTtlSeconds: 0,
  progressIntervalMs: DEFAULT_STATUS_WRITER_OPTIONS.progressIntervalMs,
  resyncMs: 10 * 60_000,
};

export interface ReconcilerDeps {
  /** TraceSnapshot reads and writes (kube/snapshots.ts). */
  snapshots: SnapshotApi;
  /** The TraceSnapshot informer: events feed the queue, its cache is what is reconciled. */
  snapshotInformer: Pick<Informer<TraceSnapshot>, 'on' | 'get' | 'list'>;
  /** Nodes, pods and agent pods as they are now (from their informers). */
  targetFacts: () => TargetFacts;
  /** This process's holder identity: the collector annotation it claims snapshots with. */
  identity: string;
  pipeline: SnapshotPipeline;
  metrics: ControllerMetrics;
  clock: Clock;
  log: ReconcilerLog;
  /** Kubernetes Events on finish (best effort); none when absent. */
  events?: EventRecorder;
  options?: Partial<ReconcilerOptions>;
}

/** Thrown inside a reconcile when stop() aborted it: nothing more is written. */
class Stopped extends Error {}

export class Reconciler {
  private readonly options: ReconcilerOptions;
  private readonly queue: WorkQueue;
  private readonly writer: StatusWriter;
  private readonly abort = new AbortController();
  private workers: Promise<void>[] = [];
  private cancelResync: (() => void) | undefined;
  private started = false;

  constructor(private readonly deps: ReconcilerDeps) {
    this.options = { ...DEFAULT_RECONCILER_OPTIONS, ...deps.options };
    this.queue = new WorkQueue(deps.clock);
    this.writer = new StatusWriter(deps.snapshots, deps.clock, {
      ...DEFAULT_STATUS_WRITER_OPTIONS,
      progressIntervalMs: this.options.progressIntervalMs,
    });
    deps.snapshotInformer.on((_event, s) => {
      if (this.started) this.queue.add(snapshotKey(s));
    });
  }

  /** Starts the workers over every cached snapshot (call once this process leads). */
  start(): void {
    if (this.started || this.abort.signal.aborted) return;
    this.started = true;
    this.deps.log.info(
      { identity: this.deps.identity, workers: this.options.workers },
      'reconciler started',
    );
    this.resync();
    for (let i = 0; i < this.options.workers; i++) this.workers.push(this.work());
  }

  /** Aborts everything in flight and stops the workers; writes nothing more. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.cancelResync?.();
    this.queue.shutdown();
    await Promise.all(this.workers);
  }

  private resync(): void {
    for (const s of this.deps.snapshotInformer.list()) this.queue.add(snapshotKey(s));
    this.cancelResync = this.deps.clock.after(this.options.resyncMs, () => this.resync());
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        const requeueAfterMs = await this.reconcile(key);
        this.queue.forget(key);
        if (requeueAfterMs !== undefined) this.queue.addAfter(key, requeueAfterMs);
      } catch (e) {
        if (!(e instanceof Stopped) && !this.abort.signal.aborted) {
          this.deps.log.warn({ snapshot: key, err: oneLine(e) }, 'reconcile failed; retrying');
          this.queue.addRateLimited(key);
        }
      } finally {
        this.queue.done(key);
      }
    }
  }

  /** After every await: a stopped reconciler writes nothing more. */
  private check(): void {
    if (this.abort.signal.aborted) throw new Stopped('stopped');
  }

  /** One pass over `key`; resolves to a delay when it must be looked at again later. */
  private async reconcile(key: string): Promise<number | undefined> {
    const slash = key.indexOf('/');
    const s = this.deps.snapshotInformer.get(key.slice(slash + 1), key.slice(0, slash));
    if (s === undefined) return undefined;
    const facts = {
      identity: this.deps.identity,
      now: this.deps.clock.now(),
      defaultTtlSeconds: this.options.defaultTtlSeconds,
    };
    let action = decide(s, facts);
    let onDisk: NodeCollection[] | undefined;
    if (action.kind === 'checkDisk') {
      onDisk = await this.deps.pipeline.collectedOnDisk(s);
      this.check();
      action = decide(s, { ...facts, collectedOnDisk: onDisk !== undefined });
    }
    switch (action.kind) {
      case 'none':
      case 'inFlight':
      case 'checkDisk':
        return undefined;
      case 'requeueAfter':
        return action.delayMs;
      case 'addFinalizer':
        // A lost race is seen again through the informer's update event.
        await this.writer.addFinalizer(s);
        return undefined;
      case 'deleteData':
        await this.deps.pipeline.deleteData(s);
        this.check();
        if ((await this.writer.removeFinalizer(s)) === undefined) {
          throw new Error(
            'the object changed while its data was deleted; removing the finalizer again',
          );
        }
        this.writer.forget(s);
        return undefined;
      case 'expire':
        this.deps.log.info({ snapshot: key }, 'TTL after finish passed; deleting the snapshot');
        await this.deps.snapshots.delete(s.metadata.namespace, s.metadata.name, s.metadata.uid);
        return undefined;
      case 'fail':
        await this.finishFailed(s, action.reason, action.message, []);
        return undefined;
      case 'claim':
        return this.collect(s);
      case 'resumeMerge': {
        const claimed = await this.writer.claim(s, this.deps.identity);
        this.check();
        if (claimed === undefined || onDisk === undefined) return undefined;
        this.deps.log.info({ snapshot: key }, 'resuming an interrupted merge');
        return this.merge(claimed, onDisk, claimed.status?.nodes ?? []);
      }
    }
  }

  /** Claims `s`, plans its nodes, collects them, then merges. */
  private async collect(s: TraceSnapshot): Promise<number | undefined> {
    const { clock, log, metrics, pipeline } = this.deps;
    const key = snapshotKey(s);
    const claimed = await this.writer.claim(s, this.deps.identity);
    this.check();
    if (claimed === undefined) return undefined; // someone wrote first: decide again on the update
    const planned = planTargets(s.spec.target, this.deps.targetFacts(), this.options.agentPort);
    if (!planned.ok) {
      await this.finishFailed(claimed, 'NoTarget', planned.error, []);
      return this.ttlDelay(claimed);
    }
    const plans = planned.plans;
    const nodes: NodeStatus[] = plans.map((p) =>
      'error' in p
        ? { name: p.node, phase: 'Failed', error: p.error }
        : { name: p.node, phase: 'Collecting' },
    );
    for (const p of plans) if ('error' in p) metrics.nodeFailed(planFailure(p));
    const startedAt = clock.now();
    log.info({ snapshot: key, nodes: plans.length }, 'collecting');
    let latest = await this.writeStatus(claimed, (cur) =>
      nextStatus(
        cur,
        {
          phase: 'Collecting',
          startTime: kubeTime(startedAt),
          nodeCount: plans.length,
          nodesSucceeded: 0,
          progress: { nodesDone: 0, nodesTotal: plans.length, bytes: 0 },
          nodes,
        },
        [
          {
            type: 'Ready',
            status: 'False',
            reason: 'Collecting',
            message: `collecting ${plans.length} node(s)`,
          },
        ],
        clock.now(),
      ),
    );

    const onProgress = (p: SnapshotProgress): void => {
      if (this.abort.signal.aborted) return;
      this.writer
        .progress(latest, (cur) =>
          cur.status?.phase === 'Collecting' ? { ...cur.status, progress: { ...p } } : undefined,
        )
        .then((stored) => {
          if (stored !== undefined) latest = stored;
        })
        .catch((e: unknown) =>
          log.warn({ snapshot: key, err: oneLine(e) }, 'progress not written'),
        );
    };
    const hasAgent = plans.some((p) => 'agent' in p);
    const collected = hasAgent
      ? await pipeline.collect(latest, plans, onProgress, this.abort.signal)
      : [];
    this.check();
    metrics.collectionSeconds((clock.now() - startedAt) / 1000);

    const results = nodeResults(plans, collected);
    for (const r of results.values()) {
      if (r.status.phase === 'Failed' && r.collection !== undefined) {
        const reason = r.collection.ok ? undefined : r.collection.reason;
        metrics.nodeFailed(reason ?? collectFailure(r.status.error ?? ''));
      }
      if (r.collection?.clock !== undefined) {
        metrics.clockUncertainty(r.status.name, Number(r.collection.clock.uncertaintyNs) / 1e9);
      }
    }
    const statuses = [...results.values()].map((r) => r.status);
    const ok = [...results.values()].flatMap((r) => (r.collection?.ok ? [r.collection] : []));
    const bytes = statuses.reduce((sum, n) => sum + (n.bytes ?? 0), 0);
    const progress = { nodesDone: plans.length, nodesTotal: plans.length, bytes };
    if (ok.length === 0) {
      await this.finishFailed(
        latest,
        'NoNodeCollected',
        `no node could be collected: ${statuses.map((n) => `${n.name}: ${n.error ?? 'failed'}`).join('; ')}`,
        [
          {
            type: 'Collected',
            status: 'False',
            reason: 'NoNodeCollected',
            message: 'no node could be collected',
          },
        ],
        { nodes: statuses, nodesSucceeded: 0, progress },
      );
      return this.ttlDelay(latest);
    }
    const all = ok.length === plans.length;
    latest = await this.writeStatus(latest, (cur) =>
      nextStatus(
        cur,
        { phase: 'Merging', nodes: statuses, nodesSucceeded: ok.length, progress },
        [
          {
            type: 'Collected',
            status: 'True',
            reason: all ? 'AllNodesCollected' : 'SomeNodesFailed',
            message: `${ok.length}/${plans.length} node(s) collected`,
          },
          {
            type: 'Ready',
            status: 'False',
            reason: 'Merging',
            message: 'merging the collected nodes',
          },
        ],
        clock.now(),
      ),
    );
    return this.merge(latest, ok, statuses);
  }

  /** Merges the collected nodes and writes the final status. */
  private async merge(
    s: TraceSnapshot,
    collected: NodeCollection[],
    statuses: NodeStatus[],
  ): Promise<number | undefined> {
    const { clock, metrics, pipeline } = this.deps;
    const startedAt = clock.now();
    let result;
    try {
      result = await pipeline.merge(
        s,
        collected.filter((c) => c.ok),
        this.abort.signal,
      );
    } catch (e) {
      this.check();
      metrics.mergeSeconds((clock.now() - startedAt) / 1000);
      await this.finishFailed(s, 'MergeFailed', `merge failed: ${oneLine(e)}`, [
        { type: 'Merged', status: 'False', reason: 'MergeFailed', message: oneLine(e) },
      ]);
      return this.ttlDelay(s);
    }
    this.check();
    metrics.mergeSeconds((clock.now() - startedAt) / 1000);
    const perNode = new Map(result.nodes.map((n) => [n.node, n]));
    const nodes = statuses.map((n) => {
      const stats = perNode.get(n.name);
      return stats ? { ...n, events: stats.events, lostEvents: stats.lostEvents } : n;
    });
    const phase = nodes.every((n) => n.phase === 'Collected') ? 'Complete' : 'PartiallyFailed';
    const failed = nodes.filter((n) => n.phase !== 'Collected').map((n) => n.name);
    const message =
      phase === 'Complete'
        ? `${nodes.length} node(s) merged into ${result.location}`
        : `${nodes.length - failed.length}/${nodes.length} node(s) merged into ${result.location}; failed: ${failed.join(', ')}`;
    const trace: TraceSnapshotStatus['trace'] = {
      location: result.location,
      sizeBytes: result.sizeBytes,
      trimmedToBudget: result.trimmedToBudget,
      ...(result.startTime !== undefined ? { startTime: result.startTime } : {}),
      ...(result.endTime !== undefined ? { endTime: result.endTime } : {}),
    };
    const stored = await this.writeStatus(s, (cur) =>
      isFinal(cur.status?.phase)
        ? undefined
        : nextStatus(
            cur,
            { phase, completionTime: kubeTime(clock.now()), nodes, trace },
            [
              {
                type: 'Merged',
                status: 'True',
                reason: 'Merged',
                message: `trace at ${result.location}`,
              },
              { type: 'Ready', status: 'True', reason: phase, message },
            ],
            clock.now(),
          ),
    );
    metrics.snapshotFinished(triggerOf(s), phase);
    this.deps.events?.record(stored, phase === 'Complete' ? 'Normal' : 'Warning', phase, message);
    this.deps.log.info({ snapshot: snapshotKey(s), phase }, message);
    this.writer.forget(s);
    return this.ttlDelay(stored);
  }

  /** Writes phase Failed (unless already final) and counts it. */
  private async finishFailed(
    s: TraceSnapshot,
    reason: string,
    message: string,
    conditions: ConditionChange[],
    patch: TraceSnapshotStatus = {},
  ): Promise<void> {
    const { clock } = this.deps;
    let wrote = false;
    const stored = await this.writer.update(s, (cur) => {
      if (isFinal(cur.status?.phase)) return undefined;
      wrote = true;
      const failed = failedStatus(
        { ...cur, status: { ...cur.status, ...patch } },
        reason,
        message,
        clock.now(),
      );
      return nextStatus({ ...cur, status: failed }, {}, conditions, clock.now());
    });
    this.check();
    if (!wrote || stored === undefined) return;
    this.deps.metrics.snapshotFinished(triggerOf(s), 'Failed');
    this.deps.events?.record(stored, 'Warning', reason, message);
    this.deps.log.warn({ snapshot: snapshotKey(s), reason }, message);
    this.writer.forget(s);
  }

  private async writeStatus(
    s: TraceSnapshot,
    change: (cur: TraceSnapshot) => TraceSnapshotStatus | undefined,
  ): Promise<TraceSnapshot> {
    const stored = await this.writer.update(s, change);
    this.check();
    if (stored === undefined)
      throw new Error(`${snapshotKey(s)} was deleted or finished meanwhile`);
    return stored;
  }

  private ttlDelay(s: TraceSnapshot): number | undefined {
    const action = decide(s, {
      identity: this.deps.identity,
      now: this.deps.clock.now(),
      defaultTtlSeconds: this.options.defaultTtlSeconds,
    });
    return action.kind === 'requeueAfter'
      ? action.delayMs
      : action.kind === 'expire'
        ? 0
        : undefined;
  }
}

function triggerOf(s: TraceSnapshot): Trigger {
  return s.metadata.labels?.[LABEL_TRIGGER] === 'alert' ? 'alert' : 'manual';
}

/** Why a plan has no agent, as a metric label. */
function planFailure(p: { error: string }): NodeFailureReason {
  if (p.error.startsWith('no rewind agent pod')) return 'no-agent';
  if (p.error.startsWith('rewind agent pod')) return 'agent-not-ready';
  return 'other';
}

/** A collection error as a metric label (the pipeline's messages, best effort). */
/** A failure's reason from its text, for a pipeline that gave none. */
function collectFailure(error: string): NodeFailureReason {
  const e = error.toLowerCase();
  if (e.includes('timed out') || e.includes('timeout')) return 'timeout';
  if (e.includes('econnrefused') || e.includes('unreachable') || e.includes('ehostunreach'))
    return 'unreachable';
  if (e.includes('certificate') || e.includes('tls')) return 'tls';
  if (e.includes('busy')) return 'busy';
  if (e.includes('budget')) return 'over-budget';
  if (e.includes('archive') || e.includes('tar')) return 'bad-archive';
  return 'other';
}

/** Each planned node's status after collection, with its collection when the pipeline made one. */
function nodeResults(
  plans: NodePlan[],
  collected: NodeCollection[],
): Map<string, { status: NodeStatus; collection?: NodeCollection }> {
  const byNode = new Map(collected.map((c) => [c.node, c]));
  const out = new Map<string, { status: NodeStatus; collection?: NodeCollection }>();
  for (const plan of plans) {
    const c = byNode.get(plan.node);
    if ('error' in plan) {
      out.set(plan.node, { status: { name: plan.node, phase: 'Failed', error: plan.error } });
      continue;
    }
    if (c === undefined) {
      out.set(plan.node, {
        status: {
          name: plan.node,
          phase: 'Failed',
          error: 'the pipeline returned nothing for this node',
        },
      });
      continue;
    }
    const clock =
      c.clock !== undefined
        ? {
            clockOffsetNs: Number(c.clock.offsetNs),
            clockUncertaintyNs: Number(c.clock.uncertaintyNs),
          }
        : {};
    out.set(plan.node, {
      collection: c,
      status: c.ok
        ? { name: plan.node, phase: 'Collected', bytes: c.bytes, ...clock }
        : { name: plan.node, phase: 'Failed', bytes: c.bytes, error: c.error, ...clock },
    });
  }
  return out;
}
