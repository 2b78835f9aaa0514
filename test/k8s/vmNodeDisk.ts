/**
 * The disk that brings a VM node its images already imported.
 *
 * Inside a TCG guest, `ctr images import` of Rewind's image (about 586 MB) takes minutes; on the
 * host it takes seconds. So the host prepares, once per set of image archives, a raw ext4 disk
 * holding a containerd root (`/containerd`: content, metadata, the images unpacked by the
 * overlayfs snapshotter, the guest's snapshotter), and every VM attaches it with qemu
 * `snapshot=on`: the guest mounts it at /run/rewind-node, its containerd runs with
 * `root = "/run/rewind-node/containerd"`, and whatever the guest writes is dropped with the VM.
 * The filesystem is 4 GiB, sparse, so the guest also has room there for writable folders.
 *
 * The images are imported under the names their archives give them and never renamed: CRI keeps
 * its own cache of names, which goes stale when an image is renamed behind its back.
 *
 * Cache: `${REWIND_CACHE:-/var/cache/rewind}/vm-node/node-disk-<key>.ext4`, with
 * `node-disk-<key>.json` (what is on it) and `node-disk-<key>.lock`. The key hashes what makes
 * the disk: the archives' content, containerd's and mke2fs's versions, the snapshotter, and the
 * source of this file and of the containerd that fills it (test/image/containerd.ts). Several
 * processes may ask for the same disk at once: one builds it under its lock while the others
 * wait, then find it; everything is built under a temporary name and renamed into place. The two
 * most recently built disks are kept; older ones go once no one holds their lock.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  createReadStream,
  existsSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { startContainerd, type Containerd } from '../image/containerd';
import { requireTool } from '../image/tools';
import { cacheDir } from './binaries';
import { mountsUnder } from './hostState';

export interface NodeDisk {
  /** The raw ext4 image; attach it read-only or with qemu's snapshot=on, never writable. */
  file: string;
  /** Image names imported, as `ctr -n k8s.io images ls -q` lists them. */
  images: string[];
  /**
   * Releases found as /app/modules/<release>/rewind.ko in the images (the prebuilt kernel
   * modules of Rewind's image), sorted.
   */
  prebuiltModules: string[];
  /** Whether this call built it (false: found in the cache). */
  built: boolean;
}

export interface NodeDiskOptions {
  /** The folder holding the disks. Default: `${REWIND_CACHE:-/var/cache/rewind}/vm-node`. */
  cacheDir?: string;
  /** Progress lines (a cold build takes tens of seconds; waiting for another builder). */
  log?: (line: string) => void;
}

/** The guest containerd's snapshotter: the disk holds the images unpacked for it. */
export const NODE_DISK_SNAPSHOTTER = 'overlayfs';
/** Where the guest mounts the disk; its containerd's root is `containerd` below it. */
export const NODE_DISK_MOUNT = '/run/rewind-node';
/** The filesystem's label, so the guest can mount it by name. */
export const NODE_DISK_LABEL = 'rewind-node';

// Room for the images and for what the guest writes there; the file is sparse.
const DISK_SIZE = '4G';
const KEEP = 2;
const PREFIX = 'node-disk-';

type Log = (line: string) => void;
type Contents = Pick<NodeDisk, 'images' | 'prebuiltModules'>;

export async function ensureNodeDisk(
  archives: string[],
  opts: NodeDiskOptions = {},
): Promise<NodeDisk> {
  const log: Log = opts.log ?? (() => undefined);
  if (archives.length === 0) throw new Error('ensureNodeDisk: no image archives given');
  requireTool('mkfs.ext4', 'e2fsprogs');
  requireTool('flock', 'util-linux');
  requireTool('containerd', 'containerd');
  if (process.getuid?.() !== 0) {
    throw new Error('a node disk is filled by a containerd of its own and its mounts: run as root');
  }
  const dir = opts.cacheDir ?? join(cacheDir(), 'vm-node');
  mkdirSync(dir, { recursive: true });

  const key = await entryKey(archives);
  const entry = join(dir, `${PREFIX}${key}`);
  const file = `${entry}.ext4`;
  const cached = readEntry(entry);
  if (cached !== undefined) {
    log(`node disk: cached ${file}`);
    return { file, ...cached, built: false };
  }

  const unlock = await lockEntry(`${entry}.lock`, basename(file), log);
  let contents: Contents;
  try {
    const found = readEntry(entry);
    if (found !== undefined) {
      log(`node disk: found ${file}, built by the process we waited for`);
      return { file, ...found, built: false };
    }
    contents = await build(archives, entry, dir, log);
  } finally {
    unlock();
  }
  await prune(dir, file, log);
  return { file, ...contents, built: true };
}

/** Hex SHA-256 of a file's content, streamed (the archives are hundreds of megabytes). */
function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('error', (e) => reject(new Error(`cannot read image archive ${file}: ${e.message}`)))
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

function output(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

/** 16 hex digits naming what a disk is made of (the module comment lists the inputs). */
async function entryKey(archives: string[]): Promise<string> {
  const hash = createHash('sha256');
  const archiveHashes = await Promise.all(archives.map(hashFile));
  // Sorted: the same archives in another order make the same disk.
  for (const h of [...archiveHashes].sort()) hash.update(`archive ${h}\n`);
  hash.update(`containerd ${await output('containerd', ['--version'])}\n`);
  // mke2fs prints its version on stderr.
  hash.update(`mke2fs ${await output('mkfs.ext4', ['-V'])}\n`);
  hash.update(`snapshotter ${NODE_DISK_SNAPSHOTTER}\n`);
  for (const source of [__filename, require.resolve('../image/containerd')]) {
    hash.update(`source ${basename(source)}\n`).update(readFileSync(source));
  }
  return hash.digest('hex').slice(0, 16);
}

/** What a finished entry holds, or undefined when it is not (yet) there. */
function readEntry(entry: string): Contents | undefined {
  // The disk is renamed into place last: once it is there, its description is too.
  if (!existsSync(`${entry}.ext4`)) return undefined;
  const json = JSON.parse(readFileSync(`${entry}.json`, 'utf8')) as Contents;
  return { images: json.images, prebuiltModules: json.prebuiltModules };
}

/** flock(2) on `fd` through flock(1); false when `wait` is off and another holds the lock. */
function flockFd(fd: number, wait: boolean): Promise<boolean> {
  return new Promise((resolve, reject) => {
    // The child locks the open file it inherits as fd 3, which is ours too: the lock stays ours
    // after it exits, until we close fd (or this process ends).
    const child = spawn('flock', [...(wait ? [] : ['-n']), '3'], {
      stdio: ['ignore', 'ignore', 'pipe', fd],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(true);
      else if (code === 1 && !wait) resolve(false);
      else reject(new Error(`flock on a cache lock failed (exit ${code}): ${stderr.trim()}`));
    });
  });
}

/**
 * Takes the lock of a cache entry, waiting (and saying so) while another process holds it;
 * resolves with the function that releases it.
 */
async function lockEntry(lockFile: string, name: string, log: Log): Promise<() => void> {
  for (;;) {
    const fd = openSync(lockFile, 'a');
    let locked = false;
    try {
      if (!(await flockFd(fd, false))) {
        log(`node disk: waiting for another process building ${name} (lock: ${lockFile})`);
        await flockFd(fd, true);
        log('node disk: done waiting for the other process');
      }
      // A pruner removes an entry's lock file while holding it; ours may be that removed file,
      // which locks nothing another process would see. Then lock the file now at that path.
      locked = existsSync(lockFile) && statSync(lockFile).ino === fstatSync(fd).ino;
    } finally {
      if (!locked) closeSync(fd);
    }
    if (locked) return () => closeSync(fd);
  }
}

/** Releases with a prebuilt module in `rootfs`: /app/modules/<release>/rewind.ko. */
function prebuiltModulesIn(rootfs: string): string[] {
  const modules = join(rootfs, 'app', 'modules');
  // lstat, not stat: a symbolic link in the image points into the host, not the image.
  const isDir = (p: string) => existsSync(p) && lstatSync(p).isDirectory();
  if (!isDir(join(rootfs, 'app')) || !isDir(modules)) return [];
  return readdirSync(modules).filter((release) => {
    const ko = join(modules, release, 'rewind.ko');
    return isDir(join(modules, release)) && existsSync(ko) && lstatSync(ko).isFile();
  });
}

async function ctrOk(ctd: Containerd, args: string[], timeoutMs?: number): Promise<string> {
  const r = await ctd.ctr(args, timeoutMs);
  if (r.code !== 0) throw new Error(`ctr ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Runs containerd's garbage collection to its end and checks that only the images' unpacked
 * layers are left. Removing a snapshot (the views mounted above, an unpack that found its layer
 * already there) removes it from the metadata at once, but its folder only at the next
 * collection, which containerd schedules a moment later: stopped before, it would leave the
 * folder on the disk for every guest to collect again.
 */
async function collectGarbage(ctd: Containerd, root: string): Promise<void> {
  const lease = `rewind-node-disk-gc-${process.pid}`;
  await ctrOk(ctd, ['leases', 'create', '--id', lease]);
  await ctrOk(ctd, ['leases', 'delete', '--sync', lease]);
  const leases = (await ctrOk(ctd, ['leases', 'ls', '-q'])).trim();
  if (leases !== '') throw new Error(`containerd still has leases: ${leases}`);
  const snapshots = (await ctrOk(ctd, ['snapshots', '--snapshotter', NODE_DISK_SNAPSHOTTER, 'ls']))
    .split('\n')
    .slice(1)
    .filter(Boolean);
  const notCommitted = snapshots.filter((line) => !/\sCommitted\s*$/.test(line));
  const folders = readdirSync(
    join(root, `io.containerd.snapshotter.v1.${NODE_DISK_SNAPSHOTTER}`, 'snapshots'),
  );
  if (notCommitted.length > 0 || folders.length !== snapshots.length) {
    throw new Error(
      `after garbage collection, ${folders.length} snapshot folders for ${snapshots.length} ` +
        `snapshots:\n${snapshots.join('\n')}`,
    );
  }
}

/** Imports the archives into a new containerd root and makes the disk of it: `<entry>.ext4`. */
async function build(archives: string[], entry: string, dir: string, log: Log): Promise<Contents> {
  const started = Date.now();
  const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  // Beside the entry: the same filesystem as the cache, which must take overlay mounts.
  const staging = mkdtempSync(join(dir, `.${basename(entry)}.staging-`));
  const diskTmp = `${entry}.ext4.${process.pid}.tmp`;
  const jsonTmp = `${entry}.json.${process.pid}.tmp`;
  const mounts: string[] = [];
  let ctd: Containerd | undefined;
  try {
    // The disk's root directory takes the staging folder's mode (mkdtemp's is 0700).
    chmodSync(staging, 0o755);
    ctd = await startContainerd({ root: join(staging, 'containerd') });
    for (const archive of archives) {
      log(`node disk: importing ${archive}`);
      await ctrOk(
        ctd,
        ['images', 'import', '--snapshotter', NODE_DISK_SNAPSHOTTER, archive],
        600_000,
      );
    }
    const images = (await ctrOk(ctd, ['images', 'ls', '-q'])).split('\n').filter(Boolean).sort();
    log(`node disk: imported ${images.join(', ')} after ${seconds()}`);

    const releases = new Set<string>();
    for (const image of images) {
      const target = mkdtempSync(join(ctd.dir, 'mnt-'));
      mounts.push(target);
      await ctrOk(ctd, ['images', 'mount', '--snapshotter', NODE_DISK_SNAPSHOTTER, image, target]);
      for (const release of prebuiltModulesIn(target)) releases.add(release);
      // --rm: the view's snapshot (and ctr's lease) must not stay on the disk.
      await ctrOk(ctd, [
        'images', 'unmount', '--snapshotter', NODE_DISK_SNAPSHOTTER, '--rm', target,
      ]); // prettier-ignore
    }
    const prebuiltModules = [...releases].sort();
    log(`node disk: prebuilt modules: ${prebuiltModules.join(', ') || 'none'}`);
    await collectGarbage(ctd, join(staging, 'containerd'));

    // Stopped before the copy: containerd closes its bolt databases.
    await ctd.stop();
    ctd = undefined;
    // The daemon's instance UUID (ctr info): each guest makes its own rather than all sharing one.
    rmSync(join(staging, 'containerd', 'io.containerd.grpc.v1.introspection', 'uuid'), {
      force: true,
    });
    // -d copies what the snapshots hold: overlay whiteouts (character devices 0:0), hard links,
    // and extended attributes such as trusted.overlay.opaque. No journal: writes are discarded.
    await output('mkfs.ext4', [
      '-q', '-F', '-O', '^has_journal', '-L', NODE_DISK_LABEL, '-E', 'root_owner=0:0',
      '-d', staging, diskTmp, DISK_SIZE,
    ]); // prettier-ignore
    const contents: Contents = { images, prebuiltModules };
    writeFileSync(jsonTmp, `${JSON.stringify(contents, null, 2)}\n`);
    renameSync(jsonTmp, `${entry}.json`);
    renameSync(diskTmp, `${entry}.ext4`);
    log(`node disk: built ${entry}.ext4 in ${seconds()}`);
    return contents;
  } finally {
    // After a failure: ctr's mounts first, so that removing the folders cannot reach into them.
    const leftovers = mountsUnder([...mounts, staging]);
    for (const m of leftovers) await output('umount', [m]).catch(() => undefined);
    if (ctd !== undefined) await ctd.stop().catch(() => undefined);
    const stillMounted = mountsUnder([staging]);
    if (stillMounted.length > 0) {
      log(`node disk: not removing ${staging}: still mounted: ${stillMounted.join(', ')}`);
    } else {
      rmSync(staging, { recursive: true, force: true });
    }
    rmSync(diskTmp, { force: true });
    rmSync(jsonTmp, { force: true });
  }
}

/** Removes all but the newest KEEP disks (never `keep`), skipping any whose lock is held. */
async function prune(dir: string, keep: string, log: Log): Promise<void> {
  const disks = readdirSync(dir)
    .filter((n) => n.startsWith(PREFIX) && n.endsWith('.ext4'))
    .map((n) => join(dir, n))
    .flatMap((file) => {
      try {
        return [{ file, mtime: statSync(file).mtimeMs }];
      } catch {
        return []; // pruned by another process meanwhile
      }
    })
    .sort((a, b) => b.mtime - a.mtime);
  for (const { file } of disks.slice(KEEP)) {
    if (file === keep) continue;
    const entry = file.slice(0, -'.ext4'.length);
    const removed = await output('flock', [
      '-n', `${entry}.lock`, 'rm', '-f', file, `${entry}.json`, `${entry}.lock`,
    ]).then(() => true, () => false); // prettier-ignore
    if (removed) log(`node disk: pruned ${file}`);
  }
}
