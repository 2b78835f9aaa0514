/**
 * Reads a kernel module file without the kernel: its `.modinfo` section (vermagic, name…) from
 * the ELF section table, and whether a signature is appended. Pure: bytes in, values out. Every
 * offset read from the file is bounds-checked; a damaged file is a ModinfoError naming what is
 * wrong, never a RangeError from a Buffer read.
 */

export class ModinfoError extends Error {
  override name = 'ModinfoError';
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELF64_HEADER_SIZE = 64;
const ELF64_SECTION_HEADER_SIZE = 64;

/** What the kernel's module signing appends (scripts/sign-file.c, kernel/module/signing.c). */
const SIGNATURE_MARKER = Buffer.from('~Module signature appended~\n');

interface Section {
  name: number;
  offset: number;
  size: number;
}

/** A u64 field as a safe number; beyond 2^53 the file cannot be one we can read anyway. */
function u64(buf: Buffer, at: number, what: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ModinfoError(`${what} is out of range`);
  return Number(v);
}

function checkRange(buf: Buffer, offset: number, size: number, what: string): void {
  if (offset > buf.length || size > buf.length - offset) {
    throw new ModinfoError(
      `${what} (${size} bytes at ${offset}) lies beyond the end of the file (${buf.length} bytes): truncated or damaged`,
    );
  }
}

function sectionTable(buf: Buffer): { sections: Section[]; names: Section } {
  if (buf.length < ELF64_HEADER_SIZE || !buf.subarray(0, 4).equals(ELF_MAGIC)) {
    throw new ModinfoError('not an ELF file');
  }
  if (buf[4] !== ELFCLASS64 || buf[5] !== ELFDATA2LSB) {
    throw new ModinfoError('not a 64-bit little-endian ELF file');
  }
  const shoff = u64(buf, 0x28, 'the section table offset');
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const shstrndx = buf.readUInt16LE(0x3e);
  if (shentsize !== ELF64_SECTION_HEADER_SIZE) {
    throw new ModinfoError(`section header size ${shentsize}, expected 64`);
  }
  if (shnum === 0 || shstrndx >= shnum) throw new ModinfoError('no section name table');
  checkRange(buf, shoff, shnum * shentsize, 'the section table');
  const sections: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    const s = {
      name: buf.readUInt32LE(at),
      offset: u64(buf, at + 24, `section ${i}'s offset`),
      size: u64(buf, at + 32, `section ${i}'s size`),
    };
    sections.push(s);
  }
  const names = sections[shstrndx] as Section;
  checkRange(buf, names.offset, names.size, 'the section name table');
  return { sections, names };
}

function sectionName(buf: Buffer, names: Section, s: Section): string {
  if (s.name >= names.size) return '';
  const start = names.offset + s.name;
  const end = buf.indexOf(0, start);
  return buf.toString('latin1', start, end < 0 || end > names.offset + names.size ? start : end);
}

/** The `.modinfo` entries (`key=value`, NUL-separated) of a module, in file order. */
export function readModinfo(buf: Buffer): [string, string][] {
  const { sections, names } = sectionTable(buf);
  const modinfo = sections.find((s) => sectionName(buf, names, s) === '.modinfo');
  if (!modinfo) throw new ModinfoError('no .modinfo section: not a kernel module');
  checkRange(buf, modinfo.offset, modinfo.size, 'the .modinfo section');
  return buf
    .toString('latin1', modinfo.offset, modinfo.offset + modinfo.size)
    .split('\0')
    .filter((entry) => entry.includes('='))
    .map((entry) => {
      const eq = entry.indexOf('=');
      return [entry.slice(0, eq), entry.slice(eq + 1)];
    });
}

/**
 * The kernel release a module was built for: the first word of its vermagic
 * (`6.1.0-57-amd64 SMP preempt mod_unload modversions `).
 */
export function vermagicRelease(buf: Buffer): string {
  const vermagic = readModinfo(buf).find(([k]) => k === 'vermagic')?.[1];
  if (vermagic === undefined) throw new ModinfoError('no vermagic in .modinfo');
  const release = vermagic.split(' ')[0] ?? '';
  if (release === '') throw new ModinfoError(`empty vermagic ${JSON.stringify(vermagic)}`);
  return release;
}

/**
 * The ABI and wire-format versions a module file declares (`rewind_abi`, `rewind_format` in
 * its .modinfo, kmod/main.c); undefined for a module built before it declared them.
 */
export function moduleVersions(buf: Buffer): { abi: number; format: number } | undefined {
  const info = new Map(readModinfo(buf));
  const abi = info.get('rewind_abi');
  const format = info.get('rewind_format');
  if (abi === undefined || format === undefined) return undefined;
  if (!/^\d+$/.test(abi) || !/^\d+$/.test(format))
    throw new ModinfoError(`unreadable versions rewind_abi=${abi} rewind_format=${format}`);
  return { abi: Number(abi), format: Number(format) };
}

/** Whether a module signature is appended (a kernel that enforces signatures needs one). */
export function isSigned(buf: Buffer): boolean {
  return (
    buf.length >= SIGNATURE_MARKER.length &&
    buf.subarray(buf.length - SIGNATURE_MARKER.length).equals(SIGNATURE_MARKER)
  );
}
