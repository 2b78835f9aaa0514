/**
 * Cgroup trees for tests, laid out as the kubelet with containerd or CRI-O writes them under the
 * systemd and cgroupfs drivers. They are real directories in a temporary folder, so their ids are
 * real inode numbers as on cgroupfs; what the folder cannot be is cgroupfs itself (this machine
 * cannot mount a cgroup2 tree for a test), so each directory holds the interface files a scan
 * must skip (`cgroup.procs`; `cgroup.controllers` at the root, which marks a cgroup2 root).
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const POD_A = '7b0b5e4c-1d7a-4d2e-9f3c-8a1b2c3d4e5f';
export const POD_B = 'c2f1a9e0-5b6d-4e7f-8a9b-0c1d2e3f4a5b';
/** 64-hex ids: a pod's sandbox and its containers. */
export const SANDBOX_A = '1'.repeat(64);
export const APP_A = 'a'.repeat(60) + '0001';
export const SIDECAR_A = 'a'.repeat(60) + '0002';
export const SANDBOX_B = '2'.repeat(64);
export const APP_B = 'b'.repeat(60) + '0001';

const esc = (uid: string): string => uid.replace(/-/g, '_');

const SYSTEM = ['/system.slice', '/system.slice/kubelet.service', '/init.scope'];

/** The kubelet's QoS levels and two pods (A burstable, B guaranteed), each with its containers. */
function kubepods(driver: 'systemd' | 'cgroupfs', container: (id: string) => string[]): string[] {
  const [levels, podA, podB] =
    driver === 'systemd'
      ? [
          ['/kubepods.slice', '/kubepods.slice/kubepods-burstable.slice'],
          `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${esc(POD_A)}.slice`,
          `/kubepods.slice/kubepods-pod${esc(POD_B)}.slice`,
        ]
      : [
          ['/kubepods', '/kubepods/burstable'],
          `/kubepods/burstable/pod${POD_A}`,
          `/kubepods/pod${POD_B}`,
        ];
  const inPod = (pod: string, ids: string[]) => [
    pod,
    ...ids.flatMap((id) => container(id).map((c) => `${pod}/${c}`)),
  ];
  return [
    ...levels,
    `${levels[0]}/${driver === 'systemd' ? 'kubepods-besteffort.slice' : 'besteffort'}`,
    ...inPod(podA, [SANDBOX_A, APP_A, SIDECAR_A]),
    ...inPod(podB, [SANDBOX_B, APP_B]),
  ];
}

/** Every directory of each layout, parents before children ('/' is the root itself). */
export const LAYOUTS = {
  // containerd's CRI plugin: `<slice>:cri-containerd:<id>` → runc's unit `cri-containerd-<id>.scope`.
  'containerd, systemd': [
    ...SYSTEM,
    '/system.slice/containerd.service',
    ...kubepods('systemd', (id) => [`cri-containerd-${id}.scope`]),
  ],
  // CRI-O: `crio-<id>.scope` and its conmon in `crio-conmon-<id>.scope`; crun's `container` child.
  'CRI-O, systemd': [
    ...SYSTEM,
    '/system.slice/crio.service',
    ...kubepods('systemd', (id) => [
      `crio-conmon-${id}.scope`,
      `crio-${id}.scope`,
      `crio-${id}.scope/container`,
    ]),
  ],
  // containerd (or cri-dockerd) with cgroupfs: the bare id under the pod directory.
  'containerd, cgroupfs': [
    ...SYSTEM,
    '/system.slice/containerd.service',
    ...kubepods('cgroupfs', (id) => [id]),
  ],
  // CRI-O with cgroupfs: `crio-<id>` and `crio-conmon-<id>` under the pod directory.
  'CRI-O, cgroupfs': [
    ...SYSTEM,
    '/system.slice/crio.service',
    ...kubepods('cgroupfs', (id) => [`crio-conmon-${id}`, `crio-${id}`]),
  ],
} as const;

export type LayoutName = keyof typeof LAYOUTS;

export class CgroupTree {
  readonly root: string;

  constructor(paths: readonly string[], options: { cgroup2Root?: boolean; parent?: string } = {}) {
    this.root = options.parent ?? mkdtempSync(join(tmpdir(), 'rewind-cgroups-'));
    if (options.cgroup2Root ?? true)
      writeFileSync(join(this.root, 'cgroup.controllers'), 'cpu io memory pids\n');
    writeFileSync(join(this.root, 'cgroup.procs'), '');
    for (const p of paths) this.add(p);
  }

  add(path: string): void {
    mkdirSync(this.dir(path), { recursive: true });
    writeFileSync(join(this.dir(path), 'cgroup.procs'), '');
  }

  /** A cgroup removed (its container exited): the directory and what it holds. */
  remove(path: string): void {
    rmSync(this.dir(path), { recursive: true });
  }

  /** The id the module would report for this cgroup: its directory's inode number. */
  id(path: string): bigint {
    return statSync(this.dir(path), { bigint: true }).ino;
  }

  dir(path: string): string {
    return join(this.root, path);
  }

  destroy(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
