import { createServer } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { healthApp, Lifecycle, runMain, type ProcessIo } from './lifecycle';

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/** A sleep the test releases by hand: the drain never waits on the wall clock. */
function manualSleep(): { sleep: (ms: number) => Promise<void>; asked: number[]; wake(): void } {
  const waiting: (() => void)[] = [];
  const asked: number[] = [];
  return {
    asked,
    sleep: (ms) => {
      asked.push(ms);
      return new Promise<void>((r) => waiting.push(r));
    },
    wake: () => waiting.splice(0).forEach((r) => r()),
  };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Lifecycle', () => {
  it('serves health, gated readiness and metrics, and fails readiness first on shutdown', async () => {
    const registry = new Registry();
    new Counter({ name: 'rewind_test_things_total', help: 'things', registers: [registry] }).inc(3);
    const clock = manualSleep();
    const lifecycle = new Lifecycle({ drainMs: 300, sleep: clock.sleep });
    let recording = false;
    lifecycle.gates.add('recording', () => (recording ? undefined : 'rings not recording yet'));
    const { port } = await lifecycle.serve(
      'health',
      healthApp(registry, lifecycle.gates),
      0,
      '127.0.0.1',
    );
    expect(lifecycle.addresses()).toEqual({ health: `127.0.0.1:${port}` });

    expect(await get(port, '/healthz')).toEqual({ status: 200, body: 'ok' });
    expect(await get(port, '/readyz')).toEqual({
      status: 503,
      body: 'not ready: startup: starting; recording: rings not recording yet',
    });
    lifecycle.started();
    expect(await get(port, '/readyz')).toEqual({
      status: 503,
      body: 'not ready: recording: rings not recording yet',
    });
    recording = true;
    expect(await get(port, '/readyz')).toEqual({ status: 200, body: 'ok' });
    expect((await get(port, '/metrics')).body).toMatch(/^rewind_test_things_total 3$/m);

    const closed = lifecycle.shutdown();
    expect(lifecycle.shutdown()).toBe(closed);
    expect(lifecycle.stopping).toBe(true);
    await flush();
    expect(clock.asked).toEqual([300]);
    // Draining: still serving, no longer ready.
    expect(await get(port, '/readyz')).toEqual({
      status: 503,
      body: 'not ready: shutdown: shutting down',
    });
    expect((await get(port, '/healthz')).status).toBe(200);
    clock.wake();
    await closed;
    await expect(get(port, '/healthz')).rejects.toThrow();
  });

  it('closes every server it started, and serves nothing more once stopping', async () => {
    const lifecycle = new Lifecycle({ drainMs: 0 });
    const hello = healthApp(new Registry(), lifecycle.gates);
    const a = await lifecycle.serve('a', hello, 0, '127.0.0.1');
    const b = await lifecycle.serve('b', hello, 0, '127.0.0.1');
    expect(Object.keys(lifecycle.addresses())).toEqual(['a', 'b']);
    await lifecycle.shutdown();
    await expect(get(a.port, '/healthz')).rejects.toThrow();
    await expect(get(b.port, '/healthz')).rejects.toThrow();
    await expect(lifecycle.serve('c', hello, 0, '127.0.0.1')).rejects.toThrow(
      'cannot serve c: shutting down',
    );
  });
});

/** A ProcessIo that records what runMain did. */
function fakeIo(): ProcessIo & { lines: string[]; codes: number[]; signal(s: string): void } {
  const handlers = new Map<string, () => void>();
  const io = {
    lines: [] as string[],
    codes: [] as number[],
    stderr: (line: string) => void io.lines.push(line),
    exit: (code: number) => void io.codes.push(code),
    onSignal: (s: string, h: () => void) => void handlers.set(s, h),
    signal: (s: string) => handlers.get(s)?.(),
  };
  return io;
}

describe('runMain', () => {
  it('turns a configuration error into one line and exit 1, without starting', async () => {
    const io = fakeIo();
    const start = jest.fn();
    await runMain(
      'rewind-test',
      () => {
        throw new Error('invalid configuration: REWIND_X="abc": must be a port');
      },
      start,
      io,
    );
    expect(io.lines).toEqual([
      'rewind-test: invalid configuration: REWIND_X="abc": must be a port\n',
    ]);
    expect(io.codes).toEqual([1]);
    expect(start).not.toHaveBeenCalled();
  });

  it('names the address when a port is taken, closes what it had started, exits 1', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const busy = (taken.address() as { port: number }).port;
    const io = fakeIo();
    let first = 0;
    try {
      await runMain(
        'rewind-test',
        () => ({ drainMs: 1000 }),
        async (_c, lifecycle) => {
          const app = healthApp(new Registry(), lifecycle.gates);
          first = (await lifecycle.serve('health', app, 0, '127.0.0.1')).port;
          await lifecycle.serve('api', app, busy, '127.0.0.1');
        },
        io,
      );
    } finally {
      taken.close();
    }
    expect(io.lines).toEqual([
      `rewind-test: cannot listen on 127.0.0.1:${busy}: address already in use\n`,
    ]);
    expect(io.codes).toEqual([1]);
    await expect(get(first, '/healthz')).rejects.toThrow();
  });

  it('folds a multi-line error into one line', async () => {
    const io = fakeIo();
    await runMain(
      'rewind-test',
      () => ({ drainMs: 0 }),
      () => Promise.reject(new Error('the addon is not built\nRequire stack:\n- x.js')),
      io,
    );
    expect(io.lines).toEqual(['rewind-test: the addon is not built Require stack: - x.js\n']);
  });

  it('is ready once started, and on SIGTERM shuts down and exits 0', async () => {
    const io = fakeIo();
    let port = 0;
    await runMain(
      'rewind-test',
      () => ({ drainMs: 0 }),
      async (_c, lifecycle) => {
        port = (
          await lifecycle.serve(
            'health',
            healthApp(new Registry(), lifecycle.gates),
            0,
            '127.0.0.1',
          )
        ).port;
      },
      io,
    );
    expect(await get(port, '/readyz')).toEqual({ status: 200, body: 'ok' });
    expect(io.codes).toEqual([]);
    io.signal('SIGTERM');
    while (io.codes.length === 0) await flush();
    expect(io.codes).toEqual([0]);
    expect(io.lines).toEqual([]);
    await expect(get(port, '/healthz')).rejects.toThrow();
  });
});
