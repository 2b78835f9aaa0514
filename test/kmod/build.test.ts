// The module and rewindctl build without a warning against the installed headers, and the wire
// format header is valid C99 and C++17 userspace code (native/ includes it).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../vm/kernel';

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
      filter: (src) => !/\.(o|ko|mod|mod\.c|cmd|order|symvers)$/.test(src) && !src.endsWith('/rewindctl'),
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds rewind.ko and rewindctl with no warning', () => {
    const r = sh('make', dir);
    expect(r.out).not.toMatch(/warning|error/i);
    expect(r.code).toBe(0);
    expect(sh('test -f rewind.ko && test -x rewindctl', dir).code).toBe(0);
  }, 300_000);

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
      'probes.c': ['LINUX_VERSION_CODE', 'CONSTANT_COMPARISON'],
      'statedump.c': ['LINUX_VERSION_CODE', 'CONSTANT_COMPARISON'],
      'device.c': ['LINUX_VERSION_CODE', 'CONSTANT_COMPARISON'],
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
      'rewindctl.c': ['SPLIT_STRING', 'BRACKET_SPACE'],
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
