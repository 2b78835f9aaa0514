/**
 * What the commands print (pure): kubectl-style tables (upper-case headers, columns padded, three
 * spaces apart), ages as kubectl shows them, sizes in binary units, and the lines a person reads
 * about one snapshot. Nothing here does I/O; the clock is a parameter.
 */
import type { NodeStatus, TraceSnapshot } from '../controller/model';
import { LABEL_TRIGGER } from '../controller/model';
// The controller's own rendering of a selector (as `kubectl -l` writes it), for its messages too.
import { selectorText } from '../controller/reconcile/targets';

/** Renders rows under headers, each column as wide as its widest cell. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** A block of lines shifted two spaces right, as kubectl describe nests tables. */
const indent = (block: string): string => block.replace(/^(?=.)/gm, '  ');

/** kubectl's HumanDuration (apimachinery/pkg/util/duration): `45s`, `5m30s`, `3h`, `2d4h`. */
export function humanDuration(ms: number): string {
  // Like kubectl, up to 2 s in the future is clock skew ("0s"); further is "<invalid>".
  if (Math.trunc(ms / 1000) < -1) return '<invalid>';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (h < 24 * 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  const y = Math.floor(d / 365);
  return y < 8 && d % 365 !== 0 ? `${y}y${d % 365}d` : `${y}y`;
}

/** `0 B`, `512 B`, `1.5 KiB`, `12 MiB`, `1.5 GiB`: two or three significant digits. */
export function humanBytes(n: number | undefined): string {
  if (n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  // 1023.5 and up would round to `1024 KiB`: the next unit says it as `1.0 MiB`.
  while (v >= 1023.5 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/** `1.234 ms`, `87 µs`, `2.000 s` for a duration in ns (signed when `signed`). */
export function humanNs(ns: number | undefined, signed = false): string {
  if (ns === undefined) return '';
  const sign = signed ? (ns < 0 ? '-' : '+') : ns < 0 ? '-' : '';
  const a = Math.abs(ns);
  // The thresholds are where the smaller unit would round up to 1000 (`1000 µs`).
  if (a >= 999_999_500) return `${sign}${(a / 1e9).toFixed(3)} s`;
  if (a >= 999_500) return `${sign}${(a / 1e6).toFixed(3)} ms`;
  if (a >= 1e3) return `${sign}${Math.round(a / 1e3)} µs`;
  return `${sign}${a} ns`;
}

export const age = (iso: string | undefined, now: number): string =>
  iso ? humanDuration(now - Date.parse(iso)) : '<unknown>';

export const totalEvents = (s: TraceSnapshot): number | undefined => {
  const nodes = s.status?.nodes;
  if (!nodes?.some((n) => n.events !== undefined)) return undefined;
  return nodes.reduce((sum, n) => sum + (n.events ?? 0), 0);
};

const trigger = (s: TraceSnapshot) => s.metadata.labels?.[LABEL_TRIGGER] ?? 'manual';

const nodesCell = (s: TraceSnapshot): string => {
  const st = s.status;
  if (st?.nodeCount === undefined) return '';
  return `${st.nodesSucceeded ?? 0}/${st.nodeCount}`;
};

/** The target as a person reads it: `nodes a, b`, `nodes with role=db`, `pods app=web in shop`. */
export function describeTarget(s: TraceSnapshot): string {
  const t = s.spec.target;
  if (t.nodeNames) return `nodes ${t.nodeNames.join(', ')}`;
  if (t.nodeSelector) return `nodes with ${selectorText(t.nodeSelector)}`;
  if (t.pods) return `nodes of pods ${selectorText(t.pods.labelSelector)} in ${t.pods.namespace}`;
  if (t.allNodes) return 'all nodes';
  return '';
}

export interface ListOptions {
  wide: boolean;
  allNamespaces: boolean;
  now: number;
}

/** `kubectl rewind list`. */
export function snapshotTable(items: readonly TraceSnapshot[], o: ListOptions): string {
  const headers = [
    ...(o.allNamespaces ? ['NAMESPACE'] : []),
    'NAME',
    'PHASE',
    'TRIGGER',
    'NODES',
    'EVENTS',
    'SIZE',
    'AGE',
    ...(o.wide ? ['WINDOW', 'TARGET', 'REASON'] : []),
  ];
  const rows = items.map((s) => [
    ...(o.allNamespaces ? [s.metadata.namespace] : []),
    s.metadata.name,
    s.status?.phase ?? 'Pending',
    trigger(s),
    nodesCell(s),
    totalEvents(s)?.toString() ?? '',
    humanBytes(s.status?.trace?.sizeBytes),
    age(s.metadata.creationTimestamp, o.now),
    ...(o.wide
      ? [
          `${s.spec.windowSeconds}s`,
          describeTarget(s),
          (s.spec.reason ?? '').replace(/\s+/g, ' ').slice(0, 60),
        ]
      : []),
  ]);
  return table(headers, rows);
}

const nodeRow = (n: NodeStatus): string[] => [
  n.name,
  n.phase,
  n.events?.toString() ?? '',
  n.lostEvents?.toString() ?? '',
  humanBytes(n.bytes),
  humanNs(n.clockOffsetNs, true),
  n.clockUncertaintyNs !== undefined ? `±${humanNs(n.clockUncertaintyNs)}` : '',
  n.error ?? '',
];

/** `kubectl rewind get NAME`: the snapshot in kubectl-describe's manner. */
export function describeSnapshot(s: TraceSnapshot, now: number): string {
  const st = s.status ?? {};
  const field = (k: string, v: string | undefined) => (v ? `${`${k}:`.padEnd(14)}${v}\n` : '');
  let out =
    field('Name', s.metadata.name) +
    field('Namespace', s.metadata.namespace) +
    field('Phase', st.phase ?? 'Pending') +
    field('Trigger', trigger(s)) +
    field('Reason', s.spec.reason) +
    field('Target', describeTarget(s)) +
    field('Window', `${s.spec.windowSeconds}s`) +
    field(
      'Created',
      s.metadata.creationTimestamp &&
        `${s.metadata.creationTimestamp} (${age(s.metadata.creationTimestamp, now)} ago)`,
    ) +
    field('Finished', st.completionTime) +
    field('Nodes', nodesCell(s) && `${nodesCell(s)} collected`) +
    field('Events', totalEvents(s)?.toString());
  if (st.progress && !st.completionTime)
    out += field(
      'Progress',
      `${st.progress.nodesDone}/${st.progress.nodesTotal} nodes, ${humanBytes(st.progress.bytes)}`,
    );
  if (st.trace)
    out += field(
      'Trace',
      [
        humanBytes(st.trace.sizeBytes),
        st.trace.startTime && st.trace.endTime ? `${st.trace.startTime} → ${st.trace.endTime}` : '',
        st.trace.trimmedToBudget ? '(start trimmed to the byte budget)' : '',
      ]
        .filter(Boolean)
        .join(', '),
    );
  const uncertainties = (st.nodes ?? [])
    .map((n) => n.clockUncertaintyNs)
    .filter((u): u is number => u !== undefined);
  if (uncertainties.length)
    out += field('Clock', `aligned within ±${humanNs(Math.max(...uncertainties))} (worst node)`);
  if (st.nodes?.length) {
    out += 'Node results:\n';
    out += indent(
      table(
        ['NODE', 'PHASE', 'EVENTS', 'LOST', 'BYTES', 'CLOCK OFFSET', 'UNCERTAINTY', 'ERROR'],
        st.nodes.map(nodeRow),
      ),
    );
  }
  if (st.conditions?.length) {
    out += 'Conditions:\n';
    out += indent(
      table(
        ['TYPE', 'STATUS', 'REASON', 'MESSAGE'],
        st.conditions.map((c) => [c.type, c.status, c.reason, c.message]),
      ),
    );
  }
  return out;
}

/** Why each failed node failed, one line each (for a Failed or PartiallyFailed snapshot). */
export function failedNodes(s: TraceSnapshot): string[] {
  return (s.status?.nodes ?? [])
    .filter((n) => n.phase === 'Failed')
    .map((n) => `${n.name}: ${n.error ?? 'failed'}`);
}
