/** Command-line times (native/lib/time.ts): babeltrace2's --begin/--end forms, in UTC. */
import { DAY_NS, formatNs, parseTime, resolveTime } from '../../native/lib/time';

const S = 1_000_000_000n;
const DEC1 = BigInt(Date.UTC(2026, 11, 1) / 1000) * S; // 2026-12-01 00:00:00 UTC

describe('parseTime', () => {
  it.each([
    ['1764583200000000001', { kind: 'instant', ns: 1764583200000000001n }],
    ['-5', { kind: 'instant', ns: -5n }],
    ['1764583200.5', { kind: 'instant', ns: 1764583200n * S + 500_000_000n }],
    ['-1.000000002', { kind: 'instant', ns: -(S + 2n) }],
    ['2026-12-01 10:00', { kind: 'instant', ns: DEC1 + 36_000n * S }],
    ['2026-12-01 10:00:00.123456789', { kind: 'instant', ns: DEC1 + 36_000n * S + 123456789n }],
    ['2026-12-01T10:00:01Z', { kind: 'instant', ns: DEC1 + 36_001n * S }],
    ['10:00:00.5', { kind: 'timeOfDay', ns: 36_000n * S + 500_000_000n }],
    ['23:59', { kind: 'timeOfDay', ns: (23n * 3600n + 59n * 60n) * S }],
  ])('%s', (text, expected) => {
    expect(parseTime(text)).toEqual(expected);
  });

  it.each(['noon', '2026-02-30 10:00', '25:00', '10:61', '1.1234567890', '2026-12-01'])(
    'refuses %s naming the forms',
    (text) => {
      expect(() => parseTime(text)).toThrow(/not a time: expected|no such date|out of range/);
    },
  );

  it('puts a time of day on the day of the first event', () => {
    const first = DEC1 + 12n * 3600n * S;
    expect(resolveTime({ kind: 'timeOfDay', ns: 3600n * S }, first)).toBe(DEC1 + 3600n * S);
    expect(resolveTime({ kind: 'instant', ns: 7n }, first)).toBe(7n);
    expect(resolveTime({ kind: 'timeOfDay', ns: 0n }, -1n)).toBe(-DAY_NS);
  });

  it('formats Unix-epoch ns, before 1970 too', () => {
    expect(formatNs(DEC1 + 1n)).toBe('2026-12-01T00:00:00.000000001Z');
    expect(formatNs(-1n)).toBe('1969-12-31T23:59:59.999999999Z');
  });
});
