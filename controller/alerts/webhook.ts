/**
 * The Alertmanager webhook (`POST /v1/alerts`), the thin shell over payload.ts, targets.ts,
 * admission.ts and snapshot-object.ts. In order, cheapest refusal first: the bearer token (before
 * a byte of body is read), the body size (413), JSON (400), the version 4 schema (400), then
 * admission, then the TraceSnapshot created through the injected `create`, retried through a brief
 * API server outage.
 *
 * Alertmanager's contract decides the statuses: 2xx means delivered (it will not send this again
 * until repeat_interval), 5xx means retry. So the answer is 200 whenever nothing needs recording
 * again — duplicates and limits included — and 5xx only when an accepted notification could not
 * be recorded; its reservation in admission is then released, so the retry is accepted.
 * Refusals are JSON `{error}` of one line.
 */
import express, { type Request, type Response, type Router } from 'express';
import { oneLine } from '../../common/errors';
import type { ControllerMetrics } from '../metrics';
import type { Admission } from './admission';
import { parseWebhookPayload } from './payload';
import { DEFAULT_RETRY, RetriesExhausted, withRetry, type RetryOptions } from './retry';
import {
  alertSnapshotObject,
  type NewTraceSnapshot,
  type SnapshotObjectOptions,
} from './snapshot-object';
import { alertTarget, type TargetOptions } from './targets';
import { bearerToken, tokenMatches, type TokenSource } from './token';
import { describeApiError } from '../kube/client';

export const WEBHOOK_PATH = '/v1/alerts';
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export type AlertMetrics = Pick<
  ControllerMetrics,
  | 'alertReceived'
  | 'alertDeduplicated'
  | 'alertRateLimited'
  | 'alertRejected'
  | 'alertSnapshotCreated'
>;

export interface WebhookLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface AlertWebhookDeps {
  token: TokenSource;
  /** Default 1 MiB. */
  maxBodyBytes?: number;
  admission: Admission;
  targets: TargetOptions;
  objects: SnapshotObjectOptions;
  /** Creates the object in the API server; resolves to the name it was given. */
  create: (object: NewTraceSnapshot) => Promise<{ name: string }>;
  metrics: AlertMetrics;
  /** Defaults: 10 s budget, 200 ms doubling to 2 s, the real clock and timers. */
  retry?: Partial<RetryOptions>;
  log?: WebhookLog;
}

/** The 200 answer. */
export interface WebhookSummary {
  /** Firing alerts covered by a created snapshot. */
  accepted: number;
  deduplicated: number;
  /** Firing alerts that made no snapshot because of cooldown, daily cap or no target. */
  rateLimited: number;
  limits: { cooldown: number; dailyCap: number; noTarget: number };
  resolved: number;
  created: string[];
}

const silent: WebhookLog = { info: () => undefined, warn: () => undefined };

function refuse(res: Response, status: number, error: string): void {
  res.status(status).json({ error: oneLine(error) });
}

export function alertWebhookRouter(deps: AlertWebhookDeps): Router {
  const log = deps.log ?? silent;
  const maxBodyBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const retry: RetryOptions = {
    ...DEFAULT_RETRY,
    now: Date.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    ...deps.retry,
  };
  // Any content type: Alertmanager sends application/json, and a wrong header should not turn a
  // good payload into an empty body.
  const readBody = express.raw({ type: () => true, limit: maxBodyBytes });
  const m = deps.metrics;

  const router = express.Router();
  router.post(WEBHOOK_PATH, (req: Request, res: Response) => {
    const expected = deps.token();
    const presented = bearerToken(req.headers.authorization);
    if (expected === undefined || presented === undefined || !tokenMatches(presented, expected)) {
      m.alertRejected('unauthenticated');
      res.set('WWW-Authenticate', 'Bearer realm="rewind-alerts"');
      refuse(
        res,
        401,
        presented === undefined
          ? 'missing bearer token (Authorization: Bearer <token>)'
          : 'invalid bearer token',
      );
      return;
    }
    readBody(req, res, (err?: unknown) => {
      if (err) {
        const e = err as { type?: string; status?: number };
        if (e.type === 'entity.too.large') {
          m.alertRejected('too-large');
          refuse(res, 413, `payload too large: the limit is ${maxBodyBytes} bytes`);
        } else {
          m.alertRejected('malformed');
          refuse(res, e.status && e.status < 500 ? e.status : 400, `bad request: ${oneLine(err)}`);
        }
        return;
      }
      handle(req, res).catch((e: unknown) => {
        // A bug, not a caller's fault: a 500 (Alertmanager retries), never an unhandled rejection.
        log.warn({ error: oneLine(e) }, 'alert webhook failed');
        if (!res.headersSent) refuse(res, 500, `internal error: ${oneLine(e)}`);
      });
    });
  });
  router.all(WEBHOOK_PATH, (_req: Request, res: Response) => {
    res.set('Allow', 'POST');
    refuse(res, 405, `only POST is allowed on ${WEBHOOK_PATH}`);
  });

  async function handle(req: Request, res: Response): Promise<void> {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let body: unknown;
    try {
      if (raw.length === 0) throw new Error('empty body');
      body = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      m.alertRejected('malformed');
      refuse(res, 400, `malformed JSON: ${oneLine(e)}`);
      return;
    }
    const parsed = parseWebhookPayload(body);
    if (!parsed.ok) {
      m.alertRejected('invalid');
      refuse(res, 400, parsed.error);
      return;
    }
    const payload = parsed.payload;
    const decision = deps.admission.decide(payload, (alert) =>
      alertTarget(alert.labels, deps.targets),
    );
    const c = decision.counts;
    for (let i = 0; i < c.firing; i++) m.alertReceived();
    for (let i = 0; i < c.deduplicated; i++) m.alertDeduplicated();
    for (let i = 0; i < c.cooldown; i++) m.alertRateLimited('cooldown');
    for (let i = 0; i < c.dailyCap; i++) m.alertRateLimited('daily-cap');
    for (let i = 0; i < c.noTarget; i++) m.alertRateLimited('no-target');

    const created: string[] = [];
    const accepted = decision.accepted;
    if (accepted) {
      try {
        const { object, warnings } = alertSnapshotObject(accepted, deps.objects);
        const { name } = await withRetry(() => deps.create(object), retry);
        accepted.commit();
        m.alertSnapshotCreated();
        created.push(name);
        log.info(
          { snapshot: `${object.metadata.namespace}/${name}`, group: payload.groupKey, warnings },
          'alert snapshot created',
        );
      } catch (e) {
        accepted.release();
        const exhausted = e instanceof RetriesExhausted;
        const why = exhausted ? e.message : describeApiError(e);
        log.warn({ group: payload.groupKey, error: why }, 'alert snapshot not created');
        refuse(
          res,
          exhausted ? 503 : 500,
          `could not record the alert as a TraceSnapshot (${why}); retry`,
        );
        return;
      }
    }
    const summary: WebhookSummary = {
      accepted: c.accepted,
      deduplicated: c.deduplicated,
      rateLimited: c.cooldown + c.dailyCap + c.noTarget,
      limits: { cooldown: c.cooldown, dailyCap: c.dailyCap, noTarget: c.noTarget },
      resolved: c.resolved,
      created,
    };
    res.status(200).json(summary);
  }

  return router;
}
