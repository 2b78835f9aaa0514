/**
 * rewind-trace: the trace engine on the command line.
 *
 *   rewind-trace stats DIR...                      summary (events by node and type, windows, losses)
 *   rewind-trace validate DIR...                   read every packet strictly; exit 1 on damage
 *   rewind-trace merge OUT DIR...                  unified trace directory (babeltrace2 OUT)
 *   rewind-trace export --format chrome OUT.json DIR...   Chrome Trace Event JSON (Perfetto UI)
 *
 * The Chrome JSON's times are Unix-epoch microseconds, so two exports line up; viewers that read
 * them as doubles (Perfetto) keep them to about 0.25 us. `--relative-time` counts from the first
 * event instead, exact to the nanosecond in any viewer.
 *
 * `--correction KEY=NS` (repeatable) adds NS nanoseconds to one node's clock (its events move NS
 * later; a negative NS moves them earlier); KEY is an input as typed or a node name. `--node
 * DIR=NAME` (repeatable) names one input's node (default: its env.hostname), the name the unified
 * trace carries whole.
 *
 * No command destroys or mixes data. The rules are the merge's own, in the native core
 * (core/output.h), so the library API keeps them too: an output that is, contains or lies inside
 * an input is refused, an existing non-empty one too unless --force (which replaces it whole),
 * the same trace twice is refused, and outputs appear only when the merge succeeded. Damage
 * skipped (without --strict) is a warning on stderr. Exit status: 0 done, 1 failed (one line on
 * stderr), 2 bad usage.
 */
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import { Command, InvalidArgumentError, Option } from 'commander';

import {
  checkOutputs,
  exportChrome,
  mergeTraces,
  nativeVersion,
  NodeNames,
  TraceInput,
  traceStats,
  TraceSummary,
  validateTrace,
} from './index';
import { formatNs as ns, parseTime, resolveTime, TIME_FORMS, type ParsedTime } from './lib/time';

function jsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

function parseCorrection(spec: string, previous: Record<string, bigint>): Record<string, bigint> {
  const eq = spec.lastIndexOf('=');
  const value = spec.slice(eq + 1);
  if (eq <= 0 || !/^[-+]?\d+$/.test(value)) {
    throw new InvalidArgumentError(
      `expected DIR=NANOSECONDS or NODE=NANOSECONDS (e.g. node-a=-1500), got "${spec}"`,
    );
  }
  return { ...previous, [spec.slice(0, eq)]: BigInt(value) };
}

function parseNode(spec: string, previous: Record<string, string>): Record<string, string> {
  const eq = spec.lastIndexOf('=');
  if (eq <= 0 || eq === spec.length - 1) {
    throw new InvalidArgumentError(`expected DIR=NODE_NAME (e.g. a=worker-1), got "${spec}"`);
  }
  return { ...previous, [spec.slice(0, eq)]: spec.slice(eq + 1) };
}

function parseWhen(value: string): ParsedTime {
  try {
    return parseTime(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/** A usage error found after parsing (exit status 2, like commander's own). */
class UsageError extends Error {}

interface InputOptions {
  correction: Record<string, bigint>;
  node: Record<string, string>;
}

interface WindowOptions extends InputOptions {
  from?: ParsedTime;
  to?: ParsedTime;
  strict?: boolean;
  force?: boolean;
}

interface Inputs {
  inputs: TraceInput[];
  /** Corrections whose key is not an input as typed: a node name, checked by the core. */
  correctionByNode: Record<string, bigint>;
}

function inputsOf(dirs: string[], o: InputOptions): Inputs {
  for (const key of Object.keys(o.node))
    if (!dirs.includes(key)) throw new Error(`--node ${key}=…: ${key} is not one of the inputs`);
  const correctionByNode: Record<string, bigint> = {};
  for (const [key, value] of Object.entries(o.correction))
    if (!dirs.includes(key)) correctionByNode[key] = value;
  const inputs = dirs.map((dir) => ({
    dir,
    node: o.node[dir],
    correctionNs: o.correction[dir] ?? 0n,
  }));
  return { inputs, correctionByNode };
}

interface Window {
  fromNs?: bigint;
  toNs?: bigint;
}

/** The window in Unix-epoch ns; a time of day needs the trace's first day (one summary pass). */
async function windowOf(i: Inputs, o: WindowOptions): Promise<Window> {
  let first = 0n;
  if (o.from?.kind === 'timeOfDay' || o.to?.kind === 'timeOfDay')
    first = (await traceStats(i.inputs, { correctionByNode: i.correctionByNode })).firstNs;
  const fromNs = o.from && resolveTime(o.from, first);
  const toNs = o.to && resolveTime(o.to, first);
  if (fromNs !== undefined && toNs !== undefined && fromNs > toNs)
    throw new UsageError(`--from ${ns(fromNs)} is after --to ${ns(toNs)}`);
  return { fromNs, toNs };
}

/** Warnings for people: damage skipped, a window that misses the trace. Never silent. */
export function warningsOf(s: TraceSummary, w: Window = {}): string[] {
  const lines: string[] = [];
  const streams = s.nodes.flatMap((n) => n.streams);
  const packets = streams.reduce((a, st) => a + st.damagedPackets, 0);
  const bytes = streams.reduce((a, st) => a + st.damagedBytes, 0);
  const files = new Set(s.damage.map((d) => d.file)).size;
  if (packets > 0 || s.damage.length > 0)
    lines.push(
      `warning: damage skipped: ${packets} packet(s), ${bytes} byte(s) in ${files} file(s) ` +
        '(`rewind-trace stats` lists it; --strict makes it an error)',
    );
  const read = streams.filter((st) => st.packets > 0);
  if (w.fromNs === undefined && w.toNs === undefined) return lines;
  if (read.length === 0) return lines;
  const start = read.map((st) => st.windowStartNs).reduce((a, b) => (b < a ? b : a));
  const end = read.map((st) => st.windowEndNs).reduce((a, b) => (b > a ? b : a));
  if ((w.fromNs !== undefined && w.fromNs > end) || (w.toNs !== undefined && w.toNs < start))
    lines.push(
      `warning: the window ${w.fromNs === undefined ? '…' : ns(w.fromNs)} .. ` +
        `${w.toNs === undefined ? '…' : ns(w.toNs)} lies outside the trace ` +
        `(${ns(start)} .. ${ns(end)}): no events kept`,
    );
  return lines;
}

/** Refuses an existing non-empty file unless force; writes a temporary sibling, renames it in. */
function writeFileAtomic(path: string, text: string, force: boolean): void {
  let size = 0;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new Error(`output ${path} is a directory`);
    size = st.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (size > 0 && !force)
    throw new Error(`output ${path} exists and is not empty (--force replaces it)`);
  const temp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  try {
    writeFileSync(temp, text, { flag: 'wx' });
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
}

/** package.json's version, found from here (native/ in the tree, dist/native/ when built). */
function packageVersion(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'rewind' && pkg.version) return pkg.version;
    } catch {
      // not here: look further up
    }
  }
  return 'unknown';
}

/** How many system calls and threads `stats` lists per node (--json has them all). */
const TOP = 10;

const ofTotal = (shown: number, all: number, what: string) =>
  shown < all ? `${what} (the ${shown} most of ${all})` : what;

/** A node's system calls, interrupts and busiest threads, by name. */
export function formatNames(names: NodeNames): string[] {
  const lines: string[] = [];
  const count = (n: number) => String(n).padStart(10);
  if (names.syscalls.length > 0) {
    const top = names.syscalls.slice(0, TOP);
    lines.push(`  ${ofTotal(top.length, names.syscalls.length, 'system calls entered')}:`);
    for (const c of top) lines.push(`  ${count(c.count)}  ${c.name ?? `syscall ${c.id}`}`);
  }
  if (names.irqs.length > 0) {
    lines.push('  interrupts handled:');
    for (const c of names.irqs)
      lines.push(`  ${count(c.count)}  irq ${c.irq}${c.name === null ? '' : ` ${c.name}`}`);
  }
  if (names.threads.length > 0) {
    const top = names.threads.slice(0, TOP);
    lines.push(`  ${ofTotal(top.length, names.threads.length, 'threads by CPU time')}:`);
    for (const t of top)
      lines.push(
        `  ${(t.cpuNs / 1e9).toFixed(3).padStart(8)} s ${String(t.switchesIn).padStart(7)} runs  ` +
          `${t.comm || 'tid'} ${t.tid}${t.pod ? ` (${t.pod})` : ''}`,
      );
  }
  return lines;
}

/** The summary for people: one block per node, one line per CPU. */
export function formatSummary(s: TraceSummary): string {
  const lines = [`${s.events} events, ${s.nodes.length} node(s)`];
  if (s.events > 0) lines.push(`time: ${ns(s.firstNs)} .. ${ns(s.lastNs)}`);
  for (const n of s.nodes) {
    lines.push(
      '',
      `node ${n.name} (${n.dir}): ${n.events} events, ${n.lostEvents} lost events, ` +
        `${n.lostPackets} lost packets, ${n.damagedPackets} damaged packets`,
    );
    for (const st of n.streams) {
      const window = st.packets > 0 ? `${ns(st.windowStartNs)} .. ${ns(st.windowEndNs)}` : 'empty';
      lines.push(
        `  cpu ${st.cpu}: ${st.events} events in ${st.packets} packets, ${window}` +
          (st.lostPackets ? `, ${st.lostPackets} lost packets` : '') +
          (st.lostEventsInWindow ? `, ${st.lostEventsInWindow} lost events` : '') +
          (st.damagedPackets ? `, ${st.damagedPackets} damaged packets` : ''),
      );
    }
    const types = Object.entries(n.eventsByType).sort((a, b) => b[1] - a[1]);
    for (const [name, count] of types) lines.push(`  ${String(count).padStart(10)}  ${name}`);
    if (n.names) lines.push(...formatNames(n.names));
  }
  for (const d of s.damage) lines.push(`damaged: ${d.file}: at byte ${d.offset}: ${d.reason}`);
  return lines.join('\n');
}

export function buildProgram(
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Command {
  const program = new Command('rewind-trace')
    .description('Decode, validate, merge and export Rewind traces (CTF 1.8).')
    .version(
      `rewind-trace ${packageVersion()} (native engine ${nativeVersion()})`,
      '-V, --version',
      'print the package and native engine versions',
    )
    .showHelpAfterError()
    .exitOverride();
  const correction = () =>
    new Option(
      '--correction <key=ns>',
      "add ns nanoseconds to a node's clock (positive: its events move later); " +
        'key: an input as typed or a node name (repeatable)',
    )
      .argParser(parseCorrection)
      .default({});
  const node = () =>
    new Option('--node <dir=name>', "name an input's node (repeatable)")
      .argParser(parseNode)
      .default({});
  const windowed = (c: Command) =>
    c
      .addOption(correction())
      .addOption(node())
      .option('--from <time>', `keep events from this time: ${TIME_FORMS}`, parseWhen)
      .option('--to <time>', 'keep events up to this time (the same forms)', parseWhen)
      .option('--strict', 'the first damaged packet is an error (default: skip it and warn)')
      .option('--force', 'replace an existing, non-empty output (it is never mixed into)');
  const relativeTime = () =>
    new Option(
      '--relative-time',
      'Chrome JSON times from the first event (exact in any viewer) instead of the Unix epoch ' +
        '(exports line up; viewers keep about 0.25 us)',
    );
  const warn = (s: TraceSummary, w: Window) => {
    for (const line of warningsOf(s, w)) err(`rewind-trace: ${line}\n`);
  };

  program
    .command('stats')
    .description('summary: events by node and type, window per CPU, lost events and packets')
    .argument('<dir...>', 'trace directories')
    .option('--json', 'print JSON')
    .addOption(correction())
    .addOption(node())
    .action(async (dirs: string[], o: InputOptions & { json?: boolean }) => {
      const i = inputsOf(dirs, o);
      const s = await traceStats(i.inputs, { correctionByNode: i.correctionByNode });
      out(`${o.json ? jsonText(s) : formatSummary(s)}\n`);
    });

  program
    .command('validate')
    .description('read every packet strictly; exit status 1 names the first damage')
    .argument('<dir...>', 'trace directories')
    .option('--json', 'print JSON: {valid, summary} or {valid: false, error}')
    .action(async (dirs: string[], o: { json?: boolean }) => {
      let s: TraceSummary;
      try {
        s = await validateTrace(dirs);
      } catch (e) {
        if (!o.json) throw e;
        const { message, code, path, offset } = e as Record<string, unknown>;
        out(`${jsonText({ valid: false, error: { code, message, path, offset } })}\n`);
        throw new Reported();
      }
      if (o.json) return out(`${jsonText({ valid: true, summary: s })}\n`);
      const packets = s.nodes.reduce(
        (a, n) => a + n.streams.reduce((b, st) => b + st.packets, 0),
        0,
      );
      out(`valid: ${s.events} events in ${packets} packets, ${s.nodes.length} node(s)\n`);
    });

  windowed(
    program
      .command('merge')
      .description('merge nodes into one unified trace directory that babeltrace2 reads')
      .argument(
        '<out>',
        'output directory (one trace per node inside); written whole or not at all',
      )
      .argument('<dir...>', 'trace directories, one per node (or directories of traces)')
      .option('--chrome <file>', "also write Chrome Trace Event JSON ('-': standard output)")
      .addOption(relativeTime())
      .option('--summary <file>', "also write the summary as JSON ('-': standard output)"),
  ).action(
    async (
      outDir: string,
      dirs: string[],
      o: WindowOptions & { chrome?: string; summary?: string; relativeTime?: boolean },
    ) => {
      if (o.chrome === '-' && o.summary === '-')
        throw new UsageError('--chrome - and --summary - would both write to standard output');
      const i = inputsOf(dirs, o);
      if (o.summary && o.summary !== '-') checkOutputs(i.inputs, [o.summary]);
      const w = await windowOf(i, o);
      const s = await mergeTraces(i.inputs, {
        out: outDir,
        chrome: o.chrome,
        chromeRelativeTime: o.relativeTime,
        strict: o.strict,
        force: o.force,
        correctionByNode: i.correctionByNode,
        ...w,
      });
      if (o.summary === '-') out(`${jsonText(s)}\n`);
      else if (o.summary) writeFileAtomic(o.summary, `${jsonText(s)}\n`, o.force === true);
      warn(s, w);
      const toStdout = o.chrome === '-' || o.summary === '-';
      (toStdout ? err : out)(
        `merged ${s.events} events of ${s.nodes.length} node(s) into ${outDir}\n`,
      );
    },
  );

  windowed(
    program
      .command('export')
      .description('export to another format')
      .addOption(
        new Option('--format <format>', 'output format').choices(['chrome']).makeOptionMandatory(),
      )
      .addOption(relativeTime())
      .argument('<out>', "output file ('-': standard output); written whole or not at all")
      .argument('<dir...>', 'trace directories'),
  ).action(
    async (
      outFile: string,
      dirs: string[],
      o: WindowOptions & { format: string; relativeTime?: boolean },
    ) => {
      const i = inputsOf(dirs, o);
      const w = await windowOf(i, o);
      const s = await exportChrome(i.inputs, outFile, {
        chromeRelativeTime: o.relativeTime,
        strict: o.strict,
        force: o.force,
        correctionByNode: i.correctionByNode,
        ...w,
      });
      warn(s, w);
      const where = outFile === '-' ? 'standard output' : outFile;
      (outFile === '-' ? err : out)(
        `exported ${s.events} events of ${s.nodes.length} node(s) to ${where} (${o.format})\n`,
      );
    },
  );
  return program;
}

/** The failure was already printed (validate --json): exit 1, nothing more. */
class Reported extends Error {}

/** Runs the CLI; resolves the exit status (errors are printed, never thrown). */
export async function main(argv: string[] = process.argv): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof Reported) return 1;
    const err = e as { code?: string; exitCode?: number; message?: string };
    // commander has printed its message (help and --version exit 0); a usage error is status 2.
    if (typeof err.code === 'string' && err.code.startsWith('commander.'))
      return err.exitCode === 0 ? 0 : 2;
    process.stderr.write(`rewind-trace: ${err.message ?? String(e)}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
