// The session layer's concurrency rules in one VM (2 vCPUs): copies to user memory never hold a
// lock that ->mmap or a control command needs (a copy parked on a userfaultfd page must not stop
// an mmap or a reconfigure), the rings of a replaced session live until its last copy ends, and
// the smaller rules of the ABI (the snapshot window, the mapping's permissions, the host name).
import { useVm } from '../vm/jest';
import { buildHelpers, CTL, json, reload, stats, TEST_EVENTS, UFFD_COPY } from './kmod-helpers';

interface UffdResult {
  completed: boolean;
  stage?: string;
  a?: string;
  b?: string;
  handler?: string;
  a_ret: number;
  a_errno: number;
  packets?: number;
  magic_ok?: boolean;
  metadata_size?: number;
  metadata_ok?: boolean;
  b_ret: number;
  b_errno: number;
  b_first: boolean;
  b_magic_ok?: boolean;
  faults: number;
}

// The reproducer gives up after this many seconds and reports the stuck threads' stacks.
const HANG_S = 30;

describe('rewind.ko session', () => {
  const vm = useVm({ cpus: 2, memoryMiB: 1024 });
  beforeAll(() => {
    buildHelpers();
  });

  const uffd = async (mode: string): Promise<UffdResult> => {
    const r = await json<UffdResult>(vm(), `${UFFD_COPY} ${mode} ${HANG_S}`, (HANG_S + 60) * 1000);
    console.log(`uffd-copy ${mode}: ${JSON.stringify(r)}`);
    return r;
  };

  it(
    'maps the device while a snapshot copy waits on a userfaultfd page (no deadlock)',
    async () => {
      await reload(vm());
      const r = await uffd('snapshot');
      // Before the fix: A held rewind_mutex in the fault, B waited for it holding mmap_lock.
      expect(r.completed).toBe(true);
      expect(r.b_first).toBe(true); // the mmap did not wait for the copy
      expect(r.b_ret).toBe(0);
      expect(r.b_magic_ok).toBe(true);
      expect(r.a_ret).toBe(0);
      expect(r.packets).toBeGreaterThan(0);
      expect(r.magic_ok).toBe(true);
      expect(r.faults).toBeGreaterThan(0);
    },
    (HANG_S + 90) * 1000,
  );

  it(
    'maps the device while a metadata copy waits on a userfaultfd page',
    async () => {
      await reload(vm());
      const r = await uffd('metadata');
      expect(r.completed).toBe(true);
      expect(r.b_first).toBe(true);
      expect(r.b_ret).toBe(0);
      expect(r.a_ret).toBe(0);
      expect(r.metadata_ok).toBe(true);
      expect(r.metadata_size).toBeGreaterThan(1000);
    },
    (HANG_S + 90) * 1000,
  );

  it(
    'reconfigures while a snapshot copy of the old rings is parked, and the copy completes',
    async () => {
      await reload(vm());
      const r = await uffd('reconfigure');
      expect(r.completed).toBe(true);
      expect(r.b_ret).toBe(0);
      expect(r.b_first).toBe(true); // configure did not wait for the copy
      // The copy finished on the old session's rings, which outlived the reconfigure.
      expect(r.a_ret).toBe(0);
      expect(r.packets).toBeGreaterThan(0);
      expect(r.magic_ok).toBe(true);
      // The new session is in place, and the module unloads cleanly after the parked copy.
      const info = await vm().run(`${CTL} info`);
      expect(info).toMatch(/"subbuf_size": ?8192/);
      await vm().run('busybox rmmod rewind');
    },
    (HANG_S + 90) * 1000,
  );

  // Raw _IOC numbers and struct layouts below, so nothing comes from the header under test.
  const PY_PRELUDE = `
import ctypes, errno, fcntl, json, mmap, os, struct
def ioc(nr, d=0, size=0):
    return (d << 30) | (size << 16) | (0xE7 << 8) | nr
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
`;

  it('counts no skipped packet for the open one: the window ends where it begins', async () => {
    const v = vm();
    await reload(v, 'test_hooks=1');
    // 4 x 4 KiB, lapped many times, and a packet left open (no flush: stop does not close it).
    await v.run(`${CTL} start --subbuf-size 4096 --subbufs 4 --probes none > /dev/null`);
    await v.run(`${TEST_EVENTS} emit 5000 --cpu 0 > /dev/null`);
    await v.run(`${CTL} stop`);
    const cpu0 = (await stats(v)).cpus[0]!;
    expect(cpu0.write_pos % 4096).not.toBe(0); // a packet is open
    const out = await v.run(`python3 - <<'EOF'${PY_PRELUDE}
fd = os.open('/dev/rewind', os.O_RDWR)
buf = ctypes.create_string_buffer(1 << 20)
# struct rewind_snapshot: cpu, flags, addr, len, then bytes, packets, skipped, first_seq, last_seq
req = bytearray(struct.pack('<IIQQ', 0, 0, ctypes.addressof(buf), len(buf)) + bytes(96 - 24))
r = [fcntl.ioctl(fd, ioc(0x0a, 3, 96), req) for _ in range(3)]
_, _, _, _, nbytes, packets, skipped, first, last = struct.unpack_from('<IIQQQQQQQ', req)
print(json.dumps({'packets': packets, 'skipped': skipped, 'first_seq': first, 'last_seq': last}))
EOF`);
    const snap = JSON.parse(out) as {
      packets: number;
      skipped: number;
      first_seq: number;
      last_seq: number;
    };
    // Every packet of the window but the open one's sub-buffer, none counted as skipped (before
    // the fix: 1 on every snapshot).
    expect(snap.skipped).toBe(0);
    expect(snap.packets).toBe(3);
    // The packets before the window are exactly the overwritten ones, the open one included.
    expect(snap.first_seq).toBe(cpu0.packets_overwritten);
    expect(snap.last_seq + 2).toBe(cpu0.subbuf_switches);
  }, 180_000);

  it('maps the rings read-only and never executable', async () => {
    const v = vm();
    await reload(v);
    await v.run(`${CTL} configure --subbuf-size 4096 --subbufs 4 --probes none > /dev/null`);
    // On a noexec mount the kernel itself would refuse PROT_EXEC: the test would prove nothing.
    expect(await v.run("grep -E '^[^ ]+ /dev ' /proc/mounts")).not.toMatch(/noexec/);
    const out = await v.run(`python3 - <<'EOF'${PY_PRELUDE}
PROT_READ, PROT_WRITE, PROT_EXEC, MAP_SHARED = 1, 2, 4, 1
fd = os.open('/dev/rewind', os.O_RDONLY)
def mapping(prot):
    a = libc.mmap(None, 4096, prot, MAP_SHARED, fd, 0)
    return a if a not in (None, ctypes.c_void_p(-1).value) else -ctypes.get_errno()
def protect(a, prot):
    return 'ok' if libc.mprotect(a, 4096, prot) == 0 else errno.errorcode[ctypes.get_errno()]
ro = mapping(PROT_READ)
res = {
    'read': ro > 0,
    'mprotect_exec': protect(ro, PROT_READ | PROT_EXEC),
    'mprotect_write': protect(ro, PROT_READ | PROT_WRITE),
    'mmap_exec': errno.errorcode.get(-mapping(PROT_READ | PROT_EXEC), 'mapped'),
}
print(json.dumps(res))
EOF`);
    expect(JSON.parse(out)).toEqual({
      read: true,
      mprotect_exec: 'EACCES',
      mprotect_write: 'EACCES',
      mmap_exec: 'EPERM',
    });
  }, 120_000);

  it("names the host, not the caller's UTS namespace, in the metadata", async () => {
    const v = vm();
    await reload(v);
    const host = (await v.run('uname -n')).trim().replace(/[^A-Za-z0-9._-]/g, '_');
    // A container: its own UTS namespace with the pod's name.
    const md = await v.run(
      `unshare -u sh -c 'echo pod-7f9c > /proc/sys/kernel/hostname && uname -n && ` +
        `${CTL} configure --probes none > /dev/null && ${CTL} metadata'`,
    );
    expect(md.split('\n')[0]).toBe('pod-7f9c'); // the namespace took
    expect(host).not.toBe('pod-7f9c');
    expect(md).toContain(`hostname = "${host}";`);
  }, 120_000);
});
