/**
 * rewind.ko built on the spot against the node's headers, cached per kernel release and source
 * hash: `<cacheDir>/<release>/<hash>/rewind.ko` (with its build.log). Several loaders may fill the
 * cache at once (a restart racing its predecessor, two nodes sharing a path): each builds in a
 * private temporary folder beside the target and publishes with one rename(2) of a folder, which
 * fails on a non-empty target, so the loser uses the winner's build and nobody ever sees half a
 * module.
 */
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  stat,
} from 'node:fs/promises';
import { copyFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ModuleIo } from './io';
import type { SourceFile } from './sources';

export const MODULE_FILE = 'rewind.ko';
const TEMP_PREFIX = '.build-';
/** A temporary build older than this was left by a killed loader; no build takes an hour. */
const STALE_TEMP_MS = 60 * 60 * 1000;
/** The lines of a failed build's output that go into the reason. */
const TAIL_LINES = 12;

export function cachedModulePath(cacheDir: string, release: string, hash: string): string {
  return join(cacheDir, release, hash, MODULE_FILE);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Why `<headersRoot>/<release>/build` cannot build a module, or undefined when it can. The link
 * usually points into /usr/src, and Debian's headers link on into /usr/lib/linux-kbuild-*: each
 * hop missing from the container's mounts is named.
 */
export async function headersProblem(
  headersRoot: string,
  release: string,
): Promise<string | undefined> {
  const build = join(headersRoot, release, 'build');
  const linkTarget = async (p: string): Promise<string> =>
    readlink(p).then(
      (t) => ` (a link to ${t}, which is missing)`,
      () => '',
    );
  if (
    !(await lstat(build).then(
      () => true,
      () => false,
    ))
  ) {
    return `no ${build}: install the headers of ${release} on the node (Debian: linux-headers-${release}) and mount the host's /lib/modules and /usr/src`;
  }
  let real: string;
  try {
    real = await realpath(build);
  } catch {
    return `${build} cannot be resolved${await linkTarget(build)}: mount the host's /usr/src`;
  }
  if (!(await exists(join(real, 'Makefile')))) {
    return `${real} has no Makefile: not a kernel build tree`;
  }
  const scripts = join(real, 'scripts');
  if (!(await exists(scripts))) {
    return `${scripts} cannot be resolved${await linkTarget(scripts)}: mount it too (Debian: the host's /usr/lib/linux-kbuild-*)`;
  }
  return undefined;
}

export type BuildResult =
  | { ok: true; path: string; log: string; won: boolean }
  | { ok: false; detail: string; log: string };

function tail(log: string): string {
  return log
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-TAIL_LINES)
    .join('\n');
}

/** Removes temporary builds a killed loader left behind (not the ones running now). */
async function removeStaleTemps(dir: string, now: number): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.startsWith(TEMP_PREFIX))) {
    const path = join(dir, name);
    const s = await stat(path).catch(() => undefined);
    if (s && now - s.mtimeMs > STALE_TEMP_MS) await rm(path, { recursive: true, force: true });
  }
}

/**
 * Builds `sources` against `kdir` and publishes the module at `target` (cachedModulePath). Never
 * throws: a failure is `ok: false` with one line of why and the build's last lines.
 */
export async function buildIntoCache(opts: {
  sources: readonly SourceFile[];
  kdir: string;
  target: string;
  io: Pick<ModuleIo, 'run' | 'buildJobs' | 'now'>;
}): Promise<BuildResult> {
  const { sources, kdir, target, io } = opts;
  const finalDir = dirname(target);
  const releaseDir = dirname(finalDir);
  let tmp: string | undefined;
  try {
    await mkdir(releaseDir, { recursive: true });
    await removeStaleTemps(releaseDir, io.now());
    tmp = await mkdtemp(join(releaseDir, TEMP_PREFIX));
    const src = join(tmp, 'src');
    for (const f of sources) {
      await mkdir(dirname(join(src, f.rel)), { recursive: true });
      await writeFile(join(src, f.rel), f.content);
    }
    const make = await io.run('make', ['-C', kdir, `M=${src}`, `-j${io.buildJobs}`, 'modules']);
    if (make.code !== 0 || !(await exists(join(src, MODULE_FILE)))) {
      const why = make.code === 127 ? 'make could not run' : `make exited ${make.code}`;
      return { ok: false, detail: `${why}: ${tail(make.output)}`, log: make.output };
    }
    // Only the module and its log are published: the objects are megabytes nobody reads.
    const out = join(tmp, 'out');
    await mkdir(out);
    await copyFile(join(src, MODULE_FILE), join(out, MODULE_FILE));
    await writeFile(join(out, 'build.log'), make.output);
    try {
      await rename(out, finalDir);
      return { ok: true, path: target, log: make.output, won: true };
    } catch (e) {
      // Another loader published first: rename(2) refuses a non-empty target. Use its build.
      if (await exists(target)) return { ok: true, path: target, log: make.output, won: false };
      throw e;
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return { ok: false, detail: `the build cache at ${releaseDir} failed: ${message}`, log: '' };
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}
