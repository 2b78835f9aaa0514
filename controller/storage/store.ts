/**
 * The snapshots on the controller's volume (the I/O shell over layout.ts): sizes on disk (links
 * never followed), the stored snapshots listed for retention, and deletion that is safe to run
 * twice at once — the folder is first renamed into `<data>/.deleting/` (atomic: one of two
 * concurrent deletes wins, the other finds nothing) and only then removed, so a reader never sees
 * half a snapshot under its name. A snapshot counts as finished once its manifest.json exists
 * (the pipeline writes it last); its modification time is when.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidSnapshotName, snapshotLayout, type SnapshotLayout } from './layout';
import type { StoredSnapshot } from './retention';

const TRASH = '.deleting';

/** Bytes of the regular files under `path` (itself if a file); 0 when it does not exist. */
export async function sizeOnDisk(path: string): Promise<number> {
  let s;
  try {
    s = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  if (s.isFile()) return s.size;
  if (!s.isDirectory()) return 0;
  let total = 0;
  for (const entry of await readdir(path).catch(() => [] as string[]))
    total += await sizeOnDisk(join(path, entry));
  return total;
}

async function dirs(path: string): Promise<string[]> {
  try {
    const entries = await readdir(path, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

export class SnapshotStore {
  constructor(readonly dataDir: string) {}

  layout(namespace: string, name: string): SnapshotLayout {
    return snapshotLayout(this.dataDir, namespace, name);
  }

  /** Every snapshot folder under the data folder, with its size and when it finished. */
  async list(): Promise<StoredSnapshot[]> {
    const out: StoredSnapshot[] = [];
    for (const namespace of await dirs(this.dataDir)) {
      for (const name of await dirs(join(this.dataDir, namespace))) {
        if (invalidSnapshotName(namespace, name)) continue;
        const layout = this.layout(namespace, name);
        const manifest = await stat(layout.manifest).catch(() => undefined);
        out.push({
          key: `${namespace}/${name}`,
          finishedAt: manifest?.isFile() ? manifest.mtimeMs : undefined,
          bytes: await sizeOnDisk(layout.root),
        });
      }
    }
    return out;
  }

  /** Bytes of everything stored (snapshots and deletions not yet finished). */
  totalBytes(): Promise<number> {
    return sizeOnDisk(this.dataDir);
  }

  /**
   * Deletes a snapshot's folder; resolves whether this call deleted it (false: nothing there,
   * or a concurrent delete got it first).
   */
  async delete(namespace: string, name: string): Promise<boolean> {
    const { root } = this.layout(namespace, name);
    const trash = join(this.dataDir, TRASH);
    await mkdir(trash, { recursive: true });
    const aside = join(trash, `${namespace}.${name}.${randomBytes(6).toString('hex')}`);
    try {
      await rename(root, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    await rm(aside, { recursive: true, force: true });
    return true;
  }

  /** Removes what interrupted deletions left (call at start). */
  async sweep(): Promise<void> {
    await rm(join(this.dataDir, TRASH), { recursive: true, force: true });
  }
}
