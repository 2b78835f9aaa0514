/**
 * Clock alignment (controller/collect/clock-alignment.ts): exact numbers for the pure choice of
 * the lowest round trip, and the sign of the correction proven with a real merge — two traces
 * written in the real format, merged by the native engine and read back by babeltrace2 and the
 * decoder, where only the right sign puts the events in their true order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alignClock, type TimedExchange } from '../../controller/collect/clock-alignment';
import { decodeTrace, mergeTraces, writeTrace, type WriteEvent } from '../../native';
import { babeltrace } from '../native/babeltrace';

const x = (sentNs: bigint, receivedNs: bigint, monotonicNs: bigint, realtimeNs: bigint) =>
  ({ sentNs, receivedNs, monotonicNs, realtimeNs }) satisfies TimedExchange;

describe('alignClock (pure)', () => {
  it('takes the exchange with the lowest round trip, even when it is not the first', () => {
    const a = alignClock(
      [
        x(1_000n, 1_100n, 500n, 2_060n), // round trip 100
        x(2_000n, 2_040n, 1_520n, 3_030n), // round trip 40: the one
        x(3_000n, 3_060n, 2_530n, 4_040n), // round trip 60
      ],
      1_500n,
    );
    // midpoint 2020; offset = 3030 - 2020; correction = 2020 - 1520 - 1500.
    expect(a).toEqual({
      offsetNs: 1_010n,
      uncertaintyNs: 20n,
      correctionNs: -1_000n,
      exchanges: 3,
    });
  });

  it('rounds the uncertainty up so the true offset is always inside it', () => {
    // Round trip 41: midpoint 20 (floor), uncertainty 21 (ceil).
    const a = alignClock([x(0n, 41n, 100n, 70n)], 0n);
    expect(a).toEqual({ offsetNs: 50n, uncertaintyNs: 21n, correctionNs: -80n, exchanges: 1 });
  });

  it('keeps the earliest of equal round trips', () => {
    const a = alignClock([x(0n, 10n, 0n, 105n), x(100n, 110n, 100n, 999n)], 0n);
    expect(a.offsetNs).toBe(100n);
  });

  it('uses the monotonic sample, not realtime, for the correction (realtime stepped since)', () => {
    // The trace metadata said realtime - monotonic = 1000; realtime was since stepped by +7000,
    // but the monotonic clock still maps to the controller's time through the old offset.
    const a = alignClock([x(10_000n, 10_010n, 9_005n, 17_005n)], 1_000n);
    expect(a.offsetNs).toBe(7_000n);
    expect(a.correctionNs).toBe(10_005n - 9_005n - 1_000n);
    expect(a.correctionNs).toBe(0n);
  });

  it('refuses no exchange and an exchange that ended before it began', () => {
    expect(() => alignClock([], 0n)).toThrow('no clock exchange to align with');
    expect(() => alignClock([x(10n, 9n, 0n, 0n)], 0n)).toThrow(/stepped back/);
  });
});

describe('the correction applied by the real merge', () => {
  const root = mkdtempSync(join(tmpdir(), 'rwd-clock-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const T0 = 1_700_000_000_000_000_000n; // the controller's time at the exchanges
  const SKEW = 5_000_000_000n; // node "ahead" reads realtime 5 s ahead of the controller
  const MS = 1_000_000n;
  const switchAt = (timestamp: bigint, tid: number): WriteEvent => ({
    cpu: 0,
    name: 'sched_switch',
    timestamp,
    fields: { prev_tid: 0, prev_prio: 120, prev_state: 0, next_tid: tid, next_prio: 120 },
  });

  it('puts each node on the controller timeline (sign checked by event order)', async () => {
    // Node "ahead": monotonic 100 s at the exchange, realtime T0 + SKEW there; its trace's
    // metadata offset is realtime - monotonic.
    const aheadMono = 100_000_000_000n;
    const aheadOffset = T0 + SKEW - aheadMono;
    // Node "exact": a perfect clock, monotonic 200 s at the exchange.
    const exactMono = 200_000_000_000n;
    const exactOffset = T0 - exactMono;
    const ahead = join(root, 'ahead');
    const exact = join(root, 'exact');
    // True order on the controller's clock: ahead@T0+1ms, exact@T0+2ms, ahead@T0+3ms.
    await writeTrace(ahead, { hostname: 'ahead', clockOffsetNs: aheadOffset }, [
      switchAt(aheadMono + 1n * MS, 11),
      switchAt(aheadMono + 3n * MS, 13),
    ]);
    await writeTrace(exact, { hostname: 'exact', clockOffsetNs: exactOffset }, [
      switchAt(exactMono + 2n * MS, 12),
    ]);
    const exchange = (mono: bigint, real: bigint) => x(T0 - 10_000n, T0 + 10_000n, mono, real);
    const a = alignClock([exchange(aheadMono, T0 + SKEW)], aheadOffset);
    const e = alignClock([exchange(exactMono, T0)], exactOffset);
    expect(a.offsetNs).toBe(SKEW);
    expect(a.correctionNs).toBe(-SKEW);
    expect(e.correctionNs).toBe(0n);

    const inputs = [
      { dir: ahead, correctionNs: a.correctionNs },
      { dir: exact, correctionNs: e.correctionNs },
    ];
    const decoded = await decodeTrace(inputs);
    expect(decoded.events.map((ev) => [ev.node, ev.timeNs])).toEqual([
      ['ahead', T0 + 1n * MS],
      ['exact', T0 + 2n * MS],
      ['ahead', T0 + 3n * MS],
    ]);

    const out = join(root, 'unified');
    await mergeTraces(inputs, { out });
    const bt = babeltrace(out, 'seconds');
    expect(bt.stderr).toBe('');
    expect(bt.events.map((ev) => [ev.host, ev.fields.next_tid, ev.time])).toEqual([
      ['ahead', 11n, T0 + 1n * MS],
      ['exact', 12n, T0 + 2n * MS],
      ['ahead', 13n, T0 + 3n * MS],
    ]);

    // The opposite sign would put both of "ahead"'s events 10 s late, after "exact"'s.
    const wrong = await decodeTrace([
      { dir: ahead, correctionNs: -a.correctionNs },
      { dir: exact, correctionNs: 0n },
    ]);
    expect(wrong.events.map((ev) => ev.node)).toEqual(['exact', 'ahead', 'ahead']);
  });
});
