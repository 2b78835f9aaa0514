/**
 * Collecting one node: a few clock exchanges, the snapshot unpacked into `<dir>/<node>/` while
 * it streams in (never whole in memory), a few more clock exchanges, then the manifest read and
 * the clock alignment computed from all the exchanges. A busy agent (429) is asked again after
 * its Retry-After until the node's timeout. Every failure becomes a failed NodeCollection with its reason and
 * one line; the node's partial data is removed, so a merge never sees half a node.
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { oneLine } from '../../common/errors';
import type { NodeFailureReason } from '../metrics';
import type { ClockAlignment, NodeCollection } from '../model';
import type { AgentClient } from './agent-client';
import { alignClock, type TimedExchange } from './clock-alignment';
import { CollectError } from './errors';
import { parseAgentManifest } from './manifest';
import { ARCHIVE_MANIFEST, ARCHIVE_TRACE_DIR, DEFAULT_UNPACK_LIMITS, unpackSink } from './unpack';
import { abortableSleep, type Sleep } from '../../common/sleep';

/** A NodeCollection that says, when it failed, why in the metrics' terms. */
export type CollectedNode =
  | Extract<NodeCollection, { ok: true }>
  | (Extract<NodeCollection, { ok: false }> & { reason: NodeFailureReason });

export type { Sleep } from '../../common/sleep';

export interface CollectNodeOptions {
  /** The snapshot's folder of per-node data; this node's goes to `<dir>/<node>/`. */
  dir: string;
  /** Seconds of history asked of the agent (advisory; the merge cuts the window). */
  windowSeconds?: number;
  /** Bytes this node's archive may have at most ('over-budget' beyond). */
  byteCap?: number;
  /** GET /v1/clock exchanges before and again after the snapshot (default 5 each). */
  clockExchanges?: number;
  /** Samples the agent reads per exchange (default 8; it answers its best). */
  clockSamples?: number;
  /**
   * Times a busy agent (taking another snapshot) is asked again, after its Retry-After (at most
   * 30 s). Default: until the node's timeout aborts the collection — two snapshots of one node
   * at once are served one after the other, as the agent serializes them.
   */
  busyRetries?: number;
  sleep?: Sleep;
  signal: AbortSignal;
  /** This node's bytes received so far. */
  onBytes?: (bytes: number) => void;
}

/** A node's full name as a folder name: 1–253 of letters, digits, `.`, `-`, `_` (ARCHITECTURE.md). */
const NODE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/;

export async function collectNode(
  node: string,
  client: Pick<AgentClient, 'clock' | 'snapshot' | 'where'>,
  options: CollectNodeOptions,
): Promise<CollectedNode> {
  let bytes = 0;
  let clock: ClockAlignment | undefined;
  if (!NODE_NAME.test(node))
    return {
      node,
      ok: false,
      reason: 'other',
      bytes,
      error: `node name ${JSON.stringify(node)} is not a valid node name`,
    };
  const nodeDir = join(options.dir, node);
  try {
    const { signal } = options;
    const rounds = options.clockExchanges ?? 5;
    const exchanges: TimedExchange[] = [];
    const exchange = async () => {
      const x = await client.clock(options.clockSamples ?? 8, signal);
      if (x.answer.node !== node)
        throw new CollectError(
          'other',
          `agent ${client.where} answers as node ${JSON.stringify(x.answer.node)}, not ${JSON.stringify(node)}: check that the agent pod's IP belongs to that node`,
        );
      const best = x.answer.samples[x.answer.best] as (typeof x.answer.samples)[number];
      exchanges.push({
        sentNs: x.sentNs,
        receivedNs: x.receivedNs,
        monotonicNs: best.monotonicNs,
        realtimeNs: best.realtimeNs,
      });
    };
    for (let i = 0; i < rounds; i++) await exchange();

    // A fresh folder: a collection never mixes with what an earlier attempt left.
    await rm(nodeDir, { recursive: true, force: true });
    await mkdir(nodeDir, { recursive: true });
    const limits = {
      ...DEFAULT_UNPACK_LIMITS,
      maxBytes: options.byteCap ?? Number.MAX_SAFE_INTEGER,
    };
    const retries = options.busyRetries ?? Number.POSITIVE_INFINITY;
    for (let attempt = 0; ; attempt++) {
      const { sink } = unpackSink(nodeDir, client.where, limits);
      try {
        bytes = await client.snapshot(options.windowSeconds, sink, signal, {
          byteCap: options.byteCap,
          onBytes: (n) => {
            bytes = n;
            options.onBytes?.(n);
          },
        });
        break;
      } catch (e) {
        if (!(e instanceof CollectError) || e.reason !== 'busy' || attempt >= retries) throw e;
        sink.destroy();
        await (options.sleep ?? abortableSleep)(
          Math.min(30, Math.max(1, e.retryAfterSeconds ?? 2)) * 1000,
          signal,
        );
      }
    }

    // After the snapshot the data is here: an agent gone now costs precision, not the node.
    for (let i = 0; i < rounds; i++) {
      try {
        await exchange();
      } catch {
        break;
      }
    }
    const lacks = (what: string) =>
      new CollectError(
        'bad-archive',
        `the snapshot archive of ${client.where} lacks ${what}: check the agent's version and logs`,
      );
    const metadata = await stat(join(nodeDir, ARCHIVE_TRACE_DIR, 'metadata')).catch(
      () => undefined,
    );
    if (!metadata?.isFile()) throw lacks('trace/metadata');
    const manifestText = await readFile(join(nodeDir, ARCHIVE_MANIFEST), 'utf8').catch(() => {
      throw lacks(ARCHIVE_MANIFEST);
    });
    const manifest = parseAgentManifest(manifestText, node, client.where);
    clock = alignClock(exchanges, BigInt(manifest.clock.offsetNs));
    return {
      node,
      ok: true,
      traceDir: join(nodeDir, ARCHIVE_TRACE_DIR),
      manifest,
      bytes,
      clock,
    };
  } catch (e) {
    await rm(nodeDir, { recursive: true, force: true }).catch(() => undefined);
    const err =
      e instanceof CollectError
        ? e
        : options.signal.aborted && options.signal.reason instanceof CollectError
          ? options.signal.reason
          : new CollectError('other', `collecting ${node}: ${oneLine(e)}`);
    return { node, ok: false, reason: err.reason, error: err.message, bytes };
  }
}
