/**
 * CgroupTracker fed with real scans of trees laid out as containerd and CRI-O write them: a
 * container that exits is kept, marked exited, for the retention the caller gives and forgotten
 * after it; a partial scan marks nothing exited; the number of cgroups kept is bounded, the
 * exited that went first being forgotten first. Time is passed in: nothing sleeps.
 */
import { CgroupTracker, scanCgroups, type CgroupScan } from '../../agent/cgroups';
import {
  APP_A,
  APP_B,
  CgroupTree,
  LAYOUTS,
  POD_A,
  POD_B,
  SIDECAR_A,
  type LayoutName,
} from './cgroups-fixture';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const SECOND = 1000;
const iso = (ms: number) => new Date(ms).toISOString();

const trees: CgroupTree[] = [];
afterEach(() => {
  for (const t of trees.splice(0)) t.destroy();
});

/** The cgroup of a container: its scope, or its directory under cgroupfs (not conmon's). */
function containerPath(layout: LayoutName, id: string): string {
  const names = [id, `crio-${id}`, `crio-${id}.scope`, `cri-containerd-${id}.scope`];
  return LAYOUTS[layout].find((p) => names.includes(p.slice(p.lastIndexOf('/') + 1)))!;
}

describe.each(Object.keys(LAYOUTS) as LayoutName[])('%s: containers exiting', (layout) => {
  test('kept and marked exited within the retention, forgotten beyond it', async () => {
    const t = new CgroupTree(LAYOUTS[layout]);
    trees.push(t);
    const tracker = new CgroupTracker();
    const sidecar = containerPath(layout, SIDECAR_A);
    const appB = containerPath(layout, APP_B);
    const sidecarId = t.id(sidecar);
    const appBId = t.id(appB);

    tracker.update(await scanCgroups(t.root), T0);
    const before = tracker.facts();
    expect(before.version).toBe(2);
    expect(before.scannedAt).toBe(iso(T0));
    expect(before.cgroups.every((f) => !f.exited)).toBe(true);
    expect(before.cgroups).toContainEqual(
      expect.objectContaining({
        cgroupId: sidecarId.toString(),
        path: sidecar,
        kind: 'container',
        podUid: POD_A,
        containerId: SIDECAR_A,
        qosClass: 'burstable',
        exited: false,
        lastSeen: iso(T0),
      }),
    );

    // The sidecar exits; a scan 5 s later misses it.
    t.remove(sidecar);
    tracker.update(await scanCgroups(t.root), T0 + 5 * SECOND);
    // Pod B's app exits; a scan 60 s later misses it.
    t.remove(appB);
    tracker.update(await scanCgroups(t.root), T0 + 60 * SECOND);

    const fact = (id: bigint) => tracker.facts().cgroups.find((f) => f.cgroupId === id.toString());
    expect(fact(sidecarId)).toMatchObject({
      exited: true,
      lastSeen: iso(T0),
      goneBy: iso(T0 + 5 * SECOND),
      podUid: POD_A,
      containerId: SIDECAR_A,
    });
    expect(fact(appBId)).toMatchObject({
      exited: true,
      lastSeen: iso(T0 + 5 * SECOND),
      goneBy: iso(T0 + 60 * SECOND),
      podUid: POD_B,
      containerId: APP_B,
      qosClass: 'guaranteed',
    });

    // A recorder window of 30 s at T0+70 s: the sidecar went by T0+5 s, beyond it; app B within.
    // With the sidecar go the cgroups below it (crun's `container` under CRI-O's scope).
    const under = (top: string) =>
      LAYOUTS[layout].filter((p) => p === top || p.startsWith(`${top}/`)).length;
    expect(tracker.prune(T0 + 70 * SECOND, 30 * SECOND)).toBe(under(sidecar));
    expect(fact(sidecarId)).toBeUndefined();
    expect(fact(appBId)).toMatchObject({ exited: true });
    // Everything still there is still named and not exited.
    const live = tracker.facts().cgroups.filter((f) => !f.exited);
    expect(live).toHaveLength(LAYOUTS[layout].length + 1 - under(sidecar) - under(appB));
    expect(live.every((f) => f.lastSeen === iso(T0 + 60 * SECOND))).toBe(true);
    expect(live.some((f) => f.containerId === APP_A && f.kind === 'container')).toBe(true);
  });
});

describe('CgroupTracker', () => {
  const scan = (ids: number[], complete = true): CgroupScan => ({
    version: 2,
    unifiedRoot: '/sys/fs/cgroup',
    cgroups: ids.map((id) => ({ id: BigInt(id), path: `/c${id}` })),
    complete,
    vanished: 0,
    ...(complete ? {} : { reason: 'partial' }),
  });
  const state = (tracker: CgroupTracker) =>
    tracker.facts().cgroups.map((f) => [f.cgroupId, f.exited ? 'exited' : 'live']);

  test('a partial scan marks nothing exited', () => {
    const tracker = new CgroupTracker();
    tracker.update(scan([1, 2, 3]), T0);
    tracker.update(scan([1], false), T0 + SECOND);
    expect(state(tracker)).toEqual([
      ['1', 'live'],
      ['2', 'live'],
      ['3', 'live'],
    ]);
    expect(tracker.facts().reason).toBe('partial');
    tracker.update(scan([1, 3]), T0 + 2 * SECOND);
    expect(state(tracker)).toEqual([
      ['1', 'live'],
      ['2', 'exited'],
      ['3', 'live'],
    ]);
  });

  test('a cgroup seen again is live again; a renamed one keeps its id and is re-parsed', () => {
    const tracker = new CgroupTracker();
    tracker.update(scan([7]), T0);
    tracker.update(scan([]), T0 + SECOND);
    tracker.update(
      { ...scan([]), cgroups: [{ id: 7n, path: `/kubepods/pod${POD_A}/${APP_A}` }] },
      T0 + 2 * SECOND,
    );
    const [fact] = tracker.facts().cgroups;
    expect(fact).toEqual({
      cgroupId: '7',
      path: `/kubepods/pod${POD_A}/${APP_A}`,
      kind: 'container',
      podUid: POD_A,
      containerId: APP_A,
      runtime: 'unknown',
      qosClass: 'guaranteed',
      driver: 'cgroupfs',
      exited: false,
      lastSeen: iso(T0 + 2 * SECOND),
    });
  });

  test('ids beyond 2^53 survive as exact decimal strings, ordered numerically', () => {
    const tracker = new CgroupTracker();
    const big = (1n << 63n) + 12345n;
    tracker.update(
      {
        ...scan([]),
        cgroups: [
          { id: big, path: '/big' },
          { id: 10n, path: '/ten' },
          { id: 9n, path: '/nine' },
        ],
      },
      T0,
    );
    expect(tracker.facts().cgroups.map((f) => f.cgroupId)).toEqual(['9', '10', big.toString()]);
  });

  test('bounded: the exited that went first are forgotten first, and counted', () => {
    const tracker = new CgroupTracker({ maxEntries: 5 });
    // Churn: each scan, two live cgroups and one new short-lived one that then goes.
    for (let i = 0; i < 10; i++) tracker.update(scan([1, 2, 100 + i]), T0 + i * SECOND);
    expect(tracker.size).toBe(5);
    // Live 1, 2, the one of the last scan, and the two that went last.
    expect(state(tracker)).toEqual([
      ['1', 'live'],
      ['2', 'live'],
      ['107', 'exited'],
      ['108', 'exited'],
      ['109', 'live'],
    ]);
    // 12 cgroups seen (1, 2, 100…109), 5 kept.
    expect(tracker.facts().evicted).toBe(7);
  });

  test('bounded even when one scan alone exceeds the bound: the least recently seen go', () => {
    const tracker = new CgroupTracker({ maxEntries: 3 });
    tracker.update(scan([1, 2]), T0);
    tracker.update(scan([1, 2, 3, 4, 5], false), T0 + SECOND);
    expect(tracker.size).toBe(3);
    expect(tracker.facts().evicted).toBe(2);
  });

  test('before any scan: version unknown, no cgroups; a bad bound is refused', () => {
    expect(new CgroupTracker().facts()).toEqual({ version: 'unknown', evicted: 0, cgroups: [] });
    expect(() => new CgroupTracker({ maxEntries: 0 })).toThrow(
      'maxEntries must be a positive integer, got 0',
    );
  });

  test('the facts are JSON: a round trip changes nothing', async () => {
    const t = new CgroupTree(LAYOUTS['CRI-O, systemd']);
    trees.push(t);
    const tracker = new CgroupTracker();
    tracker.update(await scanCgroups(t.root), T0);
    const facts = tracker.facts();
    expect(JSON.parse(JSON.stringify(facts))).toEqual(facts);
    expect(facts.cgroups.filter((f) => f.kind === 'conmon')).toHaveLength(5);
  });
});
