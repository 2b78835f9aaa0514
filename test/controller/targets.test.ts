/**
 * Target resolution (controller/reconcile/targets.ts): each target kind, label selector operators
 * with Kubernetes semantics, and each reason a node cannot be collected.
 */
import type { V1Pod } from '@kubernetes/client-node';
import {
  agentPodFact,
  matchesSelector,
  planTargets,
  type TargetFacts,
  unscheduledWhy,
} from '../../controller/reconcile/targets';

const PORT = 9401;
const facts: TargetFacts = {
  nodes: [
    { name: 'node-b', labels: { zone: 'z2', role: 'db' } },
    { name: 'node-a', labels: { zone: 'z1', role: 'web', gpu: 'yes' } },
    { name: 'node-c', labels: { zone: 'z1' } },
  ],
  pods: [
    {
      namespace: 'shop',
      name: 'api-1',
      labels: { app: 'api' },
      nodeName: 'node-a',
      phase: 'Running',
    },
    {
      namespace: 'shop',
      name: 'api-2',
      labels: { app: 'api' },
      nodeName: 'node-b',
      phase: 'Running',
    },
    {
      namespace: 'shop',
      name: 'api-3',
      labels: { app: 'api' },
      nodeName: 'node-a',
      phase: 'Failed',
    },
    { namespace: 'shop', name: 'pending', labels: { app: 'batch' } },
    { namespace: 'other', name: 'api-x', labels: { app: 'api' }, nodeName: 'node-c' },
  ],
  agentPods: [
    {
      namespace: 'rewind',
      name: 'agent-a',
      nodeName: 'node-a',
      podIP: '10.0.0.1',
      ready: true,
      terminating: false,
    },
    {
      namespace: 'rewind',
      name: 'agent-b',
      nodeName: 'node-b',
      podIP: '10.0.0.2',
      ready: false,
      terminating: false,
    },
  ],
};

const agentA = {
  node: 'node-a',
  agent: {
    node: 'node-a',
    pod: { namespace: 'rewind', name: 'agent-a' },
    host: '10.0.0.1',
    port: PORT,
    ready: true,
  },
};
const noAgent = (node: string): { node: string; error: string } => ({
  node,
  error: `no rewind agent pod on node ${node}: is the agent DaemonSet scheduled there (tolerations, nodeSelector)?`,
});
const notReadyB = {
  node: 'node-b',
  error: 'rewind agent pod rewind/agent-b on node node-b is not Ready',
};

describe('matchesSelector', () => {
  const labels = { app: 'api', tier: 'front' };
  test.each<[string, Parameters<typeof matchesSelector>[1], boolean]>([
    ['empty selects everything', {}, true],
    ['matchLabels equal', { matchLabels: { app: 'api' } }, true],
    ['matchLabels differ', { matchLabels: { app: 'web' } }, false],
    ['matchLabels missing key', { matchLabels: { env: 'prod' } }, false],
    [
      'In with the value',
      { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] },
      true,
    ],
    [
      'In without the value',
      { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] },
      false,
    ],
    [
      'In on a missing key',
      { matchExpressions: [{ key: 'env', operator: 'In', values: ['x'] }] },
      false,
    ],
    [
      'NotIn with the value',
      { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['api'] }] },
      false,
    ],
    [
      'NotIn without the value',
      { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] },
      true,
    ],
    [
      'NotIn on a missing key matches',
      { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['x'] }] },
      true,
    ],
    ['Exists', { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, true],
    ['Exists missing', { matchExpressions: [{ key: 'env', operator: 'Exists' }] }, false],
    ['DoesNotExist', { matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, true],
    [
      'DoesNotExist present',
      { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] },
      false,
    ],
    [
      'all terms must hold',
      {
        matchLabels: { app: 'api' },
        matchExpressions: [{ key: 'tier', operator: 'In', values: ['back'] }],
      },
      false,
    ],
  ])('%s', (_name, selector, expected) => {
    expect(matchesSelector(labels, selector)).toBe(expected);
  });
});

describe('planTargets', () => {
  test('nodeNames: in the given order; unknown, agentless and unready nodes get their error', () => {
    expect(
      planTargets({ nodeNames: ['node-a', 'node-x', 'node-c', 'node-b'] }, facts, PORT),
    ).toEqual({
      ok: true,
      plans: [
        agentA,
        { node: 'node-x', error: 'node node-x does not exist' },
        noAgent('node-c'),
        notReadyB,
      ],
    });
  });

  test('nodeSelector: matchLabels and matchExpressions, sorted by name', () => {
    expect(planTargets({ nodeSelector: { matchLabels: { zone: 'z1' } } }, facts, PORT)).toEqual({
      ok: true,
      plans: [agentA, noAgent('node-c')],
    });
    expect(
      planTargets(
        { nodeSelector: { matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] } },
        facts,
        PORT,
      ),
    ).toEqual({ ok: true, plans: [notReadyB, noAgent('node-c')] });
    expect(planTargets({ nodeSelector: { matchLabels: { zone: 'mars' } } }, facts, PORT)).toEqual({
      ok: false,
      error: 'no node matches the nodeSelector zone=mars',
    });
  });

  test('pods: the nodes their matching pods run on, finished pods included', () => {
    expect(
      planTargets(
        { pods: { namespace: 'shop', labelSelector: { matchLabels: { app: 'api' } } } },
        facts,
        PORT,
      ),
    ).toEqual({ ok: true, plans: [agentA, notReadyB] });
    // No selector: every pod of the namespace (the unscheduled one adds no node).
    expect(planTargets({ pods: { namespace: 'other' } }, facts, PORT)).toEqual({
      ok: true,
      plans: [noAgent('node-c')],
    });
  });

  test('pods: no match, or none scheduled, fails the snapshot with a clear message', () => {
    expect(
      planTargets(
        { pods: { namespace: 'shop', labelSelector: { matchLabels: { app: 'nope' } } } },
        facts,
        PORT,
      ),
    ).toEqual({ ok: false, error: 'no pod in namespace shop matching app=nope' });
    expect(
      planTargets(
        {
          pods: {
            namespace: 'shop',
            labelSelector: {
              matchExpressions: [{ key: 'app', operator: 'In', values: ['batch'] }],
            },
          },
        },
        facts,
        PORT,
      ),
    ).toEqual({
      ok: false,
      error: '1 pod(s) in namespace shop matching app in (batch), none scheduled on a node',
    });
    expect(planTargets({ pods: { namespace: 'empty' } }, facts, PORT)).toEqual({
      ok: false,
      error: 'no pod in namespace empty matching (every pod)',
    });
  });

  test('allNodes: every node, sorted; a cluster without nodes fails', () => {
    expect(planTargets({ allNodes: true }, facts, PORT)).toEqual({
      ok: true,
      plans: [agentA, notReadyB, noAgent('node-c')],
    });
    expect(planTargets({ allNodes: true }, { ...facts, nodes: [] }, PORT)).toEqual({
      ok: false,
      error: 'the cluster has no node',
    });
    expect(planTargets({}, facts, PORT)).toMatchObject({ ok: false });
  });

  test('agents: terminating pods are not dialed; a Ready replacement is; no pod IP is an error', () => {
    const withRollout: TargetFacts = {
      ...facts,
      agentPods: [
        {
          namespace: 'rewind',
          name: 'old',
          nodeName: 'node-a',
          podIP: '10.0.0.9',
          ready: true,
          terminating: true,
        },
        {
          namespace: 'rewind',
          name: 'new',
          nodeName: 'node-a',
          podIP: '10.0.0.10',
          ready: true,
          terminating: false,
        },
        {
          namespace: 'rewind',
          name: 'gone',
          nodeName: 'node-b',
          podIP: '10.0.0.2',
          ready: true,
          terminating: true,
        },
        { namespace: 'rewind', name: 'noip', nodeName: 'node-c', ready: true, terminating: false },
      ],
    };
    expect(planTargets({ allNodes: true }, withRollout, 1234)).toEqual({
      ok: true,
      plans: [
        {
          node: 'node-a',
          agent: {
            node: 'node-a',
            pod: { namespace: 'rewind', name: 'new' },
            host: '10.0.0.10',
            port: 1234,
            ready: true,
          },
        },
        { node: 'node-b', error: 'rewind agent pod rewind/gone on node node-b is terminating' },
        { node: 'node-c', error: 'rewind agent pod rewind/noip on node node-c has no pod IP' },
      ],
    });
  });

  test("an agent pod the scheduler cannot place: its DaemonSet's node, and the scheduler's words", () => {
    // As the DaemonSet controller makes it: pinned by a required affinity on metadata.name,
    // spec.nodeName set only once scheduled.
    const pending: V1Pod = {
      metadata: { name: 'agent-p', namespace: 'rewind' },
      spec: {
        containers: [],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-a'] }] },
              ],
            },
          },
        },
      },
      status: {
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            // As kube-scheduler v1.34 words it.
            message:
              '0/1 nodes are available: 1 Insufficient rewind.dev/recorder. no new claims to ' +
              'deallocate, preemption: 0/1 nodes are available: 1 Preemption is not helpful for ' +
              'scheduling.',
          },
        ],
      },
    };
    const fact = agentPodFact(pending);
    expect(fact).toEqual({
      namespace: 'rewind',
      name: 'agent-p',
      nodeName: 'node-a',
      unschedulable: pending.status?.conditions?.[0].message,
      ready: false,
      terminating: false,
    });
    const plan = planTargets(
      { nodeNames: ['node-a'] },
      { nodes: [{ name: 'node-a', labels: {} }], pods: [], agentPods: [fact] },
      PORT,
    );
    expect(plan).toEqual({
      ok: true,
      plans: [
        {
          node: 'node-a',
          error:
            'rewind agent pod rewind/agent-p is not scheduled (0/1 nodes are available: 1 ' +
            'Insufficient rewind.dev/recorder): the device plugin advertises the recorder only ' +
            "while the module is loaded on the node (the node DaemonSet's loader says why it is not)",
        },
      ],
    });
    // Any other reason is given as the scheduler said it, without the hint; lacking cpu too.
    expect(unscheduledWhy('0/1 nodes are available: 1 Insufficient cpu.')).toBe(
      'is not scheduled (0/1 nodes are available: 1 Insufficient cpu)',
    );
    expect(unscheduledWhy('0/3 nodes are available: 3 node(s) had untolerated taint.')).toBe(
      'is not scheduled (0/3 nodes are available: 3 node(s) had untolerated taint)',
    );
    // Once placed, spec.nodeName is the node and a stale condition is not a refusal.
    const placed = agentPodFact({
      ...pending,
      spec: { ...pending.spec, containers: [], nodeName: 'node-a' },
    });
    expect(placed.nodeName).toBe('node-a');
    expect(placed.unschedulable).toBeUndefined();
  });

  test('agentPodFact reads node, IP, the Ready condition and deletion', () => {
    const pod: V1Pod = {
      metadata: { name: 'agent-x', namespace: 'rewind', deletionTimestamp: new Date() },
      spec: { nodeName: 'n1', containers: [] },
      status: { podIP: '10.1.1.1', conditions: [{ type: 'Ready', status: 'True' }] },
    };
    expect(agentPodFact(pod)).toEqual({
      namespace: 'rewind',
      name: 'agent-x',
      nodeName: 'n1',
      podIP: '10.1.1.1',
      ready: true,
      terminating: true,
    });
    expect(
      agentPodFact({
        metadata: { name: 'y', namespace: 'r' },
        status: { conditions: [{ type: 'Ready', status: 'False' }] },
      }),
    ).toMatchObject({
      ready: false,
      terminating: false,
    });
  });
});
