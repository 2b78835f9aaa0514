/**
 * Capped exponential backoff for retrying registration with the kubelet. No jitter: there is one
 * kubelet per node and one plugin per kubelet, so there is no herd of clients to spread out.
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
