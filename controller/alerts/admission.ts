/**
 * Which alert notifications become snapshots (pure; the clock is injected). Alertmanager posts a
 * group's notification again and again (every group_interval while it changes, every
 * repeat_interval while it fires, and twice from an HA pair), so the rules that keep an alert
 * storm to a bounded number of snapshots live here:
 *
 *   - resolved alerts are ignored;
 *   - a firing alert already seen (same fingerprint and startsAt, so the same firing from either
 *     Alertmanager of a pair) is a duplicate. The memory of seen alerts slides: a resend refreshes
 *     it, so an alert that fires for days stays a duplicate. It is bounded (least recently seen
 *     forgotten first) — forgetting costs at most one more snapshot, which the cap still bounds;
 *   - alerts that point at nothing, under the `skip` policy, make no snapshot (`no-target`);
 *   - a group (Alertmanager's groupKey) that made a snapshot less than `cooldownSeconds` ago makes
 *     none (`cooldown`);
 *   - at most `dailyCap` snapshots in any rolling 24 hours (`daily-cap`; rolling rather than the
 *     UTC calendar day, so a storm across midnight cannot make twice the cap).
 *
 * One accepted notification = one snapshot covering the union of its new firing alerts' targets:
 * a storm in one group is one trace of the incident, not one per alert. An alert refused by a
 * limit is remembered as seen like one that was captured, so its resends (and the other half of
 * an HA pair) count as duplicates rather than as limits hit again.
 *
 * An accepted notification reserves its place (the alerts seen, the group's cooldown, a slot of
 * the cap) at once, so the other half of an HA pair arriving while the object is being created is
 * a duplicate; the caller then `commit()`s, or `release()`s when the object could not be created,
 * which forgets the reservation so Alertmanager's retry is accepted.
 */
import type { SnapshotTarget } from '../model';
import { alertKey, type Alert, type WebhookPayload } from './payload';
import { unionTarget, type AlertTarget } from './targets';

export interface AdmissionOptions {
  /** Milliseconds since the epoch. */
  now: () => number;
  /** How long a seen alert stays a duplicate after it was last seen. Default 86400 (24 h). */
  dedupHorizonSeconds?: number;
  /** Most alerts remembered. Default 10000. */
  maxRemembered?: number;
  /** Per group. Default 300. */
  cooldownSeconds?: number;
  /** Snapshots per rolling 24 hours. Default 50. */
  dailyCap?: number;
}

export const ADMISSION_DEFAULTS = Object.freeze({
  dedupHorizonSeconds: 86_400,
  maxRemembered: 10_000,
  cooldownSeconds: 300,
  dailyCap: 50,
});

const DAY_MS = 86_400_000;

/** Per alert of one notification: what became of it. */
export interface AdmissionCounts {
  firing: number;
  resolved: number;
  deduplicated: number;
  noTarget: number;
  cooldown: number;
  dailyCap: number;
  /** Firing alerts the accepted snapshot covers (0 or more). */
  accepted: number;
}

export interface AcceptedNotification {
  payload: WebhookPayload;
  /** The new firing alerts the snapshot is for, in the payload's order. */
  alerts: Alert[];
  target: SnapshotTarget;
  /** The object was created: the reservation stands. */
  commit(): void;
  /** The object could not be created: forget the reservation (idempotent; no-op after commit). */
  release(): void;
}

export interface Decision {
  counts: AdmissionCounts;
  accepted?: AcceptedNotification;
}

export interface AdmissionState {
  remembered: number;
  groups: number;
  capWindow: number;
}

export interface Admission {
  decide(payload: WebhookPayload, targetOf: (alert: Alert) => AlertTarget): Decision;
  /** How much is held, for bounds checks. */
  size(): AdmissionState;
}

export function createAdmission(options: AdmissionOptions): Admission {
  const o = { ...ADMISSION_DEFAULTS, ...definedOnly(options), now: options.now };
  const horizonMs = o.dedupHorizonSeconds * 1000;
  const cooldownMs = o.cooldownSeconds * 1000;
  /** Alert key → last seen (ms); Map order is least recently seen first. */
  const seen = new Map<string, number>();
  /** groupKey → when its last snapshot was accepted; Map order is oldest first. */
  const groups = new Map<string, number>();
  /** Acceptance times within the last 24 h, ascending. Never longer than dailyCap. */
  const accepted: number[] = [];

  function remember(key: string, now: number): void {
    seen.delete(key);
    seen.set(key, now);
    while (seen.size > o.maxRemembered) seen.delete(seen.keys().next().value as string);
  }

  function prune(now: number): void {
    for (const [key, at] of seen) {
      if (now - at < horizonMs) break;
      seen.delete(key);
    }
    for (const [key, at] of groups) {
      if (now - at < cooldownMs) break;
      groups.delete(key);
    }
    while (accepted.length > 0 && now - (accepted[0] as number) >= DAY_MS) accepted.shift();
  }

  function decide(payload: WebhookPayload, targetOf: (alert: Alert) => AlertTarget): Decision {
    const now = o.now();
    prune(now);
    const counts: AdmissionCounts = {
      firing: 0,
      resolved: 0,
      deduplicated: 0,
      noTarget: 0,
      cooldown: 0,
      dailyCap: 0,
      accepted: 0,
    };
    const fresh: { alert: Alert; key: string }[] = [];
    const inThisPost = new Set<string>();
    for (const alert of payload.alerts) {
      if (alert.status === 'resolved') {
        counts.resolved++;
        continue;
      }
      counts.firing++;
      const key = alertKey(alert);
      if (seen.has(key) || inThisPost.has(key)) {
        counts.deduplicated++;
        if (seen.has(key)) remember(key, now);
        continue;
      }
      inThisPost.add(key);
      fresh.push({ alert, key });
    }

    const targeted: { alert: Alert; key: string; target: AlertTarget }[] = [];
    for (const f of fresh) {
      const target = targetOf(f.alert);
      if (target.kind === 'none') {
        counts.noTarget++;
        remember(f.key, now);
      } else {
        targeted.push({ ...f, target });
      }
    }
    if (targeted.length === 0) return { counts };

    const refuse = (limit: 'cooldown' | 'dailyCap'): Decision => {
      counts[limit] = targeted.length;
      for (const t of targeted) remember(t.key, now);
      return { counts };
    };
    const last = groups.get(payload.groupKey);
    if (last !== undefined && now - last < cooldownMs) return refuse('cooldown');
    if (accepted.length >= o.dailyCap) return refuse('dailyCap');

    const target = unionTarget(targeted.map((t) => t.target));
    if (target === undefined) return { counts }; // unreachable: every alert here has a target
    for (const t of targeted) remember(t.key, now);
    groups.delete(payload.groupKey);
    groups.set(payload.groupKey, now);
    // Live groups are acceptances within the cooldown, so at most dailyCap while the cooldown is
    // under a day; this bound holds for longer ones.
    while (groups.size > o.maxRemembered) groups.delete(groups.keys().next().value as string);
    accepted.push(now);
    counts.accepted = targeted.length;

    let settled = false;
    return {
      counts,
      accepted: {
        payload,
        alerts: targeted.map((t) => t.alert),
        target,
        commit: () => {
          settled = true;
        },
        release: () => {
          if (settled) return;
          settled = true;
          for (const t of targeted) seen.delete(t.key);
          if (groups.get(payload.groupKey) === now) groups.delete(payload.groupKey);
          const slot = accepted.lastIndexOf(now);
          if (slot >= 0) accepted.splice(slot, 1);
        },
      },
    };
  }

  return {
    decide,
    size: () => ({ remembered: seen.size, groups: groups.size, capWindow: accepted.length }),
  };
}

/** `{a: undefined}` must not override a default when spread. */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
