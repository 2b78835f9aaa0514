/**
 * The process metrics every Rewind process exports (prom-client's defaults under its prefix),
 * less the three gauges prom-client names `…_active_{handles,requests,resources}_total`:
 * Prometheus' naming rules keep `_total` for counters, and `promtool check metrics` rejects them.
 */
import { collectDefaultMetrics, type Registry } from 'prom-client';

const MISNAMED = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export function collectProcessMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const name of MISNAMED) registry.removeSingleMetric(`${prefix}${name}`);
}
