/**
 * `npm run image`'s cache filled by two processes at once, against an empty REWIND_CACHE: both
 * must succeed and print the same archive, one of them having waited for the other (it says so)
 * rather than building beside it, and nothing temporary may be left. buildah's layer store is
 * shared with every other build on the machine, so with warm layers this takes about a minute;
 * in an empty store, the length of a cold build (test/image/README.md).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFailure, buildImage, requireBuildTools } from './build';

describe("npm run image's cache under concurrency", () => {
  let cache = '';
  beforeAll(() => {
    requireBuildTools();
    cache = mkdtempSync(join(tmpdir(), 'rewind-empty-image-cache-'));
  });
  afterAll(() => {
    if (cache !== '') rmSync(cache, { recursive: true, force: true });
  });

  it(
    'builds each entry once for two processes started at once, which print the same archive',
    async () => {
      const runs = await Promise.all([1, 2].map(() => buildImage({ REWIND_CACHE: cache })));
      for (const r of runs) if (r.code !== 0) throw new Error(buildFailure(r));
      const [a, b] = runs.map((r) => r.archive);
      expect(a).toMatch(new RegExp(`^${cache}/images/rewind-[^/]+\\.tar$`));
      expect(b).toBe(a);
      expect(statSync(a!).size).toBeGreaterThan(0);

      // Each entry was made once: the one holding its lock made it, the other waited (and says
      // so), then found it. Which process waits for which entry is up to the scheduler.
      const count = (re: RegExp) => runs.filter((r) => re.test(r.stderr)).length;
      expect(count(/base: archived as /)).toBe(1);
      expect(count(/image: building docker\.io\/library\/rewind/)).toBe(1);
      const waited = runs.filter((r) => /waiting for another process building/.test(r.stderr));
      expect(waited.length).toBeGreaterThanOrEqual(1);
      for (const r of waited) expect(r.stderr).toMatch(/found \//);

      // Published entries only: no temporary archive, no staged context.
      const left = readdirSync(join(cache, 'images')).filter((f) => !f.endsWith('.lock'));
      expect(left.filter((f) => f.includes('.tmp') || f.startsWith('.context'))).toEqual([]);
      expect(left.filter((f) => f.startsWith('rewind-'))).toEqual([a!.split('/').at(-1)]);
      expect(left.filter((f) => f.startsWith('node-base-'))).toHaveLength(1);

      // A third run finds everything in place and builds nothing.
      const again = await buildImage({ REWIND_CACHE: cache });
      if (again.code !== 0) throw new Error(buildFailure(again));
      expect(again.archive).toBe(a);
      expect(again.stderr).toMatch(/nothing changed; cached archive/);
      expect(existsSync(a!)).toBe(true);
    },
    60 * 60_000,
  );
});
