/**
 * Following a snapshot (kubectl-rewind/watch.ts) with its I/O injected: a fake sequence of status
 * reads, a fake clock and an instant sleep. On a terminal one line is rewritten in place (`\r`)
 * and the output ends with a newline; elsewhere one plain line per change. Ctrl-C (the signal)
 * stops the following with the signal's reason. abortableSleep under jest's fake timers.
 */
import type { SnapshotPhase, TraceSnapshot } from '../../controller/model';
import { followSnapshot, type WatchDeps } from '../../kubectl-rewind/watch';
import { abortableSleep } from '../../common/sleep';
import { snapshot } from './snapshot-fixtures';

const at = (phase: SnapshotPhase, done: number, bytes: number): TraceSnapshot =>
  snapshot({
    name: 'manual-x',
    status: {
      phase,
      nodeCount: 2,
      progress: { nodesDone: done, nodesTotal: 2, bytes },
      ...(phase === 'Complete'
        ? {
            nodes: [
              { name: 'a', phase: 'Collected' },
              { name: 'b', phase: 'Collected' },
            ],
            trace: { sizeBytes: 2048 },
          }
        : {}),
    },
  });

/** Reads `sequence` one by one; the clock moves 1 s per read; sleeps are recorded, not slept. */
function fakes(sequence: TraceSnapshot[], tty: boolean, signal = new AbortController().signal) {
  const writes: string[] = [];
  const sleeps: number[] = [];
  let clock = 10_000;
  let reads = 0;
  const deps: WatchDeps = {
    read: () => {
      const s = sequence[reads++];
      if (!s) throw new Error('read past the end of the sequence');
      clock += 1000;
      return Promise.resolve(s);
    },
    out: { write: (s: string) => writes.push(s), isTTY: tty },
    now: () => clock,
    sleep: (ms, sig) => {
      sleeps.push(ms);
      return sig.aborted ? Promise.reject(sig.reason) : Promise.resolve();
    },
    intervalMs: 1000,
    signal,
    since: 10_000,
  };
  return { deps, writes, sleeps, reads: () => reads };
}

/** What a terminal shows after `text`: `\r` returns to the line's start and overwrites. */
function terminal(text: string): string[] {
  const lines: string[] = [''];
  let col = 0;
  for (const ch of text) {
    const cur = lines[lines.length - 1] as string;
    if (ch === '\r') col = 0;
    else if (ch === '\n') {
      lines.push('');
      col = 0;
    } else {
      lines[lines.length - 1] = cur.slice(0, col) + ch + cur.slice(col + 1);
      col++;
    }
  }
  return lines;
}

const sequence = [
  at('Pending', 0, 0),
  at('Collecting', 0, 0),
  at('Collecting', 0, 5 * 1024 * 1024), // bytes only: no new plain line
  at('Collecting', 1, 9 * 1024 * 1024),
  at('Merging', 2, 12 * 1024 * 1024),
  at('Complete', 2, 12 * 1024 * 1024),
];

describe('followSnapshot', () => {
  it('not a terminal: one plain line per change, none for bytes alone, the final one last', async () => {
    const f = fakes(sequence, false);
    const final = await followSnapshot(f.deps);
    expect(final).toBe(sequence[5]);
    expect(f.reads()).toBe(6);
    expect(f.sleeps).toEqual([1000, 1000, 1000, 1000, 1000]);
    expect(f.writes).toEqual([
      'manual-x  Pending         nodes 0/2    0 B        1s\n',
      'manual-x  Collecting      nodes 0/2    0 B        2s\n',
      'manual-x  Collecting      nodes 1/2    9.0 MiB    4s\n',
      'manual-x  Merging         nodes 2/2    12 MiB     5s\n',
      'manual-x  Complete        nodes 2/2    2.0 KiB    6s\n',
    ]);
    expect(f.writes.join('')).not.toContain('\r');
  });

  it('a terminal: one line rewritten in place each read, a newline at the end', async () => {
    const f = fakes(sequence, true);
    await followSnapshot(f.deps);
    expect(f.writes).toHaveLength(sequence.length + 1);
    const text = f.writes.join('');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.match(/\n/g)).toHaveLength(1);
    expect(text.match(/\r/g)).toHaveLength(sequence.length);
    // Each rewrite covers the whole of the line before it (a longer line leaves no remnant).
    for (const w of f.writes.slice(0, -1)) expect(w.startsWith('\r')).toBe(true);
    expect(f.writes[2]).toContain('5.0 MiB    3s'); // bytes alone still refresh the line
    expect(terminal(text)).toEqual(['manual-x  Complete        nodes 2/2    2.0 KiB    6s', '']);
  });

  it('a terminal: a shorter line blanks the rest of a longer one', async () => {
    const long = snapshot({
      name: 'manual-x',
      status: {
        phase: 'PartiallyFailed',
        nodeCount: 1000,
        progress: { nodesDone: 999, nodesTotal: 1000, bytes: 5 * 1024 ** 3 },
      },
    });
    const short = snapshot({ name: 'manual-x', status: { phase: 'Failed' } });
    // PartiallyFailed is final: follow a Collecting one that shrinks to Failed.
    const collecting = { ...long, status: { ...long.status, phase: 'Collecting' as const } };
    const f = fakes([collecting, short], true);
    await followSnapshot(f.deps);
    const screen = terminal(f.writes.join(''));
    expect(screen[0]?.trimEnd()).toBe('manual-x  Failed          nodes 0/?    0 B        2s');
    expect(f.writes[1]?.length).toBeGreaterThanOrEqual((f.writes[0]?.length ?? 0) - 1);
  });

  it('an already final snapshot: read once, never slept, one line', async () => {
    const f = fakes([sequence[5] as TraceSnapshot], false);
    await followSnapshot(f.deps);
    expect(f.sleeps).toEqual([]);
    expect(f.writes).toHaveLength(1);
  });

  it('aborted mid-way: rejects with the signal’s reason; a terminal still gets its newline', async () => {
    const interrupt = new AbortController();
    const reason = new Error('interrupted');
    const f = fakes(sequence, true, interrupt.signal);
    const read = f.deps.read;
    f.deps.read = async () => {
      const s = await read();
      if (f.reads() === 3) interrupt.abort(reason);
      return s;
    };
    await expect(followSnapshot(f.deps)).rejects.toBe(reason);
    expect(f.reads()).toBe(3);
    const text = f.writes.join('');
    expect(text.endsWith('\n')).toBe(true);
    expect(terminal(text)[0]).toContain('Collecting');
  });

  it('aborted before it starts: rejects without reading', async () => {
    const interrupt = new AbortController();
    interrupt.abort(new Error('interrupted early'));
    const f = fakes(sequence, true, interrupt.signal);
    await expect(followSnapshot(f.deps)).rejects.toThrow('interrupted early');
    expect(f.reads()).toBe(0);
    expect(f.writes).toEqual([]);
  });

  it('aborted during the real sleep: rejects at once, not after the interval', async () => {
    const interrupt = new AbortController();
    const reason = new Error('interrupted');
    const f = fakes(sequence, false, interrupt.signal);
    f.deps.sleep = abortableSleep;
    f.deps.intervalMs = 3_600_000;
    const following = followSnapshot(f.deps);
    setImmediate(() => interrupt.abort(reason));
    await expect(following).rejects.toBe(reason);
    expect(f.reads()).toBe(1);
  });

  it('a read that fails rejects with its error (and a terminal gets its newline)', async () => {
    const f = fakes(sequence, true);
    const read = f.deps.read;
    f.deps.read = async () => {
      if (f.reads() === 2) throw new Error('forbidden: get tracesnapshots');
      return read();
    };
    await expect(followSnapshot(f.deps)).rejects.toThrow('forbidden: get tracesnapshots');
    expect(f.writes.join('').endsWith('\n')).toBe(true);
  });
});

describe('abortableSleep', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('resolves after the interval, not before, and leaves no listener behind', async () => {
    const c = new AbortController();
    const remove = jest.spyOn(c.signal, 'removeEventListener');
    let done = false;
    const sleeping = abortableSleep(1000, c.signal).then(() => {
      done = true;
    });
    await jest.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await sleeping;
    expect(done).toBe(true);
    expect(remove).toHaveBeenCalledWith('abort', expect.any(Function));
    expect(jest.getTimerCount()).toBe(0);
  });

  it('rejects with the reason when aborted, and clears its timer', async () => {
    const c = new AbortController();
    const sleeping = abortableSleep(60_000, c.signal);
    expect(jest.getTimerCount()).toBe(1);
    const reason = new Error('interrupted');
    c.abort(reason);
    await expect(sleeping).rejects.toBe(reason);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('rejects at once on a signal already aborted, with no timer', async () => {
    const c = new AbortController();
    c.abort('gone');
    await expect(abortableSleep(1000, c.signal)).rejects.toBe('gone');
    expect(jest.getTimerCount()).toBe(0);
  });
});
