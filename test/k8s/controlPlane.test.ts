/**
 * The control plane itself: it starts from cached binaries, serves the pinned version over TLS
 * on loopback, enforces RBAC, issues and reviews ServiceAccount tokens, and stops cleanly.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import { KUBERNETES_VERSION } from './binaries';
import { type ControlPlane, startControlPlane } from './controlPlane';

let cp: ControlPlane;
let startMs = 0;

beforeAll(async () => {
  const t0 = Date.now();
  cp = await startControlPlane();
  startMs = Date.now() - t0;
});

afterAll(async () => {
  await cp?.stop();
});

function portOf(server: string): number {
  return Number(new URL(server).port);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

test('starts in seconds and serves the pinned version on 127.0.0.1 only', async () => {
  expect(startMs).toBeLessThan(90_000);
  expect(cp.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  const version = await cp.request('GET', '/version');
  expect(version.status).toBe(200);
  expect((version.body as { gitVersion: string }).gitVersion).toBe(KUBERNETES_VERSION);
  const out = await cp.kubectlOk(['version', '-o', 'json']);
  const parsed = JSON.parse(out) as { serverVersion: { gitVersion: string } };
  expect(parsed.serverVersion.gitVersion).toBe(KUBERNETES_VERSION);
});

test('the kubeconfig works and the admin is cluster-admin', async () => {
  expect(readFileSync(cp.kubeconfigPath, 'utf8')).toContain(cp.server);
  const ns = await cp.kubectlOk(['get', 'namespaces', '-o', 'name']);
  expect(ns.split('\n')).toEqual(expect.arrayContaining(['namespace/default']));
  const can = await cp.kubectl(['auth', 'can-i', '*', '*', '--all-namespaces']);
  expect(can.stdout.trim()).toBe('yes');
});

test('rejects anonymous and wrong-token requests', async () => {
  const wrong = await cp.request('GET', '/api/v1/namespaces', undefined, 'not-a-token');
  expect(wrong.status).toBe(401);
});

test('issues ServiceAccount tokens (TokenRequest) and reviews them (TokenReview)', async () => {
  await cp.kubectlOk(['create', 'namespace', 'cp-test']);
  await cp.kubectlOk(['-n', 'cp-test', 'create', 'serviceaccount', 'probe']);
  const token = (await cp.kubectlOk(['-n', 'cp-test', 'create', 'token', 'probe'])).trim();
  expect(token.split('.')).toHaveLength(3);
  const review = await cp.request('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenReview',
    spec: { token },
  });
  expect(review.status).toBe(201);
  const status = (review.body as { status: { authenticated: boolean; user: { username: string } } })
    .status;
  expect(status.authenticated).toBe(true);
  expect(status.user.username).toBe('system:serviceaccount:cp-test:probe');
  // RBAC is on: a fresh ServiceAccount may not even list pods.
  const denied = await cp.request('GET', '/api/v1/namespaces/cp-test/pods', undefined, token);
  expect(denied.status).toBe(403);
});

test('stop() ends both processes, frees the port and removes the directory', async () => {
  const port = portOf(cp.server);
  expect(await canConnect(port)).toBe(true);
  await cp.stop();
  expect(await canConnect(port)).toBe(false);
  expect(existsSync(cp.dir)).toBe(false);
  await cp.stop(); // idempotent
});
