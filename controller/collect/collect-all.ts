/**
 * Collecting a snapshot's nodes: every node of the plan in parallel under a concurrency limit
 * (p-limit), each with its own deadline (the per-node timeout aborts its requests) and its own
 * client (connection), progress reported as nodes finish and bytes arrive. A node the plan could
 * not give an agent, or whose agent is not ready, is a failed NodeCollection with that reason —
 * every planned node is in the result, in the plan's order, never dropped.
 */
import pLimit from 'p-limit';
import type { ControllerMetrics } from '../metrics';
import type { AgentEndpoint, NodePlan } from '../model';
import type { AgentClient } from './agent-client';
import { collectNode, type CollectedNode, type Sleep } from './collect-node';
import { CollectError } from './errors';

export interface CollectAllOptions {
  /** Nodes collected at once (default 16). */
  concurrency?: number;
  /** A node not collected in this long fails as 'timeout' (its requests are aborted). */
  perNodeTimeoutMs: number;
  /** Seconds of history asked of each agent. */
  windowSeconds?: number;
  /** Bytes one node's archive may have at most ('over-budget' beyond): protects the volume. */
  byteBudget?: number;
  /** The snapshot's per-node folder: node N goes to `<dir>/N/`. */
  dir: string;
  /** Aborting it fails every node not yet collected as 'interrupted'. */
  signal?: AbortSignal;
  /** GET /v1/clock exchanges before and after each snapshot (default 5). */
  clockExchanges?: number;
  /** Times a busy agent is asked again (default: until the per-node timeout). */
  busyRetries?: number;
  /** Progress is reported at least every this many bytes (default 4 MiB), and per node done. */
  progressEveryBytes?: number;
}

export interface CollectProgress {
  nodesDone: number;
  nodesTotal: number;
  bytes: number;
}

/** A client for one node's collection; closed once that node is done. */
export type CollectClient = Pick<AgentClient, 'clock' | 'snapshot' | 'where' | 'close'>;

export interface CollectAllDeps {
  client: (agent: AgentEndpoint) => CollectClient;
  /** Calls `fire` after `ms`; returns a cancel function (default: setTimeout). */
  timer?: (ms: number, fire: () => void) => () => void;
  sleep?: Sleep;
  /** Node failures by reason and clock uncertainty per node are recorded here when given. */
  metrics?: Pick<ControllerMetrics, 'nodeFailed' | 'clockUncertainty'>;
}

const realTimer = (ms: number, fire: () => void) => {
  const t = setTimeout(fire, ms);
  return () => clearTimeout(t);
};

export async function collectAll(
  plans: NodePlan[],
  options: CollectAllOptions,
  deps: CollectAllDeps,
  onProgress: (p: CollectProgress) => void = () => undefined,
): Promise<CollectedNode[]> {
  const limit = pLimit(options.concurrency ?? 16);
  const timer = deps.timer ?? realTimer;
  const every = options.progressEveryBytes ?? 4 << 20;
  // By plan index: a node planned twice must not hide the bytes of the first.
  const nodeBytes = new Map<number, number>();
  let nodesDone = 0;
  let reported = 0;
  // A running sum: progress is checked on every chunk of every node.
  let bytesNow = 0;
  const setBytes = (index: number, n: number) => {
    bytesNow += n - (nodeBytes.get(index) ?? 0);
    nodeBytes.set(index, n);
  };
  const report = () => {
    reported = bytesNow;
    onProgress({ nodesDone, nodesTotal: plans.length, bytes: bytesNow });
  };

  const seen = new Set<string>();
  const twice = new Set(plans.filter((p) => seen.size === seen.add(p.node).size));

  const one = async (plan: NodePlan, index: number): Promise<CollectedNode> => {
    // Two plans of one node would share its folder: the second is refused, never mixed in.
    if (twice.has(plan))
      return {
        node: plan.node,
        ok: false,
        reason: 'other',
        error: `node ${plan.node} is planned twice in one snapshot`,
        bytes: 0,
      };
    if ('error' in plan)
      return { node: plan.node, ok: false, reason: 'no-agent', error: plan.error, bytes: 0 };
    if (!plan.agent.ready)
      return {
        node: plan.node,
        ok: false,
        reason: 'agent-not-ready',
        error: `the agent on ${plan.node} is not ready: check its /healthz (kubectl describe pod ${plan.agent.pod ? `-n ${plan.agent.pod.namespace} ${plan.agent.pod.name}` : 'on that node'})`,
        bytes: 0,
      };
    const node = plan.node;
    const seconds = options.perNodeTimeoutMs / 1000;
    const deadline = new AbortController();
    const onParentAbort = () =>
      deadline.abort(
        new CollectError('interrupted', `the collection of ${node} was cancelled before it ended`),
      );
    options.signal?.addEventListener('abort', onParentAbort, { once: true });
    if (options.signal?.aborted) onParentAbort();
    const cancel = timer(options.perNodeTimeoutMs, () =>
      deadline.abort(
        new CollectError(
          'timeout',
          `collecting ${node} took longer than the per-node timeout (${seconds} s): check the agent's load and network, or raise the timeout`,
        ),
      ),
    );
    const client = deps.client(plan.agent);
    try {
      return await collectNode(node, client, {
        dir: options.dir,
        windowSeconds: options.windowSeconds,
        byteCap: options.byteBudget,
        clockExchanges: options.clockExchanges,
        busyRetries: options.busyRetries,
        sleep: deps.sleep,
        signal: deadline.signal,
        onBytes: (n) => {
          setBytes(index, n);
          if (bytesNow - reported >= every) report();
        },
      });
    } finally {
      cancel();
      options.signal?.removeEventListener('abort', onParentAbort);
      client.close();
    }
  };

  return Promise.all(
    plans.map((plan, index) =>
      limit(async () => {
        const r = await one(plan, index);
        setBytes(index, r.bytes);
        nodesDone++;
        if (r.ok) deps.metrics?.clockUncertainty(r.node, Number(r.clock.uncertaintyNs) / 1e9);
        else deps.metrics?.nodeFailed(r.reason);
        report();
        return r;
      }),
    ),
  );
}
