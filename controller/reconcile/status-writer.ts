/**
 * Every write the reconciler makes to a TraceSnapshot, with the concurrency each needs:
 *
 * - status: through the status subresource with the resourceVersion it was computed from; on 409
 *   Conflict the object is read again and the change function applied again to it (client-go's
 *   RetryOnConflict), so a change is never computed from a stale object;
 * - the claim that starts a collection (and the finalizer): a metadata patch conditional on the
 *   resourceVersion the decision was made from, never retried: a conflict means someone else
 *   moved first, and the caller decides again from the new object. Two processes can therefore
 *   never both claim the same snapshot;
 * - progress: at most one write per `progressIntervalMs` per snapshot (injected clock); skipped
 *   updates are simply superseded by the next one or by the final status.
 *
 * Writes of one snapshot are serialized, so a progress write and a phase change never race.
 */
import { isConflict } from '../kube/client';
import type { SnapshotApi } from '../kube/snapshots';
import {
  ANNOTATION_COLLECTOR,
  FINALIZER,
  snapshotKey,
  type TraceSnapshot,
  type TraceSnapshotStatus,
} from '../model';
import type { Clock } from './clock';

export interface StatusWriterOptions {
  /** Minimum time between two progress writes of one snapshot. */
  progressIntervalMs: number;
  /** Re-reads after a conflict before giving up (the error then goes to the queue's backoff). */
  conflictRetries: number;
}

export const DEFAULT_STATUS_WRITER_OPTIONS: StatusWriterOptions = {
  progressIntervalMs: 2000,
  conflictRetries: 5,
};

/** Computes the new status from the freshest object; undefined means "nothing to write". */
export type StatusChange = (current: TraceSnapshot) => TraceSnapshotStatus | undefined;

export class StatusWriter {
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly lastProgress = new Map<string, number>();

  constructor(
    private readonly api: SnapshotApi,
    private readonly clock: Clock,
    private readonly options: StatusWriterOptions = DEFAULT_STATUS_WRITER_OPTIONS,
  ) {}

  /**
   * Writes `change(s)` as the status, re-reading and re-applying on conflict. Resolves to the
   * object as stored, or undefined when it no longer exists or the change wrote nothing.
   */
  update(s: TraceSnapshot, change: StatusChange): Promise<TraceSnapshot | undefined> {
    return this.serialized(snapshotKey(s), () => this.writeStatus(s, change));
  }

  /**
   * A progress update: written only if the last one of this snapshot is at least
   * progressIntervalMs old. Resolves to the stored object, or undefined when skipped.
   */
  progress(s: TraceSnapshot, change: StatusChange): Promise<TraceSnapshot | undefined> {
    const key = snapshotKey(s);
    const now = this.clock.now();
    const last = this.lastProgress.get(key);
    if (last !== undefined && now - last < this.options.progressIntervalMs) {
      return Promise.resolve(undefined);
    }
    this.lastProgress.set(key, now);
    return this.update(s, change);
  }

  /**
   * Claims `s` for `identity` (the collector annotation), conditional on s's resourceVersion.
   * Resolves to the claimed object, or undefined when another write came first (lost race).
   */
  claim(s: TraceSnapshot, identity: string): Promise<TraceSnapshot | undefined> {
    return this.conditionalMetadata(s, { annotations: { [ANNOTATION_COLLECTOR]: identity } });
  }

  /** Adds the finalizer, conditional on s's resourceVersion; undefined on a lost race. */
  addFinalizer(s: TraceSnapshot): Promise<TraceSnapshot | undefined> {
    const finalizers = [...(s.metadata.finalizers ?? []), FINALIZER];
    return this.conditionalMetadata(s, { finalizers });
  }

  /** Removes the finalizer, conditional on s's resourceVersion; undefined on a lost race. */
  removeFinalizer(s: TraceSnapshot): Promise<TraceSnapshot | undefined> {
    const finalizers = (s.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
    return this.conditionalMetadata(s, { finalizers });
  }

  /** Drops what the writer remembers of a snapshot (when it is finished or gone). */
  forget(s: TraceSnapshot): void {
    this.lastProgress.delete(snapshotKey(s));
  }

  private conditionalMetadata(
    s: TraceSnapshot,
    patch: Parameters<SnapshotApi['patchMetadata']>[3],
  ): Promise<TraceSnapshot | undefined> {
    const { namespace, name, resourceVersion } = s.metadata;
    return this.serialized(snapshotKey(s), async () => {
      try {
        return await this.api.patchMetadata(namespace, name, resourceVersion ?? '', patch);
      } catch (e) {
        if (isConflict(e)) return undefined;
        throw e;
      }
    });
  }

  private async writeStatus(
    s: TraceSnapshot,
    change: StatusChange,
  ): Promise<TraceSnapshot | undefined> {
    let current: TraceSnapshot | undefined = s;
    for (let attempt = 0; ; attempt++) {
      if (current === undefined) return undefined;
      const status = change(current);
      if (status === undefined) return undefined;
      try {
        return await this.api.replaceStatus({ ...current, status });
      } catch (e) {
        if (!isConflict(e) || attempt >= this.options.conflictRetries) throw e;
      }
      current = await this.api.get(s.metadata.namespace, s.metadata.name);
      // A new object of the same name is not the one this change was meant for.
      if (current !== undefined && current.metadata.uid !== s.metadata.uid) return undefined;
    }
  }

  private serialized<T>(key: string, write: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(write, write);
    const settled = next.catch(() => undefined);
    this.chains.set(key, settled);
    void settled.then(() => {
      if (this.chains.get(key) === settled) this.chains.delete(key);
    });
    return next;
  }
}
