/**
 * Snapshots taken by the module in real kernels (qemu), read by the native decoder and by
 * babeltrace2: the same events, in the same order, with the same timestamps and field values.
 * Two VMs record at the same time; their merge reads in babeltrace2 as one stream of both nodes.
 * Guest clocks under qemu TCG drift from the host's by seconds, so the test measures each VM's
 * offset the way the controller does (a round trip: host time at the middle minus guest time) and
 * merges with that correction.
 *
 * babeltrace2 2.0.4 has a known bug: an empty string field prints the string of an earlier event
 * (efficios/babeltrace review 4528, "String fields display the value of a previous event, despite
 * their length being set to zero"). Where the decoder reads an empty string, the comparison checks
 * the module's own rule for that field instead (rewind_test's tag is seq % 13 letters).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { decodeTrace, mergeTraces, type TraceEvent } from '../../native/index';
import { buildHelpers, CTL, headerVersions, KO, TEST_EVENTS } from '../kmod/kmod-helpers';
import { useVm } from '../vm/jest';
import { asBt, babeltrace, canonical, type BtEvent } from './babeltrace';
import { removeTempDirs, tempDir } from './fixtures';

afterAll(removeTempDirs);

const GUEST = 'node -r ./test/ts-register.js test/native/guest/snapshot.ts';

interface GuestResult {
  abiVersion: number;
  formatVersion: number;
  emitted: string;
  timerEvents: string;
  ringBytes: number;
  ringMagic: number;
  info: { nrCpuIds: number; state: number; subbufSize: number; numSubbufs: number };
  stats: { cpu: number; eventsWritten: string }[];
  snapshot: {
    dir: string;
    bytes: string;
    packets: string;
    cpus: { cpu: number; file: string; bytes: string }[];
  };
  ticks: number;
  busy?: { code: string; syscall: string; message: string };
  closedError: string;
  closedCode: string;
}

/**
 * Compares decoder and babeltrace2 event by event; returns how many empty strings it excused.
 * Both orders are by time; events of different CPUs with the same nanosecond may be tied either
 * way, so both lists are put in one canonical order first (which keeps each CPU's own order).
 */
function compare(decoded: TraceEvent[], btEvents: BtEvent[]): number {
  expect(btEvents).toHaveLength(decoded.length);
  expect(btEvents.map((e) => e.time)).toEqual(decoded.map((e) => e.timestamp));
  const mine = canonical(asBt(decoded));
  const bt = canonical(btEvents);
  let excused = 0;
  for (let i = 0; i < mine.length; i++) {
    const m = mine[i] as BtEvent;
    const b = bt[i] as BtEvent;
    for (const [k, v] of Object.entries(m.fields)) {
      if (v === '' && b.fields[k] !== '') {
        b.fields[k] = '';
        excused++;
        if (m.name === 'rewind_test') expect(Number(m.fields.seq as bigint) % 13).toBe(0);
      }
    }
    if (JSON.stringify(m, big) !== JSON.stringify(b, big)) {
      throw new Error(
        `event ${i} differs:\ndecoder:     ${JSON.stringify(m, big)}\nbabeltrace2: ${JSON.stringify(b, big)}`,
      );
    }
  }
  return excused;
}

const hostNowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

/** Host-minus-guest realtime, from the middle of a round trip (error: half the round trip). */
async function clockCorrection(vm: { run(c: string): Promise<string> }): Promise<bigint> {
  const t0 = hostNowNs();
  const guest = BigInt((await vm.run('date +%s%N')).trim());
  const t1 = hostNowNs();
  return (t0 + t1) / 2n - guest;
}

function big(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

describe('snapshots of real kernels', () => {
  const root = tempDir('vm');
  const vmA = useVm({ name: 'node-a', cpus: 2, shareDirs: [root] });
  const vmB = useVm({ name: 'node-b', cpus: 1, shareDirs: [root] });
  const results: Record<string, GuestResult> = {};
  const corrections: Record<string, bigint> = {};

  beforeAll(async () => {
    buildHelpers();
    await Promise.all([
      vmA().run(`insmod ${KO} test_hooks=1`),
      vmB().run(`insmod ${KO} test_hooks=1`),
    ]);
    // Both nodes record at the same time.
    const [a, b] = await Promise.all([
      vmA().run(`${GUEST} ${root}/a node-a`, { timeoutMs: 120_000 }),
      vmB().run(`${GUEST} ${root}/b node-b`, { timeoutMs: 120_000 }),
    ]);
    results.a = JSON.parse(a) as GuestResult;
    results.b = JSON.parse(b) as GuestResult;
    corrections.a = await clockCorrection(vmA());
    corrections.b = await clockCorrection(vmB());
  });

  it('drives the device through the addon: ABI, info, stats, ring mapping, async snapshot', () => {
    const a = results.a as GuestResult;
    expect(a.abiVersion).toBe(headerVersions().abi);
    expect(a.formatVersion).toBe(headerVersions().format);
    expect(a.emitted).toBe('300');
    expect(BigInt(a.timerEvents)).toBeGreaterThan(10n);
    expect(a.info.nrCpuIds).toBe(2);
    expect(a.info.state).toBe(2);
    expect(a.ringBytes).toBe(65536 * 8);
    expect(a.ringMagic).toBe(0xc1fc1fc1);
    expect(a.stats.reduce((s, c) => s + BigInt(c.eventsWritten), 0n)).toBeGreaterThan(300n);
    expect(a.snapshot.cpus.map((c) => c.cpu)).toEqual([0, 1]);
    expect(Number(a.snapshot.packets)).toBeGreaterThan(0);
    expect(a.ticks).toBeGreaterThanOrEqual(0);
    expect(a.busy).toEqual({
      code: 'EBUSY',
      syscall: 'REWIND_IOC_GET_STATS',
      message:
        '/dev/rewind: REWIND_IOC_GET_STATS: a snapshot owns the device: Device or resource busy',
    });
    expect(a.closedError).toBe('/dev/rewind: the device is closed: Bad file descriptor');
    expect(a.closedCode).toBe('EBADF');
    const meta = readFileSync(join(root, 'a', 'metadata'), 'utf8');
    expect(meta).toContain('hostname = "node-a";');
    expect(meta).toContain('absolute = true;');
  });

  it("decodes the addon's snapshot exactly as babeltrace2 prints it", async () => {
    const dir = join(root, 'a');
    const { events, summary } = await decodeTrace(dir, { strict: true });
    const bt = babeltrace(dir);
    expect(bt.code).toBe(0);
    expect(events.filter((e) => e.name === 'rewind_test').length).toBeGreaterThan(300);
    expect(new Set(events.map((e) => e.name)).size).toBeGreaterThan(8);
    const excused = compare(events, bt.events);
    expect(excused).toBeLessThanOrEqual(events.filter((e) => e.name === 'rewind_test').length);
    expect(summary.nodes[0]?.streams.map((s) => s.cpu)).toEqual([0, 1]);
  });

  it("decodes rewindctl's snapshot exactly as babeltrace2 prints it", async () => {
    await vmA().run(
      `${CTL} start && ${TEST_EVENTS} emit 100 && ${CTL} snapshot ${root}/ctl > /dev/null`,
    );
    const dir = join(root, 'ctl');
    const { events } = await decodeTrace(dir, { strict: true });
    const bt = babeltrace(dir);
    expect(bt.code).toBe(0);
    expect(events.length).toBeGreaterThan(100);
    compare(events, bt.events);
  });

  it('merges the two nodes into a trace babeltrace2 reads interleaved by time', async () => {
    const out = join(root, 'unified');
    const s = await mergeTraces(
      [
        { dir: join(root, 'a'), correctionNs: corrections.a as bigint },
        { dir: join(root, 'b'), correctionNs: corrections.b as bigint },
      ],
      { out, chrome: join(root, 'c.json') },
    );
    expect(s.nodes.map((n) => n.name)).toEqual(['node-a', 'node-b']);
    expect(s.damage).toEqual([]);
    const bt = babeltrace(out, 'seconds');
    expect(bt.code).toBe(0);
    expect(bt.events).toHaveLength(s.events);
    const hosts = bt.events.map((e) => e.host);
    expect(new Set(hosts)).toEqual(new Set(['node-a', 'node-b']));
    expect(hosts.filter((h, i) => i > 0 && h !== hosts[i - 1]).length).toBeGreaterThan(2);
    for (let i = 1; i < bt.events.length; i++) {
      if ((bt.events[i] as BtEvent).time < (bt.events[i - 1] as BtEvent).time)
        throw new Error(`out of order at ${i}`);
    }
    expect(
      JSON.parse(readFileSync(join(root, 'c.json'), 'utf8')).traceEvents.length,
    ).toBeGreaterThan(100);
  });
});
