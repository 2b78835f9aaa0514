/**
 * The end of `snapshot --wait`, `get --wait` and `download`: follow a snapshot until it is final
 * (watch.ts), say how it ended — a Failed snapshot is a failure naming each node's reason, a
 * PartiallyFailed one a warning — and, with `-o DIR`, download and unpack its trace and print the
 * commands that open it. Ctrl-C stops the following only, and says how to pick it up again.
 */
import type { TraceSnapshot } from '../../controller/model';
import { type Context, type GlobalFlags } from '../context';
import { DEFAULT_REWIND_NAMESPACE } from '../connection-info';
import { readSnapshot } from '../snapshots';
import { CliError, EXIT_INTERRUPTED } from '../errors';
import { failedNodes, humanBytes, totalEvents } from '../format';
import { controllerFailure } from '../connection';
import { unpackInto, type Unpacked } from '../download';
import { isFinal } from '../progress';
import { followSnapshot } from '../watch';
import { abortableSleep } from '../../common/sleep';

export const POLL_INTERVAL_MS = 1000;

export interface FinishOptions {
  output?: string;
  force?: boolean;
}

/** `text` as one shell word (quoted only when it needs to be). */
const shellWord = (text: string): string =>
  /^[A-Za-z0-9_./:=@%+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;

/**
 * How to pick the following up again after Ctrl-C: the same cluster (--kubeconfig, --context as
 * given) and, for a download, the same Rewind namespace.
 */
export function resumeHint(
  namespace: string,
  name: string,
  o: FinishOptions,
  flags: Pick<GlobalFlags, 'kubeconfig' | 'context' | 'rewindNamespace'>,
): string {
  const where = [
    ...(flags.kubeconfig !== undefined ? ['--kubeconfig', flags.kubeconfig] : []),
    ...(flags.context !== undefined ? ['--context', flags.context] : []),
  ];
  const words =
    o.output !== undefined
      ? ['download', name, '-n', namespace, '--wait', '-o', o.output, ...where]
      : ['get', name, '-n', namespace, '--wait', ...where];
  if (o.output !== undefined && flags.rewindNamespace !== DEFAULT_REWIND_NAMESPACE)
    words.push('--rewind-namespace', flags.rewindNamespace);
  return `kubectl rewind ${words.map(shellWord).join(' ')}`;
}

/** Follows `namespace/name` to its end (progress on stderr); returns it final. */
export async function follow(
  ctx: Context,
  namespace: string,
  name: string,
  since: number,
  o: FinishOptions,
): Promise<TraceSnapshot> {
  const kube = ctx.kube();
  try {
    return await followSnapshot({
      read: () => readSnapshot(kube, namespace, name),
      out: ctx.err,
      now: ctx.now,
      sleep: abortableSleep,
      intervalMs: POLL_INTERVAL_MS,
      signal: ctx.signal,
      since,
    });
  } catch (e) {
    if (ctx.signal.aborted)
      throw new CliError(
        `stopped following; ${namespace}/${name} keeps running in the cluster. Follow it again: ${resumeHint(namespace, name, o, ctx.flags)}`,
        EXIT_INTERRUPTED,
      );
    throw e;
  }
}

/** Says how `s` ended; throws for Failed. */
export function reportEnd(ctx: Context, s: TraceSnapshot): void {
  const key = `${s.metadata.namespace}/${s.metadata.name}`;
  const phase = s.status?.phase;
  const failed = failedNodes(s);
  if (phase === 'Failed') {
    const why = s.status?.conditions?.find((c) => c.type === 'Ready')?.message;
    // A failure of every node already names each in its message: said once.
    const unsaid = failed.filter((f) => !why?.includes(f));
    throw new CliError(
      `snapshot ${key} failed${why ? `: ${why}` : ''}${unsaid.length ? ` — ${unsaid.join('; ')}` : ''}`,
    );
  }
  if (phase === 'PartiallyFailed')
    ctx.err.write(`warning: ${key} is missing ${failed.length} node(s): ${failed.join('; ')}\n`);
  const st = s.status;
  ctx.out.write(
    `${key} ${phase}: ${st?.nodesSucceeded ?? 0}/${st?.nodeCount ?? 0} nodes, ` +
      `${totalEvents(s) ?? 0} events, ${humanBytes(st?.trace?.sizeBytes ?? 0)}\n`,
  );
}

/** Downloads a final snapshot's trace into `output` and prints how to open it. */
export async function downloadTo(
  ctx: Context,
  s: TraceSnapshot,
  output: string,
  force: boolean,
): Promise<void> {
  const { namespace, name } = s.metadata;
  const controller = await ctx.controller();
  try {
    let got: Unpacked;
    try {
      const res = await controller.get(`/v1/snapshots/${namespace}/${name}`, ctx.signal);
      if (res.statusCode !== 200)
        throw await controllerFailure(res, `give you the trace of ${namespace}/${name}`);
      got = await unpackInto(res, output, force);
    } catch (e) {
      if (!ctx.signal.aborted) throw e;
      throw new CliError(
        `download stopped; nothing was written to ${output}. ${namespace}/${name} stays on the ` +
          `controller: ${resumeHint(namespace, name, { output }, ctx.flags)}`,
        EXIT_INTERRUPTED,
      );
    }
    ctx.out.write(
      `trace of ${namespace}/${name} in ${got.dir} (${got.files} files, ${humanBytes(got.bytes)}). Open it:\n` +
        `  babeltrace2 ${shellWord(`${got.dir}/trace`)} | less        # every node on one timeline (Trace Compass opens the same folder)\n` +
        `  https://ui.perfetto.dev → "Open trace file" → ${got.dir}/trace.json\n`,
    );
  } finally {
    await controller.close();
  }
}

/** Follows if asked and needed, reports the end, downloads with `-o`. */
export async function finish(
  ctx: Context,
  s: TraceSnapshot,
  since: number,
  o: FinishOptions & { wait: boolean },
): Promise<void> {
  const final =
    isFinal(s) || !o.wait ? s : await follow(ctx, s.metadata.namespace, s.metadata.name, since, o);
  if (!isFinal(final)) {
    throw new CliError(
      `${final.metadata.namespace}/${final.metadata.name} is ${final.status?.phase ?? 'Pending'}: ` +
        `not finished yet (--wait follows it to the end)`,
    );
  }
  reportEnd(ctx, final);
  if (o.output !== undefined) await downloadTo(ctx, final, o.output, o.force ?? false);
}
