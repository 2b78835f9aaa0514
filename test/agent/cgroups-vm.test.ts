/**
 * scanCgroups on a real cgroup2 hierarchy (Debian's kernel in qemu): on a kubepods tree laid out
 * as the kubelet and containerd (systemd driver) and CRI-O (cgroupfs driver) make it, every id is
 * the directory's inode (`stat -c %i`, which test/kmod/cgroup.test.ts holds equal to the module's
 * cgroup_id) and the cgroup the kernel names for a process in a container (/proc/PID/cgroup) is
 * parsed to its pod and container; the same hierarchy mounted again at a hybrid host's
 * `unified/` has the same ids; scans racing with cgroups being created and removed never fail.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { useVm } from '../vm/jest';
import type { Vm } from '../vm/vm';

const ROOT = resolve(__dirname, '../..');
// The guest script and the code it runs, transpiled here: loading the TypeScript compiler in
// the guest (test/ts-register.js) costs about a minute per node start under TCG. A folder of
// this process's own, which the guest sees through the read-only host root.
const OUT = join(ROOT, 'test-output', 'cgroups-vm', String(process.pid));
const GUEST = `node ${OUT}/test/agent/cgroups-vm-guest.js`;

function transpileForGuest(): void {
  const sources = [
    ...readdirSync(join(ROOT, 'agent/cgroups'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `agent/cgroups/${f}`),
    'test/agent/cgroups-vm-guest.ts',
  ];
  for (const source of sources) {
    const { outputText } = ts.transpileModule(readFileSync(join(ROOT, source), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
      fileName: source,
    });
    const out = join(OUT, source.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
}
const UID = '7b0b5e4c-1d7a-4d2e-9f3c-8a1b2c3d4e5f';
const UID2 = 'c2f1a9e0-5b6d-4e7f-8a9b-0c1d2e3f4a5b';
const ID = 'a3c1e5f7b9d2046813579bdf02468ace13579bdf02468ace13579bdf02468ace';
const ID2 = 'b'.repeat(64);
const POD_SLICE = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replace(/-/g, '_')}.slice`;
const SCOPE = `${POD_SLICE}/cri-containerd-${ID}.scope`;
const SUB = `${SCOPE}/workers`;
const CRIO = `/kubepods/besteffort/pod${UID2}/crio-${ID2}`;
const CONMON = `/kubepods/besteffort/pod${UID2}/crio-conmon-${ID2}`;
const CREATED = [POD_SLICE, SCOPE, SUB, CRIO, CONMON];

interface GuestScan {
  version: 1 | 2 | 'unknown';
  unifiedRoot?: string;
  complete: boolean;
  reason?: string;
  cgroups: { id: string; path: string; ref: Record<string, string> | null }[];
  scans: number;
  completeScans: number;
  vanishedTotal: number;
}

async function scan(v: Vm, root: string, scans = 1): Promise<GuestScan> {
  return JSON.parse(await v.run(`${GUEST} ${root} ${scans}`, { timeoutMs: 120_000 })) as GuestScan;
}

const inode = async (v: Vm, path: string) => (await v.run(`stat -c %i '${path}'`)).trim();

describe('scanCgroups on a real cgroup2 hierarchy', () => {
  beforeAll(transpileForGuest);
  afterAll(() => rmSync(OUT, { recursive: true, force: true }));
  const vm = useVm({ cpus: 2, memoryMiB: 1024 });

  beforeAll(async () => {
    // The guest's init mounts cgroup2 at /sys/fs/cgroup; mount it here if that failed.
    await vm().run(
      "grep -q '^[^ ]* /sys/fs/cgroup cgroup2 ' /proc/mounts || " +
        'mount -t cgroup2 none /sys/fs/cgroup',
    );
    await vm().run(CREATED.map((p) => `mkdir -p '/sys/fs/cgroup${p}'`).join(' && '));
  });

  test('ids are the inodes, and a process in a container is named by its cgroup', async () => {
    const v = vm();
    // A "container" process, as a runtime starts one: in its cgroup, then exec.
    const pid = (
      await v.run(
        `sh -c 'echo $$ > /sys/fs/cgroup${SUB}/cgroup.procs; exec sleep 600' ` +
          '</dev/null >/dev/null 2>&1 & echo $!',
      )
    ).trim();
    const result = await scan(v, '/sys/fs/cgroup');
    expect(result).toMatchObject({ version: 2, unifiedRoot: '/sys/fs/cgroup', complete: true });
    for (const path of ['/', ...CREATED]) {
      expect(result.cgroups.find((c) => c.path === path)?.id).toBe(
        await inode(v, `/sys/fs/cgroup${path}`),
      );
    }
    // What the kernel says the process's cgroup is, as the statedump's id would name it.
    const procCgroup = (await v.run(`cat /proc/${pid}/cgroup`)).trim();
    expect(procCgroup).toBe(`0::${SUB}`);
    const own = result.cgroups.find((c) => c.path === SUB)!;
    expect(own.ref).toEqual({
      kind: 'container',
      podUid: UID,
      containerId: ID,
      runtime: 'containerd',
      qosClass: 'burstable',
      driver: 'systemd',
    });
    expect(result.cgroups.find((c) => c.path === CRIO)?.ref).toMatchObject({
      kind: 'container',
      podUid: UID2,
      runtime: 'cri-o',
      driver: 'cgroupfs',
    });
    expect(result.cgroups.find((c) => c.path === CONMON)?.ref).toMatchObject({ kind: 'conmon' });
    expect(result.cgroups.find((c) => c.path === '/kubepods.slice')?.ref).toBeNull();

    // The container exits and its cgroups are removed: the next scan no longer lists them.
    await v.run(`kill ${pid}; while kill -0 ${pid} 2>/dev/null; do sleep 0.05; done`);
    await v.run(`rmdir /sys/fs/cgroup${SUB} /sys/fs/cgroup${SCOPE}`);
    const after = await scan(v, '/sys/fs/cgroup');
    expect(after.complete).toBe(true);
    expect(after.cgroups.map((c) => c.path)).not.toContain(SCOPE);
    expect(after.cgroups.map((c) => c.id)).not.toContain(own.id);
  });

  test('a hybrid host: cgroup v1 at the root, the same ids under its unified/', async () => {
    const v = vm();
    await v.run(
      `set -e; mkdir -p /tmp/hybrid; mount -t tmpfs none /tmp/hybrid
       mkdir /tmp/hybrid/systemd /tmp/hybrid/unified
       mount -t cgroup -o none,name=rewindtest cgroup /tmp/hybrid/systemd
       mount -t cgroup2 none /tmp/hybrid/unified`,
    );
    try {
      const result = await scan(v, '/tmp/hybrid');
      expect(result).toMatchObject({ version: 1, unifiedRoot: '/tmp/hybrid/unified' });
      const pod = result.cgroups.find((c) => c.path === POD_SLICE);
      expect(pod?.id).toBe(await inode(v, `/sys/fs/cgroup${POD_SLICE}`));
      expect(pod?.ref).toMatchObject({ kind: 'pod', podUid: UID });
      // A cgroup v1 hierarchy alone (no unified/): version 1, nothing named, a reason.
      const v1 = await scan(v, '/tmp/hybrid/systemd');
      expect(v1).toMatchObject({ version: 1, cgroups: [], complete: false });
      expect(v1.reason).toMatch(/cgroup v1 with no cgroup2 mount/);
    } finally {
      await v.run('umount /tmp/hybrid/systemd /tmp/hybrid/unified /tmp/hybrid');
    }
  });

  test('scans racing with cgroups created and removed never fail', async () => {
    const v = vm();
    const churn = `/sys/fs/cgroup/kubepods/besteffort/pod${UID2}`;
    // Containers coming and going as fast as a shell can make them, under the scans' feet.
    const churner = (
      await v.run(
        `sh -c 'i=0; while :; do i=$((i + 1)); d=${churn}/c$((i % 8)); ` +
          `mkdir -p $d/a/b 2>/dev/null; rmdir $d/a/b $d/a $d 2>/dev/null; done' ` +
          '</dev/null >/dev/null 2>&1 & echo $!',
      )
    ).trim();
    try {
      const result = await scan(v, '/sys/fs/cgroup', 40);
      expect(result.scans).toBe(40);
      // ENOENT mid-walk is skipped, never a failure: every scan was complete.
      expect(result.completeScans).toBe(40);
      expect(result.reason).toBeUndefined();
      // How often the race was actually hit (it depends on the timing, so it is not asserted).
      console.log(
        `cgroup scans: ${result.vanishedTotal} directories vanished mid-walk in 40 scans`,
      );
    } finally {
      await v.run(`kill ${churner}`);
    }
  });
});
