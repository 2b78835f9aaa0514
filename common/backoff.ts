/**
 * Capped exponential backoff, the one every retry loop of a node process uses (the recorder
 * waiting for its device, the module loader, the device plugin's registration). No jitter: each
 * retries against its own node (a module, a device, one kubelet), so there is no herd of clients
 * to spread out.
 */
export interface BackoffOptions {
  /** The first delay. */
  initialMs: number;
  /** No delay is longer than this. */
  maxMs: number;
}

/** The delay before retry `attempt` (0 for the first retry): doubling from initialMs, at most maxMs. */
export function backoffDelay(attempt: number, { initialMs, maxMs }: BackoffOptions): number {
  // The exponent is capped so a plugin retrying for days never computes Infinity.
  return Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(attempt, 0), 30));
}
