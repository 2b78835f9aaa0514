/**
 * The node's container facts as the agent keeps them (I/O shell over agent/cgroups): a scan of
 * the cgroup hierarchy every few seconds and one right before each snapshot, exited containers
 * kept for as long as the recorder's window (so a snapshot still names a process of a container
 * that is gone).
 */
import type { Logger } from 'pino';
import { CgroupRefresher, CgroupTracker, scanCgroups, type CgroupFacts } from './cgroups';

export interface NodeContainers {
  /** Scans now and returns the facts. */
  refresh(): Promise<CgroupFacts>;
  stop(): Promise<void>;
}

/** `retentionMs` is asked at each scan: the recorder's current window. */
export function nodeContainers(root: string, log: Logger) {
  return (retentionMs: () => number): NodeContainers => {
    const refresher = new CgroupRefresher({
      tracker: new CgroupTracker(),
      scan: () => scanCgroups(root),
      now: () => Date.now(),
      retentionMs,
      onError: (err) => log.warn({ err: (err as Error).message }, 'cgroup scan failed'),
    });
    refresher.start();
    return { refresh: () => refresher.refreshOnDemand(), stop: () => refresher.stop() };
  };
}
