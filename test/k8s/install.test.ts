/**
 * charts/rewind installed into a real kube-apiserver: NOTES, every object of the release, the
 * CRD served; then upgrade (certificates kept) and uninstall (traces claim and CRD kept).
 * No kubelet runs, so pods are never scheduled; everything the API server decides is real.
 */
import { CHART_DIR, type K8sObject, parseManifests } from './chart';
import { NS, RELEASE, useCluster } from './cluster';

const cluster = useCluster({ install: true });

describe('helm install into the API server', () => {
  test('succeeds and prints NOTES with the next commands', () => {
    const out = cluster.installOutput.stdout;
    expect(out).toContain('STATUS: deployed');
    expect(out).toContain(
      `kubectl label namespace ${NS} pod-security.kubernetes.io/enforce=privileged --overwrite`,
    );
    expect(out).toContain(`kubectl -n ${NS} rollout status daemonset/rewind-node`);
    expect(out).toContain(`kubectl -n ${NS} rollout status daemonset/rewind-agent`);
    expect(out).toContain(`kubectl -n ${NS} logs daemonset/rewind-node -c loader`);
    expect(out).toContain('.status.allocatable.rewind\\.dev/recorder');
    expect(out).toContain('port-forward pod/<agent pod> 9402');
    expect(out).toContain('named "rewind-controller"');
    expect(out).toContain(`helm test ${RELEASE} -n ${NS}`);
    // A snapshot, its download and the Alertmanager receiver, with this release's names.
    expect(out).toContain('kubectl apply -f -');
    expect(out).toContain(`kubectl -n ${NS} get tracesnapshot incident-1 -w`);
    expect(out).toContain(
      `https://rewind-controller.${NS}.svc:9411/v1/snapshots/${NS}/incident-1 -o trace.tar.gz`,
    );
    expect(out).toContain(`url: https://rewind-controller.${NS}.svc:9411/v1/alerts`);
    expect(out).toContain('credentials_file: /etc/alertmanager/secrets/rewind-webhook/token');
    // ... and, in the same YAML block, the route that sends it the alerts labelled for capture.
    expect(out).toMatch(
      /^ {2}route:\n {4}routes:\n {6}- receiver: rewind\n {8}matchers: \['rewind_capture="true"'\]\n {8}continue: true$/m,
    );
    expect(out).toContain(`get secret rewind-controller-webhook -o jsonpath='{.data.token}'`);
    expect(out).not.toMatch(/not yet|serves only its health/);
  });

  test('the API server keeps the node-side pods tokenless and least-privileged as rendered', async () => {
    const live = async (name: string) =>
      JSON.parse(
        await cluster.cp.kubectlOk(['-n', NS, 'get', 'daemonset', name, '-o', 'json']),
      ) as {
        spec: {
          template: {
            spec: {
              automountServiceAccountToken?: boolean;
              hostPID?: boolean;
              priorityClassName?: string;
              containers: {
                name: string;
                securityContext: { capabilities?: { add?: string[] } };
              }[];
            };
          };
        };
      };
    const agent = (await live('rewind-agent')).spec.template.spec;
    expect(agent.automountServiceAccountToken).toBe(false);
    expect(agent.hostPID).toBeUndefined();
    const node = (await live('rewind-node')).spec.template.spec;
    expect(node.automountServiceAccountToken).toBe(false);
    expect(node.priorityClassName).toBe('system-node-critical');
    expect(node.containers.map((c) => [c.name, c.securityContext.capabilities?.add ?? []])).toEqual(
      [
        ['loader', ['SYS_MODULE']],
        ['device-plugin', []],
      ],
    );
  });

  test("a node pod's system-node-critical priority is admitted in the release's namespace", async () => {
    // No controller-manager makes the DaemonSet's pods here: one is made from its template, as
    // the DaemonSet controller would, and the Priority admission resolves its class.
    const ds = JSON.parse(
      await cluster.cp.kubectlOk(['-n', NS, 'get', 'daemonset', 'rewind-node', '-o', 'json']),
    ) as {
      spec: { template: { metadata: Record<string, unknown>; spec: Record<string, unknown> } };
    };
    await cluster.cp.kubectlOk(['-n', NS, 'create', 'serviceaccount', 'default']);
    const created = await cluster.createObject({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...ds.spec.template.metadata, name: 'rewind-node-by-hand', namespace: NS },
      spec: { ...ds.spec.template.spec, nodeName: 'node-a' },
    });
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const priority = await cluster.cp.kubectlOk([
      '-n',
      NS,
      'get',
      'pod',
      'rewind-node-by-hand',
      '-o',
      'jsonpath={.spec.priority}',
    ]);
    expect(Number(priority)).toBe(2000001000);
    await cluster.cp.kubectlOk(['-n', NS, 'delete', 'pod', 'rewind-node-by-hand', '--wait=false']);
  });

  test('every object of the release exists in the API server', async () => {
    const manifest = await cluster.helm(['get', 'manifest', RELEASE, '-n', NS]);
    expect(manifest.code).toBe(0);
    const objects = parseManifests(manifest.stdout);
    expect(objects.length).toBeGreaterThanOrEqual(16);
    const missing: string[] = [];
    for (const o of objects) {
      const args = ['get', `${o.kind}/${o.metadata.name}`, '-o', 'json'];
      if (o.metadata.namespace) args.push('-n', o.metadata.namespace);
      const got = await cluster.cp.kubectl(args);
      if (got.code !== 0) {
        missing.push(`${o.kind}/${o.metadata.name}: ${got.stderr.trim()}`);
        continue;
      }
      const live = JSON.parse(got.stdout) as K8sObject;
      expect(live.metadata.labels?.['app.kubernetes.io/instance']).toBe(RELEASE);
    }
    expect(missing).toEqual([]);
    const kinds = new Set(objects.map((o) => o.kind));
    const names = new Set(objects.map((o) => `${o.kind}/${o.metadata.name}`));
    for (const name of ['DaemonSet/rewind-agent', 'DaemonSet/rewind-node', 'Service/rewind-node'])
      expect(names).toContain(name);
    // The agent's role is gone: only the controller has one, beside the users' roles.
    expect(
      objects
        .filter((o) => o.kind === 'ClusterRole')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['rewind-controller', 'rewind-editor', 'rewind-viewer']);
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
      await cluster.cp.kubectlOk(['get', 'crd', 'tracesnapshots.rewind.dev', '-o', 'json']),
    ) as { status: { conditions: { type: string; status: string }[] } };
    const established = crd.status.conditions.find((c) => c.type === 'Established');
    expect(established?.status).toBe('True');
    const names = crd.status.conditions.find((c) => c.type === 'NamesAccepted');
    expect(names?.status).toBe('True');
    const resources = await cluster.cp.kubectlOk([
      'api-resources',
      '--api-group=rewind.dev',
      '-o',
      'name',
    ]);
    expect(resources.trim()).toBe('tracesnapshots.rewind.dev');
  });
});

describe('upgrade and uninstall', () => {
  const caOf = async (secret: string): Promise<string> =>
    (
      await cluster.cp.kubectlOk([
        '-n',
        NS,
        'get',
        'secret',
        secret,
        '-o',
        'jsonpath={.data.ca\\.crt}',
      ])
    ).trim();

  test('helm upgrade keeps the generated certificates', async () => {
    const before = await caOf('rewind-agent-tls');
    expect(before.length).toBeGreaterThan(100);
    const up = await cluster.helm([
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

  test('helm upgrade keeps the generated webhook token', async () => {
    // Alertmanager holds a copy: a new token on each upgrade would lock it out.
    const token = async () =>
      await cluster.cp.kubectlOk([
        '-n',
        NS,
        'get',
        'secret',
        'rewind-controller-webhook',
        '-o',
        'jsonpath={.data.token}',
      ]);
    const before = await token();
    expect(Buffer.from(before, 'base64').toString()).toMatch(/^[A-Za-z0-9]{48}$/);
    const up = await cluster.helm(['upgrade', RELEASE, CHART_DIR, '-n', NS]);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(await token()).toBe(before);
  });

  test('helm uninstall removes the release but keeps the traces claim and the CRD', async () => {
    const un = await cluster.helm(['uninstall', RELEASE, '-n', NS]);
    expect(un.code).toBe(0);
    for (const ds of ['rewind-agent', 'rewind-node'])
      expect((await cluster.cp.kubectl(['-n', NS, 'get', 'daemonset', ds])).code).not.toBe(0);
    expect((await cluster.cp.kubectl(['get', 'clusterrole', 'rewind-controller'])).code).not.toBe(
      0,
    );
    await cluster.cp.kubectlOk(['-n', NS, 'get', 'pvc', 'rewind-controller-traces']);
    await cluster.cp.kubectlOk(['get', 'crd', 'tracesnapshots.rewind.dev']);
  });
});
