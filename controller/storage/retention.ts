/**
 * Retention (pure): which stored snapshots to delete so that none is older than the age limit
 * and all together fit the size limit — oldest first, by when they finished. Snapshots still in
 * flight (no `finishedAt`) are never chosen, but their bytes count toward the total: the volume
 * holds them too.
 */

export interface StoredSnapshot {
  /** `namespace/name`. */
  key: string;
  /** When it finished (ms since the epoch); absent while it is being collected or merged. */
  finishedAt?: number;
  bytes: number;
}

export interface RetentionLimits {
  /** Finished longer ago than this is deleted (absent: no age limit). */
  maxAgeSeconds?: number;
  /** Everything stored together at most (absent: no size limit). */
  maxTotalBytes?: number;
}

export interface RetentionPlan {
  /** Keys to delete, oldest first. */
  delete: string[];
  /** Bytes stored once they are gone. */
  bytesAfter: number;
  /** True when even after deleting every finished snapshot the total is over the limit. */
  stillOver: boolean;
}

export function planRetention(
  stored: readonly StoredSnapshot[],
  limits: RetentionLimits,
  nowMs: number,
): RetentionPlan {
  const finished = stored
    .filter((s): s is StoredSnapshot & { finishedAt: number } => s.finishedAt !== undefined)
    // Oldest first; the key breaks ties so the plan is the same whatever the listing order.
    .sort((a, b) => a.finishedAt - b.finishedAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let total = stored.reduce((sum, s) => sum + s.bytes, 0);
  const del: string[] = [];
  for (const s of finished) {
    const tooOld =
      limits.maxAgeSeconds !== undefined && nowMs - s.finishedAt > limits.maxAgeSeconds * 1000;
    const tooBig = limits.maxTotalBytes !== undefined && total > limits.maxTotalBytes;
    if (!tooOld && !tooBig) continue;
    del.push(s.key);
    total -= s.bytes;
  }
  return {
    delete: del,
    bytesAfter: total,
    stillOver: limits.maxTotalBytes !== undefined && total > limits.maxTotalBytes,
  };
}
