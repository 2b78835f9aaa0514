// The `npm run vm` command line, run exactly as a person runs it (each case boots a real VM).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findKernelRelease, projectRoot } from './kernel';

function npmRunVm(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('npm', ['run', '-s', 'vm', '--', ...args], {
    cwd: projectRoot,
    encoding: 'utf8',
    timeout: 170_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run vm', () => {
  it("prints the Debian kernel's release and exits 0", () => {
    const r = npmRunVm('uname', '-r');
    expect(r.stdout.trim()).toBe(findKernelRelease());
    expect(r.status).toBe(0);
  });

  it("exits with the command's status", () => {
    expect(npmRunVm('sh', '-c', 'exit 3').status).toBe(3);
  });

  it('hands files back to the host through --out', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rewind-out-')), 'D');
    const r = npmRunVm('--out', dir, 'sh', '-c', `echo hi > ${dir}/x`);
    expect(r.status).toBe(0);
    expect(existsSync(join(dir, 'x'))).toBe(true);
    expect(readFileSync(join(dir, 'x'), 'utf8')).toBe('hi\n');
  });

  it('loads the kernel module and shows its line in the kernel log', () => {
    const r = npmRunVm('sh', '-c', 'insmod kmod/rewind.ko && dmesg | tail -n 3');
    expect(r.stderr).not.toMatch(/kernel log shows problems/);
    expect(r.stdout).toMatch(/rewind: loaded/);
    expect(r.status).toBe(0);
  });
});
