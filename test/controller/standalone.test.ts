/**
 * Standalone mode end to end on this host: the built controller (`--standalone --agents
 * NODE=HOST:PORT,…`) and two real agents (`rewind-agent serve` over the stand-in device of
 * test/agent/standin-device.ts: this host cannot load the module; the VM suites use the real
 * one). A snapshot requested through the API reaches Complete, its archive downloads and
 * babeltrace2 reads both nodes in it; the webhook makes one too; every route wants the token;
 * a restart keeps the finished snapshots and fails none twice.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestPki, type TestPki } from '../agent/certs';
import { startStandInAgent, type StandInAgent } from '../agent/standin-device';
import { startController, type ControllerProcess } from './controller-process';

const TOKEN = 'standalone-test-token';

interface Answer {
  status: number;
  body: Buffer;
  json: () => unknown;
}

describe('rewind-controller --standalone', () => {
  let pki: TestPki;
  let dir: string;
  let agents: StandInAgent[] = [];
  let controller: ControllerProcess;

  const call = (method: string, path: string, body?: unknown, token: string | null = TOKEN) =>
    new Promise<Answer>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: controller.apiPort,
          method,
          path,
          ca: pki.caPem,
          servername: 'rewind-controller',
          headers: {
            ...(token === null ? {} : { authorization: `Bearer ${token}` }),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const b = Buffer.concat(chunks);
            resolve({ status: res.statusCode ?? 0, body: b, json: () => JSON.parse(b.toString()) });
          });
        },
      );
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });

  async function start(name: string): Promise<ControllerProcess> {
    const c = await startController(
      name,
      {
        REWIND_STANDALONE: 'true',
        REWIND_AGENTS: agents.map((a, i) => `node-${i + 1}=127.0.0.1:${a.apiPort}`).join(','),
        REWIND_AGENT_SERVER_NAME: 'localhost',
        REWIND_TLS_CERT: pki.controller.cert,
        REWIND_TLS_KEY: pki.controller.key,
        REWIND_TLS_CA: pki.ca,
        REWIND_DATA_DIR: join(dir, 'data'),
        REWIND_WEBHOOK_TOKEN: TOKEN,
        POD_NAMESPACE: 'standalone',
      },
      dir,
    );
    await c.waitReady();
    return c;
  }

  async function waitFinal(
    name: string,
  ): Promise<{ phase: string; nodes: unknown[]; conditions?: unknown[] }> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const r = await call('GET', `/v1/snapshots/standalone/${name}/status`);
      expect(r.status).toBe(200);
      const s = r.json() as {
        status?: { phase?: string; nodes?: unknown[]; conditions?: unknown[] };
      };
      const phase = s.status?.phase;
      if (phase === 'Complete' || phase === 'PartiallyFailed' || phase === 'Failed')
        return { phase, nodes: s.status?.nodes ?? [], conditions: s.status?.conditions };
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${name} did not finish:\n${controller.log()}`);
  }

  beforeAll(async () => {
    pki = makeTestPki();
    dir = mkdtempSync(join(tmpdir(), 'rewind-standalone-'));
    agents = [
      await startStandInAgent('node-1', { pki }),
      await startStandInAgent('node-2', { pki }),
    ];
    controller = await start('standalone-a');
  });

  afterAll(async () => {
    await controller?.kill('SIGTERM');
    for (const a of agents) await a.stop();
    rmSync(pki.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes a snapshot asked through the API, of both agents, and serves its archive', async () => {
    const created = await call('POST', '/v1/snapshots', { name: 'first', windowSeconds: 30 });
    expect(created.status).toBe(201);
    expect(created.json()).toEqual({ namespace: 'standalone', name: 'first' });
    const final = await waitFinal('first');
    if (final.phase !== 'Complete') throw new Error(JSON.stringify(final, null, 1));
    expect(final.nodes).toHaveLength(2);

    const download = await call('GET', '/v1/snapshots/standalone/first');
    expect(download.status).toBe(200);
    const out = mkdtempSync(join(dir, 'unpack-'));
    writeFileSync(join(out, 'a.tar.gz'), download.body);
    const tar = spawnSync('tar', ['-xzf', 'a.tar.gz'], { cwd: out, encoding: 'utf8' });
    expect(tar.status).toBe(0);
    const bt = spawnSync('babeltrace2', ['--fields=trace:hostname', join(out, 'first', 'trace')], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    expect(bt.stderr).toBe('');
    expect(bt.stdout).toMatch(/^\[[^\]]+\] \(\S+\) node-1 /m);
    expect(bt.stdout).toMatch(/^\[[^\]]+\] \(\S+\) node-2 /m);

    const agentsAnswer = await call('GET', '/v1/agents');
    expect(agentsAnswer.status).toBe(200);
    const list = (agentsAnswer.json() as { agents: { node: string }[] }).agents;
    expect(list.map((a) => a.node)).toEqual(['node-1', 'node-2']);
  });

  it('wants the token on every route, and refuses bad requests with one line', async () => {
    for (const [method, path] of [
      ['GET', '/v1/snapshots'],
      ['POST', '/v1/snapshots'],
      ['GET', '/v1/snapshots/standalone/first'],
      ['GET', '/v1/agents'],
      ['POST', '/v1/alerts'],
    ] as const) {
      expect((await call(method, path, undefined, null)).status).toBe(401);
      expect((await call(method, path, undefined, 'wrong')).status).toBe(401);
    }
    const bad = await call('POST', '/v1/snapshots', { target: { nodeNames: ['Not_A_Node'] } });
    expect(bad.status).toBe(400);
    expect((bad.json() as { error: string }).error).toMatch(/^invalid snapshot request: target/);
    const dup = await call('POST', '/v1/snapshots', { name: 'first' });
    expect(dup.status).toBe(409);
  });

  it('an alert makes a snapshot of the node it names', async () => {
    const alert = (node: string, fingerprint: string) => ({
      version: '4',
      groupKey: `{}:{alertname="Slow",node="${node}"}`,
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'rewind',
      groupLabels: { alertname: 'Slow' },
      commonLabels: { alertname: 'Slow', node },
      commonAnnotations: { summary: 'slow' },
      externalURL: 'http://alertmanager',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'Slow', node },
          annotations: {},
          startsAt: new Date().toISOString(),
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://prometheus',
          fingerprint,
        },
      ],
    });
    const r = await call('POST', '/v1/alerts', alert('node-2', 'f1'));
    expect(r.status).toBe(200);
    const created = (r.json() as { created: string[] }).created;
    expect(created).toHaveLength(1);
    const final = await waitFinal(created[0] as string);
    expect(final.phase).toBe('Complete');
    expect((final.nodes as { name: string }[]).map((n) => n.name)).toEqual(['node-2']);
  });

  it('exports metrics promtool accepts, counting what it did', async () => {
    const metrics = await controller.health('/metrics');
    expect(metrics?.status).toBe(200);
    const text = metrics?.body ?? '';
    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(promtool.stderr + promtool.stdout).toBe('');
    expect(promtool.status).toBe(0);
    expect(await controller.metric('rewind_controller_snapshots_total')).toBe(2);
    expect(text).toMatch(
      /^rewind_controller_snapshots_total\{trigger="manual",result="Complete"\} 1$/m,
    );
    expect(text).toMatch(
      /^rewind_controller_snapshots_total\{trigger="alert",result="Complete"\} 1$/m,
    );
    expect(await controller.metric('rewind_controller_alert_snapshots_created_total')).toBe(1);
    expect(await controller.metric('rewind_controller_leader')).toBe(1);
    expect(await controller.metric('rewind_controller_stored_bytes')).toBeGreaterThan(0);
    expect(text).toMatch(/^rewind_controller_clock_uncertainty_seconds\{node="node-1"\} \d/m);
  });

  it('keeps its snapshots across a restart', async () => {
    await controller.kill('SIGTERM');
    controller = await start('standalone-b');
    const list = await call('GET', '/v1/snapshots');
    const items = (
      list.json() as { items: { metadata: { name: string }; status: { phase: string } }[] }
    ).items;
    expect(items.find((s) => s.metadata.name === 'first')?.status.phase).toBe('Complete');
    expect((await call('GET', '/v1/snapshots/standalone/first')).status).toBe(200);
  });
});
