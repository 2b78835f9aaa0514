/**
 * `kubectl rewind` — the command tree (commander): each command's flags, help with examples, and
 * the mapping of failures to kubectl's exit statuses (0 done, 1 failed, 2 usage). A usage error is
 * one line on stderr naming the command's --help. The commands themselves are in commands/.
 */
import { Command, CommanderError, Option } from 'commander';
import { oneLine } from '../common/errors';
import { DEFAULT_REWIND_NAMESPACE } from './connection-info';
import { parseAddress } from './connection';
import { makeContext, type GlobalFlags, type Output } from './context';
import { CliError, EXIT_FAILURE, EXIT_USAGE, UsageError } from './errors';
import { bashCompletion, zshCompletion } from './completion';
import { snapshotCommand } from './commands/snapshot';
import { listCommand } from './commands/list';
import { getCommand } from './commands/get';
import { downloadCommand } from './commands/download';
import { deleteCommand } from './commands/delete';
import { agentsCommand } from './commands/agents';

export const BIN = 'kubectl-rewind';

export interface CliIo {
  out: Output;
  err: Output;
  now(): number;
  signal: AbortSignal;
  version: string;
}

const examples = (lines: string[]) => `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The program; `run` receives each command's work as a promise. */
export function buildProgram(
  io: CliIo,
  run: (work: (ctx: ReturnType<typeof makeContext>) => Promise<void>) => void,
): Command {
  const program = new Command('kubectl rewind')
    .description(
      'Rewind: freeze the last seconds of what the kernels of a cluster did, as one trace.\n' +
        'Snapshots are TraceSnapshot objects; your kubeconfig and your RBAC rights apply.',
    )
    .version(io.version, '--version')
    .addOption(
      new Option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, ~/.kube/config)'),
    )
    .addOption(new Option('--context <name>', 'kubeconfig context to use'))
    .addOption(
      new Option('-n, --namespace <ns>', "namespace of the snapshots (default: the context's)"),
    )
    .addOption(
      new Option('--rewind-namespace <ns>', "namespace where Rewind's controller runs")
        .env('REWIND_NAMESPACE')
        .default(DEFAULT_REWIND_NAMESPACE),
    )
    .addOption(
      new Option(
        '--controller-address <host:port>',
        "dial the controller's API here instead of a port-forward to its pod",
      ).env('REWIND_CONTROLLER_ADDRESS'),
    )
    .showSuggestionAfterError(true)
    // Each command's help lists -n, --context and --kubeconfig too (commands inherit this).
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      examples([
        'kubectl rewind snapshot --node worker-1 --window 30s --wait -o ./incident',
        'kubectl rewind list -A',
        'kubectl rewind agents',
      ]),
    );

  const act =
    <A extends unknown[]>(fn: (ctx: ReturnType<typeof makeContext>, ...args: A) => Promise<void>) =>
    (...args: A) =>
      run((ctx) => fn(ctx, ...args));

  program
    .command('snapshot')
    .description(
      'Ask every chosen node for its last seconds of kernel history; the controller merges them into one trace.',
    )
    .option('--node <name>', 'a node to snapshot (repeatable)', collect)
    .option('--selector <labels>', 'the nodes with these labels (k=v,k!=v,k in (a,b))')
    .option('--pod <name>', 'the node this pod (in -n) runs on')
    .option('-l, --pod-selector <labels>', 'the nodes the pods with these labels (in -n) run on')
    .option('--all-nodes', 'every node')
    .option('--window <duration>', 'seconds of history to keep from each node (1s…1h)', '10s')
    .option('--reason <text>', 'why (kept with the snapshot and in the trace)')
    .option('--name <name>', 'the TraceSnapshot name (default: generated, manual-xxxxx)')
    .option('--ttl <duration>', "delete it this long after it finishes (default: the controller's)")
    .option('--wait', 'follow it to the end with a progress line')
    .option('-o, --output <dir>', 'download the trace into this folder when done (implies --wait)')
    .option('--force', 'with -o: replace a folder that is not empty')
    .addHelpText(
      'after',
      examples([
        'kubectl rewind snapshot --node worker-1 --node worker-2 --wait -o ./incident',
        "kubectl rewind snapshot --selector 'node-role.kubernetes.io/worker' --window 30s --reason 'p99 spike'",
        'kubectl rewind snapshot -n shop --pod web-7d9f --wait',
        "kubectl rewind snapshot -n shop -l app=web --reason 'checkout timeouts'",
      ]),
    )
    .action(act((ctx, o) => snapshotCommand(ctx, o)));

  program
    .command('list')
    .alias('ls')
    .description('List TraceSnapshots: phase, trigger, nodes, events, size, age.')
    .option('-A, --all-namespaces', 'in every namespace')
    .option('-o, --output <format>', 'wide, json, yaml or name')
    .addHelpText('after', examples(['kubectl rewind list', 'kubectl rewind list -A -o wide']))
    .action(act((ctx, o) => listCommand(ctx, o)));

  program
    .command('get')
    .argument('<name>', 'the TraceSnapshot')
    .description('Show one snapshot: status, each node’s result and clock alignment, conditions.')
    .option('-o, --output <format>', 'json or yaml')
    .option('--wait', 'follow it to the end first')
    .addHelpText(
      'after',
      examples(['kubectl rewind get manual-x7k2p', 'kubectl rewind get manual-x7k2p -o yaml']),
    )
    .action(act((ctx, name: string, o) => getCommand(ctx, name, o)));

  program
    .command('download')
    .argument('<name>', 'the TraceSnapshot')
    .description(
      'Download a finished snapshot’s trace (CTF for babeltrace2, JSON for Perfetto) into a folder.',
    )
    .requiredOption('-o, --output <dir>', 'the folder to unpack into')
    .option('--force', 'replace a folder that is not empty')
    .option('--wait', 'wait for a snapshot that is still running')
    .addHelpText('after', examples(['kubectl rewind download manual-x7k2p -o ./incident']))
    .action(act((ctx, name: string, o) => downloadCommand(ctx, name, o)));

  program
    .command('delete')
    .argument('<name...>', 'TraceSnapshots to delete')
    .description('Delete snapshots and their stored traces.')
    .addHelpText('after', examples(['kubectl rewind delete manual-x7k2p']))
    .action(act((ctx, names: string[]) => deleteCommand(ctx, names)));

  program
    .command('agents')
    .description(
      'Every node’s agent: module loaded or degraded (and why), recording, window, refusals, version.',
    )
    .option('-o, --output <format>', 'wide or json')
    .addHelpText('after', examples(['kubectl rewind agents', 'kubectl rewind agents -o wide']))
    .action(act((ctx, o) => agentsCommand(ctx, o)));

  program
    .command('completion')
    .argument('<shell>', 'bash or zsh')
    .description('Print a shell completion script.')
    .addHelpText('after', examples(['source <(kubectl-rewind completion bash)']))
    .action((shell: string) => {
      if (shell === 'bash') io.out.write(bashCompletion(program, BIN));
      else if (shell === 'zsh') io.out.write(zshCompletion(program, BIN));
      else throw new UsageError(`completion: ${JSON.stringify(shell)} is not bash or zsh`);
    });

  return program;
}

/** Runs the command line; resolves with the exit status. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let work: ((ctx: ReturnType<typeof makeContext>) => Promise<void>) | undefined;
  const program = buildProgram(io, (w) => {
    work = w;
  });
  let usageOf = 'kubectl rewind';
  const configure = (c: Command): void => {
    c.exitOverride().configureOutput({
      writeOut: (s) => io.out.write(s),
      writeErr: () => undefined,
      outputError: () => undefined,
    });
    c.hook('preAction', (_, action) => {
      usageOf = `kubectl rewind ${action.name()}`;
    });
    c.commands.forEach(configure);
  };
  configure(program);
  try {
    if (argv.length === 0) {
      // outputHelp, not helpInformation: the examples are text added after the help.
      program.outputHelp();
      return 0;
    }
    await program.parseAsync(argv, { from: 'user' });
    if (!work) return 0;
    await work(makeContext(readGlobals(program), io));
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(e.code))
        return 0;
      const cmd = findCommand(program, argv) ?? usageOf;
      // commander's messages start with `error: ` already; the one prefix is kept.
      const message = oneLine(e.message).replace(/^error: /, '');
      io.err.write(`error: ${message} (see ${cmd} --help)\n`);
      return EXIT_USAGE;
    }
    if (e instanceof UsageError) {
      io.err.write(`error: ${e.message} (see ${usageOf} --help)\n`);
      return EXIT_USAGE;
    }
    if (e instanceof CliError) {
      io.err.write(`error: ${e.message}\n`);
      return e.exitCode;
    }
    io.err.write(`error: ${oneLine(e)}\n`);
    return EXIT_FAILURE;
  }
}

/** The global flags; a malformed --controller-address is a usage error before any cluster call. */
function readGlobals(program: Command): GlobalFlags {
  const g = program.opts<GlobalFlags>();
  if (g.controllerAddress !== undefined) parseAddress(g.controllerAddress);
  return {
    rewindNamespace: g.rewindNamespace,
    ...(g.kubeconfig !== undefined ? { kubeconfig: g.kubeconfig } : {}),
    ...(g.context !== undefined ? { context: g.context } : {}),
    ...(g.namespace !== undefined ? { namespace: g.namespace } : {}),
    ...(g.controllerAddress !== undefined ? { controllerAddress: g.controllerAddress } : {}),
  };
}

/** `kubectl rewind <subcommand>` named on the command line, for the usage hint. */
function findCommand(program: Command, argv: string[]): string | undefined {
  const names = new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
  const sub = argv.find((a) => names.has(a));
  const c = program.commands.find((x) => x.name() === sub || x.aliases().includes(sub ?? ''));
  return c ? `kubectl rewind ${c.name()}` : undefined;
}
