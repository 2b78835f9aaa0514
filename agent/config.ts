/** The agent's configuration: environment variables set by the DaemonSet, with defaults. */
import { z } from 'zod';
import { lifecycleVariables, parseConfig, port } from '../common/config';

const schema = z
  .object({
    /** Port of /healthz, /readyz and /metrics. */
    REWIND_AGENT_HEALTH_PORT: port(9090),
    /** Address the agent listens on. */
    REWIND_AGENT_BIND: z.string().default('0.0.0.0'),
    /** The node this agent runs on (from the downward API). */
    NODE_NAME: z.string().min(1).default('unknown-node'),
    ...lifecycleVariables,
  })
  .transform((e) => ({
    healthPort: e.REWIND_AGENT_HEALTH_PORT,
    bind: e.REWIND_AGENT_BIND,
    nodeName: e.NODE_NAME,
    drainMs: e.REWIND_DRAIN_SECONDS * 1000,
  }));

export type AgentConfig = z.output<typeof schema>;

export function agentConfig(env: NodeJS.ProcessEnv = process.env): Readonly<AgentConfig> {
  return parseConfig('rewind-agent', schema, env);
}
