/**
 * rewind-agent: the DaemonSet process on every node. For now it serves its health endpoints;
 * the device, the rings and the snapshot server come with the agent issue.
 */
import pino from 'pino';
import { healthApp, runMain, type Lifecycle } from '../common/lifecycle';
import { nativeVersion } from '../native';
import { agentConfig, type AgentConfig } from './config';
import { agentMetrics } from './metrics';

export async function startAgent(
  config: Readonly<AgentConfig>,
  lifecycle: Lifecycle,
): Promise<void> {
  const log = pino({ name: 'rewind-agent', level: config.logLevel });
  const registry = agentMetrics(config.nodeName, nativeVersion());
  await lifecycle.serve(
    'health',
    healthApp(registry, lifecycle.gates),
    config.healthPort,
    config.bind,
  );
  log.info({ node: config.nodeName, listening: lifecycle.addresses() }, 'agent started');
}

if (require.main === module) void runMain('rewind-agent', () => agentConfig(), startAgent);
