/**
 * The VM node's disk (vmNodeDisk.ts), built from small images into an empty cache and read back
 * with debugfs, without booting a VM: an ext4 holding containerd's root with the images
 * imported and unpacked; one build for two concurrent callers; a cache hit; the cache pruned to
 * the two newest disks, sparing a locked one. A layered image checks what an overlayfs snapshot
 * holds besides files — a whiteout (a character device 0:0), an opaque directory (the
 * trusted.overlay.opaque attribute), hard links — and that a prebuilt module is found. Each
 * build takes a few seconds.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { requireTool } from '../image/tools';
import { buildLocalImages, type LocalImages } from './images';
import { commandOk } from './process';
import { ensureNodeDisk, NODE_DISK_LABEL, type NodeDisk } from './vmNodeDisk';

const SNAPSHOTS = '/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots';
const LAYERED = 'localhost/rewind/layered:test';
const RELEASE = '6.1.0-test-amd64';

/** debugfs's output (it reports a missing path on stderr and still exits 0). */
function debugfs(disk: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('debugfs', ['-R', request, disk], (err, stdout, stderr) => {
      if (err) reject(new Error(`debugfs -R '${request}' ${disk}: ${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

/** The names in a folder of the disk (debugfs `ls -p`: /inode/mode/uid/gid/name/size/). */
async function listDisk(disk: string, dir: string): Promise<string[]> {
  return (await debugfs(disk, `ls -p ${dir}`))
    .split('\n')
    .map((line) => line.split('/')[5])
    .filter((n): n is string => n !== undefined && n !== '' && n !== '.' && n !== '..');
}

/** `stat` of `path` in each snapshot that has it (snapshots are numbered folders). */
async function statInSnapshots(disk: string, path: string): Promise<string[]> {
  const found: string[] = [];
  for (const id of await listDisk(disk, SNAPSHOTS)) {
    const out = await debugfs(disk, `stat ${SNAPSHOTS}/${id}/fs${path}`);
    if (/^Inode: /m.test(out)) found.push(out);
  }
  return found;
}

/**
 * An image over busybox's layer with one layer each: /etc/group removed (a whiteout), /root
 * replaced (an opaque directory) by two hard-linked files, and a prebuilt module where Rewind's
 * image files them.
 */
async function layeredArchive(dir: string, images: LocalImages): Promise<string> {
  const layout = join(dir, 'layered-layout');
  // buildLocalImages leaves busybox's layout beside its archive, tagged with the version.
  cpSync(join(dir, 'busybox-layout'), layout, { recursive: true });
  const image = `${layout}:${images.busybox.slice(images.busybox.lastIndexOf(':') + 1)}`;
  const root = join(dir, 'layered-root');
  mkdirSync(root);
  writeFileSync(join(root, 'a'), 'one file, two names\n');
  linkSync(join(root, 'a'), join(root, 'b'));
  const app = join(dir, 'layered-app');
  mkdirSync(join(app, 'modules', RELEASE), { recursive: true });
  writeFileSync(join(app, 'modules', RELEASE, 'rewind.ko'), 'not really a module\n');
  await commandOk('umoci', ['insert', '--image', image, '--whiteout', '/etc/group']);
  await commandOk('umoci', ['insert', '--image', image, '--opaque', root, '/root']);
  await commandOk('umoci', ['insert', '--image', image, app, '/app']);
  const indexFile = join(layout, 'index.json');
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as {
    manifests: { annotations?: Record<string, string> }[];
  };
  for (const m of index.manifests) {
    m.annotations = { ...m.annotations, 'io.containerd.image.name': LAYERED };
  }
  writeFileSync(indexFile, JSON.stringify(index));
  await commandOk('umoci', ['gc', '--layout', layout]);
  const archive = join(dir, 'layered.tar');
  await commandOk('tar', ['-C', layout, '-cf', archive, '.']);
  return archive;
}

/** Holds a disk's lock from another process until release() (as a concurrent builder would). */
async function holdLock(lockFile: string): Promise<{ release(): Promise<void> }> {
  const child: ChildProcess = spawn('flock', [lockFile, 'sh', '-c', 'echo locked; exec cat'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`flock ${lockFile} exited ${code}`)));
  });
  return {
    release: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin?.end();
      }),
  };
}

describe('the VM node disk', () => {
  let dir = '';
  let cache = '';
  let images: LocalImages;
  let layered = '';
  let first: NodeDisk;
  const logs: string[][] = [[], []];

  beforeAll(async () => {
    requireTool('debugfs', 'e2fsprogs');
    requireTool('umoci', 'umoci');
    dir = mkdtempSync(join(tmpdir(), 'rewind-node-disk-'));
    cache = join(dir, 'cache');
    images = await buildLocalImages(join(dir, 'images'));
    layered = await layeredArchive(join(dir, 'images'), images);
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('is built once for two concurrent calls into an empty cache, leaving nothing temporary', async () => {
    const disks = await Promise.all(
      logs.map((lines) =>
        ensureNodeDisk(images.archives, { cacheDir: cache, log: (l) => lines.push(l) }),
      ),
    );
    first = disks[0];
    expect(disks[1].file).toBe(first.file);
    expect(disks.filter((d) => d.built)).toHaveLength(1);
    const waited = disks.findIndex((d) => !d.built);
    expect(logs[waited].join('\n')).toMatch(/waiting for another process building node-disk-/);
    expect(logs[waited].join('\n')).toMatch(/found .*, built by the process we waited for/);
    expect(disks[1]).toEqual({ ...first, built: disks[1].built });

    const entry = basename(first.file, '.ext4');
    expect(first.file).toBe(join(cache, `${entry}.ext4`));
    expect(entry).toMatch(/^node-disk-[0-9a-f]{16}$/);
    expect(readdirSync(cache).sort()).toEqual([`${entry}.ext4`, `${entry}.json`, `${entry}.lock`]);
    expect(first.images).toEqual([images.busybox, images.pause].sort());
    expect(first.prebuiltModules).toEqual([]);
  }, 120_000);

  it('is a sparse 4 GiB ext4 without a journal, holding containerd’s root', async () => {
    const size = statSync(first.file);
    expect(size.size).toBe(4 * 1024 ** 3);
    expect(size.blocks * 512).toBeLessThan(256 * 1024 ** 2);
    const header = await commandOk('dumpe2fs', ['-h', first.file]);
    expect(header).toMatch(/^Filesystem magic number:\s+0xEF53$/m);
    expect(header).toMatch(new RegExp(`^Filesystem volume name:\\s+${NODE_DISK_LABEL}$`, 'm'));
    expect(header).toMatch(/^Filesystem features:.*\bextent\b/m);
    expect(header).not.toMatch(/^Filesystem features:.*\bhas_journal\b/m);

    expect(await listDisk(first.file, '/containerd/io.containerd.metadata.v1.bolt')).toContain(
      'meta.db',
    );
    // busybox and pause share their one layer: one unpacked snapshot, with busybox in it.
    const snapshots = await listDisk(first.file, SNAPSHOTS);
    expect(snapshots).toHaveLength(1);
    expect(await listDisk(first.file, `${SNAPSHOTS}/${snapshots[0]}/fs/bin`)).toContain('busybox');
  });

  it('is found in the cache by a second call', async () => {
    const started = Date.now();
    const again = await ensureNodeDisk(images.archives, { cacheDir: cache });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(again).toEqual({ ...first, built: false });
  });

  it('keeps whiteouts, opaque directories and hard links, and finds prebuilt modules', async () => {
    const disk = await ensureNodeDisk([layered], { cacheDir: cache });
    expect(disk.built).toBe(true);
    expect(disk.images).toEqual([LAYERED]);
    expect(disk.prebuiltModules).toEqual([RELEASE]);

    // Each path is also in busybox's layer below, as a file and a plain folder.
    const [whiteout, opaque, linked, otherName] = await Promise.all(
      [
        ['/etc/group', /Type: character special/],
        ['/root', /trusted\.overlay\.opaque \(1\) = "y"/],
        ['/root/a', /Links: 2/],
        ['/root/b', /Links: 2/],
      ].map(async ([path, re]) => {
        const stats = await statInSnapshots(disk.file, path as string);
        const match = stats.find((s) => (re as RegExp).test(s));
        if (match === undefined) throw new Error(`${path}: none matches ${re}:\n${stats.join('')}`);
        return match;
      }),
    );
    expect(whiteout).toMatch(/Device major\/minor number: 00:00/);
    expect(opaque).toMatch(/Type: directory/);
    const inode = (s: string) => /^Inode: (\d+)/m.exec(s)?.[1];
    expect(inode(otherName)).toBe(inode(linked));
  }, 120_000);

  it('leaves nothing but its lock after a failed build', async () => {
    const broken = join(dir, 'broken.tar');
    writeFileSync(broken, 'not an archive\n');
    const empty = join(dir, 'failed-cache');
    await expect(ensureNodeDisk([broken], { cacheDir: empty })).rejects.toThrow(/images import/);
    expect(readdirSync(empty)).toEqual([expect.stringMatching(/^node-disk-[0-9a-f]{16}\.lock$/)]);
  }, 60_000);

  it('keeps the two newest disks, and an older one while its lock is held', async () => {
    const entry = (d: NodeDisk) => basename(d.file, '.ext4');
    const [busyboxArchive, pauseArchive] = images.archives;
    const lock = await holdLock(join(cache, `${entry(first)}.lock`));
    let third: NodeDisk;
    try {
      third = await ensureNodeDisk([pauseArchive], { cacheDir: cache });
    } finally {
      await lock.release();
    }
    const disks = () => readdirSync(cache).filter((n) => n.endsWith('.ext4'));
    // The first (locked) and the layered one stay; the latter is among the two newest.
    expect(disks()).toHaveLength(3);
    const fourth = await ensureNodeDisk([busyboxArchive], { cacheDir: cache });
    expect(readdirSync(cache).sort()).toEqual(
      [third, fourth]
        .flatMap((d) => ['ext4', 'json', 'lock'].map((x) => `${entry(d)}.${x}`))
        .sort(),
    );
  }, 120_000);
});
