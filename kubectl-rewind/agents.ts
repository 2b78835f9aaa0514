/**
 * `kubectl rewind agents` (pure): every node with its agent's answer from the controller's
 * `GET /v1/agents` — the module (loaded, or degraded and why, as the node's loader said), whether
 * the recorder records, the seconds of history the node holds, events refused, the agent's
 * version — and the nodes that have no agent, listed as such. The agent's status is read
 * tolerantly (zod, unknown fields kept out): an older agent shows what it has.
 */
import { z } from 'zod';
import { humanDuration, table } from './format';

const loaderShape = z
  .object({
    state: z.string(),
    reason: z.string().nullable().optional(),
    detail: z.string().optional(),
    // null when the agent cannot tell (agent/module/state-file.ts loaderStatus: state unknown).
    since: z.string().nullable().optional(),
  })
  .partial({ state: true });

const statusShape = z.looseObject({
  node: z.string(),
  agentVersion: z.string().optional(),
  kernelRelease: z.string().optional(),
  recorder: z
    .looseObject({
      state: z.string(),
      detail: z.string().optional(),
      recording: z.boolean().optional(),
    })
    .optional(),
  module: z
    .looseObject({ abiVersion: z.number(), formatVersion: z.number() })
    .nullable()
    .optional(),
  moduleLoader: loaderShape.nullable().optional(),
  windowSeconds: z.number().optional(),
  eventsRefused: z.union([z.string(), z.number()]).optional(),
});

export const agentsAnswerShape = z.object({
  agents: z.array(
    z.looseObject({
      node: z.string(),
      pod: z.string().nullable(),
      address: z.string(),
      ready: z.boolean(),
      status: z.unknown().optional(),
      error: z.string().optional(),
      checkedAt: z.string().nullable(),
    }),
  ),
});
export type AgentsAnswer = z.infer<typeof agentsAnswerShape>;

export interface AgentRow {
  node: string;
  /** loaded | degraded | no agent | unreachable | unknown */
  module: string;
  recording: string;
  window: string;
  refused: string;
  version: string;
  reason: string;
  pod: string;
  kernel: string;
  checked: string;
}

/** One row per node: the cluster's nodes (when the caller may list them) joined with the agents. */
export function agentRows(
  answer: AgentsAnswer,
  nodes: readonly string[] | undefined,
  now: number,
): AgentRow[] {
  const byNode = new Map(answer.agents.map((a) => [a.node, a]));
  const names = [...new Set([...(nodes ?? []), ...byNode.keys()])].sort();
  return names.map((node): AgentRow => {
    const a = byNode.get(node);
    const blank = {
      recording: '',
      window: '',
      refused: '',
      version: '',
      pod: '',
      kernel: '',
      checked: '',
    };
    if (!a) return { node, module: 'no agent', reason: 'no agent pod on this node', ...blank };
    const base = {
      ...blank,
      pod: a.pod ?? '',
      checked: a.checkedAt ? `${humanDuration(now - Date.parse(a.checkedAt))} ago` : 'not yet',
    };
    if (a.error !== undefined || a.status === undefined)
      return {
        ...base,
        node,
        module: a.checkedAt ? 'unreachable' : 'unknown',
        reason: a.error ?? 'not asked yet',
      };
    const parsed = statusShape.safeParse(a.status);
    if (!parsed.success)
      return { ...base, node, module: 'unknown', reason: 'the agent answered an unknown status' };
    const s = parsed.data;
    const recording = s.recorder?.recording ?? s.recorder?.state === 'recording';
    const loader = s.moduleLoader ?? undefined;
    const loaded = recording || s.module != null || loader?.state === 'loaded';
    // The loader's own sentence says why the module is missing; the recorder's "no device" would
    // only repeat it, so it is shown when the loader does not explain (or the module is there).
    const loaderExplains =
      loader !== undefined && loader.state !== 'loaded' && loader.state !== 'unknown';
    const why = [
      loader && loader.state !== 'loaded' ? (loader.detail ?? loader.reason ?? loader.state) : '',
      !recording && s.recorder && !loaderExplains
        ? `recorder ${s.recorder.state}${s.recorder.detail ? `: ${s.recorder.detail}` : ''}`
        : '',
      a.ready ? '' : 'agent pod not Ready',
    ]
      .filter(Boolean)
      .join('; ');
    return {
      ...base,
      node,
      module: loaded
        ? 'loaded'
        : loader?.state === 'pending'
          ? 'pending'
          : `degraded${loader?.reason ? ` (${loader.reason})` : ''}`,
      recording: recording ? 'yes' : 'no',
      window: s.windowSeconds !== undefined && recording ? `${Math.round(s.windowSeconds)}s` : '',
      refused: s.eventsRefused !== undefined ? String(s.eventsRefused) : '',
      version: s.agentVersion ?? '',
      kernel: s.kernelRelease ?? '',
      reason: why,
    };
  });
}

export function agentTable(rows: readonly AgentRow[], wide: boolean): string {
  return table(
    [
      'NODE',
      'MODULE',
      'RECORDING',
      'WINDOW',
      'REFUSED',
      'VERSION',
      ...(wide ? ['POD', 'KERNEL', 'CHECKED'] : []),
      'REASON',
    ],
    rows.map((r) => [
      r.node,
      r.module,
      r.recording,
      r.window,
      r.refused,
      r.version,
      ...(wide ? [r.pod, r.kernel, r.checked] : []),
      r.reason,
    ]),
  );
}
