/**
 * The controller's own API (9411; the caller serves it over TLS with the controller's certificate):
 *
 *   GET /v1/snapshots/NAMESPACE/NAME  a finished trace as .tar.gz (`get` on that TraceSnapshot)
 *   GET /v1/agents                    every node's agent status (`list` on tracesnapshots)
 *   /v1/alerts                        the Alertmanager webhook, mounted from outside (its own token)
 *
 * Kubernetes RBAC decides who reads (authorize.ts). Authorization comes before the lookup, so a
 * caller who may not read a snapshot cannot learn whether it exists. Every answer that is not an
 * archive is JSON, errors `{error}` on one line; refusals are counted by reason.
 */
import express, {
  type Express,
  type NextFunction,
  type Request,
  type Response,
  type Router,
} from 'express';
import type { Writable } from 'node:stream';
import { oneLine } from '../../common/errors';
import type { ApiRefusal, ControllerMetrics } from '../metrics';
import { FINAL_PHASES, GROUP, PLURAL, type SnapshotPhase } from '../model';
import type { AgentStatusEntry } from './agent-status';
import { bearerToken } from '../alerts/token';
import type { Decision, ResourceAttributes } from './authorize';

/** A stored snapshot as the download route sees it. */
export interface SnapshotDownload {
  phase: SnapshotPhase;
  /**
   * Writes the .tar.gz to `out` and ends it; resolves when done, rejects on failure (the response
   * is then cut, so a client never takes a truncated archive for a whole one).
   */
  stream(out: Writable): Promise<void>;
}

export interface ApiAppDeps {
  authorizer: { authorize(token: string | undefined, a: ResourceAttributes): Promise<Decision> };
  /** The snapshot and its stored trace, or undefined if there is no such TraceSnapshot. */
  find(
    namespace: string,
    name: string,
  ): SnapshotDownload | undefined | Promise<SnapshotDownload | undefined>;
  agents(): AgentStatusEntry[];
  metrics: Pick<ControllerMetrics, 'apiRefused'>;
  /** The Alertmanager webhook's router, serving /v1/alerts (it checks its own bearer token). */
  webhook?: Router;
  /** More routes, checked before the ones above (standalone mode's snapshot requests). */
  routes?: Router;
  /** Where failed downloads are reported (one line each). */
  onError?: (message: string) => void;
}

/** Phases whose trace can be downloaded. */
const DOWNLOADABLE: readonly SnapshotPhase[] = FINAL_PHASES.filter((p) => p !== 'Failed');

// A namespace is a DNS-1123 label; a TraceSnapshot's name a DNS-1123 subdomain. Checked before
// anything else: such names are all Kubernetes allows, and they are safe in a file name.
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function fail(res: Response, status: number, error: string): void {
  res.status(status).json({ error });
}

export function apiApp(deps: ApiAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');

  const refuse = (
    res: Response,
    reason: ApiRefusal,
    status: 401 | 403 | 404 | 409,
    error: string,
  ): void => {
    deps.metrics.apiRefused(reason);
    if (status === 401) res.set('WWW-Authenticate', 'Bearer');
    fail(res, status, error);
  };

  /** Answers a refusal and returns false, or returns true when the caller may go on. */
  const authorized = async (
    req: Request,
    res: Response,
    attributes: ResourceAttributes,
  ): Promise<boolean> => {
    const d = await deps.authorizer.authorize(bearerToken(req.get('authorization')), attributes);
    if (d.allowed) return true;
    if (d.status === 401) refuse(res, 'unauthenticated', 401, d.reason);
    else if (d.status === 403) refuse(res, 'forbidden', 403, d.reason);
    // The API server could not answer: nobody is let in, and the caller may retry (not counted
    // as a refusal: nothing was refused).
    else fail(res.set('Retry-After', '5'), 503, d.reason);
    return false;
  };

  if (deps.routes) app.use(deps.routes);

  app.get('/v1/snapshots/:namespace/:name', async (req, res) => {
    const { namespace, name } = req.params as { namespace: string; name: string };
    if (!LABEL.test(namespace) || !SUBDOMAIN.test(name)) {
      fail(res, 400, 'not a TraceSnapshot: expected /v1/snapshots/NAMESPACE/NAME');
      return;
    }
    if (
      !(await authorized(req, res, {
        verb: 'get',
        group: GROUP,
        resource: PLURAL,
        namespace,
        name,
      }))
    )
      return;
    const snapshot = await deps.find(namespace, name);
    if (!snapshot) {
      refuse(res, 'not-found', 404, `no TraceSnapshot ${namespace}/${name}`);
      return;
    }
    if (!DOWNLOADABLE.includes(snapshot.phase)) {
      refuse(
        res,
        'not-ready',
        409,
        snapshot.phase === 'Failed'
          ? `TraceSnapshot ${namespace}/${name} failed: it has no trace`
          : `TraceSnapshot ${namespace}/${name} is ${snapshot.phase}: not finished yet`,
      );
      return;
    }
    res.status(200);
    res.set('Content-Type', 'application/gzip');
    res.set('Content-Disposition', `attachment; filename="${namespace}_${name}.tar.gz"`);
    res.set('Cache-Control', 'no-store');
    try {
      await snapshot.stream(res);
    } catch (e) {
      deps.onError?.(`download of ${namespace}/${name} failed: ${oneLine(e)}`);
      if (!res.headersSent) {
        res.removeHeader('Content-Disposition');
        fail(res, 500, `cannot read the trace of ${namespace}/${name}`);
      } else res.destroy();
    }
  });

  app.get('/v1/agents', async (req, res) => {
    if (!(await authorized(req, res, { verb: 'list', group: GROUP, resource: PLURAL }))) return;
    res.set('Cache-Control', 'no-store');
    res.json({ agents: deps.agents() });
  });

  // The webhook's router carries its own path (alerts/webhook.ts WEBHOOK_PATH, /v1/alerts).
  if (deps.webhook) app.use(deps.webhook);

  app.use((_req: Request, res: Response) => fail(res, 404, 'no such endpoint'));

  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    deps.onError?.(`request failed: ${oneLine(err)}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    fail(res, status, status === 500 ? 'internal error' : `bad request: ${oneLine(err)}`);
  });
  return app;
}
