/**
 * The agent's configuration: each command's settings (settings.ts) read once from flags,
 * environment and the configuration file (`--config FILE` or `REWIND_AGENT_CONFIG`) into a frozen,
 * typed object (common/settings-parse.ts); a bad value is one line and the process exits 1
 * before touching the kernel.
 */
import { parseSettings, type ConfigOf, type ConfigSources } from '../common/settings-parse';
import { COMMANDS, commandVariables, type CommandName } from './settings';

export type { ConfigSources };

/** The variable that names the configuration file. */
export const CONFIG_FILE_VARIABLE = 'REWIND_AGENT_CONFIG';

export type ServeConfig = ConfigOf<(typeof COMMANDS)['serve']>;
export type LoadModuleConfig = ConfigOf<(typeof COMMANDS)['load-module']>;
export type DevicePluginConfig = ConfigOf<(typeof COMMANDS)['device-plugin']>;

/** Parses a command's configuration from its sources; throws one ConfigError line. */
export function parseAgentConfig<C extends CommandName>(command: C, sources: ConfigSources) {
  return parseSettings(COMMANDS[command], sources);
}

/** The variables each command reads (the chart sets exactly these). */
export const agentVariables = {
  serve: commandVariables('serve'),
  'load-module': commandVariables('load-module'),
  'device-plugin': commandVariables('device-plugin'),
} as const;
