/**
 * A small real Kubernetes cluster whose pods run, started and stopped by a test:
 *
 *   - control plane: etcd + kube-apiserver (controlPlane.ts, with `nodes`: listening on every
 *     address, advertising the host's primary IPv4 address, Node,RBAC authorization),
 *     kube-controller-manager and kube-scheduler (controllers.ts);
 *   - DNS: CoreDNS behind the kube-dns Service (coredns.ts);
 *   - a node on this machine: containerd, runc, the bridge CNI plugin, the kubelet and kube-proxy
 *     (hostNode.ts), one per machine at a time (a host-wide lock);
 *   - with `nodes: ['host', 'vm']`, nodes inside test VMs too (vmNode.ts): the same programs
 *     under Debian's kernel in qemu, where the module loads; tainted, so that only the chart's
 *     DaemonSets run there;
 *   - images: busybox and the pod sandbox, built here (images.ts), plus the caller's archives.
 *
 *   const cluster = await startCluster({ images: ['/path/to/rewind.tar'] });
 *   await cluster.kubectlOk(['get', 'nodes']);
 *   await cluster.stop();
 *
 * Addresses: Services 10.96.0.0/24 (`kubernetes` 10.96.0.1, kube-dns 10.96.0.10), pods
 * 10.244.0.0/16 (the host node's 10.244.0.0/24, its bridge 10.244.0.1; VM node i's
 * 10.244.(i+1).0/24, reached over the VM link 10.98.0.0/24). Everything the cluster
 * writes lives in one temporary folder, except what the kubelet must have at its real place
 * (/var/lib/kubelet) and what the kernel holds (iptables rules, the bridge, cgroups, mounts),
 * all of which stop() undoes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunOptions, RunResult } from './binaries';
import { startControllers, type Controllers } from './controllers';
import { KUBELET_CLIENT_USER, type ControlPlane, startControlPlane } from './controlPlane';
import { DNS_SERVICE_IP, startCoreDns, type ClusterDns } from './coredns';
import {
  claimHost,
  type HostClaim,
  type HostNode,
  startHostNode,
  STATE_FILE,
  sweep,
} from './hostNode';
import { writeSysctl } from './hostState';
import { buildLocalImages, type LocalImages } from './images';
import { tail } from './process';
import {
  bootVmNode,
  type BootedVmNode,
  joinVmNode,
  startVmLink,
  type VmLink,
  type VmNode,
} from './vmNode';
import { ensureNodeDisk, type NodeDisk } from './vmNodeDisk';

/** Where a node runs: this machine, or a test VM (vmNode.ts). */
export type NodeKind = 'host' | 'vm';

export interface ClusterOptions {
  /** The nodes to start. Default ['host']. */
  nodes?: readonly NodeKind[];
  /**
   * Image archives (OCI or Docker) to import into every node, besides busybox and pause. A VM
   * node has them on its node disk, made once per set of archives (vmNodeDisk.ts).
   */
  images?: string[];
  /** Memory of each VM node. Default 2048 MiB. */
  vmMemoryMiB?: number;
  /** Name of the node on this machine. Default: the host name (as a DNS label). */
  hostNodeName?: string;
  /** How long to wait for the host node lock held by another cluster. Default 10 minutes. */
  hostLockTimeoutMs?: number;
  /** How long each component may take to become ready. Default 180 s. */
  readyTimeoutMs?: number;
  /** Keep the temporary folder (logs, configuration, PKI) after stop(). Default false. */
  keepDir?: boolean;
  /** Log verbosity (--v) of the Kubernetes programs. Default 1. */
  verbosity?: number;
  /** Progress lines (waiting for the lock, timings). Default: none. */
  log?: (line: string) => void;
}

export interface ClusterTimings {
  /** start → kube-apiserver ready (including waiting for the host lock). */
  apiServerReadyMs: number;
  /** kube-apiserver ready → every node Ready and the default ServiceAccount there. */
  nodesReadyMs: number;
  /** start → startCluster() resolved. */
  totalMs: number;
}

export interface StopReport {
  /** What the host sweep found still to clean after the programs had stopped (normally none). */
  leftovers: string[];
  /** Pods still there after the drain's time (normally none). */
  undrainedPods: string[];
  /** What went wrong stopping the VM nodes: problems in their kernel logs (normally none). */
  vmProblems: string[];
  ms: number;
}

export interface NodeCluster {
  cp: ControlPlane;
  kubeconfigPath: string;
  /** The cluster's temporary folder. */
  dir: string;
  /** The host node's name first, then the VM nodes'. */
  nodeNames: string[];
  /** The nodes inside VMs (`nodes` with 'vm'). */
  vmNodes: VmNode[];
  /** The VM nodes' disk, when there are VM nodes. */
  vmNodeDisk?: NodeDisk;
  /** The host's primary IPv4 address: the API server's advertised address, the node's IP. */
  hostAddress: string;
  /** The busybox and pause images every node has. */
  images: LocalImages;
  timings: ClusterTimings;
  /** Where each component logs. */
  logs: Record<string, string>;
  kubectl(args: string[], options?: RunOptions): Promise<RunResult>;
  kubectlOk(args: string[], options?: RunOptions): Promise<string>;
  /**
   * Import an image archive into every node. In a VM node that takes minutes for a large image:
   * pass it to startCluster() instead. The archive must be under the cluster's folder or a host
   * path outside /tmp for a VM to see it.
   */
  importImage(archive: string): Promise<void>;
  /** Create a namespace and wait until pods can be made there (its default ServiceAccount). */
  createNamespace(name: string): Promise<void>;
  /**
   * Stop the controllers, delete every pod (the kubelet stops them, unmounts their volumes and
   * tears down their network), stop the nodes and clean the host, then CoreDNS and the control
   * plane. Idempotent.
   */
  stop(): Promise<StopReport>;
}

export const CLUSTER_CIDR = '10.244.0.0/16';
const HOST_POD_CIDR = '10.244.0.0/24';

/** The IPv4 address of the interface that holds the default route. */
export function primaryAddress(): string {
  const routes = readFileSync('/proc/net/route', 'utf8');
  const iface = routes
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .find((fields) => fields[1] === '00000000' && fields[7] === '00000000')?.[0];
  const addresses = iface === undefined ? [] : (os.networkInterfaces()[iface] ?? []);
  const v4 = addresses.find((a) => a.family === 'IPv4' && !a.internal);
  if (v4 === undefined) {
    throw new Error('no IPv4 address on the default route: a node needs one pods can reach');
  }
  return v4.address;
}

/** The host name as a DNS label, the default node name. */
export function hostNodeName(): string {
  const label = os
    .hostname()
    .toLowerCase()
    .split('.')[0]
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '');
  return label === '' ? 'host' : label.slice(0, 63);
}

export async function startCluster(options: ClusterOptions = {}): Promise<NodeCluster> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const nodes = options.nodes ?? ['host'];
  if (nodes[0] !== 'host' || nodes.slice(1).some((n) => n !== 'vm')) {
    // The host node holds the host lock (the VM link is made under it) and the controller's
    // volume; VM nodes are tainted for the chart's DaemonSets only.
    throw new Error(
      `nodes: 'host' first, then any number of 'vm' (asked: ${JSON.stringify(nodes)})`,
    );
  }
  const vmCount = nodes.length - 1;
  const readyTimeoutMs = options.readyTimeoutMs ?? 180_000;
  const verbosity = options.verbosity ?? 1;
  const hostAddress = primaryAddress();
  const nodeName = options.hostNodeName ?? hostNodeName();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rewind-cluster-'));
  const f = (file: string): string => path.join(dir, file);

  // What is running, stopped in reverse order by stop() (also after a partial start).
  let cp: ControlPlane | undefined;
  let controllers: Controllers | undefined;
  let dns: ClusterDns | undefined;
  let node: HostNode | undefined;
  let link: VmLink | undefined;
  const bootedVms: BootedVmNode[] = [];
  let claim: HostClaim | undefined;
  let stopping: Promise<StopReport> | undefined;
  const stop = (): Promise<StopReport> => {
    stopping ??= (async () => {
      const t0 = Date.now();
      await controllers?.stop();
      const undrainedPods = cp && node ? await drainPods(cp, 90_000) : [];
      const vmProblems = (await Promise.all(bootedVms.map((vm) => vm.stop()))).flat();
      await link?.stop();
      const leftovers = (await node?.stop()) ?? [];
      if (claim && node === undefined) {
        // A start that failed before the host node (which sweeps on its own stop): what the
        // VM link changed (the tap, ip_forward) is put back the same way.
        leftovers.push(...(await sweep(claim.state)));
        rmSync(STATE_FILE, { force: true });
      }
      claim?.release();
      await dns?.stop();
      await cp?.stop();
      if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
      return { leftovers, undrainedPods, vmProblems, ms: Date.now() - t0 };
    })();
    return stopping;
  };

  try {
    const host = await claimHost(dir, f('node'), options.hostLockTimeoutMs ?? 600_000, log);
    claim = host;
    let disk: NodeDisk | undefined;
    let apiServerReadyAt = 0;
    // The VM nodes boot while the control plane starts: the slow part of a cluster with them.
    const bootVms = async (local: LocalImages): Promise<void> => {
      if (vmCount === 0) return;
      disk = await ensureNodeDisk(options.images ?? [], { log });
      link = await startVmLink(f('vm-link'));
      // The host forwards between the pods' bridge and the VM link (the sweep restores it).
      writeSysctl('net.ipv4.ip_forward', '1');
      const booting = Array.from({ length: vmCount }, (_, index) =>
        bootVmNode({
          name: `${nodeName}-vm${index}`.slice(-63).replace(/^-+/, ''),
          index,
          link: link as VmLink,
          dir: f(`vm${index}`),
          shareDir: dir,
          disk: disk as NodeDisk,
          images: local.archives,
          sandboxImage: local.pause,
          clusterDns: DNS_SERVICE_IP,
          memoryMiB: options.vmMemoryMiB,
          readyTimeoutMs,
          verbosity,
          log,
        }).then((booted) => (bootedVms[index] = booted)),
      );
      const results = await Promise.allSettled(booting);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    };
    // Settled, not Promise.all: whatever started is known to stop() when the other part fails.
    let images: LocalImages | undefined;
    const started1 = await Promise.allSettled([
      startControlPlane({
        baseDir: dir,
        keepDir: true,
        readyTimeoutMs,
        verbosity,
        // VM nodes reach it at this address too, over the VM link (vmNode.ts).
        nodes: { advertiseAddress: hostAddress },
      }).then((plane) => {
        cp = plane;
        host.own(plane.etcdDataDir);
        apiServerReadyAt = Date.now();
        log(`kube-apiserver ready after ${seconds(apiServerReadyAt - started)}`);
        return plane;
      }),
      buildLocalImages(f('images')).then(async (local) => {
        images = local;
        await bootVms(local);
        return local;
      }),
    ]);
    const failedStart = started1.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failedStart || cp === undefined || images === undefined) throw failedStart?.reason;
    const localImages: LocalImages = images as LocalImages;
    // The API server's calls to kubelets (logs, exec, port-forward) as kubeadm authorizes them.
    await cp.kubectlOk([
      'create',
      'clusterrolebinding',
      'kube-apiserver-kubelet-client',
      '--clusterrole=system:kubelet-api-admin',
      `--user=${KUBELET_CLIENT_USER}`,
    ]);
    const plane2 = cp;
    const vmNodes: VmNode[] = [];
    const results = await Promise.allSettled([
      startControllers(plane2, {
        dir: f('controllers'),
        clusterCidr: CLUSTER_CIDR,
        readyTimeoutMs,
        verbosity,
        nodeMonitorGracePeriod: vmCount > 0 ? '2m' : undefined,
      }).then((c) => (controllers = c)),
      startCoreDns(plane2, { dir, address: hostAddress, readyTimeoutMs }).then((d) => (dns = d)),
      ...bootedVms.map((booted, index) =>
        joinVmNode(booted, plane2, `https://${hostAddress}:${plane2.port}`).then(
          (n) => (vmNodes[index] = n),
        ),
      ),
      startHostNode({
        claim: host,
        name: nodeName,
        cp: plane2,
        address: hostAddress,
        podCidr: HOST_POD_CIDR,
        clusterCidr: CLUSTER_CIDR,
        clusterDns: DNS_SERVICE_IP,
        sandboxImage: localImages.pause,
        images: [...localImages.archives, ...(options.images ?? [])],
        dir: f('node'),
        readyTimeoutMs,
        verbosity,
      }).then((n) => (node = n)),
    ]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const nodeNames = [nodeName, ...vmNodes.map((n) => n.name)];
    const kubeletLogs = [
      f('node/kubelet.log'),
      ...vmNodes.map((n) => path.join(n.dir, 'kubelet.log')),
    ];
    await Promise.all(
      nodeNames.map((name, i) =>
        waitUntil(`node ${name} Ready`, readyTimeoutMs, kubeletLogs[i], async () =>
          nodeReady(plane2, name),
        ),
      ),
    );
    await waitForServiceAccount(plane2, 'default', readyTimeoutMs);
    const readyAt = Date.now();
    const timings: ClusterTimings = {
      apiServerReadyMs: apiServerReadyAt - started,
      nodesReadyMs: readyAt - apiServerReadyAt,
      totalMs: readyAt - started,
    };
    log(
      `node${nodeNames.length > 1 ? 's' : ''} ${nodeNames.join(', ')} Ready ` +
        `${seconds(timings.nodesReadyMs)} after kube-apiserver ` +
        `(cluster up in ${seconds(timings.totalMs)})`,
    );
    const hostNode = node as HostNode;
    return {
      cp,
      kubeconfigPath: cp.kubeconfigPath,
      dir,
      nodeNames,
      vmNodes,
      vmNodeDisk: disk,
      hostAddress,
      images: localImages,
      timings,
      logs: {
        etcd: path.join(cp.dir, 'etcd.log'),
        'kube-apiserver': path.join(cp.dir, 'kube-apiserver.log'),
        'kube-controller-manager': f('controllers/kube-controller-manager.log'),
        'kube-scheduler': f('controllers/kube-scheduler.log'),
        coredns: f('coredns.log'),
        containerd: f('node/containerd.log'),
        kubelet: f('node/kubelet.log'),
        'kube-proxy': f('node/kube-proxy.log'),
        ...Object.assign({}, ...vmNodes.map((n) => n.logs)),
      },
      kubectl: plane2.kubectl,
      kubectlOk: plane2.kubectlOk,
      importImage: async (archive) => {
        await hostNode.importImage(archive);
        for (const vmNode of vmNodes) await vmNode.importImage(archive);
      },
      createNamespace: async (name) => {
        await plane2.kubectlOk(['create', 'namespace', name]);
        await waitForServiceAccount(plane2, name, readyTimeoutMs);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function nodeReady(cp: ControlPlane, name: string): Promise<boolean> {
  const res = await cp.request('GET', `/api/v1/nodes/${name}`);
  if (res.status !== 200) return false;
  const conditions =
    (res.body as { status?: { conditions?: { type: string; status: string }[] } }).status
      ?.conditions ?? [];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Pods need the namespace's default ServiceAccount and the CA ConfigMap the controllers make. */
async function waitForServiceAccount(
  cp: ControlPlane,
  ns: string,
  timeoutMs: number,
): Promise<void> {
  await waitUntil(`ServiceAccount ${ns}/default`, timeoutMs, undefined, async () => {
    const [sa, ca] = await Promise.all([
      cp.request('GET', `/api/v1/namespaces/${ns}/serviceaccounts/default`),
      cp.request('GET', `/api/v1/namespaces/${ns}/configmaps/kube-root-ca.crt`),
    ]);
    return sa.status === 200 && ca.status === 200;
  });
}

async function waitUntil(
  what: string,
  timeoutMs: number,
  logFile: string | undefined,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not after ${timeoutMs} ms` +
          (logFile ? `; last lines of ${logFile}:\n${tail(logFile)}` : ''),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Delete every pod (a grace of one second) and wait until the kubelet has stopped them and
 * cleaned up after them (it deletes a pod's object last); returns those still there at the end.
 */
async function drainPods(cp: ControlPlane, timeoutMs: number): Promise<string[]> {
  const list = async (): Promise<string[]> =>
    (await cp.kubectlOk(['get', 'pods', '--all-namespaces', '-o', 'name']))
      .split('\n')
      .filter((l) => l !== '');
  try {
    if ((await list()).length === 0) return [];
    await cp.kubectl([
      'delete',
      'pods',
      '--all',
      '--all-namespaces',
      '--grace-period=1',
      '--wait=false',
    ]);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = await list();
      if (left.length === 0 || Date.now() > deadline) return left;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } catch (error) {
    return [`(drain failed: ${(error as Error).message})`];
  }
}
