/**
 * The controller's API and its authorization against a REAL kube-apiserver + etcd with the chart
 * installed (test/k8s/cluster.ts): the Authorizer's TokenReviews and SubjectAccessReviews are made
 * with the controller's own ServiceAccount token, so these tests also prove that the chart grants
 * the controller those reviews. Callers are real ServiceAccounts with real Roles; the app is served
 * over HTTPS; the archive is a real .tar.gz judged by `tar -tzf`. The only injected part is the
 * clock of the decision cache, moved past its TTLs instead of waiting.
 */
import { execFileSync } from 'node:child_process';
import {
  createReadStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpsServer, request, type Server } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { KubeConfig } from '@kubernetes/client-node';
import type { AgentStatusEntry } from '../../controller/api/agent-status';
import { apiApp, type SnapshotDownload } from '../../controller/api/app';
import { Authorizer, type ReviewClient } from '../../controller/api/authorize';
import { reviewClient } from '../../controller/api/review-client';
import { controllerMetrics } from '../../controller/metrics';
import type { SnapshotPhase } from '../../controller/model';
import { makeTestPki, type TestPki } from '../agent/certs';
import { NS, OTHER_NS, useCluster } from '../k8s/cluster';

const cluster = useCluster({ install: true });

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

describe("the controller's API, authorized by a real kube-apiserver", () => {
  let pki: TestPki;
  let scratch: string;
  let archive: string;
  let server: Server;
  let port: number;
  let now = 1_700_000_000_000;
  let reviews = 0;
  let readerToken: string;
  const metrics = controllerMetrics('test');
  const errors: string[] = [];

  const kubeConfig = (token: string, serverUrl = cluster.cp.server): KubeConfig => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      // The CA's bytes, not its file: the last test removes the control plane's directory.
      clusters: [
        {
          name: 'test',
          server: serverUrl,
          caData: readFileSync(cluster.cp.caFile).toString('base64'),
        },
      ],
      users: [{ name: 'controller', token }],
      contexts: [{ name: 'test', cluster: 'test', user: 'controller' }],
      currentContext: 'test',
    });
    return kc;
  };

  /** Counts the reviews sent to the API server, to see the cache at work. */
  const counted = (client: ReviewClient): ReviewClient => ({
    tokenReview: (...a) => (reviews++, client.tokenReview(...a)),
    subjectAccessReview: (...a) => (reviews++, client.subjectAccessReview(...a)),
  });

  const snapshots = new Map<string, SnapshotPhase>([
    [`${OTHER_NS}/incident-1`, 'Complete'],
    [`${OTHER_NS}/partial`, 'PartiallyFailed'],
    [`${OTHER_NS}/running`, 'Collecting'],
    [`${OTHER_NS}/broken`, 'Failed'],
    [`${NS}/incident-2`, 'Complete'],
  ]);
  const agents: AgentStatusEntry[] = [
    {
      node: 'node-a',
      pod: `${NS}/rewind-agent-abcde`,
      address: '10.0.0.1:9401',
      ready: true,
      status: { node: 'node-a', recorder: { recording: true } },
      checkedAt: '2024-01-01T00:00:00.000Z',
    },
  ];

  /** Serves an app whose Authorizer reviews with `token` against `serverUrl`. */
  async function serve(authorizer: Authorizer): Promise<{ server: Server; port: number }> {
    const app = apiApp({
      authorizer,
      find: (namespace, name): SnapshotDownload | undefined => {
        const phase = snapshots.get(`${namespace}/${name}`);
        if (!phase) return undefined;
        return { phase, stream: (out) => pipeline(createReadStream(archive), out) };
      },
      agents: () => agents,
      metrics,
      onError: (m) => errors.push(m),
    });
    const s = createHttpsServer({ cert: pki.agent.certPem, key: pki.agent.keyPem }, app);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return { server: s, port: (s.address() as AddressInfo).port };
  }

  function get(path: string, token?: string, on = port): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: on,
          path,
          ca: pki.caPem,
          servername: 'localhost',
          headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }
  const error = (a: Answer): string => (JSON.parse(a.body.toString()) as { error: string }).error;

  /** Moves the cache's clock past every TTL and retries until RBAC (an informer) has caught up. */
  async function eventually(check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 50; i++) {
      now += 61_000;
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the API server never agreed');
  }

  const kubectl = (args: string[]) => cluster.cp.kubectlOk(args);

  beforeAll(async () => {
    pki = makeTestPki();
    scratch = mkdtempSync(join(tmpdir(), 'rewind-api-'));
    const content = join(scratch, 'content');
    mkdirSync(join(content, 'trace', 'node-a'), { recursive: true });
    writeFileSync(join(content, 'manifest.json'), '{"nodes":["node-a"]}\n');
    writeFileSync(join(content, 'trace', 'node-a', 'metadata'), '/* CTF 1.8 */\n');
    archive = join(scratch, 'snapshot.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', content, 'manifest.json', 'trace']);

    const authorizer = new Authorizer({
      client: counted(reviewClient(kubeConfig(cluster.tokens.controller))),
      now: () => now,
    });
    ({ server, port } = await serve(authorizer));

    await kubectl(['-n', OTHER_NS, 'create', 'serviceaccount', 'reader']);
    readerToken = (
      await kubectl(['-n', OTHER_NS, 'create', 'token', 'reader', '--duration=1h'])
    ).trim();
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  test('no token, a malformed token and a forged token are 401, before any lookup', async () => {
    const none = await get(`/v1/snapshots/${OTHER_NS}/incident-1`);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(error(none)).toBe('a bearer token is required');
    expect((await get('/v1/agents')).status).toBe(401);

    const garbage = await get(`/v1/snapshots/${OTHER_NS}/incident-1`, 'not-a-token');
    expect(garbage.status).toBe(401);
    expect(error(garbage)).toBe('the bearer token is not valid');

    const [h, p] = readerToken.split('.');
    const forged = `${h}.${p}.${Buffer.from('forged').toString('base64url')}`;
    expect((await get(`/v1/snapshots/${OTHER_NS}/no-such-snapshot`, forged)).status).toBe(401);
    expect((await get('/v1/agents', forged)).status).toBe(401);
  });

  test('a ServiceAccount with no RBAC on tracesnapshots: 403 with the reason, also for absent snapshots', async () => {
    const denied = await get(`/v1/snapshots/${OTHER_NS}/incident-1`, readerToken);
    expect(denied.status).toBe(403);
    expect(error(denied)).toBe(
      `forbidden: "system:serviceaccount:${OTHER_NS}:reader" cannot get tracesnapshots.rewind.dev "incident-1" in namespace "${OTHER_NS}"`,
    );
    expect(denied.headers['content-type']).toMatch(/^application\/json/);
    // Not 404: a caller who may not read it cannot learn whether it exists.
    expect((await get(`/v1/snapshots/${OTHER_NS}/absent`, readerToken)).status).toBe(403);
    const agentsDenied = await get('/v1/agents', readerToken);
    expect(agentsDenied.status).toBe(403);
    expect(error(agentsDenied)).toContain(
      'cannot list tracesnapshots.rewind.dev at the cluster scope',
    );
  });

  test("with a Role granting get in the snapshot's namespace: the archive (after the denial's short cache)", async () => {
    await kubectl([
      '-n',
      OTHER_NS,
      'create',
      'role',
      'trace-reader',
      '--verb=get',
      '--resource=tracesnapshots.rewind.dev',
    ]);
    await kubectl([
      '-n',
      OTHER_NS,
      'create',
      'rolebinding',
      'trace-reader',
      '--role=trace-reader',
      `--serviceaccount=${OTHER_NS}:reader`,
    ]);
    // The denial is reused for its TTL (10 s on the injected clock) without asking again.
    const before = reviews;
    now += 9_000;
    expect((await get(`/v1/snapshots/${OTHER_NS}/incident-1`, readerToken)).status).toBe(403);
    expect(reviews).toBe(before);

    let answer: Answer | undefined;
    await eventually(async () => {
      answer = await get(`/v1/snapshots/${OTHER_NS}/incident-1`, readerToken);
      return answer.status === 200;
    });
    expect(answer!.headers['content-type']).toBe('application/gzip');
    expect(answer!.headers['content-disposition']).toBe(
      `attachment; filename="${OTHER_NS}_incident-1.tar.gz"`,
    );
    const file = join(scratch, 'downloaded.tar.gz');
    writeFileSync(file, answer!.body);
    const listing = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    expect(listing.sort()).toEqual([
      'manifest.json',
      'trace/',
      'trace/node-a/',
      'trace/node-a/metadata',
    ]);

    // The allow is reused: no review for the same token and snapshot.
    const after = reviews;
    expect((await get(`/v1/snapshots/${OTHER_NS}/incident-1`, readerToken)).status).toBe(200);
    expect(reviews).toBe(after);

    // PartiallyFailed is finished: downloadable.
    expect((await get(`/v1/snapshots/${OTHER_NS}/partial`, readerToken)).status).toBe(200);
  });

  test('with get granted: 404 for an absent snapshot, 409 with the phase for an unfinished or failed one', async () => {
    const absent = await get(`/v1/snapshots/${OTHER_NS}/absent`, readerToken);
    expect(absent.status).toBe(404);
    expect(error(absent)).toBe(`no TraceSnapshot ${OTHER_NS}/absent`);
    const running = await get(`/v1/snapshots/${OTHER_NS}/running`, readerToken);
    expect(running.status).toBe(409);
    expect(error(running)).toBe(
      `TraceSnapshot ${OTHER_NS}/running is Collecting: not finished yet`,
    );
    const broken = await get(`/v1/snapshots/${OTHER_NS}/broken`, readerToken);
    expect(broken.status).toBe(409);
    expect(error(broken)).toContain('failed: it has no trace');
  });

  test('the Role is namespaced: another namespace stays 403, and get does not give list', async () => {
    expect((await get(`/v1/snapshots/${NS}/incident-2`, readerToken)).status).toBe(403);
    expect((await get('/v1/agents', readerToken)).status).toBe(403);
  });

  test('list on tracesnapshots cluster-wide: /v1/agents answers the agents', async () => {
    await kubectl([
      'create',
      'clusterrole',
      'trace-lister',
      '--verb=list',
      '--resource=tracesnapshots.rewind.dev',
    ]);
    await kubectl([
      'create',
      'clusterrolebinding',
      'trace-lister',
      '--clusterrole=trace-lister',
      `--serviceaccount=${OTHER_NS}:reader`,
    ]);
    let answer: Answer | undefined;
    await eventually(async () => {
      answer = await get('/v1/agents', readerToken);
      return answer.status === 200;
    });
    expect(answer!.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(answer!.body.toString())).toEqual({ agents });
  });

  test('a bad path is 400, an unknown route is 404 JSON; refusals are counted by reason', async () => {
    const bad = await get('/v1/snapshots/Not_A_Namespace/x', readerToken);
    expect(bad.status).toBe(400);
    const unknown = await get('/v1/nothing', readerToken);
    expect(unknown.status).toBe(404);
    expect(error(unknown)).toBe('no such endpoint');
    const text = await metrics.registry.getSingleMetricAsString(
      'rewind_controller_api_requests_refused_total',
    );
    for (const reason of ['unauthenticated', 'forbidden', 'not-found', 'not-ready'])
      expect(text).toMatch(new RegExp(`reason="${reason}"} [1-9]`));
  });

  test('an Authorizer whose credentials may not review tokens answers 503, never allows', async () => {
    // The agent's ServiceAccount has no such rule: what the controller would get without the chart's.
    const withoutRights = await serve(
      new Authorizer({ client: reviewClient(kubeConfig(cluster.tokens.agent)), now: () => now }),
    );
    try {
      const r = await get(`/v1/snapshots/${OTHER_NS}/incident-1`, readerToken, withoutRights.port);
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toBe('5');
      expect(error(r)).toMatch(
        /^cannot check the token: TokenReview: the API server answered 403: .*tokenreviews/,
      );
      expect(error(r)).not.toContain(readerToken);
    } finally {
      await new Promise((res) => withoutRights.server.close(res));
    }
  });

  test('an API server that does not answer is a 503 after the deadline', async () => {
    // Accepts connections and never says a word.
    const sockets: import('node:net').Socket[] = [];
    const blackHole: TcpServer = createTcpServer((s) => sockets.push(s));
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(blackHole.address() as AddressInfo).port}`;
    const hung = await serve(
      new Authorizer({
        client: reviewClient(kubeConfig(cluster.tokens.controller, url), { timeoutMs: 300 }),
        now: () => now,
      }),
    );
    try {
      const r = await get(`/v1/snapshots/${OTHER_NS}/incident-1`, readerToken, hung.port);
      expect(r.status).toBe(503);
      expect(error(r)).toBe('cannot check the token: TokenReview timed out after 300 ms');
    } finally {
      await new Promise((res) => hung.server.close(res));
      for (const s of sockets) s.destroy();
      await new Promise((res) => blackHole.close(res));
    }
  });

  test('the API server stopped: 503, not allowed (even for a caller allowed before)', async () => {
    await cluster.cp.stop();
    now += 61_000; // past the allow's TTL: the decision must be made again
    const r = await get(`/v1/snapshots/${OTHER_NS}/incident-1`, readerToken);
    expect(r.status).toBe(503);
    expect(error(r)).toMatch(/^cannot check the token: TokenReview: .*ECONNREFUSED/);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    // An error is not cached: the next request asks again (and fails again).
    const before = reviews;
    expect((await get('/v1/agents', readerToken)).status).toBe(503);
    expect(reviews).toBeGreaterThan(before);
  });
});
