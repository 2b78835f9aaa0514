// The module loader's pure parts: the ELF .modinfo reader on the real rewind.ko (and on damaged
// copies of it), the source hash, and the decisions (policy, insmod errors, versions, backoff).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  fileVersionRefusal,
  healthDetail,
  insmodVerdict,
  parseFlag,
  parseLockdown,
  refusal,
  releaseAllowed,
  retryDelayMs,
  signedOnly,
  versionVerdict,
  type KernelRestrictions,
} from '../../agent/module/decisions';
import {
  isSigned,
  ModinfoError,
  moduleVersions,
  readModinfo,
  vermagicRelease,
} from '../../agent/module/modinfo';
import { isModuleSource, readSources, sourceHash } from '../../agent/module/sources';
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

const OPEN: KernelRestrictions = { modulesDisabled: false, lockdown: undefined, sigEnforce: false };

describe('modinfo of a kernel module', () => {
  const ko = realModule();
  const release = modinfoRelease(KO);

  it("reads the real rewind.ko's vermagic as modinfo(8) does", () => {
    expect(vermagicRelease(ko)).toBe(release);
    const info = new Map(readModinfo(ko));
    expect(info.get('name')).toBe('rewind');
    expect(info.get('license')).toBe('GPL');
    expect(info.get('vermagic')?.startsWith(`${release} SMP`)).toBe(true);
  });

  it('reads a vermagic rewritten to another release (what the ladder must skip)', () => {
    const other = otherRelease(release);
    expect(other).not.toBe(release);
    expect(other).toHaveLength(release.length);
    const rewritten = withVermagic(ko, release, other);
    expect(vermagicRelease(rewritten)).toBe(other);
    // modinfo(8) agrees: the rewrite is what a module of another kernel looks like.
    const dir = mkdtempSync(join(tmpdir(), 'rwd-modinfo-'));
    try {
      writeFileSync(join(dir, 'rewind.ko'), rewritten);
      expect(modinfoRelease(join(dir, 'rewind.ko'))).toBe(other);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the versions the module declares, as modinfo(8) does, and refuses other ones', () => {
    const expected = sourceVersions();
    expect(moduleVersions(ko)).toEqual({
      abi: expected.abiVersion,
      format: expected.formatVersion,
    });
    const shown = spawnSync('modinfo', ['-F', 'rewind_abi', KO], { encoding: 'utf8' });
    expect(Number(shown.stdout.trim())).toBe(expected.abiVersion);
    const other = (expected.abiVersion + 1) % 10;
    expect(moduleVersions(withAbi(ko, other))).toEqual({
      abi: other,
      format: expected.formatVersion,
    });
    expect(fileVersionRefusal('/m.ko', moduleVersions(ko), expected)).toBeUndefined();
    expect(fileVersionRefusal('/m.ko', moduleVersions(withAbi(ko, other)), expected)).toBe(
      `/m.ko has ABI ${other} and format ${expected.formatVersion}; this agent needs ABI ` +
        `${expected.abiVersion} and format ${expected.formatVersion}: never tried`,
    );
    expect(fileVersionRefusal('/m.ko', undefined, expected)).toMatch(
      /declares no ABI version .*older than this agent, never tried$/,
    );
  });

  it('tells a signed module from an unsigned one by the appended marker', () => {
    expect(isSigned(ko)).toBe(false);
    const signed = Buffer.concat([
      ko,
      Buffer.alloc(100, 7),
      Buffer.from('~Module signature appended~\n'),
    ]);
    expect(isSigned(signed)).toBe(true);
    expect(vermagicRelease(signed)).toBe(release);
  });

  it.each([
    ['empty', () => Buffer.alloc(0), /not an ELF file/],
    ['text', () => Buffer.from('this is not a module\n'.repeat(10)), /not an ELF file/],
    ['the ELF header alone', () => ko.subarray(0, 64), /beyond the end of the file/],
    ['half of it', () => ko.subarray(0, ko.length >> 1), /beyond the end of the file/],
    [
      'a 32-bit ELF',
      () => {
        const b = Buffer.from(ko);
        b[4] = 1;
        return b;
      },
      /not a 64-bit little-endian ELF/,
    ],
    [
      'a section table offset past the end',
      () => {
        const b = Buffer.from(ko);
        b.writeBigUInt64LE(BigInt(ko.length) * 2n, 0x28);
        return b;
      },
      /the section table .* beyond the end/,
    ],
    [
      'a huge section table offset',
      () => {
        const b = Buffer.from(ko);
        b.writeBigUInt64LE(0xffff_ffff_ffff_fff0n, 0x28);
        return b;
      },
      /out of range/,
    ],
  ])('refuses %s with a ModinfoError naming what is wrong', (_what, make, message) => {
    const bad = make();
    expect(() => vermagicRelease(bad)).toThrow(ModinfoError);
    expect(() => vermagicRelease(bad)).toThrow(message);
  });

  it('never throws anything but a ModinfoError on damaged copies', () => {
    // Deterministic damage: flip bytes of the ELF header and the section table, cut at many points.
    const shoff = Number(ko.readBigUInt64LE(0x28));
    const others: string[] = [];
    for (let i = 0; i < 400; i++) {
      const b = Buffer.from(ko.subarray(0, i % 3 === 0 ? (i * 7919) % ko.length : ko.length));
      const at = i % 2 === 0 ? (i * 13) % 64 : shoff + ((i * 31) % (ko.length - shoff));
      if (at < b.length) b[at] = (b[at] as number) ^ (1 + (i % 255));
      try {
        vermagicRelease(b);
      } catch (e) {
        if (!(e instanceof ModinfoError)) others.push(`${i}: ${String(e)}`);
      }
    }
    expect(others).toEqual([]);
  });
});

describe('the source hash', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const copy = (filter: (src: string) => boolean): string => {
    const dir = mkdtempSync(join(tmpdir(), 'rwd-src-'));
    dirs.push(dir);
    cpSync(KMOD, dir, { recursive: true, filter });
    return dir;
  };

  it('takes the module sources and nothing built', () => {
    expect(isModuleSource('main.c')).toBe(true);
    expect(isModuleSource('include/uapi/rewind.h')).toBe(true);
    expect(isModuleSource('Kbuild')).toBe(true);
    expect(isModuleSource('rewind.mod.c')).toBe(false);
    expect(isModuleSource('main.o')).toBe(false);
    expect(isModuleSource('tools/rewindctl.c')).toBe(false);
    expect(isModuleSource('.tmp/x.c')).toBe(false);
    expect(isModuleSource('DESIGN.md')).toBe(false);
  });

  it('is the same for a built tree and a clean copy, and changes with any byte or name', async () => {
    const built = await readSources(KMOD);
    expect(built.map((f) => f.rel)).toContain('Kbuild');
    expect(built.map((f) => f.rel)).toContain('include/rewind/format.h');
    const clean = copy((src) => !/\.(o|ko|mod|mod\.c|cmd|order|symvers)$/.test(src));
    const h = sourceHash(built);
    expect(h).toMatch(/^[0-9a-f]{16}$/);
    expect(sourceHash(await readSources(clean))).toBe(h);
    expect(sourceHash([...built].reverse())).toBe(h);

    writeFileSync(
      join(clean, 'ring.c'),
      Buffer.concat([readFileSync(join(clean, 'ring.c')), Buffer.from(' ')]),
    );
    const oneByte = sourceHash(await readSources(clean));
    expect(oneByte).not.toBe(h);

    const renamed = built.map((f) => (f.rel === 'ring.c' ? { ...f, rel: 'ring2.c' } : f));
    expect(sourceHash(renamed)).not.toBe(h);
    // Bytes moved from the end of one file to the start of the next are another source.
    const a = { rel: 'a.c', content: Buffer.from('xy') };
    const b = { rel: 'b.c', content: Buffer.from('z') };
    expect(sourceHash([a, b])).not.toBe(
      sourceHash([
        { rel: 'a.c', content: Buffer.from('x') },
        { rel: 'b.c', content: Buffer.from('yz') },
      ]),
    );
  });

  it('is an empty list for a missing folder', async () => {
    expect(await readSources('/nonexistent/rewind-source')).toEqual([]);
  });
});

describe('the decisions', () => {
  it('reads lockdown and flags as the kernel writes them', () => {
    expect(parseLockdown('[none] integrity confidentiality\n')).toBeUndefined();
    expect(parseLockdown('none [integrity] confidentiality\n')).toBe('integrity');
    expect(parseLockdown('none integrity [confidentiality]\n')).toBe('confidentiality');
    expect(parseLockdown(undefined)).toBeUndefined();
    expect(parseFlag('1\n')).toBe(true);
    expect(parseFlag('Y\n')).toBe(true);
    expect(parseFlag('0\n')).toBe(false);
    expect(parseFlag('N\n')).toBe(false);
    expect(parseFlag(undefined)).toBe(false);
  });

  it('honours the kill switch, then the allow-list, then modules_disabled', () => {
    const auto = { load: 'auto' as const, allowedReleases: [] };
    expect(refusal(auto, '6.1.0-57-amd64', OPEN)).toBeUndefined();
    expect(refusal({ ...auto, load: 'never' }, '6.1.0-57-amd64', OPEN)?.state).toBe('disabled');
    const allow = { ...auto, allowedReleases: ['6.1.0-*-amd64', '5.10.0-30-amd64'] };
    expect(refusal(allow, '6.1.0-57-amd64', OPEN)).toBeUndefined();
    expect(refusal(allow, '5.10.0-30-amd64', OPEN)).toBeUndefined();
    const no = refusal(allow, '6.12.95+deb12-amd64', OPEN);
    expect(no?.state).toBe('release-not-allowed');
    expect(no?.reason).toBe('release-not-allowed');
    expect(no?.detail).toContain('6.12.95+deb12-amd64');
    expect(releaseAllowed('6.1.0-57-amd64x', ['6.1.0-*-amd64'])).toBe(false);
    expect(releaseAllowed('6x1.0-57-amd64', ['6.1.0-*-amd64'])).toBe(false);
    const disabled = { ...OPEN, modulesDisabled: true };
    expect(refusal(auto, '6.1.0-57-amd64', disabled)?.state).toBe('modules-disabled');
    // The kill switch wins over everything else.
    expect(refusal({ ...allow, load: 'never' }, 'x', disabled)?.state).toBe('disabled');
  });

  it('takes only signed modules under lockdown or sig_enforce', () => {
    expect(signedOnly(OPEN)).toBeUndefined();
    expect(signedOnly({ ...OPEN, lockdown: 'integrity' })?.reason).toBe('lockdown');
    expect(signedOnly({ ...OPEN, sigEnforce: true })?.reason).toBe('signature-required');
  });

  const KO_PATH = '/cache/rewind.ko';
  const kmod = (err: string): string =>
    `insmod: ERROR: could not insert module ${KO_PATH}: ${err}\n`;
  const busybox = (err: string): string => `insmod: can't insert '${KO_PATH}': ${err}\n`;
  it.each([
    [kmod('Operation not permitted'), { ...OPEN, modulesDisabled: true }, 'modules-disabled'],
    [kmod('Operation not permitted'), { ...OPEN, lockdown: 'integrity' }, 'lockdown'],
    [kmod('Operation not permitted'), OPEN, 'load-failed'],
    [kmod('Key was rejected by service'), { ...OPEN, sigEnforce: true }, 'signature-required'],
    [busybox('Key was rejected by service'), OPEN, 'signature-required'],
    [kmod('Cannot allocate memory'), OPEN, 'load-failed'],
    [kmod('Unknown symbol in module'), OPEN, 'load-failed'],
  ])('maps %j under %j to %s', (output, kernel, reason) => {
    const v = insmodVerdict(output, KO_PATH, kernel as KernelRestrictions);
    expect(v).toMatchObject({ kind: 'failed', reason });
    if (v.kind === 'failed') {
      expect(v.detail).toContain(KO_PATH);
      expect(v.detail).toContain(output.slice(output.lastIndexOf(': ') + 2).trim());
    }
  });

  it('sends EEXIST back to the loaded check and ENOEXEC on to the next module', () => {
    expect(insmodVerdict(kmod('File exists'), KO_PATH, OPEN)).toEqual({ kind: 'exists' });
    const f = insmodVerdict(kmod('Invalid module format'), KO_PATH, OPEN);
    expect(f.kind).toBe('format');
    expect(f.kind === 'format' && f.detail).toContain('Invalid module format');
  });

  it('attaches only to a module that shows the versions the agent speaks', () => {
    const want = { abiVersion: 1, formatVersion: 1 };
    expect(versionVerdict({ abiVersion: '1\n', formatVersion: '1\n' }, want, 'x').state).toBe(
      'loaded',
    );
    const older = versionVerdict({ abiVersion: undefined, formatVersion: undefined }, want, 'x');
    expect(older.state).toBe('abi-mismatch');
    expect(older.detail).toContain('ABI unknown and format unknown');
    const newer = versionVerdict({ abiVersion: '2', formatVersion: '1' }, want, 'x');
    expect(newer.state).toBe('abi-mismatch');
    expect(newer.detail).toMatch(/ABI 2 and format 1; this agent needs ABI 1 and format 1/);
  });

  it('backs off exponentially up to the cap', () => {
    const delays = Array.from({ length: 10 }, (_, i) => retryDelayMs(i + 1, 120));
    expect(delays).toEqual([
      5000, 10000, 20000, 40000, 80000, 120000, 120000, 120000, 120000, 120000,
    ]);
    expect(retryDelayMs(1000, 300)).toBe(300_000);
    expect(retryDelayMs(1, 2)).toBe(2000);
  });

  it('says on /healthz what to do next', () => {
    const detail = 'no /lib/modules/6.1.0-57-amd64/build: mount the host’s /lib/modules';
    expect(healthDetail({ state: 'no-headers', reason: 'no-headers', detail })).toBe(
      `degraded: no-headers (${detail})`,
    );
    expect(healthDetail({ state: 'loaded', reason: undefined, detail: 'rewind' })).toBe(
      'loaded: rewind',
    );
  });
});
