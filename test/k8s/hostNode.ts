/**
 * A Kubernetes node on this machine: Debian's containerd 1.6 with runc and the bridge CNI plugin
 * (Debian's containernetworking-plugins), the pinned kubelet and kube-proxy (iptables mode),
 * registered with the cluster's API server as `system:node:<name>`.
 *
 * The kubelet uses its real root folder, /var/lib/kubelet, where the chart's device plugin
 * registers and whose pods' volumes it mounts, so only one such node can run on a machine at a
 * time: claimHost() takes a host-wide lock (flock on LOCK_FILE, held by a child process for as
 * long as this process lives) and records in STATE_FILE what the node will change. Everything
 * else lives in the node's own folder: containerd's root, state and socket, runc's state, the
 * CNI configuration and address leases, the pods' logs.
 *
 * Stopping leaves nothing: the kubelet, kube-proxy and containerd are stopped, `kube-proxy
 * --cleanup` removes its iptables rules, then a sweep kills what is left of the node (shims and
 * pod processes, found by the folder in their command line and by the kubelet's cgroups),
 * unmounts what is mounted under /var/lib/kubelet and the folder, deletes the CNI bridge, removes
 * the kubelet's cgroups, puts back the sysctls the kubelet, the bridge plugin and kube-proxy set,
 * and removes the host folders that did not exist before. The same sweep runs when a node is
 * claimed after a run that died without stopping (its STATE_FILE is still there).
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dump } from 'js-yaml';
import { binaryPath, cacheDir } from './binaries';
import type { ControlPlane } from './controlPlane';
import {
  chainsWithPrefix,
  iptablesRules,
  mountPoints,
  mountsUnder,
  networkLinks,
  pidsInCgroupTree,
  processes,
  readSysctl,
  type HostProcess,
  removeCgroupTree,
  removeIptablesChains,
  topCgroups,
  unmountUnder,
  writeSysctl,
} from './hostState';
import { command, commandOk, httpGet, spawnLogged, waitFor } from './process';
import { ChildGroup } from '../child';
import { freePorts } from '../ports';

/** The kubelet's root folder: its default, which the chart's hostPaths name. */
export const KUBELET_ROOT = '/var/lib/kubelet';
/** The host-wide lock: one node on this machine at a time. */
export const LOCK_FILE = '/run/lock/rewind-host-node.lock';
/** What the node holding the lock changed in the host, for the sweep (JSON, HostState). */
export const STATE_FILE = '/run/lock/rewind-host-node.json';
/** The pods' bridge (CNI bridge plugin); its address is the pods' gateway. */
export const BRIDGE = 'rewind0';
/**
 * The host's end of the link to the cluster's VM nodes (vmNode.ts) is named with this prefix and
 * an index: rwvm0, rwvm1… A tap, made and deleted under the host lock (the sweep deletes it too).
 */
export const VM_LINK_PREFIX = 'rwvm';
/** The kubelet's pod cgroups, at the top of each hierarchy (cgroupfs driver). */
const POD_CGROUP = 'kubepods';
/** iptables chains made by kube-proxy and the CNI plugins. */
const CHAIN_PREFIXES = ['KUBE-', 'CNI-'];
/**
 * Sysctls set by the kubelet (its kernel defaults: vm.*, kernel.*), the bridge plugin
 * (ip_forward, as the pods' gateway) and kube-proxy; put back at the end.
 */
const SYSCTLS = [
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
  'net.ipv4.ip_forward',
  'net.ipv4.conf.all.route_localnet',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
  'net.netfilter.nf_conntrack_max',
];
/** Host folders the node's programs may make; those that did not exist are removed at the end. */
const HOST_PATHS = [
  KUBELET_ROOT,
  '/var/log/containers',
  '/var/log/pods',
  // Not /run/containerd, where every containerd's shims put their sockets (whatever its state
  // folder): another containerd may be using it.
  '/var/lib/cni',
  '/var/lib/containerd',
  '/run/netns',
  '/etc/kubernetes',
];

/** What a node changes in the host, written to STATE_FILE when it is claimed. */
export interface HostState {
  pid: number;
  startedAt: string;
  /** Every process whose command line names this folder belongs to the cluster. */
  clusterDir: string;
  /** The node's folder in it: containerd, its shims, the kubelet and kube-proxy name it. */
  nodeDir: string;
  /** Sysctl values before the node. */
  sysctls: Record<string, string>;
  /** Host folders that did not exist before the node. */
  createdPaths: string[];
  /** Whether the kubelet's cgroups existed before the node (then they are left alone). */
  podCgroupsExisted: boolean;
  /** Folders of the cluster outside clusterDir (etcd's data in /dev/shm), removed by a leftover sweep. */
  ownedPaths: string[];
}

/** The right to run the node on this machine, with its state; release() gives it back. */
export interface HostClaim {
  state: HostState;
  /** What the sweep of a previous run's leftovers cleaned (empty when it had stopped cleanly). */
  sweptLeftovers: string[];
  /** Record a folder of the cluster outside its folder, for the sweep after a run that died. */
  own(folder: string): void;
  release(): void;
}

/**
 * Take the host-wide lock, waiting up to `timeoutMs` for another node to stop; sweep what a run
 * that died left; record the host's state. Fails with a message naming the holder.
 */
export async function claimHost(
  clusterDir: string,
  nodeDir: string,
  timeoutMs: number,
  log: (line: string) => void = () => undefined,
): Promise<HostClaim> {
  for (const tool of ['flock', 'containerd', 'runc', 'iptables', 'ip', 'umount']) {
    if ((await command('sh', ['-c', `command -v ${tool}`])).code !== 0) {
      throw new Error(
        `${tool} not found: a node on this machine needs containerd, runc, iptables, ` +
          'containernetworking-plugins and util-linux (scripts/setup.sh installs them)',
      );
    }
  }
  if (!existsSync('/usr/lib/cni/bridge')) {
    throw new Error('/usr/lib/cni/bridge not found: install containernetworking-plugins');
  }
  mkdirSync(path.dirname(LOCK_FILE), { recursive: true });
  const holder = (): string => {
    try {
      const s = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as HostState;
      return `pid ${s.pid}, since ${s.startedAt}, folder ${s.clusterDir}`;
    } catch {
      return 'holder unknown';
    }
  };
  const lock = await takeLock(timeoutMs, () =>
    log(`waiting for the host node lock ${LOCK_FILE} (${holder()})`),
  ).catch((error: Error) => {
    throw new Error(
      `another cluster runs a node on this machine (${holder()}): only one may use ` +
        `${KUBELET_ROOT} at a time; ${error.message}`,
    );
  });
  try {
    let sweptLeftovers: string[] = [];
    if (existsSync(STATE_FILE)) {
      const previous = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as HostState;
      sweptLeftovers = await sweep(previous, 'cluster');
      unlinkSync(STATE_FILE);
      if (sweptLeftovers.length > 0) {
        log(`swept the leftovers of a node that did not stop (pid ${previous.pid}):`);
        for (const line of sweptLeftovers) log(`  ${line}`);
      }
    }
    // Another containerd may run (its own folders, sockets and cgroups); another kubelet would
    // share /var/lib/kubelet and the kubepods cgroups.
    const running = processes().filter((p) => /^kubelet/.test(path.basename(p.cmdline[0] ?? '')));
    if (running.length > 0) {
      throw new Error(
        `a kubelet not started by these tests runs here (pids ` +
          `${running.map((p) => p.pid).join(', ')}); stop it first`,
      );
    }
    const sysctls: Record<string, string> = {};
    for (const name of SYSCTLS) {
      const value = readSysctl(name);
      if (value !== undefined) sysctls[name] = value;
    }
    const state: HostState = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      clusterDir,
      nodeDir,
      sysctls,
      createdPaths: HOST_PATHS.filter((p) => !existsSync(p)),
      podCgroupsExisted: topCgroups(POD_CGROUP).length > 0,
      ownedPaths: [],
    };
    const save = (): void => writeFileSync(STATE_FILE, JSON.stringify(state, null, 2));
    save();
    const own = (folder: string): void => {
      state.ownedPaths.push(folder);
      save();
    };
    return { state, sweptLeftovers, own, release: lock };
  } catch (error) {
    lock();
    throw error;
  }
}

/**
 * flock(1) holds the lock for a `cat` that reads our stdin: the lock is released when we close
 * it, or when this process dies (the pipe closes), so a killed test never leaves it taken.
 */
function takeLock(timeoutMs: number, onWait: () => void): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const seconds = Math.max(0, Math.ceil(timeoutMs / 1000));
    const child = spawn(
      'flock',
      ['--conflict-exit-code', '75', '--wait', String(seconds), LOCK_FILE, 'sh', '-c', 'echo locked; exec cat'],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    ); // prettier-ignore
    const waiting = setTimeout(onWait, 500);
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('locked')) {
        clearTimeout(waiting);
        // Held for as long as this process lives, without keeping it alive.
        child.unref();
        (child.stdin as unknown as Socket).unref();
        (child.stdout as unknown as Socket).unref();
        resolve(() => child.stdin.end());
      }
    });
    child.on('exit', (code) => {
      clearTimeout(waiting);
      if (!out.includes('locked')) {
        reject(
          new Error(
            code === 75
              ? `the lock ${LOCK_FILE} was not free within ${seconds} s`
              : `flock exited ${code}`,
          ),
        );
      }
    });
  });
}

/**
 * Undo what a node did to the host (see the file's comment); returns what it found to clean.
 * Safe to run when everything is already clean. The processes killed are the node's (those
 * naming its folder, those in the kubelet's cgroups), or with `cluster` every process naming the
 * cluster's folder (the control plane and CoreDNS of a run that died, too).
 */
export async function sweep(
  state: HostState,
  scope: 'node' | 'cluster' = 'node',
): Promise<string[]> {
  const done: string[] = [];
  const marker = scope === 'cluster' ? state.clusterDir : state.nodeDir;
  const ours = (): Map<number, string> => {
    const found = new Map<number, string>();
    for (const p of processes()) {
      if (p.pid !== process.pid && p.cmdline.some((arg) => arg.includes(marker))) {
        found.set(p.pid, path.basename(p.cmdline[0] ?? '?'));
      }
    }
    if (!state.podCgroupsExisted) {
      for (const group of topCgroups(POD_CGROUP)) {
        for (const pid of pidsInCgroupTree(group)) if (!found.has(pid)) found.set(pid, 'in a pod');
      }
    }
    return found;
  };
  for (let round = 0; round < 50; round++) {
    const found = ours();
    const pids = [...found.keys()];
    if (pids.length === 0) break;
    if (round === 0) {
      done.push(`killed ${[...found].map(([pid, what]) => `${pid} (${what})`).join(', ')}`);
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await sleep(100);
  }
  const unmounted = await unmountUnder([KUBELET_ROOT, state.clusterDir]);
  if (unmounted.length > 0) done.push(`unmounted ${unmounted.join(', ')}`);
  if (chainsWithPrefix(await iptablesRules(), CHAIN_PREFIXES).length > 0) {
    const proxy = binaryPathOrUndefined('kube-proxy');
    if (proxy !== undefined) await command(proxy, ['--cleanup', '--v=0']);
    const removed = await removeIptablesChains(CHAIN_PREFIXES);
    if (removed.length > 0) done.push(`removed iptables chains ${removed.join(', ')}`);
  }
  if ((await command('ip', ['link', 'show', BRIDGE])).code === 0) {
    await command('ip', ['link', 'delete', BRIDGE]);
    done.push(`deleted link ${BRIDGE}`);
  }
  for (const link of await networkLinks()) {
    const name = link.split(' ')[0];
    if (name.startsWith(VM_LINK_PREFIX)) {
      await command('ip', ['link', 'delete', name]);
      done.push(`deleted link ${name}`);
    }
  }
  if (!state.podCgroupsExisted) {
    for (const group of topCgroups(POD_CGROUP)) {
      let left = removeCgroupTree(group);
      for (let i = 0; i < 20 && left.length > 0; i++) {
        await sleep(100);
        left = removeCgroupTree(group);
      }
      if (left.length > 0) done.push(`could not remove cgroups ${left.join(', ')}`);
    }
  }
  for (const [name, value] of Object.entries(state.sysctls)) {
    if (readSysctl(name) !== value) {
      try {
        writeSysctl(name, value);
      } catch (error) {
        done.push(`could not restore ${name}=${value}: ${(error as Error).message}`);
      }
    }
  }
  removeContainerLogLinks(state.clusterDir);
  for (const created of state.createdPaths) {
    if (existsSync(created)) rmSync(created, { recursive: true, force: true });
  }
  // etcd's data (in memory, /dev/shm); the cluster's folder stays, with the logs of the run.
  if (scope === 'cluster') {
    for (const folder of state.ownedPaths ?? []) {
      if (existsSync(folder)) {
        rmSync(folder, { recursive: true, force: true });
        done.push(`removed ${folder}`);
      }
    }
  }
  return done;
}

/**
 * What the node's programs leave by design once they have stopped: kube-proxy's rules (a
 * restarted kube-proxy keeps Services working meanwhile), which `kube-proxy --cleanup` removes
 * but for KUBE-FIREWALL (once the kubelet's); the CNI bridge (the plugin never deletes it); the
 * kubelet's bind mount of its root folder on itself (made rshared for mount propagation).
 */
async function undoExpectedChanges(proxyBin: string, verbosity: number): Promise<void> {
  await command(proxyBin, ['--cleanup', `--v=${verbosity}`]);
  await removeIptablesChains(['KUBE-FIREWALL']);
  await command('ip', ['link', 'delete', BRIDGE]);
  // Only that one: a pod's volume still mounted below is a leftover, for the sweep to report.
  const mounts = mountsUnder([KUBELET_ROOT]);
  if (mounts.length === 1 && mounts[0] === KUBELET_ROOT) await command('umount', [KUBELET_ROOT]);
}

/** The kubelet's links in /var/log/containers to logs in the cluster's folder. */
function removeContainerLogLinks(clusterDir: string): void {
  const dir = '/var/log/containers';
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    const link = path.join(dir, entry);
    try {
      if (lstatSync(link).isSymbolicLink() && readlinkSync(link).startsWith(clusterDir)) {
        unlinkSync(link);
      }
    } catch {
      // gone meanwhile
    }
  }
}

function binaryPathOrUndefined(tool: 'kube-proxy'): string | undefined {
  try {
    return binaryPath(tool);
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface HostNodeOptions {
  claim: HostClaim;
  /** The Node's name (also its kubelet serving certificate's DNS name). */
  name: string;
  /** The API server, started with `nodes` (Node authorization, the kubelet client). */
  cp: ControlPlane;
  /** The node's InternalIP: the host's primary IPv4 address. */
  address: string;
  /** The subnet this node's pods get addresses from (the bridge gets the first one). */
  podCidr: string;
  /** All pods' addresses (kube-proxy's cluster CIDR: traffic from elsewhere is masqueraded). */
  clusterCidr: string;
  /** The DNS Service's ClusterIP the kubelet gives pods. */
  clusterDns: string;
  /** Image containerd runs as each pod's sandbox; must be among `images`. */
  sandboxImage: string;
  /** OCI or Docker archives imported before the kubelet starts. */
  images: string[];
  /** Folder of the node's files (made). */
  dir: string;
  readyTimeoutMs: number;
  verbosity: number;
}

export interface HostNode {
  name: string;
  dir: string;
  /** containerd's socket (`ctr --address`). */
  containerdAddress: string;
  /** Import an image archive into containerd's k8s.io namespace, under its full name. */
  importImage(archive: string): Promise<void>;
  /**
   * Stop the kubelet, kube-proxy and containerd, clean the host and release it. Returns what the
   * sweep still found to clean after the programs had stopped (see sweep()).
   */
  stop(): Promise<string[]>;
}

/**
 * Start containerd, import the images, start the kubelet and kube-proxy; resolves once the
 * kubelet and kube-proxy answer their health checks (the Node's readiness is the caller's to
 * wait for). A start that fails stops what it started and releases the host.
 */
export async function startHostNode(options: HostNodeOptions): Promise<HostNode> {
  const { cp, name, dir } = options;
  const kubeletBin = binaryPath('kubelet');
  const proxyBin = binaryPath('kube-proxy');
  mkdirSync(dir, { recursive: true });
  const f = (file: string): string => path.join(dir, file);
  const children = new ChildGroup();
  let stopped: Promise<string[]> | undefined;
  const stop = (): Promise<string[]> => {
    stopped ??= (async () => {
      // The kubelet first: it must not restart what kube-proxy and containerd take down.
      await children.stop(20_000);
      await undoExpectedChanges(proxyBin, options.verbosity);
      // What is left now was not cleaned by the programs themselves: pods not drained, say.
      const leftovers = await sweep(options.claim.state);
      rmSync(STATE_FILE, { force: true });
      options.claim.release();
      return leftovers;
    })();
    return stopped;
  };

  try {
    const paths = hostContainerdPaths(dir);
    const containerdAddress = paths.socket;
    const ctr = (args: string[]): Promise<string> =>
      commandOk('ctr', ['--address', containerdAddress, '--namespace', 'k8s.io', ...args], {
        timeoutMs: 120_000,
      });
    writeCniConfig(f('cni'), options.podCidr, f('cni/ipam'));
    writeFileSync(f('containerd.toml'), containerdConfig(paths, options.sandboxImage));
    const containerd = spawnLogged(
      'containerd',
      ['--config', f('containerd.toml')],
      f('containerd.log'),
    );
    children.add(containerd);
    await waitFor(
      'containerd',
      containerd,
      f('containerd.log'),
      options.readyTimeoutMs,
      async () =>
        (await command('ctr', ['--address', containerdAddress, 'version'], { timeoutMs: 5000 }))
          .code === 0,
    );
    const importImage = async (archive: string): Promise<void> => {
      await ctr(['images', 'import', archive]);
    };
    for (const archive of options.images) await importImage(archive);

    const [kubeletPort, healthzPort, proxyHealthPort, proxyMetricsPort] = await freePorts(4);
    const [kubeconfig, proxyKubeconfig, serving] = await Promise.all([
      cp.componentKubeconfig(`kubelet-${name}`, `system:node:${name}`, ['system:nodes']),
      cp.componentKubeconfig(`kube-proxy-${name}`, 'system:kube-proxy'),
      cp.ca.issue({
        name: `kubelet-${name}-serving`,
        commonName: name,
        usage: 'server',
        ips: [options.address, '127.0.0.1'],
        dnsNames: [name],
      }),
    ]);
    writeFileSync(
      f('kubelet.yaml'),
      kubeletConfiguration({
        containerdSocket: containerdAddress,
        caFile: cp.caFile,
        serving,
        port: kubeletPort,
        healthzPort,
        clusterDns: options.clusterDns,
        // This host mounts cgroup v1, which the kubelet refuses unless told otherwise.
        cgroupV1: true,
        podLogsDir: f('pod-logs'),
      }),
    );
    const kubelet = spawnLogged(
      kubeletBin,
      [
        `--config=${f('kubelet.yaml')}`,
        `--kubeconfig=${kubeconfig}`,
        `--hostname-override=${name}`,
        `--node-ip=${options.address}`,
        `--root-dir=${KUBELET_ROOT}`,
        `--v=${options.verbosity}`,
      ],
      f('kubelet.log'),
    );
    children.add(kubelet);

    writeFileSync(
      f('kube-proxy.yaml'),
      dump({
        apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
        kind: 'KubeProxyConfiguration',
        clientConnection: { kubeconfig: proxyKubeconfig },
        hostnameOverride: name,
        bindAddress: options.address,
        mode: 'iptables',
        clusterCIDR: options.clusterCidr,
        detectLocalMode: 'ClusterCIDR',
        healthzBindAddress: `127.0.0.1:${proxyHealthPort}`,
        metricsBindAddress: `127.0.0.1:${proxyMetricsPort}`,
        // Zero leaves the host's conntrack settings alone.
        conntrack: {
          maxPerCore: 0,
          min: 0,
          tcpEstablishedTimeout: '0s',
          tcpCloseWaitTimeout: '0s',
          udpTimeout: '0s',
          udpStreamTimeout: '0s',
        },
        // NodePorts on 127.0.0.1 would need route_localnet=1 for the whole host.
        iptables: { localhostNodePorts: false, masqueradeAll: false, minSyncPeriod: '0s' },
      }),
    );
    const proxy = spawnLogged(
      proxyBin,
      [`--config=${f('kube-proxy.yaml')}`, `--v=${options.verbosity}`],
      f('kube-proxy.log'),
    );
    children.add(proxy);
    await Promise.all([
      waitFor(
        'kubelet',
        kubelet,
        f('kubelet.log'),
        options.readyTimeoutMs,
        async () => (await httpGet(`http://127.0.0.1:${healthzPort}/healthz`)).text === 'ok',
      ),
      waitFor(
        'kube-proxy',
        proxy,
        f('kube-proxy.log'),
        options.readyTimeoutMs,
        async () => (await httpGet(`http://127.0.0.1:${proxyHealthPort}/livez`)).status === 200,
      ),
    ]);
    return { name, dir, containerdAddress, importImage, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface KubeletConfigurationOptions {
  containerdSocket: string;
  /** The CA whose client certificates the kubelet accepts (the API server's). */
  caFile: string;
  /** The kubelet's serving certificate and key. */
  serving: { cert: string; key: string };
  port: number;
  healthzPort: number;
  clusterDns: string;
  /** Whether the machine mounts cgroup v1 (the kubelet refuses it unless told). */
  cgroupV1: boolean;
  /** Where pods' logs go; the kubelet's default (/var/log/pods) when absent. */
  podLogsDir?: string;
  /** Fields added as they are (a VM node's taints, say). */
  extra?: Record<string, unknown>;
}

/** A node's KubeletConfiguration (YAML), the same for the host and the VM nodes. */
export function kubeletConfiguration(o: KubeletConfigurationOptions): string {
  return dump({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    containerRuntimeEndpoint: `unix://${o.containerdSocket}`,
    // The API server calls the kubelet with its client certificate; a bearer token is
    // checked by TokenReview; the API server decides (SubjectAccessReview). No anonymous.
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: o.caFile },
    },
    authorization: { mode: 'Webhook' },
    tlsCertFile: o.serving.cert,
    tlsPrivateKeyFile: o.serving.key,
    port: o.port,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: o.healthzPort,
    cgroupDriver: 'cgroupfs',
    ...(o.cgroupV1 ? { failCgroupV1: false } : {}),
    clusterDNS: [o.clusterDns],
    clusterDomain: 'cluster.local',
    ...(o.podLogsDir === undefined ? {} : { podLogsDir: o.podLogsDir }),
    // The kubelet's own iptables chains (KUBE-FIREWALL, canaries) are not needed: kube-proxy
    // makes the rules Services need.
    makeIPTablesUtilChains: false,
    // A shared build machine: no eviction or image collection because of its disk or memory.
    evictionHard: {
      'memory.available': '50Mi',
      'nodefs.available': '1%',
      'imagefs.available': '1%',
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    rotateCertificates: false,
    ...o.extra,
  });
}

/**
 * The pods' network: a bridge with host-local addresses. `ipamDir` keeps the address leases
 * (host-local locks them with flock: a local filesystem, not a VM's 9p share).
 */
export function writeCniConfig(dir: string, podCidr: string, ipamDir: string): void {
  mkdirSync(path.join(dir, 'net.d'), { recursive: true });
  writeFileSync(
    path.join(dir, 'net.d', '10-rewind.conflist'),
    JSON.stringify(
      {
        cniVersion: '1.0.0',
        name: 'rewind',
        plugins: [
          {
            type: 'bridge',
            bridge: BRIDGE,
            isGateway: true,
            // Pods reach only the cluster: no masquerading to the outside, no rules to undo.
            ipMasq: false,
            // A pod reaching itself through a Service leaves and re-enters by the same port.
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: podCidr }]],
              routes: [{ dst: '0.0.0.0/0' }],
              dataDir: ipamDir,
            },
          },
        ],
      },
      null,
      2,
    ),
  );
}

/** Where a node's containerd keeps its things (all absolute paths). */
export interface ContainerdPaths {
  root: string;
  state: string;
  /** The gRPC socket; the ttrpc one is beside it. */
  socket: string;
  /** runc's state. */
  runcRoot: string;
  /** The CNI configuration folder (writeCniConfig()'s `net.d`). */
  cniConfDir: string;
}

/** A node's containerd in its folder `dir` on this machine. */
export function hostContainerdPaths(dir: string): ContainerdPaths {
  const f = (file: string): string => path.join(dir, file);
  return {
    root: f('containerd/root'),
    state: f('containerd/state'),
    socket: f('containerd/containerd.sock'),
    runcRoot: f('runc'),
    cniConfDir: f('cni/net.d'),
  };
}

/**
 * containerd with the CRI plugin. restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, and
 * runc fails a sandbox whose oom_score_adj (-998) is below its own.
 */
export function containerdConfig(paths: ContainerdPaths, sandboxImage: string): string {
  const q = (value: string): string => JSON.stringify(value);
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = ${q(paths.root)}
state = ${q(paths.state)}
# Plugins a test node has no use for (and /opt/containerd, which "opt" would make).
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = ${q(paths.socket)}

[ttrpc]
  address = ${q(`${paths.socket}.ttrpc`)}

[${cri}]
  sandbox_image = ${q(sandboxImage)}
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  tolerate_missing_hugetlb_controller = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [${cri}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = ${q(paths.cniConfDir)}
    max_conf_num = 1

  [${cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [${cri}.containerd.runtimes.runc.options]
        Root = ${q(paths.runcRoot)}
        SystemdCgroup = false
`;
}

/**
 * The parts of the host a node changes, to compare before and after a cluster (node.test.ts).
 * Only what can be a cluster's: another program on this machine (a containerd of its own, say)
 * may mount and start processes meanwhile.
 */
export interface HostSnapshot {
  /** Mount points under /var/lib/kubelet, /run/netns and any cluster's temporary folder. */
  mounts: string[];
  /** iptables rules and chains, without counters. */
  iptables: string[];
  /** Network links (`name type`). */
  links: string[];
  /**
   * Processes of the pinned Kubernetes daemons and CoreDNS, those naming a cluster's folder
   * (containerd, its shims) and those in the kubelet's cgroups (`pid command line`). Not the
   * kube-apiservers of control planes without a node, nor the kubectl and helm of other suites:
   * they run meanwhile (one such kube-apiserver, gone by the second look, failed a CI rehearsal).
   */
  processes: string[];
  sysctls: Record<string, string | undefined>;
  /** Which of the host folders a node may make exist. */
  paths: string[];
  /** The kubelet's pod cgroups. */
  podCgroups: string[];
}

export async function hostSnapshot(): Promise<HostSnapshot> {
  const clusterDirs = path.join(os.tmpdir(), 'rewind-cluster-');
  const daemons = ['kube-', 'kubelet-', 'coredns-'].map((name) =>
    path.join(cacheDir(), 'k8s', name),
  );
  // controlPlane.ts's folder: inside a cluster's folder when the control plane has a node.
  const controlPlaneDirs = path.join(os.tmpdir(), 'rewind-k8s-');
  const namesAny = (p: HostProcess, prefix: string) => p.cmdline.some((a) => a.includes(prefix));
  const isDaemon = (p: HostProcess) => daemons.some((d) => (p.cmdline[0] ?? '').startsWith(d));
  const inPodCgroups = new Set(topCgroups(POD_CGROUP).flatMap(pidsInCgroupTree));
  return {
    mounts: mountPoints().filter(
      (m) =>
        m.startsWith(clusterDirs) ||
        [KUBELET_ROOT, '/run/netns', '/var/run/netns'].some(
          (d) => m === d || m.startsWith(`${d}/`),
        ),
    ),
    iptables: await iptablesRules(),
    links: await networkLinks(),
    processes: processes()
      .filter(
        (p) =>
          inPodCgroups.has(p.pid) ||
          (isDaemon(p) && !namesAny(p, controlPlaneDirs)) ||
          namesAny(p, clusterDirs),
      )
      .map((p) => `${p.pid} ${p.cmdline.join(' ')}`),
    sysctls: Object.fromEntries(SYSCTLS.map((name) => [name, readSysctl(name)])),
    paths: HOST_PATHS.filter((p) => existsSync(p)),
    podCgroups: topCgroups(POD_CGROUP),
  };
}
