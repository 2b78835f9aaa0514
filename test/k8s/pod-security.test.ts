/**
 * Pod Security admission of the rendered workloads, judged by the API server's own admission
 * (namespaces labelled enforce+warn; a workload that would violate gets the exact reasons as
 * warnings, a Pod is refused):
 * - the controller and the helm test pod pass "restricted";
 * - the agent passes "baseline" once its host paths (the node's cgroup tree, agent.hostCgroup;
 *   the loader's state folder, agent.hostModuleState) are off; it runs as root (the device is 0600 root), so never "restricted";
 *   with the host cgroup tree, or in deviceAccess=privileged, it needs "privileged";
 * - the node DaemonSet (CAP_SYS_MODULE, host paths) needs "privileged": the namespace label
 *   NOTES.txt prints.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { run, type RunResult } from './binaries';
import { CHART_DIR } from './chart';
import { RELEASE, useCluster } from './cluster';

const cluster = useCluster({ install: false });
type Level = 'restricted' | 'baseline' | 'privileged';

describe('Pod Security admission', () => {
  const namespace = (level: Level) => `psa-${level}`;
  const dryRun = async (
    level: Level,
    template: string,
    set: string[] = [],
    files: string[] = [],
  ): Promise<RunResult> => {
    const rendered = await run('helm', [
      'template',
      RELEASE,
      CHART_DIR,
      '-n',
      namespace(level),
      '--show-only',
      template,
      ...files.flatMap((f) => ['-f', f]),
      ...set.flatMap((s) => ['--set', s]),
    ]);
    expect(rendered.code).toBe(0);
    const file = path.join(cluster.scratch, `${level}-${path.basename(template)}`);
    writeFileSync(file, rendered.stdout);
    return cluster.cp.kubectl(['create', '--dry-run=server', '-f', file]);
  };
  /** The violations the API server names for a workload, one per line, sorted. */
  const violations = (r: RunResult): string[] => {
    expect(r.code).toBe(0);
    const m = /would violate PodSecurity "[a-z]+:latest": (.*)$/m.exec(r.stderr);
    return m ? m[1].split(/, (?=[a-z][^,]* \()/).sort() : [];
  };

  beforeAll(async () => {
    for (const level of ['restricted', 'baseline', 'privileged'] as Level[]) {
      await cluster.cp.kubectlOk(['create', 'namespace', namespace(level)]);
      await cluster.cp.kubectlOk([
        'label',
        'namespace',
        namespace(level),
        `pod-security.kubernetes.io/enforce=${level}`,
        `pod-security.kubernetes.io/warn=${level}`,
      ]);
      // No controller-manager here to create each namespace's "default" ServiceAccount.
      await cluster.cp.kubectlOk(['-n', namespace(level), 'create', 'serviceaccount', 'default']);
    }
  });

  test('the controller and the helm test pod pass "restricted"', async () => {
    const deployment = await dryRun('restricted', 'templates/controller/deployment.yaml');
    expect(violations(deployment)).toEqual([]);
    // Pods are enforced, not only warned about: this one would be refused if it violated.
    const pod = await dryRun('restricted', 'templates/tests/test-health.yaml');
    expect(pod.stderr).toBe('');
    expect(pod.code).toBe(0);
    // ...as this one is: a root pod like the agent.
    const root = await cluster.createObject({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'root', namespace: namespace('restricted') },
      spec: {
        containers: [{ name: 'c', image: 'rewind:0.1.0', securityContext: { runAsUser: 0 } }],
      },
    });
    expect(root.code).not.toBe(0);
    expect(root.stderr).toContain('violates PodSecurity "restricted:latest"');
  });

  test('the agent without host paths passes "baseline"; root keeps it from "restricted"', async () => {
    const noHostPath = ['agent.hostCgroup=false', 'agent.hostModuleState=false'];
    expect(
      violations(await dryRun('baseline', 'templates/agent/daemonset.yaml', noHostPath)),
    ).toEqual([]);
    expect(
      violations(await dryRun('restricted', 'templates/agent/daemonset.yaml', noHostPath)),
    ).toEqual([
      'runAsNonRoot != true (container "agent" must not set securityContext.runAsNonRoot=false)',
      'runAsUser=0 (container "agent" must not set runAsUser=0)',
    ]);
  });

  test('the default agent needs "privileged" for its host paths, and nothing else', async () => {
    expect(violations(await dryRun('baseline', 'templates/agent/daemonset.yaml'))).toEqual([
      'hostPath volumes (volumes "host-cgroup", "module-state")',
    ]);
    expect(violations(await dryRun('privileged', 'templates/agent/daemonset.yaml'))).toEqual([]);
  });

  test('the agent in deviceAccess=privileged needs "privileged"', async () => {
    const privileged = await dryRun(
      'baseline',
      'templates/agent/daemonset.yaml',
      [],
      [path.join(CHART_DIR, 'ci', 'privileged-device-values.yaml')],
    );
    expect(violations(privileged)).toEqual([
      'hostPath volumes (volumes "host-cgroup", "module-state", "host-dev")',
      'privileged (container "agent" must not set securityContext.privileged=true)',
    ]);
  });

  test('the node DaemonSet needs "privileged": SYS_MODULE and its host paths, nothing else', async () => {
    const baseline = violations(await dryRun('baseline', 'templates/node/daemonset.yaml'));
    expect(baseline).toEqual([
      'hostPath volumes (volumes "host-modules", "host-usr-src", "build-cache", "host-securityfs", "module-state", "kubelet-device-plugins", "host-dev")',
      'non-default capabilities (container "loader" must not include "SYS_MODULE" in securityContext.capabilities.add)',
    ]);
    expect(violations(await dryRun('privileged', 'templates/node/daemonset.yaml'))).toEqual([]);
  });
});
