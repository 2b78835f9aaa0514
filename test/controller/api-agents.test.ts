/**
 * The poller behind GET /v1/agents (controller/api/agent-status.ts).
 *
 * Most of this file is PURE LOGIC with test doubles, and says so: the timers are a fake clock
 * advanced by hand and `fetchStatus` is a fake whose answers the test releases, so rounds,
 * deadlines, concurrency and nodes leaving are checked without sleeping. The last block runs the
 * poller against a REAL agent (`rewind-agent serve` over the stand-in device, real mutual TLS)
 * through a small mTLS `fetchStatus` written here (the controller's own agent client comes from
 * the collection's helper).
 */
import { request } from 'node:https';
import {
  agentStatusList,
  AgentStatusPoller,
  type AgentStatusPollerOptions,
  type AgentStatusResult,
  type Timers,
} from '../../controller/api/agent-status';
import type { AgentEndpoint } from '../../controller/model';
import type { KeyPair } from '../agent/certs';
import { startStandInAgent, type StandInAgent } from '../agent/standin-device';

/** A fake clock: timers run only when the test advances time. */
class FakeTimers implements Timers {
  now = 1_700_000_000_000;
  private next = 1;
  private tasks = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.tasks.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.tasks.delete(handle as number);
  }
  get pending(): number {
    return this.tasks.size;
  }
  /** Moves time forward, running each timer due on the way (and the promises it starts). */
  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      await settle();
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const t of this.tasks) if (t[1].at <= until && (!due || t[1].at < due[1].at)) due = t;
      if (!due) break;
      this.tasks.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = until;
    await settle();
  }
}

/** Lets pending promise callbacks run (no wall-clock wait: one turn of the event loop each). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** A fake fetchStatus whose calls wait until the test answers them. */
class FakeAgents {
  calls: {
    endpoint: AgentEndpoint;
    signal: AbortSignal;
    answer(v: unknown): void;
    fail(e: Error): void;
  }[] = [];
  active = 0;
  maxActive = 0;
  /** Answer at once with the node's status (otherwise the call waits). */
  autoAnswer = false;
  fetch = (endpoint: AgentEndpoint, signal: AbortSignal): Promise<unknown> => {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    return new Promise<unknown>((resolve, reject) => {
      const done = () => this.active--;
      this.calls.push({
        endpoint,
        signal,
        answer: (v) => (done(), resolve(v)),
        fail: (e) => (done(), reject(e)),
      });
      if (this.autoAnswer)
        this.calls[this.calls.length - 1]!.answer({ node: endpoint.node, ok: 1 });
    });
  };
}

const ep = (node: string, host = '10.0.0.1', ready = true): AgentEndpoint => ({
  node,
  host,
  port: 9401,
  ready,
  pod: { namespace: 'rewind-system', name: `rewind-agent-${node}` },
});

function poller(
  endpoints: () => AgentEndpoint[],
  agents: FakeAgents,
  timers: FakeTimers,
  more: Partial<AgentStatusPollerOptions> = {},
): AgentStatusPoller {
  return new AgentStatusPoller({
    endpoints,
    fetchStatus: agents.fetch,
    intervalMs: 30_000,
    timeoutMs: 5_000,
    concurrency: 4,
    now: () => timers.now,
    timers,
    ...more,
  });
}

describe('agentStatusList (pure)', () => {
  test('joins the current endpoints with their latest results, sorted by node', () => {
    const results = new Map<string, AgentStatusResult>([
      ['b', { address: '10.0.0.2:9401', at: 0, status: { node: 'b' } }],
      ['a', { address: '10.0.0.1:9401', at: 1000, error: 'connect ECONNREFUSED' }],
      // A result for an address the node's agent no longer has (a new pod): not shown.
      ['c', { address: '10.0.0.99:9401', at: 0, status: { node: 'c' } }],
      // A node that left: not listed.
      ['gone', { address: '10.0.0.4:9401', at: 0, status: { node: 'gone' } }],
    ]);
    const list = agentStatusList(
      [
        ep('c', '10.0.0.3'),
        ep('b', '10.0.0.2'),
        { ...ep('a'), pod: undefined },
        ep('v6', 'fd00::1', false),
      ],
      results,
    );
    expect(list).toEqual([
      {
        node: 'a',
        pod: null,
        address: '10.0.0.1:9401',
        ready: true,
        error: 'connect ECONNREFUSED',
        checkedAt: '1970-01-01T00:00:01.000Z',
      },
      {
        node: 'b',
        pod: 'rewind-system/rewind-agent-b',
        address: '10.0.0.2:9401',
        ready: true,
        status: { node: 'b' },
        checkedAt: '1970-01-01T00:00:00.000Z',
      },
      {
        node: 'c',
        pod: 'rewind-system/rewind-agent-c',
        address: '10.0.0.3:9401',
        ready: true,
        checkedAt: null,
      },
      {
        node: 'v6',
        pod: 'rewind-system/rewind-agent-v6',
        address: '[fd00::1]:9401',
        ready: false,
        checkedAt: null,
      },
    ]);
  });
});

describe('AgentStatusPoller (pure logic: fake timers, fake fetchStatus)', () => {
  test('polls at once, then every interval after a round ends; keeps the answer with its time', async () => {
    const timers = new FakeTimers();
    const agents = new FakeAgents();
    agents.autoAnswer = true;
    const p = poller(() => [ep('a'), ep('b', '10.0.0.2')], agents, timers);
    const t0 = timers.now;
    p.start();
    await settle();
    expect(agents.calls.map((c) => c.endpoint.node)).toEqual(['a', 'b']);
    expect(p.list().map((e) => [e.node, e.status, e.checkedAt])).toEqual([
      ['a', { node: 'a', ok: 1 }, new Date(t0).toISOString()],
      ['b', { node: 'b', ok: 1 }, new Date(t0).toISOString()],
    ]);
    await timers.advance(29_999);
    expect(agents.calls).toHaveLength(2);
    await timers.advance(1);
    expect(agents.calls).toHaveLength(4);
    expect(p.list()[0]!.checkedAt).toBe(new Date(t0 + 30_000).toISOString());
    await p.stop();
    expect(timers.pending).toBe(0);
    await timers.advance(120_000);
    expect(agents.calls).toHaveLength(4);
  });

  test('rounds never overlap: a slow agent delays the next round', async () => {
    const timers = new FakeTimers();
    const agents = new FakeAgents();
    const p = poller(() => [ep('a')], agents, timers, { timeoutMs: 100_000 });
    p.start();
    await timers.advance(90_000);
    expect(agents.calls).toHaveLength(1);
    agents.calls[0]!.answer({ node: 'a' });
    await timers.advance(29_999);
    expect(agents.calls).toHaveLength(1);
    await timers.advance(1);
    expect(agents.calls).toHaveLength(2);
    await p.stop();
  });

  test('an agent that does not answer in time is an error after timeoutMs, its request aborted', async () => {
    const timers = new FakeTimers();
    const agents = new FakeAgents();
    const p = poller(() => [ep('a')], agents, timers);
    const round = p.pollOnce();
    await settle();
    expect(agents.calls).toHaveLength(1);
    await timers.advance(4_999);
    expect(p.list()[0]).toMatchObject({ node: 'a', checkedAt: null });
    expect(agents.calls[0]!.signal.aborted).toBe(false);
    await timers.advance(1);
    await round;
    expect(agents.calls[0]!.signal.aborted).toBe(true);
    expect(p.list()[0]).toMatchObject({ node: 'a', error: 'no answer within 5000 ms' });
    expect(p.list()[0]!.status).toBeUndefined();
    // The fake never settles its promise (it ignored the signal): the poller did not wait for it.
    await p.stop();
  });

  test('errors and answers for the wrong node are kept per node as one line', async () => {
    const timers = new FakeTimers();
    const agents = new FakeAgents();
    const p = poller(
      () => [
        ep('a'),
        ep('b', '10.0.0.2'),
        ep('c', '10.0.0.3'),
        ep('d', ''),
        { ...ep('e', ''), unreachable: 'the agent pod is not scheduled (Unschedulable)' },
      ],
      agents,
      timers,
    );
    const round = p.pollOnce();
    await settle();
    const call = (n: string) => agents.calls.find((c) => c.endpoint.node === n)!;
    call('a').fail(new Error('connect ECONNREFUSED\n10.0.0.1:9401'));
    call('b').answer({ node: 'a' });
    call('c').answer('not json object');
    await round;
    expect(p.list().map((e) => [e.node, e.error])).toEqual([
      ['a', 'connect ECONNREFUSED 10.0.0.1:9401'],
      ['b', 'the agent at 10.0.0.2:9401 answered for node "a"'],
      ['c', 'the agent answered without a node name'],
      ['d', 'the agent pod has no address yet'],
      ['e', 'the agent pod is not scheduled (Unschedulable)'],
    ]);
    // The pods with no address were not dialed.
    expect(agents.calls.map((c) => c.endpoint.node).sort()).toEqual(['a', 'b', 'c']);
  });

  test('at most `concurrency` agents are asked at once, and every agent is asked', async () => {
    const timers = new FakeTimers();
    const agents = new FakeAgents();
    const nodes = Array.from({ length: 9 }, (_, i) => ep(`n${i}`, `10.0.1.${i}`));
    const p = poller(() => nodes, agents, timers, { concurrency: 3 });
    const round = p.pollOnce();
    for (let answered = 0; answered < 9; answered++) {
      await settle();
      expect(agents.active).toBeLessThanOrEqual(3);
      const open = agents.calls.filter((c) => !(c as { done?: boolean }).done);
      const next = open[0]!;
      (next as { done?: boolean }).done = true;
      next.answer({ node: next.endpoint.node });
    }
    await round;
    expect(agents.maxActive).toBe(3);
    expect(agents.calls.map((c) => c.endpoint.node).sort()).toEqual(
      nodes.map((n) => n.node).sort(),
    );
    expect(p.list().every((e) => e.status !== undefined)).toBe(true);
  });

  test('a node that leaves is dropped at once; a new one is listed unchecked until polled', async () => {
    const timers = new FakeTimers();
    const agents = new FakeAgents();
    agents.autoAnswer = true;
    let nodes = [ep('a'), ep('b', '10.0.0.2')];
    const p = poller(() => nodes, agents, timers);
    p.start();
    await settle();
    expect(p.list().map((e) => e.node)).toEqual(['a', 'b']);
    nodes = [ep('b', '10.0.0.2'), ep('c', '10.0.0.3')];
    expect(p.list().map((e) => [e.node, e.checkedAt !== null])).toEqual([
      ['b', true],
      ['c', false],
    ]);
    await timers.advance(30_000);
    expect(p.list().map((e) => [e.node, e.checkedAt !== null])).toEqual([
      ['b', true],
      ['c', true],
    ]);
    // 'a' coming back with a new pod is not shown with the old pod's answer.
    nodes = [ep('a', '10.0.0.9'), ...nodes];
    expect(p.list()[0]).toMatchObject({ node: 'a', address: '10.0.0.9:9401', checkedAt: null });
    await p.stop();
  });

  test('between rounds, an agent that is new, moved or became Ready is asked within changeCheckMs, alone', async () => {
    const timers = new FakeTimers();
    const agents = new FakeAgents();
    agents.autoAnswer = true;
    let nodes = [ep('a'), ep('b', '10.0.0.2', false)];
    const p = poller(() => nodes, agents, timers, { changeCheckMs: 1_000 });
    const t0 = timers.now;
    p.start();
    await settle();
    const asked = () => agents.calls.map((c) => `${c.endpoint.node}@${c.endpoint.host}`);
    expect(asked()).toEqual(['a@10.0.0.1', 'b@10.0.0.2']);
    await timers.advance(5_000);
    expect(asked()).toHaveLength(2); // nothing changed, nobody asked
    nodes = [ep('a'), ep('b', '10.0.0.2', true)];
    await timers.advance(1_000);
    expect(asked().slice(2)).toEqual(['b@10.0.0.2']);
    expect(p.list()[1]!.checkedAt).toBe(new Date(t0 + 6_000).toISOString());
    nodes = [...nodes, ep('c', '10.0.0.3')];
    await timers.advance(1_000);
    nodes = [ep('a', '10.0.0.9'), ...nodes.slice(1)];
    await timers.advance(1_000);
    expect(asked().slice(3)).toEqual(['c@10.0.0.3', 'a@10.0.0.9']);
    expect(p.list()[0]).toMatchObject({ address: '10.0.0.9:9401', status: { node: 'a', ok: 1 } });
    // The round still comes every interval, and asks everyone.
    await timers.advance(30_000 - 8_000);
    expect(asked().slice(5)).toEqual(['a@10.0.0.9', 'b@10.0.0.2', 'c@10.0.0.3']);
    await p.stop();
    expect(timers.pending).toBe(0);
    await timers.advance(60_000);
    expect(asked()).toHaveLength(8);
  });

  test('a change check waits for the round in flight, and the next round for the check in flight', async () => {
    const timers = new FakeTimers();
    const agents = new FakeAgents();
    let nodes = [ep('a')];
    const p = poller(() => nodes, agents, timers, { changeCheckMs: 1_000, timeoutMs: 100_000 });
    p.start();
    await settle();
    nodes = [ep('a', '10.0.0.9')];
    await timers.advance(3_000);
    expect(agents.calls).toHaveLength(1); // the round asking the old address is not done
    agents.calls[0]!.answer({ node: 'a' });
    await timers.advance(1_000);
    expect(agents.calls.map((c) => c.endpoint.host)).toEqual(['10.0.0.1', '10.0.0.9']);
    // The round is due 30 s after the first ended: it waits for the check still in flight.
    await timers.advance(40_000);
    expect(agents.calls).toHaveLength(2);
    agents.calls[1]!.answer({ node: 'a' });
    await settle();
    expect(agents.calls).toHaveLength(3);
    agents.calls[2]!.answer({ node: 'a' });
    await p.stop();
    expect(timers.pending).toBe(0);
  });

  test('an answer for a node that left during the round is not kept', async () => {
    const timers = new FakeTimers();
    const agents = new FakeAgents();
    let nodes = [ep('a')];
    const p = poller(() => nodes, agents, timers);
    const round = p.pollOnce();
    await settle();
    nodes = [];
    agents.calls[0]!.answer({ node: 'a' });
    await round;
    nodes = [ep('a')];
    expect(p.list()[0]!.checkedAt).toBeNull();
  });

  test('stop aborts the checks in flight and keeps nothing from them', async () => {
    const timers = new FakeTimers();
    const agents = new FakeAgents();
    const p = poller(() => [ep('a')], agents, timers);
    p.start();
    await settle();
    const stopped = p.stop();
    expect(agents.calls[0]!.signal.aborted).toBe(true);
    agents.calls[0]!.fail(new Error('aborted'));
    await stopped;
    expect(p.list()[0]!.checkedAt).toBeNull();
    expect(timers.pending).toBe(0);
  });
});

describe('AgentStatusPoller against a real agent (rewind-agent serve over the stand-in device, mutual TLS)', () => {
  let agent: StandInAgent;
  beforeAll(async () => {
    agent = await startStandInAgent('node-a');
  });
  afterAll(async () => {
    await agent?.stop();
  });

  /** GET /v1/status over mutual TLS, as the controller's agent client does. */
  const mtlsFetchStatus =
    (client: KeyPair) =>
    (endpoint: AgentEndpoint, signal: AbortSignal): Promise<unknown> =>
      new Promise((resolve, reject) => {
        const req = request(
          {
            host: endpoint.host,
            port: endpoint.port,
            path: '/v1/status',
            ca: agent.pki.caPem,
            cert: client.certPem,
            key: client.keyPem,
            // The test agent's certificate names localhost (the chart's names the agent service).
            servername: 'localhost',
            signal,
            agent: false,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString();
              if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${text}`));
              else resolve(JSON.parse(text));
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end();
      });

  const realTimers: Timers = {
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  };

  test("keeps the agent's real /v1/status, and each failure per node", async () => {
    const closedPort = agent.healthPort; // a plain-HTTP port: the TLS handshake fails
    const endpoints: AgentEndpoint[] = [
      {
        node: 'node-a',
        host: '127.0.0.1',
        port: agent.apiPort,
        ready: true,
        pod: { namespace: 'rewind-system', name: 'rewind-agent-x1' },
      },
      // Another node's pod whose address leads to node-a's agent.
      { node: 'node-b', host: '127.0.0.1', port: agent.apiPort, ready: true },
      { node: 'node-c', host: '127.0.0.1', port: closedPort, ready: false },
    ];
    const p = new AgentStatusPoller({
      endpoints: () => endpoints,
      fetchStatus: mtlsFetchStatus(agent.pki.controller),
      intervalMs: 60_000,
      timeoutMs: 10_000,
      concurrency: 2,
      now: () => Date.now(),
      timers: realTimers,
    });
    const before = Date.now();
    await p.pollOnce();
    const list = p.list();
    expect(list.map((e) => e.node)).toEqual(['node-a', 'node-b', 'node-c']);
    const a = list[0]!;
    expect(a.error).toBeUndefined();
    expect(a).toMatchObject({
      pod: 'rewind-system/rewind-agent-x1',
      address: `127.0.0.1:${agent.apiPort}`,
      ready: true,
      status: { node: 'node-a', recorder: { recording: true } },
    });
    expect(Date.parse(a.checkedAt!)).toBeGreaterThanOrEqual(before - 1);
    expect(list[1]!.error).toBe(
      `the agent at 127.0.0.1:${agent.apiPort} answered for node "node-a"`,
    );
    expect(list[2]!.error).toMatch(/\S/);
    expect(list[2]!.status).toBeUndefined();
    await p.stop();
  });

  test('an identity the agent does not accept gets its refusal as the error', async () => {
    const p = new AgentStatusPoller({
      endpoints: () => [{ node: 'node-a', host: '127.0.0.1', port: agent.apiPort, ready: true }],
      fetchStatus: mtlsFetchStatus(agent.pki.intruder),
      intervalMs: 60_000,
      timeoutMs: 10_000,
      concurrency: 1,
      now: () => Date.now(),
      timers: realTimers,
    });
    await p.pollOnce();
    expect(p.list()[0]!.error).toMatch(/^HTTP 403: /);
    await p.stop();
  });
});
