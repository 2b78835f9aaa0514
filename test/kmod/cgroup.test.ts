// What the agent needs from the module to name containers, in one VM (2 vCPUs, the real module,
// babeltrace2 as the judge): sched_process_cgroup (format 2) names the cgroup v2 id of a thread at
// its fork and at its exec, so a thread that exited before the snapshot (absent from the
// statedump) can still be put in its container; and the module's ABI and format versions are
// readable in sysfs without opening the device, and cannot be set at load.
import { useVm } from '../vm/jest';
import type { Vm } from '../vm/vm';
import {
  babeltrace,
  buildHelpers,
  CTL,
  headerVersions,
  KO,
  reload,
  validSnapshot,
} from './kmod-helpers';

/** One decoded sched_process_cgroup, in trace order. */
interface CgroupEvent {
  tid: number;
  pid: number;
  cgroupId: number;
}

/** The sched_process_cgroup events babeltrace2 printed into `${dir}.txt`, in trace order. */
async function cgroupEvents(v: Vm, dir: string): Promise<CgroupEvent[]> {
  const out = await v.run(`grep ' sched_process_cgroup: ' ${dir}.txt || true`);
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const m = /\{ tid = (-?\d+), pid = (-?\d+), cgroup_id = (\d+) \}$/.exec(l);
      if (!m) throw new Error(`babeltrace2 printed a sched_process_cgroup it cannot be: ${l}`);
      return { tid: Number(m[1]), pid: Number(m[2]), cgroupId: Number(m[3]) };
    });
}

/** The cgroup ids recorded for one thread, in trace order. */
const idsOf = (events: CgroupEvent[], tid: number): number[] =>
  events.filter((e) => e.tid === tid).map((e) => e.cgroupId);

/** Lines of babeltrace2's text output for `event` whose payload has `field = value`. */
async function countEvents(v: Vm, dir: string, event: string, field: string, value: number) {
  const out = await v.run(`grep -c ' ${event}: .*[{ ]${field} = ${value}[ ,]' ${dir}.txt || true`);
  return Number(out.trim());
}

const PROBES = 'sched_process_fork,sched_process_exec,sched_process_exit';

describe('rewind.ko names the cgroup of every thread it saw fork or exec', () => {
  const vm = useVm({ cpus: 2, memoryMiB: 1024 });
  // A cgroup of this run's own: a name no earlier run left behind.
  const cg = `/sys/fs/cgroup/rewind-test-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    // snapshot-check, built from this tree's format.h (validSnapshot runs it).
    buildHelpers();
    // The guest's init mounts cgroup2 at /sys/fs/cgroup; mount it here if that failed.
    await vm().run(
      "grep -q '^[^ ]* /sys/fs/cgroup cgroup2 ' /proc/mounts || " +
        'mount -t cgroup2 none /sys/fs/cgroup',
    );
  });

  it('a thread that exited before the snapshot is named by sched_process_cgroup alone', async () => {
    const v = vm();
    await reload(v);
    await v.run(`${CTL} start --subbuf-size 64k --subbufs 32 --probes ${PROBES}`);
    const rootId = Number((await v.run('stat -c %i /sys/fs/cgroup')).trim());
    // This shell is in the root cgroup, so what it forks below starts there.
    expect((await v.run('cat /proc/self/cgroup')).trim()).toBe('0::/');
    await v.run(
      `set -e
       mkdir ${cg}
       cp /bin/dash /tmp/cgt-sh
       cp /bin/sleep /tmp/cgt-child
       # As a container runtime does: move into the cgroup, then exec. The shell then forks
       # a child that execs and exits, and a sleeper that outlives the snapshot (its output
       # away from this command's, which would otherwise stay open until it ends).
       sh -c 'echo $$ > /tmp/cgt-shell.pid; echo $$ > ${cg}/cgroup.procs
              exec /tmp/cgt-sh -c "
                /tmp/cgt-child 600 < /dev/null > /dev/null 2>&1 & echo \\$! > /tmp/cgt-live.pid
                /tmp/cgt-child 0.05 & echo \\$! > /tmp/cgt-child.pid; wait \\$!"'
       # A fork and exec in the root cgroup, which exits too.
       /tmp/cgt-child 0.01 & echo $! > /tmp/cgt-root.pid; wait $!`,
      { timeoutMs: 60_000 },
    );
    const [cgId, shell, child, live, rootChild] = (
      await v.run(
        `stat -c %i ${cg}; cat /tmp/cgt-shell.pid /tmp/cgt-child.pid /tmp/cgt-live.pid ` +
          '/tmp/cgt-root.pid',
      )
    )
      .trim()
      .split('\n')
      .map(Number) as [number, number, number, number, number];
    expect(cgId).not.toBe(rootId);
    // The child and the shell are gone; the sleeper is alive in the cgroup.
    await v.run(`! test -d /proc/${child} && ! test -d /proc/${shell}`);
    expect((await v.run(`cat /proc/${live}/cgroup`)).trim()).toBe(`0::/${cg.split('/').pop()}`);

    const dir = '/tmp/cgroup-snap';
    await validSnapshot(v, dir);
    // The sleeper is an orphan now: whether its reaper reaps it is not ours to know, but a
    // cgroup is empty once its last task exited, zombie or not.
    await v.run(
      `kill ${live}; for i in $(seq 100); do rmdir ${cg} 2>/dev/null && break; sleep 0.05; done
       ! test -d ${cg}`,
    );
    await v.run(`${CTL} stop`);
    const events = await cgroupEvents(v, dir);

    // The child exited before the snapshot: the statedump does not know it, but its fork and
    // its exec are there, each followed by the cgroup it was in: the test cgroup's inode.
    expect(await countEvents(v, dir, 'statedump_process', 'tid', child)).toBe(0);
    expect(await countEvents(v, dir, 'sched_process_fork', 'child_tid', child)).toBe(1);
    expect(await countEvents(v, dir, 'sched_process_exec', 'tid', child)).toBe(1);
    expect(await countEvents(v, dir, 'sched_process_exit', 'tid', child)).toBe(1);
    expect(idsOf(events, child)).toEqual([cgId, cgId]);
    expect(events.find((e) => e.tid === child)?.pid).toBe(child);

    // The shell was forked in the root cgroup and exec'd sh there, moved, and exec'd again:
    // that exec is where the container's cgroup is first seen.
    expect(await countEvents(v, dir, 'statedump_process', 'tid', shell)).toBe(0);
    expect(idsOf(events, shell)).toEqual([rootId, rootId, cgId]);
    // A fork in the root cgroup gives the root's id, at fork and at exec.
    expect(idsOf(events, rootChild)).toEqual([rootId, rootId]);

    // The statedump and the new event name cgroups alike: the sleeper, alive at the snapshot,
    // is in the statedump with the same id its fork and exec carried; init is in the root.
    expect(idsOf(events, live)).toEqual([cgId, cgId]);
    const dumped = async (tid: number): Promise<string> =>
      v.run(`grep ' statedump_process: .*{ tid = ${tid}, ' ${dir}.txt`);
    expect(await dumped(live)).toContain(`cgroup_id = ${cgId},`);
    expect(await dumped(1)).toContain(`cgroup_id = ${rootId},`);
  }, 300_000);

  it('rides on the fork and exec probes: without them no sched_process_cgroup', async () => {
    const v = vm();
    await reload(v);
    await v.run(`${CTL} start --subbuf-size 64k --subbufs 16 --probes sched_process_exit`);
    await v.run('/bin/sleep 0.01 & echo $! > /tmp/cgt-off.pid; wait $!');
    const pid = Number((await v.run('cat /tmp/cgt-off.pid')).trim());
    const dir = '/tmp/cgroup-off';
    await validSnapshot(v, dir);
    await v.run(`${CTL} stop`);
    // The workload ran and was recorded, but with neither bit no cgroup event was written.
    expect(await countEvents(v, dir, 'sched_process_exit', 'tid', pid)).toBe(1);
    expect((await babeltrace(v, dir)).names.get('sched_process_cgroup') ?? 0).toBe(0);
    expect(await cgroupEvents(v, dir)).toEqual([]);
  }, 300_000);

  it('reports its ABI and format versions in sysfs, and refuses them at load', async () => {
    const v = vm();
    const want = headerVersions();
    await reload(v);
    const params = '/sys/module/rewind/parameters';
    expect((await v.run(`cat ${params}/abi_version`)).trim()).toBe(String(want.abi));
    expect((await v.run(`cat ${params}/format_version`)).trim()).toBe(String(want.format));
    // The device says the same (what the agent checks once it may open it).
    const info = JSON.parse(await v.run(`${CTL} info`)) as { abi: number; format: number };
    expect(info).toMatchObject({ abi: want.abi, format: want.format });
    expect((await v.run(`stat -c %a ${params}/abi_version ${params}/format_version`)).trim()).toBe(
      '444\n444',
    );
    // Not even root can set one through sysfs: a 0444 parameter has no store.
    const write = await v.exec(`echo 7 > ${params}/abi_version`);
    expect(write.code).not.toBe(0);
    expect((await v.run(`cat ${params}/abi_version`)).trim()).toBe(String(want.abi));

    // At load, a value is refused: insmod fails, the module is not loaded, the log says why.
    for (const param of ['abi_version', 'format_version']) {
      const r = await v.exec(`busybox rmmod rewind; busybox insmod ${KO} ${param}=7`);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Invalid argument/);
      await v.run('! test -d /sys/module/rewind');
      const log = await v.kernelLog();
      expect(log).toContain(`rewind: parameter ${param} is read-only`);
    }
    // And the module still loads and records afterwards.
    await reload(v);
    expect((await v.run(`cat ${params}/abi_version`)).trim()).toBe(String(want.abi));
  }, 300_000);
});
