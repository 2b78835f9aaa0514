/**
 * One node's cgroup ids → pod names, for the merge (`MergeOptions.podNames`) and the manifest.
 * Pure: from the cgroup facts the node's agent reported in its snapshot manifest (agent/cgroups:
 * node-local, no Kubernetes names) and what the pod registry knows.
 *
 * What is named, and how:
 * - a container cgroup whose id the registry knows: its pod and container name;
 * - a container cgroup whose id it does not know but whose pod it does (the pod's sandbox, whose
 *   id no container status carries, or a container seen by no status yet): the pod, container '';
 * - a pod cgroup, or CRI-O's conmon (the container's monitor, in the pod but not the workload):
 *   the pod, container '';
 * - a cgroup of an unknown pod is left unnamed and counted: a name is never guessed.
 * Cgroups outside pods (system services, the root) are neither named nor counted.
 */
import type { AgentManifest, PodName } from '../model';
import type { KnownPod, PodRegistry } from './pod-registry';

export type CgroupFact = AgentManifest['containers']['cgroups'][number];

/** What naming needs of the registry (a PodRegistry, or a test's table). */
export type PodLookup = Pick<PodRegistry, 'podByUid' | 'containerById'>;

export interface CgroupNames {
  /** cgroup id → its pod (and container). */
  names: Map<bigint, PodName>;
  /** Pod cgroups named. */
  named: number;
  /** Pod cgroups whose pod the registry does not know (or with a malformed id). */
  unnamed: number;
  /** Their pod uids, sorted, for the manifest (a pod gone longer than the retention, say). */
  unknownPodUids: string[];
}

const DECIMAL_U64 = /^(0|[1-9][0-9]{0,19})$/;
const U64_MAX = (1n << 64n) - 1n;

function podName(pod: KnownPod, container: string): PodName {
  return { namespace: pod.namespace, pod: pod.name, podUid: pod.uid, container };
}

function nameOf(fact: CgroupFact, pods: PodLookup): PodName | undefined {
  if (fact.kind === 'container' && fact.containerId) {
    const c = pods.containerById(fact.containerId);
    // A container id that another pod claims is not this cgroup's: trust the pod uid first.
    if (c && (!fact.podUid || c.pod.uid === fact.podUid || pods.podByUid(fact.podUid) === c.pod))
      return podName(c.pod, c.container);
  }
  const pod = fact.podUid ? pods.podByUid(fact.podUid) : undefined;
  return pod && podName(pod, '');
}

/** The names of one node's cgroups (see the file comment for the rules). */
export function cgroupNames(cgroups: readonly CgroupFact[], pods: PodLookup): CgroupNames {
  const names = new Map<bigint, PodName>();
  const unknown = new Set<string>();
  let named = 0;
  let unnamed = 0;
  for (const fact of cgroups) {
    if (!fact.kind && !fact.podUid && !fact.containerId) continue;
    const id = DECIMAL_U64.test(fact.cgroupId) ? BigInt(fact.cgroupId) : undefined;
    const name = id !== undefined && id <= U64_MAX ? nameOf(fact, pods) : undefined;
    if (id !== undefined && name) {
      names.set(id, name);
      named++;
    } else {
      unnamed++;
      if (fact.podUid) unknown.add(fact.podUid);
    }
  }
  return { names, named, unnamed, unknownPodUids: [...unknown].sort() };
}

/**
 * The table as the merge takes it for one node (`MergeOptions.podNames[node]`): decimal cgroup
 * ids as keys (JSON and zod have no 64-bit keys).
 */
export function podNamesOption(names: ReadonlyMap<bigint, PodName>): Record<string, PodName> {
  const out: Record<string, PodName> = {};
  for (const [id, name] of [...names].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)))
    out[id.toString()] = { ...name };
  return out;
}
