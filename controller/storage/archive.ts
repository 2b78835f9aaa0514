/**
 * A finished snapshot as a .tar.gz streamed to a Writable (the download, GET
 * /v1/snapshots/NAMESPACE/NAME): `<name>/manifest.json`, `<name>/trace.json` and `<name>/trace/…`
 * file by file, never buffered whole. Links and anything but regular files and folders are left
 * out. A snapshot that has no finished trace is a SnapshotNotFoundError before any byte is
 * written, so the caller can still answer 404.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack, type Pack } from 'tar-stream';
import { LAYOUT, type SnapshotLayout } from './layout';

export class SnapshotNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`snapshot ${key} has no finished trace on this controller`);
    this.name = 'SnapshotNotFoundError';
  }
}

async function isDir(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined))?.isDirectory() ?? false;
}

async function isFile(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined))?.isFile() ?? false;
}

/** Adds `path` (a file) as `name`, streaming it. */
async function addFile(archive: Pack, path: string, name: string): Promise<void> {
  const { size, mode, mtime } = await lstat(path);
  const entry = archive.entry({ name, size, mode: mode & 0o644, mtime });
  await pipeline(createReadStream(path), entry);
}

/** Adds the folder `dir` as `name/`, recursively, links left out. */
async function addDir(archive: Pack, dir: string, name: string): Promise<void> {
  archive.entry({ name: `${name}/`, type: 'directory', mode: 0o755 });
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : 1,
  );
  for (const e of entries) {
    if (e.isDirectory()) await addDir(archive, join(dir, e.name), `${name}/${e.name}`);
    else if (e.isFile()) await addFile(archive, join(dir, e.name), `${name}/${e.name}`);
  }
}

/** Streams snapshot `layout` as .tar.gz into `out`; resolves once `out` has finished. */
export async function writeSnapshotArchive(layout: SnapshotLayout, out: Writable): Promise<void> {
  const key = `${layout.namespace}/${layout.name}`;
  if (!(await isFile(layout.manifest)) || !(await isDir(layout.trace)))
    throw new SnapshotNotFoundError(key);
  const archive = pack();
  const streaming = pipeline(archive, createGzip(), out);
  const top = layout.name;
  const filling = (async () => {
    await addFile(archive, layout.manifest, `${top}/${LAYOUT.manifest}`);
    if (await isFile(layout.chrome))
      await addFile(archive, layout.chrome, `${top}/${LAYOUT.chrome}`);
    await addDir(archive, layout.trace, `${top}/${LAYOUT.trace}`);
    archive.finalize();
  })();
  try {
    // Either failing fails the download: a reader gone, or a file unreadable.
    await Promise.all([filling, streaming]);
  } catch (e) {
    archive.destroy(e as Error);
    throw e;
  }
}
