/**
 * The scenario's incident, shared by the e2e suite and `npm run demo`: a client pod on node-1
 * talking TCP to a server pod on node-2 over the private network, a pod on node-3 that starts
 * spinning a CPU, and the monitoring an operator would have — real Prometheus scraping the agents
 * and the controller with the chart's rules, real Alertmanager routing with the chart's receiver
 * to the controller's webhook. The alert the hog provokes becomes a TraceSnapshot of every node
 * (the rule is rendered with `scope: cluster`).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_HEALTH } from '../agent/vm-node';
import type { ControllerProcess } from '../controller/controller-process';
import { startAlertmanager, type Alertmanager } from '../monitoring/alertmanager';
import { chartAlertmanagerConfig, chartRuleFile } from '../monitoring/chart-monitoring';
import { startPrometheus, type Alert, type Prometheus } from '../monitoring/prometheus';
import { NODES, NS, privateAddress, type ScenarioCluster, type Workload } from './cluster';

export const TCP_PORT = 7000;
export const ALERT = 'RewindNodeCPUSaturated';

export const SERVER: Workload = {
  node: 1,
  name: 'orders-db',
  container: 'db',
  containerId: 'c0ffee'.repeat(10) + 'c0ff',
  comm: 'rwd-server',
};
export const CLIENT: Workload = {
  node: 0,
  name: 'orders-api',
  container: 'api',
  containerId: 'd1'.repeat(32),
  comm: 'rwd-client',
};
export const HOG: Workload = {
  node: 2,
  name: 'cpu-hog',
  container: 'spin',
  containerId: 'e2'.repeat(32),
  comm: 'rwd-hog',
};

/** Polls `check` until it returns a truthy value, which it returns; throws after timeoutMs. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * The three pods registered; the server started and listening, then its client (a line every
 * 0.2 s, reconnecting if the connection ends).
 */
export async function startConversation(cluster: ScenarioCluster): Promise<{ hogUid: string }> {
  const [server, client, hog] = await Promise.all(
    [SERVER, CLIENT, HOG].map((w) => cluster.registerWorkload(w)),
  );
  await cluster.runInPod(SERVER, server as string, {
    program: '/bin/busybox',
    argv0: 'nc',
    // -ll with -e: a new echoing server for every connection, never exiting.
    args: `-ll -p ${TCP_PORT} -e /bin/cat`,
  });
  await cluster
    .vm(SERVER.node)
    .run(
      `for i in $(seq 300); do busybox netstat -ltn | grep -q ":${TCP_PORT} " && exit 0; ` +
        'sleep 0.1; done; echo "the server never listened" >&2; exit 1',
    );
  await cluster.runInPod(CLIENT, client as string, {
    program: '/bin/busybox',
    argv0: 'sh',
    args:
      `-c 'while :; do (while :; do echo order; sleep 0.2; done) | ` +
      `busybox nc ${privateAddress(SERVER.node)} ${TCP_PORT} >/dev/null; sleep 1; done'`,
  });
  return { hogUid: hog as string };
}

/** The incident: the hog pod's process spins (awk's empty loop: no system calls). */
export async function startHog(cluster: ScenarioCluster, hogUid: string): Promise<void> {
  await cluster.runInPod(HOG, hogUid, {
    program: '/usr/bin/mawk',
    args: "'BEGIN { while (1) {} }'",
  });
}

export async function stopHog(cluster: ScenarioCluster): Promise<void> {
  await cluster.vm(HOG.node).run(`pkill -x ${HOG.comm} || true`);
}

export interface Monitoring {
  prometheus: Prometheus;
  alertmanager: Alertmanager;
  /** Resolves once the rule is loaded and every target is scraped. */
  waitScraping(): Promise<void>;
  waitFiring(timeoutMs?: number): Promise<Alert>;
  stop(): Promise<void>;
}

/**
 * Prometheus and Alertmanager in `<cluster.out>/monitoring`, set up from the chart: its rules
 * (a 10 s window and no `for`, so that the scenario does not wait minutes), its receiver with the
 * controller's URL, the chart's webhook token and the chart's CA (the files the NOTES say to copy
 * into Alertmanager's namespace), the certificate checked against the Service's name.
 *
 * Start it once the hog runs. On a host loaded by other work, a TCG guest's ordinary work looks
 * saturated (a CI run: node-1 at 100 % over the 10 s window before any hog; nodes doing nothing
 * stayed 40-67 % busy for minutes): an alert fired before the hog would take the Alertmanager
 * group's snapshot, and the controller's cooldown would refuse the hog's. Started after it,
 * whichever alert fires first does so while the hog runs, and the snapshot of every node holds it.
 */
export async function startMonitoring(
  cluster: ScenarioCluster,
  ctrl: ControllerProcess,
): Promise<Monitoring> {
  const dir = join(cluster.out, 'monitoring');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const alertmanager = await startAlertmanager({
    dir,
    name: 'alertmanager',
    config: chartAlertmanagerConfig({
      webhookUrl: `https://127.0.0.1:${ctrl.apiPort}/v1/alerts`,
      tokenFile: cluster.webhookTokenFile,
      caFile: cluster.caFile,
      verifyInClusterName: true,
    }),
  });
  let prometheus: Prometheus;
  try {
    prometheus = await startPrometheus({
      dir,
      scrapeIntervalSeconds: 2,
      evaluationIntervalSeconds: 2,
      targets: [
        ...NODES.map((node, i) => ({
          job: 'rewind-agent',
          address: `127.0.0.1:${cluster.vm(i).hostPort(AGENT_HEALTH)}`,
          labels: { node },
        })),
        { job: 'rewind-controller', address: `127.0.0.1:${ctrl.healthPort}`, labels: {} },
      ],
      ruleFile: chartRuleFile({
        'monitoring.prometheusRule.cpuSaturated.window': '10s',
        'monitoring.prometheusRule.cpuSaturated.for': '0s',
        'monitoring.prometheusRule.cpuSaturated.busyRatio': 0.8,
        'monitoring.prometheusRule.cpuSaturated.scope': 'cluster',
      }),
      alertmanagerUrl: alertmanager.url,
    });
  } catch (err) {
    await alertmanager.stop();
    throw err;
  }
  return {
    prometheus,
    alertmanager,
    waitScraping: () =>
      until('Prometheus to scrape the three agents and the controller', async () => {
        const up = await prometheus.query('up == 1');
        return up.length === NODES.length + 1;
      }).then(() => undefined),
    waitFiring: (timeoutMs = 180_000) =>
      prometheus.waitForAlert(ALERT, 'firing', timeoutMs, { node: NODES[HOG.node] as string }),
    async stop() {
      await prometheus.stop();
      await alertmanager.stop();
    },
  };
}

/** The TraceSnapshot the controller made of the alert (its name), once there is one. */
export function waitAlertSnapshot(cluster: ScenarioCluster, timeoutMs = 120_000): Promise<string> {
  return until(
    'the controller to make a TraceSnapshot of the alert',
    async () => {
      const out = await cluster.cp.kubectlOk([
        '-n',
        NS,
        'get',
        'tracesnapshots',
        '-l',
        'rewind.dev/trigger=alert',
        '-o',
        'name',
      ]);
      return out.trim().split('\n').filter(Boolean)[0]?.replace(/^.*\//, '');
    },
    timeoutMs,
  );
}
