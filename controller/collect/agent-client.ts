/**
 * The controller's client of one agent's API (agent/api.ts; HTTPS on 9401, mutual TLS): the
 * controller presents its client certificate, verifies the agent's against the chart's CA under
 * the name the agent's certificate carries (not the pod IP it dials), and validates every answer
 * with zod. A snapshot's archive is streamed into the caller's sink as it arrives (bytes counted,
 * a byte cap enforced), never held in memory.
 *
 * Each client has a keep-alive connection of its own (one socket, for one collection): the clock
 * exchanges after the first then measure the agent's answer, not a TLS handshake, so their round
 * trips are small. `close()` ends it. Every failure is a CollectError (errors.ts).
 */
import type { IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { oneLine } from '../../common/errors';
import { clockSamples, type ClockSample } from '../../native';
import type { AgentEndpoint } from '../model';
import { classifyAnswer, classifyRequestError, CollectError } from './errors';

export interface AgentTls {
  /** The chart's CA (PEM), which signs the agents' certificates. */
  ca: Buffer | string;
  /** The controller's client certificate and key (PEM). */
  cert: Buffer | string;
  key: Buffer | string;
  /** The name the agent's certificate must carry, e.g. `<release>-agent.<namespace>.svc`. */
  serverName: string;
}

export interface AgentClientOptions {
  host: string;
  port: number;
  tls: AgentTls;
  /** The controller's realtime, ns (clock exchanges are timed with it). */
  now: () => bigint;
  /** A connection silent this long fails the request as a timeout (default 30 s). */
  idleTimeoutMs?: number;
}

/** A decimal string of a 64-bit integer, as the agent writes them. */
const decimal = z
  .string()
  .regex(/^-?\d{1,20}$/, 'must be a decimal integer string')
  .transform((s) => BigInt(s));

export const clockAnswerSchema = z
  .object({
    node: z.string().min(1),
    clock: z.literal('monotonic'),
    best: z.number().int().min(0),
    samples: z
      .array(z.object({ monotonicNs: decimal, realtimeNs: decimal, spreadNs: decimal }))
      .min(1),
  })
  .refine((a) => a.best < a.samples.length, { message: 'best is not a sample', path: ['best'] });
export type ClockAnswer = z.infer<typeof clockAnswerSchema>;

/** The fields of GET /v1/status the controller relies on; the rest is passed on as is. */
export const statusAnswerSchema = z.looseObject({
  node: z.string().min(1),
  recorder: z.looseObject({ state: z.string(), recording: z.boolean() }),
});
export type StatusAnswer = z.infer<typeof statusAnswerSchema>;

/** One GET /v1/clock: the controller's realtime before sending and after the answer. */
export interface ClockExchange {
  sentNs: bigint;
  receivedNs: bigint;
  answer: ClockAnswer;
}

export interface SnapshotStreamOptions {
  /** More bytes than this fails the snapshot as 'over-budget' (the request is aborted). */
  byteCap?: number;
  /** Called with the bytes received so far, after each chunk. */
  onBytes?: (bytes: number) => void;
}

const ANSWER_LIMIT = 1 << 20;

function describe(issues: z.core.$ZodIssue[]): string {
  return issues.map((i) => `${i.path.join('.') || 'answer'}: ${i.message}`).join('; ');
}

export class AgentClient {
  readonly where: string;
  private readonly agent: Agent;

  constructor(private readonly options: AgentClientOptions) {
    this.where = `${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
    this.agent = new Agent({ keepAlive: true, maxSockets: 1 });
  }

  /** Ends the client's connection. */
  close(): void {
    this.agent.destroy();
  }

  /**
   * POST /v1/snapshots and stream the archive (a tar) into `sink`; resolves the bytes received
   * once the sink has finished. `signal` aborts the request (its reason, when a CollectError, is
   * the failure).
   */
  async snapshot(
    windowSeconds: number | undefined,
    sink: Writable,
    signal: AbortSignal,
    options: SnapshotStreamOptions = {},
  ): Promise<number> {
    const body = JSON.stringify(windowSeconds === undefined ? {} : { windowSeconds });
    const res = await this.send('POST', '/v1/snapshots', body, signal);
    if (res.statusCode !== 200) throw await this.refusal(res);
    const { byteCap, onBytes } = options;
    const where = this.where;
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (byteCap !== undefined && bytes > byteCap) {
          done(
            new CollectError(
              'over-budget',
              `the snapshot of agent ${where} is over the byte budget (more than ${byteCap} bytes): raise the snapshot's byte budget or ask for a shorter window`,
            ),
          );
          return;
        }
        onBytes?.(bytes);
        done(null, chunk);
      },
    });
    try {
      await pipeline(res, counter, sink, { signal });
    } catch (e) {
      throw this.failure(e, signal, 'stream');
    }
    return bytes;
  }

  /** GET /v1/clock?samples=N, timed with the controller's clock. */
  async clock(samples: number, signal?: AbortSignal): Promise<ClockExchange> {
    const sentNs = this.options.now();
    const answer = await this.json('/v1/clock?samples=' + samples, clockAnswerSchema, signal);
    const receivedNs = this.options.now();
    return { sentNs, receivedNs, answer };
  }

  /** GET /v1/status. */
  status(signal?: AbortSignal): Promise<StatusAnswer> {
    return this.json('/v1/status', statusAnswerSchema, signal);
  }

  private async json<T extends z.ZodType>(
    path: string,
    schema: T,
    signal: AbortSignal | undefined,
  ): Promise<z.output<T>> {
    const res = await this.send('GET', path, undefined, signal);
    if (res.statusCode !== 200) throw await this.refusal(res);
    let text: string;
    try {
      text = await readLimited(res, ANSWER_LIMIT);
    } catch (e) {
      throw this.failure(e, signal, 'stream');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CollectError('other', `agent ${this.where} answered ${path} with invalid JSON`);
    }
    const r = schema.safeParse(parsed);
    if (!r.success)
      throw new CollectError(
        'other',
        `agent ${this.where} answered ${path} unexpectedly (${describe(r.error.issues)}): check that agent and controller versions match`,
      );
    return r.data;
  }

  /** Sends a request; resolves its response (any status), rejects with a CollectError. */
  private send(
    method: string,
    path: string,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<IncomingMessage> {
    const { host, port, tls, idleTimeoutMs = 30_000 } = this.options;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(this.failure(signal.reason, signal, 'connect'));
        return;
      }
      const req = request({
        host,
        port,
        method,
        path,
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        // Verified against the agent certificate's DNS names, not the pod IP dialed.
        servername: tls.serverName,
        agent: this.agent,
        signal,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      });
      req.setTimeout(idleTimeoutMs, () =>
        req.destroy(
          new CollectError(
            'timeout',
            `agent ${this.where} sent nothing for ${idleTimeoutMs / 1000} s: check the node's network and the agent's load`,
          ),
        ),
      );
      // With TLS 1.3 the agent checks the controller's certificate after the client's side of
      // the handshake is done, and refuses by closing the connection without a word: a fresh
      // connection closed between handshake and answer is that refusal.
      let handshakeThenClosed = false;
      req.once('socket', (socket) => {
        if (req.reusedSocket) return;
        socket.once('secureConnect', () => {
          handshakeThenClosed = true;
        });
      });
      req.once('response', (res) => {
        handshakeThenClosed = false;
        resolve(res);
      });
      req.once('error', (e) => {
        const code = (e as NodeJS.ErrnoException).code;
        if (handshakeThenClosed && (code === 'ECONNRESET' || code === 'EPIPE') && !signal?.aborted)
          reject(
            new CollectError(
              'tls',
              `agent ${this.where} closed the connection right after the TLS handshake: it refused the controller's certificate; check that both come from the chart's CA`,
            ),
          );
        else reject(this.failure(e, signal, 'connect'));
      });
      req.end(body);
    });
  }

  private failure(e: unknown, signal: AbortSignal | undefined, phase: 'connect' | 'stream') {
    if (signal?.aborted && signal.reason instanceof CollectError) return signal.reason;
    if (signal?.aborted)
      return new CollectError('interrupted', `collection from agent ${this.where} was cancelled`);
    return classifyRequestError(e, this.where, phase);
  }

  /** An error answer as a CollectError, with the agent's one-line `{error}` when it sent one. */
  private async refusal(res: IncomingMessage): Promise<CollectError> {
    let error = '';
    try {
      const text = await readLimited(res, 4096);
      const parsed = z.object({ error: z.string() }).safeParse(JSON.parse(text));
      error = parsed.success ? oneLine(parsed.data.error) : '';
    } catch {
      // No readable reason: the status says enough.
    }
    const retry = Number(res.headers['retry-after']);
    return classifyAnswer(
      res.statusCode ?? 0,
      error,
      this.where,
      Number.isFinite(retry) && retry >= 0 ? retry : undefined,
    );
  }
}

/** A response body as text, refusing more than `limit` bytes. */
async function readLimited(res: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) {
      res.destroy();
      throw new Error(`answer larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The controller's realtime in ns, read by the native engine (CLOCK_REALTIME at full resolution:
 * Date.now() has only milliseconds, more than a loopback round trip).
 */
export function controllerRealtimeNs(): bigint {
  return (clockSamples(1)[0] as ClockSample).realtimeNs;
}

/** Clients for a collection's agents, one connection each, all with the controller's TLS. */
export function agentClients(
  tls: AgentTls,
  now: () => bigint = controllerRealtimeNs,
): (agent: Pick<AgentEndpoint, 'host' | 'port'>) => AgentClient {
  return (agent) => new AgentClient({ host: agent.host, port: agent.port, tls, now });
}
