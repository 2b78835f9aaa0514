/**
 * The agent's snapshot API on the host: mutual TLS with real certificates (openssl, as the chart
 * makes them), the real HTTPS server, express app, tar streaming, metrics and shutdown.
 *
 * The device is a STAND-IN for the kernel module (this host cannot load modules): it writes a
 * synthetic trace in the real format (native writeSyntheticTrace) where the module would write
 * its rings, and can hold a snapshot open so concurrency can be tested deterministically. The
 * same API over the real module in a VM: agent-vm.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Lifecycle } from '../../common/lifecycle';
import { agentRequest, untar } from './agent-client';
import type { TestPki } from './certs';
import { startStandInAgent, type StandInAgent, type StandInDevice } from './standin-device';

describe('agent snapshot API (host, stand-in device)', () => {
  let agent: StandInAgent;
  let pki: TestPki;
  let device: StandInDevice;
  let lifecycle: Lifecycle;
  let scratch = '';
  let apiPort = 0;
  let healthPort = 0;

  beforeAll(async () => {
    agent = await startStandInAgent();
    ({ pki, device, lifecycle, scratch, apiPort, healthPort } = agent);
  });

  afterAll(() => agent.stop());

  // Each test starts with no snapshot in flight (a served snapshot cleans up after its response).
  beforeEach(() => settled());

  const snapshot = (
    client = pki.controller,
    extra: Partial<Parameters<typeof agentRequest>[0]> = {},
  ) =>
    agentRequest({
      port: apiPort,
      ca: pki.caPem,
      client,
      method: 'POST',
      path: '/v1/snapshots',
      ...extra,
    });

  it('configured and started the recorder it found empty', () => {
    expect(device.state).toBe(2);
    expect(device.config).toMatchObject({ subbufSize: 65536, numSubbufs: 16, mode: 'overwrite' });
  });

  it('refuses a client without a certificate at the handshake', async () => {
    const before = device.snapshots;
    await expect(
      agentRequest({ port: apiPort, ca: pki.caPem, method: 'POST', path: '/v1/snapshots' }),
    ).rejects.toThrow(/certificate|socket hang up|ECONNRESET|alert/i);
    expect(device.snapshots).toBe(before);
  });

  it("refuses a certificate of another CA at the handshake, even with the controller's name", async () => {
    const before = device.snapshots;
    await expect(snapshot(pki.foreignController)).rejects.toThrow(
      /certificate|socket hang up|ECONNRESET|alert/i,
    );
    expect(device.snapshots).toBe(before);
  });

  it('refuses a certificate of the CA that names someone else: 403, no trace byte', async () => {
    const before = device.snapshots;
    const r = await snapshot(pki.intruder);
    expect(r.status).toBe(403);
    expect(r.headers['content-type']).toMatch(/json/);
    expect(JSON.parse(r.body.toString()).error).toMatch(/someone-else.*not rewind-controller/);
    expect(device.snapshots).toBe(before);
    for (const path of ['/v1/clock', '/v1/status']) {
      const g = await agentRequest({ port: apiPort, ca: pki.caPem, client: pki.intruder, path });
      expect(g.status).toBe(403);
    }
  });

  it('serves the controller a tar of manifest.json and the trace, which babeltrace2 reads', async () => {
    const r = await snapshot(pki.controller, { body: JSON.stringify({ windowSeconds: 2 }) });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/x-tar');
    const dir = untar(r.body);
    try {
      expect(readdirSync(dir).sort()).toEqual(['manifest.json', 'trace']);
      expect(readdirSync(join(dir, 'trace')).sort()).toEqual(['metadata', 'stream_0', 'stream_1']);
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      const metadata = readFileSync(join(dir, 'trace', 'metadata'), 'utf8');
      const uuid = /trace\s*\{[^}]*uuid = "([^"]+)"/.exec(metadata)?.[1];
      expect(manifest.traceUuid).toBe(uuid);
      expect(manifest.node).toBe('node-a');
      expect(manifest.files).toEqual(['metadata', 'stream_0', 'stream_1']);
      expect(manifest.window).toEqual({
        seconds: 2,
        fromMonotonicNs: expect.any(String),
        toMonotonicNs: expect.any(String),
      });
      expect(BigInt(manifest.window.toMonotonicNs) - BigInt(manifest.window.fromMonotonicNs)).toBe(
        2_000_000_000n,
      );
      expect(manifest.stats).toHaveLength(2);
      expect(manifest.stats[1].eventsWritten).toBe('1001');
      const bt = spawnSync('babeltrace2', [join(dir, 'trace')], {
        encoding: 'utf8',
        maxBuffer: 1 << 28,
      });
      expect(bt.status).toBe(0);
      expect(bt.stderr).toBe('');
      expect(bt.stdout.split('\n').length).toBeGreaterThan(40000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await settled();
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('answers a second snapshot while one is in flight with 429 and Retry-After', async () => {
    let release = (): void => undefined;
    device.hold = new Promise((r) => (release = r));
    const first = snapshot();
    // The first owns the service once the device has been asked.
    while (device.snapshots === 0 || !(await isBusy())) await new Promise((r) => setImmediate(r));
    const second = await snapshot();
    expect(second.status).toBe(429);
    expect(Number(second.headers['retry-after'])).toBeGreaterThan(0);
    release();
    device.hold = undefined;
    expect((await first).status).toBe(200);
  });

  /** Waits until no snapshot is in flight (the service finishes its cleanup after the response). */
  async function settled(): Promise<void> {
    for (let i = 0; i < 500 && (readdirSync(scratch).length > 0 || (await isBusy())); i++)
      await new Promise((res) => setTimeout(res, 10));
  }

  async function isBusy(): Promise<boolean> {
    const s = await agentRequest({
      port: apiPort,
      ca: pki.caPem,
      client: pki.controller,
      path: '/v1/status',
    });
    return JSON.parse(s.body.toString()).snapshotInFlight === true;
  }

  it('cleans up when the client goes away in the middle, and serves the next one', async () => {
    const r = await snapshot(pki.controller, { abortAfterBytes: 2048 });
    expect(r.status).toBe(200);
    // The service notices the close, removes its scratch folder and counts the abort.
    await settled();
    expect(readdirSync(scratch)).toEqual([]);
    const metrics = await fetch(`http://127.0.0.1:${healthPort}/metrics`).then((x) => x.text());
    expect(metrics).toMatch(/rewind_agent_snapshots_total\{result="aborted"\} 1/);
    expect((await snapshot()).status).toBe(200);
  });

  it('rejects a malformed request with one line', async () => {
    const bad = await snapshot(pki.controller, { body: '{"windowSeconds": ' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body.toString()).error).toMatch(/^bad request: /);
    const unknown = await snapshot(pki.controller, { body: '{"window": 5}' });
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body.toString()).error).toMatch(/invalid snapshot request/);
  });

  it('gives clock samples: monotonic and realtime back to back', async () => {
    const r = await agentRequest({
      port: apiPort,
      ca: pki.caPem,
      client: pki.controller,
      path: '/v1/clock?samples=5',
    });
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body.toString());
    expect(body.samples).toHaveLength(5);
    const realtime = BigInt(body.samples[0].realtimeNs);
    expect(Number(realtime / 1_000_000n)).toBeGreaterThan(Date.now() - 60_000);
    expect(BigInt(body.samples[4].monotonicNs)).toBeGreaterThanOrEqual(
      BigInt(body.samples[0].monotonicNs),
    );
  });

  it('reports its status and metrics: window per CPU, refusals, state', async () => {
    const r = await agentRequest({
      port: apiPort,
      ca: pki.caPem,
      client: pki.controller,
      path: '/v1/status',
    });
    const s = JSON.parse(r.body.toString());
    expect(s.recorder.state).toBe('recording');
    expect(s.cpus.map((c: { windowSeconds: number }) => c.windowSeconds)).toEqual([4, 5]);
    expect(s.windowSeconds).toBe(4);
    expect(s.eventsRefused).toBe('6');
    const m = await fetch(`http://127.0.0.1:${healthPort}/metrics`).then((x) => x.text());
    expect(m).toMatch(/rewind_agent_recorder_window_seconds\{cpu="1"\} 5/);
    expect(m).toMatch(/rewind_agent_events_refused_total\{cpu="0",reason="full"\} 3/);
    expect(m).toMatch(/rewind_agent_recorder_state\{state="recording"\} 1/);
    expect(m).toMatch(/rewind_agent_requests_refused_total\{reason="forbidden"\} [1-9]/);
    const health = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
    expect(await health.text()).toBe('ok');
  });

  it('on shutdown cuts a snapshot still in flight after the close timeout, cleans up, closes the device and leaves the rings recording', async () => {
    let release = (): void => undefined;
    device.hold = new Promise((r) => (release = r));
    const inFlight = snapshot();
    inFlight.catch(() => undefined);
    while (!(await isBusy())) await new Promise((r) => setImmediate(r));
    const started = Date.now();
    const stopping = lifecycle.shutdown({ drain: false });
    // The stand-in agent's close timeout is 2 s: then its connection is cut.
    await expect(inFlight).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    release();
    await stopping;
    expect(readdirSync(scratch)).toEqual([]);
    expect(device.closed).toBe(1);
    expect(device.state).toBe(2);
  });
});
