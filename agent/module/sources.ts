/**
 * The module's source as a build reads it: which files of a source folder are sources, and a
 * hash of their names and contents that names a cached build (new source builds anew; a restart
 * with the same source finds its build). Built objects and the operator tool are left out, so a
 * folder that was built in hashes like a clean one.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Whether a path (relative to the source folder, `/`-separated) is part of the module's source. */
export function isModuleSource(rel: string): boolean {
  const parts = rel.split('/');
  const name = parts.at(-1) ?? '';
  if (parts[0] === 'tools' || parts.some((p) => p.startsWith('.'))) return false;
  if (name.endsWith('.mod.c')) return false;
  return /\.(c|h)$/.test(name) || name === 'Kbuild' || name === 'Makefile';
}

export interface SourceFile {
  rel: string;
  content: Buffer;
}

/**
 * sha256 over each file's name and content, in name order, each length-prefixed so that moving
 * bytes from one file to the next changes the hash. 16 hex digits: a folder name.
 */
export function sourceHash(files: readonly SourceFile[]): string {
  const hash = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0))) {
    hash.update(`${Buffer.byteLength(f.rel)}:${f.rel}\0${f.content.length}:`).update(f.content);
  }
  return hash.digest('hex').slice(0, 16);
}

/** The module's source files under `dir`; an empty list when it holds none or does not exist. */
export async function readSources(dir: string): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(join(dir, rel), { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const entry of entries) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name !== 'tools' && !entry.name.startsWith('.')) await walk(path);
      } else if (entry.isFile() && isModuleSource(path)) {
        out.push({ rel: path, content: await readFile(join(dir, path)) });
      }
    }
  };
  await walk('');
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}
