/**
 * The cgroup path parser over paths as the kubelet, containerd, CRI-O and cri-dockerd write them
 * (systemd and cgroupfs drivers, with and without a kubelet --cgroup-root), and over paths that
 * must not be taken for a pod's: system services, QoS levels, malformed uids, wrong parents.
 */
import { containerOfCgroupPath, type ContainerRef } from '../../agent/cgroups';

const UID = '7b0b5e4c-1d7a-4d2e-9f3c-8a1b2c3d4e5f';
const UID_ESCAPED = UID.replace(/-/g, '_');
const STATIC_UID = '3f0c2d7e9b1a4c5d8e6f7a8b9c0d1e2f';
const ID = 'a3c1e5f7b9d2046813579bdf02468ace13579bdf02468ace13579bdf02468ace';
const SYSTEMD_BURSTABLE = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_ESCAPED}.slice`;
const SYSTEMD_GUARANTEED = `/kubepods.slice/kubepods-pod${UID_ESCAPED}.slice`;
const SYSTEMD_BESTEFFORT = `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_ESCAPED}.slice`;

const systemd = { podUid: UID, driver: 'systemd' } as const;
const cgroupfs = { podUid: UID, driver: 'cgroupfs' } as const;
const container = { kind: 'container', containerId: ID } as const;

const valid: [string, string, ContainerRef][] = [
  [
    'containerd, systemd, burstable',
    `${SYSTEMD_BURSTABLE}/cri-containerd-${ID}.scope`,
    { ...systemd, ...container, qosClass: 'burstable', runtime: 'containerd' },
  ],
  [
    'containerd, systemd, guaranteed',
    `${SYSTEMD_GUARANTEED}/cri-containerd-${ID}.scope`,
    { ...systemd, ...container, qosClass: 'guaranteed', runtime: 'containerd' },
  ],
  [
    'CRI-O, systemd, besteffort',
    `${SYSTEMD_BESTEFFORT}/crio-${ID}.scope`,
    { ...systemd, ...container, qosClass: 'besteffort', runtime: 'cri-o' },
  ],
  [
    "CRI-O's conmon, systemd",
    `${SYSTEMD_BURSTABLE}/crio-conmon-${ID}.scope`,
    { ...systemd, kind: 'conmon', containerId: ID, qosClass: 'burstable', runtime: 'cri-o' },
  ],
  [
    'CRI-O + crun: the container child of the scope',
    `${SYSTEMD_BURSTABLE}/crio-${ID}.scope/container`,
    { ...systemd, ...container, qosClass: 'burstable', runtime: 'cri-o' },
  ],
  [
    "CRI-O's cgroupfs-style sandbox cgroup under a pod slice",
    `${SYSTEMD_GUARANTEED}/crio-${ID}`,
    { ...systemd, ...container, qosClass: 'guaranteed', runtime: 'cri-o' },
  ],
  [
    'cri-dockerd, systemd',
    `${SYSTEMD_BURSTABLE}/docker-${ID}.scope`,
    { ...systemd, ...container, qosClass: 'burstable', runtime: 'docker' },
  ],
  [
    'a sub-cgroup a process made two levels below its container',
    `${SYSTEMD_BURSTABLE}/cri-containerd-${ID}.scope/workers/w1`,
    { ...systemd, ...container, qosClass: 'burstable', runtime: 'containerd' },
  ],
  [
    'kubelet --cgroup-root=/kubelet (kind), systemd',
    `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_ESCAPED}.slice/cri-containerd-${ID}.scope`,
    { ...systemd, ...container, qosClass: 'besteffort', runtime: 'containerd' },
  ],
  [
    'static pod (uid = manifest hash), systemd',
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${STATIC_UID}.slice/cri-containerd-${ID}.scope`,
    {
      ...systemd,
      ...container,
      podUid: STATIC_UID,
      qosClass: 'burstable',
      runtime: 'containerd',
    },
  ],
  ['the pod slice itself', SYSTEMD_BURSTABLE, { ...systemd, kind: 'pod', qosClass: 'burstable' }],
  [
    'a child of the pod slice no runtime names',
    `${SYSTEMD_GUARANTEED}/something-else.scope`,
    { ...systemd, kind: 'pod', qosClass: 'guaranteed' },
  ],
  [
    'containerd or cri-dockerd, cgroupfs, burstable',
    `/kubepods/burstable/pod${UID}/${ID}`,
    { ...cgroupfs, ...container, qosClass: 'burstable', runtime: 'unknown' },
  ],
  [
    'cgroupfs, guaranteed',
    `/kubepods/pod${UID}/${ID}`,
    { ...cgroupfs, ...container, qosClass: 'guaranteed', runtime: 'unknown' },
  ],
  [
    'cgroupfs, besteffort',
    `/kubepods/besteffort/pod${UID}/${ID}`,
    { ...cgroupfs, ...container, qosClass: 'besteffort', runtime: 'unknown' },
  ],
  [
    'CRI-O, cgroupfs',
    `/kubepods/besteffort/pod${UID}/crio-${ID}`,
    { ...cgroupfs, ...container, qosClass: 'besteffort', runtime: 'cri-o' },
  ],
  [
    "CRI-O's conmon, cgroupfs",
    `/kubepods/burstable/pod${UID}/crio-conmon-${ID}`,
    { ...cgroupfs, kind: 'conmon', containerId: ID, qosClass: 'burstable', runtime: 'cri-o' },
  ],
  [
    'kubelet --cgroup-root=/kubelet, cgroupfs, nested below the container',
    `/kubelet/kubepods/pod${UID}/${ID}/sub`,
    { ...cgroupfs, ...container, qosClass: 'guaranteed', runtime: 'unknown' },
  ],
  [
    'the pod directory, cgroupfs',
    `/kubepods/pod${UID}`,
    { ...cgroupfs, kind: 'pod', qosClass: 'guaranteed' },
  ],
  [
    'a 63-digit "id" is no container',
    `/kubepods/pod${UID}/${ID.slice(1)}`,
    { ...cgroupfs, kind: 'pod', qosClass: 'guaranteed' },
  ],
];

const notPods: [string, string][] = [
  ['the root', '/'],
  ['a system service', '/system.slice/containerd.service'],
  ['a docker container outside Kubernetes', `/system.slice/docker-${ID}.scope`],
  ['conmon moved to system.slice (conmon_cgroup)', `/system.slice/crio-conmon-${ID}.scope`],
  ['a user session', '/user.slice/user-1000.slice/session-3.scope'],
  ['the kubepods slice', '/kubepods.slice'],
  ['a QoS slice', '/kubepods.slice/kubepods-burstable.slice'],
  ['the kubepods directory', '/kubepods'],
  ['a QoS directory', '/kubepods/besteffort'],
  ['a pod slice with an unescaped uid', `/kubepods.slice/kubepods-pod${UID}.slice`],
  [
    'a pod slice with a malformed uid',
    '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podnotauid.slice',
  ],
  [
    'a pod slice under the wrong parent',
    `/kubepods.slice/kubepods-besteffort.slice/kubepods-burstable-pod${UID_ESCAPED}.slice`,
  ],
  ['a pod slice at the root', `/kubepods-pod${UID_ESCAPED}.slice`],
  ['a cgroupfs pod with systemd escapes', `/kubepods/pod${UID_ESCAPED}/${ID}`],
  ['a cgroupfs pod under an unknown QoS level', `/kubepods/gold/pod${UID}/${ID}`],
  ['a pod directory outside kubepods', `/pods/pod${UID}/${ID}`],
  ['an uppercase uid', `/kubepods/pod${UID.toUpperCase()}/${ID}`],
];

describe('containerOfCgroupPath', () => {
  test.each(valid)('%s', (_name, path, expected) => {
    expect(containerOfCgroupPath(path)).toEqual(expected);
  });

  test.each(notPods)('not a pod: %s', (_name, path) => {
    expect(containerOfCgroupPath(path)).toBeUndefined();
  });

  test('repeated and trailing slashes do not change the answer', () => {
    expect(containerOfCgroupPath(`//kubepods/burstable/pod${UID}//${ID}/`)).toEqual(
      containerOfCgroupPath(`/kubepods/burstable/pod${UID}/${ID}`),
    );
  });
});
