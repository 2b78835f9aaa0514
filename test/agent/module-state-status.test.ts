// The agent's side of the loader's state file (agent/module-state.ts) and GET /v1/status with it:
// real files read (missing, corrupt, too large, a folder, good), a reading reused for a second
// on an injected clock, and the real `rewind-agent serve` over mutual TLS showing `moduleLoader`
// beside the module's versions. The device is the STAND-IN of standin-device.ts (this host cannot
// load the module); the loader's side is the real ModuleStateWriter.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ModuleStateReader, readStateFile } from '../../agent/module-state';
import { failed, loaded } from '../../agent/module/policy';
import { buildStatus } from '../../agent/status';
import { ModuleStateWriter } from '../../agent/module/state-writer';
import type { ModuleLoaderStatus, StateFileRead } from '../../agent/module/state-file';
import { agentRequest } from './agent-client';
import { startStandInAgent, type StandInAgent } from './standin-device';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const folder = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'rwd-state-read-'));
  dirs.push(d);
  return d;
};

const silent = pino({ level: 'silent' });
const writerFor = (path: string, now = () => Date.now()) =>
  new ModuleStateWriter({ path, log: silent, kernelRelease: release(), now });

describe('reading the state file', () => {
  it('a missing file, a folder, a file too large, a good one', async () => {
    const dir = folder();
    expect(await readStateFile(join(dir, 'none.json'))).toEqual({ kind: 'absent' });
    expect(await readStateFile(dir)).toMatchObject({
      kind: 'error',
      why: expect.stringMatching(/EISDIR/),
    });
    writeFileSync(join(dir, 'big.json'), 'x'.repeat(101));
    expect(await readStateFile(join(dir, 'big.json'), 100)).toEqual({
      kind: 'error',
      why: 'larger than 100 bytes',
    });
    writeFileSync(join(dir, 'fits.json'), 'x'.repeat(100));
    expect(await readStateFile(join(dir, 'fits.json'), 100)).toEqual({
      kind: 'text',
      text: 'x'.repeat(100),
    });
    const path = join(dir, 'state.json');
    await writerFor(path).publish(failed('lockdown', 'the kernel is locked down'));
    const read = await readStateFile(path);
    expect(read.kind).toBe('text');
  });

  it('reads at most once per second, and requests during a read share it', async () => {
    let now = 0;
    let reads = 0;
    let text = '{';
    const reader = new ModuleStateReader({
      path: '/state.json',
      kernelRelease: release(),
      now: () => now,
      read: async (): Promise<StateFileRead> => {
        reads++;
        await new Promise((r) => setImmediate(r));
        return { kind: 'text', text };
      },
    });
    const [a, b] = await Promise.all([reader.current(), reader.current()]);
    expect(reads).toBe(1);
    expect(a).toBe(b);
    expect(a.state).toBe('unknown');
    text = JSON.stringify({
      state: 'loaded',
      reason: null,
      detail: 'rewind already loaded, ABI 1, format 1',
      kernelRelease: release(),
      since: '2025-01-01T00:00:00.000Z',
      pid: 1,
    });
    now = 999;
    expect((await reader.current()).state).toBe('unknown');
    expect(reads).toBe(1);
    now = 1000;
    expect((await reader.current()).state).toBe('loaded');
    expect(reads).toBe(2);
  });

  it('a read that throws is unknown with why, never a rejection', async () => {
    const reader = new ModuleStateReader({
      path: '/state.json',
      kernelRelease: release(),
      now: () => 0,
      read: () => Promise.reject(new Error('EIO: i/o error, read')),
    });
    await expect(reader.current()).resolves.toMatchObject({
      state: 'unknown',
      detail: 'cannot read the loader state at /state.json: EIO: i/o error, read',
    });
  });
});

describe('buildStatus', () => {
  it("carries the loader's state beside the module's versions, unchanged", () => {
    const moduleLoader: ModuleLoaderStatus = {
      state: 'degraded',
      reason: 'release-not-allowed',
      detail: 'kernel 6.1.0-27-amd64 is not in the allowed releases (6.12.*); add it',
      since: '2025-01-01T00:00:00.000Z',
    };
    const s = buildStatus({
      node: 'n',
      agentVersion: '0.1.0',
      kernelRelease: '6.1.0-27-amd64',
      recorder: { state: 'no-device', detail: '/dev/rewind does not exist', differences: [] },
      moduleLoader,
      info: undefined,
      versions: undefined,
      stats: [],
      refusalCounters: [],
      monotonicNow: 0n,
      snapshotInFlight: false,
    });
    expect(s.moduleLoader).toEqual(moduleLoader);
    expect(s.module).toBeNull();
    expect(s.recorder.state).toBe('no-device');
  });
});

describe('GET /v1/status with the loader state (the real serve, stand-in device)', () => {
  let agent: StandInAgent;
  let elapsed = 0;
  beforeAll(async () => {
    const dir = folder();
    mkdirSync(join(dir, 'module'));
    agent = await startStandInAgent('node-s', {
      moduleStateFile: join(dir, 'module', 'state.json'),
      elapsedMs: () => elapsed,
    });
  });
  afterAll(() => agent.stop());

  const status = async () => {
    const r = await agentRequest({
      port: agent.apiPort,
      ca: agent.pki.caPem,
      client: agent.pki.controller,
      path: '/v1/status',
    });
    expect(r.status).toBe(200);
    return JSON.parse(r.body.toString()) as {
      moduleLoader: ModuleLoaderStatus;
      module: { abiVersion: number; formatVersion: number } | null;
    };
  };

  it('no file yet: unknown, naming the path', async () => {
    const s = await status();
    expect(s.moduleLoader).toEqual({
      state: 'unknown',
      reason: null,
      detail: expect.stringMatching(`^no loader state at ${agent.moduleStateFile} \\(`),
      since: null,
    });
    expect(s.module).toEqual({
      abiVersion: agent.device.abiVersion,
      formatVersion: expect.any(Number),
    });
  });

  it("the loader's degraded state and reason, read again after a second", async () => {
    const writer = writerFor(agent.moduleStateFile, () => Date.parse('2025-02-02T02:02:02Z'));
    const refused = failed(
      'release-not-allowed',
      `kernel ${release()} is not in the allowed releases (9.9.*); add it to load the module on this node`,
    );
    await writer.publish(refused);
    // The last reading is reused for a second.
    expect((await status()).moduleLoader.state).toBe('unknown');
    elapsed += 1000;
    expect((await status()).moduleLoader).toEqual({
      state: 'degraded',
      reason: 'release-not-allowed',
      detail: refused.detail,
      since: '2025-02-02T02:02:02.000Z',
    });

    await writer.publish(loaded('rewind inserted from /app/modules/x/rewind.ko, ABI 1, format 1'));
    elapsed += 1000;
    expect((await status()).moduleLoader).toMatchObject({ state: 'loaded', reason: null });

    writeFileSync(agent.moduleStateFile, '{"state":');
    elapsed += 1000;
    expect((await status()).moduleLoader).toMatchObject({
      state: 'unknown',
      detail: expect.stringMatching(/is corrupt: not JSON: /),
    });
  });
});
