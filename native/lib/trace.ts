/**
 * The trace engine: decoding, validating, summarizing, merging and exporting traces.
 *
 * Times: `timestamp` is a trace clock value (ns since the node's clock origin, as babeltrace2's
 * `--clock-cycles` prints it); `timeNs` is the same instant on the Unix epoch, corrected by the
 * node's clock correction. Both are bigints: nanoseconds since 1970 do not fit a double.
 */
import { z } from 'zod';

import { addon } from './addon';
import { toSummary, type TraceSummary } from './summary';
import { check, int64, nonEmpty } from './validate';

/** A field value: integers up to 32 bits are numbers, 64-bit ones bigints; byte arrays number[]. */
export type FieldValue = number | bigint | string | number[];

export interface TraceEvent {
  /** Node name: the input's name, else the trace's env.hostname. */
  node: string;
  cpu: number;
  id: number;
  name: string;
  /** Trace clock value (ns). */
  timestamp: bigint;
  /** Unix-epoch ns, corrected. */
  timeNs: bigint;
  fields: Record<string, FieldValue>;
}

export interface EventDescription {
  id: number;
  name: string;
  fields: { name: string; type: string }[];
}

/** The native engine's version, e.g. "0.1.0". */
export function nativeVersion(): string {
  return addon().version();
}

/** Version, compiler and C++ standard of the loaded addon. */
export function nativeBuildDescription(): string {
  return addon().buildDescription();
}

/** The event table compiled in (from kmod/include/rewind/format.h). */
export function eventTable(): EventDescription[] {
  return addon().eventTable();
}

/**
 * A trace directory (or a directory of traces), optionally named and clock-corrected. The node
 * name is what the unified trace carries (env.hostname, directory), whole: up to 253 bytes of
 * letters, digits, '.', '-' and '_'. Two inputs with the same name are an error (RewindError
 * ERR_REWIND_INVALID_ARG naming both), never renamed.
 */
export type TraceInput = string | { dir: string; node?: string; correctionNs?: bigint | number };

const inputSchema = z.union([
  nonEmpty.transform((dir) => ({ dir })),
  z
    .object({
      dir: nonEmpty,
      node: nonEmpty.optional(),
      correctionNs: int64.optional(),
    })
    .strict(),
]);
const inputsSchema = z.union([inputSchema.transform((i) => [i]), z.array(inputSchema).min(1)]);

const windowSchema = {
  strict: z.boolean().optional(),
  fromNs: int64.optional(),
  toNs: int64.optional(),
  correctionByNode: z.record(z.string().min(1), int64).optional(),
};

export interface DecodeOptions {
  /** The first damage is an error naming file and byte offset (default: skip and count it). */
  strict?: boolean;
  /** Stop collecting after this many events (the summary still covers all). */
  limit?: number;
  fromNs?: bigint | number;
  toNs?: bigint | number;
  /**
   * Clock corrections (ns) by node name: the input's `node`, else its trace's env.hostname. For
   * inputs named only inside (a directory of traces); an unknown name is an error.
   */
  correctionByNode?: Record<string, bigint | number>;
}

/** A window whose start is after its end holds nothing: an error, not an empty output. */
function windowInOrder(o: { fromNs?: bigint; toNs?: bigint }): boolean {
  return o.fromNs === undefined || o.toNs === undefined || o.fromNs <= o.toNs;
}
const windowOrder = { message: 'fromNs is after toNs', path: ['fromNs'] };

const decodeOptions = z
  .object({ ...windowSchema, limit: z.number().int().positive().optional() })
  .strict()
  .refine(windowInOrder, windowOrder);

/** Decodes traces into events in global time order (all nodes, all CPUs). */
export async function decodeTrace(
  inputs: TraceInput | TraceInput[],
  options: DecodeOptions = {},
): Promise<{ events: TraceEvent[]; truncated: boolean; summary: TraceSummary }> {
  const ins = check('decodeTrace', inputsSchema, inputs, 'inputs');
  const o = check('decodeTrace', decodeOptions, options, 'options');
  const r = await addon().decode(ins, o);
  return { events: r.events, truncated: r.truncated, summary: toSummary(r.result) };
}

/** Reads every packet strictly: resolves with the summary, or rejects naming file and offset. */
export async function validateTrace(inputs: TraceInput | TraceInput[]): Promise<TraceSummary> {
  const ins = check('validateTrace', inputsSchema, inputs, 'inputs');
  return toSummary(await addon().merge(ins, { strict: true }));
}

const statsOptions = z.object({ correctionByNode: windowSchema.correctionByNode }).strict();

/** The summary of traces, damaged packets skipped and counted. */
export async function traceStats(
  inputs: TraceInput | TraceInput[],
  options: Pick<DecodeOptions, 'correctionByNode'> = {},
): Promise<TraceSummary> {
  const ins = check('traceStats', inputsSchema, inputs, 'inputs');
  const o = check('traceStats', statsOptions, options, 'options');
  return toSummary(await addon().merge(ins, { ...o, names: true }));
}

/**
 * Outputs never harm an input or mix with older data: an output that is, contains or lies inside
 * an input (real paths) is an error (ERR_REWIND_INVALID_ARG), an existing non-empty one too
 * (EEXIST) unless `force`; each output is written under a temporary sibling and renamed into place
 * only when the merge succeeded, so a failed merge changes nothing at the output paths.
 */
/** A process's pod as the merge writes it (process_pod events, Chrome task names). */
export interface PodNameEntry {
  namespace: string;
  pod: string;
  /** Empty for a pod-level cgroup. */
  container: string;
  podUid: string;
}

/** Pods by node name (as for correctionByNode), then by cgroup id in decimal. */
export type PodNames = Record<string, Record<string, PodNameEntry>>;

const noNul = z.string().refine((s) => !s.includes('\0'), 'must not contain a NUL character');
const podNameSchema = z
  .object({
    namespace: noNul.pipe(nonEmpty),
    pod: noNul.pipe(nonEmpty),
    container: noNul,
    podUid: noNul,
  })
  .strict();
/** Why a key is not a cgroup id (64-bit, in decimal), or undefined. */
function cgroupIdProblem(key: string): string | undefined {
  if (!/^(0|[1-9][0-9]*)$/.test(key)) return 'must be a cgroup id in decimal';
  if (BigInt(key) >= 1n << 64n) return 'must be a cgroup id below 2^64';
  return undefined;
}
// Keys checked here rather than by a key schema: zod reports those only as "Invalid key".
const cgroupTable = z.record(z.string(), podNameSchema).superRefine((table, ctx) => {
  for (const key of Object.keys(table)) {
    const message = cgroupIdProblem(key);
    if (message) ctx.addIssue({ code: 'custom', message, path: [key] });
  }
});
const podNamesSchema = z.record(z.string().min(1), cgroupTable);

export interface MergeOptions {
  /** Output (a): the unified trace directory (one CTF trace per node). */
  out?: string;
  /** Output (b): Chrome Trace Event JSON file; '-' is standard output. */
  chrome?: string;
  /**
   * The Chrome JSON's times count from the first event instead of the Unix epoch: exact in
   * viewers that hold times as doubles (Perfetto keeps a Unix-epoch time to 256 ns), but two
   * exports no longer line up. Its `otherData` gives the first event's Unix-epoch time.
   */
  chromeRelativeTime?: boolean;
  /** Replace existing, non-empty outputs (the old one is removed only once the new one is in). */
  force?: boolean;
  strict?: boolean;
  fromNs?: bigint | number;
  toNs?: bigint | number;
  /**
   * Clock corrections (ns) by node name: the input's `node`, else its trace's env.hostname. For
   * inputs named only inside (a directory of traces); an unknown name is an error.
   */
  correctionByNode?: Record<string, bigint | number>;
  /**
   * Pods by node name, then by cgroup id (decimal): in the unified trace a `process_pod` event
   * follows each statedump_process / sched_process_cgroup of a named cgroup (same stream, same
   * time; threads named before `fromNs` get theirs at the node's first event), and the Chrome
   * JSON names those threads' tasks with their pod. An unknown node name is an error.
   */
  podNames?: PodNames;
}

const mergeOptions = z
  .object({
    ...windowSchema,
    podNames: podNamesSchema.optional(),
    out: nonEmpty.optional(),
    chrome: nonEmpty.optional(),
    chromeRelativeTime: z.boolean().optional(),
    force: z.boolean().optional(),
  })
  .strict()
  .refine(windowInOrder, windowOrder);

/**
 * The streaming merge of nodes x CPUs with per-node clock correction, into any of the outputs;
 * resolves with the summary (output c).
 */
export async function mergeTraces(
  inputs: TraceInput | TraceInput[],
  options: MergeOptions,
): Promise<TraceSummary> {
  const ins = check('mergeTraces', inputsSchema, inputs, 'inputs');
  const o = check('mergeTraces', mergeOptions, options, 'options');
  const { out, chrome, ...rest } = o;
  return toSummary(await addon().merge(ins, { ...rest, ctfDir: out, chromePath: chrome }));
}

/**
 * The outputs' rule for files a caller writes itself beside a merge: throws a RewindError
 * (ERR_REWIND_INVALID_ARG) when one of `outputs` is, contains or lies inside an input (real paths).
 */
export function checkOutputs(inputs: TraceInput | TraceInput[], outputs: string[]): void {
  const ins = check('checkOutputs', inputsSchema, inputs, 'inputs');
  addon().checkOutputs(
    ins.map((i) => i.dir),
    check('checkOutputs', z.array(nonEmpty), outputs, 'outputs'),
  );
}

/** Chrome Trace Event JSON (Perfetto UI): a process per node, a track per CPU. */
export async function exportChrome(
  inputs: TraceInput | TraceInput[],
  outJson: string,
  options: Omit<MergeOptions, 'out' | 'chrome'> = {},
): Promise<TraceSummary> {
  return mergeTraces(inputs, { ...options, chrome: outJson });
}
