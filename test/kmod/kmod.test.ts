// The flight recorder in one VM (2 vCPUs): load/unload, a mixed workload read back by
// babeltrace2, TCP over IPv6, overwrite and discard accounting, bytes per event, and an ioctl/mmap
// fuzz.
import { useVm } from '../vm/jest';
import {
  babeltrace,
  buildHelpers,
  check,
  CTL,
  FUZZ,
  json,
  KO,
  mixedWorkload,
  reload,
  stats,
  TEST_EVENTS,
  uapiTable,
  WORKLOAD,
} from './kmod-helpers';

// Every probe, named by the event types it may write.
const PROBE_EVENTS: Record<string, string[]> = {
  sched_switch: ['sched_switch'],
  sched_waking: ['sched_waking'],
  sched_wakeup: ['sched_wakeup'],
  sched_wakeup_new: ['sched_wakeup_new'],
  sched_process_fork: ['sched_process_fork', 'sched_process_cgroup'],
  sched_process_exec: ['sched_process_exec', 'sched_process_cgroup'],
  sched_process_exit: ['sched_process_exit'],
  sched_migrate_task: ['sched_migrate_task'],
  task_rename: ['task_rename'],
  irq_handler_entry: ['irq_handler_entry'],
  irq_handler_exit: ['irq_handler_exit'],
  softirq_entry: ['softirq_entry'],
  softirq_exit: ['softirq_exit'],
  sys_enter: ['sys_enter'],
  sys_exit: ['sys_exit', 'sys_exit_wide'],
  net_dev_queue: ['net_dev_queue', 'net_dev_queue_tcp4', 'net_dev_queue_tcp6'],
  netif_receive_skb: ['netif_receive_skb', 'netif_receive_skb_tcp4', 'netif_receive_skb_tcp6'],
  block_rq_issue: ['block_rq_issue'],
  block_rq_complete: ['block_rq_complete'],
  page_fault_user: ['page_fault_user'],
};

const TCP_PORT = 45678;
const TCP6_PORT = 45679;
const GETPPID_X86_64 = 110;

const MIXED_WORKLOAD = mixedWorkload(TCP_PORT, 'rwk');

describe('rewind.ko', () => {
  const vm = useVm({ cpus: 2, memoryMiB: 1024 });
  beforeAll(() => {
    buildHelpers();
  });

  it('loads and unloads 20 times, the last time while tracing a busy system', async () => {
    const out = await vm().run(
      `busybox rmmod rewind 2>/dev/null
       for i in $(seq 19); do busybox insmod ${KO} && busybox rmmod rewind || exit 1; done
       busybox insmod ${KO} autostart=1
       (i=0; while [ $i -lt 100 ]; do ls / > /dev/null; i=$((i+1)); done) &
       sleep 0.5; busybox rmmod rewind; wait
       dmesg | grep -c 'rewind: loaded, ABI 1'`,
      { timeoutMs: 400_000 },
    );
    expect(Number(out.trim())).toBe(20);
    const log = await vm().kernelLog();
    expect(log.split('\n').filter((l) => /rewind: unloaded/.test(l))).toHaveLength(20);
  }, 420_000);

  it('records a mixed workload that babeltrace2 reads with correct values', async () => {
    const v = vm();
    await reload(v);
    // A real block device for block_rq_*: Debian's kernel ships null_blk as a module.
    await v.run('modprobe null_blk nr_devices=1');
    await v.run('test -b /dev/nullb0');
    await v.run(`${CTL} start --subbuf-size 64k --subbufs 32 --probes all --hostname kmod-test`);
    await v.run(MIXED_WORKLOAD, { timeoutMs: 200_000 });
    const pid = Number((await v.run('cat /tmp/rwk-sleeper.pid')).trim());
    const snap = await json<{ packets: number; skipped: number }>(v, `${CTL} snapshot /tmp/mixed`);
    expect(snap.packets).toBeGreaterThan(0);
    const st = await stats(v);
    await v.run(`${CTL} stop`);
    // rewindctl's JSON is the UAPI counter table: every field, in order; totals of the additive ones.
    const counters = uapiTable('REWIND_STATS_COUNTERS');
    for (const cpu of st.cpus) expect(Object.keys(cpu)).toEqual(['cpu', 'online', ...counters]);
    expect(Object.keys(st.total)).toEqual(counters.slice(0, counters.indexOf('oldest_timestamp')));
    expect(st.total.events_written).toBe(st.cpus.reduce((n, c) => n + c.events_written, 0));

    const c = await check(v, '/tmp/mixed');
    expect(c.corrupt).toBe(0);
    expect(c.time_backwards).toBe(0);
    expect(c.packet_gaps).toBe(0);

    const bt = await babeltrace(v, '/tmp/mixed');
    expect(bt.stderr).toBe('');
    expect(bt.code).toBe(0);
    expect(bt.warnings).toBe(0);
    // babeltrace2 and our own decoder agree on every event.
    expect([...bt.names.values()].reduce((a, b) => a + b, 0)).toBe(c.events);
    // Every enabled probe shows up, and every probe of the ABI is in the list.
    expect(Object.keys(PROBE_EVENTS)).toEqual(uapiTable('REWIND_PROBE_TABLE'));
    const missing = Object.entries(PROBE_EVENTS)
      .filter(([, names]) => !names.some((n) => (bt.names.get(n) ?? 0) > 0))
      .map(([probe]) => probe);
    expect(missing).toEqual([]);
    for (const n of ['statedump_start', 'statedump_process', 'statedump_irq', 'statedump_end']) {
      expect(bt.names.get(n) ?? 0).toBeGreaterThan(0);
    }

    // The process we started: its exec (tid + comm) and its context switches.
    const exec = await v.run(
      `grep ' sched_process_exec: ' /tmp/mixed.txt | grep 'tid = ${pid},' || true`,
    );
    expect(exec).toContain(`comm = "rwk-sleeper"`);
    expect(exec).toContain('filename = "/tmp/rwk-sleeper"');
    const sw = await v.run(
      `grep -cE 'sched_switch: .*(prev|next)_tid = ${pid},' /tmp/mixed.txt || true`,
    );
    expect(Number(sw.trim())).toBeGreaterThan(0);
    // getppid's system call, by number and by the name the metadata's enumeration gives it, a
    // TCP segment's ports, the host name from the configuration.
    const getppid = await v.run(
      `grep -c 'sys_enter: .*{ id = ( "getppid" : container = ${GETPPID_X86_64} ) }' /tmp/mixed.txt || true`,
    );
    expect(Number(getppid.trim())).toBeGreaterThanOrEqual(100);
    expect(await v.run(`grep -c 'sys_exit: .*{ ret = 4 }' /tmp/mixed.txt || true`)).not.toBe('0\n');
    const tcp = await v.run(
      `grep -E '_tcp4: .*(sport|dport) = ${TCP_PORT},' /tmp/mixed.txt | head -4`,
    );
    expect(tcp).toMatch(/net_dev_queue_tcp4: .*saddr = 0x7F000001/);
    expect(tcp).toMatch(/netif_receive_skb_tcp4: /);
    expect(await v.run('head -1 /tmp/mixed.txt')).toMatch(/^\[[\d:.]+\] \(\+[\d.?]+\) kmod-test /);

    const bytesPerEvent = st.total.bytes_written / st.total.events_written;
    console.log(
      `mixed workload: ${st.total.events_written} events, ${bytesPerEvent.toFixed(2)} B/event, ` +
        `${snap.packets} packets in the snapshot`,
    );
  }, 400_000);

  it('records TCP over IPv6 loopback as _tcp6 events: ::1, the ports, the handshake', async () => {
    const v = vm();
    await reload(v);
    await v.run(
      `${CTL} start --subbuf-size 64k --subbufs 16 --probes net_dev_queue,netif_receive_skb`,
    );
    await v.run(`${WORKLOAD} tcp6 ${TCP6_PORT}`);
    await v.run(`${CTL} snapshot /tmp/tcp6 --no-statedump > /dev/null`);
    await v.run(`${CTL} stop`);
    const c = await check(v, '/tmp/tcp6');
    expect(c.corrupt).toBe(0);
    // Handshake, one segment each way, their ACKs and the close: at least 6 segments, each
    // queued on lo and received from it, all decoded as IPv6 (the harness' own TCP traffic is
    // IPv4, so the port tells ours apart below).
    expect(c.counts.net_dev_queue_tcp6 ?? 0).toBeGreaterThanOrEqual(6);
    expect(c.counts.netif_receive_skb_tcp6 ?? 0).toBeGreaterThanOrEqual(6);
    const bt = await babeltrace(v, '/tmp/tcp6');
    expect(bt.code).toBe(0);
    expect(bt.stderr).toBe('');
    expect(bt.names.get('net_dev_queue_tcp6')).toBe(c.counts.net_dev_queue_tcp6);
    const lines = (await v.run(`grep -E '_tcp6: .*(sport|dport) = ${TCP6_PORT},' /tmp/tcp6.txt`))
      .trim()
      .split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(12);
    expect(await v.run(`grep -cE '_tcp4: .*port = ${TCP6_PORT},' /tmp/tcp6.txt || true`)).toBe(
      '0\n',
    );
    // ::1 is fifteen zero bytes then 1, in both addresses of every segment, on lo (ifindex 1).
    const loopback6 = `[ ${[...Array(15).keys()].map((i) => `[${i}] = 0, `).join('')}[15] = 1 ]`;
    for (const l of lines) {
      expect(l).toContain(`saddr = ${loopback6}`);
      expect(l).toContain(`daddr = ${loopback6}`);
      expect(l).toContain('ifindex = 1,');
    }
    // The client's SYN (flags 0x02) to the port, and the server's SYN+ACK (0x12) from it.
    expect(
      lines.some(
        (l) =>
          /net_dev_queue_tcp6: .*dport = \d+, .*flags = 2 \}/.test(l) &&
          l.includes(`dport = ${TCP6_PORT},`),
      ),
    ).toBe(true);
    expect(
      lines.some(
        (l) =>
          /netif_receive_skb_tcp6: .*flags = 18 \}/.test(l) && l.includes(`sport = ${TCP6_PORT},`),
      ),
    ).toBe(true);
  }, 200_000);

  it('overwrite: after 10x the capacity the snapshot is the newest window, gaps = overwritten', async () => {
    const v = vm();
    await reload(v, 'test_hooks=1');
    // 8 x 4 KiB = 32 KiB per CPU; 20000 test events of 19..31 bytes are > 10x that.
    await v.run(`${CTL} start --subbuf-size 4096 --subbufs 8 --probes none`);
    const emit = await json<{ emitted: number }>(v, `${TEST_EVENTS} emit 20000 --cpu 0`);
    expect(emit.emitted).toBe(20000);
    await v.run(`${CTL} stop`);
    const st = await stats(v);
    const cpu0 = st.cpus[0]!;
    expect(cpu0.bytes_written).toBeGreaterThan(10 * 32 * 1024);
    await v.run(`${CTL} snapshot /tmp/ow --no-statedump`);
    const c = await check(v, '/tmp/ow');
    expect(c.corrupt).toBe(0);
    const s0 = c.streams.find((s) => s.cpu === 0)!;
    // Missing packet sequence numbers (all before the window) are the overwritten packets.
    expect(s0.first_seq + c.packet_gaps).toBe(cpu0.packets_overwritten);
    expect(s0.last_seq + 1).toBe(cpu0.subbuf_switches);
    // The window holds the newest events: contiguous test sequence ending at the last one.
    expect(c.test_gaps).toBe(0);
    const last = await v.run(`babeltrace2 /tmp/ow | grep rewind_test | tail -1`);
    expect(last).toContain('seq = 19999,');
    const bt = await babeltrace(v, '/tmp/ow');
    expect(bt.code).toBe(0);
    expect(bt.names.get('rewind_test')).toBe(c.test_events);
  }, 300_000);

  it('discard: refused events = emitted - read', async () => {
    const v = vm();
    await reload(v, 'test_hooks=1');
    await v.run(`${CTL} start --subbuf-size 4096 --subbufs 4 --mode discard --probes none`);
    const N = 5000;
    const emit = await json<{ emitted: number }>(v, `${TEST_EVENTS} emit ${N} --cpu 0`);
    await v.run(`${CTL} stop`);
    const st = await stats(v);
    await v.run(`${CTL} snapshot /tmp/dc --no-statedump`);
    const c = await check(v, '/tmp/dc');
    expect(c.corrupt).toBe(0);
    const refused = st.total.lost_full;
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBe(N - c.test_events);
    expect(emit.emitted).toBe(c.test_events);
    // The oldest events are kept: the window starts at sequence 0.
    expect(c.streams.find((s) => s.cpu === 0)!.first_seq).toBe(0);

    // A consuming reader frees what it copied; the writer goes on, and the books still balance.
    await v.run(`${CTL} start`);
    await v.run(`${CTL} snapshot /tmp/dc1 --no-statedump --consume`);
    const c1 = await check(v, '/tmp/dc1');
    expect(c1.test_events).toBe(c.test_events);
    const emit2 = await json<{ emitted: number }>(v, `${TEST_EVENTS} emit ${N} --cpu 0`);
    expect(emit2.emitted).toBeGreaterThan(0);
    await v.run(`${CTL} stop`);
    await v.run(`${CTL} snapshot /tmp/dc2 --no-statedump --consume`);
    const c2 = await check(v, '/tmp/dc2');
    expect(c2.corrupt).toBe(0);
    expect(c2.test_events).toBe(emit2.emitted);
    expect(c2.test_gaps).toBe(0);
    expect((await stats(v)).total.lost_full).toBe(2 * N - c1.test_events - c2.test_events);
  }, 300_000);

  it('writes few bytes per event (getppid loop, pipe ping-pong)', async () => {
    const v = vm();
    await reload(v);
    const probes =
      'sched_switch,sched_waking,sched_wakeup,sched_wakeup_new,sched_process_fork,' +
      'sched_process_exec,sched_process_exit,sched_migrate_task,irq_handler_entry,' +
      'irq_handler_exit,softirq_entry,softirq_exit,sys_enter,sys_exit';
    const measure = async (cmd: string): Promise<number> => {
      await v.run(`${CTL} start --subbuf-size 256k --subbufs 16 --probes ${probes}`);
      await v.run(cmd, { timeoutMs: 120_000 });
      await v.run(`${CTL} stop`);
      const t = (await stats(v)).total;
      return t.bytes_written / t.events_written;
    };
    const getppid = await measure(`${WORKLOAD} getppid 50000`);
    const pingpong = await measure(`taskset -c 1 ${WORKLOAD} pingpong 5000`);
    // Cost of one test event (reserve + 16..28 bytes + commit) in this TCG guest, for the record.
    await reload(v, 'test_hooks=1');
    await v.run(`${CTL} start --subbuf-size 256k --subbufs 16 --probes none`);
    const t = await v.run(
      `s=$(date +%s%N); ${TEST_EVENTS} emit 200000 --cpu 1 > /dev/null; echo $(( $(date +%s%N) - s ))`,
    );
    console.log(
      `bytes/event: getppid ${getppid.toFixed(2)} (LTTng 10.2), ` +
        `pipe ping-pong ${pingpong.toFixed(2)} (LTTng 34.1); ` +
        `test event cost under TCG ${(Number(t.trim()) / 200000).toFixed(0)} ns incl. process start`,
    );
    expect(getppid).toBeLessThanOrEqual(0.7 * 10.2);
    expect(pingpong).toBeLessThanOrEqual(0.4 * 34.1);
  }, 300_000);

  it('decodes ioctls by the table: unknown, read-only, and before configure', async () => {
    const v = vm();
    await reload(v);
    // Raw _IOC numbers, so nothing here comes from the header under test.
    const out = await v.run(`python3 - <<'EOF'
import errno, fcntl, json, os
def ioc(nr, d=0, size=0, magic=0xE7):
    return (d << 30) | (size << 16) | (magic << 8) | nr
def call(fd, cmd):
    try:
        fcntl.ioctl(fd, cmd, 0)
        return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
ro = os.open('/dev/rewind', os.O_RDONLY)
rw = os.open('/dev/rewind', os.O_RDWR)
print(json.dumps({
    'ro_start': call(ro, ioc(0x02)),
    'ro_unknown_nr': call(ro, ioc(0x20)),
    'ro_start_other_size': call(ro, ioc(0x02, 2, 8)),
    'rw_start_unconfigured': call(rw, ioc(0x02)),
    'rw_flush_unconfigured': call(rw, ioc(0x05)),
    'rw_next_nr': call(rw, ioc(0x0c)),
    'rw_other_magic': call(rw, ioc(0x02, magic=0xE8)),
    'rw_configure_other_size': call(rw, ioc(0x01, 1, 8)),
}))
EOF`);
    expect(JSON.parse(out)).toEqual({
      ro_start: 'EPERM',
      ro_unknown_nr: 'ENOTTY',
      ro_start_other_size: 'ENOTTY',
      rw_start_unconfigured: 'ENODEV',
      rw_flush_unconfigured: 'ENODEV',
      rw_next_nr: 'ENOTTY',
      rw_other_magic: 'ENOTTY',
      rw_configure_other_size: 'ENOTTY',
    });
  }, 120_000);

  it('survives 100000 random ioctls and random mmaps, and works afterwards', async () => {
    const v = vm();
    await reload(v);
    await v.run(`${CTL} start --subbuf-size 4096 --subbufs 4 > /dev/null`);
    const f = await json<{ ioctls: number; mmaps: number; mmap_ok: number; enotty: number }>(
      v,
      `${FUZZ} 100000 5000 4242`,
      250_000,
    );
    console.log(`fuzz: ${JSON.stringify(f)}`);
    expect(f.ioctls).toBe(100000);
    expect(f.enotty).toBeGreaterThan(0);
    expect(f.mmap_ok).toBeGreaterThan(0);
    // Still a working recorder: configure, trace, snapshot, decode.
    await v.run(`${CTL} start --subbuf-size 16k --subbufs 8 --probes all > /dev/null`);
    await v.run('ls -R /usr/share/doc > /dev/null');
    await v.run(`${CTL} snapshot /tmp/after-fuzz > /dev/null`);
    const c = await check(v, '/tmp/after-fuzz');
    expect(c.corrupt).toBe(0);
    expect(c.events).toBeGreaterThan(100);
    expect((await babeltrace(v, '/tmp/after-fuzz')).code).toBe(0);
    await v.run(`${CTL} stop && busybox rmmod rewind`);
  }, 400_000);
});
