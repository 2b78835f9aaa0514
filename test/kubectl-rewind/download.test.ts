/**
 * Unpacking a snapshot's archive (kubectl-rewind/download.ts): which entries may land where
 * (placeOf, pure), the output folder rule (checkOutput), and unpackInto on real .tar.gz archives
 * made here with tar-stream and zlib in a real temporary folder — whole or not at all: a good
 * archive lands complete and its temporary sibling is gone; a hostile entry, a truncated gzip or a
 * connection that breaks leave no output folder and no temporary sibling; an existing folder is
 * refused without --force, replaced with it, and left alone when the download fails.
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { CliError } from '../../kubectl-rewind/errors';
import { checkOutput, placeOf, unpackInto } from '../../kubectl-rewind/download';

describe('placeOf', () => {
  it.each([
    ['snap/', 'directory', { path: '', dir: true }],
    ['snap', 'directory', { path: '', dir: true }],
    ['snap/manifest.json', 'file', { path: 'manifest.json', dir: false }],
    ['snap/trace.json', 'file', { path: 'trace.json', dir: false }],
    ['snap/trace/', 'directory', { path: 'trace', dir: true }],
    [
      'snap/trace/node-a.example.com/',
      'directory',
      { path: 'trace/node-a.example.com', dir: true },
    ],
    ['snap/trace/node-a/stream_0', 'file', { path: 'trace/node-a/stream_0', dir: false }],
    [
      'snap/trace/node-a/index/stream_0.idx',
      'file',
      { path: 'trace/node-a/index/stream_0.idx', dir: false },
    ],
  ])('%s (%s) goes to %j', (name, type, place) => {
    expect(placeOf(name, type)).toEqual(place);
  });

  it('a node name of 253 characters, under a snapshot name of 253, is a plain path', () => {
    const long = (c: string) => `${c.repeat(63)}.${c.repeat(63)}.${c.repeat(63)}.${c.repeat(61)}`;
    expect(long('a')).toHaveLength(253);
    expect(placeOf(`${long('s')}/trace/${long('n')}/metadata`, 'file')).toEqual({
      path: `trace/${long('n')}/metadata`,
      dir: false,
    });
  });

  it.each([
    ['/etc/passwd', 'file', 'is not a plain relative path'],
    ['/snap/x', 'file', 'is not a plain relative path'],
    ['snap/../../etc/cron.d/x', 'file', 'is not a plain relative path'],
    ['snap/..', 'directory', 'is not a plain relative path'],
    ['../snap/x', 'file', 'is not a plain relative path'],
    ['snap/./x', 'file', 'is not a plain relative path'],
    ['snap//x', 'file', 'is not a plain relative path'],
    ['snap/.hidden', 'file', 'is not a plain relative path'],
    ['snap/a\\b', 'file', 'is not a plain relative path'],
    ['snap/trace/x', 'symlink', 'is a symlink'],
    ['snap/trace/x', 'link', 'is a link'],
    ['snap/dev', 'character-device', 'is a character-device'],
    ['snap/dev', 'block-device', 'is a block-device'],
    ['snap/fifo', 'fifo', 'is a fifo'],
    ['snap/a/b/c/d/e', 'file', 'is too deep'],
    ['snap/a/b/c/d/e/', 'directory', 'is too deep'],
    ['manifest.json', 'file', 'a file at the top'],
    [`snap/${'x'.repeat(256)}`, 'file', 'is not a plain relative path'],
  ])('%j (%s) is refused: %s', (name, type, why) => {
    const place = placeOf(name, type);
    expect(place).toHaveProperty('why');
    expect((place as { why: string }).why).toContain(why);
  });

  it('four levels below the top are allowed', () => {
    expect(placeOf('snap/a/b/c/d', 'file')).toEqual({ path: 'a/b/c/d', dir: false });
  });
});

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kubectl-rewind-download-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** What `dir` holds, as relative paths with their contents ('/' for folders). */
function tree(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : 1,
  )) {
    const rel = `${prefix}${e.name}`;
    if (e.isDirectory()) {
      out[`${rel}/`] = '/';
      Object.assign(out, tree(join(dir, e.name), `${rel}/`));
    } else out[rel] = readFileSync(join(dir, e.name), 'utf8');
  }
  return out;
}

describe('checkOutput', () => {
  it('a folder that does not exist or is empty is fine', async () => {
    await expect(checkOutput(join(root, 'new'), false)).resolves.toBeUndefined();
    mkdirSync(join(root, 'empty'));
    await expect(checkOutput(join(root, 'empty'), false)).resolves.toBeUndefined();
  });

  it('a folder that is not empty only with force; a file never', async () => {
    mkdirSync(join(root, 'full'));
    writeFileSync(join(root, 'full', 'x'), 'x');
    await expect(checkOutput(join(root, 'full'), false)).rejects.toThrow(
      new CliError(
        `-o ${join(root, 'full')}: exists and is not empty (--force replaces it once the download is complete)`,
      ),
    );
    // --force replaces an earlier download only, never a folder of something else.
    await expect(checkOutput(join(root, 'full'), true)).rejects.toThrow(
      /holds something other than a downloaded trace .* not replacing it, even with --force/,
    );
    mkdirSync(join(root, 'full', 'trace'));
    writeFileSync(join(root, 'full', 'manifest.json'), '{}');
    await expect(checkOutput(join(root, 'full'), true)).resolves.toBeUndefined();
    writeFileSync(join(root, 'file'), 'x');
    await expect(checkOutput(join(root, 'file'), true)).rejects.toThrow(
      `-o ${join(root, 'file')}: exists and is not a folder`,
    );
  });
});

type Entry = Partial<Header> & Pick<Header, 'name'> & { body?: string };

/** A .tar.gz of `entries`, made as the controller makes one (tar-stream's pack, then gzip). */
async function archive(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of p) chunks.push(c as Buffer);
  })();
  for (const { body, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      const done = (e?: Error | null) => (e ? reject(e) : resolve());
      if (body === undefined) p.entry(header, done);
      else p.entry(header, body, done);
    });
  }
  p.finalize();
  await collected;
  return gzipSync(Buffer.concat(chunks));
}

const good: Entry[] = [
  { name: 'manual-x7k2p/', type: 'directory', mode: 0o755 },
  { name: 'manual-x7k2p/manifest.json', body: '{"name":"manual-x7k2p"}' },
  { name: 'manual-x7k2p/trace.json', body: '{"traceEvents":[]}' },
  { name: 'manual-x7k2p/trace/', type: 'directory' },
  { name: 'manual-x7k2p/trace/node-a/', type: 'directory' },
  { name: 'manual-x7k2p/trace/node-a/metadata', body: '/* CTF 1.8 */' },
  { name: 'manual-x7k2p/trace/node-a/stream_0', body: 'packets-a' },
  // No folder entry first: its parent is made on the way.
  { name: 'manual-x7k2p/trace/node-b/stream_1', body: 'packets-b' },
];
const goodTree = {
  'manifest.json': '{"name":"manual-x7k2p"}',
  'trace.json': '{"traceEvents":[]}',
  'trace/': '/',
  'trace/node-a/': '/',
  'trace/node-a/metadata': '/* CTF 1.8 */',
  'trace/node-a/stream_0': 'packets-a',
  'trace/node-b/': '/',
  'trace/node-b/stream_1': 'packets-b',
};

/** A stream of `bytes` that fails with `error` after them, as a connection that breaks. */
function breaking(bytes: Buffer, error: Error): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(bytes);
      } else this.destroy(error);
    },
  });
}

describe('unpackInto', () => {
  it('a good archive lands whole; nothing else is left beside it', async () => {
    const out = join(root, 'incident');
    const got = await unpackInto(Readable.from(await archive(good)), out, false);
    expect(got).toEqual({
      dir: out,
      files: 5,
      bytes: good.reduce((n, e) => n + (e.body?.length ?? 0), 0),
    });
    expect(tree(out)).toEqual(goodTree);
    expect(readdirSync(root)).toEqual(['incident']);
    expect(statSync(join(out, 'trace/node-a/stream_0')).mode & 0o777).toBe(0o644);
  });

  it('makes missing parents of the output folder; accepts an empty existing folder', async () => {
    const out = join(root, 'a', 'b', 'incident');
    await unpackInto(Readable.from(await archive(good)), out, false);
    expect(tree(out)).toEqual(goodTree);
    mkdirSync(join(root, 'empty'));
    await unpackInto(Readable.from(await archive(good)), join(root, 'empty'), false);
    expect(tree(join(root, 'empty'))).toEqual(goodTree);
  });

  it('long names (pax headers): a 253-character node folder', async () => {
    const node = `${'n'.repeat(63)}.${'n'.repeat(63)}.${'n'.repeat(63)}.${'n'.repeat(61)}`;
    const out = join(root, 'long');
    await unpackInto(
      Readable.from(
        await archive([
          { name: 'snap/manifest.json', body: '{}' },
          { name: `snap/trace/${node}/metadata`, body: 'meta' },
        ]),
      ),
      out,
      false,
    );
    expect(readFileSync(join(out, 'trace', node, 'metadata'), 'utf8')).toBe('meta');
  });

  async function refused(
    entries: Buffer | Readable,
    message: RegExp | string,
    out = join(root, 'incident'),
  ) {
    const source = Buffer.isBuffer(entries) ? Readable.from(entries) : entries;
    const err = await unpackInto(source, out, false).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).message).toMatch(message);
    expect((err as CliError).message).not.toContain('\n');
    // No output folder and no temporary sibling.
    expect(readdirSync(root)).toEqual([]);
  }

  it.each([
    [
      'a symlink',
      { name: 'manual-x7k2p/trace/evil', type: 'symlink', linkname: '/etc' } as Entry,
      'is a symlink',
    ],
    [
      'a hard link',
      {
        name: 'manual-x7k2p/trace/evil',
        type: 'link',
        linkname: 'manual-x7k2p/manifest.json',
      } as Entry,
      'is a link',
    ],
    [
      'a device',
      {
        name: 'manual-x7k2p/trace/mem',
        type: 'character-device',
        devmajor: 1,
        devminor: 1,
      } as Entry,
      'is a character-device',
    ],
    ['a fifo', { name: 'manual-x7k2p/trace/pipe', type: 'fifo' } as Entry, 'is a fifo'],
    [
      '..',
      { name: 'manual-x7k2p/../../escape', body: 'x' } as Entry,
      'is not a plain relative path',
    ],
    [
      'an absolute path',
      { name: '/tmp/escape', body: 'x' } as Entry,
      'is not a plain relative path',
    ],
    ['too deep', { name: 'manual-x7k2p/a/b/c/d/e', body: 'x' } as Entry, 'is too deep'],
    ['a file at the top', { name: 'README', body: 'x' } as Entry, 'a file at the top'],
  ])('a bad entry after good ones (%s) leaves nothing', async (_what, bad, why) => {
    await refused(
      await archive([...good, bad]),
      `the controller sent an archive that is not a trace: `,
    );
    await refused(await archive([good[1] as Entry, bad, ...good.slice(2)]), why);
  });

  it('a second entry of the same name is refused, not merged', async () => {
    await refused(
      await archive([...good, { name: 'manual-x7k2p/trace/node-a/stream_0', body: 'again' }]),
      /^the controller sent an archive that is not a trace: "manual-x7k2p\/trace\/node-a\/stream_0" comes twice$/,
    );
  });

  it('entries under a second top folder are refused, not merged into the first', async () => {
    await refused(
      await archive([...good, { name: 'other/trace.json', body: '{}' }]),
      /^the controller sent an archive that is not a trace: "other\/trace.json" is outside manual-x7k2p\/$/,
    );
  });

  it('a truncated gzip leaves nothing', async () => {
    const whole = await archive(good);
    await refused(
      whole.subarray(0, Math.floor(whole.length / 2)),
      /^the download broke off: .*; nothing was written to /,
    );
    await refused(whole.subarray(0, whole.length - 4), /^the download broke off: /);
  });

  it('bytes that are not gzip leave nothing', async () => {
    await refused(Buffer.from('<html>502 Bad Gateway</html>'), /^the download broke off: /);
  });

  it('a connection that breaks mid-way leaves nothing', async () => {
    const whole = await archive(good);
    await refused(
      breaking(whole.subarray(0, whole.length - 100), new Error('socket hang up')),
      /^the download broke off: socket hang up; nothing was written to /,
    );
  });

  it('an archive of folders only is an empty archive', async () => {
    await refused(
      await archive([
        { name: 'snap/', type: 'directory' },
        { name: 'snap/trace/', type: 'directory' },
      ]),
      'the controller sent an empty archive',
    );
  });

  describe('an existing folder that is not empty', () => {
    let out: string;
    beforeEach(() => {
      out = join(root, 'incident');
      mkdirSync(join(out, 'old'), { recursive: true });
      writeFileSync(join(out, 'old', 'notes.txt'), 'mine');
    });

    it('is refused without --force, untouched', async () => {
      await expect(unpackInto(Readable.from(await archive(good)), out, false)).rejects.toThrow(
        /exists and is not empty \(--force replaces it/,
      );
      expect(tree(out)).toEqual({ 'old/': '/', 'old/notes.txt': 'mine' });
      expect(readdirSync(root)).toEqual(['incident']);
    });

    it('is never replaced when it is not an earlier download, even with --force', async () => {
      await expect(unpackInto(Readable.from(await archive(good)), out, true)).rejects.toThrow(
        /holds something other than a downloaded trace/,
      );
      expect(tree(out)).toEqual({ 'old/': '/', 'old/notes.txt': 'mine' });
    });

    it('an earlier download is replaced whole with --force (nothing of it kept, nothing left beside)', async () => {
      // An earlier download: manifest.json and trace/ (plus whatever else it held).
      mkdirSync(join(out, 'trace'));
      writeFileSync(join(out, 'manifest.json'), '{"old": true}');
      await unpackInto(Readable.from(await archive(good)), out, true);
      expect(tree(out)).toEqual(goodTree);
      expect(readdirSync(root)).toEqual(['incident']);
    });

    it('an earlier download is not touched when the new one fails, even with --force', async () => {
      mkdirSync(join(out, 'trace'));
      writeFileSync(join(out, 'manifest.json'), '{"old": true}');
      const whole = await archive(good);
      for (const source of [
        Readable.from(whole.subarray(0, 40)),
        breaking(whole.subarray(0, whole.length - 100), new Error('socket hang up')),
        Readable.from(
          await archive([...good, { name: 'manual-x7k2p/x', type: 'symlink', linkname: '/' }]),
        ),
      ]) {
        await expect(unpackInto(source, out, true)).rejects.toBeInstanceOf(CliError);
        expect(tree(out)).toEqual({
          'old/': '/',
          'old/notes.txt': 'mine',
          'trace/': '/',
          'manifest.json': '{"old": true}',
        });
        expect(readdirSync(root)).toEqual(['incident']);
      }
    });
  });
});
