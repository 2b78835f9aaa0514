/**
 * renderChartNotes (the NOTES through `helm template`, no cluster) against helm's own: the text
 * the pinned helm prints after `helm install --dry-run=client` into a real kube-apiserver + etcd
 * (helm 3 will not dry-run without a cluster to ask). Equal, so the Alertmanager configuration
 * the monitoring tests load is what an operator is told to write.
 */
import { CHART_DIR } from '../k8s/chart';
import { startControlPlane, type ControlPlane } from '../k8s/controlPlane';
import { run } from '../k8s/binaries';
import { renderChartNotes, valueArgs, type ChartValues } from './chart-render';

let cp: ControlPlane | undefined;
beforeAll(async () => {
  cp = await startControlPlane();
});
afterAll(async () => {
  await cp?.stop();
});

async function helmNotes(values: ChartValues): Promise<string> {
  const r = await run(
    'helm',
    [
      'install',
      'rewind',
      CHART_DIR,
      '--namespace',
      'rewind-system',
      '--dry-run=client',
      '--kubeconfig',
      (cp as ControlPlane).kubeconfigPath,
      ...valueArgs(values),
    ],
    { timeoutMs: 120_000 },
  );
  if (r.code !== 0) throw new Error(`helm install --dry-run=client: ${r.stderr}`);
  const at = r.stdout.lastIndexOf('\nNOTES:\n');
  if (at < 0) throw new Error(`helm printed no NOTES:\n${r.stdout.slice(-500)}`);
  return r.stdout.slice(at + '\nNOTES:\n'.length).trim();
}

describe("the chart's NOTES without a cluster", () => {
  test.each<[string, ChartValues]>([
    ['default values', {}],
    [
      'another webhook Secret key, scope label and no user roles',
      {
        'controller.webhook.tokenSecret.key': 'bearer.token',
        'controller.webhook.labels.scope': 'capture_scope',
        'rbac.userRoles.enabled': false,
      },
    ],
  ])('%s: as helm install prints them', async (_what, values) => {
    const ours = renderChartNotes(values);
    expect(ours).toContain('receivers:');
    expect(ours).toBe(await helmNotes(values));
  });

  test('the comparison can fail: other values, other NOTES', async () => {
    expect(renderChartNotes({ 'tests.enabled': false })).not.toBe(await helmNotes({}));
  });
});
