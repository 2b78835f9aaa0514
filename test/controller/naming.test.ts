// The pod registry (tombstones kept for the recorder's window and pruned after, bounded, container
// ids with and without their runtime prefix) and one node's cgroup-names table, exact. Pure code:
// time is passed in, no API server is needed for these rules (the informer that feeds the registry
// is tested with the real kube-apiserver where it is wired).
import type { V1Pod } from '@kubernetes/client-node';

import { cgroupNames, podNamesOption, type CgroupFact } from '../../controller/naming/cgroup-names';
import { bareContainerId, PodRegistry, type PodLike } from '../../controller/naming/pod-registry';

const hex = (c: string): string => c.repeat(64);
const UID_WEB = '11111111-2222-3333-4444-555555555555';
const UID_DB = '66666666-7777-8888-9999-aaaaaaaaaaaa';

function pod(
  ns: string,
  name: string,
  uid: string,
  containers: Record<string, string> = {},
): PodLike {
  return {
    metadata: { namespace: ns, name, uid },
    spec: { nodeName: 'node-a' },
    status: {
      containerStatuses: Object.entries(containers).map(([n, id]) => ({
        name: n,
        containerID: `containerd://${id}`,
      })),
    },
  };
}

const MINUTE = 60_000;

describe('PodRegistry', () => {
  it('finds pods by uid and containers by id, with or without the runtime prefix', () => {
    const r = new PodRegistry({ retentionMs: 10 * MINUTE, now: () => 0 });
    r.upsert(pod('shop', 'web-1', UID_WEB, { nginx: hex('a'), sidecar: hex('b') }));
    expect(r.podByUid(UID_WEB)).toEqual({
      namespace: 'shop',
      name: 'web-1',
      uid: UID_WEB,
      nodeName: 'node-a',
    });
    expect(r.containerById(hex('a'))?.container).toBe('nginx');
    expect(r.containerById(`containerd://${hex('b')}`)?.container).toBe('sidecar');
    expect(r.containerById(`cri-o://${hex('b')}`)?.pod.name).toBe('web-1');
    expect(r.containerById(hex('A'))?.container).toBe('nginx'); // ids are hex: case does not matter
    // Whole ids only: a prefix of a known id names nothing.
    expect(r.containerById(hex('a').slice(0, 12))).toBeUndefined();
    expect(r.containerById(hex('a') + '0')).toBeUndefined();
    expect(r.podByUid('nope')).toBeUndefined();
    expect(bareContainerId('docker://ABC')).toBe('abc');
  });

  it('keeps the ids of restarted, init and ephemeral containers', () => {
    const r = new PodRegistry({ retentionMs: MINUTE });
    r.upsert({
      metadata: { namespace: 'shop', name: 'web-1', uid: UID_WEB },
      status: {
        initContainerStatuses: [{ name: 'init', containerID: `containerd://${hex('1')}` }],
        containerStatuses: [
          {
            name: 'nginx',
            containerID: `containerd://${hex('3')}`,
            lastState: { terminated: { containerID: `containerd://${hex('2')}` } },
          },
          { name: 'pending' }, // not started: no id
        ],
        ephemeralContainerStatuses: [{ name: 'debug', containerID: `containerd://${hex('4')}` }],
      },
    });
    // A later status that no longer shows the first restart still resolves it.
    r.upsert(pod('shop', 'web-1', UID_WEB, { nginx: hex('5') }));
    expect([1, 2, 3, 4, 5].map((d) => r.containerById(hex(String(d)))?.container)).toEqual([
      'init',
      'nginx',
      'nginx',
      'debug',
      'nginx',
    ]);
  });

  it('bounds the container ids kept per pod, forgetting the oldest', () => {
    const r = new PodRegistry({ retentionMs: MINUTE, maxContainerIdsPerPod: 2 });
    for (const d of ['1', '2', '3']) r.upsert(pod('shop', 'web-1', UID_WEB, { nginx: hex(d) }));
    expect(r.containerById(hex('1'))).toBeUndefined();
    expect(r.containerById(hex('2'))?.container).toBe('nginx');
    expect(r.containerById(hex('3'))?.container).toBe('nginx');
  });

  it('keeps a deleted pod for the retention, then forgets it and its containers', () => {
    let now = 1_000_000;
    const r = new PodRegistry({ retentionMs: 10 * MINUTE, now: () => now });
    r.upsert(pod('shop', 'web-1', UID_WEB, { nginx: hex('a') }));
    r.upsert(pod('shop', 'db-0', UID_DB, { pg: hex('d') }));
    r.remove(pod('shop', 'web-1', UID_WEB, { nginx: hex('a') }), now);
    expect(r.tombstoneCount).toBe(1);
    expect(r.podByUid(UID_WEB)?.deletedAt).toBe(1_000_000);
    now += 10 * MINUTE; // exactly the window: still kept
    expect(r.prune()).toBe(0);
    expect(r.containerById(hex('a'))?.pod.name).toBe('web-1');
    now += 1;
    expect(r.prune()).toBe(1);
    expect(r.podByUid(UID_WEB)).toBeUndefined();
    expect(r.containerById(hex('a'))).toBeUndefined();
    expect(r.podByUid(UID_DB)?.name).toBe('db-0'); // live pods are never pruned
    expect(r.size).toBe(1);
  });

  it('counts the final statuses of a deleted pod, and a pod seen again is alive', () => {
    const r = new PodRegistry({ retentionMs: MINUTE, now: () => 0 });
    r.upsert(pod('shop', 'web-1', UID_WEB));
    r.remove(pod('shop', 'web-1', UID_WEB, { nginx: hex('a') }), 5);
    expect(r.containerById(hex('a'))?.pod.deletedAt).toBe(5);
    r.upsert(pod('shop', 'web-1', UID_WEB, { nginx: hex('a') }));
    expect(r.podByUid(UID_WEB)?.deletedAt).toBeUndefined();
    expect(r.tombstoneCount).toBe(0);
    expect(r.prune(10 * MINUTE)).toBe(0);
  });

  it('bounds the tombstones, forgetting the oldest deletions first', () => {
    const r = new PodRegistry({ retentionMs: 60 * MINUTE, maxTombstones: 3 });
    const uid = (i: number): string => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`;
    for (let i = 0; i < 5; i++) r.upsert(pod('ns', `p${i}`, uid(i), { c: hex(String(i)) }));
    for (let i = 0; i < 5; i++) r.remove(pod('ns', `p${i}`, uid(i)), 1000 + i);
    expect(r.tombstoneCount).toBe(3);
    expect([0, 1, 2, 3, 4].map((i) => r.podByUid(uid(i))?.name)).toEqual([
      undefined,
      undefined,
      'p2',
      'p3',
      'p4',
    ]);
    expect(r.containerById(hex('0'))).toBeUndefined();
    expect(r.containerById(hex('4'))?.container).toBe('c');
  });

  it('resolves a static pod by the config hash its cgroup carries', () => {
    const r = new PodRegistry({ retentionMs: MINUTE });
    const hash = 'f'.repeat(32);
    r.upsert({
      metadata: {
        namespace: 'kube-system',
        name: 'etcd-node-a',
        uid: UID_DB,
        annotations: { 'kubernetes.io/config.mirror': hash, 'kubernetes.io/config.hash': hash },
      },
    });
    expect(r.podByUid(hash)?.name).toBe('etcd-node-a');
    expect(r.podByUid(UID_DB)?.name).toBe('etcd-node-a');
  });

  it("takes client-node's V1Pod as it is", () => {
    const v: V1Pod = {
      metadata: { namespace: 'shop', name: 'web-1', uid: UID_WEB },
      spec: { nodeName: 'node-a', containers: [{ name: 'nginx' }] },
      status: {
        containerStatuses: [
          {
            name: 'nginx',
            image: 'nginx',
            imageID: '',
            ready: true,
            restartCount: 0,
            containerID: `containerd://${hex('a')}`,
          },
        ],
      },
    };
    const r = new PodRegistry({ retentionMs: MINUTE });
    r.upsert(v);
    r.remove(v, 0);
    expect(r.containerById(hex('a'))?.pod).toMatchObject({ name: 'web-1', deletedAt: 0 });
  });

  it('ignores pods it cannot name and refuses bad limits', () => {
    const r = new PodRegistry({ retentionMs: MINUTE });
    r.upsert({ metadata: { name: 'x' } });
    r.remove({ metadata: {} }, 0);
    expect(r.size).toBe(0);
    expect(() => new PodRegistry({ retentionMs: -1 })).toThrow(/retentionMs must be/);
    expect(() => new PodRegistry({ retentionMs: 1, maxTombstones: 0 })).toThrow(/maxTombstones/);
  });
});

describe('cgroupNames', () => {
  const facts: CgroupFact[] = [
    { cgroupId: '1', path: '/', exited: false },
    { cgroupId: '20', path: '/system.slice/kubelet.service', exited: false },
    { cgroupId: '100', path: '/kubepods/pod-web', kind: 'pod', podUid: UID_WEB, exited: false },
    {
      cgroupId: '101',
      path: `/kubepods/pod-web/${hex('a')}`,
      kind: 'container',
      podUid: UID_WEB,
      containerId: hex('a'),
      exited: false,
    },
    {
      cgroupId: '102', // the sandbox: a container shape, an id no status carries
      path: `/kubepods/pod-web/${hex('e')}`,
      kind: 'container',
      podUid: UID_WEB,
      containerId: hex('e'),
      exited: false,
    },
    {
      cgroupId: '18446744073709551615', // ids are 64-bit: the largest still names
      path: `/kubepods/pod-db/${hex('d')}`,
      kind: 'container',
      podUid: UID_DB,
      containerId: hex('d'),
      exited: true,
    },
    {
      cgroupId: '300',
      path: `/kubepods/pod-x/crio-conmon-${hex('c')}`,
      kind: 'conmon',
      podUid: UID_DB,
      containerId: hex('d'),
      exited: false,
    },
    {
      cgroupId: '400', // a pod the controller never saw (or forgot): not guessed
      path: `/kubepods/pod-z/${hex('9')}`,
      kind: 'container',
      podUid: 'zzzzzzzz-0000-0000-0000-000000000000',
      containerId: hex('9'),
      exited: true,
    },
    {
      cgroupId: '18446744073709551616', // beyond 64 bits: malformed, unnamed
      path: '/kubepods/pod-web/x',
      kind: 'pod',
      podUid: UID_WEB,
      exited: false,
    },
  ];

  it('names containers, pods, sandboxes and conmon; leaves unknown pods unnamed', () => {
    const r = new PodRegistry({ retentionMs: 10 * MINUTE });
    r.upsert(pod('shop', 'web-1', UID_WEB, { nginx: hex('a') }));
    r.upsert(pod('shop', 'db-0', UID_DB, { pg: hex('d') }));
    r.remove(pod('shop', 'db-0', UID_DB, { pg: hex('d') }), 0); // deleted before the snapshot
    const t = cgroupNames(facts, r);
    const web = { namespace: 'shop', pod: 'web-1', podUid: UID_WEB };
    const db = { namespace: 'shop', pod: 'db-0', podUid: UID_DB };
    expect(t.names).toEqual(
      new Map([
        [100n, { ...web, container: '' }],
        [101n, { ...web, container: 'nginx' }],
        [102n, { ...web, container: '' }],
        [18446744073709551615n, { ...db, container: 'pg' }],
        [300n, { ...db, container: '' }],
      ]),
    );
    expect(t.named).toBe(5);
    expect(t.unnamed).toBe(2);
    expect(t.unknownPodUids).toEqual([UID_WEB, 'zzzzzzzz-0000-0000-0000-000000000000']);
    expect(podNamesOption(t.names)).toEqual({
      '100': { ...web, container: '' },
      '101': { ...web, container: 'nginx' },
      '102': { ...web, container: '' },
      '300': { ...db, container: '' },
      '18446744073709551615': { ...db, container: 'pg' },
    });
  });

  it('does not take a container id another pod claims for this pod', () => {
    const r = new PodRegistry({ retentionMs: MINUTE });
    r.upsert(pod('shop', 'web-1', UID_WEB, { nginx: hex('a') }));
    const t = cgroupNames(
      [
        {
          cgroupId: '5',
          path: '/x',
          kind: 'container',
          podUid: UID_DB,
          containerId: hex('a'),
          exited: false,
        },
      ],
      r,
    );
    expect(t.names.size).toBe(0);
    expect(t.unnamed).toBe(1);
  });

  it('names nothing once the tombstone is pruned', () => {
    const r = new PodRegistry({ retentionMs: MINUTE });
    r.upsert(pod('shop', 'db-0', UID_DB, { pg: hex('d') }));
    r.remove(pod('shop', 'db-0', UID_DB), 0);
    expect(cgroupNames(facts, r).names.get(18446744073709551615n)?.pod).toBe('db-0');
    r.prune(MINUTE + 1);
    const t = cgroupNames(facts, r);
    expect(t.names.size).toBe(0);
    expect(t.named).toBe(0);
    expect(t.unnamed).toBe(7);
  });
});
