/**
 * The controller's configuration: its settings (settings.ts) read once from flags, environment
 * and the configuration file (`--config FILE` or `REWIND_CONTROLLER_CONFIG`) into a frozen, typed
 * object (common/settings-parse.ts). A bad value, or a combination that cannot work (standalone
 * without agents), is one line; the process exits 1 before it serves anything.
 */
import { ConfigError } from '../common/config';
import { parseSettings, type ConfigOf, type ConfigSources } from '../common/settings-parse';
import { controllerSettings, controllerVariables } from './settings';

export { controllerVariables };

/** The variable that names the configuration file. */
export const CONFIG_FILE_VARIABLE = 'REWIND_CONTROLLER_CONFIG';

export type ControllerConfig = ConfigOf<typeof controllerSettings>;

/** Parses the controller's configuration; throws one ConfigError line. */
export function parseControllerConfig(sources: ConfigSources): ControllerConfig {
  const c = parseSettings(controllerSettings, sources);
  if (c.standalone && c.agents.length === 0)
    throw new ConfigError(
      'invalid configuration: --standalone needs the agents (--agents HOST:PORT,… or REWIND_AGENTS)',
    );
  if (!c.standalone && c.agents.length > 0)
    throw new ConfigError(
      'invalid configuration: --agents is for --standalone; in Kubernetes the agents are found as ' +
        "the agent DaemonSet's pods (REWIND_AGENT_SELECTOR)",
    );
  return c;
}

/** The environment-only form (the chart's Deployment). */
export function controllerConfig(env: NodeJS.ProcessEnv = process.env): ControllerConfig {
  return parseControllerConfig({ env });
}
