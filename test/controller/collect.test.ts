/**
 * Collection from agents (controller/collect/): the real `rewind-agent serve` (startStandInAgent:
 * real HTTPS with mutual TLS, real tar streaming, over a stand-in device since this host cannot
 * load the module) collected by the controller's real client with certificates made as the chart
 * makes them, traces judged by babeltrace2. Timeouts and busy retries are driven by injected
 * timers and sleeps, never by wall time.
 *
 * One part is a TEST DOUBLE: the hostile archives come from a small HTTPS server in this file,
 * because a real agent never sends such a tar.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack, type Header } from 'tar-stream';
import {
  agentClients,
  controllerRealtimeNs,
  type AgentTls,
} from '../../controller/collect/agent-client';
import { collectAll, type CollectProgress } from '../../controller/collect/collect-all';
import type { CollectedNode } from '../../controller/collect/collect-node';
import type { NodeFailureReason } from '../../controller/metrics';
import type { AgentEndpoint, NodePlan } from '../../controller/model';
import { clockSamples, validateTrace } from '../../native';
import { agentRequest } from '../agent/agent-client';
import { makeTestPki, type TestPki } from '../agent/certs';
import { standInClock, startStandInAgent, type StandInAgent } from '../agent/standin-device';
import { babeltrace } from '../native/babeltrace';

const SKEW = 3_000_000_000n; // node-c's realtime is 3 s ahead of the controller's

describe('collecting from agents (real agents over stand-in devices)', () => {
  let pki: TestPki;
  const agents: Record<string, StandInAgent> = {};
  let tls: AgentTls;
  const roots: string[] = [];

  const freshDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'rwd-collect-'));
    roots.push(d);
    return d;
  };
  const endpoint = (node: string): AgentEndpoint => ({
    node,
    host: '127.0.0.1',
    port: (agents[node] as StandInAgent).apiPort,
    ready: true,
  });
  const plan = (node: string): NodePlan => ({ node, agent: endpoint(node) });
  const failures: NodeFailureReason[] = [];
  const metrics = {
    nodeFailed: (r: NodeFailureReason) => failures.push(r),
    clockUncertainty: () => undefined,
  };
  /** Until the agent has no snapshot in flight (its own status says so). */
  const idle = async (agent: StandInAgent) => {
    for (;;) {
      const r = await agentRequest({
        port: agent.apiPort,
        ca: pki.caPem,
        client: pki.controller,
        path: '/v1/status',
      });
      if (JSON.parse(r.body.toString()).snapshotInFlight === false) return;
    }
  };
  const failed = (r: CollectedNode) => {
    if (r.ok) throw new Error(`${r.node} was collected`);
    return r;
  };

  beforeAll(async () => {
    pki = makeTestPki();
    tls = {
      ca: pki.caPem,
      cert: pki.controller.certPem,
      key: pki.controller.keyPem,
      serverName: 'localhost',
    };
    // One trace clock for the three stand-ins, as their synthetic traces share one.
    const clock = standInClock();
    for (const node of ['node-a', 'node-b', 'node-c']) {
      agents[node] = await startStandInAgent(node, {
        pki,
        clockSamples:
          node === 'node-c'
            ? (n) => clock(n).map((s) => ({ ...s, realtimeNs: s.realtimeNs + SKEW }))
            : clock,
      });
    }
  });

  afterAll(async () => {
    for (const a of Object.values(agents)) await a.stop();
    rmSync(pki.dir, { recursive: true, force: true });
    for (const d of roots) rmSync(d, { recursive: true, force: true });
  });

  beforeEach(async () => {
    failures.length = 0;
    for (const a of Object.values(agents)) await idle(a);
  });

  it('collects three agents at once: traces babeltrace2 reads, manifests, clocks, progress', async () => {
    const dir = freshDir();
    const progress: CollectProgress[] = [];
    const results = await collectAll(
      ['node-a', 'node-b', 'node-c'].map(plan),
      { perNodeTimeoutMs: 60_000, windowSeconds: 5, dir },
      { client: agentClients(tls), metrics },
      (p) => progress.push(p),
    );
    expect(results.map((r) => [r.node, r.ok])).toEqual([
      ['node-a', true],
      ['node-b', true],
      ['node-c', true],
    ]);
    for (const r of results) {
      if (!r.ok) throw new Error(r.error);
      expect(r.traceDir).toBe(join(dir, r.node, 'trace'));
      expect(readdirSync(join(dir, r.node)).sort()).toEqual(['manifest.json', 'trace']);
      expect(readdirSync(r.traceDir).sort()).toEqual(['metadata', 'stream_0', 'stream_1']);
      expect(r.manifest.node).toBe(r.node);
      expect(r.manifest.window.seconds).toBe(5);
      expect(r.clock.exchanges).toBe(10);
      expect(r.bytes).toBeGreaterThan(100_000);
      const summary = await validateTrace(r.traceDir);
      const bt = babeltrace(r.traceDir);
      expect(bt.code).toBe(0);
      expect(bt.stderr).toBe('');
      expect(bt.events).toHaveLength(Number(summary.events));
      expect(bt.events.length).toBeGreaterThanOrEqual(40_000); // 2 CPUs x 20000, and statedump
    }
    // A node on one machine with the controller: offset within its uncertainty of the truth.
    const [a, , c] = results as Extract<CollectedNode, { ok: true }>[];
    const near = (r: typeof a, truth: bigint) => {
      const err = r.clock.offsetNs - truth;
      expect(err < 0n ? -err : err).toBeLessThanOrEqual(r.clock.uncertaintyNs);
    };
    near(a, 0n);
    near(c, SKEW);
    expect(c.clock.uncertaintyNs).toBeLessThan(50_000_000n);
    // The stand-ins' traces carry the same metadata clock offset whatever node-c's realtime says
    // (as a trace does when realtime was stepped after it was taken), and the same monotonic
    // clock: the correction follows the monotonic clock, so c's equals a's, not a's − SKEW.
    const diff = c.clock.correctionNs - a.clock.correctionNs;
    expect(diff < 0n ? -diff : diff).toBeLessThanOrEqual(
      c.clock.uncertaintyNs + a.clock.uncertaintyNs,
    );
    const last = progress[progress.length - 1] as CollectProgress;
    expect(last).toEqual({
      nodesDone: 3,
      nodesTotal: 3,
      bytes: results.reduce((s, r) => s + r.bytes, 0),
    });
    expect(progress.map((p) => p.nodesDone)).toEqual(expect.arrayContaining([1, 2, 3]));
    expect(failures).toEqual([]);
  });

  it('keeps the others when one agent dies in the middle of its stream', async () => {
    const dir = freshDir();
    const real = agentClients(tls);
    let cut = false;
    const results = await collectAll(
      ['node-a', 'node-b', 'node-c'].map(plan),
      { perNodeTimeoutMs: 60_000, dir },
      {
        metrics,
        client: (agent) => {
          const client = real(agent);
          if (agent.node !== 'node-b') return client;
          // After node-b's first bytes its agent drops every connection, as a killed pod does.
          const snapshot: typeof client.snapshot = (w, sink, signal, o) =>
            client.snapshot(w, sink, signal, {
              ...o,
              onBytes: (n) => {
                o?.onBytes?.(n);
                if (cut) return;
                cut = true;
                const server = (agents['node-b'] as StandInAgent).lifecycle.server('api') as Server;
                server.closeAllConnections();
              },
            });
          return Object.assign(Object.create(client) as typeof client, { snapshot });
        },
      },
    );
    expect(cut).toBe(true);
    expect(results.map((r) => [r.node, r.ok])).toEqual([
      ['node-a', true],
      ['node-b', false],
      ['node-c', true],
    ]);
    const b = failed(results[1] as CollectedNode);
    expect(b.reason).toBe('unreachable');
    expect(b.error).toMatch(/^agent 127\.0\.0\.1:\d+ went away in the middle of the snapshot/);
    expect(b.bytes).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'node-b'))).toBe(false);
    expect(failures).toEqual(['unreachable']);
  });

  it('fails a node as tls when the agent refuses the controller certificate', async () => {
    const dir = freshDir();
    const foreign = {
      ...tls,
      cert: pki.foreignController.certPem,
      key: pki.foreignController.keyPem,
    };
    const [r] = await collectAll(
      [plan('node-a')],
      { perNodeTimeoutMs: 60_000, dir },
      {
        client: agentClients(foreign),
        metrics,
      },
    );
    const f = failed(r as CollectedNode);
    expect(f.reason).toBe('tls');
    expect(f.error).toMatch(
      /^agent 127\.0\.0\.1:\d+ closed the connection right after the TLS handshake: it refused the controller's certificate; check that both come from the chart's CA$/,
    );
    expect(agents['node-a']?.device.snapshots).toBeGreaterThanOrEqual(1);
  });

  it('fails a node as tls when the controller names itself otherwise (403) or the agent name differs', async () => {
    const dir = freshDir();
    const intruder = { ...tls, cert: pki.intruder.certPem, key: pki.intruder.keyPem };
    const [r] = await collectAll(
      [plan('node-a')],
      { perNodeTimeoutMs: 60_000, dir },
      {
        client: agentClients(intruder),
      },
    );
    expect(failed(r as CollectedNode).error).toMatch(
      /HTTP 403: the client certificate names someone-else/,
    );
    expect((r as { reason: string }).reason).toBe('tls');
    const [s] = await collectAll(
      [plan('node-a')],
      { perNodeTimeoutMs: 60_000, dir },
      {
        client: agentClients({ ...tls, serverName: 'rewind-agent.elsewhere.svc' }),
      },
    );
    expect((s as { reason: string }).reason).toBe('tls');
    expect(failed(s as CollectedNode).error).toMatch(
      /failed verification \(ERR_TLS_CERT_ALTNAME_INVALID/,
    );
  });

  it('fails a node over its byte budget and removes what it had written', async () => {
    const dir = freshDir();
    const [r] = await collectAll(
      [plan('node-a')],
      { perNodeTimeoutMs: 60_000, byteBudget: 50_000, dir },
      {
        client: agentClients(tls),
        metrics,
      },
    );
    const f = failed(r as CollectedNode);
    expect(f.reason).toBe('over-budget');
    expect(f.error).toMatch(/over the byte budget \(more than 50000 bytes\)/);
    expect(readdirSync(dir)).toEqual([]);
    expect(failures).toEqual(['over-budget']);
  });

  it('times a node out when its agent holds the snapshot (injected timer), others unaffected', async () => {
    const dir = freshDir();
    const agent = agents['node-a'] as StandInAgent;
    let release = () => undefined as void;
    agent.device.hold = new Promise<void>((r) => (release = r));
    let reached = () => undefined as void;
    const snapshotReached = new Promise<void>((r) => (reached = r));
    const original = agent.device.snapshot.bind(agent.device);
    agent.device.snapshot = (d: string) => {
      reached();
      return original(d);
    };
    const fires = new Map<number, () => void>();
    let timers = 0;
    const collecting = collectAll(
      ['node-a', 'node-b'].map(plan),
      { perNodeTimeoutMs: 90_000, dir },
      {
        client: agentClients(tls),
        metrics,
        timer: (ms, fire) => {
          expect(ms).toBe(90_000);
          const id = timers++;
          fires.set(id, fire);
          return () => fires.delete(id);
        },
      },
    );
    await snapshotReached;
    (fires.get(0) as () => void)(); // node-a's deadline
    const results = await collecting;
    release();
    agent.device.hold = undefined;
    agent.device.snapshot = original;
    await idle(agent);
    const a = failed(results[0] as CollectedNode);
    expect(a.reason).toBe('timeout');
    expect(a.error).toBe(
      "collecting node-a took longer than the per-node timeout (90 s): check the agent's load and network, or raise the timeout",
    );
    expect(results[1]?.ok).toBe(true);
    expect(failures).toEqual(['timeout']);
  });

  it('retries a busy agent after its Retry-After (injected sleep)', async () => {
    const dir = freshDir();
    const agent = agents['node-a'] as StandInAgent;
    let release = () => undefined as void;
    agent.device.hold = new Promise<void>((r) => (release = r));
    const before = agent.device.snapshots;
    const other = agentRequest({
      port: agent.apiPort,
      ca: pki.caPem,
      client: pki.controller,
      method: 'POST',
      path: '/v1/snapshots',
    });
    while (agent.device.snapshots === before) await new Promise((r) => setImmediate(r));
    const sleeps: number[] = [];
    const [r] = await collectAll(
      [plan('node-a')],
      { perNodeTimeoutMs: 60_000, dir },
      {
        client: agentClients(tls),
        sleep: async (ms) => {
          sleeps.push(ms);
          agent.device.hold = undefined;
          release();
          expect((await other).status).toBe(200);
          await idle(agent);
        },
      },
    );
    expect(sleeps).toEqual([2000]);
    expect(r?.ok).toBe(true);
  });

  it('reports nodes without an agent or with an agent not ready, never drops them', async () => {
    const dir = freshDir();
    const results = await collectAll(
      [
        { node: 'node-x', error: 'no ready rewind agent pod on node node-x' },
        { node: 'node-y', agent: { ...endpoint('node-a'), node: 'node-y', ready: false } },
        plan('node-a'),
        plan('node-a'),
      ],
      { perNodeTimeoutMs: 60_000, dir },
      { client: agentClients(tls), metrics },
    );
    expect(results.map((r) => [r.node, r.ok, r.ok ? '' : r.reason])).toEqual([
      ['node-x', false, 'no-agent'],
      ['node-y', false, 'agent-not-ready'],
      ['node-a', true, ''],
      ['node-a', false, 'other'],
    ]);
    expect(failed(results[3] as CollectedNode).error).toBe(
      'node node-a is planned twice in one snapshot',
    );
    expect(failed(results[0] as CollectedNode).error).toBe(
      'no ready rewind agent pod on node node-x',
    );
    expect(failures.sort()).toEqual(['agent-not-ready', 'no-agent', 'other']);
  });

  it('refuses an agent that answers as another node (a pod IP that moved)', async () => {
    const dir = freshDir();
    const [r] = await collectAll(
      [{ node: 'node-z', agent: { ...endpoint('node-a'), node: 'node-z' } }],
      { perNodeTimeoutMs: 60_000, dir },
      { client: agentClients(tls) },
    );
    expect(failed(r as CollectedNode).error).toMatch(/answers as node "node-a", not "node-z"/);
  });
});

describe('hostile archives (TEST DOUBLE: a fake agent server; a real agent never sends these)', () => {
  let pki: TestPki;
  let server: Server;
  let port = 0;
  let archive: (p: ReturnType<typeof pack>) => void = () => undefined;
  let root = '';

  beforeAll(async () => {
    pki = makeTestPki();
    root = mkdtempSync(join(tmpdir(), 'rwd-hostile-'));
    server = createServer(
      {
        cert: pki.agent.certPem,
        key: pki.agent.keyPem,
        ca: pki.caPem,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        if (req.url?.startsWith('/v1/clock')) {
          const s = clockSamples(1)[0] as ReturnType<typeof clockSamples>[number];
          res.setHeader('content-type', 'application/json');
          res.end(
            JSON.stringify({
              node: 'evil',
              clock: 'monotonic',
              best: 0,
              samples: [
                { monotonicNs: `${s.monotonicNs}`, realtimeNs: `${s.realtimeNs}`, spreadNs: '10' },
              ],
            }),
          );
          return;
        }
        req.resume();
        res.writeHead(200, { 'content-type': 'application/x-tar' });
        const p = pack();
        p.pipe(res);
        archive(p);
        p.finalize();
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(pki.dir, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  });

  const manifest = JSON.stringify({
    manifestVersion: 1,
    node: 'evil',
    kernelRelease: 'x',
    bootId: 'b',
    traceUuid: 'u',
    clock: { offsetNs: '0', requestedAtMonotonicNs: '1', requestedAtRealtimeNs: '2' },
    window: { seconds: null },
    containers: { cgroups: [] },
  });
  const collect = async (entries: [Partial<Header> & { name: string }, string?][]) => {
    archive = (p) => {
      for (const [h, body] of entries) p.entry(h, body ?? '');
    };
    const dir = mkdtempSync(join(root, 'nodes-'));
    const tls = {
      ca: pki.caPem,
      cert: pki.controller.certPem,
      key: pki.controller.keyPem,
      serverName: 'localhost',
    };
    const [r] = await collectAll(
      [{ node: 'evil', agent: { node: 'evil', host: '127.0.0.1', port, ready: true } }],
      { perNodeTimeoutMs: 60_000, dir, clockExchanges: 1 },
      { client: agentClients(tls, controllerRealtimeNs) },
    );
    return { r: r as CollectedNode, dir };
  };
  const ok: [Partial<Header> & { name: string }, string?][] = [
    [{ name: 'manifest.json' }, manifest],
    [{ name: 'trace/metadata' }, '/* CTF 1.8 */'],
  ];

  it('accepts a well-formed double (the double itself works)', async () => {
    const { r } = await collect(ok);
    expect(r.ok).toBe(true);
  });

  it.each([
    [
      'a path with ..',
      [{ name: '../escape' }, 'x'],
      /entry "\.\.\/escape" outside manifest.json and trace\//,
    ],
    [
      'a path with .. inside trace/',
      [{ name: 'trace/../../escape' }, 'x'],
      /outside manifest.json and trace\//,
    ],
    [
      'an absolute path',
      [{ name: '/tmp/rwd-escape-abs' }, 'x'],
      /outside manifest.json and trace\//,
    ],
    [
      'a symlink',
      [{ name: 'trace/stream_0', type: 'symlink', linkname: '/etc/passwd' }],
      /a symlink entry "trace\/stream_0"/,
    ],
    [
      'a hard link',
      [{ name: 'trace/stream_0', type: 'link', linkname: 'manifest.json' }],
      /a link entry/,
    ],
    [
      'a device',
      [{ name: 'trace/stream_0', type: 'character-device', devmajor: 1, devminor: 3 }],
      /a character-device entry/,
    ],
    ['a fifo', [{ name: 'trace/stream_0', type: 'fifo' }], /a fifo entry/],
    [
      'another directory',
      [{ name: 'trace/sub', type: 'directory' }],
      /a directory entry "trace\/sub"/,
    ],
    ['a dotfile in trace/', [{ name: 'trace/.hidden' }, 'x'], /outside manifest.json and trace\//],
    ['a file twice', [{ name: 'trace/metadata' }, 'again'], /trace\/metadata twice/],
  ] as [string, [Partial<Header> & { name: string }, string?], RegExp][])(
    'refuses %s as bad-archive, nothing written outside its folder',
    async (_what, entry, message) => {
      const { r, dir } = await collect([...ok, entry]);
      const f = r.ok ? undefined : r;
      expect(f?.reason).toBe('bad-archive');
      expect(f?.error).toMatch(message);
      expect(f?.error).toMatch(
        /^the snapshot archive of 127\.0\.0\.1:\d+ is not a Rewind snapshot/,
      );
      expect(readdirSync(dir)).toEqual([]);
      expect(existsSync(join(root, 'escape'))).toBe(false);
      expect(existsSync(join(dir, '..', 'escape'))).toBe(false);
      expect(existsSync('/tmp/rwd-escape-abs')).toBe(false);
    },
  );

  it('refuses an archive without a manifest, and a manifest of another node', async () => {
    const none = await collect([[{ name: 'trace/metadata' }, 'x']]);
    expect(none.r.ok ? '' : none.r.error).toMatch(/lacks manifest.json/);
    const other = await collect([
      [{ name: 'manifest.json' }, manifest.replace('"node":"evil"', '"node":"node-a"')],
      [{ name: 'trace/metadata' }, 'x'],
    ]);
    expect(other.r.ok ? '' : other.r.error).toMatch(/sent the trace of node "node-a", not "evil"/);
    expect(other.r.ok ? '' : other.r.reason).toBe('bad-archive');
  });

  it('refuses a corrupt tar', async () => {
    archive = (p) => {
      p.entry({ name: 'manifest.json' }, manifest);
      p.push(Buffer.alloc(512, 0x41)); // a header block of garbage
    };
    const dir = mkdtempSync(join(root, 'nodes-'));
    const tls = {
      ca: pki.caPem,
      cert: pki.controller.certPem,
      key: pki.controller.keyPem,
      serverName: 'localhost',
    };
    const [r] = await collectAll(
      [{ node: 'evil', agent: { node: 'evil', host: '127.0.0.1', port, ready: true } }],
      { perNodeTimeoutMs: 60_000, dir, clockExchanges: 1 },
      { client: agentClients(tls) },
    );
    expect(r?.ok ? '' : r?.reason).toBe('bad-archive');
    expect(readdirSync(dir)).toEqual([]);
  });
});
