/**
 * CgroupRefresher: a scan at start and one per interval, scheduled only after the previous one
 * ended; an on-demand refresh always reflects a scan that began after it was asked for, and
 * callers asking together share one; a failing scan is reported and does not stop the schedule;
 * exited cgroups are pruned with the retention asked at each refresh. The timers are a manual
 * stand-in (nothing sleeps); the scan is a stand-in whose results and timing the test controls.
 */
import {
  CgroupRefresher,
  CgroupTracker,
  SUGGESTED_SCAN_INTERVAL_MS,
  type CgroupScan,
  type RefresherTimers,
} from '../../agent/cgroups';

class ManualTimers implements RefresherTimers {
  pending: { callback: () => void; ms: number }[] = [];
  setTimeout(callback: () => void, ms: number): unknown {
    const timer = { callback, ms };
    this.pending.push(timer);
    return timer;
  }
  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter((t) => t !== handle);
  }
  fire(): void {
    const timer = this.pending.shift();
    if (!timer) throw new Error('no timer pending');
    timer.callback();
  }
}

/** A scan whose every call waits until the test releases it with the cgroup ids it "found". */
class ControlledScan {
  calls: { release: (ids: number[]) => void; fail: (err: Error) => void }[] = [];
  readonly scan = (): Promise<CgroupScan> =>
    new Promise((resolve, reject) => {
      this.calls.push({
        release: (ids) =>
          resolve({
            version: 2,
            unifiedRoot: '/sys/fs/cgroup',
            cgroups: ids.map((id) => ({ id: BigInt(id), path: `/c${id}` })),
            complete: true,
            vanished: 0,
          }),
        fail: reject,
      });
    });
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const ids = (tracker: CgroupTracker) => tracker.facts().cgroups.map((f) => f.cgroupId);

function setup(retentionMs = 60_000) {
  const timers = new ManualTimers();
  const scans = new ControlledScan();
  const tracker = new CgroupTracker();
  const errors: unknown[] = [];
  let clock = Date.parse('2026-12-01T10:00:00Z');
  const refresher = new CgroupRefresher({
    tracker,
    scan: scans.scan,
    now: () => clock,
    retentionMs: () => retentionMs,
    timers,
    onError: (err) => errors.push(err),
  });
  const advance = (ms: number) => (clock += ms);
  return { timers, scans, tracker, errors, refresher, advance };
}

test('scans at start, then every interval once the previous scan has ended', async () => {
  const { timers, scans, tracker, refresher } = setup();
  refresher.start();
  expect(scans.calls).toHaveLength(1);
  expect(timers.pending).toHaveLength(0); // not scheduled while the scan runs
  scans.calls[0].release([1, 2]);
  await flush();
  expect(ids(tracker)).toEqual(['1', '2']);
  expect(timers.pending.map((t) => t.ms)).toEqual([SUGGESTED_SCAN_INTERVAL_MS]);
  timers.fire();
  expect(scans.calls).toHaveLength(2);
  scans.calls[1].release([1]);
  await flush();
  expect(tracker.facts().cgroups.find((f) => f.cgroupId === '2')?.exited).toBe(true);
  await refresher.stop();
  expect(timers.pending).toHaveLength(0);
});

test('on demand: waits for a scan in flight, then runs one of its own, shared by callers', async () => {
  const { scans, refresher } = setup();
  refresher.start();
  const first = refresher.refreshOnDemand();
  const second = refresher.refreshOnDemand();
  await flush();
  expect(scans.calls).toHaveLength(1); // the periodic scan, begun before the requests
  scans.calls[0].release([1]);
  await flush();
  expect(scans.calls).toHaveLength(2); // one fresh scan for both callers
  scans.calls[1].release([1, 5]);
  const [a, b] = await Promise.all([first, second]);
  expect(a.cgroups.map((f) => f.cgroupId)).toEqual(['1', '5']);
  expect(b).toEqual(a);
  await refresher.stop();
});

test('a scan that throws is reported, and the schedule goes on', async () => {
  const { timers, scans, errors, refresher } = setup();
  refresher.start();
  scans.calls[0].fail(new Error('boom'));
  await flush();
  expect(errors).toEqual([new Error('boom')]);
  expect(timers.pending).toHaveLength(1);
  timers.fire();
  expect(scans.calls).toHaveLength(2);
  scans.calls[1].release([]);
  await refresher.stop();
});

test('exited cgroups are pruned with the retention the caller gives', async () => {
  const { scans, tracker, refresher, advance } = setup(30_000);
  const refresh = async (found: number[]) => {
    const facts = refresher.refreshOnDemand();
    await flush();
    scans.calls[scans.calls.length - 1].release(found);
    return facts;
  };
  await refresh([1, 2]);
  advance(5_000);
  await refresh([1]); // 2 gone by now
  advance(29_000);
  expect((await refresh([1])).cgroups.map((f) => f.cgroupId)).toEqual(['1', '2']);
  advance(2_000); // 31 s since 2 was missed: beyond the window
  expect((await refresh([1])).cgroups.map((f) => f.cgroupId)).toEqual(['1']);
  expect(ids(tracker)).toEqual(['1']);
});

test('stop waits for the scan in flight and schedules nothing after it', async () => {
  const { timers, scans, refresher } = setup();
  refresher.start();
  let stopped = false;
  const stopping = refresher.stop().then(() => (stopped = true));
  await flush();
  expect(stopped).toBe(false);
  scans.calls[0].release([]);
  await stopping;
  expect(timers.pending).toHaveLength(0);
});
