/**
 * Pod Security admission of the rendered workloads: the controller and the helm test pod pass
 * "restricted"; the agent needs "privileged", and the API server says exactly why.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { run, type RunResult } from './binaries';
import { CHART_DIR } from './chart';
import { RELEASE, useCluster } from './cluster';

const cluster = useCluster({ install: false });

describe('Pod Security admission', () => {
  const restricted = 'psa-restricted';
  const dryRun = async (template: string, values: string[] = []): Promise<RunResult> => {
    const rendered = await run('helm', [
      'template',
      RELEASE,
      CHART_DIR,
      '-n',
      restricted,
      '--show-only',
      template,
      ...values.flatMap((f) => ['-f', f]),
    ]);
    expect(rendered.code).toBe(0);
    const file = path.join(cluster.scratch, path.basename(template));
    writeFileSync(file, rendered.stdout);
    return cluster.cp.kubectl(['create', '--dry-run=server', '-f', file]);
  };

  beforeAll(async () => {
    await cluster.cp.kubectlOk(['create', 'namespace', restricted]);
    await cluster.cp.kubectlOk([
      'label',
      'namespace',
      restricted,
      'pod-security.kubernetes.io/enforce=restricted',
      'pod-security.kubernetes.io/warn=restricted',
    ]);
    // No controller-manager here to create each namespace's "default" ServiceAccount.
    await cluster.cp.kubectlOk(['-n', restricted, 'create', 'serviceaccount', 'default']);
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
    const hostPid = await cluster.createObject({
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
    // Root for the 0600 device, but unprivileged in the default (device plugin) mode.
    expect(ds.stderr).toContain('runAsNonRoot != true');
    expect(ds.stderr).not.toContain('privileged (container');
    const privileged = await dryRun('templates/agent/daemonset.yaml', [
      path.join(CHART_DIR, 'ci', 'privileged-device-values.yaml'),
    ]);
    expect(privileged.stderr).toContain(
      'privileged (container "agent" must not set securityContext.privileged=true)',
    );
  });
});
