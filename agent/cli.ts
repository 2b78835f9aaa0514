/**
 * `rewind-agent [serve|load-module|device-plugin]`: the command line, generated from the settings
 * table (settings.ts) by common/settings-cli.ts.
 */
import type { Invocation as AnyInvocation, ProgramSpec } from '../common/settings-cli';
import { CONFIG_FILE_VARIABLE } from './config';
import { COMMANDS, type CommandName } from './settings';

const DESCRIPTIONS: Record<CommandName, string> = {
  serve:
    'Keep the flight recorder recording and serve snapshots to the controller (mutual TLS), ' +
    'with health and metrics.',
  'load-module':
    'Get rewind.ko loaded (already loaded, prebuilt for this kernel, or built from source), ' +
    'else stay up degraded and say why; needs CAP_SYS_MODULE.',
  'device-plugin':
    'A kubelet device plugin that hands /dev/rewind to the unprivileged agent container.',
};

export type Invocation = AnyInvocation<CommandName>;

export function agentProgram(version: string): ProgramSpec<CommandName> {
  return {
    name: 'rewind-agent',
    description:
      "Rewind's node agent: a kernel flight recorder's loader, recorder and device plugin.",
    version,
    configVariable: CONFIG_FILE_VARIABLE,
    commands: (Object.keys(COMMANDS) as CommandName[]).map((name) => ({
      name,
      description: DESCRIPTIONS[name],
      settings: COMMANDS[name],
      isDefault: name === 'serve',
    })),
  };
}
