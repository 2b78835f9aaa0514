/** The module loader's metrics, names and help in one place, on the registry it is given. */
import { Counter, Gauge, type Registry } from 'prom-client';
import { MODULE_STATES, type LoadOutcome } from './policy';

export interface ModuleMetrics {
  /** Records the outcome of one attempt (or re-check): the state gauge, the counters. */
  record(outcome: LoadOutcome, attempt: boolean): void;
}

export function moduleMetrics(registry: Registry): ModuleMetrics {
  const state = new Gauge({
    name: 'rewind_agent_module_state',
    help: 'The kernel module state this node is in: 1 for the current state, 0 for the others.',
    labelNames: ['state'] as const,
    registers: [registry],
  });
  const failures = new Counter({
    name: 'rewind_agent_module_load_failures_total',
    help: 'Attempts to get the kernel module in place that ended without it, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const attempts = new Counter({
    name: 'rewind_agent_module_load_attempts_total',
    help: 'Attempts to get the kernel module in place (each pass down the ladder).',
    registers: [registry],
  });
  const show = (current: string): void => {
    for (const s of MODULE_STATES) state.set({ state: s }, s === current ? 1 : 0);
  };
  show('pending');
  return {
    record(outcome, attempt) {
      show(outcome.state);
      if (!attempt) return;
      attempts.inc();
      if (outcome.reason !== undefined) failures.inc({ reason: outcome.reason });
    },
  };
}
