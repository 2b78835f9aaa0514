/**
 * The agent's configuration: the environment variables its DaemonSet sets. `agentEnvironment` is
 * the one list of them; the chart sets exactly these (test/k8s/chart-env.test.ts checks both
 * ways), and one without a default must be set.
 */
import { z } from 'zod';
import {
  bindAddress,
  commonSettings,
  commonVariables,
  dns1123Subdomain,
  parseConfig,
  port,
  variableNames,
} from '../common/config';

export const agentEnvironment = z.object({
  /** Port of /healthz, /readyz and /metrics (chart: `agent.healthPort`). */
  REWIND_AGENT_HEALTH_PORT: port(9090),
  /** Address the agent listens on; the chart leaves the default (every address of the pod). */
  REWIND_AGENT_BIND: bindAddress('0.0.0.0'),
  /** The node this agent runs on, its identity (the chart sets it from the downward API). */
  NODE_NAME: dns1123Subdomain(),
  ...commonVariables,
});

export const agentVariables: readonly string[] = variableNames(agentEnvironment);

const schema = agentEnvironment.transform((e) => ({
  healthPort: e.REWIND_AGENT_HEALTH_PORT,
  bind: e.REWIND_AGENT_BIND,
  nodeName: e.NODE_NAME,
  ...commonSettings(e),
}));

export type AgentConfig = z.output<typeof schema>;

export function agentConfig(env: NodeJS.ProcessEnv = process.env): Readonly<AgentConfig> {
  return parseConfig(schema, env);
}
