/**
 * What the plugin prints (kubectl-rewind/format.ts, pure): kubectl-style tables, ages exactly as
 * kubectl shows them (apimachinery's own HumanDuration test table), sizes and durations, the
 * `list` table in its three forms, `get`'s description of a Complete and a PartiallyFailed
 * snapshot, and the per-node reasons of a failure.
 */
import type { Condition, NodeStatus } from '../../controller/model';
import {
  describeSnapshot,
  failedNodes,
  humanBytes,
  humanDuration,
  humanNs,
  snapshotTable,
  table,
} from '../../kubectl-rewind/format';
import { ago, NOW, snapshot } from './snapshot-fixtures';

describe('table', () => {
  it('pads every column to its widest cell, three spaces apart, the last one unpadded', () => {
    expect(
      table(
        ['NAME', 'PHASE', 'AGE'],
        [
          ['a', 'Complete', '5s'],
          ['longer-name', 'Failed', '10m'],
        ],
      ),
    ).toBe(
      'NAME          PHASE      AGE\n' +
        'a             Complete   5s\n' +
        'longer-name   Failed     10m\n',
    );
  });

  it('trims the trailing blanks of empty last cells; headers alone are one line', () => {
    expect(table(['A', 'B'], [['x', '']])).toBe('A   B\nx\n');
    expect(table(['A', 'LONG'], [])).toBe('A   LONG\n');
  });
});

describe('humanDuration: apimachinery pkg/util/duration', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  const y = 365 * d;
  // duration_test.go's TestHumanDuration and TestHumanDurationBoundaries (kubernetes/kubernetes,
  // staging/src/k8s.io/apimachinery/pkg/util/duration), in milliseconds.
  it.each([
    [s, '1s'],
    [70 * s, '70s'],
    [190 * s, '3m10s'],
    [70 * m, '70m'],
    [47 * h, '47h'],
    [49 * h, '2d1h'],
    [(8 * 24 + 2) * h, '8d'],
    [367 * d, '367d'],
    [(365 * 2 * 24 + 25) * h, '2y1d'],
    [(365 * 8 * 24 + 2) * h, '8y'],
    [-2 * s, '<invalid>'],
    [-2 * s + 1, '0s'], // -2s+1ns in Go; -1.999 s here
    [0, '0s'],
    [s - 1, '0s'],
    [2 * m - 1, '119s'],
    [2 * m, '2m'],
    [2 * m + s, '2m1s'],
    [10 * m - 1, '9m59s'],
    [10 * m, '10m'],
    [10 * m + s, '10m'],
    [3 * h - 1, '179m'],
    [3 * h, '3h'],
    [3 * h + m, '3h1m'],
    [8 * h - 1, '7h59m'],
    [8 * h, '8h'],
    [8 * h + 59 * m, '8h'],
    [2 * d - 1, '47h'],
    [2 * d, '2d'],
    [2 * d + h, '2d1h'],
    [8 * d - 1, '7d23h'],
    [8 * d, '8d'],
    [8 * d + 23 * h, '8d'],
    [2 * y - 1, '729d'],
    [2 * y, '2y'],
    [2 * y + 23 * h, '2y'],
    [2 * y + 23 * h + 59 * m, '2y'],
    [2 * y + d - 1, '2y'],
    [2 * y + d, '2y1d'],
    [3 * y, '3y'],
    [7 * y, '7y'],
    [8 * y - 1, '7y364d'],
    [8 * y, '8y'],
    [8 * y + 364 * d, '8y'],
    [9 * y, '9y'],
  ])('%d ms is %s', (ms, want) => {
    expect(humanDuration(ms)).toBe(want);
  });
});

describe('humanBytes', () => {
  it.each([
    [undefined, ''],
    [0, '0 B'],
    [512, '512 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [10 * 1024 - 1, '10.0 KiB'],
    [10 * 1024, '10 KiB'],
    [12.3 * 1024, '12 KiB'],
    [1024 * 1024 - 1, '1.0 MiB'],
    [1024 * 1024, '1.0 MiB'],
    [1.5 * 1024 ** 3, '1.5 GiB'],
    [5 * 1024 ** 4, '5.0 TiB'],
    [2048 * 1024 ** 4, '2048 TiB'],
  ])('%p is %j', (n, want) => {
    expect(humanBytes(n)).toBe(want);
  });
});

describe('humanNs', () => {
  it.each([
    [undefined, false, ''],
    [0, false, '0 ns'],
    [999, false, '999 ns'],
    [1000, false, '1 µs'],
    [87_000, false, '87 µs'],
    [999_499, false, '999 µs'],
    [999_500, false, '1.000 ms'],
    [1_234_567, false, '1.235 ms'],
    [999_999_499, false, '999.999 ms'],
    [999_999_500, false, '1.000 s'],
    [2e9, false, '2.000 s'],
    [-87_000, false, '-87 µs'],
    [1_234_567, true, '+1.235 ms'],
    [-1_234_567, true, '-1.235 ms'],
    [0, true, '+0 ns'],
  ])('%p (signed %p) is %j', (ns, signed, want) => {
    expect(humanNs(ns, signed)).toBe(want);
  });
});

const nodeA: NodeStatus = {
  name: 'node-a',
  phase: 'Collected',
  bytes: 3 * 1024 * 1024,
  events: 1000,
  lostEvents: 0,
  clockOffsetNs: 1_234_567,
  clockUncertaintyNs: 250_000,
};
const nodeB: NodeStatus = {
  name: 'node-b',
  phase: 'Collected',
  bytes: 512,
  events: 234,
  lostEvents: 7,
  clockOffsetNs: -87_000,
  clockUncertaintyNs: 1_500_000,
};
const cond = (type: string, status: Condition['status'], reason: string, message: string) =>
  ({ type, status, reason, message, lastTransitionTime: ago(10) }) satisfies Condition;

const complete = snapshot({
  name: 'manual-x7k2p',
  trigger: 'manual',
  created: ago(45),
  spec: { target: { nodeNames: ['node-a', 'node-b'] }, windowSeconds: 30, reason: 'p99 spike' },
  status: {
    phase: 'Complete',
    startTime: ago(44),
    completionTime: ago(30),
    nodeCount: 2,
    nodesSucceeded: 2,
    progress: { nodesDone: 2, nodesTotal: 2, bytes: 3 * 1024 * 1024 + 512 },
    nodes: [nodeA, nodeB],
    trace: {
      location: '/data/default/manual-x7k2p/trace',
      sizeBytes: 1536 * 1024,
      startTime: '2025-03-01T11:58:45Z',
      endTime: '2025-03-01T11:59:15Z',
      trimmedToBudget: false,
    },
    conditions: [
      cond('Collected', 'True', 'AllNodesCollected', '2/2 node(s) collected'),
      cond('Ready', 'True', 'Complete', '2 node(s) merged into /data/default/manual-x7k2p/trace'),
    ],
  },
});

const partial = snapshot({
  name: 'high-load-abcde',
  namespace: 'shop',
  trigger: 'alert',
  created: ago(3 * 3600),
  spec: {
    target: {
      nodeSelector: {
        matchLabels: { role: 'db' },
        matchExpressions: [
          { key: 'zone', operator: 'In', values: ['a', 'b'] },
          { key: 'spot', operator: 'DoesNotExist' },
        ],
      },
    },
    windowSeconds: 10,
  },
  status: {
    phase: 'PartiallyFailed',
    completionTime: ago(3 * 3600 - 20),
    nodeCount: 3,
    nodesSucceeded: 2,
    nodes: [
      nodeA,
      {
        name: 'node-c',
        phase: 'Failed',
        error: 'agent unreachable: connect ECONNREFUSED 10.0.0.3:9401',
      },
      nodeB,
    ],
    trace: { sizeBytes: 900, trimmedToBudget: true },
    conditions: [
      cond('Collected', 'True', 'SomeNodesFailed', '2/3 node(s) collected'),
      cond('Ready', 'True', 'PartiallyFailed', '2/3 node(s) merged into /data/x; failed: node-c'),
    ],
  },
});

const pending = snapshot({ name: 'fresh', spec: { target: { allNodes: true } } });
const collecting = snapshot({
  name: 'busy',
  created: ago(5),
  spec: { target: { pods: { namespace: 'shop', labelSelector: { matchLabels: { app: 'web' } } } } },
  status: {
    phase: 'Collecting',
    nodeCount: 3,
    progress: { nodesDone: 1, nodesTotal: 3, bytes: 12 * 1024 * 1024 },
  },
});

/** The cells of each data line, cut at the header's column starts (alignment checked too). */
function columns(text: string): { headers: string[]; rows: Record<string, string>[] } {
  const lines = text.split('\n');
  expect(lines.pop()).toBe('');
  const header = lines[0] as string;
  const starts = [...header.matchAll(/\S+(?: \S+)*/g)].map((x) => x.index);
  const headers = [...header.matchAll(/\S+(?: \S+)*/g)].map((x) => x[0]);
  const rows = lines.slice(1).map((line) => {
    const row: Record<string, string> = {};
    starts.forEach((start, i) => {
      // Every column begins after a gap of at least three spaces (or at the line's start).
      if (start > 0 && line.length > start) expect(line.slice(start - 3, start)).toBe('   ');
      row[headers[i] as string] = line.slice(start, starts[i + 1] ?? line.length).trim();
    });
    return row;
  });
  return { headers, rows };
}

describe('snapshotTable', () => {
  const items = [complete, partial, collecting, pending];

  it('lists name, phase, trigger, nodes, events, size and age, aligned', () => {
    const { headers, rows } = columns(
      snapshotTable(items, { wide: false, allNamespaces: false, now: NOW }),
    );
    expect(headers).toEqual(['NAME', 'PHASE', 'TRIGGER', 'NODES', 'EVENTS', 'SIZE', 'AGE']);
    expect(rows).toEqual([
      {
        NAME: 'manual-x7k2p',
        PHASE: 'Complete',
        TRIGGER: 'manual',
        NODES: '2/2',
        EVENTS: '1234',
        SIZE: '1.5 MiB',
        AGE: '45s',
      },
      {
        NAME: 'high-load-abcde',
        PHASE: 'PartiallyFailed',
        TRIGGER: 'alert',
        NODES: '2/3',
        EVENTS: '1234',
        SIZE: '900 B',
        AGE: '3h',
      },
      {
        NAME: 'busy',
        PHASE: 'Collecting',
        TRIGGER: 'manual',
        NODES: '0/3',
        EVENTS: '',
        SIZE: '',
        AGE: '5s',
      },
      {
        NAME: 'fresh',
        PHASE: 'Pending',
        TRIGGER: 'manual',
        NODES: '',
        EVENTS: '',
        SIZE: '',
        AGE: '<unknown>',
      },
    ]);
  });

  it('-A adds the namespace first', () => {
    const { headers, rows } = columns(
      snapshotTable(items, { wide: false, allNamespaces: true, now: NOW }),
    );
    expect(headers[0]).toBe('NAMESPACE');
    expect(rows.map((r) => [r.NAMESPACE, r.NAME])).toEqual([
      ['default', 'manual-x7k2p'],
      ['shop', 'high-load-abcde'],
      ['default', 'busy'],
      ['default', 'fresh'],
    ]);
  });

  it('wide adds the window, the target and the reason on one line', () => {
    const text = snapshotTable(items, { wide: true, allNamespaces: false, now: NOW });
    expect(text.split('\n')).toHaveLength(items.length + 2);
    const { headers, rows } = columns(text);
    expect(headers.slice(-3)).toEqual(['WINDOW', 'TARGET', 'REASON']);
    expect(rows.map((r) => [r.WINDOW, r.TARGET, r.REASON])).toEqual([
      ['30s', 'nodes node-a, node-b', 'p99 spike'],
      ['10s', 'nodes with role=db,zone in (a,b),!spot', ''],
      ['10s', 'nodes of pods app=web in shop', ''],
      ['10s', 'all nodes', ''],
    ]);
  });

  it('keeps a reason on its line: blanks and line breaks folded, cut to 60 characters', () => {
    const folded = snapshot({ name: 'x', spec: { reason: 'p99\n  spike\tagain' } });
    expect(snapshotTable([folded], { wide: true, allNamespaces: false, now: NOW })).toMatch(
      / {3}p99 spike again\n$/,
    );
    const long = snapshot({ name: 'x', spec: { reason: 'y'.repeat(100) } });
    expect(snapshotTable([long], { wide: true, allNamespaces: false, now: NOW })).toMatch(
      new RegExp(` {3}${'y'.repeat(60)}\n$`),
    );
  });
});

describe('describeSnapshot', () => {
  it('a Complete snapshot: fields, trace, the clock line, node rows, conditions', () => {
    const text = describeSnapshot(complete, NOW);
    const lines = text.split('\n');
    expect(lines.slice(0, 11)).toEqual([
      'Name:         manual-x7k2p',
      'Namespace:    default',
      'Phase:        Complete',
      'Trigger:      manual',
      'Reason:       p99 spike',
      'Target:       nodes node-a, node-b',
      'Window:       30s',
      `Created:      ${ago(45)} (45s ago)`,
      `Finished:     ${ago(30)}`,
      'Nodes:        2/2 collected',
      'Events:       1234',
    ]);
    expect(text).toContain('Trace:        1.5 MiB, 2025-03-01T11:58:45Z → 2025-03-01T11:59:15Z\n');
    // Finished: no progress line.
    expect(text).not.toContain('Progress:');
    expect(text).toContain('Clock:        aligned within ±1.500 ms (worst node)\n');
    const nodeSection = text.slice(text.indexOf('Node results:\n'), text.indexOf('Conditions:'));
    const { headers, rows } = columns(
      nodeSection
        .split('\n')
        .slice(1)
        .map((l) => l.replace(/^ {2}/, ''))
        .join('\n'),
    );
    expect(headers).toEqual([
      'NODE',
      'PHASE',
      'EVENTS',
      'LOST',
      'BYTES',
      'CLOCK OFFSET',
      'UNCERTAINTY',
      'ERROR',
    ]);
    expect(rows).toEqual([
      {
        NODE: 'node-a',
        PHASE: 'Collected',
        EVENTS: '1000',
        LOST: '0',
        BYTES: '3.0 MiB',
        'CLOCK OFFSET': '+1.235 ms',
        UNCERTAINTY: '±250 µs',
        ERROR: '',
      },
      {
        NODE: 'node-b',
        PHASE: 'Collected',
        EVENTS: '234',
        LOST: '7',
        BYTES: '512 B',
        'CLOCK OFFSET': '-87 µs',
        UNCERTAINTY: '±1.500 ms',
        ERROR: '',
      },
    ]);
    expect(text).toMatch(/\nConditions:\n {2}TYPE {3,}STATUS {3,}REASON {3,}MESSAGE\n/);
    expect(text).toMatch(/\n {2}Collected +True +AllNodesCollected +2\/2 node\(s\) collected\n/);
    expect(text).toMatch(/\n {2}Ready +True +Complete +2 node\(s\) merged into \S+\n$/);
  });

  it('a PartiallyFailed snapshot: the failed node with its error, the trimmed trace', () => {
    const text = describeSnapshot(partial, NOW);
    expect(text).toContain('Namespace:    shop\n');
    expect(text).toContain('Phase:        PartiallyFailed\n');
    expect(text).toContain('Trigger:      alert\n');
    expect(text).not.toContain('Reason:');
    expect(text).toContain('Target:       nodes with role=db,zone in (a,b),!spot\n');
    expect(text).toContain(`Created:      ${ago(3 * 3600)} (3h ago)\n`);
    expect(text).toContain('Nodes:        2/3 collected\n');
    expect(text).toContain('Trace:        900 B, (start trimmed to the byte budget)\n');
    // The failed node has no clock: the worst of the others.
    expect(text).toContain('Clock:        aligned within ±1.500 ms (worst node)\n');
    expect(text).toMatch(
      /\n {2}node-c +Failed {3,}agent unreachable: connect ECONNREFUSED 10\.0\.0\.3:9401\n/,
    );
    expect(text).toMatch(
      /\n {2}Ready +True +PartiallyFailed +2\/3 node\(s\) merged .*failed: node-c\n/,
    );
  });

  it('a snapshot still collecting shows its progress; a new one is Pending with no sections', () => {
    expect(describeSnapshot(collecting, NOW)).toContain('Progress:     1/3 nodes, 12 MiB\n');
    const fresh = describeSnapshot(pending, NOW);
    expect(fresh).toBe(
      'Name:         fresh\n' +
        'Namespace:    default\n' +
        'Phase:        Pending\n' +
        'Trigger:      manual\n' +
        'Target:       all nodes\n' +
        'Window:       10s\n',
    );
  });
});

describe('failedNodes', () => {
  it('one line per failed node, with its error or "failed"', () => {
    expect(failedNodes(partial)).toEqual([
      'node-c: agent unreachable: connect ECONNREFUSED 10.0.0.3:9401',
    ]);
    const failed = snapshot({
      name: 'f',
      status: {
        phase: 'Failed',
        nodes: [
          { name: 'x', phase: 'Failed', error: 'timed out after 60s' },
          { name: 'y', phase: 'Failed' },
          { name: 'z', phase: 'Collected' },
        ],
      },
    });
    expect(failedNodes(failed)).toEqual(['x: timed out after 60s', 'y: failed']);
    expect(failedNodes(complete)).toEqual([]);
    expect(failedNodes(pending)).toEqual([]);
  });
});
