// The kernel matrix (issue 14): rewind.ko built for Debian 11's 5.10 and Debian 12 backports' 6.12
// against the headers fetched with each image, each kernel booted in its own VM (2 vCPUs): the
// build has no warning, the clock is the NMI-safe one, the module loads and unloads cleanly,
// records a mixed workload that babeltrace2 reads without a warning, keeps every snapshot
// consistent through a short stress, and unloads. Debian 12's 6.1 (the host's kernel) has the full
// suites (kmod.test.ts, stress.test.ts…); here it only has its clock checked at build time.
// Run with `npm run test:kernels`; `npm test` leaves it out (REWIND_KERNEL_MATRIX gates it).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useVm } from '../vm/jest';
import { KERNEL_SERIES, projectRoot, resolveKernel, type Kernel } from '../vm/kernel';
import {
  babeltrace,
  buildHelpers,
  check,
  CTL,
  json,
  SNAPSHOT_CHECK,
  stats,
  TEST_EVENTS,
  uapiTable,
} from './kmod-helpers';
import {
  buildModuleFor,
  MATRIX_TCP_PORT,
  MATRIX_WORKLOAD,
  silentProbes,
  type ModuleBuild,
} from './matrix-helpers';

const GATED = process.env.REWIND_KERNEL_MATRIX !== '1';
const describeMatrix = GATED ? describe.skip : describe;
const STRESS_SECONDS = 15;

/** The symbols of kind `U` (imported from the kernel) in a module file. */
function imports(ko: string): string[] {
  const r = spawnSync('nm', ['-u', ko], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nm -u ${ko} failed: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[1])
    .filter((s): s is string => s !== undefined);
}

// The probe path reads the clock in any context, NMI included: it must be the fast accessor
// (ktime_get_mono_fast_ns reads a seqcount-latched copy of the timekeeper and never spins), on
// every kernel. The only other time read is the metadata's wall-clock offset (ktime_get_real_ns,
// an inline over ktime_get_with_offset), taken in process context when a snapshot is written.
describeMatrix('the clock rewind.ko reads, on every kernel of the matrix', () => {
  it.each(KERNEL_SERIES.map((s) => [s]))(
    '%s: ktime_get_mono_fast_ns, exported',
    (series) => {
      const kernel = resolveKernel(series);
      const build = buildModuleFor(kernel);
      const clocks = imports(build.ko).filter((s) => /clock|ktime|jiffies|tsc/.test(s));
      expect(clocks.sort()).toEqual(['ktime_get_mono_fast_ns', 'ktime_get_with_offset']);
      const symvers = readFileSync(join(kernel.kdir, 'Module.symvers'), 'utf8');
      expect(symvers).toMatch(/\tktime_get_mono_fast_ns\tvmlinux\tEXPORT_SYMBOL_GPL/);
    },
    300_000,
  );
});

// `npm run vm -- --kernel SERIES`, run as a person runs it.
describeMatrix('npm run vm -- --kernel', () => {
  it.each([['5.10'], ['6.12']])(
    '%s boots that kernel',
    (series) => {
      const r = spawnSync('npm', ['run', '-s', 'vm', '--', '--kernel', series, 'uname', '-r'], {
        cwd: projectRoot,
        encoding: 'utf8',
        timeout: 170_000,
      });
      expect(r.stdout.trim()).toBe(resolveKernel(series).release);
      expect(r.stdout.trim().startsWith(`${series}.`)).toBe(true);
      expect(r.status).toBe(0);
    },
    180_000,
  );
});

describeMatrix.each(['5.10', '6.12'])("rewind.ko on Debian's %s kernel", (series) => {
  const vm = useVm({
    kernel: series,
    cpus: 2,
    memoryMiB: 1024,
    name: `matrix-${series.replace('.', '-')}`,
  });
  let kernel: Kernel;
  let build: ModuleBuild;
  let ko = '';
  beforeAll(() => {
    buildHelpers();
    kernel = resolveKernel(series);
    build = buildModuleFor(kernel);
    ko = build.ko;
  }, 600_000);

  it('builds against the headers of the booted image with no warning', async () => {
    expect(build.log).toContain('rewind.ko');
    expect(build.log).not.toMatch(/warning|error/i);
    expect((await vm().run('uname -r')).trim()).toBe(kernel.release);
    const vermagic = spawnSync('modinfo', ['-F', 'vermagic', ko], { encoding: 'utf8' }).stdout;
    expect(vermagic.split(' ')[0]).toBe(kernel.release);
    // The running kernel has the clock the module imports.
    expect(await vm().run('grep -cw ktime_get_mono_fast_ns /proc/kallsyms')).not.toBe('0\n');
  });

  it('loads and unloads 5 times cleanly', async () => {
    const out = await vm().run(
      `busybox rmmod rewind 2>/dev/null
       for i in $(seq 5); do busybox insmod ${ko} && busybox rmmod rewind || exit 1; done
       dmesg | grep -c 'rewind: loaded, ABI 1'`,
      { timeoutMs: 120_000 },
    );
    expect(Number(out.trim())).toBe(5);
    const log = await vm().kernelLog();
    expect(log.split('\n').filter((l) => /rewind: unloaded/.test(l))).toHaveLength(5);
  }, 180_000);

  it('records a mixed workload that babeltrace2 reads with every probe present', async () => {
    const v = vm();
    await v.run(`busybox insmod ${ko}`);
    // null_blk from the fetched kernel's own modules (the guest's /lib/modules is the host's).
    await v.run(`modprobe -d ${kernel.modulesRoot} null_blk nr_devices=1 && test -b /dev/nullb0`);
    await v.run(
      `${CTL} start --subbuf-size 64k --subbufs 32 --probes all --hostname matrix-${series}`,
    );
    await v.run(MATRIX_WORKLOAD, { timeoutMs: 200_000 });
    const pid = Number((await v.run('cat /tmp/mx-sleeper.pid')).trim());
    const snap = await json<{ packets: number }>(v, `${CTL} snapshot /tmp/mx`);
    expect(snap.packets).toBeGreaterThan(0);
    const st = await stats(v);
    await v.run(`${CTL} stop`);
    expect(st.total.events_written).toBeGreaterThan(0);

    const c = await check(v, '/tmp/mx');
    expect(c.corrupt).toBe(0);
    expect(c.time_backwards).toBe(0);
    expect(c.packet_gaps).toBe(0);
    const bt = await babeltrace(v, '/tmp/mx');
    expect(bt.stderr).toBe('');
    expect(bt.code).toBe(0);
    expect(bt.warnings).toBe(0);
    expect([...bt.names.values()].reduce((a, b) => a + b, 0)).toBe(c.events);
    expect(silentProbes(uapiTable('REWIND_PROBE_TABLE'), bt.names)).toEqual([]);
    for (const n of ['statedump_start', 'statedump_process', 'statedump_end']) {
      expect(bt.names.get(n) ?? 0).toBeGreaterThan(0);
    }
    const exec = await v.run(
      `grep ' sched_process_exec: ' /tmp/mx.txt | grep 'tid = ${pid},' || true`,
    );
    expect(exec).toContain('comm = "mx-sleeper"');
    const tcp = await v.run(
      `grep -E '_tcp4: .*(sport|dport) = ${MATRIX_TCP_PORT},' /tmp/mx.txt | head -2`,
    );
    expect(tcp).toMatch(/net_dev_queue_tcp4: .*saddr = 0x7F000001/);
    console.log(
      `${kernel.release}: ${st.total.events_written} events, ` +
        `${(st.total.bytes_written / st.total.events_written).toFixed(2)} B/event`,
    );
    await v.run('busybox rmmod rewind');
  }, 400_000);

  it(
    `keeps every snapshot consistent through ${STRESS_SECONDS} s of nested writers, then unloads`,
    async () => {
      const v = vm();
      await v.run(`busybox insmod ${ko} test_hooks=1`);
      await v.run(`${CTL} start --subbuf-size 4096 --subbufs 16 --probes all > /dev/null`);
      await v.run(`${TEST_EVENTS} timer start 200000 4 > /dev/null`);
      await v.run(
        `for c in $(seq 0 $(($(nproc)-1))); do
         setsid ${TEST_EVENTS} emit 1000 --cpu $c --seconds ${STRESS_SECONDS} > /tmp/mx-emit$c.json 2>&1 &
       done`,
      );
      const loop = await json<{
        snapshots: number;
        corrupt: number;
        test_bad: number;
        test_out_of_order: number;
        time_backwards: number;
        packet_gaps: number;
        test_ctx: number[];
      }>(
        v,
        `${SNAPSHOT_CHECK} --loop ${STRESS_SECONDS} /tmp/mx-last`,
        (STRESS_SECONDS + 60) * 1000,
      );
      await v.run('while pgrep -f "test-events[ ]emit" > /dev/null; do sleep 0.2; done', {
        timeoutMs: 60_000,
      });
      const timer = await json<{ emitted: number }>(v, `${TEST_EVENTS} timer stop`);
      console.log(`${kernel.release} stress: ${JSON.stringify(loop)}, timer ${timer.emitted}`);
      expect(loop.corrupt).toBe(0);
      expect(loop.test_bad).toBe(0);
      expect(loop.test_out_of_order).toBe(0);
      expect(loop.time_backwards).toBe(0);
      expect(loop.packet_gaps).toBe(0);
      expect(loop.snapshots).toBeGreaterThanOrEqual(2);
      expect(loop.test_ctx[0]).toBeGreaterThan(0); // process context
      expect(loop.test_ctx[1]).toBeGreaterThan(0); // softirq context
      expect(loop.test_ctx[2]).toBeGreaterThan(0); // hardirq context
      expect(timer.emitted).toBeGreaterThan(0);
      const bt = await babeltrace(v, '/tmp/mx-last');
      expect(bt.code).toBe(0);
      expect(bt.stderr).toBe('');
      await v.run(`${CTL} stop && busybox rmmod rewind`);
      expect(await v.run('busybox lsmod | grep -c "^rewind " || true')).toBe('0\n');
      expect(
        (await v.kernelLog()).split('\n').filter((l) => /rewind: unloaded/.test(l)).length,
      ).toBeGreaterThan(5);
    },
    (STRESS_SECONDS + 240) * 1000,
  );
});
