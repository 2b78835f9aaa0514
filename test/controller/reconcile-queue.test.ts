/**
 * The work queue's client-go semantics, with exact timings on a fake clock: coalescing, one
 * worker per key, re-adds while processing, per-key failure backoff and forget, addAfter,
 * shutdown.
 */
import { WorkQueue } from '../../controller/reconcile/queue';
import { FakeClock } from './fake-clock';

/** The keys get() hands out without waiting (each marked processing). */
async function drain(q: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (q.length > 0) keys.push((await q.get()) as string);
  return keys;
}

describe('WorkQueue', () => {
  test('adds of a waiting key are coalesced; order is first-add order', async () => {
    const q = new WorkQueue(new FakeClock());
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    expect(await drain(q)).toEqual(['ns/a', 'ns/b']);
  });

  test('a key being processed is not handed out again until done, then once', async () => {
    const q = new WorkQueue(new FakeClock());
    q.add('ns/a');
    expect(await q.get()).toBe('ns/a');
    q.add('ns/a');
    q.add('ns/a');
    expect(q.length).toBe(0); // not handed to a second worker
    q.done('ns/a');
    expect(await drain(q)).toEqual(['ns/a']);
    q.done('ns/a');
    expect(q.length).toBe(0);
  });

  test('a waiting worker gets a key as soon as it is added', async () => {
    const q = new WorkQueue(new FakeClock());
    const got = q.get();
    q.add('ns/a');
    await expect(got).resolves.toBe('ns/a');
  });

  test('failure backoff doubles per key from 5 ms, capped at 1000 s; forget resets it', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue(clock);
    const expected = [5, 10, 20, 40, 80];
    for (const delay of expected) {
      q.addRateLimited('ns/a');
      clock.advance(delay - 1);
      expect(q.length).toBe(0);
      clock.advance(1);
      expect(await drain(q)).toEqual(['ns/a']);
      q.done('ns/a');
    }
    expect(q.numRequeues('ns/a')).toBe(5);
    // Another key has its own count.
    q.addRateLimited('ns/b');
    clock.advance(5);
    expect(await drain(q)).toEqual(['ns/b']);
    q.done('ns/b');

    q.forget('ns/a');
    expect(q.numRequeues('ns/a')).toBe(0);
    q.addRateLimited('ns/a');
    clock.advance(5);
    expect(await drain(q)).toEqual(['ns/a']);
    q.done('ns/a');

    // The 41st failure waits the cap: 5 ms · 2^40 would be years.
    for (let i = 0; i < 40; i++) {
      q.addRateLimited('ns/c');
      clock.advance(2_000_000);
      await drain(q);
      q.done('ns/c');
    }
    q.addRateLimited('ns/c');
    clock.advance(999_999);
    expect(q.length).toBe(0);
    clock.advance(1);
    expect(await drain(q)).toEqual(['ns/c']);
  });

  test('addAfter keeps the earliest pending time per key', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue(clock);
    q.addAfter('ns/a', 100);
    q.addAfter('ns/a', 300); // later: ignored
    clock.advance(99);
    expect(q.length).toBe(0);
    clock.advance(1);
    expect(await drain(q)).toEqual(['ns/a']);
    q.done('ns/a');
    clock.advance(1000);
    expect(q.length).toBe(0); // the 300 ms add did not fire a second time

    q.addAfter('ns/b', 300);
    q.addAfter('ns/b', 50); // earlier: replaces
    clock.advance(50);
    expect(await drain(q)).toEqual(['ns/b']);
    q.done('ns/b');
    clock.advance(1000);
    expect(q.length).toBe(0);
    expect(clock.pending()).toBe(0);

    q.addAfter('ns/c', 0); // no delay: at once
    expect(await drain(q)).toEqual(['ns/c']);
  });

  test('shutdown wakes waiting workers, drops delayed adds and refuses new ones', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue(clock);
    const waiting = [q.get(), q.get()];
    q.addAfter('ns/a', 10);
    q.shutdown();
    await expect(Promise.all(waiting)).resolves.toEqual([undefined, undefined]);
    expect(clock.pending()).toBe(0);
    q.add('ns/b');
    expect(q.length).toBe(0);
    await expect(q.get()).resolves.toBeUndefined();
    expect(q.isShuttingDown).toBe(true);
  });
});
