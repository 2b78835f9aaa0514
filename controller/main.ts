/**
 * rewind-controller: watches TraceSnapshot resources and the Alertmanager webhook, collects
 * snapshots from the agents and merges them. For now it serves its lifecycle endpoints; the rest
 * comes with the controller issue.
 */
import pino from 'pino';
import { runMain, startLifecycle, type RunningLifecycle } from '../common/lifecycle';
import { controllerConfig, type ControllerConfig } from './config';
import { controllerMetrics } from './metrics';

import { version as VERSION } from '../package.json';

export async function startController(
  config: Readonly<ControllerConfig>,
): Promise<RunningLifecycle> {
  const log = pino({ name: 'rewind-controller', level: process.env.LOG_LEVEL ?? 'info' });
  const running = await startLifecycle({
    registry: controllerMetrics(VERSION),
    port: config.healthPort,
    bind: config.bind,
    drainMs: config.drainMs,
  });
  log.info({ address: running.server.address() }, 'controller started');
  return running;
}

if (require.main === module)
  runMain('rewind-controller', () => startController(controllerConfig()));
