/**
 * The agents' status behind `GET /v1/agents`: every `intervalMs`, each known agent's
 * `GET /v1/status` is asked (through an injected `fetchStatus`, the mutual-TLS agent client), a
 * few at a time and each with a deadline, and the latest answer or error per node is kept with
 * its time. The API answers from what is kept, so a slow or dead agent never slows the listing,
 * and a node whose agent left is gone from it at once.
 *
 * Polled rather than fetched per request: `/v1/agents` is the operator's dashboard, and a burst of
 * callers must not become a burst of requests to every node. An agent that is not Ready is asked
 * too: its status says why it is not recording, which is what the operator came for.
 *
 * Between rounds, every `changeCheckMs` the endpoints are compared (from the informer's cache, no
 * request) with what each node's agent was when last asked; a node whose agent is new, moved to
 * another address, or became Ready or reachable is asked then, alone. Without this, an operator
 * who watches a rollout with `kubectl rewind agents` saw the new pod unchecked, or the old pod's
 * refusal, for up to a whole interval after it was Ready.
 *
 * `agentStatusList` is the pure part (endpoints joined with results); the poller is the thin shell,
 * its timers and clock injected.
 */
import pLimit from 'p-limit';
import { z } from 'zod';
import { oneLine } from '../../common/errors';
import { formatAddress } from '../../common/listen';
import type { AgentEndpoint } from '../model';

/** Injected timers (the process's own; a fake clock in tests). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The latest check of one node's agent. */
export interface AgentStatusResult {
  /** The address that was asked (a result for an agent's former address is not shown). */
  address: string;
  /** When the answer or the error came, ms since the Unix epoch. */
  at: number;
  status?: unknown;
  error?: string;
}

/** One row of `GET /v1/agents`. */
export interface AgentStatusEntry {
  node: string;
  /** `namespace/name` of the agent pod; null in standalone mode. */
  pod: string | null;
  address: string;
  ready: boolean;
  /** The agent's `/v1/status` answer, when the latest check succeeded. */
  status?: unknown;
  /** Why the latest check failed. */
  error?: string;
  /** ISO time of the latest check; null before the first. */
  checkedAt: string | null;
}

export interface AgentStatusPollerOptions {
  endpoints: () => AgentEndpoint[];
  /** `GET /v1/status` of one agent; resolves with the parsed JSON body. */
  fetchStatus: (endpoint: AgentEndpoint, signal: AbortSignal) => Promise<unknown>;
  intervalMs: number;
  /** How often the endpoints are compared with what was last asked; omitted: rounds only. */
  changeCheckMs?: number;
  /** Deadline of one agent's answer. */
  timeoutMs: number;
  /** Agents asked at once. */
  concurrency: number;
  /** ms since the Unix epoch. */
  now: () => number;
  timers: Timers;
}

/** The part of an agent's status the poller checks: that the agent answered for its node. */
const statusShape = z.looseObject({ node: z.string() });

export function endpointAddress(e: AgentEndpoint): string {
  return formatAddress(e.host, e.port);
}

/** What about an agent, when it changes, calls for asking it again before the next round. */
function askedAs(e: AgentEndpoint): string {
  return JSON.stringify([endpointAddress(e), e.ready, e.unreachable ?? null]);
}

/** The listing: the current endpoints, sorted by node, each with its latest result if current. */
export function agentStatusList(
  endpoints: readonly AgentEndpoint[],
  results: ReadonlyMap<string, AgentStatusResult>,
): AgentStatusEntry[] {
  return [...endpoints]
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
    .map((e) => {
      const address = endpointAddress(e);
      const r = results.get(e.node);
      const current = r && r.address === address ? r : undefined;
      return {
        node: e.node,
        pod: e.pod ? `${e.pod.namespace}/${e.pod.name}` : null,
        address,
        ready: e.ready,
        // Known without asking: shown from the moment the pod is seen, not from the next round.
        ...(e.unreachable !== undefined
          ? { error: e.unreachable }
          : current?.error !== undefined
            ? { error: current.error }
            : current
              ? { status: current.status }
              : {}),
        checkedAt: current ? new Date(current.at).toISOString() : null,
      };
    });
}

/** Checks an agent's answer: an object naming the node that was asked. */
export function checkStatus(endpoint: AgentEndpoint, body: unknown): unknown {
  const parsed = statusShape.safeParse(body);
  if (!parsed.success) throw new Error('the agent answered without a node name');
  if (parsed.data.node !== endpoint.node) {
    throw new Error(
      `the agent at ${endpointAddress(endpoint)} answered for node "${parsed.data.node}"`,
    );
  }
  return parsed.data;
}

export class AgentStatusPoller {
  private readonly results = new Map<string, AgentStatusResult>();
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly inFlight = new Set<AbortController>();
  /** Per node, askedAs() of its endpoint when its agent was last asked. */
  private readonly asked = new Map<string, string>();
  /** The round over every endpoint in flight, and the one over changed endpoints. */
  private round: Promise<void> | undefined;
  private changesRound: Promise<void> | undefined;
  private timer: unknown;
  private changeTimer: unknown;
  private started = false;
  private stopped = false;

  constructor(private readonly options: AgentStatusPollerOptions) {
    this.limit = pLimit(options.concurrency);
  }

  /**
   * Polls now, then every `intervalMs` after each round ends (rounds never overlap), and looks for
   * changed endpoints every `changeCheckMs` if set.
   */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    void this.loop();
    this.scheduleChangeCheck();
  }

  /**
   * One round over the current endpoints; joins the round in flight if there is one, and starts
   * after a round over changed endpoints ends.
   */
  pollOnce(): Promise<void> {
    this.round ??= (async () => {
      await this.changesRound;
      await this.runRound(() => true);
    })().finally(() => {
      this.round = undefined;
    });
    return this.round;
  }

  /**
   * Asks the agents whose endpoint changed since they were last asked, unless a round is in
   * flight (it asks them, or the next check finds them still changed).
   */
  pollChanged(): Promise<void> {
    if (this.round !== undefined || this.changesRound !== undefined || this.stopped) {
      return Promise.resolve();
    }
    // (A node with no result was asked, but left and came back while its answer came.)
    const changed = (e: AgentEndpoint) =>
      this.asked.get(e.node) !== askedAs(e) || !this.results.has(e.node);
    if (!this.options.endpoints().some(changed)) return Promise.resolve();
    this.changesRound = this.runRound(changed).finally(() => {
      this.changesRound = undefined;
    });
    return this.changesRound;
  }

  /** What `GET /v1/agents` shows. */
  list(): AgentStatusEntry[] {
    return agentStatusList(this.options.endpoints(), this.results);
  }

  /** Stops polling; checks in flight are aborted and their outcome is not kept. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of [this.timer, this.changeTimer]) {
      if (timer !== undefined) this.options.timers.clearTimeout(timer);
    }
    this.timer = undefined;
    this.changeTimer = undefined;
    for (const c of this.inFlight) c.abort(new Error('the poller stopped'));
    await Promise.all([this.round, this.changesRound]);
  }

  private scheduleChangeCheck(): void {
    const every = this.options.changeCheckMs;
    if (every === undefined || this.stopped) return;
    this.changeTimer = this.options.timers.setTimeout(() => {
      this.changeTimer = undefined;
      void this.pollChanged().finally(() => this.scheduleChangeCheck());
    }, every);
  }

  private async loop(): Promise<void> {
    await this.pollOnce();
    if (this.stopped) return;
    this.timer = this.options.timers.setTimeout(() => {
      this.timer = undefined;
      void this.loop();
    }, this.options.intervalMs);
  }

  /** Asks the agents of the current endpoints that `which` selects. */
  private async runRound(which: (e: AgentEndpoint) => boolean): Promise<void> {
    const endpoints = this.options.endpoints();
    const nodes = new Set(endpoints.map((e) => e.node));
    for (const known of [this.results, this.asked]) {
      for (const node of known.keys()) if (!nodes.has(node)) known.delete(node);
    }
    await Promise.all(
      endpoints.filter(which).map((e) =>
        this.limit(async () => {
          if (this.stopped) return;
          this.asked.set(e.node, askedAs(e));
          const result = await this.check(e);
          // Kept only if the node is still known and the poller still running.
          if (!this.stopped && this.options.endpoints().some((x) => x.node === e.node)) {
            this.results.set(e.node, result);
          }
        }),
      ),
    );
  }

  private async check(e: AgentEndpoint): Promise<AgentStatusResult> {
    const { timers, timeoutMs, now } = this.options;
    const address = endpointAddress(e);
    if (e.unreachable !== undefined) return { address, at: now(), error: e.unreachable };
    if (!e.host) return { address, at: now(), error: 'the agent pod has no address yet' };
    const controller = new AbortController();
    this.inFlight.add(controller);
    let timer: unknown;
    // Rejects when the deadline passes or the poller stops, even if fetchStatus ignores its
    // signal: neither a round nor stop() ever waits on an agent that does not answer.
    const deadline = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), {
        once: true,
      });
      timer = timers.setTimeout(
        () => controller.abort(new Error(`no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      const body = await Promise.race([this.options.fetchStatus(e, controller.signal), deadline]);
      return { address, at: now(), status: checkStatus(e, body) };
    } catch (err) {
      return { address, at: now(), error: oneLine(err) };
    } finally {
      timers.clearTimeout(timer);
      this.inFlight.delete(controller);
    }
  }
}
