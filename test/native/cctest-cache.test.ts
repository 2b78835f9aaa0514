/**
 * The C++ core tests' compiler cache (native/cctest/Makefile: ccache, outside the checkout), on one
 * object and an empty cache of the test's own: two builds filling it at once both succeed with
 * the same object; a copy of the tree at another path (a fresh clone, as CI makes) is served
 * from it, compiling nothing; without ccache the compiler runs directly. Real make, real
 * ccache, real g++.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../vm/kernel';

const run = promisify(execFile);
/** A small core source with includes of its own; its object in the g++ flavor. */
const OBJECT = 'obj/gcc/src/names.o';

/** ccache's counters for one cache folder (`ccache --print-stats`: name, tab, value). */
async function stats(cacheDir: string): Promise<Record<string, number>> {
  const { stdout } = await run('ccache', ['--print-stats'], {
    env: { ...process.env, CCACHE_DIR: cacheDir },
  });
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((line) => line.split('\t'))
      .map(([name, value]) => [name, Number(value)]),
  );
}

describe("the C++ core tests' compiler cache", () => {
  let dir = '';
  let cacheDir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rewind-ccache-'));
    cacheDir = join(dir, 'ccache');
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  /** make of OBJECT in `tree`'s native/cctest, into a build folder of its own. */
  const make = (tree: string, build: string, vars: string[] = []) =>
    run(
      'make',
      ['-s', '-C', join(tree, 'native/cctest'), `BUILD=${build}`, ...vars, join(build, OBJECT)],
      {
        env: { ...process.env, CCACHE_DIR: cacheDir },
        maxBuffer: 16 * 1024 * 1024,
      },
    );

  it('is filled by two builds at once, which make the same object', async () => {
    const builds = [join(dir, 'a'), join(dir, 'b')];
    await Promise.all(builds.map((b) => make(projectRoot, b)));
    const [a, b] = builds.map((build) => readFileSync(join(build, OBJECT)));
    expect(a!.length).toBeGreaterThan(1000);
    expect(b!.equals(a!)).toBe(true);
    const s = await stats(cacheDir);
    // Both compiled, or one found what the other stored: two calls, nothing failed.
    expect(s.cache_miss + s.direct_cache_hit + s.preprocessed_cache_hit).toBe(2);
    expect(s.cache_miss).toBeGreaterThanOrEqual(1);
    expect(s.files_in_cache).toBeGreaterThan(0);
  });

  it('serves a copy of the tree at another path (a fresh clone) without compiling', async () => {
    const clone = join(dir, 'clone');
    mkdirSync(join(clone, 'kmod'), { recursive: true });
    for (const part of ['native/src', 'native/cctest', 'kmod/include'])
      cpSync(join(projectRoot, part), join(clone, part), { recursive: true });
    const before = await stats(cacheDir);
    await make(clone, join(dir, 'c'));
    const after = await stats(cacheDir);
    expect(after.direct_cache_hit).toBe(before.direct_cache_hit + 1);
    expect(after.cache_miss).toBe(before.cache_miss);
    expect(readFileSync(join(dir, 'c', OBJECT)).equals(readFileSync(join(dir, 'a', OBJECT)))).toBe(
      true,
    );
  });

  it('runs the compiler directly when ccache is turned off (CCACHE=)', async () => {
    const { stdout } = await make(projectRoot, join(dir, 'd'), ['-n', 'CCACHE=']);
    expect(stdout).toMatch(/^g\+\+ .* -c -o \S+names\.o \.\.\/src\/core\/names\.cc$/m);
    const cached = await make(projectRoot, join(dir, 'd'), ['-n']);
    expect(cached.stdout).toMatch(/^ccache g\+\+ .* -c -o \S+names\.o /m);
  });
});
