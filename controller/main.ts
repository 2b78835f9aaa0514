/**
 * rewind-controller: turns TraceSnapshots (made by people, `kubectl rewind`, or the Alertmanager
 * webhook) into one merged trace of the nodes they name. This file is the I/O shell: it reads the
 * configuration (cli.ts, config.ts), builds the parts and serves them:
 *
 * - 9411 (TLS): the API — the webhook (POST /v1/alerts), downloads (GET /v1/snapshots/NS/NAME),
 *   GET /v1/agents; in standalone mode also POST/GET /v1/snapshots (standalone.ts);
 * - 9412: /healthz, /readyz, /metrics.
 *
 * In a cluster (in-cluster.ts) TraceSnapshots are objects of the API server and callers are
 * authorized by Kubernetes RBAC; standalone, they live on the data volume and callers present
 * the configured token.
 */
import { mkdirSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import { oneLine } from '../common/errors';
import { healthApp, runMain, type Lifecycle } from '../common/lifecycle';
import { readConfigFile } from '../common/settings-file';
import { readTlsFile, tlsOptions, watchCertificates } from '../common/tls';
import { version as VERSION } from '../package.json';
import { createAdmission } from './alerts/admission';
import { traceSnapshotCreator } from './alerts/kube-create';
import type { PodLocation } from './alerts/targets';
import { fileToken, staticToken } from './alerts/token';
import { alertWebhookRouter } from './alerts/webhook';
import { AgentStatusPoller } from './api/agent-status';
import { apiApp, type SnapshotDownload } from './api/app';
import { Authorizer } from './api/authorize';
import { reviewClient } from './api/review-client';
import { runCommandLine } from '../common/settings-cli';
import { controllerProgram } from './cli';
import { agentClients } from './collect/agent-client';
import { CONFIG_FILE_VARIABLE, parseControllerConfig, type ControllerConfig } from './config';
import { startInCluster } from './in-cluster';
import { controllerMetrics, type ControllerMetrics } from './metrics';
import type { AgentEndpoint, SnapshotPhase } from './model';
import type { PodLookup } from './naming/cgroup-names';
import { snapshotPipeline } from './pipeline';
import { writeSnapshotArchive } from './storage/archive';
import { SnapshotStore } from './storage/store';
import { startStandalone } from './standalone';

/**
 * How often /v1/agents' statuses are refreshed, how often the agent pods are compared with what
 * was asked (a changed one is asked then), and how long one agent may take.
 */
const AGENT_STATUS_EVERY_MS = 30_000;
const AGENT_CHANGES_EVERY_MS = 1_000;
const AGENT_STATUS_TIMEOUT_MS = 5_000;

interface Mode {
  /** Agents as the controller would dial them now. */
  endpoints(): AgentEndpoint[];
  /** A snapshot's phase, or undefined when there is no such snapshot. */
  phase(
    namespace: string,
    name: string,
  ): SnapshotPhase | undefined | Promise<SnapshotPhase | undefined>;
  authorizer: Pick<Authorizer, 'authorize'>;
  /** Creates a snapshot for an alert; resolves to its name. */
  create: Parameters<typeof alertWebhookRouter>[0]['create'];
  nodeForInstance(host: string): string | undefined;
  podLocation(namespace: string, name: string): PodLocation | undefined;
  /** Extra routes of the API (standalone's snapshot requests). */
  routes?: Parameters<typeof apiApp>[0]['routes'];
}

export async function startController(
  config: Readonly<ControllerConfig>,
  lifecycle: Lifecycle,
): Promise<void> {
  const log: Logger = pino({ name: 'rewind-controller', level: config.logLevel });
  const metrics: ControllerMetrics = controllerMetrics(VERSION);
  const tlsPaths = { cert: config.tlsCert, key: config.tlsKey, ca: config.tlsCa };
  const serverTls = tlsOptions(tlsPaths, 'none');
  const client = agentClients({
    ca: readTlsFile('CA certificate', config.tlsCa),
    cert: readTlsFile('certificate', config.tlsCert),
    key: readTlsFile('private key', config.tlsKey),
    serverName: config.agentServerName,
  });
  try {
    mkdirSync(config.dataDir, { recursive: true });
  } catch (e) {
    throw new Error(`cannot use the data folder ${config.dataDir}: ${oneLine(e)}`);
  }
  const store = new SnapshotStore(config.dataDir);
  await store.sweep();
  metrics.storedBytes(await store.totalBytes());
  const pipelineWith = (pods: PodLookup) =>
    snapshotPipeline(
      {
        dataDir: config.dataDir,
        concurrency: config.concurrency,
        perNodeTimeoutMs: config.nodeTimeoutSeconds * 1000,
        clockExchanges: config.clockExchanges,
        budgetBytes: config.snapshotBudgetBytes,
        controllerVersion: VERSION,
      },
      { client, pods, store, metrics },
    );

  await lifecycle.serve(
    'health',
    healthApp(metrics.registry, lifecycle.gates),
    config.healthPort,
    config.bind,
  );

  const token = config.webhookTokenFile
    ? fileToken(config.webhookTokenFile)
    : staticToken(config.webhookToken);

  let mode: Mode;
  if (config.standalone) {
    const s = await startStandalone({
      config,
      lifecycle,
      log,
      metrics,
      store,
      token,
      pipeline: pipelineWith,
    });
    mode = s;
  } else {
    const k = await startInCluster({
      config,
      lifecycle,
      log,
      metrics,
      store,
      pipeline: pipelineWith,
      exit: (code) => process.exit(code),
    });
    mode = {
      endpoints: k.agentEndpoints,
      phase: (namespace, name) => k.cachedSnapshot(namespace, name)?.status?.phase,
      authorizer: new Authorizer({ client: reviewClient(k.clients.kc), now: Date.now }),
      create: traceSnapshotCreator(k.clients.custom),
      nodeForInstance: (host) =>
        k.informers.nodes
          .list()
          .find(
            (n) =>
              n.metadata?.name === host ||
              (n.status?.addresses ?? []).some(
                (a) => a.type === 'InternalIP' && a.address === host,
              ),
          )?.metadata?.name,
      podLocation: (namespace, name) => {
        const p = k.informers.pods.get(name, namespace);
        return p && { nodeName: p.spec?.nodeName, labels: p.metadata?.labels };
      },
    };
  }

  const poller = new AgentStatusPoller({
    endpoints: () => mode.endpoints(),
    fetchStatus: async (endpoint, signal) => {
      const c = client(endpoint);
      try {
        return await c.status(signal);
      } finally {
        c.close();
      }
    },
    intervalMs: AGENT_STATUS_EVERY_MS,
    changeCheckMs: AGENT_CHANGES_EVERY_MS,
    timeoutMs: AGENT_STATUS_TIMEOUT_MS,
    concurrency: config.concurrency,
    now: Date.now,
    timers: {
      setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
      clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
    },
  });
  poller.start();
  lifecycle.onStop(() => poller.stop());

  const webhook = alertWebhookRouter({
    token,
    maxBodyBytes: config.webhookMaxBytes,
    admission: createAdmission({
      now: Date.now,
      cooldownSeconds: config.alertCooldownSeconds,
      dailyCap: config.alertDailyCap,
    }),
    targets: {
      labels: {
        node: config.alertNodeLabel,
        instance: config.alertInstanceLabel,
        namespace: config.alertNamespaceLabel,
        pod: config.alertPodLabel,
        scope: config.alertScopeLabel,
      },
      noTargetPolicy: config.alertNoTarget,
      nodeForInstance: (host) => mode.nodeForInstance(host),
      podLocation: (namespace, name) => mode.podLocation(namespace, name),
    },
    objects: { namespace: config.namespace, windowSeconds: config.alertWindowSeconds },
    create: (object) => mode.create(object),
    metrics,
    log: log.child({ part: 'webhook' }),
  });

  const api = apiApp({
    authorizer: mode.authorizer,
    find: async (namespace, name): Promise<SnapshotDownload | undefined> => {
      const phase = await mode.phase(namespace, name);
      if (phase === undefined) return undefined;
      return { phase, stream: (out) => writeSnapshotArchive(store.layout(namespace, name), out) };
    },
    agents: () => poller.list(),
    metrics,
    webhook,
    routes: mode.routes,
    onError: (line) => log.warn(line),
  });
  await lifecycle.serve('api', api, config.apiPort, config.bind, serverTls);
  const stopWatching = watchCertificates(
    lifecycle.server('api') as Parameters<typeof watchCertificates>[0],
    tlsPaths,
    (event, detail) =>
      event === 'failed' ? log.error({ detail }, 'certificates not reloaded') : log.info(detail),
    30_000,
    'none',
  );
  lifecycle.onStop(stopWatching);
  log.info(
    { listening: lifecycle.addresses(), standalone: config.standalone, version: VERSION },
    'controller started',
  );
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  await runCommandLine(controllerProgram(VERSION), argv, (invocation) =>
    runMain(
      'rewind-controller',
      () => {
        const file = readConfigFile(invocation.configFile ?? env[CONFIG_FILE_VARIABLE]);
        const config = parseControllerConfig({ flags: invocation.flags, env, file });
        // The chart's grace period is 60 s: drain, then up to 30 s for requests in flight.
        return { ...config, drainMs: config.drainSeconds * 1000, closeTimeoutMs: 30_000 };
      },
      startController,
    ),
  );
}

if (require.main === module) void main(process.argv.slice(2), process.env);
