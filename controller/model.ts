/**
 * The controller's shared vocabulary (pure types and constants): the TraceSnapshot resource as the
 * CRD defines it (charts/rewind/crds/tracesnapshots.rewind.dev.yaml), the agents it dials, and what
 * one node's collection yields. Every part of the controller (reconcile/, collect/, naming/,
 * alerts/, api/, storage/) speaks these types; none redefines them.
 */
import type { NodeFailureReason } from './metrics';

export const GROUP = 'rewind.dev';
export const VERSION = 'v1alpha1';
export const PLURAL = 'tracesnapshots';
export const KIND = 'TraceSnapshot';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** The finalizer that makes deleting a TraceSnapshot delete its stored trace first. */
export const FINALIZER = 'rewind.dev/trace-data';

/** Labels and annotations the controller writes on the TraceSnapshots it creates. */
export const LABEL_TRIGGER = 'rewind.dev/trigger';
export const LABEL_ALERTNAME = 'rewind.dev/alertname';
export const LABEL_ALERT_FINGERPRINT = 'rewind.dev/alert-fingerprint';
export const ANNOTATION_ALERT = 'rewind.dev/alert';
export const ANNOTATION_ALERT_GROUP = 'rewind.dev/alert-group';
/** Which controller process (holder identity) owns a collection in flight. */
export const ANNOTATION_COLLECTOR = 'rewind.dev/collector';

export type Trigger = 'manual' | 'alert';

export const PHASES = [
  'Pending',
  'Collecting',
  'Merging',
  'Complete',
  'PartiallyFailed',
  'Failed',
] as const;
export type SnapshotPhase = (typeof PHASES)[number];
export const FINAL_PHASES: readonly SnapshotPhase[] = ['Complete', 'PartiallyFailed', 'Failed'];

export const NODE_PHASES = ['Pending', 'Collecting', 'Collected', 'Failed'] as const;
export type NodePhase = (typeof NODE_PHASES)[number];

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** Exactly one of the four (the CRD checks it). */
export interface SnapshotTarget {
  nodeNames?: string[];
  nodeSelector?: LabelSelector;
  pods?: { namespace: string; labelSelector?: LabelSelector };
  allNodes?: boolean;
}

export interface TraceSnapshotSpec {
  target: SnapshotTarget;
  /** Seconds of history before the request (CRD default 10). */
  windowSeconds: number;
  reason?: string;
  ttlSecondsAfterFinished?: number;
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface NodeStatus {
  name: string;
  phase: NodePhase;
  bytes?: number;
  events?: number;
  lostEvents?: number;
  /** Node realtime minus the controller's, ns (JSON number: offsets are far below 2^53). */
  clockOffsetNs?: number;
  /** Half the width of what all clock exchanges allow (≤ half the lowest round trip), ns. */
  clockUncertaintyNs?: number;
  error?: string;
}

export interface TraceSnapshotStatus {
  phase?: SnapshotPhase;
  observedGeneration?: number;
  startTime?: string;
  completionTime?: string;
  nodeCount?: number;
  nodesSucceeded?: number;
  progress?: { nodesDone: number; nodesTotal: number; bytes: number };
  nodes?: NodeStatus[];
  trace?: {
    location?: string;
    sizeBytes?: number;
    startTime?: string;
    endTime?: string;
    /** True when the byte budget moved the window's start later. */
    trimmedToBudget?: boolean;
  };
  conditions?: Condition[];
}

export interface TraceSnapshot {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: TraceSnapshotSpec;
  status?: TraceSnapshotStatus;
}

/** `namespace/name`: the work queue's key and the storage's folder. */
export function snapshotKey(s: { metadata: Pick<ObjectMeta, 'namespace' | 'name'> }): string {
  return `${s.metadata.namespace}/${s.metadata.name}`;
}

/** One node's agent as the controller dials it. */
export interface AgentEndpoint {
  node: string;
  /** The agent pod (absent in standalone mode). */
  pod?: { namespace: string; name: string };
  /** Address to dial (a pod IP, or a host in standalone mode). */
  host: string;
  port: number;
  ready: boolean;
  /** Why it cannot be asked at all (its pod is not scheduled); then `host` is empty. */
  unreachable?: string;
}

/** A node and why it cannot be collected, or its agent. */
export type NodePlan = { node: string; agent: AgentEndpoint } | { node: string; error: string };

/** Clock alignment of one node (collect/clock-alignment.ts). */
export interface ClockAlignment {
  /** Node realtime minus the controller's realtime, ns. */
  offsetNs: bigint;
  /** Half the width of what all clock exchanges allow (≤ half the lowest round trip), ns. */
  uncertaintyNs: bigint;
  /** What the merge adds to the node's absolute times to put them on the controller's clock. */
  correctionNs: bigint;
  /** Exchanges made (before and after the snapshot). */
  exchanges: number;
}

/** What collecting one node produced: its unpacked trace, or why not. */
export type NodeCollection =
  | {
      node: string;
      ok: true;
      /** The unpacked trace directory (metadata + stream_N). */
      traceDir: string;
      /** The agent's manifest.json, parsed. */
      manifest: AgentManifest;
      bytes: number;
      clock: ClockAlignment;
    }
  | {
      node: string;
      ok: false;
      error: string;
      bytes: number;
      clock?: ClockAlignment;
      /** Why, in the metrics' terms (controller/metrics.ts NodeFailureReason). */
      reason?: NodeFailureReason;
    };

/** The fields of the agent's manifest.json the controller reads (agent/manifest.ts). */
export interface AgentManifest {
  manifestVersion: number;
  node: string;
  kernelRelease: string;
  bootId: string;
  traceUuid: string;
  clock: {
    offsetNs: string;
    requestedAtMonotonicNs: string;
    requestedAtRealtimeNs: string;
  };
  window: { seconds: number | null; fromMonotonicNs?: string; toMonotonicNs?: string };
  containers: {
    cgroups: {
      cgroupId: string;
      path: string;
      kind?: string;
      podUid?: string;
      containerId?: string;
      exited: boolean;
    }[];
  };
  [more: string]: unknown;
}

/** A process's pod, as the trace and the Chrome JSON show it (naming/). */
export interface PodName {
  namespace: string;
  pod: string;
  podUid: string;
  /** Empty for a pod's own cgroup (no container). */
  container: string;
}
