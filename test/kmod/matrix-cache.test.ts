// The kernel matrix' caches filled by several processes at once against an empty cache: two
// `fetch-kernel.sh --image` of the same series (as two matrix suites starting together do), and
// two builds of rewind.ko for the kernel they fetched. Each must succeed, agree on one published
// folder, and leave no temporary folder behind. Downloads a kernel (~70 MB): gated with the matrix
// (`npm run test:kernels`).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../vm/kernel';
import { MATRIX_BUILDS } from './matrix-helpers';

const describeMatrix = process.env.REWIND_KERNEL_MATRIX === '1' ? describe : describe.skip;
const SERIES = '5.10';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: projectRoot, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// Builds the module for SERIES in a process of its own, printing the build folder.
const BUILD = `require('./test/ts-register');
const { resolveKernel } = require('./test/vm/kernel.ts');
const { buildModuleFor } = require('./test/kmod/matrix-helpers.ts');
console.log(buildModuleFor(resolveKernel('${SERIES}')).dir);`;

describeMatrix('the kernel matrix caches under concurrency', () => {
  let cache = '';
  beforeAll(() => {
    // Nothing here boots a VM, so the host's /tmp will do (a guest would not see it).
    cache = mkdtempSync(join(tmpdir(), 'rewind-empty-kernels-'));
  });
  afterAll(() => rmSync(cache, { recursive: true, force: true }));

  it(`fetches ${SERIES} twice at once into an empty cache, publishing one folder`, async () => {
    const fetch = join(projectRoot, 'test', 'kmod', 'fetch-kernel.sh');
    const runs = await Promise.all(
      [1, 2].map(() => run('bash', [fetch, '--image', SERIES], { REWIND_CACHE: cache })),
    );
    for (const r of runs) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const folders = runs.map((r) => r.stdout.trim());
    expect(folders[1]).toBe(folders[0]);
    const kernels = join(cache, 'kernels');
    expect(readdirSync(kernels)).toEqual([folders[0]!.slice(kernels.length + 1)]);
    const folder = folders[0]!;
    const release = readFileSync(join(folder, 'release'), 'utf8').trim();
    expect(release.startsWith(`${SERIES}.`)).toBe(true);
    expect(existsSync(join(folder, '.complete'))).toBe(true);
    expect(existsSync(join(folder, 'root', 'boot', `vmlinuz-${release}`))).toBe(true);
    const modules = join(folder, 'root', 'lib', 'modules', release);
    expect(readFileSync(join(modules, 'modules.dep'), 'utf8')).toMatch(/^kernel\/fs\/9p\/9p\.ko/m);
    // A third run finds the published folder and prints it.
    const again = await run('bash', [fetch, '--image', SERIES], { REWIND_CACHE: cache });
    expect(again.stdout.trim()).toBe(folder);
  }, 600_000);

  it(`builds rewind.ko for ${SERIES} twice at once, publishing one build`, async () => {
    const before = existsSync(MATRIX_BUILDS) ? readdirSync(MATRIX_BUILDS) : [];
    const runs = await Promise.all(
      [1, 2].map(() => run('node', ['-e', BUILD], { REWIND_CACHE: cache })),
    );
    for (const r of runs) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const dirs = runs.map((r) => r.stdout.trim());
    expect(dirs[1]).toBe(dirs[0]);
    expect(existsSync(join(dirs[0]!, 'rewind.ko'))).toBe(true);
    const leftovers = readdirSync(MATRIX_BUILDS).filter((f) => f.startsWith('.build-'));
    expect(leftovers).toEqual([]);
    // The kernel came from this test's cache, so its build is new here (a KDIR of its own).
    expect(before).not.toContain(dirs[0]!.slice(MATRIX_BUILDS.length + 1));
    rmSync(dirs[0]!, { recursive: true, force: true });
  }, 600_000);
});
