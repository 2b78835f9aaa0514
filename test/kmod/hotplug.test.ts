// CPU hotplug while tracing (2 vCPUs): cpu1 goes offline with history in its ring and test
// timers running (they migrate to cpu0), a snapshot still reads cpu1's ring and validates, then
// cpu1 comes back and tracing resumes on it. The harness fails the test on any kernel warning.
import { useVm } from '../vm/jest';
import type { Vm } from '../vm/vm';
import {
  buildHelpers,
  CTL,
  json,
  reload,
  stats,
  TEST_EVENTS,
  validSnapshot,
  WORKLOAD,
} from './kmod-helpers';

const ONLINE = '/sys/devices/system/cpu/cpu1/online';

/** A valid snapshot into dir (babeltrace2's text beside it, in dir.txt); returns cpu1's stream. */
async function snapshotCpu1(v: Vm, dir: string) {
  const c = await validSnapshot(v, dir);
  const cpu1 = c.streams.find((s) => s.cpu === 1);
  expect(cpu1).toBeDefined();
  return { cpu1: cpu1!, dir };
}

/** rewind_test events of one CPU in a snapshot, as babeltrace2 printed them. */
const testEventsOn = async (v: Vm, dir: string, cpu: number): Promise<number> =>
  Number((await v.run(`grep -c 'rewind_test: .*cpu = ${cpu},' ${dir}.txt || true`)).trim());

describe('rewind.ko and CPU hotplug', () => {
  const vm = useVm({ cpus: 2, memoryMiB: 1024 });
  beforeAll(() => {
    buildHelpers();
  });

  it('keeps an offline CPU readable and resumes tracing on it when it comes back', async () => {
    const v = vm();
    await reload(v, 'test_hooks=1');
    await v.run(`${CTL} start --subbuf-size 64k --subbufs 32 --probes all > /dev/null`);
    await v.run(`${TEST_EVENTS} timer start 10000000 2 > /dev/null`);
    const before = await json<{ emitted: number; cpu: number }>(
      v,
      `${TEST_EVENTS} emit 2000 --cpu 1`,
    );
    expect(before).toMatchObject({ emitted: 2000, cpu: 1 });
    await v.run(`taskset -c 1 ${WORKLOAD} getppid 1000`);

    await v.run(`echo 0 > ${ONLINE}`);
    expect((await v.run(`cat ${ONLINE}`)).trim()).toBe('0');
    const offStats = await stats(v);
    expect(offStats.cpus[1]?.online).toBe(0);
    // Load on the remaining CPU while cpu1 is away, with the timers migrated there.
    await v.run(`${WORKLOAD} getppid 1000`);
    const off = await snapshotCpu1(v, '/tmp/hp-off');
    // cpu1's history is still there: its packets, and the test events it wrote.
    expect(off.cpu1.packets).toBeGreaterThan(0);
    expect(await testEventsOn(v, off.dir, 1)).toBeGreaterThanOrEqual(2000);
    // Nothing was written on cpu1 while it was offline.
    const offStats2 = await stats(v);
    expect(offStats2.cpus[1]?.events_written).toBe(offStats.cpus[1]?.events_written);

    await v.run(`echo 1 > ${ONLINE}`);
    expect((await v.run(`cat ${ONLINE}`)).trim()).toBe('1');
    const after = await json<{ emitted: number; cpu: number }>(
      v,
      `${TEST_EVENTS} emit 1000 --cpu 1`,
    );
    expect(after).toMatchObject({ emitted: 1000, cpu: 1 });
    await v.run(`taskset -c 1 ${WORKLOAD} getppid 1000`);
    const on = await snapshotCpu1(v, '/tmp/hp-on');
    const onStats = await stats(v);
    expect(onStats.cpus[1]?.online).toBe(1);
    // Tracing resumed on cpu1: new packets after the offline snapshot's last one, holding the
    // new test events (their per-CPU sequence continues: the checker saw no reordering).
    expect(on.cpu1.last_seq).toBeGreaterThan(off.cpu1.last_seq);
    expect(onStats.cpus[1]!.events_written).toBeGreaterThan(offStats.cpus[1]!.events_written);
    expect(await testEventsOn(v, on.dir, 1)).toBeGreaterThanOrEqual(3000);
    const timer = await json<{ emitted: number }>(v, `${TEST_EVENTS} timer stop`);
    expect(timer.emitted).toBeGreaterThan(0);
    console.log(
      `hotplug: cpu1 ${off.cpu1.packets} packets (seq ${off.cpu1.first_seq}..${off.cpu1.last_seq}) ` +
        `offline, ${on.cpu1.packets} (seq ..${on.cpu1.last_seq}) after coming back; ` +
        `events on cpu1 ${offStats.cpus[1]!.events_written} -> ${onStats.cpus[1]!.events_written}; ` +
        `timer events ${timer.emitted}`,
    );
    await v.run(`${CTL} stop && busybox rmmod rewind`);
  }, 300_000);
});
