/**
 * The controller's metrics (`rewind_controller_`, served on 9412): one private registry, every
 * name and help here. The parts of the controller record through `ControllerMetrics`' methods and
 * never touch prom-client themselves, so names and labels are spelled once.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../common/metrics';
import type { SnapshotPhase, Trigger } from './model';

export type NodeFailureReason =
  | 'no-agent'
  | 'agent-not-ready'
  | 'unreachable'
  | 'tls'
  | 'refused'
  | 'busy'
  | 'timeout'
  | 'over-budget'
  | 'bad-archive'
  | 'interrupted'
  | 'other';

export type AlertRejection = 'unauthenticated' | 'too-large' | 'malformed' | 'invalid';
export type AlertLimit = 'cooldown' | 'daily-cap' | 'no-target';
export type ApiRefusal = 'unauthenticated' | 'forbidden' | 'not-found' | 'not-ready';

export interface ControllerMetrics {
  registry: Registry;
  snapshotFinished(trigger: Trigger, result: SnapshotPhase): void;
  collectionSeconds(seconds: number): void;
  mergeSeconds(seconds: number): void;
  nodeFailed(reason: NodeFailureReason): void;
  alertReceived(): void;
  alertDeduplicated(): void;
  alertRateLimited(limit: AlertLimit): void;
  alertRejected(reason: AlertRejection): void;
  alertSnapshotCreated(): void;
  storedBytes(bytes: number): void;
  clockUncertainty(node: string, seconds: number): void;
  leader(isLeader: boolean): void;
  apiRefused(reason: ApiRefusal): void;
}

export function controllerMetrics(version: string): ControllerMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectProcessMetrics(registry, 'rewind_controller_');
  new Gauge({
    name: 'rewind_controller_info',
    help: 'Always 1; labels describe the running controller.',
    labelNames: ['version'] as const,
    registers,
  }).set({ version }, 1);

  const snapshots = new Counter({
    name: 'rewind_controller_snapshots_total',
    help: 'TraceSnapshots finished, by what asked for them and how they ended.',
    labelNames: ['trigger', 'result'] as const,
    registers,
  });
  const durationBuckets = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
  const collection = new Histogram({
    name: 'rewind_controller_collection_duration_seconds',
    help: 'Time from the first agent asked to the last node collected or failed.',
    buckets: durationBuckets,
    registers,
  });
  const merge = new Histogram({
    name: 'rewind_controller_merge_duration_seconds',
    help: 'Time to merge the collected nodes into the unified trace and its exports.',
    buckets: durationBuckets,
    registers,
  });
  const nodeFailures = new Counter({
    name: 'rewind_controller_node_failures_total',
    help: 'Nodes of a snapshot that could not be collected, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const alertsReceived = new Counter({
    name: 'rewind_controller_alerts_received_total',
    help: 'Firing alerts received on the Alertmanager webhook (before deduplication).',
    registers,
  });
  const alertsDeduplicated = new Counter({
    name: 'rewind_controller_alerts_deduplicated_total',
    help: 'Firing alerts dropped as repeats (same fingerprint and startsAt).',
    registers,
  });
  const alertsRateLimited = new Counter({
    name: 'rewind_controller_alerts_rate_limited_total',
    help: 'Firing alerts that made no snapshot because of a limit, by limit.',
    labelNames: ['limit'] as const,
    registers,
  });
  const alertsRejected = new Counter({
    name: 'rewind_controller_alert_posts_rejected_total',
    help: 'Webhook posts refused with a 4xx, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const alertSnapshots = new Counter({
    name: 'rewind_controller_alert_snapshots_created_total',
    help: 'TraceSnapshots created from alerts.',
    registers,
  });
  const stored = new Gauge({
    name: 'rewind_controller_stored_bytes',
    help: 'Bytes of traces on the controller volume.',
    registers,
  });
  const uncertainty = new Gauge({
    name: 'rewind_controller_clock_uncertainty_seconds',
    help: "Uncertainty of each node's clock offset at its latest collection.",
    labelNames: ['node'] as const,
    registers,
  });
  const leaderGauge = new Gauge({
    name: 'rewind_controller_leader',
    help: '1 while this replica holds the leader Lease and collects; 0 on standby.',
    registers,
  });
  leaderGauge.set(0);
  const apiRefusals = new Counter({
    name: 'rewind_controller_api_requests_refused_total',
    help: 'Requests to the controller API refused, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });

  return {
    registry,
    snapshotFinished: (trigger, result) => snapshots.inc({ trigger, result }),
    collectionSeconds: (s) => collection.observe(s),
    mergeSeconds: (s) => merge.observe(s),
    nodeFailed: (reason) => nodeFailures.inc({ reason }),
    alertReceived: () => alertsReceived.inc(),
    alertDeduplicated: () => alertsDeduplicated.inc(),
    alertRateLimited: (limit) => alertsRateLimited.inc({ limit }),
    alertRejected: (reason) => alertsRejected.inc({ reason }),
    alertSnapshotCreated: () => alertSnapshots.inc(),
    storedBytes: (b) => stored.set(b),
    clockUncertainty: (node, s) => uncertainty.set({ node }, s),
    leader: (isLeader) => leaderGauge.set(isLeader ? 1 : 0),
    apiRefused: (reason) => apiRefusals.inc({ reason }),
  };
}
