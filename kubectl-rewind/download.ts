/**
 * A finished snapshot's archive (the controller's .tar.gz: `<name>/manifest.json`,
 * `<name>/trace.json`, `<name>/trace/<node>/…`) unpacked into the folder a person named, whole or
 * not at all: it streams into a temporary sibling, which is renamed into place only once the
 * archive ended cleanly. Nothing in the archive is trusted — only folders and regular files with
 * plain names below the top folder, no `..`, no links, a bounded depth and count, each file
 * created exclusively. An existing non-empty folder is replaced only with `--force`, and then
 * only after the new one is complete.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { randomBytes } from 'node:crypto';
import { oneLine } from '../common/errors';
import { CliError } from './errors';

// Up to NAME_MAX (255): a snapshot's name (the top folder) and a node's (its trace folder) are
// each up to 253 characters (ARCHITECTURE.md: a node's identity is its full name).
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;
const MAX_DEPTH = 4;
const MAX_ENTRIES = 100_000;
const NOT_A_TRACE = 'the controller sent an archive that is not a trace';

/** The path an entry goes to below the top folder, or why it may not (pure). */
export function placeOf(
  name: string,
  type: string,
): { path: string; dir: boolean } | { why: string } {
  if (type !== 'file' && type !== 'directory')
    return { why: `${JSON.stringify(name)} is a ${type}` };
  const parts = name.replace(/\/$/, '').split('/');
  if (name.startsWith('/') || parts.some((p) => !SEGMENT.test(p)))
    return { why: `${JSON.stringify(name)} is not a plain relative path` };
  if (parts.length > MAX_DEPTH + 1) return { why: `${JSON.stringify(name)} is too deep` };
  const below = parts.slice(1).join('/');
  if (below === '')
    return type === 'directory' ? { path: '', dir: true } : { why: 'a file at the top' };
  return { path: below, dir: type === 'directory' };
}

/** Refuses an output folder that exists and is not empty, unless `force`. */
export async function checkOutput(dir: string, force: boolean): Promise<void> {
  const st = await stat(dir).catch(() => undefined);
  if (!st) return;
  if (!st.isDirectory()) throw new CliError(`-o ${dir}: exists and is not a folder`);
  const entries = await readdir(dir);
  if (entries.length === 0) return;
  if (!force)
    throw new CliError(
      `-o ${dir}: exists and is not empty (--force replaces it once the download is complete)`,
    );
  // --force replaces an earlier download, never a folder of something else (`-o ~ --force`).
  if (!entries.includes('manifest.json') || !entries.includes('trace'))
    throw new CliError(
      `-o ${dir}: holds something other than a downloaded trace (no manifest.json and trace/): ` +
        'not replacing it, even with --force; choose another folder',
    );
}

export interface Unpacked {
  dir: string;
  files: number;
  bytes: number;
}

/** Unpacks the .tar.gz `archive` into `dir` (see above). */
export async function unpackInto(
  archive: Readable,
  dir: string,
  force: boolean,
): Promise<Unpacked> {
  const target = resolve(dir);
  await checkOutput(target, force);
  await mkdir(dirname(target), { recursive: true });
  const partial = join(
    dirname(target),
    `.${basename(target)}.partial-${randomBytes(4).toString('hex')}`,
  );
  await mkdir(partial);
  let files = 0;
  let bytes = 0;
  let entries = 0;
  // Every entry sits below one top folder (the snapshot's name): two would be merged silently.
  let top: string | undefined;
  try {
    const ex = extract();
    const feeding = pipeline(archive, createGunzip(), ex);
    const consuming = (async () => {
      for await (const entry of ex) {
        const { name, type, size } = entry.header;
        if (++entries > MAX_ENTRIES) throw new CliError(`${NOT_A_TRACE}: too many entries`);
        const place = placeOf(name, type ?? 'file');
        if ('why' in place) throw new CliError(`${NOT_A_TRACE}: ${place.why}`);
        const first = name.split('/')[0] as string;
        if (top !== undefined && first !== top)
          throw new CliError(`${NOT_A_TRACE}: ${JSON.stringify(name)} is outside ${top}/`);
        top = first;
        const path = join(partial, place.path);
        if (place.dir) {
          await mkdir(path, { recursive: true });
          entry.resume();
          continue;
        }
        await mkdir(dirname(path), { recursive: true });
        // 'wx': an entry never writes through something already there (a second entry of the
        // same name is refused, not merged).
        await pipeline(entry, createWriteStream(path, { flags: 'wx', mode: 0o644 })).catch(
          (e: NodeJS.ErrnoException) => {
            if (e.code === 'EEXIST')
              throw new CliError(`${NOT_A_TRACE}: ${JSON.stringify(name)} comes twice`);
            throw e;
          },
        );
        files++;
        bytes += size ?? 0;
      }
    })();
    await Promise.all([feeding, consuming]);
  } catch (e) {
    archive.destroy();
    await rm(partial, { recursive: true, force: true });
    throw e instanceof CliError
      ? e
      : new CliError(`the download broke off: ${oneLine(e)}; nothing was written to ${dir}`);
  }
  if (files === 0) {
    await rm(partial, { recursive: true, force: true });
    throw new CliError('the controller sent an empty archive');
  }
  const old = (await stat(target).catch(() => undefined))
    ? join(dirname(target), `.${basename(target)}.old-${randomBytes(4).toString('hex')}`)
    : undefined;
  if (old) await rename(target, old);
  await rename(partial, target);
  if (old) await rm(old, { recursive: true, force: true });
  return { dir: target, files, bytes };
}
