/**
 * A wait that a signal cuts short: the one sleep of every loop that must stop at once when its
 * work is abandoned (the controller's retries of a busy agent, the plugin following a snapshot).
 * Injected where tests need time to pass without waiting.
 */

/** Waits `ms`, or rejects with the signal's reason when `signal` aborts. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export const abortableSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
