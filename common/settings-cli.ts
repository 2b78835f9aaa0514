/**
 * A program's command line generated from its settings tables (common/settings.ts): one
 * subcommand per table, one option per setting (its help naming the variable that sets it too),
 * and `--config FILE`. Pure: returns the chosen command and its parsed sources; the program's
 * main runs them. A usage error exits 2 (as commander's own do), a bad value 1 with one line
 * (common/lifecycle.ts).
 */
import { Command, CommanderError, Option } from 'commander';
import type { Settings } from './settings';

export interface CommandSpec<N extends string> {
  name: N;
  description: string;
  settings: Settings;
  /** Run when no command is named. */
  isDefault?: boolean;
}

export interface ProgramSpec<N extends string> {
  name: string;
  description: string;
  version: string;
  /** The variable that names the configuration file when --config is not given. */
  configVariable: string;
  commands: readonly CommandSpec<N>[];
}

export interface Invocation<N extends string> {
  command: N;
  /** Flag values by setting name (strings, as variables are). */
  flags: Record<string, string | undefined>;
  /** The configuration file given with --config (else the program's variable is read). */
  configFile: string | undefined;
}

export interface Output {
  write: (s: string) => void;
  error: (s: string) => void;
}

/** Adds the table's options and `--config <file>`; returns how to read their values back. */
function addSettingOptions(
  cmd: Command,
  settings: Settings,
  configVariable: string,
): (opts: Record<string, unknown>) => Record<string, string | undefined> {
  const options = new Map<string, Option>();
  for (const [name, s] of Object.entries(settings)) {
    const o = new Option(
      `--${s.flag} ${s.boolean ? '[true|false]' : '<value>'}`,
      `${s.help} (${s.variable})`,
    );
    cmd.addOption(o);
    options.set(name, o);
  }
  cmd.option('--config <file>', `YAML or JSON file of settings (${configVariable})`);
  return (opts) => {
    const flags: Record<string, string | undefined> = {};
    for (const [key, o] of options) {
      const v = opts[o.attributeName()];
      flags[key] = v === undefined ? undefined : String(v);
    }
    return flags;
  };
}

/**
 * Parses argv (without node and the script). Returns the invocation, or undefined when commander
 * already answered (help, version); throws CommanderError on a usage error.
 */
export function parseCommandLine<N extends string>(
  spec: ProgramSpec<N>,
  argv: string[],
  out: Output,
): Invocation<N> | undefined {
  let invocation: Invocation<N> | undefined;
  const configure = (c: Command) =>
    c
      .exitOverride()
      .configureOutput({ writeOut: out.write, writeErr: out.error })
      .showHelpAfterError();
  const program = configure(
    new Command(spec.name).description(spec.description).version(spec.version),
  );
  for (const c of spec.commands) {
    const cmd = configure(
      program.command(c.name, { isDefault: c.isDefault ?? false }).description(c.description),
    );
    const flags = addSettingOptions(cmd, c.settings, spec.configVariable);
    cmd.action((opts: Record<string, unknown>) => {
      invocation = {
        command: c.name,
        flags: flags(opts),
        configFile: typeof opts.config === 'string' ? opts.config : undefined,
      };
    });
  }
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (
      e instanceof CommanderError &&
      ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(e.code)
    )
      return undefined;
    throw e;
  }
  return invocation;
}

/**
 * The program's entry: parses the command line (a usage error: commander has printed it and the
 * help; exit 2), then hands the invocation to `run` (help and version: nothing to run).
 */
export async function runCommandLine<N extends string>(
  spec: ProgramSpec<N>,
  argv: string[],
  run: (invocation: Invocation<N>) => Promise<void>,
): Promise<void> {
  let invocation: Invocation<N> | undefined;
  try {
    invocation = parseCommandLine(spec, argv, {
      write: (s) => process.stdout.write(s),
      error: (s) => process.stderr.write(s),
    });
  } catch {
    process.exit(2);
  }
  if (invocation) await run(invocation);
}
