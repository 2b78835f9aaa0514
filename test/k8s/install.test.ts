/**
 * charts/rewind against a real kube-apiserver: install, the TraceSnapshot CRD and its schema,
 * RBAC checked with each component's own ServiceAccount token, TokenReview, upgrade, uninstall.
 * No kubelet runs, so pods are never scheduled; everything the API server decides is real.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { dump } from 'js-yaml';
import { run, type RunResult } from './binaries';
import { CHART_DIR, type K8sObject, parseManifests } from './chart';
import { type ControlPlane, startControlPlane } from './controlPlane';

const NS = 'rewind-system';
const RELEASE = 'rewind';
let cp: ControlPlane;
let scratch: string;
let installOutput: RunResult;
let tokens: { agent: string; controller: string };

const helm = (args: string[]): Promise<RunResult> =>
  run('helm', [...args, '--kubeconfig', cp.kubeconfigPath], { timeoutMs: 170_000 });

beforeAll(async () => {
  cp = await startControlPlane();
  scratch = mkdtempSync(path.join(os.tmpdir(), 'rewind-install-'));
  await cp.kubectlOk(['create', 'namespace', NS]);
  await cp.kubectlOk(['create', 'namespace', 'team-a']);
  installOutput = await helm(['install', RELEASE, CHART_DIR, '--namespace', NS, '--timeout', '2m']);
  if (installOutput.code !== 0) {
    throw new Error(`helm install failed:\n${installOutput.stderr}${installOutput.stdout}`);
  }
  const token = async (sa: string): Promise<string> =>
    (await cp.kubectlOk(['-n', NS, 'create', 'token', sa, '--duration=1h'])).trim();
  tokens = { agent: await token('rewind-agent'), controller: await token('rewind-controller') };
});

afterAll(async () => {
  await cp?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** kubectl create -f <object>; returns the result (exit code and messages). */
async function createObject(object: unknown): Promise<RunResult> {
  const file = path.join(scratch, `obj-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, dump(object));
  return cp.kubectl(['create', '-f', file]);
}

/** The kubectl arguments of a merge patch of TraceSnapshot `name` (optionally its status). */
function mergePatch(name: string, patch: string, subresource?: 'status'): string[] {
  return ['-n', NS, 'patch', 'tracesnapshot', name]
    .concat(subresource ? [`--subresource=${subresource}`] : [])
    .concat(['--type=merge', '-p', patch]);
}

function traceSnapshot(name: string, spec: unknown): unknown {
  return {
    apiVersion: 'rewind.dev/v1alpha1',
    kind: 'TraceSnapshot',
    metadata: { name, namespace: NS },
    spec,
  };
}

describe('helm install into the API server', () => {
  test('succeeds and prints NOTES with the next commands', () => {
    expect(installOutput.stdout).toContain('STATUS: deployed');
    expect(installOutput.stdout).toContain(
      `kubectl -n ${NS} rollout status daemonset/rewind-agent`,
    );
    expect(installOutput.stdout).toContain(`kubectl -n ${NS} get tracesnapshots -w`);
    expect(installOutput.stdout).toContain(`helm test ${RELEASE} -n ${NS}`);
  });

  test('every object of the release exists in the API server', async () => {
    const manifest = await helm(['get', 'manifest', RELEASE, '-n', NS]);
    expect(manifest.code).toBe(0);
    const objects = parseManifests(manifest.stdout);
    expect(objects.length).toBeGreaterThanOrEqual(16);
    const missing: string[] = [];
    for (const o of objects) {
      const args = ['get', `${o.kind}/${o.metadata.name}`, '-o', 'json'];
      if (o.metadata.namespace) args.push('-n', o.metadata.namespace);
      const got = await cp.kubectl(args);
      if (got.code !== 0) {
        missing.push(`${o.kind}/${o.metadata.name}: ${got.stderr.trim()}`);
        continue;
      }
      const live = JSON.parse(got.stdout) as K8sObject;
      expect(live.metadata.labels?.['app.kubernetes.io/instance']).toBe(RELEASE);
    }
    expect(missing).toEqual([]);
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of [
      'DaemonSet',
      'Deployment',
      'ClusterRole',
      'Role',
      'Secret',
      'NetworkPolicy',
    ]) {
      expect(kinds).toContain(kind);
    }
  });

  test('the TraceSnapshot CRD is Established and served', async () => {
    const crd = JSON.parse(
      await cp.kubectlOk(['get', 'crd', 'tracesnapshots.rewind.dev', '-o', 'json']),
    ) as { status: { conditions: { type: string; status: string }[] } };
    const established = crd.status.conditions.find((c) => c.type === 'Established');
    expect(established?.status).toBe('True');
    const names = crd.status.conditions.find((c) => c.type === 'NamesAccepted');
    expect(names?.status).toBe('True');
    const resources = await cp.kubectlOk(['api-resources', '--api-group=rewind.dev', '-o', 'name']);
    expect(resources.trim()).toBe('tracesnapshots.rewind.dev');
  });
});

describe('TraceSnapshot', () => {
  test('a valid object is stored with defaults, and kubectl get shows the printer columns', async () => {
    const created = await createObject(
      traceSnapshot('nightly', { target: { nodeNames: ['node-a', 'node-b'] }, reason: 'test' }),
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const stored = JSON.parse(
      await cp.kubectlOk(['-n', NS, 'get', 'tracesnapshot', 'nightly', '-o', 'json']),
    ) as {
      spec: { windowSeconds: number };
    };
    expect(stored.spec.windowSeconds).toBe(10); // schema default

    const table = await cp.kubectlOk(['-n', NS, 'get', 'tracesnapshots']);
    const header = table.split('\n')[0].trim().split(/\s+/);
    expect(header).toEqual(['NAME', 'PHASE', 'WINDOW', 'NODES', 'COLLECTED', 'SIZE', 'AGE']);
    expect(table).toMatch(/nightly\s+10\s+/);

    // The controller's view: write status through the status subresource; columns follow.
    const status = {
      status: {
        phase: 'Succeeded',
        nodeCount: 2,
        nodesSucceeded: 2,
        startTime: '2026-01-01T00:00:00Z',
        completionTime: '2026-01-01T00:00:05Z',
        nodes: [
          {
            name: 'node-a',
            phase: 'Succeeded',
            bytes: 1000,
            events: 10,
            lostEvents: 0,
            clockOffsetNs: -1200,
            clockUncertaintyNs: 300,
          },
          {
            name: 'node-b',
            phase: 'Succeeded',
            bytes: 2000,
            events: 20,
            lostEvents: 1,
            clockOffsetNs: 800,
            clockUncertaintyNs: 250,
          },
        ],
        trace: {
          location: 'rewind-system/nightly',
          sizeBytes: 3000,
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
    await cp.kubectlOk(mergePatch('nightly', JSON.stringify(status), 'status'));
    const wide = await cp.kubectlOk(['-n', NS, 'get', 'tracesnapshots', '-o', 'wide']);
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
      /^nightly\s+Succeeded\s+10\s+2\s+2\s+3000\s+test\s+rewind-system\/nightly\s+/,
    );
  });

  test('a status write through the main resource is ignored (status subresource)', async () => {
    await createObject(traceSnapshot('sub', { target: { nodeNames: ['n1'] } }));
    await cp.kubectlOk(mergePatch('sub', '{"status":{"phase":"Failed"}}'));
    const got = JSON.parse(
      await cp.kubectlOk(['-n', NS, 'get', 'tracesnapshot', 'sub', '-o', 'json']),
    ) as {
      status?: { phase?: string };
    };
    expect(got.status?.phase).toBeUndefined();
  });

  test('an invalid status is rejected', async () => {
    const bad = await cp.kubectl(
      mergePatch(
        'sub',
        '{"status":{"phase":"Done","nodes":[{"name":"n1","phase":"Succeeded","bytes":-1}]}}',
        'status',
      ),
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('status.phase: Unsupported value: "Done"');
    expect(bad.stderr).toContain('status.nodes[0].bytes: Invalid value: -1');
  });

  test('the spec is immutable', async () => {
    const patched = await cp.kubectl(mergePatch('sub', '{"spec":{"windowSeconds":20}}'));
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
        target: { pods: { namespace: 'team-a', labelSelector: { matchLabels: { app: 'api' } } } },
        ttlSecondsAfterFinished: 0,
      },
      { target: { pods: { namespace: 'team-a' } }, windowSeconds: 1 },
    ];
    for (const [i, spec] of specs.entries()) {
      const r = await createObject(traceSnapshot(`ok-${i}`, spec));
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
        'spec.target: Invalid value: "object": target must set exactly one of nodeNames, nodeSelector or pods',
      ],
    ],
    [
      'two targets',
      { target: { nodeNames: ['a'], pods: { namespace: 'x' } } },
      ['target must set exactly one of nodeNames, nodeSelector or pods'],
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
    const r = await createObject(traceSnapshot(`bad-${name.replace(/\W+/g, '-')}`, spec));
    expect(r.code).not.toBe(0);
    for (const m of messages) expect(r.stderr).toContain(m);
  });

  test('the API server itself rejects unknown fields (strict field validation, no kubectl)', async () => {
    const body = traceSnapshot('raw', { target: { nodeNames: ['a'] }, bogus: true });
    const url = `/apis/rewind.dev/v1alpha1/namespaces/${NS}/tracesnapshots?fieldValidation=Strict`;
    const r = await cp.request('POST', url, body);
    expect(r.status).toBe(400);
    expect(r.text).toContain('unknown field \\"spec.bogus\\"');
    const lax = await cp.request('POST', url.replace('Strict', 'Ignore'), body);
    expect(lax.status).toBe(201); // ...and prunes it when told to ignore:
    expect(JSON.stringify(lax.body)).not.toContain('bogus');
  });
});

describe("RBAC, proven with each component's real ServiceAccount token", () => {
  // [verb, resource, namespace or '' for cluster scope / --all-namespaces, expected]
  type Check = [string, string, string, 'yes' | 'no'];
  const agentChecks: Check[] = [
    ['create', 'tokenreviews.authentication.k8s.io', '', 'yes'],
    ['get', 'pods', 'team-a', 'yes'],
    ['list', 'pods', '*', 'yes'],
    ['watch', 'pods', '*', 'yes'],
    ['create', 'events', NS, 'yes'],
    ['create', 'events.events.k8s.io', 'default', 'yes'],
    ['delete', 'events', NS, 'no'],
    ['get', 'secrets', NS, 'no'],
    ['list', 'secrets', '*', 'no'],
    ['delete', 'pods', 'team-a', 'no'],
    ['create', 'pods', NS, 'no'],
    ['create', 'pods/exec', 'team-a', 'no'],
    ['patch', 'nodes', '', 'no'],
    ['list', 'nodes', '', 'no'],
    ['get', 'configmaps', NS, 'no'],
    ['list', 'tracesnapshots.rewind.dev', '*', 'no'],
    ['create', 'tracesnapshots.rewind.dev', NS, 'no'],
    ['create', 'subjectaccessreviews.authorization.k8s.io', '', 'no'],
    ['create', 'serviceaccounts/token', NS, 'no'],
    ['update', 'daemonsets.apps', NS, 'no'],
  ];
  const controllerChecks: Check[] = [
    ['list', 'tracesnapshots.rewind.dev', '*', 'yes'],
    ['watch', 'tracesnapshots.rewind.dev', '*', 'yes'],
    ['patch', 'tracesnapshots.rewind.dev/status', 'team-a', 'yes'],
    ['update', 'tracesnapshots.rewind.dev/status', NS, 'yes'],
    ['delete', 'tracesnapshots.rewind.dev', 'team-a', 'yes'],
    ['create', 'tracesnapshots.rewind.dev', NS, 'yes'],
    ['create', 'tracesnapshots.rewind.dev', 'team-a', 'no'],
    ['list', 'pods', '*', 'yes'],
    ['list', 'nodes', '', 'yes'],
    ['create', 'events', 'team-a', 'yes'],
    ['create', 'events.events.k8s.io', NS, 'yes'],
    ['create', 'leases.coordination.k8s.io', NS, 'yes'],
    ['create', 'leases.coordination.k8s.io', 'team-a', 'no'],
    ['get', 'secrets', NS, 'no'],
    ['list', 'secrets', '*', 'no'],
    ['delete', 'pods', 'team-a', 'no'],
    ['create', 'pods', NS, 'no'],
    ['create', 'pods/exec', NS, 'no'],
    ['patch', 'nodes', '', 'no'],
    ['delete', 'nodes', '', 'no'],
    ['update', 'customresourcedefinitions.apiextensions.k8s.io', '', 'no'],
    ['create', 'tokenreviews.authentication.k8s.io', '', 'no'],
    ['create', 'serviceaccounts/token', NS, 'no'],
    ['get', 'configmaps', NS, 'no'],
    ['update', 'deployments.apps', NS, 'no'],
    ['create', 'clusterrolebindings.rbac.authorization.k8s.io', '', 'no'],
  ];

  async function canI(token: string, [verb, resource, ns]: Check): Promise<string> {
    const args = ['auth', 'can-i', verb, resource, `--token=${token}`];
    if (ns === '*') args.push('--all-namespaces');
    else if (ns !== '') args.push('-n', ns);
    const r = await cp.kubectl(args);
    // can-i exits 0 for yes and 1 for no; anything else (or other output) is an error.
    if (!(
      (r.code === 0 && r.stdout.trim() === 'yes') ||
      (r.code === 1 && r.stdout.trim() === 'no')
    )) {
      throw new Error(`kubectl ${args.join(' ')} -> ${r.code} ${r.stdout} ${r.stderr}`);
    }
    return r.stdout.trim();
  }

  test('the tokens belong to the components (whoami)', async () => {
    for (const [component, token] of Object.entries(tokens)) {
      const who = JSON.parse(
        await cp.kubectlOk(['auth', 'whoami', `--token=${token}`, '-o', 'json']),
      ) as {
        status: { userInfo: { username: string } };
      };
      expect(who.status.userInfo.username).toBe(`system:serviceaccount:${NS}:rewind-${component}`);
    }
  });

  test('agent: the can-i table', async () => {
    const got: string[] = [];
    for (const c of agentChecks)
      got.push(`${c.slice(0, 3).join(' ')} => ${await canI(tokens.agent, c)}`);
    expect(got).toEqual(agentChecks.map((c) => `${c.slice(0, 3).join(' ')} => ${c[3]}`));
  });

  test('controller: the can-i table', async () => {
    const got: string[] = [];
    for (const c of controllerChecks)
      got.push(`${c.slice(0, 3).join(' ')} => ${await canI(tokens.controller, c)}`);
    expect(got).toEqual(controllerChecks.map((c) => `${c.slice(0, 3).join(' ')} => ${c[3]}`));
  });

  test('real requests agree with can-i', async () => {
    const get = (p: string, token: string): Promise<number> =>
      cp.request('GET', p, undefined, token).then((r) => r.status);
    expect(await get(`/apis/rewind.dev/v1alpha1/tracesnapshots`, tokens.controller)).toBe(200);
    expect(await get(`/api/v1/namespaces/${NS}/secrets`, tokens.controller)).toBe(403);
    expect(await get(`/api/v1/namespaces/${NS}/secrets/rewind-agent-tls`, tokens.agent)).toBe(403);
    expect(await get(`/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a`, tokens.agent)).toBe(200);
    expect(await get(`/apis/rewind.dev/v1alpha1/tracesnapshots`, tokens.agent)).toBe(403);
    const del = await cp.request(
      'DELETE',
      `/apis/rewind.dev/v1alpha1/namespaces/${NS}/tracesnapshots/sub`,
      undefined,
      tokens.agent,
    );
    expect(del.status).toBe(403);
  });
});

describe('the controller, with its own token, drives a TraceSnapshot end to end', () => {
  /** Open a watch as `token` and resolve with the first event whose object is named `name`. */
  function firstWatchEvent(token: string, urlPath: string, name: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = https.get(
        new URL(urlPath, cp.server),
        { ca: readFileSync(cp.caFile), headers: { authorization: `Bearer ${token}` } },
        (res) => {
          if (res.statusCode !== 200) reject(new Error(`watch answered ${res.statusCode}`));
          let buffered = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffered += chunk;
            for (const line of buffered.split('\n').slice(0, -1)) {
              const event = JSON.parse(line) as { type: string; object: K8sObject };
              if (event.object.metadata.name === name) {
                req.destroy();
                resolve(event.type);
              }
            }
            buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
          });
        },
      );
      req.on('error', (e) => (e.message === 'socket hang up' ? undefined : reject(e)));
      setTimeout(() => reject(new Error('no watch event within 20 s')), 20_000).unref();
    });
  }

  test('watch across namespaces, then status through the subresource', async () => {
    const list = await cp.request(
      'GET',
      '/apis/rewind.dev/v1alpha1/tracesnapshots',
      undefined,
      tokens.controller,
    );
    expect(list.status).toBe(200);
    const rv = (list.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const watched = firstWatchEvent(
      tokens.controller,
      `/apis/rewind.dev/v1alpha1/tracesnapshots?watch=1&resourceVersion=${rv}`,
      'from-team-a',
    );
    const created = await cp.request(
      'POST',
      '/apis/rewind.dev/v1alpha1/namespaces/team-a/tracesnapshots',
      {
        apiVersion: 'rewind.dev/v1alpha1',
        kind: 'TraceSnapshot',
        metadata: { name: 'from-team-a' },
        spec: { target: { pods: { namespace: 'team-a' } } },
      },
    );
    expect(created.status).toBe(201);
    expect(await watched).toBe('ADDED');

    const base = '/apis/rewind.dev/v1alpha1/namespaces/team-a/tracesnapshots/from-team-a';
    const patch = (urlPath: string, body: unknown): Promise<{ status: number; text: string }> =>
      new Promise((resolve, reject) => {
        const payload = JSON.stringify(body);
        const req = https.request(
          new URL(urlPath, cp.server),
          {
            method: 'PATCH',
            ca: readFileSync(cp.caFile),
            headers: {
              authorization: `Bearer ${tokens.controller}`,
              'content-type': 'application/merge-patch+json',
              'content-length': Buffer.byteLength(payload),
            },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    const status = await patch(`${base}/status`, { status: { phase: 'Collecting', nodeCount: 1 } });
    expect(status.status).toBe(200);
    expect(JSON.parse(status.text).status.phase).toBe('Collecting');
    // May patch the object, but the API server keeps the spec immutable even for it.
    const spec = await patch(base, { spec: { windowSeconds: 99 } });
    expect(spec.status).toBe(422);
    expect(spec.text).toContain('spec is immutable');
    // And the agent may not touch it at all.
    const asAgent = await cp.request('GET', base, undefined, tokens.agent);
    expect(asAgent.status).toBe(403);
  });
});

describe('Pod Security admission', () => {
  const restricted = 'psa-restricted';
  const dryRun = async (template: string): Promise<RunResult> => {
    const rendered = await run('helm', [
      'template',
      RELEASE,
      CHART_DIR,
      '-n',
      restricted,
      '--show-only',
      template,
    ]);
    expect(rendered.code).toBe(0);
    const file = path.join(scratch, path.basename(template));
    writeFileSync(file, rendered.stdout);
    return cp.kubectl(['create', '--dry-run=server', '-f', file]);
  };

  beforeAll(async () => {
    await cp.kubectlOk(['create', 'namespace', restricted]);
    await cp.kubectlOk([
      'label',
      'namespace',
      restricted,
      'pod-security.kubernetes.io/enforce=restricted',
      'pod-security.kubernetes.io/warn=restricted',
    ]);
    // No controller-manager here to create each namespace's "default" ServiceAccount.
    await cp.kubectlOk(['-n', restricted, 'create', 'serviceaccount', 'default']);
  });

  test('the controller and the helm test pod pass "restricted"', async () => {
    const deployment = await dryRun('templates/controller/deployment.yaml');
    expect(deployment.code).toBe(0);
    expect(deployment.stderr).not.toContain('would violate PodSecurity');
    // Pods are enforced, not only warned about: this one would be refused if it violated.
    const pod = await dryRun('templates/tests/test-health.yaml');
    expect(pod.stderr).toBe('');
    expect(pod.code).toBe(0);
    // ...as this one is: the same pod with the agent's hostPID.
    const hostPid = await createObject({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'host-pid', namespace: restricted },
      spec: { hostPID: true, containers: [{ name: 'c', image: 'rewind:0.1.0' }] },
    });
    expect(hostPid.code).not.toBe(0);
    expect(hostPid.stderr).toContain(
      'violates PodSecurity "restricted:latest": host namespaces (hostPID=true)',
    );
  });

  test('the agent needs "privileged", and the API server says exactly why', async () => {
    const ds = await dryRun('templates/agent/daemonset.yaml');
    expect(ds.stderr).toContain('would violate PodSecurity "restricted:latest"');
    expect(ds.stderr).toContain('host namespaces (hostPID=true)');
    expect(ds.stderr).toContain(
      'privileged (container "load-module" must not set securityContext.privileged=true)',
    );
  });
});

describe('TokenReview', () => {
  interface Review {
    status: {
      authenticated?: boolean;
      user?: { username: string; uid: string; groups: string[] };
      audiences?: string[];
    };
  }
  const review = (token: string, reviewer: string | undefined) =>
    cp.request(
      'POST',
      '/apis/authentication.k8s.io/v1/tokenreviews',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      reviewer,
    );

  test('of the controller token reports its identity', async () => {
    const r = await review(tokens.controller, undefined);
    expect(r.status).toBe(201);
    const { status } = r.body as Review;
    expect(status.authenticated).toBe(true);
    expect(status.user?.username).toBe(`system:serviceaccount:${NS}:rewind-controller`);
    expect(status.user?.groups).toEqual(
      expect.arrayContaining([
        'system:serviceaccounts',
        `system:serviceaccounts:${NS}`,
        'system:authenticated',
      ]),
    );
    const sa = JSON.parse(
      await cp.kubectlOk(['-n', NS, 'get', 'serviceaccount', 'rewind-controller', '-o', 'json']),
    ) as { metadata: { uid: string } };
    expect(status.user?.uid).toBe(sa.metadata.uid);
  });

  test('made by the agent with its own token, as the agent does before serving a snapshot', async () => {
    const r = await review(tokens.controller, tokens.agent);
    expect(r.status).toBe(201);
    expect((r.body as Review).status.user?.username).toBe(
      `system:serviceaccount:${NS}:rewind-controller`,
    );
    // The controller may not review tokens: it has no need to.
    expect((await review(tokens.agent, tokens.controller)).status).toBe(403);
  });

  test('of a forged token is not authenticated', async () => {
    const [h, p] = tokens.controller.split('.');
    const r = await review(`${h}.${p}.${Buffer.from('forged').toString('base64url')}`, undefined);
    expect(r.status).toBe(201);
    expect((r.body as Review).status.authenticated).toBeFalsy();
  });
});

describe('upgrade and uninstall', () => {
  const caOf = async (secret: string): Promise<string> =>
    (
      await cp.kubectlOk(['-n', NS, 'get', 'secret', secret, '-o', 'jsonpath={.data.ca\\.crt}'])
    ).trim();

  test('helm upgrade keeps the generated certificates', async () => {
    const before = await caOf('rewind-agent-tls');
    expect(before.length).toBeGreaterThan(100);
    const up = await helm([
      'upgrade',
      RELEASE,
      CHART_DIR,
      '-n',
      NS,
      '--set',
      'agent.logLevel=debug',
    ]);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(await caOf('rewind-agent-tls')).toBe(before);
    expect(await caOf('rewind-controller-tls')).toBe(before);
  });

  test('helm uninstall removes the release but keeps the traces claim and the CRD', async () => {
    const un = await helm(['uninstall', RELEASE, '-n', NS]);
    expect(un.code).toBe(0);
    expect((await cp.kubectl(['-n', NS, 'get', 'daemonset', 'rewind-agent'])).code).not.toBe(0);
    expect((await cp.kubectl(['get', 'clusterrole', 'rewind-controller'])).code).not.toBe(0);
    await cp.kubectlOk(['-n', NS, 'get', 'pvc', 'rewind-controller-traces']);
    await cp.kubectlOk(['get', 'crd', 'tracesnapshots.rewind.dev']);
  });
});
