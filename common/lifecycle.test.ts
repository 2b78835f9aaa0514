import type { AddressInfo } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { startLifecycle } from './lifecycle';

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

describe('lifecycle endpoints', () => {
  it('serves health, readiness and metrics, and fails readiness first on shutdown', async () => {
    const registry = new Registry();
    new Counter({ name: 'rewind_test_things_total', help: 'things', registers: [registry] }).inc(3);
    let warm = false;
    const { server, shutdown } = await startLifecycle({
      registry,
      port: 0,
      bind: '127.0.0.1',
      drainMs: 300,
      ready: () => warm,
      reason: () => 'rings not recording yet',
    });
    const port = (server.address() as AddressInfo).port;

    expect(await get(port, '/healthz')).toEqual({ status: 200, body: 'ok' });
    expect(await get(port, '/readyz')).toEqual({
      status: 503,
      body: 'not ready: rings not recording yet',
    });
    warm = true;
    expect((await get(port, '/readyz')).status).toBe(200);
    expect((await get(port, '/metrics')).body).toMatch(/^rewind_test_things_total 3$/m);

    const closed = shutdown.begin();
    expect(shutdown.stopping).toBe(true);
    expect(await get(port, '/readyz')).toEqual({ status: 503, body: 'not ready: shutting down' });
    expect((await get(port, '/healthz')).status).toBe(200);
    await closed;
    await expect(get(port, '/healthz')).rejects.toThrow();
  });
});
