/**
 * The rate-limited work queue of the reconciler, with client-go's workqueue semantics (what
 * controller-runtime's workers rely on), keyed by `namespace/name`:
 *
 * - a key is queued at most once (`dirty`): adds of a key already waiting are coalesced;
 * - a key is never handed to two workers at once (`processing`): an add while it is processed
 *   marks it dirty, and `done()` queues it again, so the change is seen after the current pass;
 * - `addRateLimited` waits a per-key exponential delay (5 ms doubling, capped at 1000 s, the
 *   controller-runtime default item limiter) and `forget` resets it after a success;
 * - `addAfter` waits, keeping only the earliest pending time per key;
 * - `shutdown` wakes every waiting worker with `undefined` and ignores later adds.
 *
 * Time comes from an injected Clock, so the timings are exact in tests.
 */
import { backoffDelay, type BackoffOptions } from '../../common/backoff';
import type { Clock } from './clock';

/** controller-runtime's DefaultItemBasedRateLimiter: 5 ms, doubling, at most 1000 s. */
export const DEFAULT_FAILURE_BACKOFF: BackoffOptions = { initialMs: 5, maxMs: 1_000_000 };

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; cancel: () => void }>();
  private shuttingDown = false;

  constructor(
    private readonly clock: Clock,
    private readonly backoff: BackoffOptions = DEFAULT_FAILURE_BACKOFF,
  ) {}

  /** Queues `key` unless it is already waiting; a key being processed is queued after done(). */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Adds `key` after `ms`; an earlier pending time for the key wins, a later one replaces it. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const pending = this.delayed.get(key);
    if (pending !== undefined) {
      if (pending.at <= at) return;
      pending.cancel();
    }
    const cancel = this.clock.after(ms, () => {
      this.delayed.delete(key);
      this.add(key);
    });
    this.delayed.set(key, { at, cancel });
  }

  /** Adds `key` after its failure backoff, and counts the failure. */
  addRateLimited(key: string): void {
    const attempt = this.failures.get(key) ?? 0;
    this.failures.set(key, attempt + 1);
    this.addAfter(key, backoffDelay(attempt, this.backoff));
  }

  /** Forgets `key`'s failures: the next addRateLimited waits the first delay again. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Failures counted for `key` since it was last forgotten. */
  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /**
   * The next key to process (marked processing), or undefined once shut down: unlike client-go,
   * keys still queued at shutdown are not handed out, so workers stop at once (the next leader
   * lists everything again anyway).
   */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    if (this.queue.length > 0) return Promise.resolve(this.take());
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Ends processing of `key`; queues it again if it was added meanwhile. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) this.push(key);
  }

  /** Stops accepting keys, cancels delayed adds and wakes every waiting worker. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const { cancel } of this.delayed.values()) cancel();
    this.delayed.clear();
    for (const wake of this.waiters.splice(0)) wake(undefined);
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Keys waiting to be handed out (not counting delayed ones). */
  get length(): number {
    return this.queue.length;
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      this.queue.push(key);
      waiter(this.take());
    } else {
      this.queue.push(key);
    }
  }

  private take(): string {
    const key = this.queue.shift() as string;
    this.processing.add(key);
    this.dirty.delete(key);
    return key;
  }
}
