/**
 * A cgroup path (relative to the cgroup2 mount, leading `/`) → the pod and container it belongs
 * to, as the kubelet and the container runtimes lay out the kubepods hierarchy. Pure.
 *
 * What the names are, from the sources that write them (read through the search tool):
 * - kubelet, `pkg/kubelet/cm/cgroup_manager_linux.go`: a cgroup name is a list such as
 *   `{kubepods, burstable, pod<uid>}`. The cgroupfs driver joins it with `/`
 *   (`ToCgroupfs`: `/kubepods/burstable/pod<uid>`); the systemd driver escapes `-` to `_` in each
 *   part (`escapeSystemdCgroupName`), joins with `-`, adds `.slice` and expands the slice
 *   (`ExpandSlice`), giving `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid
 *   with _>.slice`. Guaranteed pods have no QoS level: `/kubepods/pod<uid>`,
 *   `/kubepods.slice/kubepods-pod<uid>.slice`. A `--cgroup-root` prefixes every name
 *   (e.g. `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod<uid>.slice`), so the pod
 *   component is found wherever it is, and its parent is checked against what ExpandSlice makes.
 * - containerd's CRI plugin, `getCgroupsPath`: under a `.slice` parent the OCI cgroupsPath is
 *   `<slice>:cri-containerd:<id>`, which runc's systemd driver makes the unit
 *   `cri-containerd-<id>.scope`; otherwise `<parent>/<id>`. The pod sandbox (pause) gets the same
 *   shape as any container, so a path cannot tell the sandbox from a container.
 * - CRI-O, `internal/config/cgmgr`: `CrioPrefix = "crio"`; systemd: `<slice>:crio:<id>` →
 *   `crio-<id>.scope`, and conmon, its per-container monitor, in `crio-conmon-<id>.scope`;
 *   cgroupfs: `<parent>/crio-<id>` and `<parent>/crio-conmon-<id>`. Its `CreateSandboxCgroup`
 *   makes a cgroupfs-style `crio-<id>` under the pod slice even with the systemd driver, and crun
 *   configures the container in a child of the scope (`…/crio-<id>.scope/container`).
 * - Docker (cri-dockerd) with runc's systemd driver: `docker-<id>.scope`; with cgroupfs, `<id>`.
 *
 * A bare 64-hex id (cgroupfs) is containerd's or cri-dockerd's: the path does not say which, so
 * the runtime is `unknown`. Cgroups below a container (a process that made its own sub-cgroup,
 * crun's `container`) belong to that container. A child of the pod cgroup that is no container
 * name the runtimes write is reported as the pod's (`kind: 'pod'`), like the pod cgroup itself.
 *
 * Static pods: the kubelet names their cgroup by the uid it computed from the manifest (32 hex
 * digits, the mirror pod's `kubernetes.io/config.hash` annotation), not the mirror pod's uid.
 */

export type ContainerRuntime = 'containerd' | 'cri-o' | 'docker' | 'unknown';
export type QosClass = 'guaranteed' | 'burstable' | 'besteffort';
export type CgroupDriver = 'systemd' | 'cgroupfs';

/**
 * - `container`: a runtime's container cgroup (or one below it); the pod's sandbox (pause)
 *   container has this shape too.
 * - `conmon`: CRI-O's monitor process for the container `containerId`. It is not the container:
 *   its threads are conmon's, so the controller must not count them as the workload's.
 * - `pod`: the pod-level cgroup, or a child of it that no runtime names; no `containerId`.
 */
export type CgroupKind = 'container' | 'conmon' | 'pod';

export interface ContainerRef {
  kind: CgroupKind;
  /** The pod's uid with its dashes (systemd's `_` escapes undone). */
  podUid: string;
  qosClass: QosClass;
  driver: CgroupDriver;
  /** 64 lowercase hex digits; for `conmon`, the container it monitors. */
  containerId?: string;
  runtime?: ContainerRuntime;
}

/** A pod uid: a UUID (API pods) or 32 hex digits (static pods: the kubelet's manifest hash). */
const POD_UID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/;

/** systemd driver: `[<root>-]kubepods[-<qos>]-pod<uid with _>.slice`. */
const SYSTEMD_POD_SLICE = /^((?:.+-)?kubepods(?:-(burstable|besteffort))?)-pod([0-9a-f_]+)\.slice$/;

const SCOPED_CONTAINER = /^(cri-containerd|crio|docker)-([0-9a-f]{64})(?:\.scope)?$/;
const CONMON = /^crio-conmon-([0-9a-f]{64})(?:\.scope)?$/;
const BARE_CONTAINER_ID = /^[0-9a-f]{64}$/;

const RUNTIME_OF_PREFIX: Record<string, ContainerRuntime> = {
  'cri-containerd': 'containerd',
  crio: 'cri-o',
  docker: 'docker',
};

interface PodCgroup {
  podUid: string;
  qosClass: QosClass;
  driver: CgroupDriver;
  /** Index of the pod's component in the path's components. */
  index: number;
}

export function containerOfCgroupPath(path: string): ContainerRef | undefined {
  const parts = path.split('/').filter((p) => p !== '');
  const pod = findPod(parts);
  if (!pod) return undefined;
  const { index, ...podFields } = pod;
  const child = parts[index + 1];
  const container = child === undefined ? undefined : containerOfComponent(child);
  return container ? { ...podFields, ...container } : { kind: 'pod', ...podFields };
}

function findPod(parts: string[]): PodCgroup | undefined {
  for (let i = 0; i < parts.length; i++) {
    const pod = systemdPod(parts, i) ?? cgroupfsPod(parts, i);
    if (pod) return pod;
  }
  return undefined;
}

function systemdPod(parts: string[], i: number): PodCgroup | undefined {
  const match = SYSTEMD_POD_SLICE.exec(parts[i]);
  if (!match) return undefined;
  const [, parentName, qos, escapedUid] = match;
  // ExpandSlice puts `a-b-c.slice` inside `a-b.slice`: anything else is not the kubelet's.
  if (i === 0 || parts[i - 1] !== `${parentName}.slice`) return undefined;
  const podUid = escapedUid.replace(/_/g, '-');
  if (!POD_UID.test(podUid)) return undefined;
  return { podUid, qosClass: qosOf(qos), driver: 'systemd', index: i };
}

function cgroupfsPod(parts: string[], i: number): PodCgroup | undefined {
  if (parts[i] !== 'kubepods') return undefined;
  let qos: string | undefined;
  let podIndex = i + 1;
  if (parts[podIndex] === 'burstable' || parts[podIndex] === 'besteffort') {
    qos = parts[podIndex];
    podIndex++;
  }
  const component = parts[podIndex];
  if (component === undefined || !component.startsWith('pod')) return undefined;
  const podUid = component.slice('pod'.length);
  if (!POD_UID.test(podUid)) return undefined;
  return { podUid, qosClass: qosOf(qos), driver: 'cgroupfs', index: podIndex };
}

function qosOf(level: string | undefined): QosClass {
  // The kubelet gives guaranteed pods no QoS level of their own (directly under kubepods).
  return level === 'burstable' || level === 'besteffort' ? level : 'guaranteed';
}

function containerOfComponent(
  name: string,
): Pick<ContainerRef, 'kind' | 'containerId' | 'runtime'> | undefined {
  // conmon first: `crio-conmon-<id>` would not match SCOPED_CONTAINER, but say so explicitly.
  const conmon = CONMON.exec(name);
  if (conmon) return { kind: 'conmon', containerId: conmon[1], runtime: 'cri-o' };
  const scoped = SCOPED_CONTAINER.exec(name);
  if (scoped) {
    return { kind: 'container', containerId: scoped[2], runtime: RUNTIME_OF_PREFIX[scoped[1]] };
  }
  if (BARE_CONTAINER_ID.test(name)) {
    return { kind: 'container', containerId: name, runtime: 'unknown' };
  }
  return undefined;
}
