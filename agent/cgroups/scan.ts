/**
 * Walks the cgroup2 hierarchy and lists every cgroup with its id. Thin I/O: the file system is
 * injected; nothing here throws — what could not be read is counted and said in `reason`.
 *
 * The id: the module reports `cgroup_id(task_dfl_cgroup(task))`, the kernfs node id of the
 * thread's cgroup on the default (v2) hierarchy, which on 64-bit kernels is the inode number of
 * the cgroup's directory wherever cgroup2 is mounted (`stat -c %i`). The root cgroup is 1.
 *
 * Which mount: a cgroup2 root has `cgroup.controllers`. On a v1 host without it, a "hybrid"
 * host (systemd's default before v2) mounts cgroup2 at `<root>/unified`, and that tree is the
 * one whose ids the module reports (systemd keeps its units there too), so it is walked. A pure
 * v1 host has no cgroup2 mount: every thread's v2 cgroup is the root, and there is nothing to
 * name.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

export type CgroupVersion = 1 | 2 | 'unknown';

export interface ScannedCgroup {
  /** The cgroup id the module reports (the directory's inode number). */
  id: bigint;
  /** Relative to the cgroup2 mount, with a leading `/`; the root is `/`. */
  path: string;
}

export interface CgroupScan {
  /** What `root` holds: 2 (unified), 1 (v1, maybe with a cgroup2 mount beside), or unknown. */
  version: CgroupVersion;
  /** The cgroup2 mount that was walked; absent when there was none. */
  unifiedRoot?: string;
  cgroups: ScannedCgroup[];
  /**
   * Every directory under the mount was read: a cgroup missing from a complete scan is gone.
   * False when the walk was cut by a limit, a directory could not be read, or nothing was walked.
   */
  complete: boolean;
  /** Why the list is empty or partial, one line; absent when the walk was whole. */
  reason?: string;
  /** Directories that disappeared during the walk (a container exiting): skipped. */
  vanished: number;
}

/** The part of the file system the scan uses; `nodeCgroupFs` in production. */
export interface CgroupFs {
  readdir(dir: string): Promise<{ name: string; isDirectory(): boolean }[]>;
  stat(path: string): Promise<{ ino: bigint }>;
}

export const nodeCgroupFs: CgroupFs = {
  readdir: (dir) => fsp.readdir(dir, { withFileTypes: true }),
  stat: (path) => fsp.stat(path, { bigint: true }),
};

export interface ScanLimits {
  /**
   * Deepest level walked below the mount (the root is 0). A container of a burstable pod under
   * the systemd driver is at 4 (kubepods.slice/qos/pod/scope), a sub-cgroup it made at 5; 16
   * leaves room for cgroup roots and nested runtimes.
   */
  maxDepth: number;
  /**
   * Most cgroups listed per scan. A node at the kubelet's default of 110 pods has a few hundred
   * cgroups; this bounds a scan's time and memory on a node that has far more.
   */
  maxCgroups: number;
}

export const DEFAULT_SCAN_LIMITS: Readonly<ScanLimits> = Object.freeze({
  maxDepth: 16,
  maxCgroups: 8192,
});

export async function scanCgroups(
  root = '/sys/fs/cgroup',
  fs: CgroupFs = nodeCgroupFs,
  limits: ScanLimits = DEFAULT_SCAN_LIMITS,
): Promise<CgroupScan> {
  if (await isCgroup2Root(fs, root)) {
    return { version: 2, unifiedRoot: root, ...(await walk(fs, root, limits)) };
  }
  const hybrid = join(root, 'unified');
  if (await isCgroup2Root(fs, hybrid)) {
    return { version: 1, unifiedRoot: hybrid, ...(await walk(fs, hybrid, limits)) };
  }
  const rootError = await errorCode(() => fs.readdir(root));
  if (rootError) {
    return {
      version: 'unknown',
      cgroups: [],
      complete: false,
      reason: `cannot read ${root} (${rootError}): mount the host's cgroup file system there`,
      vanished: 0,
    };
  }
  return {
    version: 1,
    cgroups: [],
    complete: false,
    reason:
      `${root} is cgroup v1 with no cgroup2 mount (no cgroup.controllers in it or in ` +
      `${hybrid}): every thread's v2 cgroup id is the root's, so none can be named`,
    vanished: 0,
  };
}

async function isCgroup2Root(fs: CgroupFs, dir: string): Promise<boolean> {
  return (await errorCode(() => fs.stat(join(dir, 'cgroup.controllers')))) === undefined;
}

/** Runs `op`; undefined if it succeeded, else the error's code (or message). */
async function errorCode(op: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await op();
    return undefined;
  } catch (err) {
    return codeOf(err);
  }
}

function codeOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code ?? (err instanceof Error ? err.message : String(err));
}

/** A directory vanished between being listed and being read: the cgroup was removed. */
function vanishedError(code: string): boolean {
  return code === 'ENOENT' || code === 'ENOTDIR';
}

type Walk = Pick<CgroupScan, 'cgroups' | 'complete' | 'reason' | 'vanished'>;

async function walk(fs: CgroupFs, mount: string, limits: ScanLimits): Promise<Walk> {
  const cgroups: ScannedCgroup[] = [];
  // The first problem and how many, so a tree with many unreadable cgroups cannot make a huge
  // reason.
  let firstProblem: string | undefined;
  let problems = 0;
  const problem = (line: string): void => {
    firstProblem ??= line;
    problems++;
  };
  let vanished = 0;
  // Depth-first, children in name order, so scans of the same tree list the same prefix.
  const stack: { path: string; depth: number }[] = [{ path: '/', depth: 0 }];
  while (stack.length > 0) {
    const { path, depth } = stack.pop()!;
    if (cgroups.length >= limits.maxCgroups) {
      problem(`stopped at ${limits.maxCgroups} cgroups (the scan's limit)`);
      break;
    }
    const dir = join(mount, path);
    let id: bigint;
    try {
      id = (await fs.stat(dir)).ino;
    } catch (err) {
      const code = codeOf(err);
      if (vanishedError(code)) vanished++;
      else problem(`cannot stat ${dir} (${code})`);
      continue;
    }
    cgroups.push({ id, path });
    let entries: { name: string; isDirectory(): boolean }[];
    try {
      entries = await fs.readdir(dir);
    } catch (err) {
      const code = codeOf(err);
      // Its children went with it; the cgroup itself existed when it was stat'ed.
      if (vanishedError(code)) vanished++;
      else problem(`cannot list ${dir} (${code})`);
      continue;
    }
    const children = entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort()
      .reverse();
    if (children.length > 0 && depth >= limits.maxDepth) {
      problem(`not below ${dir}: deeper than ${limits.maxDepth} levels (the scan's limit)`);
      continue;
    }
    for (const name of children) {
      stack.push({ path: path === '/' ? `/${name}` : `${path}/${name}`, depth: depth + 1 });
    }
  }
  if (firstProblem === undefined) return { cgroups, complete: true, vanished };
  const more = problems > 1 ? ` (and ${problems - 1} more)` : '';
  return { cgroups, complete: false, reason: firstProblem + more, vanished };
}
