/**
 * Clock alignment (controller/collect/clock-alignment.ts): exact numbers for the pure
 * intersection of the exchanges (and its fallback, the lowest round trip), a seeded random check
 * that the truth is always within the stated uncertainty, and the sign of the correction proven
 * with a real merge — two traces written in the real format, merged by the native engine and read
 * back by babeltrace2 and the decoder, where only the right sign puts the events in their true
 * order.
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
  it('intersects what every exchange allows: tighter than the lowest round trip alone', () => {
    const a = alignClock(
      [
        x(1_000n, 1_100n, 500n, 2_060n), // C = controller − monotonic in [500, 600]
        x(2_000n, 2_040n, 1_520n, 3_030n), // [480, 520]: the lowest round trip (40)
        x(3_000n, 3_060n, 2_530n, 4_040n), // [470, 530]
      ],
      1_500n,
    );
    // Together: C in [500, 520], so C = 510 ± 10 (the best alone: 500 ± 20). The realtime
    // offset from the best exchange's own pair: 3030 − 1520 − 510; the correction C − 1500.
    expect(a).toEqual({
      offsetNs: 1_000n,
      uncertaintyNs: 10n,
      correctionNs: -990n,
      exchanges: 3,
    });
  });

  it('falls back to the lowest round trip when the exchanges contradict each other', () => {
    // [0, 30] and then [200, 210]: the clocks moved against each other between the two.
    const a = alignClock([x(0n, 30n, 0n, 1_000n), x(1_000n, 1_010n, 800n, 1_800n)], 0n);
    expect(a).toEqual({ offsetNs: 795n, uncertaintyNs: 5n, correctionNs: 205n, exchanges: 2 });
  });

  it('always holds the true value within its uncertainty, never wider than the best half round trip', () => {
    // Exchanges with random delays each way around a known C (a fixed-seed generator).
    let seed = 12345;
    const random = (below: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return BigInt(seed % below);
    };
    for (let trial = 0; trial < 200; trial++) {
      const truth = 1_000_000n + random(1_000_000);
      const exchanges: TimedExchange[] = [];
      let now = 10_000_000n;
      for (let i = 0; i < 1 + Number(random(10)); i++) {
        const out = random(50_000);
        const back = random(50_000);
        const sample = now + out;
        exchanges.push(x(now, sample + back, sample - truth, sample - truth + 7n));
        now += out + back + random(1_000_000);
      }
      const a = alignClock(exchanges, 0n);
      const got = a.correctionNs;
      expect(got - truth <= a.uncertaintyNs && truth - got <= a.uncertaintyNs).toBe(true);
      const lowest = exchanges.reduce(
        (m, e) => (e.receivedNs - e.sentNs < m ? e.receivedNs - e.sentNs : m),
        exchanges[0]!.receivedNs - exchanges[0]!.sentNs,
      );
      expect(a.uncertaintyNs <= (lowest + 1n) / 2n).toBe(true);
    }
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
