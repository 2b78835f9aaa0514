/**
 * The TraceSnapshot CRD as the API server enforces it: defaults, printer columns, the status
 * subresource, spec immutability, and the exact messages for invalid objects.
 */
import { mergePatch, NS, OTHER_NS, traceSnapshot, useCluster } from './cluster';

const cluster = useCluster({ install: true });

describe('TraceSnapshot', () => {
  test('a valid object is stored with defaults, and kubectl get shows the printer columns', async () => {
    const created = await cluster.createObject(
      traceSnapshot('nightly', { target: { nodeNames: ['node-a', 'node-b'] }, reason: 'test' }),
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const stored = JSON.parse(
      await cluster.cp.kubectlOk(['-n', NS, 'get', 'tracesnapshot', 'nightly', '-o', 'json']),
    ) as {
      spec: { windowSeconds: number };
    };
    expect(stored.spec.windowSeconds).toBe(10); // schema default

    const table = await cluster.cp.kubectlOk(['-n', NS, 'get', 'tracesnapshots']);
    const header = table.split('\n')[0].trim().split(/\s+/);
    expect(header).toEqual(['NAME', 'PHASE', 'WINDOW', 'NODES', 'COLLECTED', 'SIZE', 'AGE']);
    expect(table).toMatch(/nightly\s+10\s+/);

    // The controller's view: write status through the status subresource; columns follow.
    const status = {
      status: {
        phase: 'Complete',
        nodeCount: 2,
        nodesSucceeded: 2,
        startTime: '2026-01-01T00:00:00Z',
        completionTime: '2026-01-01T00:00:05Z',
        nodes: [
          {
            name: 'node-a',
            phase: 'Collected',
            bytes: 1000,
            events: 10,
            lostEvents: 0,
            clockOffsetNs: -1200,
            clockUncertaintyNs: 300,
          },
          {
            name: 'node-b',
            phase: 'Collected',
            bytes: 2000,
            events: 20,
            lostEvents: 1,
            clockOffsetNs: 800,
            clockUncertaintyNs: 250,
          },
        ],
        progress: { nodesDone: 2, nodesTotal: 2, bytes: 3000 },
        trace: {
          location: 'rewind-system/nightly',
          sizeBytes: 3000,
          trimmedToBudget: false,
          startTime: '2026-01-01T00:00:00Z',
          endTime: '2026-01-01T00:00:10Z',
        },
        conditions: [
          {
            type: 'Complete',
            status: 'True',
            reason: 'AllNodesCollected',
            message: '2/2 nodes',
            lastTransitionTime: '2026-01-01T00:00:05Z',
          },
        ],
      },
    };
    await cluster.cp.kubectlOk(mergePatch('nightly', JSON.stringify(status), 'status'));
    const wide = await cluster.cp.kubectlOk(['-n', NS, 'get', 'tracesnapshots', '-o', 'wide']);
    const [head, row] = wide.trim().split('\n');
    expect(head.trim().split(/\s+/)).toEqual([
      'NAME',
      'PHASE',
      'WINDOW',
      'NODES',
      'COLLECTED',
      'SIZE',
      'REASON',
      'TRACE',
      'AGE',
    ]);
    expect(row).toMatch(
      /^nightly\s+Complete\s+10\s+2\s+2\s+3000\s+test\s+rewind-system\/nightly\s+/,
    );
  });

  test('a status write through the main resource is ignored (status subresource)', async () => {
    await cluster.createObject(traceSnapshot('sub', { target: { nodeNames: ['n1'] } }));
    await cluster.cp.kubectlOk(mergePatch('sub', '{"status":{"phase":"Failed"}}'));
    const got = JSON.parse(
      await cluster.cp.kubectlOk(['-n', NS, 'get', 'tracesnapshot', 'sub', '-o', 'json']),
    ) as {
      status?: { phase?: string };
    };
    expect(got.status?.phase).toBeUndefined();
  });

  test('an invalid status is rejected', async () => {
    const bad = await cluster.cp.kubectl(
      mergePatch(
        'sub',
        '{"status":{"phase":"Done","nodes":[{"name":"n1","phase":"Succeeded","bytes":-1}]}}',
        'status',
      ),
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('status.phase: Unsupported value: "Done"');
    expect(bad.stderr).toContain('status.nodes[0].bytes: Invalid value: -1');
    // The old phase names are gone: nodes are Collected, snapshots Complete/PartiallyFailed.
    expect(bad.stderr).toContain('status.nodes[0].phase: Unsupported value: "Succeeded"');
    const old = await cluster.cp.kubectl(
      mergePatch('sub', '{"status":{"phase":"PartiallySucceeded"}}', 'status'),
    );
    expect(old.stderr).toContain('status.phase: Unsupported value: "PartiallySucceeded"');
  });

  test('the spec is immutable', async () => {
    const patched = await cluster.cp.kubectl(mergePatch('sub', '{"spec":{"windowSeconds":20}}'));
    expect(patched.code).not.toBe(0);
    expect(patched.stderr).toContain('spec is immutable; create a new TraceSnapshot instead');
  });

  test('every target kind is accepted on its own', async () => {
    const specs = [
      {
        target: { nodeSelector: { matchLabels: { 'kubernetes.io/os': 'linux' } } },
        windowSeconds: 3600,
      },
      {
        target: {
          nodeSelector: { matchExpressions: [{ key: 'kubernetes.io/os', operator: 'Exists' }] },
        },
      },
      {
        target: { pods: { namespace: OTHER_NS, labelSelector: { matchLabels: { app: 'api' } } } },
        ttlSecondsAfterFinished: 0,
      },
      { target: { pods: { namespace: OTHER_NS } }, windowSeconds: 1 },
      { target: { allNodes: true } },
    ];
    for (const [i, spec] of specs.entries()) {
      const r = await cluster.createObject(traceSnapshot(`ok-${i}`, spec));
      expect(`${i}: ${r.stderr}`).toBe(`${i}: `);
    }
  });

  // Each invalid object and the message the API server must answer with.
  test.each<[string, unknown, string[]]>([
    ['unknown field', { target: { nodeNames: ['a'] }, bogus: 1 }, ['unknown field "spec.bogus"']],
    [
      'unknown field in target',
      { target: { nodeNames: ['a'], hosts: ['b'] } },
      ['unknown field "spec.target.hosts"'],
    ],
    [
      'negative window',
      { target: { nodeNames: ['a'] }, windowSeconds: -5 },
      [
        'spec.windowSeconds: Invalid value: -5: spec.windowSeconds in body should be greater than or equal to 1',
      ],
    ],
    [
      'zero window',
      { target: { nodeNames: ['a'] }, windowSeconds: 0 },
      ['spec.windowSeconds in body should be greater than or equal to 1'],
    ],
    [
      'window too long',
      { target: { nodeNames: ['a'] }, windowSeconds: 3601 },
      ['spec.windowSeconds in body should be less than or equal to 3600'],
    ],
    [
      'window as a string',
      { target: { nodeNames: ['a'] }, windowSeconds: 'ten' },
      [
        'spec.windowSeconds: Invalid value: "string": spec.windowSeconds in body must be of type integer',
      ],
    ],
    [
      'fractional window',
      { target: { nodeNames: ['a'] }, windowSeconds: 1.5 },
      ['spec.windowSeconds in body must be of type integer'],
    ],
    ['no target', { windowSeconds: 5 }, ['spec.target: Required value']],
    [
      'empty target',
      { target: {} },
      [
        'spec.target: Invalid value: "object": target must set exactly one of nodeNames, nodeSelector, pods or allNodes',
      ],
    ],
    [
      'two targets',
      { target: { nodeNames: ['a'], pods: { namespace: 'x' } } },
      ['target must set exactly one of nodeNames, nodeSelector, pods or allNodes'],
    ],
    [
      'allNodes with node names',
      { target: { allNodes: true, nodeNames: ['a'] } },
      ['target must set exactly one of nodeNames, nodeSelector, pods or allNodes'],
    ],
    [
      'allNodes false',
      { target: { allNodes: false } },
      ['spec.target.allNodes: Unsupported value: false: supported values: "true"'],
    ],
    [
      'empty node list',
      { target: { nodeNames: [] } },
      [
        'spec.target.nodeNames: Invalid value: 0: spec.target.nodeNames in body should have at least 1 items',
      ],
    ],
    [
      'node names as a string',
      { target: { nodeNames: 'node-a' } },
      [
        'spec.target.nodeNames: Invalid value: "string": spec.target.nodeNames in body must be of type array',
      ],
    ],
    [
      'invalid node name',
      { target: { nodeNames: ['Node_A'] } },
      ['spec.target.nodeNames[0] in body should match'],
    ],
    [
      'duplicate node names',
      { target: { nodeNames: ['a', 'a'] } },
      ['spec.target.nodeNames[1]: Duplicate value: "a"'],
    ],
    [
      'empty node selector',
      { target: { nodeSelector: {} } },
      ['nodeSelector must have matchLabels or matchExpressions'],
    ],
    [
      'bad selector operator',
      { target: { nodeSelector: { matchExpressions: [{ key: 'k', operator: 'Near' }] } } },
      ['spec.target.nodeSelector.matchExpressions[0].operator: Unsupported value: "Near"'],
    ],
    [
      'In without values',
      { target: { nodeSelector: { matchExpressions: [{ key: 'k', operator: 'In' }] } } },
      ['values must be non-empty for In and NotIn'],
    ],
    [
      'pods without namespace',
      { target: { pods: { labelSelector: { matchLabels: { a: 'b' } } } } },
      ['spec.target.pods.namespace: Required value'],
    ],
    [
      'negative ttl',
      { target: { nodeNames: ['a'] }, ttlSecondsAfterFinished: -1 },
      ['spec.ttlSecondsAfterFinished in body should be greater than or equal to 0'],
    ],
    [
      'reason as a number',
      { target: { nodeNames: ['a'] }, reason: 42 },
      ['spec.reason in body must be of type string'],
    ],
  ])('rejects %s', async (name, spec, messages) => {
    const r = await cluster.createObject(traceSnapshot(`bad-${name.replace(/\W+/g, '-')}`, spec));
    expect(r.code).not.toBe(0);
    for (const m of messages) expect(r.stderr).toContain(m);
  });

  test('the API server itself rejects unknown fields (strict field validation, no kubectl)', async () => {
    const body = traceSnapshot('raw', { target: { nodeNames: ['a'] }, bogus: true });
    const url = `/apis/rewind.dev/v1alpha1/namespaces/${NS}/tracesnapshots?fieldValidation=Strict`;
    const r = await cluster.cp.request('POST', url, body);
    expect(r.status).toBe(400);
    expect(r.text).toContain('unknown field \\"spec.bogus\\"');
    const lax = await cluster.cp.request('POST', url.replace('Strict', 'Ignore'), body);
    expect(lax.status).toBe(201); // ...and prunes it when told to ignore:
    expect(JSON.stringify(lax.body)).not.toContain('bogus');
  });
});
