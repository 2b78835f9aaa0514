/**
 * The snapshot API (HTTPS on 9401, mutual TLS): POST /v1/snapshots, GET /v1/clock, GET /v1/status.
 * Every route first checks that the verified client certificate names the controller; anything
 * else gets 401/403 and never a byte of trace. Errors are JSON `{error}` with one line.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { TLSSocket } from 'node:tls';
import { z } from 'zod';
import type { ClockSample } from '../native';
import type { AgentMetrics } from './metrics';
import type { SnapshotService } from './snapshot';
import { authorizePeer } from './tls';

export interface ApiDeps {
  controllerIdentity: string;
  snapshots: SnapshotService;
  recording: () => { ok: boolean; why: string };
  stopping: () => boolean;
  clock: (count: number) => ClockSample[];
  /** GET /v1/status's body (it reads the loader's state file, hence a promise). */
  status: () => unknown;
  metrics: Pick<AgentMetrics, 'requestRefused'>;
  node: string;
  /** Seconds a refused second snapshot should wait (Retry-After). */
  retryAfterSeconds?: number;
}

/** POST /v1/snapshots body: optional; `windowSeconds` the history wanted (advisory). */
export const snapshotRequest = z
  .object({ windowSeconds: z.number().positive().max(86_400).optional() })
  .strict();

const clockQuery = z.object({
  samples: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(1).max(64))
    .default(8),
});

function fail(res: Response, status: number, error: string): void {
  res.status(status).json({ error });
}

function describeIssues(issues: z.core.$ZodIssue[]): string {
  return issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}

export function apiApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');

  app.use((req: Request, res: Response, next: NextFunction) => {
    const socket = req.socket as TLSSocket;
    const cert =
      typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
    const decision = authorizePeer(socket.authorized === true, cert, deps.controllerIdentity);
    if (!decision.ok) {
      deps.metrics.requestRefused(decision.status === 401 ? 'unauthenticated' : 'forbidden');
      fail(res, decision.status, decision.reason);
      return;
    }
    next();
  });

  app.post('/v1/snapshots', express.json({ limit: '4kb', strict: true }), (req, res) => {
    const body = snapshotRequest.safeParse(req.body ?? {});
    if (!body.success) {
      fail(res, 400, `invalid snapshot request: ${describeIssues(body.error.issues)}`);
      return;
    }
    if (deps.stopping()) {
      res.set('Retry-After', '10');
      fail(res, 503, 'the agent is shutting down');
      return;
    }
    const recording = deps.recording();
    if (!recording.ok) {
      deps.metrics.requestRefused('not-recording');
      fail(res, 503, `not recording: ${recording.why}`);
      return;
    }
    if (deps.snapshots.busy) {
      deps.metrics.requestRefused('busy');
      res.set('Retry-After', String(deps.retryAfterSeconds ?? 2));
      fail(res, 429, 'a snapshot is already being taken on this node; retry after it');
      return;
    }
    void deps.snapshots.serve(res, body.data.windowSeconds);
  });

  app.get('/v1/clock', (req, res) => {
    const q = clockQuery.safeParse(req.query);
    if (!q.success) {
      fail(res, 400, `invalid clock request: ${describeIssues(q.error.issues)}`);
      return;
    }
    const samples = deps.clock(q.data.samples);
    let best = 0;
    samples.forEach((s, i) => {
      if (s.spreadNs < (samples[best] as ClockSample).spreadNs) best = i;
    });
    res.json({
      node: deps.node,
      clock: 'monotonic',
      best,
      samples: samples.map((s) => ({
        monotonicNs: s.monotonicNs.toString(),
        realtimeNs: s.realtimeNs.toString(),
        spreadNs: s.spreadNs.toString(),
      })),
    });
  });

  app.get('/v1/status', async (_req, res) => {
    res.json(await deps.status());
  });

  app.use((_req: Request, res: Response) => fail(res, 404, 'no such endpoint'));

  // Malformed JSON and oversized bodies (body-parser errors carry their status).
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    fail(
      res,
      status,
      `${status === 500 ? 'internal error' : 'bad request'}: ${err.message.split('\n')[0]}`,
    );
  });
  return app;
}
