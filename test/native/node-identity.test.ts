/**
 * Node identity, said once: the unified trace carries each node's full name (up to 253 bytes,
 * a Kubernetes node name) as its env.hostname and directory, even where the module could hold
 * only 63 bytes; two inputs with the same name are an error naming both; the device's hostname is
 * measured in UTF-8 bytes. babeltrace2 judges the output. Also: finding traces under a directory
 * never follows symbolic links to directories and stops at a depth limit.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

import { mergeTraces, RewindDevice, RewindError, traceStats, writeTrace } from '../../native/index';
import type { NativeDevice } from '../../native/lib/addon';
import { babeltrace } from './babeltrace';
import { removeTempDirs, schedStory, tempDir } from './fixtures';

afterAll(removeTempDirs);

const EPOCH = 1_760_000_000_000_000_000n;
// A 253-byte node name, as Kubernetes allows; the module's metadata would hold 63 bytes of it.
const FULL = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;

async function node(dir: string, hostname: string): Promise<void> {
  await writeTrace(dir, { hostname, clockOffsetNs: EPOCH }, schedStory(0, 2_000n, 10));
}

describe('the node name in a merge', () => {
  const root = tempDir('identity');
  const a = join(root, 'a');
  const b = join(root, 'b');

  beforeAll(async () => {
    await node(a, FULL.slice(0, 63)); // what the module keeps of the name
    await node(b, FULL.slice(0, 63));
  });

  it('is carried whole into env.hostname, which babeltrace2 prints', async () => {
    expect(Buffer.byteLength(FULL)).toBe(253);
    const out = join(root, 'unified');
    const s = await mergeTraces(
      [
        { dir: a, node: FULL },
        { dir: b, node: 'node-b' },
      ],
      { out },
    );
    expect(s.nodes.map((n) => [n.name, n.hostname])).toEqual([
      [FULL, FULL.slice(0, 63)],
      ['node-b', FULL.slice(0, 63)],
    ]);
    expect(readFileSync(join(out, FULL, 'metadata'), 'utf8')).toContain(`hostname = "${FULL}";`);
    const bt = babeltrace(out);
    expect(bt.stderr).toBe('');
    expect(bt.code).toBe(0);
    expect(new Set(bt.events.map((e) => e.host))).toEqual(new Set([FULL, 'node-b']));
    expect(bt.events).toHaveLength(s.events);
  });

  it('taken twice is an error naming both inputs, and nothing is written', async () => {
    const out = join(root, 'dup');
    const error = await mergeTraces([a, b], { out }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RewindError);
    expect(error).toMatchObject({
      code: 'ERR_REWIND_INVALID_ARG',
      message:
        `two inputs are node "${FULL.slice(0, 63)}": ${a} and ${b} ` +
        '(give one of them another node name)',
    });
    expect(existsSync(out)).toBe(false);
    const named = await mergeTraces([a, { dir: b, node: 'x' }], { out: join(root, 'named') });
    expect(named.nodes.map((n) => n.name)).toEqual([FULL.slice(0, 63), 'x']);
  });

  it('longer than 253 bytes, or not fit for TSDL and a directory, is an error', async () => {
    for (const bad of [`${FULL}z`, 'quote"d', 'new\nline', '../up']) {
      await expect(mergeTraces({ dir: a, node: bad }, { out: join(root, 'bad') })).rejects.toThrow(
        `${a}: node name "${bad}" is not usable: a node name is 1 to 253 bytes of letters, ` +
          "digits, '.', '-' and '_', beginning and ending with a letter or digit",
      );
    }
    expect(existsSync(join(root, 'bad'))).toBe(false);
  });
});

describe("the device's hostname", () => {
  // The module cannot run here (the VM suite drives it): a recording stand-in for the binding's
  // device object shows what configure() passes on and what it refuses first.
  function deviceWith(calls: Record<string, unknown>[]): RewindDevice {
    const fake = { configure: (c: Record<string, unknown>) => calls.push(c) };
    const Ctor = RewindDevice as unknown as new (dev: Partial<NativeDevice>) => RewindDevice;
    return new Ctor(fake);
  }

  it('is measured in UTF-8 bytes, at most 63, with a message pointing to the merge', () => {
    const calls: Record<string, unknown>[] = [];
    const dev = deviceWith(calls);
    dev.configure({ hostname: 'n'.repeat(63) });
    dev.configure({ hostname: 'é'.repeat(31) }); // 62 bytes
    expect(calls.map((c) => c.hostname)).toEqual(['n'.repeat(63), 'é'.repeat(31)]);
    const message =
      "RewindDevice.configure: config.hostname: must be at most 63 bytes of UTF-8 (the module's " +
      "limit); the merge takes a longer node name whole as the input's node";
    expect(() => dev.configure({ hostname: 'n'.repeat(64) })).toThrow(message);
    // 32 UTF-16 units, 64 bytes: a count of units would let it through.
    expect(() => dev.configure({ hostname: 'é'.repeat(32) })).toThrow(message);
    expect(calls).toHaveLength(2);
  });
});

describe('finding traces under a directory', () => {
  it('never follows a symbolic link to a directory', async () => {
    const root = join(tempDir('links'), 'root');
    await node(join(root, 'node-a'), 'node-a');
    symlinkSync('.', join(root, 'x'));
    symlinkSync('.', join(root, 'y'));
    symlinkSync('..', join(root, 'node-a', 'up'));
    const s = await traceStats(root);
    expect(s.nodes.map((n) => n.dir)).toEqual([join(root, 'node-a')]);
    // A link given as the input itself is followed.
    const link = join(root, '..', 'link');
    symlinkSync(join(root, 'node-a'), link);
    expect((await traceStats(link)).nodes.map((n) => n.name)).toEqual(['node-a']);
  });

  it('stops below eight levels with an error naming the input', async () => {
    const root = join(tempDir('deep'), 'root');
    const deep = join(root, 'd1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7', 'd8');
    mkdirSync(deep, { recursive: true });
    await expect(traceStats(root)).rejects.toThrow(
      `${root}: directories nested deeper than 8 levels (${deep}); ` +
        'give the trace directories themselves',
    );
  });
});
