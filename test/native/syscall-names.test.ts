/**
 * The x86-64 system call names the native core ships (kmod/include/rewind/syscalls.h, which
 * the module's metadata also declares as a CTF enumeration)
 * are the kernel's own: regenerated from the asm/unistd_64.h installed here (Debian's
 * linux-libc-dev) by native/tools/gen-syscalls.js, they come out the same. A kernel that adds
 * system calls makes this fail until the table is regenerated.
 */
import { readFileSync } from 'node:fs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const gen = require('../../native/tools/gen-syscalls.js') as {
  DEFAULT_HEADER: string;
  TABLE: string;
  parseUnistd(text: string): [number, string][];
  renderTable(pairs: [number, string][], source: string): string;
};

describe('the shipped system call table', () => {
  it('is what the generator makes from the installed asm/unistd_64.h', () => {
    const pairs = gen.parseUnistd(readFileSync(gen.DEFAULT_HEADER, 'utf8'));
    expect(pairs.length).toBeGreaterThan(300);
    expect(pairs.slice(0, 3)).toEqual([
      [0, 'read'],
      [1, 'write'],
      [2, 'open'],
    ]);
    expect(readFileSync(gen.TABLE, 'utf8')).toBe(gen.renderTable(pairs, 'asm/unistd_64.h'));
  });

  it('refuses a header with a number twice or with none', () => {
    expect(() => gen.parseUnistd('#define __NR_a 1\n#define __NR_b 1\n')).toThrow(
      'system call 1 twice: a and b',
    );
    expect(() => gen.parseUnistd('#define FOO 1\n')).toThrow(/not an asm\/unistd_64\.h/);
  });
});
