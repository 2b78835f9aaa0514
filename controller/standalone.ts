/**
 * Standalone mode, for fleets outside Kubernetes and for demos:
 * `rewind-controller run --standalone --agents NODE=HOST:PORT,… --data DIR`.
 *
 * The same reconciler and pipeline run as in a cluster, over `LocalSnapshots`: TraceSnapshot
 * objects kept as JSON files under `<data>/.standalone/` with the API server's rules that the
 * reconciler relies on (resourceVersion preconditions answering 409, a finalizer holding a
 * deletion until the data is gone, watch events). Snapshots are requested through the API
 * (POST /v1/snapshots) or the Alertmanager webhook; every caller presents the configured token
 * (there is no RBAC outside Kubernetes: whoever holds the token may take and read traces).
 * Pods are not named: there is no API server to name them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { dns1123Subdomain } from '../common/config';
import type { Lifecycle } from '../common/lifecycle';
import { bearerToken, tokenMatches, type TokenSource } from './alerts/token';
import type { Decision } from './api/authorize';
import type { ControllerConfig } from './config';
import type { InformerEvent, InformerHandler } from './kube/informer';
import { holderIdentity } from './kube/leader';
import type { SnapshotApi } from './kube/snapshots';
import type { ControllerMetrics } from './metrics';
import {
  API_VERSION,
  KIND,
  snapshotKey,
  type AgentEndpoint,
  type SnapshotPhase,
  type TraceSnapshot,
  type TraceSnapshotSpec,
} from './model';
import type { PodLookup } from './naming/cgroup-names';
import type { NewTraceSnapshot } from './alerts/snapshot-object';
import { realClock } from './reconcile/clock';
import type { SnapshotPipeline } from './reconcile/pipeline';
import { Reconciler } from './reconcile/reconciler';
import type { SnapshotStore } from './storage/store';

/** An API error the status writer and the reconciler recognise (client-node's `code`). */
class LocalApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** `NODE=HOST:PORT` or `HOST:PORT` (the node is then named after the host). */
export function parseAgentAddress(entry: string): AgentEndpoint {
  const eq = entry.indexOf('=');
  const node = eq >= 0 ? entry.slice(0, eq) : undefined;
  const address = eq >= 0 ? entry.slice(eq + 1) : entry;
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(colon + 1));
  if (!(port > 0 && port < 65536)) throw new Error(`--agents: ${entry}: the port must be 1–65535`);
  const name = node ?? host;
  const valid = dns1123Subdomain().safeParse(name);
  if (!valid.success)
    throw new Error(
      `--agents: ${entry}: the node name ${JSON.stringify(name)} ${valid.error.issues[0]?.message}`,
    );
  return { node: name, host, port, ready: true };
}

/** TraceSnapshots in files, with the API server's rules the reconciler relies on. */
export class LocalSnapshots implements SnapshotApi {
  private readonly objects = new Map<string, TraceSnapshot>();
  private readonly handlers: InformerHandler<TraceSnapshot>[] = [];
  private version = 0;

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const s = JSON.parse(readFileSync(join(dir, f), 'utf8')) as TraceSnapshot;
      this.objects.set(snapshotKey(s), s);
      this.version = Math.max(this.version, Number(s.metadata.resourceVersion ?? 0));
    }
  }

  private file(s: { metadata: { namespace: string; name: string } }): string {
    return join(this.dir, `${s.metadata.namespace}_${s.metadata.name}.json`);
  }

  private store(s: TraceSnapshot, event: InformerEvent): TraceSnapshot {
    const stored = structuredClone(s);
    stored.metadata.resourceVersion = String(++this.version);
    const tmp = `${this.file(stored)}.tmp`;
    writeFileSync(tmp, JSON.stringify(stored));
    renameSync(tmp, this.file(stored));
    this.objects.set(snapshotKey(stored), stored);
    this.emit(event, stored);
    return structuredClone(stored);
  }

  private emit(event: InformerEvent, s: TraceSnapshot): void {
    const copy = structuredClone(s);
    setImmediate(() => this.handlers.forEach((h) => h(event, copy)));
  }

  private current(namespace: string, name: string, resourceVersion?: string): TraceSnapshot {
    const s = this.objects.get(`${namespace}/${name}`);
    if (!s) throw new LocalApiError(404, `tracesnapshot ${namespace}/${name} not found`);
    if (resourceVersion !== undefined && s.metadata.resourceVersion !== resourceVersion)
      throw new LocalApiError(409, `tracesnapshot ${namespace}/${name} was modified`);
    return s;
  }

  // ---- the informer's side ----
  on(handler: InformerHandler<TraceSnapshot>): void {
    this.handlers.push(handler);
  }
  cached(name: string, namespace?: string): TraceSnapshot | undefined {
    const s = this.objects.get(`${namespace}/${name}`);
    return s && structuredClone(s);
  }
  listCached(): TraceSnapshot[] {
    return [...this.objects.values()].map((s) => structuredClone(s));
  }

  // ---- the API's side ----
  async get(namespace: string, name: string): Promise<TraceSnapshot | undefined> {
    return this.cached(name, namespace);
  }
  async list() {
    return { items: this.listCached() };
  }
  async create(namespace: string, o: NewObject): Promise<TraceSnapshot> {
    const name =
      o.metadata.name ??
      `${o.metadata.generateName ?? 'snapshot-'}${randomBytes(3).toString('hex').slice(0, 5)}`;
    if (this.objects.has(`${namespace}/${name}`))
      throw new LocalApiError(409, `tracesnapshot ${namespace}/${name} already exists`);
    return this.store(
      {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: {
          ...o.metadata,
          name,
          namespace,
          uid: randomUUID(),
          generation: 1,
          creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        },
        spec: o.spec,
      },
      'add',
    );
  }
  async replaceStatus(s: TraceSnapshot): Promise<TraceSnapshot> {
    const cur = this.current(s.metadata.namespace, s.metadata.name, s.metadata.resourceVersion);
    return this.store({ ...cur, status: s.status }, 'update');
  }
  async patchMetadata(
    namespace: string,
    name: string,
    resourceVersion: string,
    patch: { annotations?: Record<string, string | null>; finalizers?: string[] },
  ): Promise<TraceSnapshot> {
    const cur = this.current(namespace, name, resourceVersion);
    const annotations = { ...cur.metadata.annotations };
    for (const [k, v] of Object.entries(patch.annotations ?? {}))
      if (v === null) delete annotations[k];
      else annotations[k] = v;
    const next: TraceSnapshot = {
      ...cur,
      metadata: {
        ...cur.metadata,
        annotations,
        ...(patch.finalizers ? { finalizers: patch.finalizers } : {}),
      },
    };
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) {
      this.remove(next);
      return next;
    }
    return this.store(next, 'update');
  }
  async delete(namespace: string, name: string, uid: string): Promise<void> {
    const cur = this.objects.get(`${namespace}/${name}`);
    if (!cur || cur.metadata.uid !== uid) return;
    if ((cur.metadata.finalizers ?? []).length === 0) this.remove(cur);
    else if (!cur.metadata.deletionTimestamp)
      this.store(
        { ...cur, metadata: { ...cur.metadata, deletionTimestamp: new Date().toISOString() } },
        'update',
      );
  }
  private remove(s: TraceSnapshot): void {
    this.objects.delete(snapshotKey(s));
    rmSync(this.file(s), { force: true });
    this.emit('delete', s);
  }
}

/** What may be created: a name or a generateName, labels, annotations and the spec. */
type NewObject = {
  metadata: {
    name?: string;
    generateName?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: TraceSnapshotSpec;
};

/** POST /v1/snapshots in standalone mode. */
const snapshotRequest = z
  .object({
    name: dns1123Subdomain().max(63).optional(),
    target: z
      .union([
        z.object({ nodeNames: z.array(dns1123Subdomain()).min(1).max(5000) }).strict(),
        z.object({ allNodes: z.literal(true) }).strict(),
      ])
      .default({ allNodes: true }),
    windowSeconds: z.number().int().min(1).max(3600).default(10),
    reason: z.string().max(1024).optional(),
  })
  .strict();

export interface StandaloneDeps {
  config: Readonly<ControllerConfig>;
  lifecycle: Lifecycle;
  log: Logger;
  metrics: ControllerMetrics;
  store: SnapshotStore;
  token: TokenSource;
  pipeline: (pods: PodLookup) => SnapshotPipeline;
}

const NO_PODS: PodLookup = { podByUid: () => undefined, containerById: () => undefined };

export async function startStandalone(deps: StandaloneDeps) {
  const { config, log, token } = deps;
  if (token() === undefined)
    throw new Error(
      'standalone mode needs a token for its API and webhook: set --webhook-token-file (or REWIND_WEBHOOK_TOKEN)',
    );
  const agents = config.agents.map(parseAgentAddress);
  const objects = new LocalSnapshots(join(config.dataDir, '.standalone'));
  const reconciler = new Reconciler({
    snapshots: objects,
    snapshotInformer: {
      on: (h) => objects.on(h),
      get: (name, namespace) => objects.cached(name, namespace),
      list: () => objects.listCached(),
    },
    targetFacts: () => ({
      nodes: agents.map((a) => ({ name: a.node, labels: {} })),
      pods: [],
      agentPods: agents.map((a) => ({
        namespace: '',
        name: a.node,
        nodeName: a.node,
        podIP: a.host,
        port: a.port,
        ready: true,
        terminating: false,
      })),
    }),
    identity: holderIdentity(config.podName),
    pipeline: deps.pipeline(NO_PODS),
    metrics: deps.metrics,
    clock: realClock,
    log: log.child({ part: 'reconciler' }),
    options: {
      workers: config.workers,
      agentPort: config.agentPort,
      defaultTtlSeconds: config.ttlSeconds,
    },
  });
  deps.metrics.leader(true);
  reconciler.start();
  deps.lifecycle.onStop(() => reconciler.stop());

  const authorize = async (t: string | undefined): Promise<Decision> => {
    const expected = token();
    if (t !== undefined && expected !== undefined && tokenMatches(t, expected))
      return { allowed: true, status: 200, user: 'token' };
    return { allowed: false, status: 401, reason: 'the configured bearer token is required' };
  };
  const routes: Router = express.Router();
  const guard = async (req: express.Request, res: express.Response): Promise<boolean> => {
    const d = await authorize(bearerToken(req.get('authorization')));
    if (d.allowed) return true;
    res
      .set('WWW-Authenticate', 'Bearer')
      .status(401)
      .json({ error: d.allowed ? '' : d.reason });
    return false;
  };
  routes.post('/v1/snapshots', express.json({ limit: '64kb' }), async (req, res) => {
    if (!(await guard(req, res))) return;
    const body = snapshotRequest.safeParse(req.body ?? {});
    if (!body.success) {
      const issue = body.error.issues[0];
      res.status(400).json({
        error: `invalid snapshot request: ${issue?.path.join('.') || 'body'}: ${issue?.message}`,
      });
      return;
    }
    const { name, target, windowSeconds, reason } = body.data;
    const spec: TraceSnapshotSpec = { target, windowSeconds, ...(reason ? { reason } : {}) };
    try {
      const created = await objects.create(config.namespace, {
        metadata: name ? { name } : { generateName: 'snapshot-' },
        spec,
      });
      res.status(201).json({ namespace: created.metadata.namespace, name: created.metadata.name });
    } catch (e) {
      res
        .status((e as LocalApiError).code === 409 ? 409 : 500)
        .json({ error: (e as Error).message });
    }
  });
  routes.get('/v1/snapshots', async (req, res) => {
    if (!(await guard(req, res))) return;
    res.json({ items: objects.listCached() });
  });
  routes.get('/v1/snapshots/:namespace/:name/status', async (req, res) => {
    if (!(await guard(req, res))) return;
    const s = objects.cached(req.params.name as string, req.params.namespace as string);
    if (!s) res.status(404).json({ error: 'no such snapshot' });
    else res.json(s);
  });

  return {
    endpoints: () => agents,
    phase: (namespace: string, name: string): SnapshotPhase | undefined =>
      objects.cached(name, namespace)?.status?.phase,
    authorizer: { authorize: (t: string | undefined) => authorize(t) },
    create: async (o: NewTraceSnapshot) => ({
      name: (await objects.create(config.namespace, o)).metadata.name,
    }),
    nodeForInstance: (host: string) => agents.find((a) => a.node === host || a.host === host)?.node,
    podLocation: () => undefined,
    routes,
  };
}
