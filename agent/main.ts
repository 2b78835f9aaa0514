/**
 * rewind-agent: the DaemonSet process on every node. For now it serves its lifecycle endpoints;
 * the device, the rings and the snapshot server come with the agent issue.
 */
import pino from 'pino';
import { runMain, startLifecycle, type RunningLifecycle } from '../common/lifecycle';
import { nativeVersion } from '../native';
import { agentConfig, type AgentConfig } from './config';
import { agentMetrics } from './metrics';

export async function startAgent(config: Readonly<AgentConfig>): Promise<RunningLifecycle> {
  const log = pino({ name: 'rewind-agent', level: process.env.LOG_LEVEL ?? 'info' });
  const running = await startLifecycle({
    registry: agentMetrics(config.nodeName, nativeVersion()),
    port: config.healthPort,
    bind: config.bind,
    drainMs: config.drainMs,
  });
  log.info({ node: config.nodeName, address: running.server.address() }, 'agent started');
  return running;
}

if (require.main === module) runMain('rewind-agent', () => startAgent(agentConfig()));
