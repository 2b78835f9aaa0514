/**
 * The chart's monitoring, end to end on this host with the real packages: Debian's Prometheus
 * loads the chart's PrometheusRule (rendered with a short window, `for: 0s`; checked by promtool)
 * and scrapes two nodes' agent metrics every second; one node's CPUs turn busy and
 * RewindNodeCPUSaturated fires for it; Debian's Alertmanager, configured with the receiver and
 * route the chart's NOTES print (checked by amtool; the Secret's token and CA as files), posts it
 * over HTTPS with the bearer token to a receiver serving a certificate of the test's CA. The
 * other node stays idle and never fires.
 *
 * STAND-INS: each node's /metrics is the agent's real registry over a /proc/stat the test writes
 * (test/monitoring/standin-node.ts), since this host's CPUs cannot be made busy on cue; the real
 * agent on real CPUs is the e2e scenario's (VMs, test/controller/e2e-vm.test.ts). The receiver
 * is a plain HTTPS server in place of the controller's webhook, which has its own suites
 * (test/controller/alerts-webhook.test.ts); it checks the body with the webhook's own schema.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { load } from 'js-yaml';
import { parseWebhookPayload, type WebhookPayload } from '../../controller/alerts/payload';
import { makeTestPki } from '../agent/certs';
import { startAlertmanager, type Alertmanager } from './alertmanager';
import { chartAlertmanagerConfig, chartRuleFile } from './chart-monitoring';
import { startPrometheus, type Prometheus } from './prometheus';
import { BUSY, IDLE, startStandInNode, type StandInNode } from './standin-node';

const ALERT = 'RewindNodeCPUSaturated';
const CPU = 'monitoring.prometheusRule.cpuSaturated';
const WINDOW = '10s';

interface Post {
  authorization: string | undefined;
  body: unknown;
}

/** The busy share the rule is about, per node, as this test expects it computed. */
const BUSY_SHARE =
  `1 - sum by (node) (rate(rewind_agent_node_cpu_seconds_total{job="rewind-agent",mode=~"idle|iowait"}[${WINDOW}]))` +
  ` / sum by (node) (rate(rewind_agent_node_cpu_seconds_total{job="rewind-agent"}[${WINDOW}]))`;

/** Waiting on real external processes: polled against a deadline. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("the chart's rule in a real Prometheus, routed by a real Alertmanager", () => {
  let dir = '';
  let rules = '';
  let amConfig = '';
  const token = randomBytes(16).toString('hex');
  const posts: Post[] = [];
  let receiver: https.Server | undefined;
  const nodes: StandInNode[] = [];
  let am: Alertmanager | undefined;
  let prom: Prometheus | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rewind-monitoring-'));
    const pki = makeTestPki(dir);
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, `${token}\n`);
    receiver = https.createServer(
      { cert: pki.controller.certPem, key: pki.controller.keyPem },
      (req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          posts.push({ authorization: req.headers.authorization, body: JSON.parse(body) });
          res.writeHead(200).end('{}');
        });
      },
    );
    await new Promise<void>((resolve) => receiver?.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as AddressInfo;

    nodes.push(await startStandInNode('node-a', IDLE), await startStandInNode('node-b', IDLE));
    rules = chartRuleFile({
      [`${CPU}.window`]: WINDOW,
      [`${CPU}.for`]: '0s',
      [`${CPU}.busyRatio`]: 0.9,
      [`${CPU}.scope`]: 'node',
    });
    amConfig = chartAlertmanagerConfig({
      webhookUrl: `https://127.0.0.1:${port}/v1/alerts`,
      tokenFile,
      caFile: pki.ca,
    });
    am = await startAlertmanager({ dir, name: 'am', config: amConfig });
    prom = await startPrometheus({
      dir: path.join(dir, 'prometheus'),
      scrapeIntervalSeconds: 1,
      evaluationIntervalSeconds: 1,
      targets: nodes.map((n) => ({
        job: 'rewind-agent',
        address: n.address,
        labels: { node: n.node },
      })),
      ruleFile: rules,
      alertmanagerUrl: am.url,
    });
  });

  afterAll(async () => {
    await prom?.stop();
    await am?.stop();
    await Promise.all(nodes.map((n) => n.stop()));
    receiver?.closeAllConnections();
    await new Promise((resolve) => (receiver ? receiver.close(resolve) : resolve(undefined)));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the rule and the receiver are the chart's: RewindNodeCPUSaturated, the NOTES' route", () => {
    const groups = (load(rules) as { groups: { name: string; rules: { alert: string }[] }[] })
      .groups;
    const capture = groups.find((g) => g.name === 'rewind-capture');
    expect(capture?.rules.map((r) => r.alert)).toEqual([ALERT]);
    expect(amConfig).toContain("from the chart's NOTES");
    const config = load(amConfig) as {
      route: { receiver: string; routes: unknown[] };
      receivers: { name: string }[];
    };
    expect(config.route.receiver).toBe('null');
    expect(config.route.routes).toEqual([
      { receiver: 'rewind', matchers: ['rewind_capture="true"'], continue: true },
    ]);
    expect(config.receivers.map((r) => r.name)).toEqual(['null', 'rewind']);
  });

  test('a busy node fires, reaches the webhook over HTTPS with the token; the idle one never', async () => {
    const p = prom as Prometheus;
    // Both idle, and seen so by Prometheus: the busy share is computed for each, below the ratio.
    const idle = await until('an idle busy share for both nodes', async () => {
      const s = await p.query(BUSY_SHARE);
      return s.length === 2 ? s : undefined;
    });
    for (const s of idle) expect(s.value).toBeLessThan(0.2);
    // (Others of the chart's rules may be pending: the stand-in's recorder never records.)
    expect((await p.alerts()).filter((a) => a.labels.alertname === ALERT)).toEqual([]);

    nodes[0]?.model.setProfile(BUSY);
    const firing = await p.waitForAlert(ALERT, 'firing', 45_000, { node: 'node-a' });
    expect(firing.labels).toMatchObject({
      alertname: ALERT,
      node: 'node-a',
      job: 'rewind-agent',
      rewind_capture: 'true',
      rewind_scope: 'node',
    });

    const [post, alert] = await until('the alert posted to the webhook', async () => {
      for (const post of posts) {
        const parsed = parseWebhookPayload(post.body);
        if (!parsed.ok)
          throw new Error(`Alertmanager posted what the webhook refuses: ${parsed.error}`);
        const a = parsed.payload.alerts.find((x) => x.labels.alertname === ALERT);
        if (a !== undefined) return [post, a] as const;
      }
      return undefined;
    });
    expect(post.authorization).toBe(`Bearer ${token}`);
    expect((parseWebhookPayload(post.body) as { payload: WebhookPayload }).payload.receiver).toBe(
      'rewind',
    );
    expect(alert.status).toBe('firing');
    expect(alert.labels).toMatchObject({
      alertname: ALERT,
      node: 'node-a',
      rewind_capture: 'true',
      rewind_scope: 'node',
    });

    // The idle node was scraped and judged all along, and never pending nor firing.
    const stillIdle = (await p.query(BUSY_SHARE)).find((s) => s.metric.node === 'node-b');
    expect(stillIdle?.value).toBeLessThan(0.2);
    expect(nodes[1]?.scrapes()).toBeGreaterThan(5);
    const ever = (node: string) =>
      p.query(`max_over_time(ALERTS{alertname="${ALERT}",node="${node}"}[5m])`);
    expect(await ever('node-a')).toHaveLength(1);
    expect(await ever('node-b')).toEqual([]);
    const postedNodes = posts.flatMap((x) =>
      ((x.body as { alerts?: { labels: Record<string, string> }[] }).alerts ?? []).map(
        (a) => a.labels.node,
      ),
    );
    expect(postedNodes).not.toContain('node-b');
  });
});
