// Stress, 4 vCPUs, 60 s: test events from process context (one emitter pinned per CPU), from
// softirq and hardirq context (per-CPU hrtimers) and from NMI context (each hardirq tick sends an
// NMI to the next CPU, landing in whatever that CPU runs), nesting four deep, while snapshots are taken
// back to back, each decoded and checked in memory: no corrupt event, per-CPU per-context
// sequence numbers strictly increasing in every snapshot, no kernel warning (checked by the
// harness).
import { useVm } from '../vm/jest';
import {
  babeltrace,
  buildHelpers,
  CTL,
  json,
  reload,
  SNAPSHOT_CHECK,
  stats,
  TEST_EVENTS,
} from './kmod-helpers';

const SECONDS = 60;

interface LoopResult {
  snapshots: number;
  packets: number;
  skipped: number;
  worst_ms: number;
  events: number;
  corrupt: number;
  time_backwards: number;
  test_events: number;
  test_bad: number;
  test_out_of_order: number;
  packet_gaps: number;
  test_ctx: number[];
}

describe('rewind.ko under stress', () => {
  const vm = useVm({ cpus: 4, memoryMiB: 1024 });
  beforeAll(() => {
    buildHelpers();
  });

  it(
    `keeps every snapshot consistent for ${SECONDS} s of nested writers`,
    async () => {
      const v = vm();
      await reload(v, 'test_hooks=1');
      // Small rings (16 x 4 KiB per CPU) so writers lap the reader all the time.
      await v.run(`${CTL} start --subbuf-size 4096 --subbufs 16 --probes all > /dev/null`);
      await v.run(`${TEST_EVENTS} timer nmi 200000 4 > /dev/null`);
      await v.run(
        `for c in $(seq 0 $(($(nproc)-1))); do
         setsid ${TEST_EVENTS} emit 1000 --cpu $c --seconds ${SECONDS} > /tmp/emit$c.json 2>&1 &
       done`,
      );
      const loop = await json<LoopResult>(
        v,
        `${SNAPSHOT_CHECK} --loop ${SECONDS} /tmp/last`,
        (SECONDS + 60) * 1000,
      );
      // Emitters stop on their own at the same deadline.
      console.log(
        `stress snapshot loop: ${JSON.stringify(loop)}; test events by context (task, softirq, ` +
          `hardirq, NMI): ${loop.test_ctx.join(', ')}`,
      );
      // (The bracket keeps pgrep from matching this very shell.)
      await v.run('while pgrep -f "test-events[ ]emit" > /dev/null; do sleep 0.2; done', {
        timeoutMs: 60_000,
      });
      const timer = await json<{ emitted: number }>(v, `${TEST_EVENTS} timer stop`);
      const emitted = (await v.run('cat /tmp/emit*.json'))
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { emitted: number }).emitted);
      const st = await stats(v);
      console.log(
        `stress: process-context emitted ${emitted.join('+')}, ` +
          `timer emitted ${timer.emitted}; written ${st.total.events_written} events, ` +
          `${st.total.bytes_written} bytes, overwritten ${st.total.packets_overwritten} packets, ` +
          `lost nesting ${st.total.lost_nesting} wrap ${st.total.lost_wrap}`,
      );
      expect(loop.corrupt).toBe(0);
      expect(loop.test_bad).toBe(0);
      expect(loop.test_out_of_order).toBe(0);
      expect(loop.time_backwards).toBe(0);
      // Snapshots are contiguous windows: no packet missing inside one.
      expect(loop.packet_gaps).toBe(0);
      expect(loop.snapshots).toBeGreaterThanOrEqual(10);
      expect(loop.test_ctx[0]).toBeGreaterThan(0); // process context
      expect(loop.test_ctx[1]).toBeGreaterThan(0); // softirq context
      expect(loop.test_ctx[2]).toBeGreaterThan(0); // hardirq context
      expect(loop.test_ctx[3]).toBeGreaterThan(0); // NMI context
      // Every NMI the hooks sent was claimed by their handler: none reported as unknown.
      expect(await v.run("dmesg | grep -c 'NMI received for unknown reason' || true")).toBe('0\n');
      expect(emitted).toHaveLength(4);
      for (const n of emitted) expect(n).toBeGreaterThan(0);
      expect(timer.emitted).toBeGreaterThan(0);
      // The last snapshot, as written to disk, is a valid CTF trace.
      const bt = await babeltrace(v, '/tmp/last');
      expect(bt.code).toBe(0);
      expect(bt.stderr).toBe('');
      await v.run(`${CTL} stop && busybox rmmod rewind`);
    },
    (SECONDS + 150) * 1000,
  );
});
