/**
 * Retrying a Kubernetes API call through a brief outage (pure; clock and sleep injected): which
 * errors are worth retrying (the API server busy, restarting or unreachable) and a retry loop
 * with common/backoff.ts's capped backoff that gives up after a time budget, so a webhook caller
 * gets an answer while it still waits for one.
 */
import { backoffDelay, type BackoffOptions } from '../../common/backoff';
import { describeApiError } from '../kube/client';

/** Connection-level failures: the API server restarting, a load balancer between replicas. */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

interface ErrorShape {
  /** client-node's ApiException: the HTTP status; node-fetch and Node: the errno name. */
  code?: unknown;
  /** node-fetch's FetchError: 'system' for a failed connection. */
  type?: unknown;
  cause?: unknown;
}

/**
 * Whether an API call may succeed if made again: HTTP 429 and 5xx, 409 (a generateName that
 * collided: the next try draws another), and connection failures.
 */
export function isTransientApiError(e: unknown): boolean {
  for (let err = e as ErrorShape | undefined, depth = 0; err && depth < 4; depth++) {
    if (typeof err !== 'object') return false;
    const { code } = err;
    if (typeof code === 'number') return code === 429 || code === 409 || code >= 500;
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
    if (err.type === 'system') return true;
    err = err.cause as ErrorShape | undefined;
  }
  return false;
}

export interface RetryOptions {
  /** Give up when the next attempt would start later than this after the first. */
  budgetMs: number;
  backoff: BackoffOptions;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  isTransient?: (e: unknown) => boolean;
}

export const DEFAULT_RETRY: Readonly<Pick<RetryOptions, 'budgetMs' | 'backoff'>> = Object.freeze({
  budgetMs: 10_000,
  backoff: Object.freeze({ initialMs: 200, maxMs: 2_000 }),
});

export class RetriesExhausted extends Error {
  constructor(
    readonly attempts: number,
    readonly last: unknown,
  ) {
    super(`gave up after ${attempts} attempts: ${describeApiError(last)}`);
    this.name = 'RetriesExhausted';
  }
}

/**
 * `call()` until it resolves; a transient error waits the backoff's delay and tries again while
 * the budget allows (then RetriesExhausted), any other error is thrown at once.
 */
export async function withRetry<T>(call: () => Promise<T>, o: RetryOptions): Promise<T> {
  const transient = o.isTransient ?? isTransientApiError;
  const start = o.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (!transient(e)) throw e;
      const delay = backoffDelay(attempt, o.backoff);
      if (o.now() + delay - start > o.budgetMs) throw new RetriesExhausted(attempt + 1, e);
      await o.sleep(delay);
    }
  }
}
