/**
 * The cluster's DNS: the pinned CoreDNS as a process on the host, serving `cluster.local` from the
 * API server with its kubernetes plugin, reached by pods as on any cluster: the `kube-dns` Service
 * in kube-system, ClusterIP DNS_SERVICE_IP port 53, whose one endpoint is this process (an
 * EndpointSlice made here, as the Service has no selector); kube-proxy carries the traffic. It
 * authenticates with a client certificate as `rewind-coredns`, bound to the rights of the
 * `system:coredns` role that CoreDNS's own deployment manifests give it.
 *
 * A stand-in for CoreDNS's Deployment: the same program and plugin, outside a pod, so that DNS
 * works before any image of it exists here (no registry can be reached).
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { dump } from 'js-yaml';
import { binaryPath } from './binaries';
import type { ControlPlane } from './controlPlane';
import { httpGet, spawnLogged, waitFor } from './process';
import { exited, stopChild } from '../child';
import { freePorts } from '../ports';

/** The DNS Service's ClusterIP: the kubelet's clusterDNS. */
export const DNS_SERVICE_IP = '10.96.0.10';
const USER = 'rewind-coredns';

export interface ClusterDns {
  /** host:port CoreDNS listens on (the Service's endpoint). */
  endpoint: string;
  stop(): Promise<void>;
}

export async function startCoreDns(
  cp: ControlPlane,
  options: { dir: string; address: string; readyTimeoutMs: number },
): Promise<ClusterDns> {
  const corednsBin = binaryPath('coredns');
  const f = (file: string): string => path.join(options.dir, file);
  const [dnsPort, healthPort, readyPort] = await freePorts(3);
  const kubeconfig = await cp.componentKubeconfig('coredns', USER);
  await cp.kubectlOk(['apply', '-f', '-'], {
    input: objects(options.address, dnsPort)
      .map((o) => dump(o))
      .join('---\n'),
  });
  writeFileSync(
    f('Corefile'),
    [
      `.:${dnsPort} {`,
      `    bind ${options.address}`,
      '    errors',
      `    health 127.0.0.1:${healthPort}`,
      `    ready 127.0.0.1:${readyPort}`,
      '    kubernetes cluster.local in-addr.arpa ip6.arpa {',
      `        kubeconfig ${kubeconfig}`,
      '        pods insecure',
      '        fallthrough in-addr.arpa ip6.arpa',
      '        ttl 30',
      '    }',
      '    forward . /etc/resolv.conf',
      '    cache 30',
      '    loadbalance',
      '}',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawnLogged(corednsBin, ['-conf', f('Corefile')], f('coredns.log'));
  const kill = (): void => {
    if (!exited(child)) child.kill('SIGKILL');
  };
  process.on('exit', kill);
  const stop = async (): Promise<void> => {
    await stopChild(child, 10_000);
    process.removeListener('exit', kill);
  };
  try {
    // `ready` answers 200 once the kubernetes plugin has synced Services and EndpointSlices.
    await waitFor(
      'coredns',
      child,
      f('coredns.log'),
      options.readyTimeoutMs,
      async () => (await httpGet(`http://127.0.0.1:${readyPort}/ready`)).status === 200,
    );
    return { endpoint: `${options.address}:${dnsPort}`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** RBAC as CoreDNS's manifests grant it, and the kube-dns Service with its one endpoint. */
function objects(address: string, port: number): unknown[] {
  const labels = { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS' };
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'rewind:coredns' },
      rules: [
        {
          apiGroups: [''],
          resources: ['endpoints', 'services', 'pods', 'namespaces'],
          verbs: ['list', 'watch'],
        },
        {
          apiGroups: ['discovery.k8s.io'],
          resources: ['endpointslices'],
          verbs: ['list', 'watch'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'rewind:coredns' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'rewind:coredns',
      },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: USER }],
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels },
      spec: {
        clusterIP: DNS_SERVICE_IP,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: port },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: port },
        ],
      },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: 'kube-dns-host',
        namespace: 'kube-system',
        labels: { ...labels, 'kubernetes.io/service-name': 'kube-dns' },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [address], conditions: { ready: true } }],
      ports: [
        { name: 'dns', port, protocol: 'UDP' },
        { name: 'dns-tcp', port, protocol: 'TCP' },
      ],
    },
  ];
}
