/**
 * The API app's routing and failure handling (controller/api/app.ts) with an Authorizer TEST
 * DOUBLE that allows everything (the real one against a real kube-apiserver: api-authz.test.ts):
 * a download that fails before or after its first byte, and the webhook hook mounted outside the
 * Kubernetes authorization. Served on a real loopback socket.
 */
import { Router } from 'express';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiApp, type ApiAppDeps } from '../../controller/api/app';

function serve(deps: Partial<ApiAppDeps>): Promise<{ server: Server; port: number }> {
  const app = apiApp({
    authorizer: { authorize: async () => ({ allowed: true, status: 200, user: 'alice' }) },
    find: () => undefined,
    agents: () => [],
    metrics: { apiRefused: () => undefined },
    ...deps,
  });
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as AddressInfo).port }),
    );
  });
}

/** Resolves the status, headers and body, or `cut` when the connection ends before the body does. */
function get(
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; headers: Record<string, unknown>; body: string; cut: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, cut: false }),
      );
      res.on('error', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, cut: true }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the API app (authorization doubled: allow all)', () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));

  test('a trace that cannot be read before its first byte: 500 JSON, no attachment header', async () => {
    const errors: string[] = [];
    const { server, port } = await serve({
      find: () => ({
        phase: 'Complete',
        stream: async () => Promise.reject(new Error('EIO\nread')),
      }),
      onError: (m) => errors.push(m),
    });
    servers.push(server);
    const r = await get(port, '/v1/snapshots/ns/snap');
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body)).toEqual({ error: 'cannot read the trace of ns/snap' });
    expect(r.headers['content-disposition']).toBeUndefined();
    expect(errors).toEqual(['download of ns/snap failed: EIO read']);
  });

  test('a trace that fails midway cuts the connection: no complete-looking archive', async () => {
    const { server, port } = await serve({
      find: () => ({
        phase: 'PartiallyFailed',
        stream: async (out) => {
          await new Promise<void>((r) => out.write(Buffer.alloc(70_000, 1), () => r()));
          throw new Error('disk gone');
        },
      }),
    });
    servers.push(server);
    const r = await get(port, '/v1/snapshots/ns/snap');
    expect(r.status).toBe(200);
    expect(r.cut).toBe(true);
  });

  test('the webhook hook is mounted at /v1/alerts, outside the Kubernetes authorization', async () => {
    let asked = 0;
    const webhook = Router();
    webhook.post('/v1/alerts', (_req, res) => {
      res.status(202).json({ accepted: 1 });
    });
    const { server, port } = await serve({
      webhook,
      authorizer: {
        authorize: async () => (asked++, { allowed: false, status: 401, reason: 'no' }),
      },
    });
    servers.push(server);
    const r = await get(port, '/v1/alerts', 'POST');
    expect(r.status).toBe(202);
    expect(asked).toBe(0);
    expect((await get(port, '/v1/agents')).status).toBe(401);
    expect(asked).toBe(1);
    const none = await get(port, '/v1/alerts/x', 'DELETE');
    expect(none.status).toBe(404);
    expect(JSON.parse(none.body)).toEqual({ error: 'no such endpoint' });
  });
});
