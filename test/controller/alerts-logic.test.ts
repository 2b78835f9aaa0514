/**
 * The webhook's pure parts with exact numbers: the version 4 schema and its messages, alert
 * labels → targets, admission (duplicates, cooldown, the rolling daily cap, release, bounded
 * memory) on an injected clock, the TraceSnapshot object, the token and the retry loop.
 */
import { createAdmission } from '../../controller/alerts/admission';
import {
  alertKey,
  parseWebhookPayload,
  type WebhookPayload,
} from '../../controller/alerts/payload';
import { isTransientApiError, RetriesExhausted, withRetry } from '../../controller/alerts/retry';
import {
  alertAnnotation,
  alertSnapshotObject,
  generateNameFor,
  labelValue,
  MAX_GENERATE_NAME,
} from '../../controller/alerts/snapshot-object';
import {
  alertTarget,
  DEFAULT_TARGET_LABELS,
  instanceHost,
  unionTarget,
  type AlertTarget,
  type TargetOptions,
} from '../../controller/alerts/targets';
import { bearerToken, fileToken, staticToken, tokenMatches } from '../../controller/alerts/token';
import { amAlert, amPayload, type AlertSpec } from './alerts-fixtures';
import { describeApiError } from '../../controller/kube/client';

function parsed(body: unknown): WebhookPayload {
  const r = parseWebhookPayload(body);
  if (!r.ok) throw new Error(r.error);
  return r.payload;
}

function parseError(body: unknown): string {
  const r = parseWebhookPayload(body);
  if (r.ok) throw new Error('parsed');
  return r.error;
}

describe('payload (version 4)', () => {
  test('a payload as Alertmanager sends it parses, nanosecond times included', () => {
    const p = parsed(amPayload('{}:{alertname="A"}', [{ fingerprint: 'f1', labels: { a: 'b' } }]));
    expect(p.alerts).toHaveLength(1);
    expect(p.alerts[0]?.startsAt).toBe('2026-03-01T10:00:00.123456789Z');
    expect(p.truncatedAlerts).toBe(0);
  });

  test('missing optional maps get defaults', () => {
    const body = amPayload('g', [{ fingerprint: 'f', labels: {} }]);
    delete body.commonAnnotations;
    delete body.groupLabels;
    const a = (body.alerts as Record<string, unknown>[])[0] as Record<string, unknown>;
    delete a.annotations;
    delete a.generatorURL;
    const p = parsed(body);
    expect(p.commonAnnotations).toEqual({});
    expect(p.alerts[0]?.annotations).toEqual({});
  });

  test('errors name the field, one line', () => {
    const alerts = [0, 1, 2, 3].map((i) => amAlert({ fingerprint: `f${i}`, labels: {} }));
    (alerts[3] as Record<string, unknown>).startsAt = 'yesterday';
    expect(parseError({ ...amPayload('g', []), alerts })).toBe(
      'invalid payload: alerts[3].startsAt: invalid date',
    );
    const noFp = amAlert({ fingerprint: 'x', labels: {} });
    delete noFp.fingerprint;
    expect(parseError({ ...amPayload('g', []), alerts: [noFp] })).toBe(
      'invalid payload: alerts[0].fingerprint: missing',
    );
    expect(parseError({ ...amPayload('g', []), status: 'pending' })).toBe(
      'invalid payload: status: expected "firing" or "resolved"',
    );
    expect(parseError({ ...amPayload('g', []), alerts: 'many' })).toBe(
      'invalid payload: alerts: expected array',
    );
    const badLabel = amAlert({ fingerprint: 'x', labels: {} });
    badLabel.labels = { severity: 3 };
    expect(parseError({ ...amPayload('g', []), alerts: [badLabel] })).toBe(
      'invalid payload: alerts[0].labels.severity: expected string',
    );
    // A date without a time, or a time without a zone, is not RFC 3339.
    for (const d of ['2026-03-01', '2026-03-01T10:00:00', '2026-13-01T10:00:00Z']) {
      const a = amAlert({ fingerprint: 'x', labels: {}, startsAt: d });
      expect(parseError({ ...amPayload('g', []), alerts: [a] })).toBe(
        'invalid payload: alerts[0].startsAt: invalid date',
      );
    }
  });

  test('at most three issues are listed, with a count of the rest', () => {
    expect(parseError({ version: '4' })).toBe(
      'invalid payload: groupKey: missing; status: missing; receiver: missing (and 1 more)',
    );
  });

  test('another version is refused as such, before any field is checked', () => {
    expect(parseError({ version: '3' })).toBe(
      `unsupported payload: version "3"; this webhook accepts Alertmanager's version "4"`,
    );
    expect(parseError({ version: 4 })).toBe(
      `unsupported payload: version 4; this webhook accepts Alertmanager's version "4"`,
    );
    expect(parseError({ alerts: [] })).toBe(
      `unsupported payload: no version; this webhook accepts Alertmanager's version "4"`,
    );
    expect(parseError([1])).toBe('body: expected a JSON object (an Alertmanager webhook payload)');
    expect(parseError(null)).toBe('body: expected a JSON object (an Alertmanager webhook payload)');
  });

  test('the dedup key is one instant whatever its spelling', () => {
    expect(alertKey({ fingerprint: 'f', startsAt: '2026-03-01T10:00:00Z' })).toBe(
      alertKey({ fingerprint: 'f', startsAt: '2026-03-01T12:00:00+02:00' }),
    );
    expect(alertKey({ fingerprint: 'f', startsAt: '2026-03-01T10:00:00Z' })).not.toBe(
      alertKey({ fingerprint: 'f', startsAt: '2026-03-01T10:00:01Z' }),
    );
  });
});

describe('targets', () => {
  const nodes: Record<string, string> = {
    'node-a': 'node-a',
    '10.0.0.2': 'node-b',
    'fd00::3': 'node-c',
  };
  const pods: Record<string, { nodeName?: string; labels?: Record<string, string> }> = {
    'shop/web-1': { nodeName: 'node-b', labels: { app: 'web' } },
    'shop/web-2': { labels: { app: 'web', 'pod-template-hash': 'abc' } },
  };
  const instanceCalls: string[] = [];
  const options = (over: Partial<TargetOptions> = {}): TargetOptions => ({
    labels: { ...DEFAULT_TARGET_LABELS },
    noTargetPolicy: 'all-nodes',
    nodeForInstance: (h) => {
      instanceCalls.push(h);
      return nodes[h];
    },
    podLocation: (ns, name) => pods[`${ns}/${name}`],
    ...over,
  });

  test('instance: the port is stripped, IPv6 brackets too', () => {
    expect(instanceHost('10.0.0.2:9100')).toBe('10.0.0.2');
    expect(instanceHost('node-a')).toBe('node-a');
    expect(instanceHost('[fd00::3]:9100')).toBe('fd00::3');
    expect(instanceHost('[fd00::3]')).toBe('fd00::3');
    expect(instanceHost('fd00::3')).toBe('fd00::3');
  });

  test('each rule, in order', () => {
    const o = options();
    expect(alertTarget({ node: 'node-x', instance: '10.0.0.2:9100' }, o)).toEqual({
      kind: 'nodes',
      nodeNames: ['node-x'],
      via: 'node',
    });
    instanceCalls.length = 0;
    expect(alertTarget({ instance: '10.0.0.2:9100' }, o)).toEqual({
      kind: 'nodes',
      nodeNames: ['node-b'],
      via: 'instance',
    });
    expect(instanceCalls).toEqual(['10.0.0.2']);
    expect(alertTarget({ instance: '[fd00::3]:9100' }, o)).toMatchObject({ nodeNames: ['node-c'] });
    // An invalid node label (not a DNS-1123 subdomain) is not a node: the next rule decides.
    expect(alertTarget({ node: 'Node_A', instance: 'node-a:9100' }, o)).toEqual({
      kind: 'nodes',
      nodeNames: ['node-a'],
      via: 'instance',
    });
    // kube-state-metrics' own address names no node; the pod it reports on does.
    expect(
      alertTarget({ instance: '10.244.1.7:8080', namespace: 'shop', pod: 'web-1' }, o),
    ).toEqual({ kind: 'nodes', nodeNames: ['node-b'], via: 'pod' });
    // A known pod not yet scheduled: its labels; an unknown one: its namespace.
    expect(alertTarget({ namespace: 'shop', pod: 'web-2' }, o)).toEqual({
      kind: 'pods',
      namespace: 'shop',
      labelSelector: { matchLabels: { app: 'web', 'pod-template-hash': 'abc' } },
    });
    expect(alertTarget({ namespace: 'shop', pod: 'gone-7' }, o)).toEqual({
      kind: 'pods',
      namespace: 'shop',
    });
    // A namespace alone, or an invalid namespace, is no target.
    expect(alertTarget({ namespace: 'shop' }, o)).toEqual({ kind: 'all-nodes' });
    expect(alertTarget({ namespace: 'Shop!', pod: 'x' }, o)).toEqual({ kind: 'all-nodes' });
    expect(alertTarget({ alertname: 'Watchdog' }, options({ noTargetPolicy: 'skip' }))).toEqual({
      kind: 'none',
    });
  });

  test('label names are configurable', () => {
    const o = options({
      labels: {
        node: 'kubernetes_node',
        instance: 'host',
        namespace: 'ns',
        pod: 'pod_name',
        scope: 'capture',
      },
    });
    expect(alertTarget({ node: 'node-a' }, o)).toEqual({ kind: 'all-nodes' });
    expect(alertTarget({ kubernetes_node: 'node-q' }, o)).toMatchObject({ nodeNames: ['node-q'] });
    expect(alertTarget({ host: '10.0.0.2' }, o)).toMatchObject({ nodeNames: ['node-b'] });
    expect(alertTarget({ ns: 'shop', pod_name: 'web-1' }, o)).toMatchObject({
      nodeNames: ['node-b'],
    });
    expect(alertTarget({ kubernetes_node: 'node-q', capture: 'cluster' }, o)).toEqual({
      kind: 'all-nodes',
    });
    // The default name is not read once another is configured.
    expect(alertTarget({ kubernetes_node: 'node-q', rewind_scope: 'cluster' }, o)).toEqual({
      kind: 'nodes',
      nodeNames: ['node-q'],
      via: 'node',
    });
  });

  test('scope: cluster takes every node, whatever else the alert names', () => {
    const o = options({ noTargetPolicy: 'skip' });
    expect(DEFAULT_TARGET_LABELS.scope).toBe('rewind_scope');
    const cluster = { rewind_scope: 'cluster' };
    expect(alertTarget({ ...cluster, node: 'node-a' }, o)).toEqual({ kind: 'all-nodes' });
    instanceCalls.length = 0;
    expect(alertTarget({ ...cluster, instance: '10.0.0.2:9100' }, o)).toEqual({
      kind: 'all-nodes',
    });
    expect(instanceCalls).toEqual([]); // decided before any lookup
    expect(alertTarget({ ...cluster, namespace: 'shop', pod: 'web-1' }, o)).toEqual({
      kind: 'all-nodes',
    });
    // Even with nothing named and the no-target policy `skip`: the alert asked for it.
    expect(alertTarget({ ...cluster, alertname: 'Saturated' }, o)).toEqual({ kind: 'all-nodes' });
    // One alert of a notification asking for the cluster widens the notification's snapshot.
    expect(
      unionTarget([
        alertTarget({ node: 'node-a' }, o),
        alertTarget({ ...cluster, node: 'node-b' }, o),
      ]),
    ).toEqual({ allNodes: true });
  });

  test.each([
    ['node', 'node'],
    ['absent', undefined],
    ['a typo', 'Cluster'],
    ['an unknown value', 'nodes'],
    ['empty', ''],
  ])("scope %s: today's rules, never a refusal", (_what, scope) => {
    const labels = (l: Record<string, string>) =>
      scope === undefined ? l : { ...l, rewind_scope: scope };
    const skip = options({ noTargetPolicy: 'skip' });
    expect(alertTarget(labels({ node: 'node-a' }), skip)).toEqual({
      kind: 'nodes',
      nodeNames: ['node-a'],
      via: 'node',
    });
    expect(alertTarget(labels({ instance: '10.0.0.2:9100' }), skip)).toMatchObject({
      nodeNames: ['node-b'],
    });
    expect(alertTarget(labels({ namespace: 'shop', pod: 'web-1' }), skip)).toMatchObject({
      nodeNames: ['node-b'],
    });
    expect(alertTarget(labels({ alertname: 'x' }), skip)).toEqual({ kind: 'none' });
    expect(alertTarget(labels({ alertname: 'x' }), options())).toEqual({ kind: 'all-nodes' });
  });

  test('a notification unites its alerts into one target', () => {
    const n = (...names: string[]): AlertTarget => ({
      kind: 'nodes',
      nodeNames: names,
      via: 'node',
    });
    const p = (namespace: string, app?: string): AlertTarget =>
      app
        ? { kind: 'pods', namespace, labelSelector: { matchLabels: { app } } }
        : { kind: 'pods', namespace };
    expect(unionTarget([])).toBeUndefined();
    expect(unionTarget([{ kind: 'none' }])).toBeUndefined();
    expect(unionTarget([n('b'), n('a'), n('b'), { kind: 'none' }])).toEqual({
      nodeNames: ['a', 'b'],
    });
    expect(unionTarget([p('shop', 'web'), p('shop', 'web')])).toEqual({
      pods: { namespace: 'shop', labelSelector: { matchLabels: { app: 'web' } } },
    });
    expect(unionTarget([p('shop', 'web'), p('shop', 'db')])).toEqual({
      pods: { namespace: 'shop' },
    });
    expect(unionTarget([p('shop'), p('bank')])).toEqual({ allNodes: true });
    expect(unionTarget([n('a'), p('shop')])).toEqual({ allNodes: true });
    expect(unionTarget([n('a'), { kind: 'all-nodes' }])).toEqual({ allNodes: true });
    const many = Array.from({ length: 5001 }, (_, i) => n(`n${i}`));
    expect(unionTarget(many)).toEqual({ allNodes: true });
    expect(unionTarget(many.slice(0, 5000))?.nodeNames).toHaveLength(5000);
  });
});

describe('admission', () => {
  let now = 0;
  const t = (seconds: number) => {
    now = 1_770_000_000_000 + seconds * 1000;
  };
  const toNode = (alert: { labels: Record<string, string> }): AlertTarget =>
    alert.labels.node
      ? { kind: 'nodes', nodeNames: [alert.labels.node], via: 'node' }
      : { kind: 'none' };
  const post = (group: string, alerts: AlertSpec[]) => parsed(amPayload(group, alerts));
  const fp = (f: string, node = 'node-a', status?: 'resolved'): AlertSpec => ({
    fingerprint: f,
    labels: { alertname: 'X', node },
    ...(status ? { status } : {}),
  });

  test('a hand-derived sequence: duplicates, HA repeats, cooldown, cap, resolved, no target', () => {
    const adm = createAdmission({
      now: () => now,
      cooldownSeconds: 300,
      dailyCap: 3,
      dedupHorizonSeconds: 3600,
    });
    const steps: [number, string, AlertSpec[]][] = [
      [0, 'G1', [fp('A')]], // accepted (cap 1/3)
      [1, 'G1', [fp('A')]], // the HA twin: duplicate
      [10, 'G1', [fp('A'), fp('B', 'node-b')]], // A dup, B in cooldown
      [20, 'G1', [fp('A'), fp('B', 'node-b')]], // both dup (B was decided)
      [30, 'G2', [fp('C', 'node-c', 'resolved')]], // resolved: ignored
      [40, 'G2', [fp('D', 'node-d'), { fingerprint: 'W', labels: {} }]], // D accepted (2/3), W no target
      [301, 'G1', [fp('A'), fp('B', 'node-b'), fp('E', 'node-e'), fp('F', 'node-e')]], // E+F (3/3)
      [400, 'G3', [fp('G')]], // daily cap
      [86_400, 'G3', [fp('H')]], // the t=0 acceptance left the rolling day: accepted
    ];
    const results = steps.map(([s, g, alerts]) => {
      t(s);
      const d = adm.decide(post(g, alerts), toNode);
      return { ...d.counts, target: d.accepted?.target, alerts: d.accepted?.alerts.length ?? 0 };
    });
    const z = {
      firing: 0,
      resolved: 0,
      deduplicated: 0,
      noTarget: 0,
      cooldown: 0,
      dailyCap: 0,
      accepted: 0,
    };
    expect(results).toEqual([
      { ...z, firing: 1, accepted: 1, target: { nodeNames: ['node-a'] }, alerts: 1 },
      { ...z, firing: 1, deduplicated: 1, target: undefined, alerts: 0 },
      { ...z, firing: 2, deduplicated: 1, cooldown: 1, target: undefined, alerts: 0 },
      { ...z, firing: 2, deduplicated: 2, target: undefined, alerts: 0 },
      { ...z, resolved: 1, target: undefined, alerts: 0 },
      { ...z, firing: 2, noTarget: 1, accepted: 1, target: { nodeNames: ['node-d'] }, alerts: 1 },
      {
        ...z,
        firing: 4,
        deduplicated: 2,
        accepted: 2,
        target: { nodeNames: ['node-e'] },
        alerts: 2,
      },
      { ...z, firing: 1, dailyCap: 1, target: undefined, alerts: 0 },
      { ...z, firing: 1, accepted: 1, target: { nodeNames: ['node-a'] }, alerts: 1 },
    ]);
    // Seen: H only — everything else was last seen more than the 3600 s horizon before 86400;
    // the rolling day still holds the acceptances at 40 and 301 s, and H's.
    expect(adm.size()).toEqual({ remembered: 1, groups: 1, capWindow: 3 });
  });

  test('the dedup memory slides while an alert is resent, and forgets it after the horizon', () => {
    const adm = createAdmission({ now: () => now, dedupHorizonSeconds: 3600, cooldownSeconds: 1 });
    const counts = (s: number) => {
      t(s);
      const d = adm.decide(post('G', [fp('A')]), toNode);
      return d.accepted ? 'accepted' : d.counts.deduplicated ? 'duplicate' : 'other';
    };
    expect([counts(0), counts(3000), counts(6000), counts(9000), counts(12_601)]).toEqual([
      'accepted',
      'duplicate',
      'duplicate',
      'duplicate',
      'accepted',
    ]);
  });

  test('the same alert twice in one post is one alert', () => {
    const adm = createAdmission({ now: () => now });
    t(0);
    const d = adm.decide(post('G', [fp('A'), fp('A')]), toNode);
    expect(d.counts).toMatchObject({ firing: 2, deduplicated: 1, accepted: 1 });
  });

  test('release forgets the reservation (the retry is accepted); after commit it does nothing', () => {
    const adm = createAdmission({ now: () => now, dailyCap: 1 });
    t(0);
    const first = adm.decide(post('G', [fp('A')]), toNode);
    // The HA twin arrives while the object is being created: a duplicate.
    expect(adm.decide(post('G', [fp('A')]), toNode).counts.deduplicated).toBe(1);
    first.accepted?.release();
    first.accepted?.release();
    expect(adm.size()).toEqual({ remembered: 0, groups: 0, capWindow: 0 });
    t(5);
    const retry = adm.decide(post('G', [fp('A')]), toNode);
    expect(retry.counts.accepted).toBe(1);
    retry.accepted?.commit();
    retry.accepted?.release();
    expect(adm.size()).toEqual({ remembered: 1, groups: 1, capWindow: 1 });
    t(10);
    expect(adm.decide(post('G', [fp('A')]), toNode).counts.deduplicated).toBe(1);
  });

  test('memory stays within its bounds whatever is posted', () => {
    // A cooldown longer than a day, so group entries are bounded by maxRemembered, not by age.
    const adm = createAdmission({
      now: () => now,
      maxRemembered: 100,
      dailyCap: 500,
      cooldownSeconds: 100_000,
    });
    for (let i = 0; i < 1000; i++) {
      t(i);
      adm.decide(post(`G${i}`, [fp(`f${i}`, `node-${i % 7}`)]), toNode);
      const s = adm.size();
      expect(s.remembered).toBeLessThanOrEqual(100);
      expect(s.groups).toBeLessThanOrEqual(100);
      expect(s.capWindow).toBeLessThanOrEqual(500);
    }
    expect(adm.size()).toEqual({ remembered: 100, groups: 100, capWindow: 500 });
  });
});

describe('the TraceSnapshot object', () => {
  const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  const labelRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

  test('generateName is a DNS-1123 label prefix that leaves room for the suffix', () => {
    expect(generateNameFor('KubePodCrashLooping')).toBe('alert-kubepodcrashlooping-');
    expect(generateNameFor('__Disk  Full!!on/sda__')).toBe('alert-disk-full-on-sda-');
    expect(generateNameFor('')).toBe('alert-');
    expect(generateNameFor('!!!')).toBe('alert-');
    const long = generateNameFor('A'.repeat(50) + '-' + 'b'.repeat(200));
    expect(long.length).toBeLessThanOrEqual(MAX_GENERATE_NAME);
    expect(long).toBe(`alert-${'a'.repeat(50)}-`); // cut at 51 = 50 a's and a '-', trimmed
    for (const n of ['x', 'Ab-Cd', long, generateNameFor('é'.repeat(80))]) {
      const name = `${generateNameFor(n)}abcde`;
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(dns1123Label);
    }
  });

  test('label values', () => {
    expect(labelValue('KubePodCrashLooping')).toBe('KubePodCrashLooping');
    expect(labelValue('-a b/c.')).toBe('a_b_c');
    expect(labelValue('x'.repeat(100))).toHaveLength(63);
    expect(labelValue('%%%')).toBe('');
    expect(labelValue('a'.repeat(62) + '.b')).toMatch(labelRe);
  });

  const payload = (alerts: AlertSpec[], extra: Record<string, unknown> = {}) =>
    parsed(amPayload('{}/{severity="page"}:{alertname="DiskFull"}', alerts, extra));

  test('labels, annotations, window and reason', () => {
    const p = payload(
      [
        {
          fingerprint: 'a1b2c3d4e5f60718',
          labels: { alertname: 'DiskFull', node: 'node-a', rewind_window_seconds: '30' },
          annotations: { summary: 'disk is full\non /var', rewind_window_seconds: '120' },
        },
        {
          fingerprint: '0000000000000002',
          labels: { alertname: 'DiskFull', node: 'node-b', rewind_window_seconds: '9999' },
        },
      ],
      { commonLabels: { alertname: 'DiskFull' } },
    );
    const { object, warnings } = alertSnapshotObject(
      { payload: p, alerts: p.alerts, target: { nodeNames: ['node-a', 'node-b'] } },
      { namespace: 'rewind-system', windowSeconds: 10 },
    );
    expect(warnings).toEqual(['rewind_window_seconds="9999" (expected 1..3600)']);
    expect(object).toEqual({
      apiVersion: 'rewind.dev/v1alpha1',
      kind: 'TraceSnapshot',
      metadata: {
        generateName: 'alert-diskfull-',
        namespace: 'rewind-system',
        labels: {
          'rewind.dev/trigger': 'alert',
          'rewind.dev/alertname': 'DiskFull',
          'rewind.dev/alert-fingerprint': 'a1b2c3d4e5f60718',
        },
        annotations: {
          'rewind.dev/alert': JSON.stringify({
            alerts: p.alerts.map((a) => ({
              fingerprint: a.fingerprint,
              startsAt: a.startsAt,
              labels: a.labels,
            })),
          }),
          'rewind.dev/alert-group': '{}/{severity="page"}:{alertname="DiskFull"}',
        },
      },
      spec: {
        target: { nodeNames: ['node-a', 'node-b'] },
        windowSeconds: 120,
        reason: 'alert DiskFull: disk is full on /var (+1 more alerts)',
      },
    });
  });

  test('without a window asked, the configured one; the reason is cut at 1024 code points', () => {
    const p = payload([
      {
        fingerprint: 'f',
        labels: { alertname: 'Slow' },
        annotations: { description: '😀'.repeat(2000) },
      },
    ]);
    const { object } = alertSnapshotObject(
      { payload: p, alerts: p.alerts, target: { allNodes: true } },
      { namespace: 'ns', windowSeconds: 25 },
    );
    expect(object.spec.windowSeconds).toBe(25);
    const reason = object.spec.reason as string;
    expect(Array.from(reason)).toHaveLength(1024);
    expect(reason.startsWith('alert Slow: 😀')).toBe(true);
    expect(reason.endsWith('😀…')).toBe(true);
  });

  test('the alert annotation stays within its byte bound', () => {
    const p = payload(
      Array.from({ length: 200 }, (_, i) => ({
        fingerprint: `fp${i}`,
        labels: { alertname: 'Storm', node: `node-${i}`, pad: 'x'.repeat(100) },
      })),
    );
    const s = alertAnnotation(p.alerts, 7, 4096);
    expect(Buffer.byteLength(s)).toBeLessThanOrEqual(4096);
    const parsedAnnotation = JSON.parse(s) as {
      alerts: unknown[];
      omitted: number;
      truncatedByAlertmanager: number;
    };
    expect(parsedAnnotation.alerts.length + parsedAnnotation.omitted).toBe(200);
    expect(parsedAnnotation.alerts.length).toBeGreaterThan(10);
    expect(parsedAnnotation.truncatedByAlertmanager).toBe(7);
    // One alert with huge labels keeps its identity and name.
    const huge = payload([
      { fingerprint: 'big', labels: { alertname: 'Big', blob: 'y'.repeat(10_000) } },
    ]);
    expect(JSON.parse(alertAnnotation(huge.alerts, 0, 1024))).toEqual({
      alerts: [
        { fingerprint: 'big', startsAt: huge.alerts[0]?.startsAt, labels: { alertname: 'Big' } },
      ],
    });
  });
});

describe('token', () => {
  test('bearer header, constant-time comparison, a static value', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer  abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
    expect(tokenMatches('s3cret', 's3cret')).toBe(true);
    expect(tokenMatches('s3cre', 's3cret')).toBe(false);
    expect(staticToken(' s3cret\n')()).toBe('s3cret');
    expect(staticToken('')()).toBeUndefined();
  });

  test('a token file is read again when it changes, and fails closed when it goes', () => {
    const files: Record<string, { ino: number; mtimeMs: number; body: string }> = {
      '/t': { ino: 1, mtimeMs: 1, body: 'one\n' },
    };
    let reads = 0;
    const fsys = {
      statSync: (f: string) => {
        const e = files[f];
        if (!e) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
        return { ino: e.ino, mtimeMs: e.mtimeMs, size: e.body.length };
      },
      readFileSync: (f: string) => {
        reads++;
        return (files[f] as { body: string }).body;
      },
    };
    const token = fileToken('/t', fsys);
    expect([token(), token()]).toEqual(['one', 'one']);
    expect(reads).toBe(1);
    files['/t'] = { ino: 2, mtimeMs: 1, body: 'two\n' }; // the kubelet's symlink swap
    expect(token()).toBe('two');
    files['/t'] = { ino: 2, mtimeMs: 1, body: '' };
    expect(token()).toBeUndefined();
    delete files['/t'];
    expect(token()).toBeUndefined();
  });
});

describe('retry', () => {
  test('which errors are transient', () => {
    expect(isTransientApiError({ code: 503 })).toBe(true);
    expect(isTransientApiError({ code: 429 })).toBe(true);
    expect(isTransientApiError({ code: 409 })).toBe(true);
    expect(isTransientApiError({ code: 422 })).toBe(false);
    expect(isTransientApiError({ code: 403 })).toBe(false);
    expect(isTransientApiError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransientApiError(new Error('x', { cause: { code: 'ECONNRESET' } }))).toBe(true);
    expect(isTransientApiError({ type: 'system', code: 'EWHATEVER' })).toBe(true);
    expect(isTransientApiError(new Error('bug'))).toBe(false);
    expect(isTransientApiError(undefined)).toBe(false);
  });

  test('an ApiException becomes one line with the API server message', () => {
    expect(
      describeApiError({ code: 422, body: '{"kind":"Status","message":"spec.target: Invalid"}' }),
    ).toBe('the API server answered 422: spec.target: Invalid');
    expect(describeApiError({ code: 503, body: { message: 'down' } })).toBe(
      'the API server answered 503: down',
    );
    expect(describeApiError(new Error('a\nb'))).toBe('a b');
  });

  test('backs off on an injected clock, within the budget', async () => {
    let clock = 0;
    const sleeps: number[] = [];
    const o = {
      budgetMs: 10_000,
      backoff: { initialMs: 200, maxMs: 2000 },
      now: () => clock,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        clock += ms;
      },
    };
    let calls = 0;
    const flaky = async () => {
      if (++calls <= 3) throw { code: 503 };
      return 'ok';
    };
    await expect(withRetry(flaky, o)).resolves.toBe('ok');
    expect(sleeps).toEqual([200, 400, 800]);

    sleeps.length = 0;
    clock = 0;
    const down = withRetry(async () => Promise.reject({ code: 'ECONNREFUSED' }), o);
    await expect(down).rejects.toBeInstanceOf(RetriesExhausted);
    // 200+400+800+1600+2000+2000 = 7000; one more 2000 is 9000; the next would pass 10000.
    expect(sleeps).toEqual([200, 400, 800, 1600, 2000, 2000, 2000]);
    await expect(withRetry(async () => Promise.reject({ code: 422 }), o)).rejects.toEqual({
      code: 422,
    });
  });
});
