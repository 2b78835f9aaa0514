/**
 * rewind-controller: watches TraceSnapshot resources and the Alertmanager webhook, collects
 * snapshots from the agents and merges them. For now it serves its health endpoints; the rest
 * comes with the controller issue.
 */
import pino from 'pino';
import { healthApp, runMain, type Lifecycle } from '../common/lifecycle';
import { controllerConfig, type ControllerConfig } from './config';
import { controllerMetrics } from './metrics';

import { version as VERSION } from '../package.json';

export async function startController(
  config: Readonly<ControllerConfig>,
  lifecycle: Lifecycle,
): Promise<void> {
  const log = pino({ name: 'rewind-controller', level: config.logLevel });
  const registry = controllerMetrics(VERSION);
  await lifecycle.serve(
    'health',
    healthApp(registry, lifecycle.gates),
    config.healthPort,
    config.bind,
  );
  log.info({ listening: lifecycle.addresses() }, 'controller started');
}

if (require.main === module)
  void runMain('rewind-controller', () => controllerConfig(), startController);
