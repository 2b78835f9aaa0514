/**
 * `rewind-agent [serve|load-module|device-plugin]`: the command line, generated from the settings
 * table (settings.ts): one option per setting, its help with the variable that sets it too, and
 * `--config FILE`. Pure: returns the command and its parsed sources; main.ts runs it. A usage
 * error exits 2 (as commander's own do), a bad value 1 with one line (common/lifecycle.ts).
 */
import { Command, CommanderError, Option } from 'commander';
import { COMMANDS, type CommandName, type Setting } from './settings';
import { CONFIG_FILE_VARIABLE } from './config';

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

export interface Invocation {
  command: CommandName;
  /** Flag values by setting name. */
  flags: Record<string, string | undefined>;
  /** The configuration file given with --config (else REWIND_AGENT_CONFIG is read). */
  configFile: string | undefined;
}

/** One option per setting; returns each setting's option, by setting name. */
function addOptions(cmd: Command, settings: Record<string, Setting>): Map<string, Option> {
  const options = new Map<string, Option>();
  for (const [name, s] of Object.entries(settings)) {
    const o = new Option(
      `--${s.flag} ${s.boolean ? '[true|false]' : '<value>'}`,
      `${s.help} (${s.variable})`,
    );
    cmd.addOption(o);
    options.set(name, o);
  }
  cmd.option('--config <file>', `YAML or JSON file of settings (${CONFIG_FILE_VARIABLE})`);
  return options;
}

/**
 * Parses argv (without node and the script). Resolves with the invocation, or undefined when
 * commander already answered (help, version); throws CommanderError on a usage error.
 */
export function parseCommandLine(
  argv: string[],
  version: string,
  out: { write: (s: string) => void; error: (s: string) => void },
): Invocation | undefined {
  let invocation: Invocation | undefined;
  const program = new Command('rewind-agent')
    .description(
      "Rewind's node agent: a kernel flight recorder's loader, recorder and device plugin.",
    )
    .version(version)
    .exitOverride()
    .configureOutput({ writeOut: out.write, writeErr: out.error })
    .showHelpAfterError();
  for (const name of Object.keys(COMMANDS) as CommandName[]) {
    const settings = COMMANDS[name] as Record<string, Setting>;
    const cmd = program
      .command(name, { isDefault: name === 'serve' })
      .description(DESCRIPTIONS[name])
      .exitOverride()
      .configureOutput({ writeOut: out.write, writeErr: out.error })
      .showHelpAfterError();
    const options = addOptions(cmd, settings);
    cmd.action((opts: Record<string, unknown>) => {
      const flags: Record<string, string | undefined> = {};
      for (const [key, o] of options) {
        const v = opts[o.attributeName()];
        flags[key] = v === undefined ? undefined : String(v);
      }
      invocation = {
        command: name,
        flags,
        configFile: typeof opts.config === 'string' ? opts.config : undefined,
      };
    });
  }
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (
      e instanceof CommanderError &&
      (e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help')
    )
      return undefined;
    throw e;
  }
  return invocation;
}
