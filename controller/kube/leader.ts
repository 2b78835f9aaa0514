/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics (leaderelection
 * package), so two controller replicas never collect the same snapshot:
 *
 * - every retryPeriod a candidate reads the Lease and, if it is free or expired, takes it with an
 *   update conditional on the resourceVersion it read; the leader renews it the same way;
 * - "expired" is judged on this process's clock: the Lease has not changed for leaseDuration
 *   since this process observed it change (client-go's observedTime), so clocks of different
 *   machines need not agree;
 * - a 409 Conflict is a lost race (someone else wrote first), not an error;
 * - a leader that cannot renew for renewDeadline (< leaseDuration) has lost: `onLost` runs (the
 *   caller exits the process, as controller-runtime does) before any other candidate can see the
 *   Lease expire.
 *
 * The decision is pure (`decideLease`); the elector is the shell around it, on an injected clock.
 */
import { randomBytes } from 'node:crypto';
import { type CoordinationV1Api, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { oneLine } from '../../common/errors';
import type { Clock } from '../reconcile/clock';
import { isConflict, isNotFound } from './client';

export interface LeaderTiming {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** client-go's (and controller-runtime's) defaults: 15 s, 10 s, 2 s. */
export const DEFAULT_LEADER_TIMING: LeaderTiming = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

/** The Lease fields the election reads. */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  leaseTransitions?: number;
  acquireTime?: number;
  renewTime?: number;
}

export type LeaseDecision =
  | { kind: 'create' }
  | { kind: 'acquire'; leaseTransitions: number }
  | { kind: 'renew' }
  | { kind: 'wait'; holder: string };

/**
 * What to do with the Lease: `lease` as read (undefined: none), `observedAt` when this process
 * saw its current content first, `now` this process's clock.
 */
export function decideLease(
  lease: LeaseRecord | undefined,
  observedAt: number,
  now: number,
  me: string,
  timing: LeaderTiming,
): LeaseDecision {
  if (lease === undefined) return { kind: 'create' };
  const holder = lease.holderIdentity ?? '';
  if (holder === me) return { kind: 'renew' };
  const transitions = (lease.leaseTransitions ?? 0) + 1;
  if (holder === '') return { kind: 'acquire', leaseTransitions: transitions };
  const durationMs =
    lease.leaseDurationSeconds !== undefined
      ? lease.leaseDurationSeconds * 1000
      : timing.leaseDurationMs;
  if (observedAt + durationMs <= now) return { kind: 'acquire', leaseTransitions: transitions };
  return { kind: 'wait', holder };
}

/** A holder identity: the pod name and a random suffix (a restarted pod is a new holder). */
export function holderIdentity(podName: string): string {
  return `${podName}_${randomBytes(4).toString('hex')}`;
}

/** The Lease calls of the election (CoordinationV1Api in production). */
export type LeaseClient = Pick<
  CoordinationV1Api,
  'readNamespacedLease' | 'createNamespacedLease' | 'replaceNamespacedLease'
>;

export interface LeaderElectorOptions {
  coordination: LeaseClient;
  namespace: string;
  /** The Lease's name: `<name>-leader`. */
  name: string;
  identity: string;
  clock: Clock;
  log: { info(fields: object, msg: string): void; warn(fields: object, msg: string): void };
  timing?: LeaderTiming;
  onStartedLeading: () => void;
  /** Leadership lost (renewal failed for renewDeadline): stop working, exit. */
  onLost: () => void;
}

export class LeaderElector {
  private readonly timing: LeaderTiming;
  private leading = false;
  private running = false;
  private lastRenew = 0;
  private observed: { key: string; at: number } | undefined;
  private cancelTimer: (() => void) | undefined;

  constructor(private readonly o: LeaderElectorOptions) {
    this.timing = o.timing ?? DEFAULT_LEADER_TIMING;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Starts campaigning (the first attempt at once). */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  /** Stops campaigning or renewing; with `release`, a held Lease is emptied for a fast handover. */
  async stop({ release = false }: { release?: boolean } = {}): Promise<void> {
    this.running = false;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    if (release && this.leading) {
      this.leading = false;
      try {
        const lease = await this.o.coordination.readNamespacedLease(this.where());
        if (lease.spec?.holderIdentity === this.o.identity) {
          lease.spec = { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1 };
          await this.o.coordination.replaceNamespacedLease({ ...this.where(), body: lease });
        }
      } catch (e) {
        this.o.log.warn({ err: oneLine(e) }, 'leader lease not released');
      }
    }
    this.leading = false;
  }

  private where(): { namespace: string; name: string } {
    return { namespace: this.o.namespace, name: this.o.name };
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    const ok = await this.tryAcquireOrRenew();
    if (!this.running) return;
    const now = this.o.clock.now();
    if (ok) {
      this.lastRenew = now;
      if (!this.leading) {
        this.leading = true;
        this.o.log.info({ identity: this.o.identity, lease: this.o.name }, 'became leader');
        this.o.onStartedLeading();
      }
    } else if (this.leading && now - this.lastRenew >= this.timing.renewDeadlineMs) {
      this.leading = false;
      this.running = false;
      this.o.log.warn({ identity: this.o.identity }, 'leader lease lost: could not renew in time');
      this.o.onLost();
      return;
    }
    this.cancelTimer = this.o.clock.after(this.timing.retryPeriodMs, () => void this.tick());
  }

  /** One attempt; true when this process holds the Lease afterwards. Never throws. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { coordination, identity, clock } = this.o;
    try {
      let current: V1Lease | undefined;
      try {
        current = await coordination.readNamespacedLease(this.where());
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      const now = clock.now();
      const record = current === undefined ? undefined : leaseRecord(current);
      const key = JSON.stringify(record ?? null);
      if (this.observed?.key !== key) this.observed = { key, at: now };
      const decision = decideLease(record, this.observed.at, now, identity, this.timing);
      if (decision.kind === 'wait') return false;
      const spec = {
        holderIdentity: identity,
        leaseDurationSeconds: Math.ceil(this.timing.leaseDurationMs / 1000),
        renewTime: new V1MicroTime(now),
        acquireTime:
          decision.kind === 'renew' && current?.spec?.acquireTime
            ? current.spec.acquireTime
            : new V1MicroTime(now),
        leaseTransitions:
          decision.kind === 'acquire'
            ? decision.leaseTransitions
            : (current?.spec?.leaseTransitions ?? 0),
      };
      const written =
        decision.kind === 'create'
          ? await coordination.createNamespacedLease({
              namespace: this.o.namespace,
              body: { metadata: { name: this.o.name, namespace: this.o.namespace }, spec },
            })
          : await coordination.replaceNamespacedLease({
              ...this.where(),
              body: { ...current, spec },
            });
      this.observed = { key: JSON.stringify(leaseRecord(written)), at: now };
      return true;
    } catch (e) {
      // 409: another candidate wrote first (a lost race, not an error); 409 on create likewise.
      if (!isConflict(e)) {
        this.o.log.warn({ lease: this.o.name, err: oneLine(e) }, 'leader lease not updated');
      }
      return false;
    }
  }
}

function time(t: Date | string | undefined): number | undefined {
  if (t === undefined) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The election's view of a Lease object. */
export function leaseRecord(l: V1Lease): LeaseRecord {
  const s = l.spec ?? {};
  const record: LeaseRecord = {};
  if (s.holderIdentity) record.holderIdentity = s.holderIdentity;
  if (s.leaseDurationSeconds !== undefined) record.leaseDurationSeconds = s.leaseDurationSeconds;
  if (s.leaseTransitions !== undefined) record.leaseTransitions = s.leaseTransitions;
  const acquire = time(s.acquireTime);
  if (acquire !== undefined) record.acquireTime = acquire;
  const renew = time(s.renewTime);
  if (renew !== undefined) record.renewTime = renew;
  return record;
}
