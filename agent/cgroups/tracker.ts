/**
 * Remembers every cgroup the scans saw, including those that disappeared, so a snapshot can name
 * a process of a container that exited while its events are still in the rings. Pure: time is
 * passed in by the caller, nothing here reads a clock or the file system.
 *
 * A cgroup is marked exited only by a complete scan that no longer lists it (a partial scan
 * proves nothing about what it did not reach). An exited cgroup is kept until the recorder's
 * window has passed since the first scan that missed it (`goneBy`): the container's last event
 * can be as late as that, and older events have been overwritten. Cgroup ids are not reused
 * within a boot (64-bit kernfs ids), so an id names one cgroup for as long as it is kept.
 */
import { containerOfCgroupPath, type ContainerRef } from './container-path';
import type { CgroupScan, CgroupVersion } from './scan';

/**
 * Most cgroups kept: twice a scan's limit (`DEFAULT_SCAN_LIMITS.maxCgroups`, 8192), so a node at
 * that limit still keeps as many exited ones. About 300 bytes each: a few MB at most.
 */
export const DEFAULT_MAX_TRACKED_CGROUPS = 16384;

export interface CgroupFact {
  /** The module's `cgroup_id`, in decimal (JSON has no 64-bit integers). */
  cgroupId: string;
  path: string;
  kind?: ContainerRef['kind'];
  podUid?: string;
  containerId?: string;
  runtime?: ContainerRef['runtime'];
  qosClass?: ContainerRef['qosClass'];
  driver?: ContainerRef['driver'];
  exited: boolean;
  /** The latest scan that listed it (ISO 8601). */
  lastSeen: string;
  /** For an exited cgroup: the first scan that did not list it; it went between the two. */
  goneBy?: string;
}

export interface CgroupFacts {
  /** What the latest scan found at the cgroup root (see `CgroupScan.version`). */
  version: CgroupVersion;
  /** The cgroup2 mount the paths are relative to. */
  unifiedRoot?: string;
  /** When the latest scan ran (ISO 8601); absent before the first. */
  scannedAt?: string;
  /** Why the latest scan was empty or partial. */
  reason?: string;
  /** Cgroups forgotten to stay within the tracker's bound, since it started. */
  evicted: number;
  /** Ordered by id. */
  cgroups: CgroupFact[];
}

interface Entry {
  id: bigint;
  path: string;
  ref: ContainerRef | undefined;
  lastSeen: number;
  goneBy?: number;
}

export interface CgroupTrackerOptions {
  /** Most cgroups kept; the exited that went first are forgotten first. */
  maxEntries?: number;
}

export class CgroupTracker {
  private readonly entries = new Map<bigint, Entry>();
  private readonly maxEntries: number;
  private latest: Pick<CgroupScan, 'version' | 'unifiedRoot' | 'reason'> & { at?: number } = {
    version: 'unknown',
  };
  private evicted = 0;

  constructor(options: CgroupTrackerOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_TRACKED_CGROUPS;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer, got ${this.maxEntries}`);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** Takes in a scan made at `now` (ms since the epoch). */
  update(scan: CgroupScan, now: number): void {
    this.latest = {
      version: scan.version,
      unifiedRoot: scan.unifiedRoot,
      reason: scan.reason,
      at: now,
    };
    const seen = new Set<bigint>();
    for (const { id, path } of scan.cgroups) {
      seen.add(id);
      const known = this.entries.get(id);
      if (known) {
        // A cgroup can be renamed (rename(2) within its parent); the id stays.
        if (known.path !== path) Object.assign(known, { path, ref: containerOfCgroupPath(path) });
        known.lastSeen = now;
        delete known.goneBy;
      } else {
        this.entries.set(id, { id, path, ref: containerOfCgroupPath(path), lastSeen: now });
      }
    }
    if (scan.complete) {
      for (const entry of this.entries.values()) {
        if (!seen.has(entry.id) && entry.goneBy === undefined) entry.goneBy = now;
      }
    }
    this.enforceBound();
  }

  /**
   * Forgets the exited cgroups gone for longer than `retentionMs` before `now` (the recorder's
   * window: their events have been overwritten). Returns how many were forgotten.
   */
  prune(now: number, retentionMs: number): number {
    let removed = 0;
    for (const [id, entry] of this.entries) {
      if (entry.goneBy !== undefined && entry.goneBy < now - retentionMs) {
        this.entries.delete(id);
        removed++;
      }
    }
    return removed;
  }

  facts(): CgroupFacts {
    const cgroups = [...this.entries.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map(factOf);
    const { version, unifiedRoot, reason, at } = this.latest;
    return {
      version,
      ...(unifiedRoot === undefined ? {} : { unifiedRoot }),
      ...(at === undefined ? {} : { scannedAt: new Date(at).toISOString() }),
      ...(reason === undefined ? {} : { reason }),
      evicted: this.evicted,
      cgroups,
    };
  }

  private enforceBound(): void {
    const excess = this.entries.size - this.maxEntries;
    if (excess <= 0) return;
    // The exited that went first, then (only if a scan alone exceeds the bound) the least
    // recently seen: what the rings are least likely to still hold.
    const order = [...this.entries.values()].sort(
      (a, b) =>
        Number(a.goneBy === undefined) - Number(b.goneBy === undefined) ||
        (a.goneBy ?? 0) - (b.goneBy ?? 0) ||
        a.lastSeen - b.lastSeen,
    );
    for (const entry of order.slice(0, excess)) this.entries.delete(entry.id);
    this.evicted += excess;
  }
}

function factOf(entry: Entry): CgroupFact {
  return {
    cgroupId: entry.id.toString(),
    path: entry.path,
    ...entry.ref,
    exited: entry.goneBy !== undefined,
    lastSeen: new Date(entry.lastSeen).toISOString(),
    ...(entry.goneBy === undefined ? {} : { goneBy: new Date(entry.goneBy).toISOString() }),
  };
}
