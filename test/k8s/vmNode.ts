/**
 * A Kubernetes node inside a test VM (test/vm/vm.ts): Debian's kernel under qemu, where the
 * module loads, cgroup v2 as most production nodes mount it. The same containerd, runc, CNI
 * plugins and kubelet as the host node, from the host's root that the guest mounts over 9p.
 *
 * The link. The host joins the VMs' private Ethernet segment (a VDE switch) through a tap,
 * VM_LINK_PREFIX + 0 at LINK_HOST_ADDRESS; the VM of index i is 10.98.0.(i+2) there and its pods
 * are 10.244.(i+1).0/24, routed by the host to it. Nothing is translated: the kubelet calls the
 * API server at the host's advertised address, the API server calls the kubelet (logs, exec,
 * port-forward) at its InternalIP, and the controller's pod on the host dials the agent's pod in
 * the VM at its pod IP. qemu's user network cannot carry those calls into the guest (it only
 * forwards chosen ports from the host's loopback), so it keeps only the exec server's port.
 *
 * The images. Importing Rewind's image in the guest takes minutes under TCG; it comes on a node
 * disk made once per image on the host (vmNodeDisk.ts) and attached with snapshot=on. The small
 * busybox and sandbox images of the cluster are imported in the guest.
 *
 * Two steps, so that the slow one overlaps the control plane's start: bootVmNode() boots the VM
 * and starts containerd; joinVmNode() starts the kubelet once the API server answers.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { cacheDir, binaryPath } from './binaries';
import type { ControlPlane } from './controlPlane';
import {
  containerdConfig,
  kubeletConfiguration,
  VM_LINK_PREFIX,
  writeCniConfig,
  type ContainerdPaths,
} from './hostNode';
import { commandOk } from './process';
import { NODE_DISK_MOUNT, type NodeDisk } from './vmNodeDisk';
import { shellQuote } from '../vm/qemu-args';
import { plugHost, startSwitch, type HostPlug, type VdeSwitch } from '../vm/switch';
import { Vm } from '../vm/vm';

/** The host's end of the VM link, and the VMs' gateway. */
export const LINK_HOST_ADDRESS = '10.98.0.1';
const LINK_PREFIX_LENGTH = 24;
/** containerd's state and sockets in the guest: tmpfs (no Unix sockets on 9p). */
const GUEST_STATE = '/run/rewind-state';
/** The kubelet's port in the guest: its default (the VM is a machine of its own). */
const KUBELET_PORT = 10250;
const KUBELET_HEALTHZ_PORT = 10248;
/**
 * The taint a VM node registers with: only pods that tolerate it run there (the chart's
 * DaemonSets tolerate every taint), so the controller, `helm test` and the tests' own pods stay
 * on the host node, where its volume is and the tests read its files.
 */
export const VM_NODE_TAINT = { key: 'rewind.dev/vm-node', value: 'true', effect: 'NoSchedule' };

/** The VM link: the switch and the host's tap on it, shared by every VM node of a cluster. */
export interface VmLink {
  sw: VdeSwitch;
  plug: HostPlug;
  stop(): Promise<void>;
}

/** Start the switch in `dir` and plug the host into it (call under the host lock). */
export async function startVmLink(dir: string): Promise<VmLink> {
  const sw = await startSwitch(dir);
  try {
    const plug = await plugHost(sw, {
      tap: `${VM_LINK_PREFIX}0`,
      address: `${LINK_HOST_ADDRESS}/${LINK_PREFIX_LENGTH}`,
    });
    return {
      sw,
      plug,
      stop: async () => {
        await plug.stop();
        await sw.stop();
      },
    };
  } catch (error) {
    await sw.stop();
    throw error;
  }
}

export interface VmNodeOptions {
  /** The Node's name, the guest's hostname. */
  name: string;
  /** Which VM node of the cluster (0, 1…): its addresses. */
  index: number;
  link: VmLink;
  /** The node's folder (made; shared with the guest, at the same path, with `shareDir`). */
  dir: string;
  /** A host folder the guest sees read-write at the same path: holds `dir`, the PKI, images. */
  shareDir: string;
  /** The disk with containerd's root, the caller's images unpacked (vmNodeDisk.ts). */
  disk: NodeDisk;
  /** Small image archives imported in the guest (busybox, the sandbox). */
  images: string[];
  sandboxImage: string;
  /** The DNS Service's ClusterIP the kubelet gives pods. */
  clusterDns: string;
  memoryMiB?: number;
  readyTimeoutMs: number;
  verbosity: number;
  log: (line: string) => void;
}

/** A VM node booted, its containerd running, the kubelet not started yet. */
export interface BootedVmNode {
  name: string;
  /** The node's InternalIP on the VM link. */
  address: string;
  podCidr: string;
  vm: Vm;
  dir: string;
  options: VmNodeOptions;
  /** The images containerd has (disk and guest imports). */
  images: string[];
  /** Power the VM off (its kernel log checked); what went wrong, if anything. */
  stop(): Promise<string[]>;
}

export interface VmNode extends BootedVmNode {
  logs: Record<string, string>;
  /** Import an archive with the guest's ctr: minutes for a large image under TCG. */
  importImage(archive: string): Promise<void>;
}

export function vmNodeAddresses(index: number): { address: string; podCidr: string } {
  return { address: `10.98.0.${index + 2}`, podCidr: `10.244.${index + 1}.0/24` };
}

/** containerd in the guest: its root on the node disk, its state and sockets on tmpfs. */
function guestContainerdPaths(dir: string): ContainerdPaths {
  return {
    root: `${NODE_DISK_MOUNT}/containerd`,
    state: `${GUEST_STATE}/containerd`,
    socket: `${GUEST_STATE}/containerd.sock`,
    runcRoot: `${GUEST_STATE}/runc`,
    cniConfDir: path.join(dir, 'cni', 'net.d'),
  };
}

/** Boot the VM, mount the node disk, start containerd, import the small images. */
export async function bootVmNode(options: VmNodeOptions): Promise<BootedVmNode> {
  const { name, dir } = options;
  const { address, podCidr } = vmNodeAddresses(options.index);
  mkdirSync(dir, { recursive: true });
  const f = (file: string): string => path.join(dir, file);
  writeCniConfig(f('cni'), podCidr, '/var/lib/cni/rewind-ipam');
  writeFileSync(
    f('containerd.toml'),
    containerdConfig(guestContainerdPaths(dir), options.sandboxImage),
  );
  const t0 = Date.now();
  const vm = await Vm.start({
    name,
    // One vCPU: TCG runs one host thread for the guest; a second vCPU adds IPIs, not speed.
    cpus: 1,
    memoryMiB: options.memoryMiB ?? 2048,
    privateNetwork: {
      switchSocket: options.link.sw.socket,
      address: `${address}/${LINK_PREFIX_LENGTH}`,
    },
    shareDirs: [options.shareDir],
    disks: [options.disk.file],
    // The kubelet's binary, when the cache is under /tmp (the guest's /tmp is a tmpfs).
    keepPaths: [path.join(cacheDir(), 'k8s')],
  });
  const stop = async (): Promise<string[]> => {
    try {
      await vm.stop();
      return [];
    } catch (error) {
      vm.kill();
      return [(error as Error).message];
    }
  };
  try {
    options.log(`VM node ${name} booted in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const setup = path.join(__dirname, 'vm-node-setup.sh');
    const listed = await vm.run(
      [
        'bash',
        setup,
        dir,
        LINK_HOST_ADDRESS,
        NODE_DISK_MOUNT,
        guestContainerdPaths(dir).socket,
        ...options.images,
      ]
        .map(shellQuote)
        .join(' '),
      { timeoutMs: options.readyTimeoutMs },
    );
    // The host routes this VM's pods to it (the route goes with the tap).
    await commandOk('ip', [
      'route',
      'replace',
      podCidr,
      'via',
      address,
      'dev',
      options.link.plug.tap,
    ]);
    options.log(
      `VM node ${name}: containerd ready ${((Date.now() - t0) / 1000).toFixed(1)} s after boot`,
    );
    return {
      name,
      address,
      podCidr,
      vm,
      dir,
      options,
      images: listed.split('\n').filter((l) => l !== ''),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Start the kubelet of a booted VM node against `cp` (at `apiServer`, the host's advertised
 * address), and wait for its health check. The Node's readiness is the caller's to wait for.
 */
export async function joinVmNode(
  booted: BootedVmNode,
  cp: ControlPlane,
  apiServer: string,
): Promise<VmNode> {
  const { name, address, vm, dir, options } = booted;
  const f = (file: string): string => path.join(dir, file);
  const [kubeconfig, serving] = await Promise.all([
    cp.componentKubeconfig(`kubelet-${name}`, `system:node:${name}`, ['system:nodes'], apiServer),
    // The API server checks the kubelet's certificate against its InternalIP.
    cp.ca.issue({
      name: `kubelet-${name}-serving`,
      commonName: name,
      usage: 'server',
      ips: [address, '127.0.0.1'],
      dnsNames: [name],
    }),
  ]);
  writeFileSync(
    f('kubelet.yaml'),
    kubeletConfiguration({
      containerdSocket: guestContainerdPaths(dir).socket,
      caFile: cp.caFile,
      serving,
      port: KUBELET_PORT,
      healthzPort: KUBELET_HEALTHZ_PORT,
      clusterDns: options.clusterDns,
      cgroupV1: false,
      extra: {
        registerWithTaints: [VM_NODE_TAINT],
        // The default is under /usr, read-only in the guest.
        volumePluginDir: '/var/lib/kubelet/volume-plugins',
        // A TCG guest's node processes start slowly; the kubelet must not give up on them.
        runtimeRequestTimeout: '10m',
      },
    }),
  );
  const kubeletArgs = [
    binaryPath('kubelet'),
    `--config=${f('kubelet.yaml')}`,
    `--kubeconfig=${kubeconfig}`,
    `--hostname-override=${name}`,
    `--node-ip=${address}`,
    '--root-dir=/var/lib/kubelet',
    `--node-labels=${VM_NODE_TAINT.key}=${VM_NODE_TAINT.value}`,
    `--v=${options.verbosity}`,
  ];
  await vm.run(
    `setsid ${kubeletArgs.map(shellQuote).join(' ')} >>${shellQuote(f('kubelet.log'))} 2>&1 </dev/null &`,
  );
  const deadline = Date.now() + options.readyTimeoutMs;
  for (;;) {
    const r = await vm.exec(`wget -q -O - http://127.0.0.1:${KUBELET_HEALTHZ_PORT}/healthz`, {
      timeoutMs: 10_000,
    });
    if (r.code === 0 && r.stdout.trim() === 'ok') break;
    if (Date.now() > deadline) {
      throw new Error(
        `VM node ${name}: the kubelet's /healthz did not answer ok (see ${f('kubelet.log')})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  // The kubelet makes an oops a panic (kernel.panic_on_oops=1, kernel.panic=10): a dead VM and
  // its cause only in the console. The harness's settings say it in the kernel log instead.
  await vm.run('sysctl -qw kernel.panic_on_oops=0 kernel.panic=-1');
  const socket = guestContainerdPaths(dir).socket;
  return {
    ...booted,
    importImage: async (archive) => {
      await vm.run(
        ['ctr', '--address', socket, '--namespace', 'k8s.io', 'images', 'import', archive]
          .map(shellQuote)
          .join(' '),
        { timeoutMs: 20 * 60_000 },
      );
    },
    logs: { [`${name}-containerd`]: f('containerd.log'), [`${name}-kubelet`]: f('kubelet.log') },
  };
}
