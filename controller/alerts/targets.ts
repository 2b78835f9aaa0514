/**
 * Which nodes an alert is about (pure): an alert's labels → what a TraceSnapshot should target,
 * and the union of a notification's alerts → one `SnapshotTarget`. Cluster facts (which node has
 * an address, where a pod runs) come from injected lookups, so this file never sees the API.
 *
 * The `scope` label (`rewind_scope`) comes first: `cluster` targets every node whatever the other
 * labels say — an alert about one node whose cause may be on another (a saturated node and the
 * clients calling into it) asks for the whole picture. `node`, no scope label, or any other value
 * follow the rules below: an alert is never refused or widened for a typo in its scope (a rule
 * someone wrote as `Cluster` or `nodes` still captures the node it names, and capturing the
 * named node is what an alert without the label would do). There is no logger here (pure), so a
 * value that is neither is not reported; the TraceSnapshot's alert annotation keeps it.
 *
 * Then, per alert, the first rule that names something wins:
 *   1. the `node` label: that node (when it is a valid node name);
 *   2. the `instance` label (`host`, `host:port`, `[v6]:port`): the node whose name or
 *      InternalIP is that host, through `nodeForInstance`; an instance that names no node (a
 *      scrape target inside a pod, kube-state-metrics' own address) falls through;
 *   3. `namespace` + `pod`: the node the pod runs or ran on (`podLocation`, which should answer
 *      for recently deleted pods too: a crash-looping pod is often gone when its alert arrives);
 *      a known pod not yet scheduled becomes a pods target with its labels (the nodes it lands
 *      on at collection time); an unknown pod becomes the pods target of its whole namespace —
 *      its replacement usually has another name, and a namespace is narrower than the cluster;
 *   4. nothing: every node (`noTargetPolicy: 'all-nodes'`) or no snapshot (`'skip'`).
 *
 * A notification's targets are united: node names together; pods targets of one namespace
 * together; any other mix (nodes and pods, two namespaces, all nodes) widens to every node,
 * because a SnapshotTarget holds one kind and capturing more is better than missing the node.
 */
import type { LabelSelector, SnapshotTarget } from '../model';

export interface TargetLabelNames {
  node: string;
  instance: string;
  namespace: string;
  pod: string;
  /** What to snapshot: `cluster` every node; `node` (or absent) what the labels above name. */
  scope: string;
}

export const DEFAULT_TARGET_LABELS: Readonly<TargetLabelNames> = Object.freeze({
  node: 'node',
  instance: 'instance',
  namespace: 'namespace',
  pod: 'pod',
  scope: 'rewind_scope',
});

/** The values of the scope label; any other is read as `node`. */
export const ALERT_SCOPES = ['node', 'cluster'] as const;
export type AlertScope = (typeof ALERT_SCOPES)[number];

export type NoTargetPolicy = 'all-nodes' | 'skip';

/** Where a pod is, as the controller's pod cache (with its tombstones) knows it. */
export interface PodLocation {
  /** `spec.nodeName`; absent while the pod is unscheduled. */
  nodeName?: string;
  labels?: Record<string, string>;
}

export interface TargetOptions {
  labels: TargetLabelNames;
  noTargetPolicy: NoTargetPolicy;
  /** The node whose name or InternalIP is `host` (port already stripped). */
  nodeForInstance: (host: string) => string | undefined;
  /** Where pod `namespace/name` runs or ran; undefined when unknown. */
  podLocation: (namespace: string, name: string) => PodLocation | undefined;
}

/** What one alert points at. */
export type AlertTarget =
  | { kind: 'nodes'; nodeNames: string[]; via: 'node' | 'instance' | 'pod' }
  | { kind: 'pods'; namespace: string; labelSelector?: LabelSelector }
  | { kind: 'all-nodes' }
  | { kind: 'none' };

/** The CRD's node-name pattern (a DNS-1123 subdomain), so a created object is never refused. */
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Label keys and values the CRD's selector schema accepts (values ≤ 63). */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** The CRD's nodeNames maxItems. */
export const MAX_NODE_NAMES = 5000;
const MAX_MATCH_LABELS = 64;

export function isNodeName(s: string): boolean {
  return s.length >= 1 && s.length <= 253 && NODE_NAME.test(s);
}

/** `host:port` → `host`; `[::1]:9100` → `::1`; a bare IPv6 address stays whole. */
export function instanceHost(instance: string): string {
  const v6 = /^\[([^\]]+)\](:\d+)?$/.exec(instance);
  if (v6) return v6[1] as string;
  const colons = instance.split(':').length - 1;
  if (colons === 1) return instance.slice(0, instance.indexOf(':'));
  return instance;
}

function podSelector(labels: Record<string, string> | undefined): LabelSelector | undefined {
  if (!labels) return undefined;
  const usable = Object.entries(labels)
    .filter(([k, v]) => k.length > 0 && k.length <= 317 && v.length <= 63 && LABEL_VALUE.test(v))
    .slice(0, MAX_MATCH_LABELS);
  return usable.length > 0 ? { matchLabels: Object.fromEntries(usable) } : undefined;
}

/** The scope an alert asks for: `cluster` only when it says exactly so (see the header). */
export function alertScope(
  alertLabels: Record<string, string>,
  labels: TargetLabelNames,
): AlertScope {
  return alertLabels[labels.scope] === 'cluster' ? 'cluster' : 'node';
}

export function alertTarget(alertLabels: Record<string, string>, o: TargetOptions): AlertTarget {
  if (alertScope(alertLabels, o.labels) === 'cluster') return { kind: 'all-nodes' };
  const node = alertLabels[o.labels.node];
  if (node !== undefined && isNodeName(node)) {
    return { kind: 'nodes', nodeNames: [node], via: 'node' };
  }
  const instance = alertLabels[o.labels.instance];
  if (instance) {
    const found = o.nodeForInstance(instanceHost(instance));
    if (found !== undefined && isNodeName(found)) {
      return { kind: 'nodes', nodeNames: [found], via: 'instance' };
    }
  }
  const namespace = alertLabels[o.labels.namespace];
  const pod = alertLabels[o.labels.pod];
  if (namespace && pod && NAMESPACE.test(namespace) && namespace.length <= 63) {
    const where = o.podLocation(namespace, pod);
    if (where?.nodeName !== undefined && isNodeName(where.nodeName)) {
      return { kind: 'nodes', nodeNames: [where.nodeName], via: 'pod' };
    }
    const labelSelector = where ? podSelector(where.labels) : undefined;
    return labelSelector ? { kind: 'pods', namespace, labelSelector } : { kind: 'pods', namespace };
  }
  return o.noTargetPolicy === 'all-nodes' ? { kind: 'all-nodes' } : { kind: 'none' };
}

/** The one target of a notification whose alerts point at `targets`; undefined if none. */
export function unionTarget(targets: readonly AlertTarget[]): SnapshotTarget | undefined {
  const some = targets.filter((t) => t.kind !== 'none');
  if (some.length === 0) return undefined;
  if (some.some((t) => t.kind === 'all-nodes')) return { allNodes: true };
  if (some.every((t) => t.kind === 'nodes')) {
    const names = [...new Set(some.flatMap((t) => (t.kind === 'nodes' ? t.nodeNames : [])))];
    return names.length <= MAX_NODE_NAMES ? { nodeNames: names.sort() } : { allNodes: true };
  }
  if (some.every((t) => t.kind === 'pods')) {
    const pods = some as Extract<AlertTarget, { kind: 'pods' }>[];
    const namespace = (pods[0] as (typeof pods)[number]).namespace;
    if (pods.some((p) => p.namespace !== namespace)) return { allNodes: true };
    const selectors = new Set(pods.map((p) => JSON.stringify(p.labelSelector ?? null)));
    // One selector shared by all: keep it; different ones: the whole namespace covers them all.
    const selector = pods[0]?.labelSelector;
    return selectors.size === 1 && selector
      ? { pods: { namespace, labelSelector: selector } }
      : { pods: { namespace } };
  }
  return { allNodes: true };
}
