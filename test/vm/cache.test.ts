// The VM cache filled by several processes at once, as a person's first `npm run demo` does: two
// (here three) `npm run vm` processes start together against an empty cache and must all boot.
// Before the fix they built the initramfs into one shared `.tmp` path and all but one failed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findKernelRelease, projectRoot } from './kernel';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function vmProcess(cache: string, name: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn('node', ['test/vm/cli.js', '--name', name, 'uname', '-r'], {
      cwd: projectRoot,
      env: { ...process.env, REWIND_CACHE: cache },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the VM cache under concurrency', () => {
  let cache = '';
  beforeAll(() => {
    cache = mkdtempSync(join(tmpdir(), 'rewind-empty-cache-'));
  });
  afterAll(() => rmSync(cache, { recursive: true, force: true }));

  it('boots three VMs started together against an empty cache, leaving one initramfs', async () => {
    const runs = await Promise.all(['cold-a', 'cold-b', 'cold-c'].map((n) => vmProcess(cache, n)));
    for (const r of runs) {
      expect(r.stderr).not.toMatch(/cannot stat|Command failed|rewind-vm:/);
      expect(r.stdout.trim()).toBe(findKernelRelease());
      expect(r.code).toBe(0);
    }
    const files = readdirSync(join(cache, 'vm'));
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(files.filter((f) => /^initramfs-.*\.cpio\.gz$/.test(f))).toHaveLength(1);
  }, 300_000);
});
