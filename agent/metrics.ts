/** The agent's metrics: one private registry, names and help in one place, `rewind_` prefix. */
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export function agentMetrics(nodeName: string, version: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'rewind_agent_' });
  const info = new Gauge({
    name: 'rewind_agent_info',
    help: 'Always 1; labels describe the running agent.',
    labelNames: ['node', 'version'] as const,
    registers: [registry],
  });
  info.set({ node: nodeName, version }, 1);
  return registry;
}
