/**
 * rewind-trace never loses or silently mixes data (issue 13): every bad input is one clear line
 * and an exit status (1 failed, 2 usage), the inputs stay byte-identical, an output appears whole
 * or not at all, and skipped damage is a warning with counts. Run as the installed command is
 * (a child process), judged by babeltrace2. The read-only and disk-full cases mount small tmpfs
 * file systems (root on this machine); where mounting is refused they are skipped and say so.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { join } from 'node:path';

import {
  mergeTraces,
  nativeVersion,
  RewindError,
  traceStats,
  writeSyntheticTrace,
} from '../../native/index';
import { babeltrace } from './babeltrace';
import { removeTempDirs, tempDir } from './fixtures';

const cli = join(__dirname, '..', '..', 'native', 'bin', 'rewind-trace.js');
const run = (...args: string[]) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });

/** Every file under dir (links as links), hashed with its relative path: equal = untouched. */
function hashTree(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      h.update(`${rel}/${name}:${st.mode}:${st.size}\n`);
      if (st.isDirectory()) walk(p, `${rel}/${name}`);
      else if (st.isFile()) h.update(readFileSync(p));
    }
  };
  walk(dir, '');
  return h.digest('hex');
}

/** Mounts a tmpfs of `size` at dir (read-only if asked); false where this host refuses. */
function mountTmpfs(dir: string, size: string, readOnly = false): boolean {
  mkdirSync(dir, { recursive: true });
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]).status !== 0)
    return false;
  mounted.push(dir);
  if (readOnly) spawnSync('mount', ['-o', 'remount,ro', dir]);
  return true;
}
const mounted: string[] = [];

let root: string;
let inputs: string; // everything the cases read; hashed before and after each
let eventsA: number;
let eventsB: number;

beforeAll(async () => {
  root = tempDir('cli-safety');
  inputs = join(root, 'in');
  const opts = { cpus: 2, eventsPerCpu: 3000, packetSize: 4096 };
  eventsA = await writeSyntheticTrace(join(inputs, 'self/node-a'), { hostname: 'node-a', ...opts });
  eventsB = await writeSyntheticTrace(join(inputs, 'self/node-b'), {
    hostname: 'node-b',
    ...opts,
    seed: 2,
  });
  cpSync(join(inputs, 'self'), join(inputs, 'self2'), { recursive: true });
  cpSync(join(inputs, 'self/node-a'), join(inputs, 'copy-a'), { recursive: true });
  // Damage: garbage over the middle of stream_0's second packet.
  cpSync(join(inputs, 'self/node-a'), join(inputs, 'damaged'), { recursive: true });
  const fd = openSync(join(inputs, 'damaged/stream_0'), 'r+');
  writeSync(fd, Buffer.alloc(64, 0xff), 0, 64, 4096 + 200);
  closeSync(fd);
  cpSync(join(inputs, 'self/node-a'), join(inputs, 'truncated'), { recursive: true });
  truncateSync(
    join(inputs, 'truncated/stream_0'),
    statSync(join(inputs, 'truncated/stream_0')).size - 1000,
  );
  cpSync(join(inputs, 'self/node-a'), join(inputs, 'garbage-metadata'), { recursive: true });
  writeFileSync(join(inputs, 'garbage-metadata/metadata'), 'this is not TSDL {{{');
  mkdirSync(join(inputs, 'empty'));
  writeFileSync(join(inputs, 'plain-file'), 'not a directory\n');
});

afterAll(() => {
  for (const dir of mounted.splice(0)) spawnSync('umount', [dir]);
  removeTempDirs();
});

describe('bad input: one line, an exit status, the inputs untouched', () => {
  const out = () => join(root, `out-${Math.random().toString(36).slice(2)}`);
  const cases: [string, () => string[], number, RegExp][] = [
    ['nonexistent', () => ['merge', out(), join(inputs, 'missing')], 1, /No such file/],
    ['empty', () => ['merge', out(), join(inputs, 'empty')], 1, /no Rewind trace/],
    ['file-for-dir', () => ['merge', out(), join(inputs, 'plain-file')], 1, /Not a directory/],
    [
      'truncated (--strict)',
      () => ['merge', '--strict', out(), join(inputs, 'truncated')],
      1,
      /truncated\/stream_0: at byte \d+/,
    ],
    [
      'garbage metadata',
      () => ['merge', out(), join(inputs, 'garbage-metadata')],
      1,
      /garbage-metadata\/metadata/,
    ],
    [
      'existing output',
      () => ['merge', join(inputs, 'self'), join(inputs, 'copy-a')],
      1,
      /exists and is not empty/,
    ],
    [
      'output inside input',
      () => ['merge', join(inputs, 'self/node-a/merged'), join(inputs, 'self/node-a')],
      1,
      /lies inside input/,
    ],
    [
      'summary onto an input file',
      () => [
        'merge',
        out(),
        join(inputs, 'self/node-a'),
        '--summary',
        join(inputs, 'self/node-a/stream_1'),
      ],
      1,
      /output .*stream_1 is or lies inside input/,
    ],
    [
      'same trace twice',
      () => ['merge', out(), join(inputs, 'self/node-a'), join(inputs, 'copy-a')],
      1,
      /the same trace twice \(trace uuid [0-9a-f-]+\): .*self\/node-a and .*copy-a/,
    ],
    [
      '--from after --to',
      () => ['merge', out(), join(inputs, 'self/node-a'), '--from', '2', '--to', '1'],
      2,
      /--from .* is after --to/,
    ],
    [
      'not a time',
      () => ['export', '--format', 'chrome', out(), join(inputs, 'self'), '--from', 'noon'],
      2,
      /"noon" is not a time/,
    ],
  ];

  it.each(cases)('%s', (_name, args, status, message) => {
    const before = hashTree(inputs);
    const r = run(...args());
    expect(r.signal).toBeNull();
    expect(r.status).toBe(status);
    const first = r.stderr.split('\n')[0] ?? '';
    expect(first).toMatch(/^(rewind-trace: |error: )/);
    expect(first).toMatch(message);
    if (status === 1) expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(hashTree(inputs)).toBe(before);
  });

  it('read-only output: one line, nothing changed', () => {
    const ro = join(root, 'ro');
    if (!mountTmpfs(ro, '1m', true)) return console.warn('skipped: cannot mount a tmpfs here');
    const before = hashTree(inputs);
    const r = run('merge', join(ro, 'out'), join(inputs, 'self'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^rewind-trace: .*Read-only file system\n$/);
    expect(readdirSync(ro)).toEqual([]);
    expect(hashTree(inputs)).toBe(before);
  });

  it('disk full: one line, no half-written output left behind', () => {
    const full = join(root, 'full');
    if (!mountTmpfs(full, '48k')) return console.warn('skipped: cannot mount a tmpfs here');
    const before = hashTree(inputs);
    for (const args of [
      ['merge', join(full, 'out'), join(inputs, 'self')],
      ['export', '--format', 'chrome', join(full, 'out.json'), join(inputs, 'self')],
    ]) {
      const r = run(...args);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^rewind-trace: cannot write .*No space left on device\n$/);
      expect(r.stderr).toContain(join(full, 'out')); // the output asked for, not its temporary
      expect(r.stderr).not.toContain('.tmp-');
      expect(readdirSync(full)).toEqual([]); // no output, no temporary
    }
    expect(hashTree(inputs)).toBe(before);
  });
});

describe('the six ways data was lost or mixed (issue 13)', () => {
  it('merge into a directory holding the inputs is refused, the inputs intact', () => {
    const before = hashTree(inputs);
    const self = join(inputs, 'self');
    for (const args of [
      ['merge', self, join(self, 'node-a'), join(self, 'node-b')],
      ['merge', join(inputs, 'self2'), join(inputs, 'self2')],
    ]) {
      const r = run(...args);
      expect(r.signal).toBeNull(); // was SIGBUS (exit 135)
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/output .* (contains input|is or lies inside input) .*: writing it/);
    }
    expect(statSync(join(self, 'node-a/stream_0')).size).toBeGreaterThan(0);
    expect(hashTree(inputs)).toBe(before);
  });

  it('export onto an input stream file is refused, the stream intact', () => {
    const before = hashTree(inputs);
    const stream = join(inputs, 'self/node-a/stream_0');
    const r = run('export', '--format', 'chrome', stream, join(inputs, 'self/node-a'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`Chrome output ${stream} is or lies inside input`);
    // Through a symbolic link too.
    symlinkSync(stream, join(root, 'innocent.json'));
    const viaLink = run('export', '--format', 'chrome', join(root, 'innocent.json'), inputs);
    expect(viaLink.status).toBe(1);
    expect(hashTree(inputs)).toBe(before);
  });

  it('an existing output is refused, and --force replaces it whole, never mixed', async () => {
    const out = join(root, 'existing');
    expect(run('merge', out, join(inputs, 'self')).status).toBe(0);
    const first = hashTree(out);
    const again = run(
      'merge',
      out,
      join(inputs, 'copy-a'),
      '--node',
      `${join(inputs, 'copy-a')}=c`,
    );
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/output .*existing exists and is not empty/);
    expect(hashTree(out)).toBe(first);
    const forced = run(
      'merge',
      '--force',
      out,
      join(inputs, 'copy-a'),
      '--node',
      `${join(inputs, 'copy-a')}=c`,
    );
    expect(forced.status).toBe(0);
    expect(readdirSync(out)).toEqual(['c']); // node-a and node-b of the first merge are gone
    const bt = babeltrace(out);
    expect(bt.code).toBe(0);
    expect(bt.events).toHaveLength(eventsA);
    expect(new Set(bt.events.map((e) => e.host))).toEqual(new Set(['c']));
    expect(readdirSync(root).filter((n) => n.startsWith('.existing'))).toEqual([]);
    // The library API keeps the same rules.
    await expect(mergeTraces(join(inputs, 'self'), { out })).rejects.toMatchObject({
      code: 'EEXIST',
    });
    await expect(
      mergeTraces(join(inputs, 'self'), { out: join(inputs, 'self/x') }),
    ).rejects.toBeInstanceOf(RewindError);
  });

  it('the same trace twice is refused (by uuid, whatever the names)', () => {
    const a = join(inputs, 'self/node-a');
    const r = run('merge', join(root, 'twice'), a, a, '--node', `${a}=x`);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('the same trace twice');
    expect(existsSync(join(root, 'twice'))).toBe(false);
  });

  it('a failed merge leaves no output and no temporary', () => {
    const r = run('merge', '--strict', join(root, 'failed'), join(inputs, 'damaged'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/damaged\/stream_0: at byte \d+: /);
    expect(readdirSync(root).filter((n) => n.includes('failed'))).toEqual([]);
    expect(run('validate', join(root, 'failed')).status).toBe(1);
  });

  it('damage skipped is a warning with counts, not a silent exit 0', async () => {
    const s = await traceStats(join(inputs, 'damaged'));
    const packets = s.nodes[0]!.damagedPackets;
    expect(packets).toBeGreaterThan(0);
    const bytes = s.nodes[0]!.streams.reduce((a, st) => a + st.damagedBytes, 0);
    const warning =
      `rewind-trace: warning: damage skipped: ${packets} packet(s), ${bytes} byte(s) in 1 ` +
      'file(s) (`rewind-trace stats` lists it; --strict makes it an error)\n';
    const merged = run('merge', join(root, 'lenient'), join(inputs, 'damaged'));
    expect(merged.status).toBe(0);
    expect(merged.stderr).toBe(warning);
    const exported = run(
      'export',
      '--format',
      'chrome',
      join(root, 'l.json'),
      join(inputs, 'damaged'),
    );
    expect(exported.status).toBe(0);
    expect(exported.stderr).toBe(warning);
  });
});

describe('stream files that are not streams', () => {
  it.each([
    ['a 0-byte file', (p: string) => writeFileSync(p, ''), 'empty stream file (no packets)'],
    ['a fifo', (p: string) => spawnSync('mkfifo', [p]), 'not a regular file (a fifo)'],
    ['a directory', (p: string) => mkdirSync(p), 'not a regular file (a directory)'],
  ])('%s is reported, never ignored, never waited on', (_name, make, reason) => {
    const dir = join(root, `odd-${reason.length}`);
    cpSync(join(inputs, 'self/node-a'), dir, { recursive: true });
    make(join(dir, 'stream_9'));
    const merged = run('merge', join(root, `odd-out-${reason.length}`), dir);
    expect(merged.status).toBe(0);
    expect(merged.stderr).toMatch(/warning: damage skipped: 0 packet\(s\), 0 byte\(s\) in 1 file/);
    const strict = run('validate', dir);
    expect(strict.status).toBe(1);
    expect(strict.stderr).toBe(`rewind-trace: ${join(dir, 'stream_9')}: at byte 0: ${reason}\n`);
  });
});

describe('the command line around it', () => {
  it('prints the package and native engine versions', () => {
    const { version } = JSON.parse(
      readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'),
    ) as { version: string };
    const r = run('--version');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`rewind-trace ${version} (native engine ${nativeVersion()})\n`);
  });

  it('validate --json says valid with the summary, or the error with file and offset', () => {
    const ok = run('validate', '--json', join(inputs, 'self'));
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      valid: true,
      summary: { events: eventsA + eventsB },
    });
    const bad = run('validate', '--json', join(inputs, 'damaged'));
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({
      valid: false,
      error: { code: 'ERR_REWIND_DAMAGED', path: join(inputs, 'damaged/stream_0') },
    });
  });

  it("writes the Chrome JSON to standard output for '-'", () => {
    const r = run('export', '--format', 'chrome', '-', join(inputs, 'self/node-a'));
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as { traceEvents: unknown[] }).traceEvents.length).toBeGreaterThan(
      100,
    );
    expect(r.stderr).toContain(`exported ${eventsA} events of 1 node(s) to standard output`);
  });

  it('takes a clock correction keyed by node name, and refuses an unknown one', () => {
    const r = run('stats', '--json', join(inputs, 'self'), '--correction', 'node-b=+1500');
    expect(r.status).toBe(0);
    const nodes = (JSON.parse(r.stdout) as { nodes: { name: string; correctionNs: string }[] })
      .nodes;
    expect(nodes.map((n) => [n.name, n.correctionNs])).toEqual([
      ['node-a', '0'],
      ['node-b', '1500'],
    ]);
    const bad = run('stats', join(inputs, 'self'), '--correction', 'node-z=5');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe(
      'rewind-trace: a clock correction names node "node-z", which no input is ' +
        '(nodes: node-a, node-b)\n',
    );
  });

  it('takes babeltrace2-style times and warns about a window outside the trace', async () => {
    const s = await traceStats(join(inputs, 'self/node-a'));
    const iso = (t: bigint) => {
      const sec = t / 1_000_000_000n;
      const d = new Date(Number(sec) * 1000).toISOString();
      return `${d.slice(0, 10)} ${d.slice(11, 19)}.${(t % 1_000_000_000n).toString().padStart(9, '0')}`;
    };
    const mid = s.firstNs + (s.lastNs - s.firstNs) / 2n;
    const json = join(root, 'window.json');
    const r = run(
      'export',
      '--format',
      'chrome',
      json,
      join(inputs, 'self/node-a'),
      '--from',
      iso(mid),
    );
    expect(r.status).toBe(0);
    const n = Number(/exported (\d+) events/.exec(r.stdout)?.[1]);
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(eventsA);
    // The same instant as an integer (ns) keeps the same events.
    const same = run(
      'export',
      '--format',
      'chrome',
      '-',
      join(inputs, 'self/node-a'),
      '--from',
      `${mid}`,
    );
    expect(same.stderr).toContain(`exported ${n} events`);
    const outside = run(
      'export',
      '--format',
      'chrome',
      '-',
      join(inputs, 'self/node-a'),
      '--to',
      '1000',
    );
    expect(outside.status).toBe(0);
    expect(outside.stderr).toMatch(
      /warning: the window .* lies outside the trace .*: no events kept/,
    );
  });
});
