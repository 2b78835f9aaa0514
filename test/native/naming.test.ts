// Pods named in the unified trace, end to end from the controller's side: pods in the registry
// (one deleted before the snapshot: a tombstone), one node's cgroup facts turned into the merge's
// podNames, traces written with the native writer holding statedump_process and
// sched_process_cgroup events, merged; babeltrace2 judges the CTF output (process_pod events with
// the names, right after their naming events, counts right), the Chrome JSON is parsed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { cgroupNames, podNamesOption } from '../../controller/naming/cgroup-names';
import { PodRegistry, type PodLike } from '../../controller/naming/pod-registry';
import type { AgentManifest } from '../../controller/model';
import { mergeTraces, RewindError, writeTrace, type WriteEvent } from '../../native/index';
import { babeltrace, type BtEvent } from './babeltrace';
import { removeTempDirs, tempDir } from './fixtures';

const hex = (c: string): string => c.repeat(64);
const UID_WEB = '11111111-2222-3333-4444-555555555555';
const UID_DB = '66666666-7777-8888-9999-aaaaaaaaaaaa';
const ORIGIN = 1_700_000_000_000_000_000n;

function pod(name: string, uid: string, containers: Record<string, string>): PodLike {
  return {
    metadata: { namespace: 'shop', name, uid },
    spec: { nodeName: 'node-a' },
    status: {
      containerStatuses: Object.entries(containers).map(([n, id]) => ({
        name: n,
        containerID: `containerd://${id}`,
      })),
    },
  };
}

// node-a's cgroup facts as its agent's manifest carries them.
const cgroups: AgentManifest['containers']['cgroups'] = [
  { cgroupId: '20', path: '/system.slice/cron.service', exited: false },
  {
    cgroupId: '5000',
    path: '/kubepods/podweb/sandbox',
    kind: 'pod',
    podUid: UID_WEB,
    exited: false,
  },
  {
    cgroupId: '5001',
    path: `/kubepods/podweb/${hex('a')}`,
    kind: 'container',
    podUid: UID_WEB,
    containerId: hex('a'),
    exited: false,
  },
  {
    cgroupId: '6001',
    path: `/kubepods/poddb/${hex('d')}`,
    kind: 'container',
    podUid: UID_DB,
    containerId: hex('d'),
    exited: true,
  },
];

const statedump = (ts: number, tid: number, comm: string, cgroup: bigint): WriteEvent => ({
  cpu: 0,
  name: 'statedump_process',
  timestamp: ts,
  fields: {
    tid,
    pid: tid,
    ppid: 1,
    comm,
    state: 0,
    cpu: 0,
    cgroup_id: cgroup,
    pid_ns: 1,
    mnt_ns: 2,
    net_ns: 3,
  },
});
const sw = (cpu: number, ts: number, prev: number, next: number): WriteEvent => ({
  cpu,
  name: 'sched_switch',
  timestamp: ts,
  fields: { prev_tid: prev, prev_prio: 120, prev_state: 0, next_tid: next, next_prio: 120 },
});

// node-a: a statedump (tids 100 nginx, 101 pause, 102 postgres of the deleted pod, 103 cron), then
// switches to them, then tid 200 forked into nginx's container on CPU 1.
const nodeA: WriteEvent[] = [
  { cpu: 0, name: 'statedump_start', timestamp: 1000, fields: { nr_cpus: 2 } },
  statedump(1010, 100, 'nginx', 5001n),
  statedump(1020, 101, 'pause', 5000n),
  statedump(1030, 102, 'postgres', 6001n),
  statedump(1040, 103, 'cron', 20n),
  { cpu: 0, name: 'statedump_end', timestamp: 1050, fields: { nr_threads: 4 } },
  sw(0, 5000, 0, 100),
  sw(1, 5500, 0, 102),
  sw(0, 6000, 100, 103),
  {
    cpu: 1,
    name: 'sched_process_cgroup',
    timestamp: 7000,
    fields: { tid: 200, pid: 100, cgroup_id: 5001n },
  },
  sw(1, 8000, 102, 200),
  sw(1, 9000, 200, 0),
];
const nodeB: WriteEvent[] = [
  statedump(1015, 300, 'sshd', 5001n), // the same cgroup id on another node names nothing there
  sw(0, 5200, 0, 300),
];

async function traces(): Promise<{ a: string; b: string }> {
  const root = tempDir('naming');
  const a = join(root, 'a');
  const b = join(root, 'b');
  await writeTrace(a, { hostname: 'node-a', clockOffsetNs: ORIGIN, packetSize: 256 }, nodeA);
  await writeTrace(b, { hostname: 'node-b', clockOffsetNs: ORIGIN }, nodeB);
  return { a, b };
}

/** The podNames option as the controller makes it: registry (db-0 deleted) + node-a's facts. */
function podNames(): Record<string, ReturnType<typeof podNamesOption>> {
  let now = 1_000_000;
  const registry = new PodRegistry({ retentionMs: 600_000, now: () => now });
  registry.upsert(pod('web-1', UID_WEB, { nginx: hex('a') }));
  registry.upsert(pod('db-0', UID_DB, { pg: hex('d') }));
  registry.remove(pod('db-0', UID_DB, { pg: hex('d') })); // before the snapshot
  now += 60_000;
  registry.prune();
  const t = cgroupNames(cgroups, registry);
  expect(t.named).toBe(3);
  expect(t.unnamed).toBe(0);
  return { 'node-a': podNamesOption(t.names) };
}

const pods = (events: BtEvent[]): BtEvent[] => events.filter((e) => e.name === 'process_pod');

afterAll(removeTempDirs);

describe('pods named in the unified trace (babeltrace2 judges)', () => {
  it('follows each naming event of a named cgroup with process_pod, same CPU, same time', async () => {
    const { a, b } = await traces();
    const out = join(tempDir('naming-out'), 'trace');
    const summary = await mergeTraces([a, b], { out, podNames: podNames() });
    expect(summary.events).toBe(nodeA.length + nodeB.length);
    expect(summary.podEvents).toBe(4);
    expect(summary.nodes.map((n) => n.podEvents)).toEqual([4, 0]);

    const bt = babeltrace(out);
    expect(bt.stderr).toBe('');
    expect(bt.code).toBe(0);
    expect(bt.events).toHaveLength(nodeA.length + nodeB.length + 4);
    const named = pods(bt.events);
    expect(named.map((e) => [e.host, e.time, e.cpu, e.fields])).toEqual([
      [
        'node-a',
        1010n,
        0,
        {
          tid: 100n,
          pid: 100n,
          cgroup_id: 5001n,
          namespace: 'shop',
          pod: 'web-1',
          container: 'nginx',
          pod_uid: UID_WEB,
        },
      ],
      [
        'node-a',
        1020n,
        0,
        {
          tid: 101n,
          pid: 101n,
          cgroup_id: 5000n,
          namespace: 'shop',
          pod: 'web-1',
          container: '',
          pod_uid: UID_WEB,
        },
      ],
      [
        'node-a',
        1030n,
        0,
        {
          tid: 102n,
          pid: 102n,
          cgroup_id: 6001n,
          namespace: 'shop',
          pod: 'db-0',
          container: 'pg',
          pod_uid: UID_DB,
        },
      ],
      [
        'node-a',
        7000n,
        1,
        {
          tid: 200n,
          pid: 100n,
          cgroup_id: 5001n,
          namespace: 'shop',
          pod: 'web-1',
          container: 'nginx',
          pod_uid: UID_WEB,
        },
      ],
    ]);
    // Each right after the event that named its thread.
    for (const p of named) {
      const i = bt.events.indexOf(p);
      const before = bt.events[i - 1];
      expect(before?.name).toMatch(/^(statedump_process|sched_process_cgroup)$/);
      expect(before?.fields.tid).toBe(p.fields.tid);
      expect(before?.time).toBe(p.time);
    }
  });

  it('names threads whose naming events are before the window, at the first event inside it', async () => {
    const { a, b } = await traces();
    const out = join(tempDir('naming-out'), 'trace');
    const fromNs = ORIGIN + 4000n; // after the statedump
    const summary = await mergeTraces([a, b], { out, podNames: podNames(), fromNs });
    const inWindow = nodeA.filter((e) => BigInt(e.timestamp) >= 4000n).length + 1;
    expect(summary.events).toBe(inWindow);
    expect(summary.podEvents).toBe(4);
    const bt = babeltrace(out);
    expect(bt.code).toBe(0);
    expect(bt.events).toHaveLength(inWindow + 4);
    const named = pods(bt.events);
    // node-a's first event in the window is the switch at 5000 on CPU 0.
    expect(
      named.map((e) => [e.time, e.cpu, e.fields.tid, e.fields.pod, e.fields.container]),
    ).toEqual([
      [5000n, 0, 100n, 'web-1', 'nginx'],
      [5000n, 0, 101n, 'web-1', ''],
      [5000n, 0, 102n, 'db-0', 'pg'],
      [7000n, 1, 200n, 'web-1', 'nginx'],
    ]);
  });

  it('adds nothing without names', async () => {
    const { a, b } = await traces();
    const out = join(tempDir('naming-out'), 'trace');
    const summary = await mergeTraces([a, b], { out });
    expect(summary.podEvents).toBe(0);
    const bt = babeltrace(out);
    expect(bt.code).toBe(0);
    expect(bt.events).toHaveLength(nodeA.length + nodeB.length);
  });
});

interface ChromeEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  args?: Record<string, unknown>;
}

// The id ranges chrome_sink.h documents: pods' processes and pods' threads.
const POD_PID = 0x4000_0000;
const THREAD_TID = 0x8000_0000;

async function chromeOf(opts: { podNames?: ReturnType<typeof podNames> }): Promise<ChromeEvent[]> {
  const { a, b } = await traces();
  const chrome = join(tempDir('naming-out'), 'trace.json');
  await mergeTraces([a, b], { chrome, ...opts, fromNs: ORIGIN + 4000n });
  const doc = JSON.parse(readFileSync(chrome, 'utf8')) as { traceEvents: ChromeEvent[] };
  return doc.traceEvents;
}

/** What the Perfetto UI lists: process names by pid, thread names by pid/tid (the last wins). */
function names(events: ChromeEvent[]): {
  procs: Map<number, string>;
  threads: Map<string, string>;
} {
  const procs = new Map<number, string>();
  const threads = new Map<string, string>();
  for (const e of events.filter((x) => x.ph === 'M')) {
    // Metadata as chrome://tracing and Perfetto read it: a known name, args.name a string.
    expect([
      'process_name',
      'process_labels',
      'process_sort_index',
      'thread_name',
      'thread_sort_index',
    ]).toContain(e.name);
    expect(Number.isInteger(e.pid) && Number.isInteger(e.tid)).toBe(true);
    if (e.name === 'process_name' || e.name === 'thread_name')
      expect(typeof e.args?.name).toBe('string');
    if (e.name === 'process_name') procs.set(e.pid, e.args?.name as string);
    if (e.name === 'thread_name') threads.set(`${e.pid}/${e.tid}`, e.args?.name as string);
  }
  return { procs, threads };
}

describe('pods named in the Chrome JSON', () => {
  it("names each task with its pod, also a deleted pod's and across the window's edge", async () => {
    const events = await chromeOf({ podNames: podNames() });
    const tasks = events.filter(
      (e) => e.ph === 'X' && e.args?.tid !== undefined && e.pid < POD_PID,
    );
    const taskNames = [...new Set(tasks.map((e) => `${e.pid} ${e.name}`))].sort();
    expect(taskNames).toEqual([
      '1 cron 103',
      '1 nginx 100 (shop/web-1/nginx)',
      '1 postgres 102 (shop/db-0/pg)',
      '1 tid 200 (shop/web-1/nginx)',
      '2 sshd 300',
    ]);
    const pg = tasks.find((e) => e.name.startsWith('postgres'));
    expect(pg?.args).toEqual({
      tid: 102,
      namespace: 'shop',
      pod: 'db-0',
      container: 'pg',
      pod_uid: UID_DB,
    });
  });

  it('gives every pod thread a track of its own in a process per pod, with its slices', async () => {
    const events = await chromeOf({ podNames: podNames() });
    const { procs, threads } = names(events);
    // The nodes first (pids 1, 2), then a process per pod and node: web-1, then db-0 — a pod
    // deleted before the snapshot, its threads named by the statedump before the window.
    expect([...procs]).toEqual([
      [1, 'node node-a'],
      [2, 'node node-b'],
      [POD_PID, 'shop/web-1 (node-a)'],
      [POD_PID + 1, 'shop/db-0 (node-a)'],
    ]);
    const labels = events.filter((e) => e.ph === 'M' && e.name === 'process_labels');
    expect(labels.map((e) => [e.pid, e.args?.labels])).toEqual([
      [POD_PID, `uid ${UID_WEB}`],
      [POD_PID + 1, `uid ${UID_DB}`],
    ]);
    // Each pod thread on its own track (comm, tid, [container]); tid 200 was put in nginx's
    // container inside the window (no comm known); cron 103 and node-b's sshd have no pod, so
    // no track: only the CPU tracks besides.
    const podThreads = [...threads]
      .filter(([k]) => Number(k.split('/')[0]) >= POD_PID)
      .map(([k, name]) => `${procs.get(Number(k.split('/')[0]))} :: ${name}`)
      .sort();
    expect(podThreads).toEqual([
      'shop/db-0 (node-a) :: postgres 102 [pg]',
      'shop/web-1 (node-a) :: nginx 100 [nginx]',
      'shop/web-1 (node-a) :: pause 101',
      'shop/web-1 (node-a) :: tid 200 [nginx]',
    ]);
    const cpuTracks = [...threads].filter(([k]) => Number(k.split('/')[0]) < POD_PID);
    expect(cpuTracks.map(([k, name]) => `${k} ${name}`).sort()).toEqual([
      '1/0 CPU 0',
      '1/1 CPU 1',
      '2/0 CPU 0',
    ]);
    // Ids: pod threads' tids in their range, each used once in the whole output; CPU tids below.
    const trackOf = new Map<number, string>();
    for (const k of threads.keys()) {
      const [pid, tid] = k.split('/').map(Number) as [number, number];
      expect(tid >= THREAD_TID).toBe(pid >= POD_PID);
      expect(trackOf.has(tid) && pid >= POD_PID).toBe(false);
      trackOf.set(tid, threads.get(k) as string);
    }
    // A pod thread's track holds the same task slices as the CPU tracks show for it (plus the
    // CPU it ran on); pause 101 never runs in the window.
    const slices = events.filter((e) => e.ph === 'X' && e.args?.tid !== undefined);
    const byThread = (tid: number, own: boolean): string[] =>
      slices
        .filter(
          (e) => e.args?.tid === tid && e.name.includes(' (shop/') && e.pid >= POD_PID === own,
        )
        .map((e) => `${e.name} ${e.ts} ${e.dur}`);
    for (const [tid, n] of [
      [100, 1],
      [101, 0],
      [102, 1],
      [200, 1],
    ] as const) {
      expect(byThread(tid, true)).toHaveLength(n);
      expect(byThread(tid, true)).toEqual(byThread(tid, false));
    }
    const own = slices.filter((e) => e.pid >= POD_PID);
    for (const e of own) {
      const track = threads.get(`${e.pid}/${e.tid}`) ?? '';
      expect(track.split(' ')[1]).toBe(String(e.args?.tid));
    }
    expect(own.map((e) => [threads.get(`${e.pid}/${e.tid}`), e.args?.cpu]).sort()).toEqual([
      ['nginx 100 [nginx]', 0],
      ['postgres 102 [pg]', 1],
      ['tid 200 [nginx]', 1],
    ]);
  });

  it('adds no track without pod names', async () => {
    const events = await chromeOf({});
    const { procs, threads } = names(events);
    expect([...procs.values()]).toEqual(['node node-a', 'node node-b']);
    expect(threads.size).toBe(3);
    expect(events.filter((e) => e.pid >= POD_PID || e.tid >= THREAD_TID)).toEqual([]);
  });
});

describe('podNames is checked before the merge', () => {
  it('refuses a malformed table with one clear line, and an unknown node', async () => {
    const { a } = await traces();
    const out = join(tempDir('naming-out'), 'trace');
    const entry = { namespace: 'shop', pod: 'web-1', container: '', podUid: UID_WEB };
    await expect(mergeTraces(a, { out, podNames: { 'node-a': { '-1': entry } } })).rejects.toThrow(
      'mergeTraces: options.podNames.node-a.-1: must be a cgroup id in decimal',
    );
    await expect(
      mergeTraces(a, { out, podNames: { 'node-a': { '18446744073709551616': entry } } }),
    ).rejects.toThrow(/below 2\^64/);
    await expect(
      mergeTraces(a, { out, podNames: { 'node-a': { '1': { ...entry, pod: 'a\0b' } } } }),
    ).rejects.toThrow(
      'mergeTraces: options.podNames.node-a.1.pod: must not contain a NUL character',
    );
    const e = await mergeTraces(a, { out, podNames: { 'node-z': { '1': entry } } }).catch((x) => x);
    expect(e).toBeInstanceOf(RewindError);
    expect((e as RewindError).code).toBe('ERR_REWIND_INVALID_ARG');
    expect((e as Error).message).toContain(
      'a pod names table names node "node-z", which no input is',
    );
  });
});
