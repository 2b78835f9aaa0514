/** The controller's metrics: one private registry, names and help in one place. */
import { Gauge, Registry } from 'prom-client';
import { collectProcessMetrics } from '../common/metrics';

export function controllerMetrics(version: string): Registry {
  const registry = new Registry();
  collectProcessMetrics(registry, 'rewind_controller_');
  new Gauge({
    name: 'rewind_controller_info',
    help: 'Always 1; labels describe the running controller.',
    labelNames: ['version'] as const,
    registers: [registry],
  }).set({ version }, 1);
  return registry;
}
