/**
 * The reconciler against a REAL kube-apiserver + etcd (test/k8s) with the TraceSnapshot CRD of
 * the chart applied, real informers, real status writes with conflicts and finalizers. Nodes and
 * agent pods are registered as API objects (no kubelet: the pods' podIP and Ready condition are
 * written through the status subresource).
 *
 * The pipeline is a TEST DOUBLE (FakePipeline below): the real collection and merge are tested
 * in their own suites and end to end by the lead; here it records what it was asked and answers
 * at once (or hangs until aborted, to play a controller killed mid-collection).
 */
import { join } from 'node:path';
import {
  ANNOTATION_COLLECTOR,
  FINALIZER,
  type NodeCollection,
  type NodePlan,
  type TraceSnapshot,
} from '../../controller/model';
import { controllerMetrics, type ControllerMetrics } from '../../controller/metrics';
import { kubeClients, loadKubeConfig } from '../../controller/kube/client';
import { controllerInformers, type ControllerInformers } from '../../controller/kube/informers';
import { LeaderElector } from '../../controller/kube/leader';
import { snapshotApi } from '../../controller/kube/snapshots';
import { StatusWriter } from '../../controller/reconcile/status-writer';
import { type Clock, realClock } from '../../controller/reconcile/clock';
import type { SnapshotPipeline } from '../../controller/reconcile/pipeline';
import { Reconciler } from '../../controller/reconcile/reconciler';
import { agentPodFact, nodeFact, podFact } from '../../controller/reconcile/targets';
import { type ControlPlane, startControlPlane } from '../k8s/controlPlane';
import { FakeClock } from './fake-clock';

const NS = 'rewind-system';
const CRD = join(__dirname, '../../charts/rewind/crds/tracesnapshots.rewind.dev.yaml');
const AGENT_SELECTOR = 'app.kubernetes.io/component=agent,app.kubernetes.io/instance=rewind';
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

let cp: ControlPlane;

/** The pipeline double: records calls; collects every node with an agent at once. */
class FakePipeline implements SnapshotPipeline {
  collects: { snapshot: string; plans: NodePlan[] }[] = [];
  merges: string[] = [];
  deleted: string[] = [];
  /** When set, collect waits until aborted (a controller killed mid-collection). */
  hang = false;

  collect(
    s: TraceSnapshot,
    plans: NodePlan[],
    onProgress: (p: { nodesDone: number; nodesTotal: number; bytes: number }) => void,
    signal: AbortSignal,
  ): Promise<NodeCollection[]> {
    this.collects.push({ snapshot: s.metadata.name, plans });
    if (this.hang) {
      return new Promise((_resolve, reject) =>
        signal.addEventListener('abort', () => reject(new Error('aborted'))),
      );
    }
    onProgress({ nodesDone: 1, nodesTotal: plans.length, bytes: 100 });
    return Promise.resolve(
      plans.map((p): NodeCollection => {
        const clock = { offsetNs: -1200n, uncertaintyNs: 300n, correctionNs: 1200n, exchanges: 8 };
        if ('error' in p) return { node: p.node, ok: false, error: p.error, bytes: 0 };
        return {
          node: p.node,
          ok: true,
          traceDir: `/data/${s.metadata.name}/${p.node}`,
          manifest: { node: p.node } as NodeCollection & { ok: true } extends { manifest: infer M }
            ? M
            : never,
          bytes: 1000,
          clock,
        };
      }),
    );
  }

  merge(s: TraceSnapshot, collected: NodeCollection[]) {
    this.merges.push(s.metadata.name);
    return Promise.resolve({
      location: `${s.metadata.namespace}/${s.metadata.name}`,
      sizeBytes: 4242,
      startTime: '2026-01-01T00:00:00Z',
      endTime: '2026-01-01T00:00:10Z',
      trimmedToBudget: false,
      nodes: collected.map((c) => ({ node: c.node, events: 10, lostEvents: 1 })),
    });
  }

  collectedOnDisk(): Promise<NodeCollection[] | undefined> {
    return Promise.resolve(undefined);
  }

  deleteData(s: TraceSnapshot): Promise<void> {
    this.deleted.push(s.metadata.name);
    return Promise.resolve();
  }
}

interface Running {
  reconciler: Reconciler;
  informers: ControllerInformers;
  metrics: ControllerMetrics;
  stop(): Promise<void>;
}

/** A reconciler as one controller process would run it (its own informers and identity). */
async function startReconciler(
  identity: string,
  pipeline: SnapshotPipeline,
  clock: Clock = realClock,
  options: { defaultTtlSeconds?: number } = {},
  /** Start the workers only when this process leads (as the controller does). */
  leaderElection = false,
): Promise<Running> {
  const kc = loadKubeConfig({ kubeconfig: cp.kubeconfigPath });
  const clients = kubeClients(kc);
  const snapshots = snapshotApi(clients.custom);
  const informers = controllerInformers({
    kc,
    core: clients.core,
    snapshots,
    agentNamespace: NS,
    agentSelector: AGENT_SELECTOR,
    clock,
    log: quiet,
  });
  const metrics = controllerMetrics('test');
  const reconciler = new Reconciler({
    snapshots,
    snapshotInformer: informers.snapshots,
    targetFacts: () => ({
      nodes: informers.nodes.list().map(nodeFact),
      pods: informers.pods.list().map(podFact),
      agentPods: informers.agentPods.list().map(agentPodFact),
    }),
    identity,
    pipeline,
    metrics,
    clock,
    log: quiet,
    options: { workers: 2, progressIntervalMs: 0, ...options },
  });
  await informers.start();
  expect(informers.synced()).toBe(true);
  const elector = leaderElection
    ? new LeaderElector({
        coordination: clients.coordination,
        namespace: NS,
        name: 'rewind-leader',
        identity,
        clock,
        log: quiet,
        timing: { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 200 },
        onStartedLeading: () => reconciler.start(),
        onLost: () => void reconciler.stop(),
      })
    : undefined;
  if (elector) elector.start();
  else reconciler.start();
  return {
    reconciler,
    informers,
    metrics,
    stop: async () => {
      await elector?.stop({ release: true });
      await reconciler.stop();
      await informers.stop();
    },
  };
}

async function getSnapshot(name: string): Promise<TraceSnapshot | undefined> {
  const r = await cp.request(
    'GET',
    `/apis/rewind.dev/v1alpha1/namespaces/${NS}/tracesnapshots/${name}`,
  );
  if (r.status === 404) return undefined;
  expect(r.status).toBe(200);
  return r.body as TraceSnapshot;
}

async function createSnapshot(name: string, spec: object): Promise<void> {
  const r = await cp.request('POST', `/apis/rewind.dev/v1alpha1/namespaces/${NS}/tracesnapshots`, {
    apiVersion: 'rewind.dev/v1alpha1',
    kind: 'TraceSnapshot',
    metadata: { name, namespace: NS },
    spec,
  });
  expect(r.status).toBe(201);
}

/** Polls the API server (not a timing assertion: it waits for a state, up to 30 s). */
async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  beat?: () => void,
): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    beat?.();
    await new Promise((r) => setTimeout(r, 50));
  }
}

const phaseIs = (name: string, phase: string) => async () => {
  const s = await getSnapshot(name);
  return s?.status?.phase === phase ? s : undefined;
};

async function metricValue(
  m: ControllerMetrics,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (metric?.values ?? []).find((x) =>
    Object.entries(labels).every(([k, val]) => x.labels[k] === val),
  );
  return v?.value ?? 0;
}

beforeAll(async () => {
  cp = await startControlPlane();
  await cp.kubectlOk(['apply', '-f', CRD]);
  await cp.kubectlOk(['wait', '--for=condition=Established', 'crd/tracesnapshots.rewind.dev']);
  await cp.kubectlOk(['create', 'namespace', NS]);
  // No controller-manager makes the namespace's default ServiceAccount, which pods need.
  await cp.kubectlOk(['-n', NS, 'create', 'serviceaccount', 'default']);
  for (const node of ['node-a', 'node-b', 'node-c']) {
    const r = await cp.request('POST', '/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: node, labels: { 'kubernetes.io/os': 'linux' } },
    });
    expect(r.status).toBe(201);
  }
  // Agent pods on node-a and node-b only; node-c has none.
  for (const [i, node] of ['node-a', 'node-b'].entries()) {
    const name = `rewind-agent-${node}`;
    const r = await cp.request('POST', `/api/v1/namespaces/${NS}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        labels: { 'app.kubernetes.io/component': 'agent', 'app.kubernetes.io/instance': 'rewind' },
      },
      spec: { nodeName: node, containers: [{ name: 'agent', image: 'rewind:test' }] },
    });
    expect(r.status).toBe(201);
    await cp.kubectlOk([
      '-n', NS, 'patch', 'pod', name, '--subresource=status', '--type=merge', '-p',
      JSON.stringify({
        status: {
          phase: 'Running',
          podIP: `127.0.1.${i + 1}`,
          podIPs: [{ ip: `127.0.1.${i + 1}` }],
          conditions: [{ type: 'Ready', status: 'True' }],
        },
      }),
    ]); // prettier-ignore
  }
}, 180_000);

afterAll(async () => {
  await cp?.stop();
});

test('a TraceSnapshot reaches Complete with per-node status, observedGeneration and conditions', async () => {
  const pipeline = new FakePipeline();
  const run = await startReconciler('ctrl-1', pipeline);
  try {
    await createSnapshot('complete', {
      target: { nodeNames: ['node-a', 'node-b'] },
      reason: 'test',
    });
    const s = await waitFor('Complete', phaseIs('complete', 'Complete'));
    expect(s.metadata.finalizers).toEqual([FINALIZER]);
    expect(s.metadata.annotations?.[ANNOTATION_COLLECTOR]).toBe('ctrl-1');
    const st = s.status!;
    expect(st.observedGeneration).toBe(1);
    expect(st.nodeCount).toBe(2);
    expect(st.nodesSucceeded).toBe(2);
    expect(st.progress).toEqual({ nodesDone: 2, nodesTotal: 2, bytes: 2000 });
    expect(st.nodes).toEqual([
      {
        name: 'node-a',
        phase: 'Collected',
        bytes: 1000,
        clockOffsetNs: -1200,
        clockUncertaintyNs: 300,
        events: 10,
        lostEvents: 1,
      },
      {
        name: 'node-b',
        phase: 'Collected',
        bytes: 1000,
        clockOffsetNs: -1200,
        clockUncertaintyNs: 300,
        events: 10,
        lostEvents: 1,
      },
    ]);
    expect(st.trace).toEqual({
      location: `${NS}/complete`,
      sizeBytes: 4242,
      startTime: '2026-01-01T00:00:00Z',
      endTime: '2026-01-01T00:00:10Z',
      trimmedToBudget: false,
    });
    expect(st.startTime).toBeDefined();
    expect(st.completionTime).toBeDefined();
    const conditions = Object.fromEntries((st.conditions ?? []).map((c) => [c.type, c]));
    expect(conditions.Collected).toMatchObject({
      status: 'True',
      reason: 'AllNodesCollected',
      observedGeneration: 1,
    });
    expect(conditions.Merged).toMatchObject({ status: 'True', reason: 'Merged' });
    expect(conditions.Ready).toMatchObject({ status: 'True', reason: 'Complete' });
    // The agents were dialed at their pod IPs on the agent port.
    expect(pipeline.collects).toHaveLength(1);
    expect(pipeline.collects[0].plans).toEqual([
      {
        node: 'node-a',
        agent: {
          node: 'node-a',
          pod: { namespace: NS, name: 'rewind-agent-node-a' },
          host: '127.0.1.1',
          port: 9401,
          ready: true,
        },
      },
      {
        node: 'node-b',
        agent: {
          node: 'node-b',
          pod: { namespace: NS, name: 'rewind-agent-node-b' },
          host: '127.0.1.2',
          port: 9401,
          ready: true,
        },
      },
    ]);
    expect(pipeline.merges).toEqual(['complete']);
    expect(
      await metricValue(run.metrics, 'rewind_controller_snapshots_total', {
        trigger: 'manual',
        result: 'Complete',
      }),
    ).toBe(1);
    // A later resync does not collect it again.
    await run.stop();
    const again = await startReconciler('ctrl-1b', pipeline);
    await new Promise((r) => setTimeout(r, 500));
    await again.stop();
    expect(pipeline.collects).toHaveLength(1);
  } finally {
    await run.stop();
  }
});

test('a node without an agent pod makes the snapshot PartiallyFailed, listing it', async () => {
  const pipeline = new FakePipeline();
  const run = await startReconciler('ctrl-2', pipeline);
  try {
    await createSnapshot('partial', { target: { allNodes: true } });
    const s = await waitFor('PartiallyFailed', phaseIs('partial', 'PartiallyFailed'));
    expect(s.status?.nodesSucceeded).toBe(2);
    expect(s.status?.nodeCount).toBe(3);
    expect(s.status?.nodes?.find((n) => n.name === 'node-c')).toEqual({
      name: 'node-c',
      phase: 'Failed',
      error:
        'no rewind agent pod on node node-c: is the agent DaemonSet scheduled there (tolerations, nodeSelector)?',
    });
    const ready = s.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'True', reason: 'PartiallyFailed' });
    expect(ready?.message).toContain('failed: node-c');
    expect(
      await metricValue(run.metrics, 'rewind_controller_node_failures_total', {
        reason: 'no-agent',
      }),
    ).toBe(1);

    // No target at all: Failed, and the pipeline is never asked.
    await createSnapshot('nothing', {
      target: { nodeSelector: { matchLabels: { zone: 'mars' } } },
    });
    const f = await waitFor('Failed', phaseIs('nothing', 'Failed'));
    expect(f.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'NoTarget',
      message: 'no node matches the nodeSelector zone=mars',
    });
    expect(pipeline.collects.map((c) => c.snapshot)).toEqual(['partial']);
  } finally {
    await run.stop();
  }
});

test('a controller killed mid-collection: the next one fails the snapshot once, never collects it again', async () => {
  const first = new FakePipeline();
  first.hang = true;
  const a = await startReconciler('ctrl-a', first);
  await createSnapshot('interrupted', { target: { nodeNames: ['node-a'] } });
  await waitFor('Collecting', phaseIs('interrupted', 'Collecting'));
  await waitFor('collect called', async () => (first.collects.length > 0 ? true : undefined));
  await a.stop(); // "killed": aborted, writes nothing more
  expect((await getSnapshot('interrupted'))?.status?.phase).toBe('Collecting');

  const second = new FakePipeline();
  const b = await startReconciler('ctrl-b', second);
  try {
    const s = await waitFor('Failed', phaseIs('interrupted', 'Failed'));
    const ready = s.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'CollectionInterrupted' });
    expect(ready?.message).toContain('ctrl-a');
    expect(ready?.message).toContain('create a new TraceSnapshot');
    await new Promise((r) => setTimeout(r, 500)); // let any (wrong) second pass happen
    expect(first.collects).toHaveLength(1);
    expect(second.collects).toHaveLength(0);
    expect(
      await metricValue(b.metrics, 'rewind_controller_snapshots_total', { result: 'Failed' }),
    ).toBe(1);
  } finally {
    await b.stop();
  }
});

test('deleting a TraceSnapshot deletes its data, then the finalizer goes and so does the object', async () => {
  const pipeline = new FakePipeline();
  const run = await startReconciler('ctrl-d', pipeline);
  try {
    await createSnapshot('deleted', { target: { nodeNames: ['node-a'] } });
    await waitFor('Complete', phaseIs('deleted', 'Complete'));
    await cp.kubectlOk(['-n', NS, 'delete', 'tracesnapshot', 'deleted', '--wait=false']);
    await waitFor('gone', async () =>
      (await getSnapshot('deleted')) === undefined ? true : undefined,
    );
    expect(pipeline.deleted).toEqual(['deleted']);
  } finally {
    await run.stop();
  }
});

test('TTL after finish deletes the snapshot at the right time (fake clock)', async () => {
  const pipeline = new FakePipeline();
  const clock = new FakeClock(Date.now());
  // Queue backoff after a conflict would wait on the fake clock: nudge it while waiting.
  const nudge = (): void => clock.advance(10);
  const run = await startReconciler('ctrl-ttl', pipeline, clock, { defaultTtlSeconds: 3600 });
  try {
    await createSnapshot('ttl', { target: { nodeNames: ['node-a'] }, ttlSecondsAfterFinished: 30 });
    const s = await waitFor('Complete', phaseIs('ttl', 'Complete'), nudge);
    const finished = Date.parse(s.status!.completionTime!);
    clock.advance(finished + 29_000 - clock.now());
    await new Promise((r) => setTimeout(r, 300));
    expect(await getSnapshot('ttl')).toBeDefined();
    clock.advance(1000);
    await waitFor('deleted by TTL', async () =>
      (await getSnapshot('ttl')) === undefined ? true : undefined,
    );
    expect(pipeline.deleted).toEqual(['ttl']);
  } finally {
    await run.stop();
  }
});

test('two replicas with leader election: one leader, each snapshot collected once', async () => {
  const p1 = new FakePipeline();
  const p2 = new FakePipeline();
  const [r1, r2] = await Promise.all([
    startReconciler('replica-1', p1, realClock, {}, true),
    startReconciler('replica-2', p2, realClock, {}, true),
  ]);
  try {
    const names = ['ha-1', 'ha-2', 'ha-3'];
    for (const name of names)
      await createSnapshot(name, { target: { nodeNames: ['node-a', 'node-b'] } });
    for (const name of names) await waitFor(`${name} Complete`, phaseIs(name, 'Complete'));
    const collected = [...p1.collects, ...p2.collects].map((c) => c.snapshot).sort();
    expect(collected).toEqual(names);
    // All by the one leader.
    expect(p1.collects.length === 0 || p2.collects.length === 0).toBe(true);
  } finally {
    await Promise.all([r1.stop(), r2.stop()]);
  }
});

test('the claim is conditional: of two claims from the same object, exactly one wins', async () => {
  await createSnapshot('race', { target: { nodeNames: ['node-a'] } });
  const s = (await getSnapshot('race'))!;
  const api = snapshotApi(kubeClients(loadKubeConfig({ kubeconfig: cp.kubeconfigPath })).custom);
  const w1 = new StatusWriter(api, realClock);
  const w2 = new StatusWriter(api, realClock);
  const results = await Promise.all([w1.claim(s, 'one'), w2.claim(s, 'two')]);
  expect(results.filter((r) => r !== undefined)).toHaveLength(1);
  const winner = results.find((r) => r !== undefined)!;
  expect((await getSnapshot('race'))?.metadata.annotations?.[ANNOTATION_COLLECTOR]).toBe(
    winner.metadata.annotations?.[ANNOTATION_COLLECTOR],
  );
  // A status write from a stale object is re-read and re-applied (conflict retry), not lost.
  const stored = await w1.update(s, (cur) => ({ ...cur.status, phase: 'Pending', nodeCount: 7 }));
  expect(stored?.status?.nodeCount).toBe(7);
  expect(stored?.metadata.annotations?.[ANNOTATION_COLLECTOR]).toBeDefined();
});
