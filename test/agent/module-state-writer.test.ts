// The loader's state file, written (agent/module/state-writer.ts): whole or not at all while
// another process reads it, only when the state changes, and never fatal when it cannot be
// written (logged once per state, retried at the next change). Real files in a temporary folder.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { failed, loaded, type LoadOutcome } from '../../agent/module/policy';
import { parseStateFile } from '../../agent/module/state-file';
import { ModuleStateWriter, writeAtomically } from '../../agent/module/state-writer';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const folder = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'rwd-state-'));
  dirs.push(d);
  return d;
};

/** A logger whose lines the test reads. */
function captured(): { log: pino.Logger; lines: { msg: string; state?: string }[] } {
  const lines: { msg: string; state?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  return { log, lines };
}

const PENDING: LoadOutcome = { state: 'pending', reason: undefined, detail: 'the first attempt' };
const DISABLED = failed('disabled', 'module loading is switched off (load: never); set it to auto');
const LOADED = loaded('rewind inserted from /x/rewind.ko, ABI 1, format 1', '/x/rewind.ko');

describe('writing the state file atomically', () => {
  it('a reader in another process never sees a partial file, and no temporary is left', async () => {
    const dir = folder();
    const path = join(dir, 'state.json');
    const stop = join(dir, 'stop');
    writeFileSync(path, JSON.stringify({ n: 0, pad: '' }));
    // The reader: reads as fast as it can until told to stop, and counts what did not parse.
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('fs');
         let reads = 0, torn = 0;
         while (!fs.existsSync(${JSON.stringify(stop)})) {
           const t = fs.readFileSync(${JSON.stringify(path)}, 'utf8');
           reads++;
           try { JSON.parse(t); } catch { torn++; }
         }
         process.stdout.write(JSON.stringify({ reads, torn }));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    reader.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const done = new Promise<number | null>((r) => reader.on('close', r));
    // Records of very different sizes: a torn read (truncated, or half of each) would not parse.
    for (let n = 1; n <= 400; n++) {
      await writeAtomically(path, JSON.stringify({ n, pad: 'x'.repeat((n % 7) * 4000) }));
    }
    writeFileSync(stop, '');
    expect(await done).toBe(0);
    const seen = JSON.parse(out) as { reads: number; torn: number };
    expect(seen.reads).toBeGreaterThan(0);
    expect(seen.torn).toBe(0);
    expect(JSON.parse(readFileSync(path, 'utf8')).n).toBe(400);
    expect(readdirSync(dir).sort()).toEqual(['state.json', 'stop']);
  });

  it('creates its folder, and on failure removes its temporary and rejects', async () => {
    const dir = folder();
    await writeAtomically(join(dir, 'a', 'b', 'state.json'), '{}\n');
    expect(readFileSync(join(dir, 'a', 'b', 'state.json'), 'utf8')).toBe('{}\n');
    // The target is a folder with something in it: the rename fails after the temporary exists.
    mkdirSync(join(dir, 'busy', 'state.json', 'inside'), { recursive: true });
    await expect(writeAtomically(join(dir, 'busy', 'state.json'), '{}\n')).rejects.toThrow(
      /EISDIR|ENOTEMPTY|EEXIST/,
    );
    expect(readdirSync(join(dir, 'busy'))).toEqual(['state.json']);
  });
});

describe('the loader publishing its state', () => {
  it('writes each change once, keeps `since` while the state stays, and reads back', async () => {
    const dir = folder();
    const path = join(dir, 'state.json');
    let now = Date.parse('2025-03-01T10:00:00Z');
    const writes: string[] = [];
    const { log } = captured();
    const writer = new ModuleStateWriter({
      path,
      log,
      kernelRelease: '6.1.0-27-amd64',
      now: () => now,
      pid: 99,
      write: async (p, text) => {
        writes.push(text);
        await writeAtomically(p, text);
      },
    });
    const onDisk = () => parseStateFile(readFileSync(path, 'utf8'));

    await writer.publish(PENDING);
    expect(onDisk()).toEqual({
      ok: true,
      record: {
        state: 'pending',
        reason: null,
        detail: 'the first attempt',
        kernelRelease: '6.1.0-27-amd64',
        since: '2025-03-01T10:00:00.000Z',
        pid: 99,
      },
    });
    now += 5000;
    await writer.publish(DISABLED);
    now += 5000;
    await writer.publish(DISABLED); // a retry that failed the same way: nothing to write
    expect(writes).toHaveLength(2);
    expect(onDisk()).toMatchObject({
      record: { state: 'degraded', reason: 'disabled', since: '2025-03-01T10:00:05.000Z' },
    });
    now += 5000;
    await writer.publish(LOADED);
    expect(writes).toHaveLength(3);
    expect(onDisk()).toMatchObject({
      record: {
        state: 'loaded',
        reason: null,
        detail: LOADED.detail,
        since: '2025-03-01T10:00:15.000Z',
      },
    });
    expect(writer.current?.state).toBe('loaded');

    await writer.remove();
    expect(readdirSync(dir)).toEqual([]);
    await writer.remove(); // already gone: fine
  });

  it('cannot write: never throws, logs once per state, and writes once it can', async () => {
    const dir = folder();
    // The state folder's place is taken by a file: mkdir fails.
    writeFileSync(join(dir, 'module'), 'not a folder');
    const path = join(dir, 'module', 'state.json');
    const { log, lines } = captured();
    const writer = new ModuleStateWriter({
      path,
      log,
      kernelRelease: '6.1.0-27-amd64',
      now: () => Date.now(),
    });
    const warnings = () => lines.filter((l) => l.msg.startsWith('cannot write the loader state'));

    await expect(writer.publish(DISABLED)).resolves.toBeUndefined();
    await writer.publish(DISABLED);
    await writer.publish(DISABLED);
    expect(warnings()).toHaveLength(1);
    // ("Error: " in front under jest only: its fs errors come from another realm than its Error.)
    expect(warnings()[0]?.msg).toMatch(
      new RegExp(
        `^cannot write the loader state to ${path} \\((Error: )?E[A-Z]+: .*\\): the agent's /v1/status`,
      ),
    );
    await writer.publish(LOADED);
    expect(warnings()).toHaveLength(2);
    expect(writer.current).toBeUndefined();

    // The folder can be made now: the same state is written at the next publish.
    rmSync(join(dir, 'module'));
    await writer.publish(LOADED);
    expect(parseStateFile(readFileSync(path, 'utf8'))).toMatchObject({
      ok: true,
      record: { state: 'loaded' },
    });
    expect(warnings()).toHaveLength(2);
  });
});
