/**
 * Where the test VMs' kernel and initramfs come from. The kernel is Debian's
 * `linux-image-amd64`: the host's installed one by default, or another series of the kernel
 * matrix (5.10, 6.1, 6.12) unpacked into the cache by test/kmod/fetch-kernel.sh --image. The
 * initramfs is built once per kernel release, module tree and init script and cached outside the
 * repository.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const vmDir = __dirname;
export const projectRoot = join(__dirname, '..', '..');

export function cacheDir(): string {
  return join(process.env.REWIND_CACHE ?? '/var/cache/rewind', 'vm');
}

/** Orders kernel releases like `sort -V` does for Debian's names (6.1.0-9 < 6.1.0-56). */
export function compareReleases(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = Number(x);
    const ny = Number(y);
    const c = Number.isInteger(nx) && Number.isInteger(ny) ? nx - ny : x.localeCompare(y);
    if (c !== 0) return c;
  }
  return 0;
}

/** The newest Debian kernel that has both an image in /boot and its modules. */
export function findKernelRelease(boot = '/boot', modules = '/lib/modules'): string {
  const wanted = process.env.REWIND_VM_KERNEL;
  if (wanted) return wanted;
  const releases = (existsSync(boot) ? readdirSync(boot) : [])
    .map((f) => /^vmlinuz-(.+-amd64)$/.exec(f)?.[1])
    .filter((r): r is string => r !== undefined && existsSync(join(modules, r, 'kernel')))
    .sort(compareReleases);
  const newest = releases.at(-1);
  if (!newest) {
    throw new Error(
      'no Debian kernel found for the test VMs (/boot/vmlinuz-*-amd64 with its modules): ' +
        'run scripts/setup.sh, or apt-get install linux-image-amd64',
    );
  }
  return newest;
}

export function kernelImage(release: string): string {
  return `/boot/vmlinuz-${release}`;
}

/** The kernel series of the matrix (issue 14): Debian 11, Debian 12, Debian 12 backports. */
export const KERNEL_SERIES = ['5.10', '6.1', '6.12'] as const;
export type KernelSeries = (typeof KERNEL_SERIES)[number];

export function isKernelSeries(s: string): s is KernelSeries {
  return (KERNEL_SERIES as readonly string[]).includes(s);
}

/** A kernel a VM can boot, with the module tree its initramfs and module builds need. */
export interface Kernel {
  release: string;
  /** The vmlinuz to boot. */
  image: string;
  /** The folder that holds lib/modules/<release>: `/` for the host's kernel. */
  modulesRoot: string;
  /** The headers of this very release, to build modules against (KDIR). */
  kdir: string;
}

/** The series of a Debian release name: 6.1.0-57-amd64 → 6.1, 6.12.95+deb12-amd64 → 6.12. */
export function seriesOf(release: string): string {
  return /^(\d+\.\d+)[.-]/.exec(release)?.[1] ?? release;
}

/**
 * The kernel of a series, or the host's installed one when none is asked for. The host's kernel
 * serves its own series; another series is fetched into the cache once (fetch-kernel.sh is safe
 * to run from several processes at once) and read from there.
 */
export function resolveKernel(series?: string): Kernel {
  if (series !== undefined && !isKernelSeries(series)) {
    throw new Error(`unknown kernel series ${series} (known: ${KERNEL_SERIES.join(', ')})`);
  }
  const hostRelease = findKernelRelease();
  if (series === undefined || seriesOf(hostRelease) === series) {
    return {
      release: hostRelease,
      image: kernelImage(hostRelease),
      modulesRoot: '/',
      kdir: `/lib/modules/${hostRelease}/build`,
    };
  }
  const folder = execFileSync(
    'bash',
    [join(projectRoot, 'test', 'kmod', 'fetch-kernel.sh'), '--image', series],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  ).trim();
  const release = readFileSync(join(folder, 'release'), 'utf8').trim();
  const root = join(folder, 'root');
  return {
    release,
    image: join(root, 'boot', `vmlinuz-${release}`),
    modulesRoot: root,
    kdir: join(root, 'usr', 'src', `linux-headers-${release}`),
  };
}

/**
 * Builds the initramfs for `release` (its drivers from `modulesRoot`) unless an up-to-date one is
 * cached; returns its path.
 */
export function ensureInitramfs(release: string, modulesRoot = '/'): string {
  const script = join(vmDir, 'build-initramfs.sh');
  const key = createHash('sha256')
    .update(release)
    .update(modulesRoot)
    .update(readFileSync(script))
    .update(readFileSync(join(vmDir, 'guest', 'init')))
    .digest('hex')
    .slice(0, 16);
  const out = join(cacheDir(), `initramfs-${release}-${key}.cpio.gz`);
  if (!existsSync(out)) {
    execFileSync('bash', [script, release, out, modulesRoot], { stdio: 'inherit' });
  }
  return out;
}
