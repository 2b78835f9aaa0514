/**
 * The Alertmanager webhook on a real HTTP server, creating TraceSnapshots in a real kube-apiserver
 * (the chart's CRD installed) through client-node: a burst of 1,000 posts yields exactly the
 * snapshots the rules allow (counted with kubectl), refusals are the right 4xx in one line, a
 * brief API outage (client-node's real ECONNREFUSED against a closed port) is retried, a lasting
 * one is a 5xx whose retry is accepted, and admission's memory stays within its bound.
 */
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import express from 'express';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { dump } from 'js-yaml';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createAdmission, type Admission } from '../../controller/alerts/admission';
import { traceSnapshotCreator } from '../../controller/alerts/kube-create';
import type { NewTraceSnapshot } from '../../controller/alerts/snapshot-object';
import { DEFAULT_TARGET_LABELS } from '../../controller/alerts/targets';
import { staticToken } from '../../controller/alerts/token';
import { alertWebhookRouter, type AlertWebhookDeps } from '../../controller/alerts/webhook';
import { controllerMetrics, type ControllerMetrics } from '../../controller/metrics';
import { useCluster } from '../k8s/cluster';
import { startAlertmanager, type Alertmanager } from '../monitoring/alertmanager';
import { amPayload, type AlertSpec } from './alerts-fixtures';

const cluster = useCluster({ install: true });
const TOKEN = 'webhook-test-token-5f1c';
const T0 = Date.parse('2026-03-01T10:00:00Z');

let realCreate: (o: NewTraceSnapshot) => Promise<{ name: string }>;
let deadCreate: (o: NewTraceSnapshot) => Promise<{ name: string }>;

async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.cp.kubeconfigPath);
  realCreate = traceSnapshotCreator(kc.makeApiClient(CustomObjectsApi));
  // The same client pointed at a port nobody listens on: the API server "down".
  const dead = new KubeConfig();
  dead.loadFromFile(cluster.cp.kubeconfigPath);
  const server = `https://127.0.0.1:${await closedPort()}`;
  dead.loadFromOptions({
    clusters: dead.clusters.map((c) => ({ ...c, server })),
    users: dead.users,
    contexts: dead.contexts,
    currentContext: dead.currentContext,
  });
  deadCreate = traceSnapshotCreator(dead.makeApiClient(CustomObjectsApi));
  for (const ns of [
    'small',
    'burst',
    'refusals',
    'outage',
    'lasting',
    'storm',
    'am',
    'everywhere',
  ]) {
    await cluster.cp.kubectlOk(['create', 'namespace', ns]);
  }
});

interface Harness {
  server: http.Server;
  admission: Admission;
  metrics: ControllerMetrics;
  clock: { now: number };
  sleeps: number[];
}

const servers: http.Server[] = [];
afterAll(async () => {
  for (const s of servers) await new Promise((resolve) => s.close(resolve));
});

async function harness(
  namespace: string,
  over: Partial<AlertWebhookDeps> & {
    cooldownSeconds?: number;
    dailyCap?: number;
    maxRemembered?: number;
  } = {},
): Promise<Harness> {
  const clock = { now: T0 };
  const sleeps: number[] = [];
  const admission = createAdmission({
    now: () => clock.now,
    cooldownSeconds: over.cooldownSeconds ?? 300,
    dailyCap: over.dailyCap ?? 50,
    maxRemembered: over.maxRemembered ?? 10_000,
  });
  const metrics = controllerMetrics('test');
  const app = express();
  app.use(
    alertWebhookRouter({
      token: staticToken(TOKEN),
      admission,
      targets: {
        labels: { ...DEFAULT_TARGET_LABELS },
        noTargetPolicy: 'skip',
        nodeForInstance: () => undefined,
        podLocation: () => undefined,
      },
      objects: { namespace, windowSeconds: 10 },
      create: realCreate,
      metrics,
      // The retry loop's clock and sleep are the test's: no waiting on wall time.
      retry: {
        now: () => clock.now,
        sleep: async (ms) => {
          sleeps.push(ms);
          clock.now += ms;
        },
      },
      ...over,
    }),
  );
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { server, admission, metrics, clock, sleeps };
}

function post(h: Harness, body: unknown, token: string | null = TOKEN) {
  const r = request(h.server).post('/v1/alerts').set('Content-Type', 'application/json');
  if (token !== null) r.set('Authorization', `Bearer ${token}`);
  return r.send(typeof body === 'string' ? body : JSON.stringify(body));
}

async function snapshotsIn(namespace: string): Promise<string[]> {
  const out = await cluster.cp.kubectlOk(['-n', namespace, 'get', 'tracesnapshots', '-o', 'name']);
  return out.split('\n').filter((l) => l.trim() !== '');
}

async function counter(m: ControllerMetrics, name: string, labels: Record<string, string> = {}) {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
}

const fp = (f: string, node: string, extra: Partial<AlertSpec> = {}): AlertSpec => ({
  fingerprint: f,
  labels: { alertname: 'NodeDown', node },
  ...extra,
});

describe('Alertmanager webhook', () => {
  test('a small case, derived by hand: 2 TraceSnapshots with the alert in labels and annotations', async () => {
    const h = await harness('small', { dailyCap: 2 });
    const answers = [];
    const steps: [number, unknown][] = [
      [
        0,
        amPayload('G1', [fp('aaaa000000000001', 'node-a')], {
          commonLabels: { alertname: 'NodeDown' },
        }),
      ], // created
      [1, amPayload('G1', [fp('aaaa000000000001', 'node-a')])], // HA twin: duplicate
      [10, amPayload('G1', [fp('aaaa000000000001', 'node-a'), fp('b2', 'node-b')])], // B: cooldown
      [20, amPayload('G2', [fp('c3', 'node-c', { status: 'resolved' })])], // resolved
      [30, amPayload('G2', [fp('d4', 'node-d')])], // created (cap 2/2)
      [40, amPayload('G3', [fp('e5', 'node-e')])], // daily cap
    ];
    for (const [s, body] of steps) {
      h.clock.now = T0 + s * 1000;
      const r = await post(h, body);
      expect(r.status).toBe(200);
      answers.push(
        r.body as {
          created: string[];
          accepted: number;
          deduplicated: number;
          rateLimited: number;
        },
      );
    }
    expect(
      answers.map((a) => [a.accepted, a.deduplicated, a.rateLimited, a.created.length]),
    ).toEqual([
      [1, 0, 0, 1],
      [0, 1, 0, 0],
      [0, 1, 1, 0],
      [0, 0, 0, 0],
      [1, 0, 0, 1],
      [0, 0, 1, 0],
    ]);
    const names = await snapshotsIn('small');
    expect(names).toHaveLength(2);
    const first = JSON.parse(
      await cluster.cp.kubectlOk([
        '-n',
        'small',
        'get',
        'tracesnapshot',
        answers[0]?.created[0] as string,
        '-o',
        'json',
      ]),
    ) as {
      metadata: {
        name: string;
        labels: Record<string, string>;
        annotations: Record<string, string>;
      };
      spec: unknown;
    };
    expect(first.metadata.name).toMatch(/^alert-nodedown-[a-z0-9]{5}$/);
    expect(first.metadata.labels).toEqual({
      'rewind.dev/trigger': 'alert',
      'rewind.dev/alertname': 'NodeDown',
      'rewind.dev/alert-fingerprint': 'aaaa000000000001',
    });
    expect(first.metadata.annotations['rewind.dev/alert-group']).toBe('G1');
    expect(JSON.parse(first.metadata.annotations['rewind.dev/alert'] as string)).toEqual({
      alerts: [
        {
          fingerprint: 'aaaa000000000001',
          startsAt: '2026-03-01T10:00:00.123456789Z',
          labels: { alertname: 'NodeDown', node: 'node-a' },
        },
      ],
    });
    expect(first.spec).toEqual({
      target: { nodeNames: ['node-a'] },
      windowSeconds: 10,
      reason: 'alert NodeDown',
    });
    const sel = await cluster.cp.kubectlOk([
      '-n',
      'small',
      'get',
      'tracesnapshots',
      '-l',
      'rewind.dev/trigger=alert,rewind.dev/alertname=NodeDown',
      '-o',
      'name',
    ]);
    expect(sel.trim().split('\n')).toHaveLength(2);
    expect(await counter(h.metrics, 'rewind_controller_alerts_received_total')).toBe(6);
    expect(await counter(h.metrics, 'rewind_controller_alerts_deduplicated_total')).toBe(2);
    expect(
      await counter(h.metrics, 'rewind_controller_alerts_rate_limited_total', {
        limit: 'cooldown',
      }),
    ).toBe(1);
    expect(
      await counter(h.metrics, 'rewind_controller_alerts_rate_limited_total', {
        limit: 'daily-cap',
      }),
    ).toBe(1);
    expect(await counter(h.metrics, 'rewind_controller_alert_snapshots_created_total')).toBe(2);
  });

  test('a burst of 1,000 posts makes exactly the snapshots the rules allow', async () => {
    const COOLDOWN = 300;
    const CAP = 40;
    const h = await harness('burst', { cooldownSeconds: COOLDOWN, dailyCap: CAP });

    // A deterministic storm: 30 groups; alerts start and resolve; every notification comes from
    // an HA pair (two posts, sent at once), and some are resent later unchanged.
    let seed = 0x5eed;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const pick = (n: number) => Math.floor(rand() * n);
    interface Live {
      fingerprint: string;
      node: string;
      startsAt: string;
      resolved: boolean;
    }
    const groups: Live[][] = Array.from({ length: 30 }, () => []);
    let nextFp = 0;
    const sent: { at: number; body: Record<string, unknown> }[] = [];
    const posts: { at: number; body: Record<string, unknown>; pair: boolean }[] = [];
    let now = T0;
    while (posts.length < 1000) {
      now += pick(15_000);
      const roll = rand();
      if (roll < 0.15 && sent.length > 0) {
        // A resend of an earlier notification, unchanged (repeat_interval, or a retry).
        posts.push({
          at: now,
          body: (sent[pick(sent.length)] as { body: Record<string, unknown> }).body,
          pair: false,
        });
        continue;
      }
      const g = pick(30);
      const live = groups[g] as Live[];
      if (roll < 0.7 || live.length === 0) {
        live.push({
          fingerprint: `fp${(nextFp++).toString(16).padStart(14, '0')}`,
          node: `node-${pick(12)}`,
          startsAt: new Date(now).toISOString(),
          resolved: false,
        });
      } else {
        (live[pick(live.length)] as Live).resolved = true;
      }
      const body = amPayload(
        `{}:{group="${g}"}`,
        live.map((a) => ({
          fingerprint: a.fingerprint,
          labels: { alertname: `Storm${g}`, node: a.node },
          startsAt: a.startsAt,
          ...(a.resolved ? { status: 'resolved' as const } : {}),
        })),
        { groupLabels: { group: String(g) } },
      );
      // Resolved alerts are sent once more, then leave the group (as Alertmanager does).
      groups[g] = live.filter((a) => !a.resolved);
      sent.push({ at: now, body });
      posts.push({ at: now, body, pair: true }, { at: now, body, pair: true });
    }
    posts.length = 1000;

    // The expectation, from the rules as the brief states them.
    const expected = { snapshots: 0, firing: 0, dup: 0, cooldown: 0, cap: 0 };
    {
      const seen = new Set<string>();
      const lastAccepted = new Map<string, number>();
      const acceptedAt: number[] = [];
      for (const p of posts) {
        const fresh: string[] = [];
        for (const a of p.body.alerts as {
          status: string;
          fingerprint: string;
          startsAt: string;
        }[]) {
          if (a.status !== 'firing') continue;
          expected.firing++;
          const key = `${a.fingerprint}@${Date.parse(a.startsAt)}`;
          if (seen.has(key) || fresh.includes(key)) expected.dup++;
          else fresh.push(key);
        }
        if (fresh.length === 0) continue;
        fresh.forEach((k) => seen.add(k)); // decided, whatever the outcome
        const group = p.body.groupKey as string;
        const last = lastAccepted.get(group);
        if (last !== undefined && p.at - last < COOLDOWN * 1000) expected.cooldown += fresh.length;
        else if (acceptedAt.filter((t) => p.at - t < 86_400_000).length >= CAP)
          expected.cap += fresh.length;
        else {
          expected.snapshots++;
          lastAccepted.set(group, p.at);
          acceptedAt.push(p.at);
        }
      }
    }
    // The storm is one that every rule shapes.
    expect(expected.dup).toBeGreaterThan(0);
    expect(expected.cooldown).toBeGreaterThan(0);
    expect(expected.cap).toBeGreaterThan(0);
    expect(expected.snapshots).toBe(CAP);

    let created = 0;
    for (let i = 0; i < posts.length;) {
      const p = posts[i] as (typeof posts)[number];
      h.clock.now = p.at;
      // The two posts of an HA pair arrive together.
      const batch =
        p.pair && posts[i + 1]?.pair && posts[i + 1]?.body === p.body ? [p, posts[i + 1]] : [p];
      const answers = await Promise.all(batch.map((b) => post(h, (b as typeof p).body)));
      for (const r of answers) {
        expect(r.status).toBe(200);
        created += (r.body as { created: string[] }).created.length;
      }
      i += batch.length;
    }
    expect(created).toBe(expected.snapshots);
    expect(await snapshotsIn('burst')).toHaveLength(expected.snapshots);
    expect(await counter(h.metrics, 'rewind_controller_alerts_received_total')).toBe(
      expected.firing,
    );
    expect(await counter(h.metrics, 'rewind_controller_alerts_deduplicated_total')).toBe(
      expected.dup,
    );
    expect(
      await counter(h.metrics, 'rewind_controller_alerts_rate_limited_total', {
        limit: 'cooldown',
      }),
    ).toBe(expected.cooldown);
    expect(
      await counter(h.metrics, 'rewind_controller_alerts_rate_limited_total', {
        limit: 'daily-cap',
      }),
    ).toBe(expected.cap);
    expect(await counter(h.metrics, 'rewind_controller_alert_snapshots_created_total')).toBe(
      expected.snapshots,
    );
  });

  test('refusals: the right 4xx with a one-line body, before any snapshot', async () => {
    const h = await harness('refusals');
    const good = amPayload('G', [fp('f1', 'node-a')]);
    const cases: [string, () => request.Test, number, RegExp][] = [
      ['no token', () => post(h, good, null), 401, /^missing bearer token/],
      ['wrong token', () => post(h, good, 'not-the-token'), 401, /^invalid bearer token$/],
      ['malformed JSON', () => post(h, '{"version": "4", '), 400, /^malformed JSON: /],
      ['empty body', () => post(h, ''), 400, /^malformed JSON: empty body$/],
      [
        'wrong schema',
        () => post(h, { ...good, alerts: [{ ...(good.alerts as object[])[0], startsAt: 'soon' }] }),
        400,
        /^invalid payload: alerts\[0\]\.startsAt: invalid date$/,
      ],
      [
        'another version',
        () => post(h, { ...good, version: '3' }),
        400,
        /^unsupported payload: version "3"/,
      ],
      [
        'oversized',
        () => post(h, { ...good, commonAnnotations: { pad: 'x'.repeat(1024 * 1024) } }),
        413,
        /^payload too large: the limit is 1048576 bytes$/,
      ],
    ];
    for (const [what, send, status, message] of cases) {
      const r = await send();
      expect([what, r.status]).toEqual([what, status]);
      const error = (r.body as { error: string }).error;
      expect([what, error]).toEqual([what, expect.stringMatching(message)]);
      expect(error).not.toContain('\n');
      if (status === 401) expect(r.headers['www-authenticate']).toMatch(/^Bearer /);
    }
    const get = await request(h.server).get('/v1/alerts').set('Authorization', `Bearer ${TOKEN}`);
    expect([get.status, get.headers.allow]).toEqual([405, 'POST']);
    expect(await snapshotsIn('refusals')).toHaveLength(0);
    for (const [reason, n] of [
      ['unauthenticated', 2],
      ['malformed', 2],
      ['invalid', 2],
      ['too-large', 1],
    ] as const) {
      expect([
        reason,
        await counter(h.metrics, 'rewind_controller_alert_posts_rejected_total', { reason }),
      ]).toEqual([reason, n]);
    }
    // The good payload still goes through.
    expect((await post(h, good)).status).toBe(200);
    expect(await snapshotsIn('refusals')).toHaveLength(1);
  });

  test('an API server briefly unreachable: retried, 200, the object created once', async () => {
    let calls = 0;
    const h = await harness('outage', {
      create: (o) => (++calls <= 3 ? deadCreate(o) : realCreate(o)),
    });
    const r = await post(h, amPayload('G', [fp('f1', 'node-a')]));
    expect(r.status).toBe(200);
    expect((r.body as { created: string[] }).created).toHaveLength(1);
    expect(calls).toBe(4);
    expect(h.sleeps).toEqual([200, 400, 800]);
    expect(await snapshotsIn('outage')).toHaveLength(1);
  });

  test('an API server down past the budget: 5xx, nothing remembered, the retry is accepted', async () => {
    let down = true;
    const h = await harness('lasting', {
      create: (o) => (down ? deadCreate(o) : realCreate(o)),
    });
    const body = amPayload('G', [fp('f1', 'node-a')]);
    const r = await post(h, body);
    expect(r.status).toBe(503);
    expect((r.body as { error: string }).error).toMatch(
      /^could not record the alert as a TraceSnapshot \(gave up after 8 attempts: .*ECONNREFUSED.*\); retry$/,
    );
    expect(h.admission.size()).toEqual({ remembered: 0, groups: 0, capWindow: 0 });
    down = false;
    const retried = await post(h, body);
    expect(retried.status).toBe(200);
    expect((retried.body as { created: string[] }).created).toHaveLength(1);
    expect(await snapshotsIn('lasting')).toHaveLength(1);
    // A refusal that retrying cannot mend (the namespace does not exist): 500 at once.
    const h2 = await harness('no-such-namespace');
    const refused = await post(h2, body);
    expect(refused.status).toBe(500);
    expect((refused.body as { error: string }).error).toMatch(
      /the API server answered 404: namespaces "no-such-namespace" not found/,
    );
    expect(h2.sleeps).toEqual([]);
  });

  test('no target label under the all-nodes policy: an allNodes TraceSnapshot the CRD accepts', async () => {
    const h = await harness('everywhere', {
      targets: {
        labels: { ...DEFAULT_TARGET_LABELS },
        noTargetPolicy: 'all-nodes',
        nodeForInstance: () => undefined,
        podLocation: () => undefined,
      },
    });
    const r = await post(
      h,
      amPayload('G', [{ fingerprint: 'w1', labels: { alertname: 'Watchdog' } }]),
    );
    expect(r.status).toBe(200);
    const name = (r.body as { created: string[] }).created[0] as string;
    const spec = JSON.parse(
      await cluster.cp.kubectlOk([
        '-n',
        'everywhere',
        'get',
        'tracesnapshot',
        name,
        '-o',
        'jsonpath={.spec}',
      ]),
    ) as unknown;
    expect(spec).toEqual({
      target: { allNodes: true },
      windowSeconds: 10,
      reason: 'alert Watchdog',
    });
  });

  test('memory stays bounded: 1,000 distinct fingerprints', async () => {
    const h = await harness('storm', { maxRemembered: 200, dailyCap: 5 });
    for (let i = 0; i < 1000; i++) {
      h.clock.now = T0 + i * 1000;
      const r = await post(h, amPayload(`{}:{g="${i % 50}"}`, [fp(`storm${i}`, `node-${i % 9}`)]));
      expect(r.status).toBe(200);
      const size = h.admission.size();
      expect(size.remembered).toBeLessThanOrEqual(200);
      expect(size.groups).toBeLessThanOrEqual(200);
      expect(size.capWindow).toBeLessThanOrEqual(5);
    }
    expect(h.admission.size().remembered).toBe(200);
    expect(await snapshotsIn('storm')).toHaveLength(5);
  });
});

// Debian's package prometheus-alertmanager names the binary so; upstream's is `alertmanager`.
const ALERTMANAGER = ['prometheus-alertmanager', 'alertmanager'].find(
  (b) => spawnSync(b, ['--version']).status === 0,
);

(ALERTMANAGER ? describe : describe.skip)('a real Alertmanager (HA pair, not clustered)', () => {
  const alertmanagers: Alertmanager[] = [];
  let dir = '';
  afterAll(async () => {
    // Each stop resolves once its process exited: nothing writes into dir while it goes.
    await Promise.all(alertmanagers.map((am) => am.stop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function start(name: string, webhookUrl: string): Promise<string> {
    const config = dump({
      route: {
        receiver: 'rewind',
        group_by: ['alertname'],
        group_wait: '1s',
        group_interval: '1s',
        repeat_interval: '1h',
      },
      receivers: [
        {
          name: 'rewind',
          webhook_configs: [
            {
              url: webhookUrl,
              send_resolved: true,
              http_config: { authorization: { type: 'Bearer', credentials: TOKEN } },
            },
          ],
        },
      ],
    });
    const am = await startAlertmanager({ dir, name, config });
    alertmanagers.push(am);
    return am.url;
  }

  /** Waiting on a real external process: polled against a deadline. */
  async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  test('alerts injected through its API v2 reach the webhook with bearer credentials: one TraceSnapshot', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rewind-am-'));
    const h = await harness('am');
    const { port } = h.server.address() as AddressInfo;
    const webhook = `http://127.0.0.1:${port}/v1/alerts`;
    const pair = [await start('am-1', webhook), await start('am-2', webhook)];
    // Prometheus sends every alert to each Alertmanager of the pair, with the same startsAt.
    const alerts = [
      {
        labels: { alertname: 'RealAlertmanager', node: 'node-a', severity: 'page' },
        annotations: { summary: 'injected through /api/v2/alerts', rewind_window_seconds: '42' },
        startsAt: new Date().toISOString(),
      },
    ];
    for (const am of pair) {
      const r = await fetch(`${am}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(alerts),
      });
      expect(r.status).toBe(200);
    }
    await until(
      'both Alertmanagers to deliver, and the accepted post to create its object',
      async () =>
        (await counter(h.metrics, 'rewind_controller_alerts_received_total')) >= 2 &&
        (await counter(h.metrics, 'rewind_controller_alert_snapshots_created_total')) >= 1,
    );
    expect(await counter(h.metrics, 'rewind_controller_alerts_deduplicated_total')).toBe(1);
    expect(await counter(h.metrics, 'rewind_controller_alert_posts_rejected_total')).toBe(0);
    const names = await snapshotsIn('am');
    expect(names).toHaveLength(1);
    const object = JSON.parse(
      await cluster.cp.kubectlOk([
        '-n',
        'am',
        'get',
        (names[0] as string).replace(/^.*\//, 'tracesnapshot/'),
        '-o',
        'json',
      ]),
    ) as {
      metadata: { name: string; labels: Record<string, string> };
      spec: Record<string, unknown>;
    };
    expect(object.metadata.name).toMatch(/^alert-realalertmanager-[a-z0-9]{5}$/);
    expect(object.metadata.labels['rewind.dev/alert-fingerprint']).toMatch(/^[0-9a-f]{16}$/);
    expect(object.spec).toEqual({
      target: { nodeNames: ['node-a'] },
      windowSeconds: 42,
      reason: 'alert RealAlertmanager: injected through /api/v2/alerts',
    });
  });
});
