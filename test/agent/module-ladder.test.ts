// The ladder on the host: real module files, real headers and real `make`; the kernel's side
// (sysfs, procfs, insmod's answers) is a stand-in (fixtures/module/fake-kernel.ts) because the
// host's kernel cannot load rewind.ko. module-vm.test.ts runs the same ladder on a real kernel.
// Also: two builders filling an empty cache at once (real make against the VMs' kernel headers).
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { buildIntoCache, cachedModulePath } from '../../agent/module/build';
import { loadModuleOnce } from '../../agent/module/ladder';
import { vermagicRelease } from '../../agent/module/modinfo';
import type { ModulePolicy } from '../../agent/module/policy';
import { readSources, sourceHash } from '../../agent/module/sources';
import { FakeKernel } from './fixtures/module/fake-kernel';
import { testPolicy } from './fixtures/module/support';
import {
  KMOD,
  KO,
  modinfoRelease,
  otherRelease,
  realModule,
  sourceVersions,
  withAbi,
  withVermagic,
} from './fixtures/module/modules';

const ko = realModule();
/** The release kmod/rewind.ko is built for: the VMs' kernel, whose headers are installed. */
const release = modinfoRelease(KO);

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function temp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `rwd-${prefix}-`));
  dirs.push(d);
  return d;
}

/** A pino logger whose lines the test reads. */
function capture(): { log: pino.Logger; lines: () => string[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(...chunk.toString('utf8').trim().split('\n'));
      done();
    },
  });
  return {
    log: pino({ level: 'info' }, stream),
    lines: () => out.map((l) => (JSON.parse(l) as { msg: string }).msg),
  };
}

interface Setup {
  policy: ModulePolicy;
  kernel: FakeKernel;
  prebuilt: string;
}

function setup(over: Partial<ModulePolicy> = {}): Setup {
  const root = temp('ladder');
  const policy = testPolicy(root, over);
  return {
    policy,
    kernel: new FakeKernel(join(root, 'kernel')),
    prebuilt: join(policy.prebuiltDir, release, 'rewind.ko'),
  };
}

function put(path: string, bytes: Buffer): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, bytes);
}

describe('the ladder (stand-in kernel)', () => {
  it('attaches to a module already loaded with the right versions, inserting nothing', async () => {
    const { policy, kernel, prebuilt } = setup();
    put(prebuilt, ko);
    kernel.load();
    const o = await loadModuleOnce(policy, kernel.io(release));
    expect(o).toMatchObject({ state: 'loaded', reason: undefined });
    const v = sourceVersions();
    expect(o.detail).toContain(`already loaded, ABI ${v.abiVersion}, format ${v.formatVersion}`);
    expect(kernel.calls).toEqual([]);
  });

  it('reports an already-loaded module without version parameters as abi-mismatch', async () => {
    const { policy, kernel } = setup();
    kernel.load({});
    const o = await loadModuleOnce(policy, kernel.io(release));
    expect(o.state).toBe('abi-mismatch');
    expect(o.detail).toContain('ABI unknown and format unknown');
    kernel.load({ abi: '2', format: '1' });
    expect((await loadModuleOnce(policy, kernel.io(release))).detail).toContain('ABI 2');
    expect(kernel.calls).toEqual([]); // never rmmod, never insmod
  });

  it('never loads with the kill switch, yet reports a module someone else loaded', async () => {
    const { policy, kernel, prebuilt } = setup({ load: 'never', sourceDir: KMOD });
    put(prebuilt, ko);
    const o = await loadModuleOnce(policy, kernel.io(release));
    expect(o.state).toBe('disabled');
    expect(kernel.calls).toEqual([]);
    kernel.load();
    expect((await loadModuleOnce(policy, kernel.io(release))).state).toBe('loaded');
    expect(kernel.calls).toEqual([]);
  });

  it('refuses a release outside the allow-list and a kernel with modules disabled', async () => {
    const a = setup({ allowedReleases: ['5.10.0-*-amd64'] });
    put(a.prebuilt, ko);
    const o = await loadModuleOnce(a.policy, a.kernel.io(release));
    expect(o.state).toBe('release-not-allowed');
    expect(o.detail).toContain(release);
    const b = setup({ allowedReleases: [release] });
    put(b.prebuilt, ko);
    b.kernel.set({ modulesDisabled: true });
    expect((await loadModuleOnce(b.policy, b.kernel.io(release))).state).toBe('modules-disabled');
    expect([...a.kernel.calls, ...b.kernel.calls]).toEqual([]);
  });

  it('inserts the prebuilt module for this very release, with no parameters', async () => {
    const { policy, kernel, prebuilt } = setup();
    put(prebuilt, ko);
    const o = await loadModuleOnce(policy, kernel.io(release));
    expect(o).toMatchObject({ state: 'loaded', path: prebuilt });
    expect(kernel.calls).toEqual([`insmod ${prebuilt}`]);
  });

  it('never tries a prebuilt module of another release; the cached build takes over', async () => {
    const { policy, kernel, prebuilt } = setup({ sourceDir: KMOD });
    put(prebuilt, withVermagic(ko, release, otherRelease(release)));
    const cached = cachedModulePath(
      policy.buildCacheDir,
      release,
      sourceHash(await readSources(KMOD)),
    );
    put(cached, ko);
    const { log, lines } = capture();
    const o = await loadModuleOnce(policy, kernel.io(release), log);
    expect(o).toMatchObject({ state: 'loaded', path: cached });
    expect(kernel.calls).toEqual([`insmod ${cached}`]);
    expect(lines()).toContainEqual(
      `prebuilt: skipped: ${prebuilt} was built for ${otherRelease(release)}, not ${release} (vermagic): never tried`,
    );
  });

  it('never inserts a prebuilt module that declares another ABI; the cached build takes over', async () => {
    const { policy, kernel, prebuilt } = setup({ sourceDir: KMOD });
    const other = (sourceVersions().abiVersion + 1) % 10;
    put(prebuilt, withAbi(ko, other));
    const cached = cachedModulePath(
      policy.buildCacheDir,
      release,
      sourceHash(await readSources(KMOD)),
    );
    put(cached, ko);
    const { log, lines } = capture();
    const o = await loadModuleOnce(policy, kernel.io(release), log);
    expect(o).toMatchObject({ state: 'loaded', path: cached });
    expect(kernel.calls).toEqual([`insmod ${cached}`]);
    expect(lines()).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^prebuilt: skipped: ${prebuilt} has ABI ${other} and format \\d+; this agent needs ABI`,
        ),
      ),
    );
  });

  it('skips a damaged prebuilt module and one the kernel refuses, and goes on', async () => {
    const { policy, kernel, prebuilt } = setup({ sourceDir: KMOD });
    put(prebuilt, ko.subarray(0, 5000));
    const cached = cachedModulePath(
      policy.buildCacheDir,
      release,
      sourceHash(await readSources(KMOD)),
    );
    put(cached, ko);
    expect((await loadModuleOnce(policy, kernel.io(release))).path).toBe(cached);
    expect(kernel.calls).toEqual([`insmod ${cached}`]);

    kernel.unload();
    kernel.calls.length = 0;
    put(prebuilt, ko);
    kernel.insmod = (path) => {
      if (path === prebuilt) {
        return {
          code: 1,
          output: `insmod: ERROR: could not insert module ${path}: Invalid module format\n`,
        };
      }
      kernel.load();
      return { code: 0, output: '' };
    };
    const o = await loadModuleOnce(policy, kernel.io(release));
    expect(o.path).toBe(cached);
    expect(kernel.calls).toEqual([`insmod ${prebuilt}`, `insmod ${cached}`]);
  });

  it('attaches when insmod finds the module loaded meanwhile (EEXIST)', async () => {
    const { policy, kernel, prebuilt } = setup();
    put(prebuilt, ko);
    kernel.insmod = (path) => {
      kernel.load();
      return { code: 1, output: `insmod: ERROR: could not insert module ${path}: File exists\n` };
    };
    const o = await loadModuleOnce(policy, kernel.io(release));
    expect(o.state).toBe('loaded');
    expect(o.detail).toContain('loaded by someone else meanwhile');
  });

  it('under lockdown tries only a signed module, and never builds', async () => {
    const { policy, kernel, prebuilt } = setup({ sourceDir: KMOD });
    kernel.set({ lockdown: 'integrity' });
    put(prebuilt, ko);
    const o = await loadModuleOnce(policy, kernel.io(release));
    expect(o.state).toBe('lockdown');
    expect(o.detail).toContain('is not signed');
    expect(kernel.calls).toEqual([]);

    put(prebuilt, Buffer.concat([ko, Buffer.from('~Module signature appended~\n')]));
    kernel.insmod = (path) => ({
      code: 1,
      output: `insmod: ERROR: could not insert module ${path}: Operation not permitted\n`,
    });
    const signed = await loadModuleOnce(policy, kernel.io(release));
    expect(signed.state).toBe('lockdown');
    expect(kernel.calls).toEqual([`insmod ${prebuilt}`]);
  });

  it('reports signature-required when the kernel rejects the key', async () => {
    const { policy, kernel, prebuilt } = setup({ sourceDir: KMOD });
    kernel.set({ sigEnforce: true });
    put(prebuilt, Buffer.concat([ko, Buffer.from('~Module signature appended~\n')]));
    kernel.insmod = (path) => ({
      code: 1,
      output: `insmod: ERROR: could not insert module ${path}: Key was rejected by service\n`,
    });
    const o = await loadModuleOnce(policy, kernel.io(release));
    expect(o.state).toBe('signature-required');
    expect(kernel.calls).toEqual([`insmod ${prebuilt}`]);
  });

  it('names the missing headers, and the dangling link into /usr/src', async () => {
    const root = temp('headers');
    const { policy, kernel } = setup({ sourceDir: KMOD, headersRoot: root });
    const none = await loadModuleOnce(policy, kernel.io(release));
    expect(none.state).toBe('no-headers');
    expect(none.detail).toContain(`no ${root}/${release}/build`);
    mkdirSync(join(root, release));
    symlinkSync(`/nonexistent/usr/src/linux-headers-${release}`, join(root, release, 'build'));
    const dangling = await loadModuleOnce(policy, kernel.io(release));
    expect(dangling.state).toBe('no-headers');
    expect(dangling.detail).toContain(`a link to /nonexistent/usr/src/linux-headers-${release}`);
    expect(kernel.calls).toEqual([]);
  });

  it('reports build-failed when there is neither a prebuilt module nor the source', async () => {
    const { policy, kernel } = setup();
    const o = await loadModuleOnce(policy, kernel.io(release));
    expect(o.state).toBe('build-failed');
    expect(o.detail).toContain(`no module source in ${policy.sourceDir}`);
  });

  it('reports build-failed with the compiler lines', async () => {
    const src = temp('broken-src');
    copyFileSync(join(KMOD, 'Kbuild'), join(src, 'Kbuild'));
    writeFileSync(join(src, 'main.c'), 'this is not C;\n');
    const { policy, kernel } = setup({ sourceDir: src });
    const o = await loadModuleOnce(policy, kernel.io(release));
    expect(o.state).toBe('build-failed');
    expect(o.detail).toMatch(/make exited 2: .*error/s);
    expect(kernel.calls).toEqual(['make']);
    // Nothing half-built is left in the cache.
    expect(readdirSync(join(policy.buildCacheDir, release))).toEqual([]);
  }, 120_000);
});

describe('the build cache (real make)', () => {
  it('builds from source on a miss, then finds the build without make', async () => {
    const { policy, kernel } = setup({ sourceDir: KMOD });
    const first = await loadModuleOnce(policy, kernel.io(release));
    expect(first.state).toBe('loaded');
    expect(kernel.calls).toEqual(['make', `insmod ${first.path}`]);
    kernel.unload();
    kernel.calls.length = 0;
    const again = await loadModuleOnce(policy, kernel.io(release));
    expect(again.path).toBe(first.path);
    expect(kernel.calls).toEqual([`insmod ${first.path}`]);
  }, 300_000);

  it('ends with one valid module when two builders fill an empty cache at once', async () => {
    const cacheDir = temp('race');
    const sources = await readSources(KMOD);
    const target = cachedModulePath(cacheDir, release, sourceHash(sources));
    const kdir = `/lib/modules/${release}/build`;
    const io = new FakeKernel(temp('race-kernel')).io(release, 1);
    const [a, b] = await Promise.all([
      buildIntoCache({ sources, kdir, target, io }),
      buildIntoCache({ sources, kdir, target, io }),
    ]);
    expect(a.ok && b.ok).toBe(true);
    // Exactly one published; the other used its build.
    expect([a, b].map((r) => r.ok && r.won).sort()).toEqual([false, true]);
    expect(vermagicRelease(readFileSync(target))).toBe(release);
    expect(readdirSync(join(cacheDir, release))).toEqual([target.split('/').at(-2)]);
    expect(readdirSync(join(target, '..')).sort()).toEqual(['build.log', 'rewind.ko']);
  }, 300_000);
});
