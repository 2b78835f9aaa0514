/**
 * rewind-trace: the trace engine on the command line.
 *
 *   rewind-trace stats DIR...                      summary (events by node and type, windows, losses)
 *   rewind-trace validate DIR...                   read every packet strictly; exit 1 on damage
 *   rewind-trace merge OUT DIR...                  unified trace directory (babeltrace2 OUT)
 *   rewind-trace export --format chrome OUT.json DIR...   Chrome Trace Event JSON (Perfetto UI)
 *
 * `--correction DIR=NS` (repeatable) shifts one input's clock by NS nanoseconds.
 */
import { Command, InvalidArgumentError, Option } from 'commander';

import {
  exportChrome,
  mergeTraces,
  TraceInput,
  traceStats,
  TraceSummary,
  validateTrace,
} from './index';

function jsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

function parseCorrection(spec: string, previous: Record<string, bigint>): Record<string, bigint> {
  const eq = spec.lastIndexOf('=');
  const ns = spec.slice(eq + 1);
  if (eq <= 0 || !/^-?\d+$/.test(ns)) {
    throw new InvalidArgumentError(`expected DIR=NANOSECONDS (e.g. node-a=-1500), got "${spec}"`);
  }
  return { ...previous, [spec.slice(0, eq)]: BigInt(ns) };
}

function parseNs(value: string): bigint {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError('expected nanoseconds (an integer)');
  return BigInt(value);
}

interface WindowOptions {
  correction: Record<string, bigint>;
  from?: bigint;
  to?: bigint;
  strict?: boolean;
}

function inputsOf(dirs: string[], corrections: Record<string, bigint>): TraceInput[] {
  for (const key of Object.keys(corrections)) {
    if (!dirs.includes(key))
      throw new Error(`--correction ${key}=…: ${key} is not one of the inputs`);
  }
  return dirs.map((dir) => ({ dir, correctionNs: corrections[dir] ?? 0n }));
}

function windowOptions(o: WindowOptions): { fromNs?: bigint; toNs?: bigint; strict?: boolean } {
  return { fromNs: o.from, toNs: o.to, strict: o.strict };
}

function ns(t: bigint): string {
  const s = t / 1000000000n;
  const frac = (t % 1000000000n).toString().padStart(9, '0');
  return `${new Date(Number(s) * 1000).toISOString().slice(0, 19)}.${frac}Z`;
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
  }
  for (const d of s.damage) lines.push(`damaged: ${d.file}: at byte ${d.offset}: ${d.reason}`);
  return lines.join('\n');
}

export function buildProgram(out: (s: string) => void = (s) => process.stdout.write(s)): Command {
  const program = new Command('rewind-trace')
    .description('Decode, validate, merge and export Rewind traces (CTF 1.8).')
    .showHelpAfterError()
    .exitOverride();
  const correction = () =>
    new Option('--correction <dir=ns>', "shift an input's clock by ns (repeatable)")
      .argParser(parseCorrection)
      .default({});
  const windowed = (c: Command) =>
    c
      .addOption(correction())
      .option('--from <ns>', 'keep events from this Unix-epoch time (ns)', parseNs)
      .option('--to <ns>', 'keep events up to this Unix-epoch time (ns)', parseNs)
      .option('--strict', 'the first damaged packet is an error');

  program
    .command('stats')
    .description('summary: events by node and type, window per CPU, lost events and packets')
    .argument('<dir...>', 'trace directories')
    .option('--json', 'print JSON')
    .addOption(correction())
    .action(async (dirs: string[], o: { json?: boolean; correction: Record<string, bigint> }) => {
      const s = await traceStats(inputsOf(dirs, o.correction));
      out(`${o.json ? jsonText(s) : formatSummary(s)}\n`);
    });

  program
    .command('validate')
    .description('read every packet strictly; exit status 1 names the first damage')
    .argument('<dir...>', 'trace directories')
    .action(async (dirs: string[]) => {
      const s = await validateTrace(dirs);
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
      .argument('<out>', 'output directory (one trace per node inside)')
      .argument('<dir...>', 'trace directories, one per node (or directories of traces)')
      .option('--chrome <file>', 'also write Chrome Trace Event JSON')
      .option('--summary <file>', 'also write the summary as JSON'),
  ).action(
    async (
      outDir: string,
      dirs: string[],
      o: WindowOptions & { chrome?: string; summary?: string },
    ) => {
      const s = await mergeTraces(inputsOf(dirs, o.correction), {
        out: outDir,
        chrome: o.chrome,
        ...windowOptions(o),
      });
      if (o.summary) {
        const { writeFileSync } = await import('node:fs');
        writeFileSync(o.summary, `${jsonText(s)}\n`);
      }
      out(`merged ${s.events} events of ${s.nodes.length} node(s) into ${outDir}\n`);
    },
  );

  windowed(
    program
      .command('export')
      .description('export to another format')
      .addOption(
        new Option('--format <format>', 'output format').choices(['chrome']).makeOptionMandatory(),
      )
      .argument('<out>', 'output file')
      .argument('<dir...>', 'trace directories'),
  ).action(async (outFile: string, dirs: string[], o: WindowOptions & { format: string }) => {
    const s = await exportChrome(inputsOf(dirs, o.correction), outFile, windowOptions(o));
    out(`exported ${s.events} events of ${s.nodes.length} node(s) to ${outFile} (${o.format})\n`);
  });
  return program;
}

/** Runs the CLI; resolves the exit status (errors are printed, never thrown). */
export async function main(argv: string[] = process.argv): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string };
    if (typeof err.code === 'string' && err.code.startsWith('commander.')) return err.exitCode ?? 2;
    process.stderr.write(`rewind-trace: ${err.message ?? String(e)}\n`);
    return 1;
  }
}
