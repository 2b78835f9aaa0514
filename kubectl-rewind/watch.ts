/**
 * Following a snapshot until it is final (the I/O shell of progress.ts): its status read every
 * `intervalMs` with the user's rights; on a terminal one line rewritten in place, otherwise one
 * line per change. Ctrl-C stops the following, never the snapshot (the caller says how to
 * resume). The clock and the sleep are injected.
 */
import type { TraceSnapshot } from '../controller/model';
import { isFinal, progressChanged, progressLine, progressOf, type Progress } from './progress';
import type { Sleep } from '../common/sleep';

export interface WatchDeps {
  read(): Promise<TraceSnapshot>;
  out: { write(s: string): unknown; isTTY?: boolean };
  now(): number;
  sleep: Sleep;
  intervalMs: number;
  signal: AbortSignal;
  /** When the snapshot was asked for (ms, the same clock as now()). */
  since: number;
}

/** Resolves with the final snapshot; rejects with the signal's reason when interrupted. */
export async function followSnapshot(d: WatchDeps): Promise<TraceSnapshot> {
  let last: Progress | undefined;
  let width = 0;
  const tty = d.out.isTTY === true;
  try {
    for (;;) {
      d.signal.throwIfAborted();
      const s = await d.read();
      const p = progressOf(s);
      const line = `${s.metadata.name}  ${progressLine(p, d.now() - d.since)}`;
      if (tty) {
        d.out.write(`\r${line.padEnd(width)}`);
        width = line.length;
      } else if (progressChanged(last, p)) {
        d.out.write(`${line}\n`);
      }
      last = p;
      if (isFinal(s)) return s;
      await d.sleep(d.intervalMs, d.signal);
    }
  } finally {
    if (tty && width > 0) d.out.write('\n');
  }
}
