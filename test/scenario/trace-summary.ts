/**
 * What the demo tells a person about a unified trace, read the way they would read it: by
 * babeltrace2 (`--clock-seconds --fields=trace:hostname`, which must say nothing on stderr) and
 * the manifest the controller wrote beside it. The pure part (summarizeLines) works on the text.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { pairSegments, parseSegments, skewEstimateNs } from './tcp-segments';

export interface TraceSummary {
  events: number;
  nodes: {
    node: string;
    events: number;
    /** From the node's first event to its last, in the merged trace. */
    windowSeconds: number;
    offsetMs: number;
    uncertaintyMs: number;
  }[];
  tcp: {
    client: string;
    server: string;
    there: number;
    back: number;
    minGapMs: number;
    maxGapMs: number;
    /** Pairs whose receive shows before its send (0 when the clocks are aligned). */
    reversed: number;
    /** The server's clock against the client's on the merged timeline (skewEstimateNs). */
    skewMs: number | undefined;
  };
  hog: { node: string; pod: string; tids: string[]; switchedIn: number };
  /** Distinct pods that process_pod events name. */
  podsNamed: number;
}

export interface SummaryQuestions {
  client: string;
  server: string;
  port: number;
  hog: { node: string; pod: string };
}

interface ManifestNode {
  node: string;
  clock: { offsetNs: string; uncertaintyNs: string };
}

const LINE = /^\[(\d+)\.(\d{9})\] \(\S+\) (\S+) (\w+):/;

/** The summary of babeltrace2's lines and the manifest's nodes (pure). */
export function summarizeLines(
  lines: readonly string[],
  manifestNodes: readonly ManifestNode[],
  q: SummaryQuestions,
): TraceSummary {
  const perNode = new Map<string, { events: number; first: number; last: number }>();
  const pods = new Set<string>();
  const hogTids = new Set<string>();
  for (const l of lines) {
    const m = LINE.exec(l);
    if (!m) continue;
    const t = Number(m[1]) + Number(m[2]) / 1e9;
    const host = m[3] as string;
    const n = perNode.get(host) ?? { events: 0, first: t, last: t };
    n.events++;
    n.last = t;
    perNode.set(host, n);
    if (m[4] === 'process_pod') {
      const pod = /\bnamespace = "([^"]*)", pod = "([^"]*)"/.exec(l);
      if (pod) pods.add(`${pod[1]}/${pod[2]}`);
      if (host === q.hog.node && pod?.[2] === q.hog.pod) {
        const tid = /\btid = (\d+)/.exec(l)?.[1];
        if (tid) hogTids.add(tid);
      }
    }
  }
  let switchedIn = 0;
  for (const l of lines)
    if (l.includes(` ${q.hog.node} sched_switch:`)) {
      const next = /\bnext_tid = (\d+)/.exec(l)?.[1];
      if (next && hogTids.has(next)) switchedIn++;
    }
  const segments = parseSegments(lines);
  const there = pairSegments(segments, q.client, q.server, q.port);
  const back = pairSegments(segments, q.server, q.client, q.port);
  const gaps = [...there, ...back].map((p) => Number(p.gapNs) / 1e6);
  return {
    events: lines.length,
    nodes: [...perNode.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([node, n]) => {
        const clock = manifestNodes.find((x) => x.node === node)?.clock;
        return {
          node,
          events: n.events,
          windowSeconds: n.last - n.first,
          offsetMs: Number(clock?.offsetNs ?? 0) / 1e6,
          uncertaintyMs: Number(clock?.uncertaintyNs ?? 0) / 1e6,
        };
      }),
    tcp: {
      client: q.client,
      server: q.server,
      there: there.length,
      back: back.length,
      minGapMs: gaps.length ? Math.min(...gaps) : 0,
      maxGapMs: gaps.length ? Math.max(...gaps) : 0,
      reversed: gaps.filter((g) => g <= 0).length,
      skewMs: (() => {
        const skew = skewEstimateNs(there, back);
        return skew === undefined ? undefined : Number(skew) / 1e6;
      })(),
    },
    hog: { ...q.hog, tids: [...hogTids], switchedIn },
    podsNamed: pods.size,
  };
}

/** babeltrace2's reading of a trace folder; its stderr must be empty. */
export function readTrace(dir: string): string[] {
  const bt = spawnSync('babeltrace2', ['--clock-seconds', '--fields=trace:hostname', dir], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  if (bt.status !== 0 || bt.stderr !== '')
    throw new Error(`babeltrace2 ${dir}: exit ${bt.status}: ${bt.stderr.trim().split('\n')[0]}`);
  return bt.stdout.split('\n').filter(Boolean);
}

export function summarizeTrace(dir: string, manifest: string, q: SummaryQuestions): TraceSummary {
  const nodes = (JSON.parse(readFileSync(manifest, 'utf8')) as { nodes: ManifestNode[] }).nodes;
  return summarizeLines(readTrace(dir), nodes, q);
}
