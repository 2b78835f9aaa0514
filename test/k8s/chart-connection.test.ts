/**
 * The chart's side of `kubectl rewind`: the `rewind-connection` ConfigMap (the contract is
 * kubectl-rewind/connection-info.ts) and the roles people are bound to.
 *
 * Rendered with the real helm in both TLS modes: the ConfigMap parses with the plugin's own
 * schema, its CA is the one in the Secrets of the same render and signed the controller's
 * certificate, its serverName is on that certificate, its port and selector are the controller
 * Deployment's. Installed into a real kube-apiserver: the same holds for the live objects, also
 * after `helm upgrade` (the CA reused from the cluster), and real ServiceAccount tokens bound to
 * the roles may do what the plugin needs and no more, checked with `kubectl auth can-i` and real
 * requests (a WebSocket port-forward upgrade included).
 *
 * One thing is checked by its inputs only: ClusterRole aggregation into the built-in view, edit
 * and admin roles is done by kube-controller-manager, which does not run here. The test reads
 * the aggregation selectors of the API server's own bootstrap roles and checks the chart's
 * labels against them.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import {
  CONNECTION_CONFIGMAP,
  CONNECTION_KEYS,
  connectionInfoSchema,
  type ConnectionInfoData,
} from '../../kubectl-rewind/connection-info';
import { CHART_DIR, find, type K8sObject, podSpec, render } from './chart';
import { NS, OTHER_NS, RELEASE, useCluster } from './cluster';

type Data = Record<string, string>;

interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}

function one(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = find(objects, kind, name);
  if (found.length !== 1) throw new Error(`${kind}/${name}: found ${found.length}`);
  return found[0];
}

function connection(objects: K8sObject[]): ConnectionInfoData {
  const cm = one(objects, 'ConfigMap', CONNECTION_CONFIGMAP) as K8sObject & { data: Data };
  return connectionInfoSchema.parse(cm.data);
}

/** A Secret's key, decoded. */
function secretValue(secret: K8sObject, key: string): string {
  const data = (secret as K8sObject & { data: Data }).data;
  if (data[key] === undefined) throw new Error(`${secret.metadata.name} has no ${key}`);
  return Buffer.from(data[key], 'base64').toString('utf8');
}

/** `k=v,k=v` into a map. */
function parseSelector(selector: string): Data {
  return Object.fromEntries(
    selector.split(',').map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`not k=v: ${pair}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

/** The DNS names of a certificate's subjectAltName. */
function dnsNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4));
}

interface ControllerView {
  selector: Data;
  templateLabels: Data;
  apiPort: number;
}

function controllerDeployment(objects: K8sObject[], name: string): ControllerView {
  const d = one(objects, 'Deployment', name) as K8sObject & {
    spec: { selector: { matchLabels: Data }; template: { metadata: { labels: Data } } };
  };
  const container = podSpec(d).containers.find((c) => c.name === 'controller') as unknown as {
    ports: { name: string; containerPort: number }[];
  };
  const api = container.ports.find((p) => p.name === 'api');
  if (api === undefined) throw new Error('the controller container has no api port');
  return {
    selector: d.spec.selector.matchLabels,
    templateLabels: d.spec.template.metadata.labels,
    apiPort: api.containerPort,
  };
}

/** The checks both modes share: serverName, apiPort and selector against the Deployment. */
function expectMatchesDeployment(
  info: ConnectionInfoData,
  objects: K8sObject[],
  ns: string,
  fullname: string,
): void {
  expect(info.serverName).toBe(`${fullname}-controller.${ns}.svc`);
  const deployment = controllerDeployment(objects, `${fullname}-controller`);
  expect(info.apiPort).toBe(String(deployment.apiPort));
  const selector = parseSelector(info.controllerSelector);
  // The selector picks the Deployment's pods: its own selector exactly, and a subset of the pod
  // template's labels (which may carry controller.podLabels besides).
  expect(selector).toEqual(deployment.selector);
  expect(deployment.templateLabels).toEqual(expect.objectContaining(selector));
  // And not the agents': a port-forward to an agent would carry the user's token to the wrong door.
  const agent = find(objects, 'DaemonSet', `${fullname}-agent`)[0] as
    (K8sObject & { spec: { template: { metadata: { labels: Data } } } }) | undefined;
  if (agent !== undefined) {
    expect(agent.spec.template.metadata.labels).not.toEqual(expect.objectContaining(selector));
  }
}

describe('the connection ConfigMap, tls.mode=helm', () => {
  // The defaults, and a release whose every name, namespace and port differs from them.
  const cases: [string, { release: string; namespace: string; set: string[]; fullname: string }][] =
    [
      ['defaults', { release: 'rewind', namespace: 'rewind-system', set: [], fullname: 'rewind' }],
      [
        'another release, namespace, port and pod labels',
        {
          release: 'tracing',
          namespace: 'observability',
          set: ['controller.apiPort=10443', 'controller.podLabels.team=sre'],
          fullname: 'tracing-rewind',
        },
      ],
    ];

  test.each(cases)(
    '%s: the CA of the Secrets, the name on the certificate, the port and pods of the Deployment',
    async (_, c) => {
      const objects = await render({ release: c.release, namespace: c.namespace, set: c.set });
      const info = connection(objects);
      expect(info[CONNECTION_KEYS.caSecret]).toBeUndefined();
      const ca = info[CONNECTION_KEYS.ca];
      if (ca === undefined) throw new Error('no ca.crt');
      const controllerSecret = one(objects, 'Secret', `${c.fullname}-controller-tls`);
      const agentSecret = one(objects, 'Secret', `${c.fullname}-agent-tls`);
      // The same CA as both Secrets of this render (genCA is random at each call: two calls would
      // give two CAs), byte for byte.
      expect(ca).toBe(secretValue(controllerSecret, 'ca.crt'));
      expect(ca).toBe(secretValue(agentSecret, 'ca.crt'));
      const caCert = new X509Certificate(ca);
      expect(caCert.ca).toBe(true);
      const leaf = new X509Certificate(secretValue(controllerSecret, 'tls.crt'));
      expect(leaf.verify(caCert.publicKey)).toBe(true);
      expect(leaf.checkIssued(caCert)).toBe(true);
      expect(dnsNames(leaf)).toContain(info.serverName);
      expect(leaf.checkHost(info.serverName)).toBe(info.serverName);
      expectMatchesDeployment(info, objects, c.namespace, c.fullname);
      if (c.set.includes('controller.apiPort=10443')) expect(info.apiPort).toBe('10443');
    },
  );

  test("the check can tell: another render's CA did not sign this render's certificate", async () => {
    const [a, b] = await Promise.all([render(), render()]);
    const caB = new X509Certificate(connection(b)[CONNECTION_KEYS.ca] ?? '');
    const leafA = new X509Certificate(
      secretValue(one(a, 'Secret', 'rewind-controller-tls'), 'tls.crt'),
    );
    expect(leafA.verify(caB.publicKey)).toBe(false);
    expect(leafA.checkIssued(caB)).toBe(false);
  });
});

describe('the connection ConfigMap, tls.mode=cert-manager', () => {
  let objects: K8sObject[];
  beforeAll(async () => {
    objects = await render({ set: ['tls.mode=cert-manager'] });
  });

  interface CertificateSpec {
    secretName: string;
    commonName?: string;
    dnsNames?: string[];
    ipAddresses?: string[];
    usages?: string[];
    isCA?: boolean;
    issuerRef: { name: string; kind: string };
  }
  const certificate = (name: string): CertificateSpec =>
    one(objects, 'Certificate', name).spec as CertificateSpec;

  test("names a Secret of the controller's CA Issuer, not a component's Secret", () => {
    const info = connection(objects);
    expect(info[CONNECTION_KEYS.ca]).toBeUndefined();
    expect(info[CONNECTION_KEYS.caSecret]).toBe('rewind-kubectl-ca');
    const holder = find(objects, 'Certificate').find(
      (c) => (c.spec as CertificateSpec).secretName === info[CONNECTION_KEYS.caSecret],
    );
    if (holder === undefined) throw new Error('no Certificate fills the caSecret');
    const spec = holder.spec as CertificateSpec;
    const controller = certificate('rewind-controller');
    // Issued by the CA Issuer that issues the controller's certificate: cert-manager writes that
    // CA into ca.crt of both Secrets.
    expect(spec.issuerRef).toEqual(controller.issuerRef);
    expect(spec.isCA).toBeUndefined();
    // Its key must grant nothing: no component's name (the agents require the controller's),
    // no Service's DNS name, no address, no TLS usage.
    const names = [spec.commonName, ...(spec.dnsNames ?? [])];
    for (const component of ['rewind-controller', 'rewind-agent'])
      expect(names.some((n) => n?.startsWith(component))).toBe(false);
    expect(spec.dnsNames ?? []).toEqual([]);
    expect(spec.ipAddresses ?? []).toEqual([]);
    expect(spec.usages).toEqual(['digital signature']);
    expect(spec.secretName).not.toBe(controller.secretName);
  });

  test("serverName is on the controller's Certificate; port and pods are the Deployment's", () => {
    const info = connection(objects);
    expect(certificate('rewind-controller').dnsNames).toContain(info.serverName);
    expectMatchesDeployment(info, objects, 'rewind-system', 'rewind');
  });

  test('the -kubectl Role may get that Secret by name, and no other Secret', () => {
    const rules = (one(objects, 'Role', 'rewind-kubectl') as K8sObject & { rules: PolicyRule[] })
      .rules;
    const secretRules = rules.filter((r) => r.resources.includes('secrets'));
    expect(secretRules).toEqual([
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['rewind-kubectl-ca'],
        verbs: ['get'],
      },
    ]);
  });
});

describe('the user roles as rendered', () => {
  test("the -kubectl Role: exactly what the plugin needs in Rewind's namespace (tls.mode=helm)", async () => {
    const objects = await render();
    const role = one(objects, 'Role', 'rewind-kubectl') as K8sObject & { rules: PolicyRule[] };
    expect(role.metadata.namespace).toBe('rewind-system');
    expect(role.rules).toEqual([
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: [CONNECTION_CONFIGMAP],
        verbs: ['get'],
      },
      { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
      { apiGroups: [''], resources: ['pods/portforward'], verbs: ['get', 'create'] },
    ]);
  });

  test('rbac.userRoles.enabled=false: no user role, the ConfigMap stays', async () => {
    const objects = await render({ set: ['rbac.userRoles.enabled=false'] });
    expect(find(objects, 'Role', 'rewind-kubectl')).toEqual([]);
    expect(find(objects, 'ClusterRole').map((o) => o.metadata.name)).toEqual(['rewind-controller']);
    expect(find(objects, 'ConfigMap', CONNECTION_CONFIGMAP)).toHaveLength(1);
  });

  test('no controller: no ConfigMap, no user role', async () => {
    const objects = await render({
      set: [
        'controller.enabled=false',
        'agent.controllerIdentity=rewind-controller.elsewhere',
        'agent.networkPolicy.enabled=false',
      ],
    });
    expect(find(objects, 'ConfigMap')).toEqual([]);
    expect(find(objects, 'ClusterRole')).toEqual([]);
    expect(find(objects, 'Role')).toEqual([]);
  });

  test('the schema knows rbac.userRoles', async () => {
    await expect(render({ set: ['rbac.userRoles.enabled=yes'] })).rejects.toThrow('enabled');
    await expect(render({ set: ['rbac.userRoles.bogus=true'] })).rejects.toThrow(
      "additional properties 'bogus' not allowed",
    );
  });
});

describe('installed into a real API server', () => {
  const cluster = useCluster({ install: true });
  const USER = 'alice'; // the -kubectl Role in NS, the editor ClusterRole in OTHER_NS
  const READER = 'carol'; // the viewer ClusterRole, cluster-wide
  const NOBODY = 'nobody'; // bound to nothing
  const tokens: Record<string, string> = {};

  const liveConnection = async (): Promise<ConnectionInfoData> => {
    const cm = JSON.parse(
      await cluster.cp.kubectlOk([
        '-n',
        NS,
        'get',
        'configmap',
        CONNECTION_CONFIGMAP,
        '-o',
        'json',
      ]),
    ) as { data: Data };
    return connectionInfoSchema.parse(cm.data);
  };
  const liveSecret = async (name: string, key: string): Promise<string> => {
    const secret = JSON.parse(
      await cluster.cp.kubectlOk(['-n', NS, 'get', 'secret', name, '-o', 'json']),
    ) as K8sObject;
    return secretValue(secret, key);
  };

  beforeAll(async () => {
    const kubectl = (args: string[]): Promise<string> => cluster.cp.kubectlOk(args);
    for (const sa of [USER, READER, NOBODY]) {
      await kubectl(['-n', OTHER_NS, 'create', 'serviceaccount', sa]);
      tokens[sa] = (await kubectl(['-n', OTHER_NS, 'create', 'token', sa, '--duration=1h'])).trim();
    }
    const subject = (sa: string): string => `--serviceaccount=${OTHER_NS}:${sa}`;
    // What NOTES.txt and the README tell an administrator to run.
    await kubectl([
      '-n',
      NS,
      'create',
      'rolebinding',
      `rewind-kubectl-${USER}`,
      '--role=rewind-kubectl',
      subject(USER),
    ]);
    await kubectl([
      '-n',
      OTHER_NS,
      'create',
      'rolebinding',
      `rewind-editor-${USER}`,
      '--clusterrole=rewind-editor',
      subject(USER),
    ]);
    await kubectl([
      'create',
      'clusterrolebinding',
      `rewind-viewer-${READER}`,
      '--clusterrole=rewind-viewer',
      subject(READER),
    ]);
    await kubectl(['-n', NS, 'create', 'configmap', 'not-rewinds', '--from-literal=k=v']);
  });

  test('the live ConfigMap holds the CA of the live Secrets, which signed the controller certificate', async () => {
    const info = await liveConnection();
    const ca = info[CONNECTION_KEYS.ca] ?? '';
    expect(ca).toBe(await liveSecret('rewind-controller-tls', 'ca.crt'));
    expect(ca).toBe(await liveSecret('rewind-agent-tls', 'ca.crt'));
    const leaf = new X509Certificate(await liveSecret('rewind-controller-tls', 'tls.crt'));
    expect(leaf.checkIssued(new X509Certificate(ca))).toBe(true);
    expect(leaf.verify(new X509Certificate(ca).publicKey)).toBe(true);
    expect(dnsNames(leaf)).toContain(info.serverName);
  });

  test("helm upgrade keeps the CA in the ConfigMap, still the Secrets' (reused from the cluster)", async () => {
    const before = await liveConnection();
    const up = await cluster.helm([
      'upgrade',
      RELEASE,
      CHART_DIR,
      '-n',
      NS,
      '--set',
      'controller.logLevel=debug',
    ]);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    const after = await liveConnection();
    expect(after).toEqual(before);
    expect(after[CONNECTION_KEYS.ca]).toBe(await liveSecret('rewind-controller-tls', 'ca.crt'));
  });

  // [token, verb, resource, namespace ('*': all namespaces), expected]. The resource is in
  // can-i's words: `TYPE/NAME` is a named object, a subresource needs --subresource (can-i
  // reads `pods/portforward` as the pod named "portforward").
  type Check = [string, string, string, string, 'yes' | 'no'];
  const checks: Check[] = [
    // The plugin's needs in Rewind's namespace, by name where a name is known.
    [USER, 'get', `configmaps/${CONNECTION_CONFIGMAP}`, NS, 'yes'],
    [USER, 'get', 'configmaps/not-rewinds', NS, 'no'],
    [USER, 'list', 'configmaps', NS, 'no'],
    [USER, 'list', 'pods', NS, 'yes'],
    [USER, 'watch', 'pods', NS, 'no'],
    [USER, 'create', 'pods --subresource=portforward', NS, 'yes'],
    [USER, 'get', 'pods --subresource=portforward', NS, 'yes'],
    [USER, 'create', 'pods --subresource=exec', NS, 'no'],
    [USER, 'create', 'pods', NS, 'no'],
    [USER, 'get', 'secrets', NS, 'no'],
    [USER, 'get', 'secrets/rewind-controller-tls', NS, 'no'],
    [USER, 'create', 'pods --subresource=portforward', OTHER_NS, 'no'],
    [USER, 'list', 'pods', OTHER_NS, 'no'],
    // TraceSnapshots where the editor role is bound, and nowhere else.
    [USER, 'create', 'tracesnapshots.rewind.dev', OTHER_NS, 'yes'],
    [USER, 'get', 'tracesnapshots.rewind.dev', OTHER_NS, 'yes'],
    [USER, 'delete', 'tracesnapshots.rewind.dev', OTHER_NS, 'yes'],
    [USER, 'patch', 'tracesnapshots.rewind.dev --subresource=status', OTHER_NS, 'no'],
    [USER, 'create', 'tracesnapshots.rewind.dev', NS, 'no'],
    [USER, 'get', 'tracesnapshots.rewind.dev', NS, 'no'],
    [USER, 'create', 'tracesnapshots.rewind.dev', 'default', 'no'],
    [USER, 'list', 'tracesnapshots.rewind.dev', '*', 'no'],
    // The viewer, cluster-wide: what /v1/agents asks (list at the cluster scope); reads only.
    [READER, 'list', 'tracesnapshots.rewind.dev', '*', 'yes'],
    [READER, 'get', 'tracesnapshots.rewind.dev', 'default', 'yes'],
    [READER, 'create', 'tracesnapshots.rewind.dev', OTHER_NS, 'no'],
    [READER, 'delete', 'tracesnapshots.rewind.dev', OTHER_NS, 'no'],
    [READER, 'get', `configmaps/${CONNECTION_CONFIGMAP}`, NS, 'no'],
    // The control: the same questions, bound to nothing.
    [NOBODY, 'get', `configmaps/${CONNECTION_CONFIGMAP}`, NS, 'no'],
    [NOBODY, 'create', 'pods --subresource=portforward', NS, 'no'],
    [NOBODY, 'create', 'tracesnapshots.rewind.dev', OTHER_NS, 'no'],
  ];

  test('the can-i table of a user bound as the README says, a cluster-wide reader and nobody', async () => {
    const got: string[] = [];
    for (const [who, verb, resource, ns] of checks) {
      const args = ['auth', 'can-i', verb, ...resource.split(' '), `--token=${tokens[who]}`];
      args.push(...(ns === '*' ? ['--all-namespaces'] : ['-n', ns]));
      const r = await cluster.cp.kubectl(args);
      // can-i exits 0 for yes and 1 for no; anything else is an error.
      const answer = r.stdout.trim();
      if (!((r.code === 0 && answer === 'yes') || (r.code === 1 && answer === 'no')))
        throw new Error(`kubectl ${args.join(' ')} -> ${r.code} ${r.stdout} ${r.stderr}`);
      got.push(`${who} ${verb} ${resource} ${ns} => ${answer}`);
    }
    expect(got).toEqual(
      checks.map(
        ([who, verb, resource, ns, want]) => `${who} ${verb} ${resource} ${ns} => ${want}`,
      ),
    );
  });

  test('real requests: the ConfigMap, the controller pods, a TraceSnapshot where bound', async () => {
    const request = (method: string, p: string, who: string, body?: unknown) =>
      cluster.cp.request(method, p, body, tokens[who]);
    const cm = await request(
      'GET',
      `/api/v1/namespaces/${NS}/configmaps/${CONNECTION_CONFIGMAP}`,
      USER,
    );
    expect(cm.status).toBe(200);
    const info = connectionInfoSchema.parse((cm.body as { data: Data }).data);
    expect(info).toEqual(await liveConnection());
    expect(
      (await request('GET', `/api/v1/namespaces/${NS}/configmaps/not-rewinds`, USER)).status,
    ).toBe(403);
    expect(
      (await request('GET', `/api/v1/namespaces/${NS}/configmaps/${CONNECTION_CONFIGMAP}`, NOBODY))
        .status,
    ).toBe(403);
    const selector = encodeURIComponent(info.controllerSelector);
    expect(
      (await request('GET', `/api/v1/namespaces/${NS}/pods?labelSelector=${selector}`, USER))
        .status,
    ).toBe(200);
    expect(
      (await request('GET', `/api/v1/namespaces/${NS}/pods?labelSelector=${selector}`, NOBODY))
        .status,
    ).toBe(403);
    const snapshot = (ns: string) => ({
      apiVersion: 'rewind.dev/v1alpha1',
      kind: 'TraceSnapshot',
      metadata: { name: 'by-alice', namespace: ns },
      spec: { target: { nodeNames: ['node-a'] }, windowSeconds: 10 },
    });
    const tsPath = (ns: string) => `/apis/rewind.dev/v1alpha1/namespaces/${ns}/tracesnapshots`;
    expect((await request('POST', tsPath(OTHER_NS), USER, snapshot(OTHER_NS))).status).toBe(201);
    expect((await request('POST', tsPath(NS), USER, snapshot(NS))).status).toBe(403);
    // The editor may change the spec, never the status (the controller's to write).
    const own = await request('GET', `${tsPath(OTHER_NS)}/by-alice`, USER);
    expect(own.status).toBe(200);
    expect((await request('PUT', `${tsPath(OTHER_NS)}/by-alice`, USER, own.body)).status).toBe(200);
    const mine = (await request('GET', `${tsPath(OTHER_NS)}/by-alice`, USER)).body;
    expect((await request('PUT', `${tsPath(OTHER_NS)}/by-alice/status`, USER, mine)).status).toBe(
      403,
    );
    expect((await request('GET', `${tsPath(OTHER_NS)}/by-alice`, READER)).status).toBe(200);
    expect((await request('GET', '/apis/rewind.dev/v1alpha1/tracesnapshots', READER)).status).toBe(
      200,
    );
    expect((await request('GET', '/apis/rewind.dev/v1alpha1/tracesnapshots', USER)).status).toBe(
      403,
    );
  });

  /**
   * A WebSocket port-forward upgrade, as client-node's PortForward opens it; resolves with the
   * API server's status (101 if it upgraded) and its message.
   */
  function portForward(token: string, pod: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        new URL(`/api/v1/namespaces/${NS}/pods/${pod}/portforward?ports=9411`, cluster.cp.server),
        {
          ca: readFileSync(cluster.cp.caFile),
          headers: {
            authorization: `Bearer ${token}`,
            connection: 'Upgrade',
            upgrade: 'websocket',
            'sec-websocket-version': '13',
            'sec-websocket-key': randomBytes(16).toString('base64'),
            'sec-websocket-protocol': 'v4.channel.k8s.io',
          },
        },
      );
      req.on('upgrade', (_res, socket) => {
        socket.destroy();
        resolve({ status: 101, text: '' });
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** The message of an API server Status body. */
  const message = (text: string): string => (JSON.parse(text) as { message: string }).message;

  test('a WebSocket port-forward to a controller pod passes authorization; without the Role it does not', async () => {
    // No kubelet runs here, so no pod runs and no forward can complete: a pod object with the
    // controller's labels, never scheduled, is what the API server authorizes against. Past
    // authorization it answers that the pod has no node; before it, 403.
    const info = await liveConnection();
    await cluster.cp.kubectl(['-n', NS, 'create', 'serviceaccount', 'default']);
    const created = await cluster.createObject({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'controller-stand-in',
        namespace: NS,
        labels: parseSelector(info.controllerSelector),
      },
      spec: { automountServiceAccountToken: false, containers: [{ name: 'c', image: 'rewind' }] },
    });
    expect(created.stderr).toBe('');
    const allowed = await portForward(tokens[USER], 'controller-stand-in');
    expect([allowed.status, message(allowed.text)]).toEqual([
      400,
      'pod controller-stand-in does not have a host assigned',
    ]);
    const denied = await portForward(tokens[NOBODY], 'controller-stand-in');
    expect(denied.status).toBe(403);
    expect(message(denied.text)).toMatch(/^pods "controller-stand-in" is forbidden/);
  });

  test('a WebSocket port-forward needs "get" on pods/portforward: "create" alone is refused', async () => {
    // Why the Role grants both verbs: the upgrade is a GET (authorized as get; Kubernetes 1.35
    // also asks for create), SPDY is a POST (create).
    await cluster.cp.kubectlOk([
      '-n',
      NS,
      'create',
      'role',
      'portforward-create-only',
      '--verb=create',
      '--resource=pods/portforward',
    ]);
    await cluster.cp.kubectlOk([
      '-n',
      NS,
      'create',
      'rolebinding',
      'portforward-create-only',
      '--role=portforward-create-only',
      `--serviceaccount=${OTHER_NS}:${NOBODY}`,
    ]);
    const r = await portForward(tokens[NOBODY], 'controller-stand-in');
    expect(r.status).toBe(403);
    expect(message(r.text)).toContain('cannot get resource "pods/portforward"');
  });

  test("aggregation: the chart's labels select its roles into the API server's own view, edit and admin", async () => {
    const selectorsOf = async (role: string): Promise<Data[]> => {
      const r = JSON.parse(
        await cluster.cp.kubectlOk(['get', 'clusterrole', role, '-o', 'json']),
      ) as {
        aggregationRule?: { clusterRoleSelectors: { matchLabels?: Data }[] };
      };
      return (r.aggregationRule?.clusterRoleSelectors ?? []).map((s) => s.matchLabels ?? {});
    };
    const labelsOf = async (role: string): Promise<Data> =>
      (
        JSON.parse(
          await cluster.cp.kubectlOk(['get', 'clusterrole', role, '-o', 'json']),
        ) as K8sObject
      ).metadata.labels ?? {};
    const selects = (selectors: Data[], labels: Data): boolean =>
      selectors.some(
        (s) => Object.keys(s).length > 0 && Object.entries(s).every(([k, v]) => labels[k] === v),
      );
    const got: string[] = [];
    for (const role of ['rewind-viewer', 'rewind-editor']) {
      const labels = await labelsOf(role);
      for (const builtIn of ['view', 'edit', 'admin'])
        got.push(`${role} in ${builtIn}: ${selects(await selectorsOf(builtIn), labels)}`);
    }
    expect(got).toEqual([
      'rewind-viewer in view: true',
      'rewind-viewer in edit: true',
      'rewind-viewer in admin: true',
      'rewind-editor in view: false',
      'rewind-editor in edit: true',
      'rewind-editor in admin: true',
    ]);
  });

  test('the cert-manager Role, applied: get on the CA Secret alone', async () => {
    // Rendered for another release in OTHER_NS (no cert-manager runs here: only its Role is
    // applied), bound to a fresh ServiceAccount.
    const objects = await render({
      release: 'cm',
      namespace: OTHER_NS,
      set: ['tls.mode=cert-manager'],
    });
    const role = one(objects, 'Role', 'cm-rewind-kubectl');
    const created = await cluster.createObject(role);
    expect(created.stderr).toBe('');
    await cluster.cp.kubectlOk(['-n', OTHER_NS, 'create', 'serviceaccount', 'dave']);
    await cluster.cp.kubectlOk([
      '-n',
      OTHER_NS,
      'create',
      'rolebinding',
      'cm-rewind-kubectl-dave',
      '--role=cm-rewind-kubectl',
      `--serviceaccount=${OTHER_NS}:dave`,
    ]);
    const token = (
      await cluster.cp.kubectlOk(['-n', OTHER_NS, 'create', 'token', 'dave', '--duration=1h'])
    ).trim();
    const canI = async (verb: string, resource: string): Promise<string> =>
      (
        await cluster.cp.kubectl([
          'auth',
          'can-i',
          verb,
          resource,
          `--token=${token}`,
          '-n',
          OTHER_NS,
        ])
      ).stdout.trim();
    expect(await canI('get', 'secrets/cm-rewind-kubectl-ca')).toBe('yes');
    expect(await canI('get', 'secrets/cm-rewind-controller-tls')).toBe('no');
    expect(await canI('get', 'secrets/cm-rewind-ca')).toBe('no');
    expect(await canI('list', 'secrets')).toBe('no');
    expect(await canI('get', `configmaps/${CONNECTION_CONFIGMAP}`)).toBe('yes');
  });
});
