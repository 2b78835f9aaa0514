/**
 * babeltrace2, the judge of Rewind's traces: runs it on a directory and parses its text output
 * (`--clock-cycles` or `--clock-seconds`, `--no-delta`) into events comparable with what the
 * native decoder returns.
 */
import { spawnSync } from 'node:child_process';

import type { FieldValue, TraceEvent } from '../../native/index';

export interface BtEvent {
  /** `--clock-cycles`: the clock value; `--clock-seconds`: Unix-epoch ns. */
  time: bigint;
  host: string;
  name: string;
  cpu: number;
  fields: Record<string, string | bigint | bigint[]>;
}

export interface BtResult {
  code: number;
  stderr: string;
  events: BtEvent[];
}

/**
 * Parses one payload `{ a = 1, b = "x", c = [ [0] = 1, [1] = 2 ] }` (without the braces). An
 * enumeration, `( "read" : container = 0 )` or `( <unknown> : container = 999 )`, gives its
 * integer, as the decoder does (enumLabels gives the names).
 */
export function parsePayload(text: string): BtEvent['fields'] {
  const out: BtEvent['fields'] = {};
  let i = 0;
  const ws = () => {
    while (text[i] === ' ') i++;
  };
  const scalar = (): string | bigint => {
    ws();
    if (text[i] === '(') {
      const m = ENUM_VALUE.exec(text.slice(i));
      if (!m) throw new Error(`babeltrace2 output: bad enumeration at "${text.slice(i, i + 40)}"`);
      i += m[0].length;
      return BigInt(m[2] as string);
    }
    if (text[i] === '"') {
      let s = '';
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === '\\') i++;
        s += text[i];
      }
      i++;
      return s;
    }
    const m = /^-?(0x[0-9A-Fa-f]+|\d+)/.exec(text.slice(i));
    if (!m)
      throw new Error(`babeltrace2 output: cannot parse a value at "${text.slice(i, i + 30)}"`);
    i += m[0].length;
    return m[0].startsWith('-') ? -BigInt(m[0].slice(1)) : BigInt(m[0]);
  };
  for (;;) {
    ws();
    if (i >= text.length) break;
    const m = /^(\w+) = /.exec(text.slice(i));
    if (!m)
      throw new Error(`babeltrace2 output: cannot parse a field at "${text.slice(i, i + 30)}"`);
    i += m[0].length;
    if (text[i] === '[') {
      const arr: bigint[] = [];
      i++;
      for (;;) {
        ws();
        if (text[i] === ']') {
          i++;
          break;
        }
        const idx = /^\[\d+\] = /.exec(text.slice(i));
        if (!idx) throw new Error(`babeltrace2 output: bad array at "${text.slice(i, i + 30)}"`);
        i += idx[0].length;
        arr.push(scalar() as bigint);
        ws();
        if (text[i] === ',') i++;
      }
      out[m[1] as string] = arr;
    } else {
      out[m[1] as string] = scalar();
    }
    ws();
    if (text[i] === ',') i++;
  }
  return out;
}

const ENUM_VALUE = /^\( (?:"([^"]*)"|<unknown>) : container = (-?\d+) \)/;

/** The enumeration values of a babeltrace2 text line: field name → [label or undefined, number]. */
export function enumLabels(line: string): Record<string, [string | undefined, bigint]> {
  const out: Record<string, [string | undefined, bigint]> = {};
  for (const m of line.matchAll(/(\w+) = (\( (?:"[^"]*"|<unknown>) : container = -?\d+ \))/g)) {
    const v = ENUM_VALUE.exec(m[2] as string) as RegExpExecArray;
    out[m[1] as string] = [v[1], BigInt(v[2] as string)];
  }
  return out;
}

const LINE = /^\[([\d.]+)\] (\S+) (\w+): \{ cpu_id = (\d+) \}, \{ ?(.*?) ?\}$/;

/** Runs `babeltrace2 --no-delta <clock option> DIR` and parses every event line. */
export function babeltrace(dir: string, clock: 'cycles' | 'seconds' = 'cycles'): BtResult {
  const r = spawnSync('babeltrace2', [`--clock-${clock}`, '--no-delta', dir], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const events: BtEvent[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`babeltrace2 output: unexpected line: ${line.slice(0, 200)}`);
    const [, t, host, name, cpu, payload] = m as unknown as string[];
    const time = clock === 'cycles' ? BigInt(t as string) : secondsToNs(t as string);
    events.push({
      time,
      host: host as string,
      name: name as string,
      cpu: Number(cpu),
      fields: parsePayload(payload as string),
    });
  }
  return { code: r.status ?? -1, stderr: r.stderr, events };
}

function secondsToNs(t: string): bigint {
  const [s, frac = ''] = t.split('.');
  return BigInt(s as string) * 1_000_000_000n + BigInt(frac.padEnd(9, '0').slice(0, 9));
}

/** A decoded field in babeltrace2's terms: integers as bigints, byte arrays as bigint[]. */
export function normalize(v: FieldValue): string | bigint | bigint[] {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map((x) => BigInt(x));
  return BigInt(v);
}

/** The decoder's events as babeltrace2 would print them (time per `clock`). */
export function asBt(events: TraceEvent[], clock: 'cycles' | 'seconds' = 'cycles'): BtEvent[] {
  return events.map((e) => ({
    time: clock === 'cycles' ? e.timestamp : e.timeNs,
    host: e.node,
    name: e.name,
    cpu: e.cpu,
    fields: Object.fromEntries(Object.entries(e.fields).map(([k, v]) => [k, normalize(v)])),
  }));
}

/**
 * babeltrace2 and the decoder order events of one stream identically, and all events by time;
 * events of different streams with the same timestamp may come in either order. This puts both
 * in one canonical order: by time, then host, then CPU, keeping each stream's own order.
 */
export function canonical(events: BtEvent[]): BtEvent[] {
  return events
    .map((e, i) => ({ e, i }))
    .sort((a, b) =>
      a.e.time !== b.e.time
        ? a.e.time < b.e.time
          ? -1
          : 1
        : a.e.host !== b.e.host
          ? a.e.host < b.e.host
            ? -1
            : 1
          : a.e.cpu !== b.e.cpu
            ? a.e.cpu - b.e.cpu
            : a.i - b.i,
    )
    .map((x) => x.e);
}
