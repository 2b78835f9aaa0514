/**
 * Where the test VMs' kernel and initramfs come from. The kernel is Debian's
 * `linux-image-amd64`; the initramfs is built once per kernel release and init script and cached
 * outside the repository.
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

/** Builds the initramfs for `release` unless an up-to-date one is cached; returns its path. */
export function ensureInitramfs(release: string): string {
  const script = join(vmDir, 'build-initramfs.sh');
  const key = createHash('sha256')
    .update(release)
    .update(readFileSync(script))
    .update(readFileSync(join(vmDir, 'guest', 'init')))
    .digest('hex')
    .slice(0, 16);
  const out = join(cacheDir(), `initramfs-${release}-${key}.cpio.gz`);
  if (!existsSync(out)) execFileSync('bash', [script, release, out], { stdio: 'inherit' });
  return out;
}
