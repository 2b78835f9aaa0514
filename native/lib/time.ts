/**
 * Times on the command line, in the forms babeltrace2's --begin/--end take (man
 * babeltrace2-convert), all in UTC (babeltrace2 reads the two date forms in local time unless
 * --clock-gmt; Rewind's traces are on the Unix epoch and its hosts' local time is not its
 * users'):
 *
 *   YYYY-MM-DD HH:II[:SS[.NANO]]   a date and time (a 'T' for the space and a final 'Z' welcome)
 *   HH:II[:SS[.NANO]]              a time of the day the trace begins
 *   [-]SEC.NANO                    seconds since the Unix epoch (with a fraction, as babeltrace2)
 *   [-]NS                          nanoseconds since the Unix epoch (an integer: Rewind's own form)
 *
 * Pure: the time of day becomes an instant once the caller knows the trace's first day.
 */

export const DAY_NS = 86_400_000_000_000n;

export type ParsedTime = { kind: 'instant'; ns: bigint } | { kind: 'timeOfDay'; ns: bigint };

export const TIME_FORMS =
  "'YYYY-MM-DD HH:II[:SS[.NANO]]' (UTC), 'HH:II[:SS[.NANO]]' (UTC, on the trace's first day), " +
  'SEC.NANO (seconds) or an integer (nanoseconds), all since the Unix epoch';

function nanos(frac: string | undefined): bigint {
  return frac === undefined ? 0n : BigInt(frac.padEnd(9, '0'));
}

function clock(h: string, i: string, s: string | undefined, frac: string | undefined): bigint {
  const [hh, ii, ss] = [Number(h), Number(i), Number(s ?? '0')];
  if (hh > 23 || ii > 59 || ss > 59) throw new Error('hour, minute or second out of range');
  return BigInt((hh * 60 + ii) * 60 + ss) * 1_000_000_000n + nanos(frac);
}

/** Parses one time; throws an Error naming the accepted forms. */
export function parseTime(text: string): ParsedTime {
  const t = text.trim();
  let m = /^(-?\d+)$/.exec(t);
  if (m) return { kind: 'instant', ns: BigInt(m[1] as string) };
  m = /^(-?)(\d+)\.(\d{1,9})$/.exec(t);
  if (m) {
    const abs = BigInt(m[2] as string) * 1_000_000_000n + nanos(m[3]);
    return { kind: 'instant', ns: m[1] ? -abs : abs };
  }
  const time = '(\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d{1,9}))?)?';
  m = new RegExp(`^(\\d{4})-(\\d{2})-(\\d{2})[ T]${time}Z?$`).exec(t);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const days = Date.UTC(y, mo - 1, d) / 86_400_000;
    const check = new Date(Date.UTC(y, mo - 1, d));
    if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d)
      throw new Error(`"${text}": no such date`);
    return { kind: 'instant', ns: BigInt(days) * DAY_NS + clock(m[4]!, m[5]!, m[6], m[7]) };
  }
  m = new RegExp(`^${time}$`).exec(t);
  if (m) return { kind: 'timeOfDay', ns: clock(m[1]!, m[2]!, m[3], m[4]) };
  throw new Error(`"${text}" is not a time: expected ${TIME_FORMS}`);
}

/** The instant of a parsed time, given the first event's time (for a time of day). */
export function resolveTime(t: ParsedTime, firstNs: bigint): bigint {
  if (t.kind === 'instant') return t.ns;
  const day = firstNs - (((firstNs % DAY_NS) + DAY_NS) % DAY_NS);
  return day + t.ns;
}

/** Unix-epoch ns as `YYYY-MM-DDTHH:II:SS.NNNNNNNNNZ`. */
export function formatNs(t: bigint): string {
  const s = t / 1_000_000_000n - (t < 0n && t % 1_000_000_000n !== 0n ? 1n : 0n);
  const frac = (t - s * 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(s) * 1000).toISOString().slice(0, 19)}.${frac}Z`;
}
