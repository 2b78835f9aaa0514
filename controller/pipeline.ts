/**
 * The snapshot pipeline (reconcile/pipeline.ts's contract): collect every planned node
 * (collect/), name the pods of each node's cgroups (naming/), merge the nodes onto the
 * controller's clock within the requested window and the byte budget (native/), and store the
 * unified trace, its Chrome JSON and the snapshot's manifest (storage/). The reconciler and the
 * standalone runner both drive it; it never writes a TraceSnapshot itself.
 *
 * What is on disk, in order: `nodes/<node>/` as each node arrives, `nodes/collected.json` once
 * every node is done (the collection's result with its clock alignments: what a restarted
 * controller resumes a merge from), then `trace/` and `trace.json` (staged and renamed in by the
 * merge), then `manifest.json` last — its presence means "finished" to the store — and `nodes/`
 * is removed.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mergeTraces, type TraceSummary } from '../native';
import { collectAll, type CollectAllDeps } from './collect/collect-all';
import type { CollectedNode } from './collect/collect-node';
import type { ControllerMetrics } from './metrics';
import {
  LABEL_TRIGGER,
  type AgentManifest,
  type NodeCollection,
  type PodName,
  type TraceSnapshot,
} from './model';
import { cgroupNames, podNamesOption, type PodLookup } from './naming/cgroup-names';
import type { MergeResult, SnapshotPipeline, SnapshotProgress } from './reconcile/pipeline';
import { windowForBudget } from './storage/budget';
import { snapshotLayout, type SnapshotLayout } from './storage/layout';
import { sizeOnDisk, type SnapshotStore } from './storage/store';

export const SNAPSHOT_MANIFEST_VERSION = 1;
const COLLECTED = 'collected.json';

export interface PipelineOptions {
  dataDir: string;
  concurrency: number;
  perNodeTimeoutMs: number;
  clockExchanges: number;
  /** Most bytes a snapshot stores (each node's download is capped at it too). */
  budgetBytes: number;
  controllerVersion: string;
}

export interface PipelineDeps {
  client: CollectAllDeps['client'];
  pods: PodLookup;
  store: SnapshotStore;
  metrics: ControllerMetrics;
}

const str = (v: bigint) => v.toString();

/** The collection as JSON (bigints as decimal strings), and back. */
function collectedToJson(nodes: NodeCollection[]): string {
  return JSON.stringify(
    nodes.map((n) => ({
      ...n,
      clock: n.clock && {
        offsetNs: str(n.clock.offsetNs),
        uncertaintyNs: str(n.clock.uncertaintyNs),
        correctionNs: str(n.clock.correctionNs),
        exchanges: n.clock.exchanges,
      },
    })),
  );
}

function collectedFromJson(text: string): NodeCollection[] {
  const raw = JSON.parse(text) as (NodeCollection & {
    clock?: { offsetNs: string; uncertaintyNs: string; correctionNs: string; exchanges: number };
  })[];
  return raw.map((n) => ({
    ...n,
    clock: n.clock && {
      offsetNs: BigInt(n.clock.offsetNs),
      uncertaintyNs: BigInt(n.clock.uncertaintyNs),
      correctionNs: BigInt(n.clock.correctionNs),
      exchanges: n.clock.exchanges,
    },
  })) as NodeCollection[];
}

type Collected = Extract<NodeCollection, { ok: true }>;

/** The instant a node's agent took its snapshot, on the controller's clock (Unix ns). */
function requestedAt(n: Collected): bigint {
  return (
    BigInt(n.manifest.clock.requestedAtMonotonicNs) +
    BigInt(n.manifest.clock.offsetNs) +
    n.clock.correctionNs
  );
}

function iso(ns: bigint): string | undefined {
  return ns > 0n ? new Date(Number(ns / 1_000_000n)).toISOString() : undefined;
}

export function snapshotPipeline(options: PipelineOptions, deps: PipelineDeps): SnapshotPipeline {
  const layoutOf = (s: TraceSnapshot): SnapshotLayout =>
    snapshotLayout(options.dataDir, s.metadata.namespace, s.metadata.name);

  async function merge(
    s: TraceSnapshot,
    collected: NodeCollection[],
    signal: AbortSignal,
  ): Promise<MergeResult> {
    const layout = layoutOf(s);
    const ok = collected.filter((n): n is Collected => n.ok);
    if (ok.length === 0) throw new Error('no node was collected: nothing to merge');
    signal.throwIfAborted();
    const podNames: Record<string, Record<string, PodName>> = {};
    const naming: Record<string, { named: number; unnamed: number; unknownPodUids: string[] }> = {};
    for (const n of ok) {
      const names = cgroupNames(n.manifest.containers.cgroups, deps.pods);
      podNames[n.node] = podNamesOption(names.names);
      naming[n.node] = {
        named: names.named,
        unnamed: names.unnamed,
        unknownPodUids: names.unknownPodUids,
      };
    }
    const inputs = ok.map((n) => ({
      dir: n.traceDir,
      node: n.node,
      correctionNs: n.clock.correctionNs,
    }));
    const toNs = ok.map(requestedAt).reduce((a, b) => (a > b ? a : b));
    const fromNs = toNs - BigInt(s.spec.windowSeconds) * 1_000_000_000n;
    // The window's end is the request, but each node's trace ends with the snapshot's own
    // statedump, taken just after it: it names every live thread and its cgroup (pods), so
    // nothing after `fromNs` is cut.
    const run = (from: bigint) =>
      mergeTraces(inputs, {
        out: layout.trace,
        chrome: layout.chrome,
        // A merge resumed after a restart may find its own earlier output: replace it whole.
        force: true,
        fromNs: from,
        podNames,
      });
    let summary: TraceSummary = await run(fromNs);
    let window = { fromNs, trimmed: false };
    let size = (await sizeOnDisk(layout.trace)) + (await sizeOnDisk(layout.chrome));
    if (size > options.budgetBytes) {
      window = windowForBudget({
        nodeBytes: [size],
        fromNs,
        toNs,
        budgetBytes: options.budgetBytes,
      });
      signal.throwIfAborted();
      summary = await run(window.fromNs);
      size = (await sizeOnDisk(layout.trace)) + (await sizeOnDisk(layout.chrome));
    }

    const byNode = new Map(summary.nodes.map((n) => [n.name, n]));
    const manifest = {
      manifestVersion: SNAPSHOT_MANIFEST_VERSION,
      snapshot: { namespace: s.metadata.namespace, name: s.metadata.name, uid: s.metadata.uid },
      trigger: {
        kind: s.metadata.labels?.[LABEL_TRIGGER] ?? 'manual',
        reason: s.spec.reason ?? null,
        labels: s.metadata.labels ?? {},
        annotations: s.metadata.annotations ?? {},
      },
      controllerVersion: options.controllerVersion,
      window: {
        seconds: s.spec.windowSeconds,
        fromNs: str(window.fromNs),
        toNs: str(toNs),
        trimmedToBudget: window.trimmed,
        budgetBytes: options.budgetBytes,
      },
      events: summary.events,
      firstNs: str(summary.firstNs),
      lastNs: str(summary.lastNs),
      sizeBytes: size,
      nodes: collected.map((n) => {
        const sum = byNode.get(n.node);
        const base = {
          node: n.node,
          ok: n.ok,
          bytesCollected: n.bytes,
          clock: n.clock && {
            offsetNs: str(n.clock.offsetNs),
            uncertaintyNs: str(n.clock.uncertaintyNs),
            correctionNs: str(n.clock.correctionNs),
            exchanges: n.clock.exchanges,
          },
        };
        if (!n.ok) return { ...base, error: n.error };
        const m: AgentManifest = n.manifest;
        return {
          ...base,
          kernelRelease: m.kernelRelease,
          bootId: m.bootId,
          traceUuid: m.traceUuid,
          events: sum?.events ?? 0,
          lostEvents: sum?.lostEvents ?? 0,
          lostPackets: sum?.lostPackets ?? 0,
          damagedPackets: sum?.damagedPackets ?? 0,
          eventsByType: sum?.eventsByType ?? {},
          processPodEvents: sum?.podEvents ?? 0,
          pods: naming[n.node],
        };
      }),
    };
    // Written last, under a temporary name: a manifest present means a finished snapshot.
    const tmp = `${layout.manifest}.tmp-${process.pid}`;
    await writeFile(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
    await rename(tmp, layout.manifest);
    await rm(layout.nodes, { recursive: true, force: true });
    const total = await deps.store.totalBytes();
    deps.metrics.storedBytes(total);
    return {
      location: layout.root,
      sizeBytes: size,
      startTime: iso(summary.firstNs),
      endTime: iso(summary.lastNs),
      trimmedToBudget: window.trimmed,
      nodes: ok.map((n) => ({
        node: n.node,
        events: byNode.get(n.node)?.events ?? 0,
        lostEvents: byNode.get(n.node)?.lostEvents ?? 0,
      })),
    };
  }

  return {
    async collect(s, plans, onProgress: (p: SnapshotProgress) => void, signal) {
      const layout = layoutOf(s);
      // A collection starts clean: nothing of an earlier, interrupted one is reused.
      await rm(layout.nodes, { recursive: true, force: true });
      await mkdir(layout.nodes, { recursive: true });
      const nodes: CollectedNode[] = await collectAll(
        plans,
        {
          concurrency: options.concurrency,
          perNodeTimeoutMs: options.perNodeTimeoutMs,
          windowSeconds: s.spec.windowSeconds,
          byteBudget: options.budgetBytes,
          dir: layout.nodes,
          signal,
          clockExchanges: options.clockExchanges,
        },
        // Node failures and clock uncertainty are counted by the reconciler, once.
        { client: deps.client },
        onProgress,
      );
      await writeFile(join(layout.nodes, COLLECTED), collectedToJson(nodes));
      return nodes;
    },

    merge,

    async collectedOnDisk(s) {
      try {
        return collectedFromJson(await readFile(join(layoutOf(s).nodes, COLLECTED), 'utf8'));
      } catch {
        return undefined;
      }
    },

    async deleteData(s) {
      await deps.store.delete(s.metadata.namespace, s.metadata.name);
      deps.metrics.storedBytes(await deps.store.totalBytes());
    },
  };
}
