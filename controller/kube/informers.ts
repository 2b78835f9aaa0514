/**
 * The four informers the controller runs: TraceSnapshots and Pods in every namespace, Nodes, and
 * the agent DaemonSet's pods (its namespace and label selector from the configuration). The pod
 * informer feeds the naming registry (`onPod`); the others feed the reconciler's targets.
 */
import type { CoreV1Api, KubeConfig, V1Node, V1Pod } from '@kubernetes/client-node';
import type { TraceSnapshot } from '../model';
import type { Clock } from '../reconcile/clock';
import { Informer, type InformerHandler, type InformerLog } from './informer';
import { SNAPSHOTS_PATH, type SnapshotApi } from './snapshots';

export interface ControllerInformers {
  snapshots: Informer<TraceSnapshot>;
  nodes: Informer<V1Node>;
  pods: Informer<V1Pod>;
  agentPods: Informer<V1Pod>;
  /** Every pod event of the cluster (the naming registry keeps tombstones from deletes). */
  onPod(handler: InformerHandler<V1Pod>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** All four have listed once (readiness). */
  synced(): boolean;
}

export interface InformersOptions {
  kc: KubeConfig;
  core: CoreV1Api;
  snapshots: SnapshotApi;
  /** Namespace of the agent DaemonSet's pods. */
  agentNamespace: string;
  /** Its label selector, e.g. app.kubernetes.io/component=agent,app.kubernetes.io/instance=rewind */
  agentSelector: string;
  clock: Clock;
  log: InformerLog;
}

export function controllerInformers(o: InformersOptions): ControllerInformers {
  const common = { kc: o.kc, clock: o.clock, log: o.log };
  const snapshots = new Informer<TraceSnapshot>({
    ...common,
    name: 'tracesnapshots',
    path: SNAPSHOTS_PATH,
    list: () => o.snapshots.list(),
  });
  const nodes = new Informer<V1Node>({
    ...common,
    name: 'nodes',
    path: '/api/v1/nodes',
    list: () => o.core.listNode(),
  });
  const pods = new Informer<V1Pod>({
    ...common,
    name: 'pods',
    path: '/api/v1/pods',
    list: () => o.core.listPodForAllNamespaces(),
  });
  const agentPods = new Informer<V1Pod>({
    ...common,
    name: 'agent-pods',
    path: `/api/v1/namespaces/${o.agentNamespace}/pods`,
    labelSelector: o.agentSelector,
    list: () =>
      o.core.listNamespacedPod({ namespace: o.agentNamespace, labelSelector: o.agentSelector }),
  });
  const all = [snapshots, nodes, pods, agentPods];
  return {
    snapshots,
    nodes,
    pods,
    agentPods,
    onPod: (handler) => pods.on(handler),
    start: async () => {
      await Promise.all(all.map((i) => i.start()));
    },
    stop: async () => {
      await Promise.all(all.map((i) => i.stop()));
    },
    synced: () => all.every((i) => i.synced()),
  };
}
