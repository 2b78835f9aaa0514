/**
 * The front against the binding it loads: the probe list and the statistics' counters the
 * TypeScript types spell equal the tables the binding generates from the UAPI header, bit for
 * bit; the trace layout is the one the writer writes; the binding's shape is checked at load; and
 * the one error policy: every C++ exception, on the JavaScript thread or in a worker, becomes a
 * catchable RewindError with its code. Those run in a child process, so a regression (a C++
 * exception escaping a callback aborts node) shows as a failed test, not a crashed jest.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

import { nativeConstants, PROBES, STATS_COUNTERS, writeTrace } from '../../native/index';
import { addon, checkBinding } from '../../native/lib/addon';
import { camelCase, camelKeys } from '../../native/lib/naming';
import { toSummary, type NativeMergeResult } from '../../native/lib/summary';
import { removeTempDirs, tempDir } from './fixtures';

afterAll(removeTempDirs);

const ROOT = join(__dirname, '..', '..');

describe('the tables of the UAPI header', () => {
  const c = nativeConstants();

  it('give the probe names of the TypeScript types, in bit order', () => {
    expect([...PROBES]).toEqual(c.probes);
    expect(c.probesAll).toBe((1n << BigInt(PROBES.length)) - 1n);
  });

  it("give the statistics' counters of the TypeScript types, in struct order, with help", () => {
    expect(c.statsCounters.map((s) => camelCase(s.name))).toEqual([...STATS_COUNTERS]);
    for (const s of c.statsCounters) expect(s.help).toMatch(/^[A-Z].{8,}/);
  });

  it("give the trace directory's layout the writer writes", async () => {
    expect(c.traceLayout).toEqual({ metadata: 'metadata', streamPrefix: 'stream_' });
    const dir = join(tempDir('layout'), 't');
    await writeTrace(dir, { hostname: 'h' }, [
      { cpu: 0, name: 'softirq_exit', timestamp: 1 },
      { cpu: 3, name: 'softirq_exit', timestamp: 1 },
    ]);
    expect(readdirSync(dir).sort()).toEqual([
      c.traceLayout.metadata,
      `${c.traceLayout.streamPrefix}0`,
      `${c.traceLayout.streamPrefix}3`,
    ]);
  });

  it("give the module's hostname limit in bytes", () => {
    expect(c.hostnameMaxBytes).toBe(63);
  });
});

describe('C names become JavaScript names in one place', () => {
  it('turns snake_case keys into camelCase, nested, and leaves values alone', () => {
    expect(camelCase('nr_cpu_ids')).toBe('nrCpuIds');
    expect(camelCase('lost_too_big')).toBe('lostTooBig');
    expect(
      camelKeys({ metadata_bytes: 1n, cpus: [{ first_seq: 2n, file: 'stream_0' }], buf: null }),
    ).toEqual({ metadataBytes: 1n, cpus: [{ firstSeq: 2n, file: 'stream_0' }], buf: null });
  });
});

describe("the binding's shape", () => {
  it('is checked at load, naming what is missing', () => {
    const real = addon();
    expect(checkBinding(real, 'x.node')).toBe(real);
    expect(() => checkBinding({ ...real, decode: undefined }, 'x.node')).toThrow(
      'the native addon x.node does not match this front: export decode: must be a function',
    );
    class Device {
      close(): void {}
    }
    expect(() => checkBinding({ ...real, Device }, 'x.node')).toThrow(
      /export Device: must be a class with the methods close, info, stats/,
    );
    expect(() =>
      checkBinding({ ...real, constants: { ...real.constants, probes: 'x' } }, 'x.node'),
    ).toThrow(/export constants\.probes: /);
  });
});

describe('the summary', () => {
  it("is named and summed by the front from the core's structure", () => {
    const stream = (node: number, cpu: number, first: number, last: number) => ({
      node,
      path: `/t/stream_${cpu}`,
      cpu,
      packets: 2,
      events: 10,
      first_ts: 100n,
      last_ts: 900n,
      first_seq: 4,
      last_seq: 7,
      lost_packets: 2,
      discarded_first: first,
      discarded_last: last,
      damaged_packets: 1,
      damaged_bytes: 64,
    });
    const raw: NativeMergeResult = {
      events: 20,
      first_ns: 1100n,
      last_ns: 1900n,
      nodes: [
        {
          name: 'n',
          dir: '/t',
          hostname: 'n',
          trace_uuid: 'u',
          clock_uuid: 'c',
          clock_offset_ns: 1010n,
          correction_ns: -10n,
          origin_ns: 1000n,
          events: 20,
          pod_events: 0,
          events_by_type: { sched_switch: 20 },
        },
      ],
      streams: [stream(0, 0, 3, 10), stream(0, 1, 0, 5)],
      damage: [],
    };
    const s = toSummary(raw);
    expect(s.nodes[0]).toMatchObject({
      name: 'n',
      clockOffsetNs: 1010n,
      correctionNs: -10n,
      eventsByType: { sched_switch: 20 },
      lostEvents: 7 + 5,
      lostPackets: 4,
      damagedPackets: 2,
    });
    expect(s.nodes[0]?.streams[0]).toEqual({
      file: '/t/stream_0',
      cpu: 0,
      packets: 2,
      events: 10,
      windowStartNs: 1100n,
      windowEndNs: 1900n,
      firstSeq: 4,
      lastSeq: 7,
      lostPackets: 2,
      lostEventsInWindow: 7,
      lostEventsTotal: 10,
      damagedPackets: 1,
      damagedBytes: 64,
    });
  });
});

describe('the error policy', () => {
  // Each kind thrown by the core, on the JavaScript thread and in a PromiseWorker.
  const script = `
    const { addon } = require('./native/lib/addon.ts');
    const { RewindError } = require('./native/lib/errors.ts');
    const seen = (e) => ({ rewind: e instanceof RewindError, name: e.name, message: e.message,
      code: e.code, errno: e.errno, syscall: e.syscall, path: e.path, offset: e.offset });
    (async () => {
      const out = {};
      for (const kind of ['runtime', 'sys', 'damaged', 'invalid', 'unknown']) {
        try { addon().testThrow(kind, false); out[kind] = 'no error'; } catch (e) { out[kind] = seen(e); }
        out[kind + '/async'] = await addon().testThrow(kind, true).then(() => 'no error', seen);
      }
      process.stdout.write(JSON.stringify(out));
    })();
  `;

  it('turns every C++ exception into a catchable RewindError with its code', () => {
    const r = spawnSync(process.execPath, ['-r', './test/ts-register.js', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>;
    for (const where of ['', '/async']) {
      expect(out[`runtime${where}`]).toEqual({
        rewind: true,
        name: 'RewindError',
        message: 'test: runtime error',
        code: 'ERR_REWIND_NATIVE',
      });
      expect(out[`sys${where}`]).toEqual({
        rewind: true,
        name: 'RewindError',
        message: 'cannot open /test/missing: No such file or directory',
        code: 'ENOENT',
        errno: 2,
        syscall: 'open',
        path: '/test/missing',
      });
      expect(out[`damaged${where}`]).toMatchObject({
        rewind: true,
        code: 'ERR_REWIND_DAMAGED',
        path: '/test/stream_0',
        offset: 68,
        message: '/test/stream_0: at byte 68: test damage',
      });
      expect(out[`invalid${where}`]).toMatchObject({
        rewind: true,
        code: 'ERR_REWIND_INVALID_ARG',
      });
      expect(out[`unknown${where}`]).toMatchObject({
        rewind: true,
        code: 'ERR_REWIND_NATIVE',
        message: 'unknown native exception',
      });
    }
  });
});
