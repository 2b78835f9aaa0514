/**
 * Unpacks an agent's snapshot archive while it streams in (tar-stream), into a folder of its
 * own, trusting none of it: only `manifest.json` and regular files directly under `trace/` are
 * accepted; absolute paths, `..`, links, devices, fifos and anything else are refused, as are
 * more entries or bytes than the limits allow. Files are created with O_EXCL, so an entry can
 * never write through something already there. Any refusal (or a corrupt or truncated tar) is
 * one 'bad-archive' CollectError; the caller removes the folder.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, type Header } from 'tar-stream';
import { oneLine } from '../../common/errors';
import { CollectError } from './errors';

/** The archive's layout (agent/snapshot.ts ARCHIVE). */
export const ARCHIVE_MANIFEST = 'manifest.json';
export const ARCHIVE_TRACE_DIR = 'trace';

export interface UnpackLimits {
  /** Entries at most (a trace has metadata plus one stream per CPU). */
  maxEntries: number;
  /** Bytes of file content at most (beyond: 'over-budget', from the sizes the headers declare). */
  maxBytes: number;
  /** Bytes of manifest.json at most. */
  maxManifestBytes: number;
}

export const DEFAULT_UNPACK_LIMITS: UnpackLimits = {
  maxEntries: 2 + 8192,
  maxBytes: Number.MAX_SAFE_INTEGER,
  maxManifestBytes: 64 << 20,
};

/** A file name the trace folder may hold: metadata, stream_N (no dot first, no slash). */
const TRACE_FILE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export interface UnpackedFiles {
  entries: number;
  bytes: number;
  files: string[];
}

/**
 * Where an entry may go (its path relative to the folder), or why not (pure). Directories are
 * only `trace` itself.
 */
export function entryPlace(
  header: Pick<Header, 'name'> & { type?: Header['type'] | null },
): { ok: true; path: string; dir: boolean } | { ok: false; why: string } {
  const name = header.name;
  const type = header.type ?? 'file';
  if (type === 'directory') {
    if (name === ARCHIVE_TRACE_DIR || name === `${ARCHIVE_TRACE_DIR}/`)
      return { ok: true, path: ARCHIVE_TRACE_DIR, dir: true };
    return { ok: false, why: `a directory entry ${JSON.stringify(name)}` };
  }
  if (type !== 'file' && type !== 'contiguous-file')
    return { ok: false, why: `a ${type} entry ${JSON.stringify(name)} (only regular files)` };
  if (name === ARCHIVE_MANIFEST) return { ok: true, path: ARCHIVE_MANIFEST, dir: false };
  const prefix = `${ARCHIVE_TRACE_DIR}/`;
  if (name.startsWith(prefix) && TRACE_FILE.test(name.slice(prefix.length)))
    return { ok: true, path: name, dir: false };
  return {
    ok: false,
    why: `an entry ${JSON.stringify(name)} outside manifest.json and trace/`,
  };
}

/**
 * A Writable that unpacks the tar written into it under `dir` (which must exist and be empty).
 * `result()` resolves once it has finished (what was written), or rejects with its error.
 */
export function unpackSink(
  dir: string,
  where: string,
  limits: UnpackLimits = DEFAULT_UNPACK_LIMITS,
): { sink: Writable; result: () => UnpackedFiles } {
  const bad = (why: string) =>
    new CollectError(
      'bad-archive',
      `the snapshot archive of ${where} is not a Rewind snapshot (${why}): check the agent's version and logs`,
    );
  const out: UnpackedFiles = { entries: 0, bytes: 0, files: [] };
  const seen = new Set<string>();
  let traceDirMade = false;

  const handle = async (header: Header, stream: Readable): Promise<void> => {
    out.entries++;
    if (out.entries > limits.maxEntries) throw bad(`more than ${limits.maxEntries} entries`);
    const place = entryPlace(header);
    if (!place.ok) throw bad(place.why);
    if (seen.has(place.path)) throw bad(`${place.path} twice`);
    seen.add(place.path);
    if (place.dir || place.path.startsWith(`${ARCHIVE_TRACE_DIR}/`)) {
      if (!traceDirMade) await mkdir(join(dir, ARCHIVE_TRACE_DIR), { mode: 0o755 });
      traceDirMade = true;
    }
    if (place.dir) return;
    const size = header.size ?? 0;
    if (place.path === ARCHIVE_MANIFEST && size > limits.maxManifestBytes)
      throw bad(`manifest.json of ${size} bytes, more than ${limits.maxManifestBytes}`);
    out.bytes += size;
    if (out.bytes > limits.maxBytes)
      throw new CollectError(
        'over-budget',
        `the snapshot of ${where} is over the byte budget (more than ${limits.maxBytes} bytes): raise the snapshot's byte budget or ask for a shorter window`,
      );
    await pipeline(stream, createWriteStream(join(dir, place.path), { flags: 'wx', mode: 0o644 }));
    out.files.push(place.path);
  };

  const tar = extract();
  let failed: Error | undefined;
  const fail = (e: unknown) => {
    if (failed) return;
    failed = e instanceof CollectError ? e : bad(oneLine(e));
    sink.destroy(failed);
    tar.destroy();
  };
  tar.on('entry', (header, stream, next) => {
    // tar-stream's entries are streamx streams, which node's pipeline reads like its own.
    handle(header, stream as unknown as Readable).then(
      () => next(),
      (e) => {
        stream.resume();
        fail(e);
      },
    );
  });
  tar.on('error', fail);

  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (failed) {
        done(failed);
        return;
      }
      if (tar.write(chunk)) done();
      else tar.once('drain', () => done());
    },
    final(done) {
      if (failed) {
        done(failed);
        return;
      }
      // streamx emits 'finish' once every entry handler has called next().
      let ended = false;
      const end = (e: Error | undefined) => {
        if (ended) return;
        ended = true;
        done(e);
      };
      tar.once('finish', () => end(failed));
      tar.once('close', () => end(failed ?? bad('the archive ended early')));
      (tar as unknown as { end(): void }).end();
    },
    destroy(err, done) {
      if (!tar.destroyed) tar.destroy();
      done(err);
    },
  });
  return { sink, result: () => out };
}
