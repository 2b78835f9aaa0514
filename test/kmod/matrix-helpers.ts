/**
 * The kernel matrix' pieces (issue 14): rewind.ko built for one kernel of the matrix, against the
 * headers fetched with that very image (test/kmod/fetch-kernel.sh --image), into a folder the VM
 * sees at the same path; and a mixed workload that uses only what every kernel of the matrix has.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { projectRoot, type Kernel } from '../vm/kernel';
import { mixedWorkload } from './kmod-helpers';

const KMOD = join(projectRoot, 'kmod');
/** Where the per-release module builds live: under the project, which every guest sees. */
export const MATRIX_BUILDS = join(projectRoot, 'test-output', 'kmod-matrix');

/** The module's sources: what a build reads, and so what names a cached build. */
function moduleSources(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== 'tools') walk(path);
      } else if (/\.(c|h)$/.test(name) || name === 'Kbuild' || name === 'Makefile') {
        if (!name.endsWith('.mod.c')) out.push(path);
      }
    }
  };
  walk(KMOD);
  return out;
}

/**
 * The make variables a fetched kernel's headers need on this host: Debian 11's name gcc-10, which
 * bookworm lacks (gcc is gcc-12; the module does not depend on the compiler's version), and 6.12's
 * want pahole for module BTF, which the module does not need (and pahole is not installed).
 */
export function makeVars(kernel: Kernel): string[] {
  if (kernel.modulesRoot === '/') return [];
  const vars = ['CC=gcc'];
  const pahole = spawnSync('sh', ['-c', 'command -v pahole']).status === 0;
  if (!pahole) vars.push('CONFIG_DEBUG_INFO_BTF_MODULES=');
  return vars;
}

export interface ModuleBuild {
  /** The folder of the build; rewind.ko is in it. */
  dir: string;
  ko: string;
  /** make's whole output (stdout and stderr). */
  log: string;
}

/**
 * Builds rewind.ko for `kernel` unless a build of the same sources is already there. The build
 * runs in a private copy of kmod/ (the tree others insmod from is never touched) and the whole
 * folder is published with one rename: several processes may build at once, the first rename
 * wins and the others use its folder. A failed build throws with make's output and leaves
 * nothing behind.
 */
export function buildModuleFor(kernel: Kernel): ModuleBuild {
  const vars = makeVars(kernel);
  const hash = createHash('sha256')
    .update(kernel.release)
    .update(kernel.kdir)
    .update(vars.join(' '));
  for (const src of moduleSources()) hash.update(relative(KMOD, src)).update(readFileSync(src));
  const dir = join(MATRIX_BUILDS, `${kernel.release}-${hash.digest('hex').slice(0, 16)}`);
  const result = (): ModuleBuild => ({
    dir,
    ko: join(dir, 'rewind.ko'),
    log: readFileSync(join(dir, 'build.log'), 'utf8'),
  });
  if (existsSync(join(dir, 'rewind.ko'))) return result();

  mkdirSync(MATRIX_BUILDS, { recursive: true });
  const tmp = join(MATRIX_BUILDS, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(tmp);
    for (const src of moduleSources()) {
      const to = join(tmp, relative(KMOD, src));
      mkdirSync(join(to, '..'), { recursive: true });
      cpSync(src, to);
    }
    const r = spawnSync('make', ['module', `KDIR=${kernel.kdir}`, ...vars], {
      cwd: tmp,
      encoding: 'utf8',
    });
    const log = `${r.stdout}${r.stderr}`;
    if (r.status !== 0) throw new Error(`make module for ${kernel.release} failed:\n${log}`);
    writeFileSync(join(tmp, 'build.log'), log);
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // Another process published the same build first (rename(2) refuses a non-empty target).
      if (!existsSync(join(dir, 'rewind.ko'))) throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return result();
}

export const MATRIX_TCP_PORT = 45679;

/** The mixed workload of kmod.test.ts; its files and exec are /tmp/mx-*. */
export const MATRIX_WORKLOAD = mixedWorkload(MATRIX_TCP_PORT, 'mx');

/**
 * The probes whose events are absent from a babeltrace2 listing. A probe writes events named like
 * it, or with a suffix for a variant (sys_exit_wide, net_dev_queue_tcp4…).
 */
export function silentProbes(probes: string[], names: Map<string, number>): string[] {
  const variant = /^(|_wide|_tcp4|_tcp6)$/;
  return probes.filter(
    (p) =>
      ![...names].some(
        ([n, count]) => count > 0 && n.startsWith(p) && variant.test(n.slice(p.length)),
      ),
  );
}
