/**
 * `rewind-controller [run]`: the command line, generated from the settings table (settings.ts)
 * by common/settings-cli.ts.
 */
import type { ProgramSpec } from '../common/settings-cli';
import { CONFIG_FILE_VARIABLE } from './config';
import { controllerSettings } from './settings';

export function controllerProgram(version: string): ProgramSpec<'run'> {
  return {
    name: 'rewind-controller',
    description:
      "Rewind's controller: turns TraceSnapshots and Alertmanager alerts into one merged trace " +
      'of the nodes they name.',
    version,
    configVariable: CONFIG_FILE_VARIABLE,
    commands: [
      {
        name: 'run',
        description:
          'Reconcile TraceSnapshots (or, with --standalone, serve the agents listed by --agents), ' +
          'collect and merge snapshots, serve the webhook, downloads and metrics.',
        settings: controllerSettings,
        isDefault: true,
      },
    ],
  };
}
