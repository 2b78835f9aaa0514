/**
 * scanCgroups over real directory trees laid out as containerd and CRI-O write them (both
 * drivers): every cgroup listed once with its real inode number as id, the interface files
 * skipped, directories vanishing mid-walk skipped, the limits reported, and the cgroup v1, hybrid
 * and missing-root cases answered with a reason instead of a crash — including this machine's own
 * /sys/fs/cgroup.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  containerOfCgroupPath,
  nodeCgroupFs,
  scanCgroups,
  type CgroupFs,
} from '../../agent/cgroups';
import { APP_A, CgroupTree, LAYOUTS, POD_A, type LayoutName } from './cgroups-fixture';

const trees: CgroupTree[] = [];
function tree(paths: readonly string[], options?: ConstructorParameters<typeof CgroupTree>[1]) {
  const t = new CgroupTree(paths, options);
  trees.push(t);
  return t;
}
afterEach(() => {
  for (const t of trees.splice(0)) t.destroy();
});

describe.each(Object.keys(LAYOUTS) as LayoutName[])('a %s tree', (layout) => {
  test('lists every cgroup once, with its inode number as id, and nothing else', async () => {
    const t = tree(LAYOUTS[layout]);
    const scan = await scanCgroups(t.root);
    expect(scan).toMatchObject({ version: 2, unifiedRoot: t.root, complete: true, vanished: 0 });
    expect(scan.reason).toBeUndefined();
    const expected = ['/', ...LAYOUTS[layout]].map((path) => ({ id: t.id(path), path }));
    const byPath = (a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path);
    expect([...scan.cgroups].sort(byPath)).toEqual(expected.sort(byPath));
    expect(new Set(scan.cgroups.map((c) => c.id)).size).toBe(scan.cgroups.length);
  });

  test("names pod A's app container from the scanned path", async () => {
    const t = tree(LAYOUTS[layout]);
    const scan = await scanCgroups(t.root);
    const refs = scan.cgroups
      .map((c) => containerOfCgroupPath(c.path))
      .filter((r) => r?.kind === 'container' && r.containerId === APP_A);
    // CRI-O with crun also has the `container` child of the scope: the same container.
    expect(refs.length).toBe(layout === 'CRI-O, systemd' ? 2 : 1);
    for (const ref of refs) expect(ref).toMatchObject({ podUid: POD_A, qosClass: 'burstable' });
  });
});

/** The real fs, running `then` right after `op` on `dir` returned: a race made to happen. */
function realFsThen(op: keyof CgroupFs, dir: string, then: () => void): CgroupFs {
  const after = async <R>(name: keyof CgroupFs, path: string, result: Promise<R>): Promise<R> => {
    const value = await result;
    if (name === op && path === dir) then();
    return value;
  };
  return {
    stat: (path) => after('stat', path, nodeCgroupFs.stat(path)),
    readdir: (path) => after('readdir', path, nodeCgroupFs.readdir(path)),
  };
}

describe('a walk that races with containers exiting', () => {
  const layout = LAYOUTS['containerd, systemd'];
  const podDir = layout.find((p) => p.includes('kubepods-burstable-pod'))!;
  const appScope = layout.find((p) => p.includes(`cri-containerd-${APP_A}`))!;

  test('a directory removed after its parent was listed is skipped, the walk stays complete', async () => {
    const t = tree(layout);
    // The container's directory is removed right after its pod was listed.
    const racing = realFsThen('readdir', t.dir(podDir), () => t.remove(appScope));
    const idOfApp = t.id(appScope);
    const scan = await scanCgroups(t.root, racing);
    expect(scan.complete).toBe(true);
    expect(scan.vanished).toBe(1);
    expect(scan.cgroups.map((c) => c.path)).not.toContain(appScope);
    expect(scan.cgroups.map((c) => c.id)).not.toContain(idOfApp);
    expect(scan.cgroups.map((c) => c.path)).toContain(podDir);
  });

  test('a directory removed between its stat and its listing is listed, its children skipped', async () => {
    const t = tree(layout);
    const racing = realFsThen('stat', t.dir(podDir), () => t.remove(podDir));
    const podId = t.id(podDir);
    const scan = await scanCgroups(t.root, racing);
    expect(scan).toMatchObject({ complete: true, vanished: 1 });
    expect(scan.cgroups).toContainEqual({ id: podId, path: podDir });
    expect(scan.cgroups.filter((c) => c.path.startsWith(`${podDir}/`))).toEqual([]);
  });

  test('an unreadable directory makes the scan incomplete, with a reason naming it', async () => {
    const t = tree(layout);
    // A stand-in: this runs as root, for which no directory is unreadable.
    const denying: CgroupFs = {
      stat: nodeCgroupFs.stat,
      readdir: async (dir) => {
        if (dir === t.dir(podDir)) throw Object.assign(new Error('denied'), { code: 'EACCES' });
        return nodeCgroupFs.readdir(dir);
      },
    };
    const scan = await scanCgroups(t.root, denying);
    expect(scan.complete).toBe(false);
    expect(scan.reason).toBe(`cannot list ${t.dir(podDir)} (EACCES)`);
    expect(scan.cgroups.map((c) => c.path)).toContain(podDir);
    expect(scan.cgroups.filter((c) => c.path.startsWith(`${podDir}/`))).toEqual([]);
  });
});

describe('limits', () => {
  const layout = LAYOUTS['containerd, cgroupfs'];

  test('maxDepth: nothing below it is walked, and the scan says so', async () => {
    const t = tree(layout);
    const scan = await scanCgroups(t.root, nodeCgroupFs, { maxDepth: 2, maxCgroups: 1000 });
    expect(scan.complete).toBe(false);
    expect(scan.reason).toMatch(/deeper than 2 levels \(the scan's limit\) \(and \d+ more\)$/);
    const depth = (p: string) => (p === '/' ? 0 : p.split('/').length - 1);
    expect(Math.max(...scan.cgroups.map((c) => depth(c.path)))).toBe(2);
    expect(scan.cgroups.map((c) => c.path)).toContain('/kubepods/burstable');
  });

  test('maxCgroups: the scan stops at the count and says so', async () => {
    const t = tree(layout);
    const scan = await scanCgroups(t.root, nodeCgroupFs, { maxDepth: 16, maxCgroups: 5 });
    expect(scan.cgroups).toHaveLength(5);
    expect(scan.complete).toBe(false);
    expect(scan.reason).toBe("stopped at 5 cgroups (the scan's limit)");
  });
});

describe('hosts without a cgroup2 root', () => {
  test('cgroup v1 with no cgroup2 mount: version 1, nothing listed, a reason', async () => {
    const t = tree(['/cpu', '/memory', '/memory/kubepods', '/systemd'], { cgroup2Root: false });
    const scan = await scanCgroups(t.root);
    expect(scan).toMatchObject({ version: 1, cgroups: [], complete: false, vanished: 0 });
    expect(scan.unifiedRoot).toBeUndefined();
    expect(scan.reason).toMatch(/is cgroup v1 with no cgroup2 mount/);
  });

  test('hybrid (v1 plus cgroup2 at unified/): version 1, the unified tree is walked', async () => {
    const t = tree(['/cpu', '/memory', '/systemd'], { cgroup2Root: false });
    const unified = join(t.root, 'unified');
    mkdirSync(unified);
    const inner = tree(LAYOUTS['containerd, systemd'], { parent: unified });
    trees.pop(); // removed with its parent
    const scan = await scanCgroups(t.root);
    expect(scan).toMatchObject({ version: 1, unifiedRoot: unified, complete: true });
    expect(scan.cgroups).toContainEqual({ id: inner.id('/'), path: '/' });
    expect(scan.cgroups).toHaveLength(LAYOUTS['containerd, systemd'].length + 1);
  });

  test('no cgroup file system at all: version unknown and what to do', async () => {
    const scan = await scanCgroups('/nonexistent/rewind/cgroup');
    expect(scan).toMatchObject({ version: 'unknown', cgroups: [], complete: false });
    expect(scan.reason).toBe(
      "cannot read /nonexistent/rewind/cgroup (ENOENT): mount the host's cgroup file system there",
    );
  });

  test("this machine's /sys/fs/cgroup: the version its files say, ids equal to inodes", async () => {
    const root = '/sys/fs/cgroup';
    const scan = await scanCgroups(root);
    if (existsSync(join(root, 'cgroup.controllers'))) {
      expect(scan).toMatchObject({ version: 2, unifiedRoot: root });
    } else {
      // The build machine: cgroup v1 (with a cgroup2 mount at unified/ when systemd is hybrid).
      expect(scan.version).toBe(1);
      const unified = join(root, 'unified');
      if (existsSync(join(unified, 'cgroup.controllers'))) {
        expect(scan.unifiedRoot).toBe(unified);
        // The root cgroup's id is 1 (the kernel's first kernfs id) on every host.
        expect(scan.cgroups[0]).toEqual({ id: 1n, path: '/' });
      } else {
        expect(scan.cgroups).toEqual([]);
        expect(scan.reason).toMatch(/cgroup v1/);
      }
    }
    for (const c of scan.cgroups.slice(0, 50)) {
      expect(statSync(join(scan.unifiedRoot!, c.path), { bigint: true }).ino).toBe(c.id);
    }
  });
});
