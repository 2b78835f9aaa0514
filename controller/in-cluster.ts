/**
 * The controller in a Kubernetes cluster: the informers (TraceSnapshots, nodes, pods, the agent
 * DaemonSet's pods), the pod registry they feed (names for the trace, tombstones included), the
 * reconciler over the snapshot pipeline, the leader election that lets only one replica
 * reconcile, and retention, which deletes the oldest TraceSnapshots (their finalizer deletes the
 * data). Every replica serves the API and the webhook; only the leader collects.
 *
 * A replica that loses the Lease exits (controller-runtime's habit): its collections in flight
 * are the next leader's to fail cleanly (CollectionInterrupted), never to run twice.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { oneLine } from '../common/errors';
import type { Lifecycle } from '../common/lifecycle';
import type { ControllerConfig } from './config';
import { kubeClients, loadKubeConfig, type KubeClients } from './kube/client';
import { eventRecorder } from './kube/events';
import { controllerInformers, type ControllerInformers } from './kube/informers';
import { holderIdentity, LeaderElector } from './kube/leader';
import { snapshotApi, type SnapshotApi } from './kube/snapshots';
import type { ControllerMetrics } from './metrics';
import type { AgentEndpoint, TraceSnapshot } from './model';
import { PodRegistry } from './naming/pod-registry';
import { realClock } from './reconcile/clock';
import type { SnapshotPipeline } from './reconcile/pipeline';
import { Reconciler } from './reconcile/reconciler';
import { agentPodFact, nodeFact, podFact, unscheduledWhy } from './reconcile/targets';
import { planRetention } from './storage/retention';
import type { SnapshotStore } from './storage/store';

export interface InCluster {
  clients: KubeClients;
  snapshots: SnapshotApi;
  informers: ControllerInformers;
  registry: PodRegistry;
  /** The agents as the controller would dial them now (for /v1/agents). */
  agentEndpoints(): AgentEndpoint[];
  /** A snapshot from the informer's cache. */
  cachedSnapshot(namespace: string, name: string): TraceSnapshot | undefined;
}

export interface InClusterDeps {
  config: Readonly<ControllerConfig>;
  lifecycle: Lifecycle;
  log: Logger;
  metrics: ControllerMetrics;
  store: SnapshotStore;
  /** The pipeline, given the pod registry it names pods from. */
  pipeline: (registry: PodRegistry) => SnapshotPipeline;
  /** Called when leadership is lost: the process must exit. */
  exit: (code: number) => void;
}

const RETENTION_EVERY_MS = 60_000;

export async function startInCluster(deps: InClusterDeps): Promise<InCluster> {
  const { config, lifecycle, log, metrics, store } = deps;
  const kc = loadKubeConfig({ kubeconfig: config.kubeconfig || undefined });
  const clients = kubeClients(kc);
  const snapshots = snapshotApi(clients.custom);
  const informers = controllerInformers({
    kc,
    core: clients.core,
    snapshots,
    agentNamespace: config.namespace,
    agentSelector: config.agentSelector,
    clock: realClock,
    log: log.child({ part: 'informer' }),
  });
  const registry = new PodRegistry({ retentionMs: config.tombstoneSeconds * 1000 });
  informers.onPod((event, pod: V1Pod) => {
    if (event === 'delete') registry.remove(pod);
    else registry.upsert(pod);
  });
  const pruneTimer = setInterval(() => registry.prune(), 60_000);
  pruneTimer.unref();

  const identity = holderIdentity(config.podName);
  const reconciler = new Reconciler({
    snapshots,
    snapshotInformer: informers.snapshots,
    targetFacts: () => ({
      nodes: informers.nodes.list().map(nodeFact),
      pods: informers.pods.list().map(podFact),
      agentPods: informers.agentPods.list().map(agentPodFact),
    }),
    identity,
    pipeline: deps.pipeline(registry),
    metrics,
    clock: realClock,
    log: log.child({ part: 'reconciler' }),
    events: eventRecorder(clients.core, 'rewind-controller', log),
    options: {
      workers: config.workers,
      agentPort: config.agentPort,
      defaultTtlSeconds: config.ttlSeconds,
    },
  });

  lifecycle.gates.add('informers', () =>
    informers.synced() ? undefined : 'the informers have not listed yet',
  );
  await informers.start();

  let retentionTimer: NodeJS.Timeout | undefined;
  const enforceRetention = async () => {
    const plan = planRetention(
      await store.list(),
      {
        maxAgeSeconds: config.retentionSeconds || undefined,
        maxTotalBytes: config.retentionBytes || undefined,
      },
      Date.now(),
    );
    for (const key of plan.delete) {
      const [namespace, name] = key.split('/') as [string, string];
      const s = informers.snapshots.get(name, namespace);
      try {
        if (s) await snapshots.delete(namespace, name, s.metadata.uid);
        else await store.delete(namespace, name);
        log.info({ snapshot: key }, 'retention: deleted the oldest trace');
      } catch (e) {
        log.warn({ snapshot: key, err: oneLine(e) }, 'retention: could not delete');
      }
    }
    metrics.storedBytes(await store.totalBytes());
  };

  const elector = new LeaderElector({
    coordination: clients.coordination,
    namespace: config.namespace,
    name: `${config.name}-leader`,
    identity,
    clock: realClock,
    log: log.child({ part: 'leader' }),
    onStartedLeading: () => {
      metrics.leader(true);
      log.info({ identity }, 'leading: reconciling TraceSnapshots');
      reconciler.start();
      retentionTimer = setInterval(
        () => void enforceRetention().catch((e) => log.warn({ err: oneLine(e) }, 'retention')),
        RETENTION_EVERY_MS,
      );
    },
    onLost: () => {
      metrics.leader(false);
      log.error({ identity }, 'leadership lost: exiting so that one replica collects');
      deps.exit(1);
    },
  });
  if (config.leaderElection) elector.start();
  else {
    metrics.leader(true);
    reconciler.start();
  }

  lifecycle.onStop(async () => {
    clearInterval(pruneTimer);
    if (retentionTimer) clearInterval(retentionTimer);
    reconciler.stop();
    await elector.stop({ release: true });
    await informers.stop();
  });

  return {
    clients,
    snapshots,
    informers,
    registry,
    agentEndpoints: () =>
      informers.agentPods
        .list()
        .map(agentPodFact)
        .filter((p) => p.nodeName)
        .map((p) => ({
          node: p.nodeName as string,
          pod: { namespace: p.namespace, name: p.name },
          host: p.podIP ?? '',
          port: config.agentPort,
          ready: p.ready,
          ...(p.unschedulable !== undefined
            ? { unreachable: `the agent pod ${unscheduledWhy(p.unschedulable)}` }
            : {}),
        })),
    cachedSnapshot: (namespace, name) => informers.snapshots.get(name, namespace),
  };
}
