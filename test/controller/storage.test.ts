/**
 * The controller's storage (controller/storage/): the layout's names, retention and byte-budget
 * plans with exact numbers, the store on a real folder (sizes, listing, concurrent deletes) and
 * the download archive read back by GNU tar, its trace judged by babeltrace2.
 */
import { spawnSync } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { SnapshotNotFoundError, writeSnapshotArchive } from '../../controller/storage/archive';
import { windowForBudget } from '../../controller/storage/budget';
import { layoutOfKey, snapshotLayout } from '../../controller/storage/layout';
import { planRetention, type StoredSnapshot } from '../../controller/storage/retention';
import { sizeOnDisk, SnapshotStore } from '../../controller/storage/store';
import { writeSyntheticTrace } from '../../native';
import { babeltrace } from '../native/babeltrace';

const roots: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'rwd-storage-'));
  roots.push(d);
  return d;
};
afterAll(() => roots.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('layout', () => {
  it('puts a snapshot under <data>/<namespace>/<name>/', () => {
    expect(snapshotLayout('/data', 'team-a', 'oom.1')).toEqual({
      namespace: 'team-a',
      name: 'oom.1',
      root: '/data/team-a/oom.1',
      nodes: '/data/team-a/oom.1/nodes',
      trace: '/data/team-a/oom.1/trace',
      chrome: '/data/team-a/oom.1/trace.json',
      manifest: '/data/team-a/oom.1/manifest.json',
    });
    expect(layoutOfKey('/data', 'ns/x').root).toBe('/data/ns/x');
  });

  it.each([
    ['..', 'x', /namespace "\.\." is not a DNS-1123 label/],
    ['ns', '..', /name "\.\." is not a DNS-1123 subdomain/],
    ['ns', 'a/b', /name "a\/b"/],
    ['ns', '', /name ""/],
    ['Ns', 'x', /namespace "Ns"/],
    ['a.b', 'x', /namespace "a.b"/],
    ['n'.repeat(64), 'x', /is not a DNS-1123 label/],
    ['ns', 'x'.repeat(254), /is not a DNS-1123 subdomain/],
  ])('refuses %j/%j', (ns, name, message) => {
    expect(() => snapshotLayout('/data', ns, name)).toThrow(message);
  });

  it('refuses a key that is not namespace/name', () => {
    expect(() => layoutOfKey('/data', 'a/b/c')).toThrow(
      'snapshot key "a/b/c" is not namespace/name',
    );
  });
});

describe('planRetention (pure)', () => {
  const S = 1000;
  const stored: StoredSnapshot[] = [
    { key: 'ns/c', finishedAt: 3000 * S, bytes: 300 },
    { key: 'ns/a', finishedAt: 1000 * S, bytes: 100 },
    { key: 'ns/d', bytes: 400 }, // in flight
    { key: 'ns/b', finishedAt: 2000 * S, bytes: 200 },
  ];

  it('deletes what is too old, then the oldest until the total fits; never one in flight', () => {
    expect(planRetention(stored, { maxAgeSeconds: 2500, maxTotalBytes: 600 }, 4000 * S)).toEqual({
      delete: ['ns/a', 'ns/b', 'ns/c'],
      bytesAfter: 400,
      stillOver: false,
    });
    expect(planRetention(stored, { maxTotalBytes: 700 }, 4000 * S)).toEqual({
      delete: ['ns/a', 'ns/b'],
      bytesAfter: 700,
      stillOver: false,
    });
    expect(planRetention(stored, { maxTotalBytes: 300 }, 4000 * S)).toEqual({
      delete: ['ns/a', 'ns/b', 'ns/c'],
      bytesAfter: 400,
      stillOver: true,
    });
  });

  it('keeps a snapshot exactly at the age limit and deletes one a millisecond older', () => {
    expect(planRetention(stored, { maxAgeSeconds: 2000 }, 4000 * S).delete).toEqual(['ns/a']);
    expect(planRetention(stored, { maxAgeSeconds: 2000 }, 4000 * S + 1).delete).toEqual([
      'ns/a',
      'ns/b',
    ]);
  });

  it('deletes nothing without limits, and breaks ties of age by key', () => {
    expect(planRetention(stored, {}, 1e15)).toEqual({
      delete: [],
      bytesAfter: 1000,
      stillOver: false,
    });
    const tied = [
      { key: 'ns/z', finishedAt: 5, bytes: 10 },
      { key: 'ns/y', finishedAt: 5, bytes: 10 },
    ];
    expect(planRetention(tied, { maxTotalBytes: 10 }, 5).delete).toEqual(['ns/y']);
  });
});

describe('windowForBudget (pure)', () => {
  const S = 1_000_000_000n;
  it('keeps the window when the data fits', () => {
    expect(
      windowForBudget({
        nodeBytes: [300, 200],
        fromNs: 100n * S,
        toNs: 110n * S,
        budgetBytes: 500,
      }),
    ).toEqual({ fromNs: 100n * S, trimmed: false });
  });

  it('moves the start later, linearly, with headroom', () => {
    // 1000 bytes over 10 s, budget 500 at 90 %: keep 4.5 s.
    expect(
      windowForBudget({
        nodeBytes: [600, 400],
        fromNs: 100n * S,
        toNs: 110n * S,
        budgetBytes: 500,
      }),
    ).toEqual({ fromNs: 110n * S - 4_500_000_000n, trimmed: true });
    expect(
      windowForBudget({
        nodeBytes: [1000],
        fromNs: 0n,
        toNs: 8n * S,
        budgetBytes: 250,
        headroom: 1,
      }),
    ).toEqual({ fromNs: 6n * S, trimmed: true });
  });

  it('refuses a reversed window and a budget that is not positive', () => {
    expect(() => windowForBudget({ nodeBytes: [1], fromNs: 2n, toNs: 1n, budgetBytes: 1 })).toThrow(
      'the window ends before it starts',
    );
    expect(() => windowForBudget({ nodeBytes: [1], fromNs: 1n, toNs: 2n, budgetBytes: 0 })).toThrow(
      'the byte budget must be positive, not 0',
    );
  });
});

/** A finished snapshot's folder: a real trace, Chrome JSON, manifest, leftover node data. */
async function finishedSnapshot(data: string, ns: string, name: string) {
  const layout = snapshotLayout(data, ns, name);
  await writeSyntheticTrace(join(layout.trace, 'node-a'), {
    hostname: 'node-a',
    cpus: 2,
    eventsPerCpu: 2000,
    seed: 3,
  });
  writeFileSync(layout.chrome, '{"traceEvents":[]}\n');
  writeFileSync(layout.manifest, `{"name":"${name}"}\n`);
  return layout;
}

describe('the store', () => {
  it('lists snapshots with their size and when they finished; sizes never follow links', async () => {
    const data = fresh();
    const store = new SnapshotStore(data);
    const a = await finishedSnapshot(data, 'ns', 'a');
    utimesSync(a.manifest, 1_000, 1_000);
    mkdirSync(join(data, 'ns', 'b', 'nodes', 'node-a'), { recursive: true });
    writeFileSync(join(data, 'ns', 'b', 'nodes', 'node-a', 'x'), Buffer.alloc(1234));
    // A link to a large file outside counts as nothing.
    const big = join(fresh(), 'big');
    writeFileSync(big, Buffer.alloc(1 << 20));
    symlinkSync(big, join(data, 'ns', 'b', 'nodes', 'link'));
    mkdirSync(join(data, 'not a namespace', 'x'), { recursive: true });
    const list = (await store.list()).sort((x, y) => (x.key < y.key ? -1 : 1));
    const aBytes =
      (await sizeOnDisk(a.trace)) + statSync(a.chrome).size + statSync(a.manifest).size;
    expect(list).toEqual([
      { key: 'ns/a', finishedAt: 1_000_000, bytes: aBytes },
      { key: 'ns/b', finishedAt: undefined, bytes: 1234 },
    ]);
    expect(aBytes).toBeGreaterThan(10_000);
    expect(await sizeOnDisk(join(data, 'missing'))).toBe(0);
  });

  it('deletes a snapshot once when many delete it at once, leaving the others', async () => {
    const data = fresh();
    const store = new SnapshotStore(data);
    await finishedSnapshot(data, 'ns', 'gone');
    await finishedSnapshot(data, 'ns', 'kept');
    const results = await Promise.all([
      ...Array.from({ length: 8 }, () => store.delete('ns', 'gone')),
      store.list(),
    ]);
    expect(results.slice(0, 8).filter((r) => r === true)).toHaveLength(1);
    expect(existsSync(join(data, 'ns', 'gone'))).toBe(false);
    expect(existsSync(join(data, 'ns', 'kept', 'manifest.json'))).toBe(true);
    expect(readdirSync(join(data, '.deleting'))).toEqual([]);
    expect(await store.delete('ns', 'gone')).toBe(false);
    expect((await store.list()).map((s) => s.key)).toEqual(['ns/kept']);
    await store.sweep();
    expect(existsSync(join(data, '.deleting'))).toBe(false);
  });
});

describe('the download archive', () => {
  it('streams trace/, trace.json and manifest.json as a .tar.gz GNU tar reads back', async () => {
    const data = fresh();
    const layout = await finishedSnapshot(data, 'ns', 'snap-1');
    const original = babeltrace(layout.trace);
    expect(original.code).toBe(0);
    symlinkSync('/etc/passwd', join(layout.trace, 'node-a', 'link'));
    mkdirSync(join(layout.nodes, 'node-a'), { recursive: true }); // not downloaded
    const file = join(fresh(), 'snap.tar.gz');
    const out = createWriteStream(file);
    await writeSnapshotArchive(layout, out);
    const dir = fresh();
    const tar = spawnSync('tar', ['-xzf', file, '-C', dir], { encoding: 'utf8' });
    expect(tar.stderr).toBe('');
    expect(tar.status).toBe(0);
    expect(readdirSync(dir)).toEqual(['snap-1']);
    const top = join(dir, 'snap-1');
    expect(readdirSync(top).sort()).toEqual(['manifest.json', 'trace', 'trace.json']);
    expect(readdirSync(join(top, 'trace', 'node-a')).sort()).toEqual([
      'metadata',
      'stream_0',
      'stream_1',
    ]);
    for (const f of [
      'manifest.json',
      'trace.json',
      'trace/node-a/stream_1',
      'trace/node-a/metadata',
    ])
      expect(readFileSync(join(top, f)).equals(readFileSync(join(layout.root, f)))).toBe(true);
    const copy = babeltrace(join(top, 'trace'));
    expect(copy.code).toBe(0);
    expect(copy.events).toEqual(original.events);
    expect(copy.events.length).toBeGreaterThanOrEqual(4000);
  });

  it('refuses a snapshot with no finished trace before writing a byte', async () => {
    const data = fresh();
    mkdirSync(join(data, 'ns', 'half', 'trace'), { recursive: true }); // no manifest yet
    const file = join(fresh(), 'none.tar.gz');
    const out = createWriteStream(file);
    await expect(writeSnapshotArchive(snapshotLayout(data, 'ns', 'half'), out)).rejects.toThrow(
      new SnapshotNotFoundError('ns/half'),
    );
    await expect(
      writeSnapshotArchive(snapshotLayout(data, 'ns', 'missing'), out),
    ).rejects.toBeInstanceOf(SnapshotNotFoundError);
    out.end();
    await once(out, 'close');
    expect(statSync(file).size).toBe(0);
  });
});
