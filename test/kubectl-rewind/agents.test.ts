/**
 * `kubectl rewind agents` (kubectl-rewind/agents.ts, pure): one row per node from the controller's
 * `GET /v1/agents`. The answers are made by the real producers, not written by hand: each agent's
 * `/v1/status` by agent/status.ts buildStatus (with the loader's state as agent/module/state-file.ts
 * reads it, and the refusal counters of the native addon's table), the listing by the
 * controller's agentStatusList, and both through JSON as on the wire. Nodes: a recording agent, a
 * degraded one (the loader's reason), an unreachable one, one not asked yet, one whose loader
 * state is unknown, one with a status shape this plugin does not know, and a node with no agent;
 * and the nodes list unavailable (no right to list nodes).
 */
import { buildStatus, type StatusInput } from '../../agent/status';
import { loaderStatus, serializeRecord } from '../../agent/module/state-file';
import { refusalCounters } from '../../agent/metrics';
import { agentStatusList, type AgentStatusResult } from '../../controller/api/agent-status';
import type { AgentEndpoint } from '../../controller/model';
import { STATS_COUNTERS, type CpuStats } from '../../native';
import {
  agentRows,
  agentsAnswerShape,
  agentTable,
  type AgentRow,
} from '../../kubectl-rewind/agents';
import { NOW, ago } from './snapshot-fixtures';

const KERNEL = '6.1.0-28-amd64';
const NOW_NS = 1_000_000_000_000n;

function cpu(n: number, windowS: number, lostFull = 0n): CpuStats {
  const zero = Object.fromEntries(STATS_COUNTERS.map((c) => [c, 0n])) as Record<
    (typeof STATS_COUNTERS)[number],
    bigint
  >;
  return {
    ...zero,
    cpu: n,
    online: true,
    eventsWritten: 5000n,
    lostFull,
    oldestTimestamp: NOW_NS - BigInt(Math.round(windowS * 1e9)),
  };
}

const statusOf = (o: Partial<StatusInput> & Pick<StatusInput, 'node'>) =>
  buildStatus({
    agentVersion: '0.1.0',
    kernelRelease: KERNEL,
    recorder: { state: 'recording', detail: '', differences: [] },
    moduleLoader: loaderStatus(
      '/var/lib/rewind/module-state.json',
      {
        kind: 'text',
        text: serializeRecord({
          state: 'loaded',
          reason: null,
          detail: 'rewind.ko 0.1.0 loaded (prebuilt for this kernel)',
          kernelRelease: KERNEL,
          since: ago(3600),
          pid: 1,
        }),
      },
      KERNEL,
    ),
    info: undefined,
    versions: { abi: 1, format: 1 },
    stats: [cpu(0, 42.4), cpu(1, 45, 3n)],
    refusalCounters: refusalCounters(),
    monotonicNow: NOW_NS,
    snapshotInFlight: false,
    ...o,
  });

const recording = statusOf({ node: 'node-a' });
const degraded = statusOf({
  node: 'node-b',
  recorder: {
    state: 'no-device',
    detail: '/dev/rewind is missing: the module is not loaded',
    differences: [],
  },
  moduleLoader: loaderStatus(
    '/var/lib/rewind/module-state.json',
    {
      kind: 'text',
      text: serializeRecord({
        state: 'degraded',
        reason: 'lockdown',
        detail:
          'the kernel refused rewind.ko: Operation not permitted (lockdown integrity: a signed module is needed)',
        kernelRelease: KERNEL,
        since: ago(600),
        pid: 7,
      }),
    },
    KERNEL,
  ),
  versions: undefined,
  stats: [],
});
// The loader's state file is absent (its pod not running yet), but the module was there already.
const loaderUnknown = statusOf({
  node: 'node-e',
  moduleLoader: loaderStatus('/var/lib/rewind/module-state.json', { kind: 'absent' }, KERNEL),
});

const endpoint = (node: string, ready = true): AgentEndpoint => ({
  node,
  pod: { namespace: 'rewind', name: `rewind-agent-${node}` },
  host: '10.0.0.1',
  port: 9401,
  ready,
});
const endpoints = [
  endpoint('node-a'),
  endpoint('node-b', false),
  endpoint('node-c'),
  endpoint('node-e'),
  endpoint('node-f'),
  endpoint('node-g'),
];
const result = (r: Omit<AgentStatusResult, 'address' | 'at'>, secondsAgo = 5) => ({
  address: '10.0.0.1:9401',
  at: NOW - secondsAgo * 1000,
  ...r,
});
const results = new Map<string, AgentStatusResult>([
  ['node-a', result({ status: recording })],
  ['node-b', result({ status: degraded })],
  ['node-c', result({ error: 'connect ECONNREFUSED 10.0.0.1:9401' }, 30)],
  ['node-e', result({ status: loaderUnknown })],
  ['node-f', result({ status: { node: 'node-f', recorder: 'on', windowSeconds: 'long' } })],
]);

/** The controller's answer as the plugin receives it: through JSON, checked by its schema. */
const answer = agentsAnswerShape.parse(
  JSON.parse(JSON.stringify({ agents: agentStatusList(endpoints, results) })),
);

const byNode = (rows: AgentRow[]) => Object.fromEntries(rows.map((r) => [r.node, r]));

describe('agentRows', () => {
  const rows = byNode(
    agentRows(answer, ['node-a', 'node-b', 'node-c', 'node-d', 'node-e', 'node-f', 'node-g'], NOW),
  );

  it('a recording agent: loaded, its window (the shortest CPU), refusals, version', () => {
    expect(rows['node-a']).toEqual({
      node: 'node-a',
      module: 'loaded',
      recording: 'yes',
      window: '42s',
      refused: '3',
      version: '0.1.0',
      reason: '',
      pod: 'rewind/rewind-agent-node-a',
      kernel: KERNEL,
      checked: '5s ago',
    });
  });

  it('a degraded agent: the loader’s reason word, its sentence, the recorder, the pod not Ready', () => {
    expect(rows['node-b']).toMatchObject({
      module: 'degraded (lockdown)',
      recording: 'no',
      window: '',
      refused: '0',
    });
    expect(rows['node-b']?.reason).toBe(
      // The recorder's "no device" is left out: the loader's sentence already says why.
      'the kernel refused rewind.ko: Operation not permitted (lockdown integrity: a signed module is needed); ' +
        'agent pod not Ready',
    );
  });

  it('an unreachable agent: the error, when it was checked', () => {
    expect(rows['node-c']).toMatchObject({
      module: 'unreachable',
      recording: '',
      reason: 'connect ECONNREFUSED 10.0.0.1:9401',
      checked: '30s ago',
    });
  });

  it('a node without an agent', () => {
    expect(rows['node-d']).toEqual({
      node: 'node-d',
      module: 'no agent',
      reason: 'no agent pod on this node',
      recording: '',
      window: '',
      refused: '',
      version: '',
      pod: '',
      kernel: '',
      checked: '',
    });
  });

  it('a recording agent whose loader state is unknown is loaded, and says why the state is', () => {
    expect(rows['node-e']).toMatchObject({ module: 'loaded', recording: 'yes', window: '42s' });
    expect(rows['node-e']?.reason).toMatch(
      /^no loader state at \/var\/lib\/rewind\/module-state\.json/,
    );
  });

  it('a status shape this plugin does not know: unknown, not a crash', () => {
    expect(rows['node-f']).toMatchObject({
      module: 'unknown',
      reason: 'the agent answered an unknown status',
      checked: '5s ago',
    });
  });

  it('an agent not asked yet', () => {
    expect(rows['node-g']).toMatchObject({
      module: 'unknown',
      reason: 'not asked yet',
      checked: 'not yet',
    });
  });

  it('sorted by node; without the nodes list only the agents’ nodes', () => {
    expect(agentRows(answer, undefined, NOW).map((r) => r.node)).toEqual([
      'node-a',
      'node-b',
      'node-c',
      'node-e',
      'node-f',
      'node-g',
    ]);
    expect(agentRows(answer, ['node-z', 'node-d'], NOW).map((r) => r.node)).toEqual([
      'node-a',
      'node-b',
      'node-c',
      'node-d',
      'node-e',
      'node-f',
      'node-g',
      'node-z',
    ]);
    expect(agentRows({ agents: [] }, [], NOW)).toEqual([]);
  });
});

describe('agentTable', () => {
  const rows = agentRows(answer, ['node-a', 'node-b', 'node-d'], NOW);

  it('kubectl-style, the reason last', () => {
    const lines = agentTable(rows, false).split('\n');
    expect(lines[0]).toMatch(
      /^NODE {3,}MODULE {3,}RECORDING {3}WINDOW {3}REFUSED {3}VERSION {3}REASON$/,
    );
    const col = (name: string) => (lines[0] as string).indexOf(name);
    const a = lines.find((l) => l.startsWith('node-a')) as string;
    expect(a.slice(col('MODULE')).startsWith('loaded ')).toBe(true);
    expect(a.slice(col('WINDOW')).startsWith('42s ')).toBe(true);
    const b = lines.find((l) => l.startsWith('node-b')) as string;
    expect(b.slice(col('MODULE')).startsWith('degraded (lockdown)')).toBe(true);
    expect(b.slice(col('REASON'))).toMatch(/^the kernel refused rewind\.ko/);
    const d = lines.find((l) => l.startsWith('node-d')) as string;
    expect(d.slice(col('MODULE')).startsWith('no agent ')).toBe(true);
    expect(d.slice(col('REASON'))).toBe('no agent pod on this node');
    expect(lines).toHaveLength(rows.length + 2);
  });

  it('wide adds the pod, the kernel and when it was checked before the reason', () => {
    const header = agentTable(rows, true).split('\n')[0];
    expect(header).toMatch(/VERSION {3,}POD {3,}KERNEL {3,}CHECKED {3,}REASON$/);
    expect(agentTable(rows, true)).toContain(`rewind/rewind-agent-node-a   ${KERNEL}   5s ago`);
  });
});
