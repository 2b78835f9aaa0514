/**
 * Keeps a CgroupTracker current: a scan every `intervalMs` (so containers that live a few seconds
 * are seen), and one on demand right before a snapshot (so the statedump's cgroups are named).
 * Thin I/O: the scan, the clock and the timers are injected. One scan at a time; the next
 * periodic scan is scheduled when one ends, so slow scans never pile up.
 *
 * The limit, stated plainly: a cgroup is named only if a scan saw its directory. A container
 * that started and exited between two scans (under `intervalMs`) is never seen, and the
 * processes it ran keep only their numeric cgroup id in the trace.
 */
import type { CgroupScan } from './scan';
import type { CgroupFacts, CgroupTracker } from './tracker';

/** A scan costs a stat and a readdir per cgroup: a few ms for a node's few hundred, every 5 s. */
export const SUGGESTED_SCAN_INTERVAL_MS = 5000;

export interface RefresherTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface CgroupRefresherOptions {
  tracker: CgroupTracker;
  /** Scans the hierarchy, e.g. `() => scanCgroups(root)`. */
  scan: () => Promise<CgroupScan>;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** How long exited cgroups are kept: the recorder's window, asked at every refresh. */
  retentionMs: () => number;
  intervalMs?: number;
  timers?: RefresherTimers;
  /** A scan that threw (scanCgroups itself never does); the next one is still scheduled. */
  onError?: (err: unknown) => void;
}

const nodeTimers: RefresherTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class CgroupRefresher {
  private readonly intervalMs: number;
  private readonly timers: RefresherTimers;
  private inflight: Promise<void> | undefined;
  private timer: unknown;
  private running = false;

  constructor(private readonly options: CgroupRefresherOptions) {
    this.intervalMs = options.intervalMs ?? SUGGESTED_SCAN_INTERVAL_MS;
    this.timers = options.timers ?? nodeTimers;
  }

  /** Scans now, then every `intervalMs` until `stop()`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  /** No further periodic scans; resolves when a scan in flight has ended. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.inflight;
  }

  /**
   * The facts after a scan that started after this call: a scan already in flight began before
   * the request and could miss a container started since, so it is waited for and another runs
   * (callers arriving together share that one).
   */
  async refreshOnDemand(): Promise<CgroupFacts> {
    await this.inflight;
    await this.refresh();
    return this.options.tracker.facts();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    await this.refresh();
    if (this.running) this.timer = this.timers.setTimeout(() => void this.tick(), this.intervalMs);
  }

  /** Joins the scan in flight, or starts one. Never rejects. */
  private refresh(): Promise<void> {
    this.inflight ??= this.scanAndUpdate().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async scanAndUpdate(): Promise<void> {
    const { tracker, scan, now, retentionMs, onError } = this.options;
    try {
      const result = await scan();
      tracker.update(result, now());
      tracker.prune(now(), retentionMs());
    } catch (err) {
      onError?.(err);
    }
  }
}
