/**
 * kube-controller-manager and kube-scheduler for a cluster with nodes, as processes on 127.0.0.1,
 * each authenticated by a client certificate as the user its default RBAC roles are bound to
 * (system:kube-controller-manager, system:kube-scheduler). The controller-manager runs each
 * controller with a ServiceAccount of its own (--use-service-account-credentials), as kubeadm
 * sets it up; no leader election (one of each).
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { binaryPath } from './binaries';
import { type ControlPlane, SERVICE_CIDR } from './controlPlane';
import { httpsGetStatus, spawnLogged, waitFor } from './process';
import { ChildGroup } from '../child';
import { freePorts } from '../ports';

export interface Controllers {
  /** Stop both (the scheduler first); idempotent. */
  stop(): Promise<void>;
}

export async function startControllers(
  cp: ControlPlane,
  options: {
    dir: string;
    clusterCidr: string;
    readyTimeoutMs: number;
    verbosity: number;
    /**
     * How long a node may go without reporting before it is marked NotReady (default 40 s).
     * A VM node under TCG on a loaded machine can stall longer than that.
     */
    nodeMonitorGracePeriod?: string;
  },
): Promise<Controllers> {
  const managerBin = binaryPath('kube-controller-manager');
  const schedulerBin = binaryPath('kube-scheduler');
  const { dir } = options;
  const f = (file: string): string => path.join(dir, file);
  mkdirSync(f('kube-controller-manager'), { recursive: true });
  mkdirSync(f('kube-scheduler'), { recursive: true });
  const [managerKubeconfig, schedulerKubeconfig] = await Promise.all([
    cp.componentKubeconfig('kube-controller-manager', 'system:kube-controller-manager'),
    cp.componentKubeconfig('kube-scheduler', 'system:kube-scheduler'),
  ]);
  const [managerPort, schedulerPort] = await freePorts(2);
  const children = new ChildGroup();
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await children.stop(15_000);
  };
  // /healthz and friends are always allowed; the delegated authentication and authorization
  // kubeconfigs are the components' own (their roles may create TokenReviews and
  // SubjectAccessReviews).
  const common = (kubeconfig: string, port: number, certDir: string): string[] => [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${certDir}`,
    '--leader-elect=false',
    '--profiling=false',
    `--v=${options.verbosity}`,
  ];
  try {
    const manager = spawnLogged(
      managerBin,
      [
        ...common(managerKubeconfig, managerPort, f('kube-controller-manager')),
        '--use-service-account-credentials=true',
        `--service-account-private-key-file=${cp.serviceAccountKeyFile}`,
        // Published to every namespace as ConfigMap kube-root-ca.crt, which pods mount.
        `--root-ca-file=${cp.caFile}`,
        `--cluster-signing-cert-file=${cp.ca.cert}`,
        `--cluster-signing-key-file=${cp.ca.key}`,
        `--cluster-cidr=${options.clusterCidr}`,
        // Each node's pod subnet is set on its node (host-local IPAM), not allocated here.
        '--allocate-node-cidrs=false',
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        ...(options.nodeMonitorGracePeriod === undefined
          ? []
          : [`--node-monitor-grace-period=${options.nodeMonitorGracePeriod}`]),
      ],
      f('kube-controller-manager.log'),
    );
    children.add(manager);
    const scheduler = spawnLogged(
      schedulerBin,
      common(schedulerKubeconfig, schedulerPort, f('kube-scheduler')),
      f('kube-scheduler.log'),
    );
    children.add(scheduler);
    await Promise.all([
      waitFor(
        'kube-controller-manager',
        manager,
        f('kube-controller-manager.log'),
        options.readyTimeoutMs,
        async () => (await httpsGetStatus(`https://127.0.0.1:${managerPort}/healthz`)) === 200,
      ),
      waitFor(
        'kube-scheduler',
        scheduler,
        f('kube-scheduler.log'),
        options.readyTimeoutMs,
        async () => (await httpsGetStatus(`https://127.0.0.1:${schedulerPort}/readyz`)) === 200,
      ),
    ]);
    return { stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
