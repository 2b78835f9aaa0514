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
    expect(cluster.installOutput.stdout).toContain('STATUS: deployed');
    expect(cluster.installOutput.stdout).toContain(
      `kubectl -n ${NS} rollout status daemonset/rewind-agent`,
    );
    expect(cluster.installOutput.stdout).toContain(`kubectl -n ${NS} get tracesnapshots -w`);
    expect(cluster.installOutput.stdout).toContain(`helm test ${RELEASE} -n ${NS}`);
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

  test('helm uninstall removes the release but keeps the traces claim and the CRD', async () => {
    const un = await cluster.helm(['uninstall', RELEASE, '-n', NS]);
    expect(un.code).toBe(0);
    expect(
      (await cluster.cp.kubectl(['-n', NS, 'get', 'daemonset', 'rewind-agent'])).code,
    ).not.toBe(0);
    expect((await cluster.cp.kubectl(['get', 'clusterrole', 'rewind-controller'])).code).not.toBe(
      0,
    );
    await cluster.cp.kubectlOk(['-n', NS, 'get', 'pvc', 'rewind-controller-traces']);
    await cluster.cp.kubectlOk(['get', 'crd', 'tracesnapshots.rewind.dev']);
  });
});
