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
});
