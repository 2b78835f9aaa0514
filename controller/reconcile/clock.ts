/**
 * The clock and one-shot timers the reconciliation, the queue and leader election run on.
 * Injected everywhere so tests decide when time passes (test/controller/fake-clock.ts) and
 * never sleep on wall time.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once after `ms`; the returned function cancels it (idempotent). */
  after(ms: number, fn: () => void): () => void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};
