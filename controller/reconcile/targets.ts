/**
 * Which nodes a TraceSnapshot targets and which agent to dial on each, pure: the target (node
 * names, a node selector, pods, or all nodes) resolved against the informers' nodes, pods and
 * agent pods. Every target node gets a plan: its agent's endpoint, or the reason it cannot be
 * collected, which ends up in that node's status (never silently skipped). A target that names
 * no node at all is a failure of the whole snapshot.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { LabelSelector, NodePlan, SnapshotTarget } from '../model';

export interface NodeFact {
  name: string;
  labels: Record<string, string>;
}

export interface PodFact {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** Absent while unscheduled. */
  nodeName?: string;
  phase?: string;
}

export interface AgentPodFact {
  namespace: string;
  name: string;
  /** Where it runs, or, not scheduled yet, the node its DaemonSet made it for. */
  nodeName?: string;
  /** The scheduler's message while it cannot place the pod (PodScheduled False). */
  unschedulable?: string;
  podIP?: string;
  /** The agent's port when not the controller's `agentPort` (standalone agents listed by address). */
  port?: number;
  /** The Ready condition is True. */
  ready: boolean;
  /** deletionTimestamp is set: the pod is terminating. */
  terminating: boolean;
}

export interface TargetFacts {
  nodes: readonly NodeFact[];
  pods: readonly PodFact[];
  agentPods: readonly AgentPodFact[];
}

export type TargetResult = { ok: true; plans: NodePlan[] } | { ok: false; error: string };

/** Kubernetes label selector semantics (metav1.LabelSelectorAsSelector): all terms must hold. */
export function matchesSelector(labels: Record<string, string>, selector: LabelSelector): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    switch (operator) {
      case 'In':
        if (!has || !values.includes(labels[key])) return false;
        break;
      case 'NotIn': // a missing label is "not in" (as in Kubernetes)
        if (has && values.includes(labels[key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false; // an unknown operator selects nothing (the CRD refuses it anyway)
    }
  }
  return true;
}

/** The selector as `kubectl -l` would write it, for messages. */
export function selectorText(selector: LabelSelector | undefined): string {
  if (selector === undefined) return '(every pod)';
  const terms = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    if (operator === 'Exists') terms.push(key);
    else if (operator === 'DoesNotExist') terms.push(`!${key}`);
    else terms.push(`${key} ${operator === 'In' ? 'in' : 'notin'} (${values.join(',')})`);
  }
  return terms.length > 0 ? terms.join(',') : '(everything)';
}

/** The target nodes, in a stable order, before agents are looked up. */
function targetNodes(target: SnapshotTarget, facts: TargetFacts): string[] | { error: string } {
  const byName = [...facts.nodes].sort((a, b) => a.name.localeCompare(b.name));
  if (target.nodeNames !== undefined) return [...new Set(target.nodeNames)];
  if (target.nodeSelector !== undefined) {
    const selector = target.nodeSelector;
    const names = byName.filter((n) => matchesSelector(n.labels, selector)).map((n) => n.name);
    return names.length > 0
      ? names
      : { error: `no node matches the nodeSelector ${selectorText(selector)}` };
  }
  if (target.pods !== undefined) {
    const { namespace, labelSelector } = target.pods;
    const pods = facts.pods.filter(
      (p) =>
        p.namespace === namespace &&
        (labelSelector === undefined || matchesSelector(p.labels, labelSelector)),
    );
    const where = `in namespace ${namespace} matching ${selectorText(labelSelector)}`;
    if (pods.length === 0) return { error: `no pod ${where}` };
    // Finished pods count: their processes' history is still in their node's recorder.
    const nodes = [...new Set(pods.flatMap((p) => (p.nodeName ? [p.nodeName] : [])))].sort();
    if (nodes.length === 0) {
      return { error: `${pods.length} pod(s) ${where}, none scheduled on a node` };
    }
    return nodes;
  }
  if (target.allNodes === true) {
    return byName.length > 0 ? byName.map((n) => n.name) : { error: 'the cluster has no node' };
  }
  return { error: 'the target names no nodes (set nodeNames, nodeSelector, pods or allNodes)' };
}

function planNode(node: string, facts: TargetFacts, agentPort: number): NodePlan {
  const agents = facts.agentPods.filter((p) => p.nodeName === node);
  const live = agents.filter((p) => !p.terminating);
  // During a rolling update a node may briefly have two agent pods: any Ready one will do.
  const ready = live.find((p) => p.ready && p.podIP);
  if (ready !== undefined) {
    return {
      node,
      agent: {
        node,
        pod: { namespace: ready.namespace, name: ready.name },
        host: ready.podIP as string,
        port: ready.port ?? agentPort,
        ready: true,
      },
    };
  }
  const notReady = live[0] ?? agents[0];
  if (notReady === undefined) {
    return {
      node,
      error:
        `no rewind agent pod on node ${node}: is the agent DaemonSet scheduled there ` +
        '(tolerations, nodeSelector)?',
    };
  }
  const pod = `${notReady.namespace}/${notReady.name}`;
  if (notReady.unschedulable !== undefined && !notReady.terminating) {
    return { node, error: `rewind agent pod ${pod} ${unscheduledWhy(notReady.unschedulable)}` };
  }
  const why = notReady.terminating
    ? 'is terminating'
    : !notReady.ready
      ? 'is not Ready'
      : 'has no pod IP';
  return { node, error: `rewind agent pod ${pod} on node ${node} ${why}` };
}

/** One plan per target node, or why the snapshot has no target at all. */
export function planTargets(
  target: SnapshotTarget,
  facts: TargetFacts,
  agentPort: number,
): TargetResult {
  const nodes = targetNodes(target, facts);
  if (!Array.isArray(nodes)) return { ok: false, error: nodes.error };
  const known = new Set(facts.nodes.map((n) => n.name));
  const plans = nodes.map((node): NodePlan =>
    known.has(node)
      ? planNode(node, facts, agentPort)
      : { node, error: `node ${node} does not exist` },
  );
  return { ok: true, plans };
}

/** The facts of a Node object. */
export function nodeFact(n: V1Node): NodeFact {
  return { name: n.metadata?.name ?? '', labels: n.metadata?.labels ?? {} };
}

/** The facts of a Pod object. */
export function podFact(p: V1Pod): PodFact {
  return {
    namespace: p.metadata?.namespace ?? '',
    name: p.metadata?.name ?? '',
    labels: p.metadata?.labels ?? {},
    ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
    ...(p.status?.phase ? { phase: p.status.phase } : {}),
  };
}

/**
 * Why an agent pod waits unscheduled, for a node's status and `kubectl rewind agents`: the
 * scheduler's first sentence (every node's reason; what follows is about preemption and
 * claims), and when it lacks an extended resource (a `domain/name`: the only one the agent
 * requests is the recorder's device), what makes that resource exist. Lacking cpu or memory
 * gets no such hint.
 */
export function unscheduledWhy(schedulerMessage: string): string {
  const first = schedulerMessage.trim().split(/\.\s/)[0].replace(/\.$/, '');
  const hint = /Insufficient [^\s,]+\/[^\s,]+/.test(first)
    ? ': the device plugin advertises the recorder only while the module is loaded on the node ' +
      "(the node DaemonSet's loader says why it is not)"
    : '';
  return `is not scheduled (${first})${hint}`;
}

/**
 * The node a DaemonSet made a pod for: the DaemonSet controller pins each pod to its node with
 * a required node affinity on the field metadata.name, and the scheduler sets spec.nodeName only
 * once it places it.
 */
function daemonSetNode(p: V1Pod): string | undefined {
  const terms = p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  for (const term of terms?.nodeSelectorTerms ?? []) {
    for (const field of term.matchFields ?? []) {
      if (field.key === 'metadata.name' && field.operator === 'In' && field.values?.length === 1) {
        return field.values[0];
      }
    }
  }
  return undefined;
}

/** The facts of an agent Pod object. */
export function agentPodFact(p: V1Pod): AgentPodFact {
  const nodeName = p.spec?.nodeName || daemonSetNode(p);
  const scheduled = (p.status?.conditions ?? []).find((c) => c.type === 'PodScheduled');
  return {
    namespace: p.metadata?.namespace ?? '',
    name: p.metadata?.name ?? '',
    ...(nodeName ? { nodeName } : {}),
    ...(!p.spec?.nodeName && scheduled?.status === 'False'
      ? { unschedulable: scheduled.message || scheduled.reason || 'Unschedulable' }
      : {}),
    ...(p.status?.podIP ? { podIP: p.status.podIP } : {}),
    ready: (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    terminating: p.metadata?.deletionTimestamp != null,
  };
}
