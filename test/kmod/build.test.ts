// The module and rewindctl build without a warning against the installed headers, rewindctl
// explains itself without a device, and the wire format header is valid C99 and C++17 userspace
// code (native/ includes it).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../vm/kernel';
import { uapiTable } from './kmod-helpers';

const kmod = join(projectRoot, 'kmod');

function sh(cmd: string, cwd: string): { code: number; out: string } {
  const r = spawnSync('sh', ['-c', `${cmd} 2>&1`], { cwd, encoding: 'utf8' });
  return { code: r.status ?? 1, out: r.stdout };
}

describe('kmod build', () => {
  let dir = '';
  beforeAll(() => {
    // A private copy: the tree others insmod from is never rebuilt or cleaned under them.
    dir = mkdtempSync(join(tmpdir(), 'rewind-kmod-build-'));
    cpSync(kmod, dir, {
      recursive: true,
      filter: (src) =>
        !/\.(o|ko|mod|mod\.c|cmd|order|symvers)$/.test(src) && !src.endsWith('/tools/rewindctl'),
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds rewind.ko and rewindctl with no warning', () => {
    const r = sh('make', dir);
    expect(r.out).not.toMatch(/warning|error/i);
    expect(r.code).toBe(0);
    expect(sh('test -f rewind.ko && test -x tools/rewindctl', dir).code).toBe(0);
  }, 300_000);

  // Each probe is checked against its tracepoint's declaration at compile time (probes.c): plant a
  // wrong prototype in a copy and the build must stop with an incompatible-pointer error. The first
  // is the bug it was written for (block_rq_complete's blk_status_t); the second a probe whose
  // tracepoint lives in an arch header.
  it.each([
    [
      'block_rq_complete',
      'blk_status_t error, unsigned int nr_bytes)',
      'int error, unsigned int nr_bytes)',
    ],
    ['page_fault_user', 'unsigned long error_code)\n{', 'unsigned int error_code)\n{'],
  ])(
    'refuses to build with a wrong prototype of probe_%s',
    (probe, from, to) => {
      const copy = mkdtempSync(join(tmpdir(), 'rewind-kmod-proto-'));
      try {
        cpSync(dir, copy, { recursive: true, filter: (src) => !/\.(o|ko|cmd)$/.test(src) });
        const probes = join(copy, 'probes.c');
        const src = readFileSync(probes, 'utf8');
        const planted = src.replace(from, to);
        expect(planted).not.toBe(src); // the plant took
        writeFileSync(probes, planted);
        const r = sh('make module', copy);
        expect(r.code).not.toBe(0);
        expect(r.out).toMatch(
          new RegExp(
            `passing argument 1 of .register_trace_${probe}. from incompatible pointer type`,
          ),
        );
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    },
    300_000,
  );

  // Other kernels' headers, fetched into the cache without installing (test/kmod/fetch-kernel.sh):
  // the Kbuild feature tests (<linux/unaligned.h>, hrtimer_setup, vm_flags_mod, the block
  // tracepoints' prototypes) pick the right code. 6.12's headers want pahole for module BTF,
  // which the module does not need; 5.10's name gcc-10, which bookworm lacks.
  it.each([
    ['6.12', 'CONFIG_DEBUG_INFO_BTF_MODULES='],
    ['5.10', 'CC=gcc'],
  ])(
    "builds against Debian's %s headers with no warning",
    (series, extra) => {
      const fetch = sh(
        `bash ${join(projectRoot, 'test', 'kmod', 'fetch-kernel.sh')} ${series}`,
        dir,
      );
      expect(fetch.code).toBe(0);
      const kdir = fetch.out.trim().split('\n').pop() as string;
      const copy = mkdtempSync(join(tmpdir(), `rewind-kmod-${series}-`));
      try {
        cpSync(dir, copy, {
          recursive: true,
          filter: (src) => !/\.(o|ko|cmd|mod|order|symvers)$/.test(src),
        });
        const r = sh(`make module KDIR=${kdir} ${extra}`, copy);
        expect(r.out).not.toMatch(/warning|error/i);
        expect(r.code).toBe(0);
        const vermagic = sh('modinfo -F vermagic rewind.ko', copy).out;
        expect(vermagic.startsWith(`${series}.`)).toBe(true);
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    },
    600_000,
  );

  it('refuses a 32-bit kernel at the Kbuild step', () => {
    // Positions are unsigned long byte counts: 4 GiB per CPU on a 32-bit kernel. Pretend to be one.
    const r = sh('make module CONFIG_64BIT=', dir);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('rewind.ko needs a 64-bit kernel');
  }, 120_000);

  it('has a rewindctl --help that needs no device and lists every probe of the ABI', () => {
    // The host has no /dev/rewind: --help must not open it.
    const r = spawnSync(join(dir, 'tools', 'rewindctl'), ['--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    for (const flag of ['--subbuf-size', '--subbufs', '--mode', '--probes', '--hostname']) {
      expect(r.stdout).toContain(flag);
    }
    const listed = r.stdout.slice(r.stdout.indexOf('Probes:')).split(/\s+/).slice(1, -1);
    expect(listed).toEqual(uapiTable('REWIND_PROBE_TABLE'));
  });

  it('has a wire-format header that compiles as C99 and C++17 userspace', () => {
    const src = join(dir, 'format-check.cc');
    writeFileSync(
      src,
      '#include "rewind/format.h"\n#include "uapi/rewind.h"\n' +
        'static const struct rewind_desc t[] = REWIND_DESC_TABLE_INIT;\n' +
        'static_assert(sizeof(struct rewind_packet_header) == REWIND_PACKET_HEADER_SIZE, "hdr");\n' +
        'int main() { return t[0].kind + (int)rewind_test_checksum(1, 2, 3) * 0; }\n',
    );
    const cxx = sh(`g++ -std=c++17 -Wall -Wextra -Werror -Iinclude -o /dev/null ${src}`, dir);
    expect(cxx.out).toBe('');
    const c = sh(
      `cp ${src} fc.c && sed -i 's/static_assert/_Static_assert/' fc.c && ` +
        'gcc -std=c99 -Wall -Wextra -Werror -Iinclude -o /dev/null fc.c',
      dir,
    );
    expect(c.out).toBe('');
  });
  it('is checkpatch --strict clean but for the warnings DESIGN.md justifies', () => {
    // Each file's remaining checkpatch types, as kmod/DESIGN.md ("Checkpatch") lists them.
    const justified: Record<string, string[]> = {
      'statedump.c': ['LINUX_VERSION_CODE', 'CONSTANT_COMPARISON'],
      'device.c': ['TRAILING_SEMICOLON'],
      'rewind.h': ['EMBEDDED_FILENAME'],
      'events.h': [
        'MULTISTATEMENT_MACRO_USE_DO_WHILE',
        'TRAILING_SEMICOLON',
        'COMPLEX_MACRO',
        'MACRO_ARG_PRECEDENCE',
        'MACRO_WITH_FLOW_CONTROL',
      ],
      'include/rewind/format.h': [
        'COMPLEX_MACRO',
        'MACRO_ARG_REUSE',
        'LONG_LINE_STRING',
        'PREFER_KERNEL_TYPES',
        'PREFER_DEFINED_ATTRIBUTE_MACRO',
      ],
      'include/uapi/rewind.h': ['COMPLEX_MACRO', 'MACRO_ARG_REUSE'],
      'tools/rewindctl.c': ['BRACKET_SPACE', 'TRAILING_SEMICOLON', 'MACRO_ARG_PRECEDENCE'],
      '../test/kmod/snapshot-check.c': ['BRACKET_SPACE'],
    };
    const r = sh('bash checkpatch.sh --terse', kmod);
    const findings = r.out
      .split('\n')
      .map((l) => /^([^:]+):\d+: (?:ERROR|WARNING|CHECK):(\w+):/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => `${m[1]} ${m[2]}`);
    expect(r.out).toMatch(/total: /); // checkpatch ran
    const unjustified = findings.filter((f) => {
      const [file, type] = f.split(' ') as [string, string];
      return !(justified[file] ?? []).includes(type);
    });
    expect(unjustified).toEqual([]);
  }, 300_000);
});
