/**
 * The chart's RBAC, proven with each component's real ServiceAccount token: the agent's identity
 * can do nothing (its rules are exactly those of a ServiceAccount no role is bound to, and a
 * can-i table of what it must not do); the controller's can-i table (musts and must-nots); real
 * requests; and the controller watching TraceSnapshots across namespaces and writing their status
 * but not their spec.
 */
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import type { K8sObject } from './chart';
import { NS, OTHER_NS, useCluster } from './cluster';

const cluster = useCluster({ install: true });

describe("RBAC, proven with each component's real ServiceAccount token", () => {
  // [verb, resource, namespace or '' for cluster scope / --all-namespaces, expected]
  type Check = [string, string, string, 'yes' | 'no'];
  // The agent may do nothing: it talks to no API server (its snapshot API is mutual TLS).
  const agentChecks: Check[] = [
    ['get', 'pods', OTHER_NS, 'no'],
    ['list', 'pods', '*', 'no'],
    ['watch', 'pods', '*', 'no'],
    ['get', 'nodes', '', 'no'],
    ['list', 'nodes', '', 'no'],
    ['watch', 'nodes', '', 'no'],
    ['patch', 'nodes', '', 'no'],
    ['get', 'secrets', NS, 'no'],
    ['list', 'secrets', '*', 'no'],
    ['watch', 'secrets', '*', 'no'],
    ['get', 'tracesnapshots.rewind.dev', NS, 'no'],
    ['list', 'tracesnapshots.rewind.dev', '*', 'no'],
    ['watch', 'tracesnapshots.rewind.dev', '*', 'no'],
    ['create', 'tracesnapshots.rewind.dev', NS, 'no'],
    ['create', 'tokenreviews.authentication.k8s.io', '', 'no'],
    ['create', 'subjectaccessreviews.authorization.k8s.io', '', 'no'],
    ['create', 'events', NS, 'no'],
    ['create', 'events.events.k8s.io', 'default', 'no'],
    ['delete', 'pods', OTHER_NS, 'no'],
    ['create', 'pods', NS, 'no'],
    ['create', 'pods/exec', OTHER_NS, 'no'],
    ['get', 'configmaps', NS, 'no'],
    ['create', 'serviceaccounts/token', NS, 'no'],
    ['update', 'daemonsets.apps', NS, 'no'],
    ['get', 'leases.coordination.k8s.io', NS, 'no'],
  ];
  const controllerChecks: Check[] = [
    ['list', 'tracesnapshots.rewind.dev', '*', 'yes'],
    ['watch', 'tracesnapshots.rewind.dev', '*', 'yes'],
    ['patch', 'tracesnapshots.rewind.dev/status', OTHER_NS, 'yes'],
    ['update', 'tracesnapshots.rewind.dev/status', NS, 'yes'],
    ['delete', 'tracesnapshots.rewind.dev', OTHER_NS, 'yes'],
    ['create', 'tracesnapshots.rewind.dev', NS, 'yes'],
    ['create', 'tracesnapshots.rewind.dev', OTHER_NS, 'no'],
    ['list', 'pods', '*', 'yes'],
    ['list', 'nodes', '', 'yes'],
    ['create', 'events', OTHER_NS, 'yes'],
    ['create', 'events.events.k8s.io', NS, 'yes'],
    ['create', 'leases.coordination.k8s.io', NS, 'yes'],
    ['create', 'leases.coordination.k8s.io', OTHER_NS, 'no'],
    ['get', 'secrets', NS, 'no'],
    ['list', 'secrets', '*', 'no'],
    ['delete', 'pods', OTHER_NS, 'no'],
    ['create', 'pods', NS, 'no'],
    ['create', 'pods/exec', NS, 'no'],
    ['patch', 'nodes', '', 'no'],
    ['delete', 'nodes', '', 'no'],
    ['update', 'customresourcedefinitions.apiextensions.k8s.io', '', 'no'],
    ['create', 'tokenreviews.authentication.k8s.io', '', 'yes'],
    ['create', 'subjectaccessreviews.authorization.k8s.io', '', 'yes'],
    ['create', 'serviceaccounts/token', NS, 'no'],
    ['get', 'configmaps', NS, 'no'],
    ['update', 'deployments.apps', NS, 'no'],
    ['create', 'clusterrolebindings.rbac.authorization.k8s.io', '', 'no'],
  ];

  async function canI(token: string, [verb, resource, ns]: Check): Promise<string> {
    const args = ['auth', 'can-i', verb, resource, `--token=${token}`];
    if (ns === '*') args.push('--all-namespaces');
    else if (ns !== '') args.push('-n', ns);
    const r = await cluster.cp.kubectl(args);
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
    for (const [component, token] of Object.entries(cluster.tokens)) {
      const who = JSON.parse(
        await cluster.cp.kubectlOk(['auth', 'whoami', `--token=${token}`, '-o', 'json']),
      ) as {
        status: { userInfo: { username: string } };
      };
      expect(who.status.userInfo.username).toBe(`system:serviceaccount:${NS}:rewind-${component}`);
    }
  });

  test('agent: the can-i table, all denied', async () => {
    const got: string[] = [];
    for (const c of agentChecks)
      got.push(`${c.slice(0, 3).join(' ')} => ${await canI(cluster.tokens.agent, c)}`);
    expect(got).toEqual(agentChecks.map((c) => `${c.slice(0, 3).join(' ')} => ${c[3]}`));
  });

  test('agent: may do exactly what every authenticated identity may, in every namespace', async () => {
    // A ServiceAccount made here, bound to nothing: the baseline every authenticated identity
    // gets from the API server's default roles (discovery, self reviews).
    await cluster.cp.kubectlOk(['-n', NS, 'create', 'serviceaccount', 'nobody']);
    const nobody = (
      await cluster.cp.kubectlOk(['-n', NS, 'create', 'token', 'nobody', '--duration=1h'])
    ).trim();
    const rules = async (token: string, ns: string): Promise<string> =>
      cluster.cp.kubectlOk(['auth', 'can-i', '--list', `--token=${token}`, '-n', ns]);
    for (const ns of [NS, OTHER_NS, 'default']) {
      const agent = await rules(cluster.tokens.agent, ns);
      expect(agent).toBe(await rules(nobody, ns));
      // The check can tell: the controller's list is longer.
      expect(await rules(cluster.tokens.controller, ns)).not.toBe(agent);
    }
  });

  test("the chart binds no role to the agent's ServiceAccount", async () => {
    const subjects = async (kind: string, ns?: string): Promise<string[]> => {
      const args = ['get', kind, '-o', 'json', ...(ns ? ['-n', ns] : [])];
      const list = JSON.parse(await cluster.cp.kubectlOk(args)) as {
        items: {
          metadata: { name: string };
          subjects?: { kind: string; name: string; namespace?: string }[];
        }[];
      };
      return list.items.flatMap((b) =>
        (b.subjects ?? []).map(
          (s) => `${b.metadata.name} -> ${s.kind}/${s.namespace ?? ''}/${s.name}`,
        ),
      );
    };
    const all = [
      ...(await subjects('clusterrolebindings')),
      ...(await subjects('rolebindings', NS)),
    ];
    expect(all.filter((b) => b.endsWith(`/${NS}/rewind-agent`))).toEqual([]);
    expect(all).toContain(`rewind-controller -> ServiceAccount/${NS}/rewind-controller`);
  });

  test('controller: the can-i table', async () => {
    const got: string[] = [];
    for (const c of controllerChecks)
      got.push(`${c.slice(0, 3).join(' ')} => ${await canI(cluster.tokens.controller, c)}`);
    expect(got).toEqual(controllerChecks.map((c) => `${c.slice(0, 3).join(' ')} => ${c[3]}`));
  });

  test('real requests agree with can-i', async () => {
    const get = (p: string, token: string): Promise<number> =>
      cluster.cp.request('GET', p, undefined, token).then((r) => r.status);
    expect(await get(`/apis/rewind.dev/v1alpha1/tracesnapshots`, cluster.tokens.controller)).toBe(
      200,
    );
    expect(await get(`/api/v1/namespaces/${NS}/secrets`, cluster.tokens.controller)).toBe(403);
    expect(
      await get(`/api/v1/namespaces/${NS}/secrets/rewind-agent-tls`, cluster.tokens.agent),
    ).toBe(403);
    expect(
      await get(`/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a`, cluster.tokens.agent),
    ).toBe(403);
    expect(await get(`/api/v1/nodes`, cluster.tokens.agent)).toBe(403);
    expect(await get(`/apis/rewind.dev/v1alpha1/tracesnapshots`, cluster.tokens.agent)).toBe(403);
    const del = await cluster.cp.request(
      'DELETE',
      `/apis/rewind.dev/v1alpha1/namespaces/${NS}/tracesnapshots/sub`,
      undefined,
      cluster.tokens.agent,
    );
    expect(del.status).toBe(403);
  });
});

describe('the controller, with its own token, drives a TraceSnapshot end to end', () => {
  /** Open a watch as `token` and resolve with the first event whose object is named `name`. */
  function firstWatchEvent(token: string, urlPath: string, name: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = https.get(
        new URL(urlPath, cluster.cp.server),
        { ca: readFileSync(cluster.cp.caFile), headers: { authorization: `Bearer ${token}` } },
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
    const list = await cluster.cp.request(
      'GET',
      '/apis/rewind.dev/v1alpha1/tracesnapshots',
      undefined,
      cluster.tokens.controller,
    );
    expect(list.status).toBe(200);
    const rv = (list.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const watched = firstWatchEvent(
      cluster.tokens.controller,
      `/apis/rewind.dev/v1alpha1/tracesnapshots?watch=1&resourceVersion=${rv}`,
      'from-team-a',
    );
    const created = await cluster.cp.request(
      'POST',
      '/apis/rewind.dev/v1alpha1/namespaces/team-a/tracesnapshots',
      {
        apiVersion: 'rewind.dev/v1alpha1',
        kind: 'TraceSnapshot',
        metadata: { name: 'from-team-a' },
        spec: { target: { pods: { namespace: OTHER_NS } } },
      },
    );
    expect(created.status).toBe(201);
    expect(await watched).toBe('ADDED');

    const base = '/apis/rewind.dev/v1alpha1/namespaces/team-a/tracesnapshots/from-team-a';
    const patch = (urlPath: string, body: unknown): Promise<{ status: number; text: string }> =>
      new Promise((resolve, reject) => {
        const payload = JSON.stringify(body);
        const req = https.request(
          new URL(urlPath, cluster.cp.server),
          {
            method: 'PATCH',
            ca: readFileSync(cluster.cp.caFile),
            headers: {
              authorization: `Bearer ${cluster.tokens.controller}`,
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
    const asAgent = await cluster.cp.request('GET', base, undefined, cluster.tokens.agent);
    expect(asAgent.status).toBe(403);
  });
});
