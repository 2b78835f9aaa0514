// Rewind's device plugin (`rewind-agent device-plugin`) over real gRPC on real unix sockets.
//
// STAND-IN: the "kubelet" here is a registration server built from the same api.proto, listening
// on kubelet.sock in a temporary folder. It stands in for the kubelet because no kubelet can run
// on this machine yet (issue 15 brings one); it does what the kubelet's device manager does at
// the points the plugin depends on: inside Register it dials the plugin's endpoint and calls it
// (so a plugin that registers before binding fails), it opens ListAndWatch and calls Allocate,
// and on a "restart" it deletes every socket in the folder and binds a new kubelet.sock.
//
// The "device node" is a temporary regular file, not /dev/rewind: the plugin only checks that the
// path exists (the device itself is opened by the agent, not the plugin), and creating or
// removing a character device needs root and the module; a regular file lets the test make the
// node appear and disappear at will.
//
// Time: the plugin polls every 10 ms and retries after 20–80 ms of real time, and every test waits
// for an event (a Register call, a stream message, a log line), never for a duration; the one
// test about retry delays drives the timers by hand.
import {
  credentials,
  Server,
  ServerCredentials,
  status,
  type ClientReadableStream,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lifecycle } from '../../common/lifecycle';
import type {
  AllocateRequest,
  AllocateResponse,
  DevicePluginOptionsMessage,
  ListAndWatchResponse,
  RegisterRequest,
} from '../../agent/device-plugin/messages';
import {
  REGISTRATION_GATE,
  startDevicePlugin,
  type DevicePlugin,
  type DevicePluginOptions,
  type PluginLog,
  type Timers,
} from '../../agent/device-plugin/plugin';
import { devicePluginApi } from '../../agent/device-plugin/proto';

const api = devicePluginApi();

/** A client of either service, as the generated constructors make them. */
type ServiceClient = InstanceType<ServiceClientConstructor>;

/** Values pushed by callbacks, taken in order by tests; a take that never comes fails with `what`. */
class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((item: T) => void)[] = [];

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  get size(): number {
    return this.items.length;
  }

  take(what: string, timeoutMs = 10_000): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve, reject) => {
      // A deadline for a failure message, not a wait the test relies on to pass.
      const timer = setTimeout(
        () => reject(new Error(`no ${what} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push((value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
  }
}

interface LogEntry {
  level: 'info' | 'warn';
  msg: string;
  fields: Record<string, unknown>;
}

/** A PluginLog that keeps every line, so tests can wait for a step and read its fields. */
class RecordingLog implements PluginLog {
  readonly entries: LogEntry[] = [];
  private readonly watchers: { msg: string; seen: number; resolve: (e: LogEntry) => void }[] = [];

  info(fields: object, msg: string): void {
    this.add({ level: 'info', msg, fields: fields as Record<string, unknown> });
  }

  warn(fields: object, msg: string): void {
    this.add({ level: 'warn', msg, fields: fields as Record<string, unknown> });
  }

  /** Resolves with the n-th (1-based) line whose msg is `msg`. */
  nth(msg: string, n: number): Promise<LogEntry> {
    const matching = this.entries.filter((e) => e.msg === msg);
    if (matching.length >= n) return Promise.resolve(matching[n - 1]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`log line ${n} "${msg}" never came; got ${this.describe()}`)),
        10_000,
      );
      this.watchers.push({
        msg,
        seen: n - matching.length,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  messages(): string[] {
    return this.entries.map((e) => e.msg);
  }

  private describe(): string {
    return JSON.stringify(this.messages());
  }

  private add(entry: LogEntry): void {
    this.entries.push(entry);
    for (const w of [...this.watchers]) {
      if (w.msg !== entry.msg) continue;
      w.seen -= 1;
      if (w.seen === 0) {
        this.watchers.splice(this.watchers.indexOf(w), 1);
        w.resolve(entry);
      }
    }
  }
}

interface Registration {
  request: RegisterRequest;
  /** What the plugin answered when the stand-in dialled its endpoint inside Register. */
  optionsFromEndpoint: DevicePluginOptionsMessage | string;
}

/** Calls a unary method of a generated client and resolves with its answer or its error. */
function unary<Req, Res>(client: ServiceClient, method: string, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    const call = client[method] as (
      r: Req,
      options: { deadline: number },
      cb: (err: ServiceError | null, res: Res) => void,
    ) => void;
    call.call(client, request, { deadline: Date.now() + 5000 }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

/** The kubelet's registration side, as described in the header comment. */
class StandInKubelet {
  readonly registrations = new Inbox<Registration>();
  private server: Server | undefined;

  constructor(private readonly dir: string) {}

  get socket(): string {
    return join(this.dir, 'kubelet.sock');
  }

  async start(): Promise<void> {
    const server = new Server();
    server.addService(api.Registration.service, {
      Register: (
        call: ServerUnaryCall<RegisterRequest, object>,
        callback: sendUnaryData<object>,
      ) => {
        // Like the kubelet: dial the endpoint the plugin names and call it before answering.
        const plugin = pluginClient(this.dir, call.request.endpoint);
        unary<object, DevicePluginOptionsMessage>(plugin, 'GetDevicePluginOptions', {})
          .then(
            (options) => options,
            (err: ServiceError) => `${status[err.code]}: ${err.details}`,
          )
          .then((optionsFromEndpoint) => {
            plugin.close();
            this.registrations.push({ request: call.request, optionsFromEndpoint });
            if (typeof optionsFromEndpoint === 'string') {
              callback({ code: status.FAILED_PRECONDITION, details: optionsFromEndpoint });
            } else {
              callback(null, {});
            }
          });
      },
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${this.socket}`, ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    this.server = server;
  }

  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }

  /** What a kubelet restart does to the folder: every socket deleted, then a new kubelet.sock. */
  async restart(): Promise<void> {
    this.stop();
    for (const name of readdirSync(this.dir)) {
      const path = join(this.dir, name);
      if (statSync(path).isSocket()) rmSync(path);
    }
    await this.start();
  }
}

function pluginClient(dir: string, endpoint = 'rewind.sock'): ServiceClient {
  return new api.DevicePlugin(`unix:${join(dir, endpoint)}`, credentials.createInsecure());
}

/** Opens ListAndWatch; every message lands in the returned inbox as a health string, e.g. "HHH". */
function listAndWatch(client: ServiceClient): {
  lists: Inbox<string>;
  ended: Inbox<string>;
  call: ClientReadableStream<ListAndWatchResponse>;
} {
  const lists = new Inbox<string>();
  const ended = new Inbox<string>();
  const open = client.ListAndWatch as (req: object) => ClientReadableStream<ListAndWatchResponse>;
  const call = open.call(client, {});
  call.on('data', (m: ListAndWatchResponse) =>
    lists.push(m.devices.map((d) => `${d.ID}:${d.health}`).join(',')),
  );
  call.on('error', (e: ServiceError) => ended.push(status[e.code]));
  call.on('end', () => ended.push('end'));
  return { lists, ended, call };
}

function healthList(count: number, health: 'Healthy' | 'Unhealthy'): string {
  return Array.from({ length: count }, (_, i) => `rewind-${i}:${health}`).join(',');
}

describe('the device plugin against a stand-in kubelet', () => {
  let dir: string;
  let device: string;
  let kubelet: StandInKubelet;
  let log: RecordingLog;
  let lifecycle: Lifecycle;
  const running: DevicePlugin[] = [];
  const clients: ServiceClient[] = [];

  beforeEach(() => {
    // Short: a unix socket path must fit in 108 bytes.
    dir = mkdtempSync(join(tmpdir(), 'rwdp-'));
    device = join(dir, 'rewind-device');
    writeFileSync(device, '');
    kubelet = new StandInKubelet(dir);
    log = new RecordingLog();
    lifecycle = new Lifecycle({ drainMs: 0 });
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all(running.splice(0).map((p) => p.stop()));
    kubelet.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(extra: Partial<DevicePluginOptions> = {}): Promise<DevicePlugin> {
    const plugin = await startDevicePlugin(
      {
        pluginDir: dir,
        resourceName: 'rewind.dev/recorder',
        devicePath: '/dev/rewind',
        watchPath: device,
        deviceCount: 3,
        pollMs: 10,
        backoff: { initialMs: 20, maxMs: 80 },
        log,
        ...extra,
      },
      lifecycle,
    );
    running.push(plugin);
    return plugin;
  }

  function client(): ServiceClient {
    const c = pluginClient(dir);
    clients.push(c);
    return c;
  }

  it('binds its socket before it registers, and registers version, endpoint and resource', async () => {
    await kubelet.start();
    const plugin = await start();
    const registration = await kubelet.registrations.take('Register');
    expect(registration.request).toEqual({
      version: 'v1beta1',
      endpoint: 'rewind.sock',
      resource_name: 'rewind.dev/recorder',
      options: { pre_start_required: false, get_preferred_allocation_available: false },
    });
    // The stand-in reached the endpoint from inside Register: the socket was already served.
    expect(registration.optionsFromEndpoint).toEqual({
      pre_start_required: false,
      get_preferred_allocation_available: false,
    });
    await log.nth('registered with the kubelet', 1);
    expect(plugin.status()).toMatchObject({ registered: true, registrations: 1 });
    expect(lifecycle.gates.closed().map((g) => g.name)).not.toContain(REGISTRATION_GATE);
    const steps = log.messages();
    expect(steps.indexOf('device plugin socket bound')).toBeLessThan(
      steps.indexOf('registering with the kubelet'),
    );
  });

  it('replaces a stale socket left by a killed run', async () => {
    // A process that listened on rewind.sock and died by SIGKILL leaves the socket file behind.
    const path = join(dir, 'rewind.sock');
    const holder = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
    ]);
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('close', resolve));
    expect(statSync(path).isSocket()).toBe(true);

    await kubelet.start();
    await start();
    const registration = await kubelet.registrations.take('Register');
    expect(typeof registration.optionsFromEndpoint).toBe('object');
    expect(log.messages()).toContain('removed a stale device plugin socket');
  });

  it('lists N healthy devices while the node exists and follows its removal and return', async () => {
    await kubelet.start();
    await start();
    await kubelet.registrations.take('Register');
    const { lists, ended } = listAndWatch(client());
    expect(await lists.take('first list')).toBe(healthList(3, 'Healthy'));
    rmSync(device);
    expect(await lists.take('list after removal')).toBe(healthList(3, 'Unhealthy'));
    writeFileSync(device, '');
    expect(await lists.take('list after return')).toBe(healthList(3, 'Healthy'));
    // Only changes are sent, and the stream is still open.
    expect(lists.size).toBe(0);
    expect(ended.size).toBe(0);
  });

  it('starts with the node absent: all devices Unhealthy, then Healthy when it appears', async () => {
    rmSync(device);
    await kubelet.start();
    const plugin = await start();
    await kubelet.registrations.take('Register');
    const { lists } = listAndWatch(client());
    expect(await lists.take('first list')).toBe(healthList(3, 'Unhealthy'));
    expect(plugin.status().devicePresent).toBe(false);
    writeFileSync(device, '');
    expect(await lists.take('list after appearing')).toBe(healthList(3, 'Healthy'));
  });

  it('answers Allocate with /dev/rewind read-write for each container request', async () => {
    await kubelet.start();
    await start();
    await kubelet.registrations.take('Register');
    const request: AllocateRequest = {
      container_requests: [
        { devices_ids: ['rewind-0'] },
        { devices_ids: ['rewind-1', 'rewind-2'] },
      ],
    };
    const response = await unary<AllocateRequest, AllocateResponse>(client(), 'Allocate', request);
    const spec = { container_path: '/dev/rewind', host_path: '/dev/rewind', permissions: 'rw' };
    expect(response.container_responses).toHaveLength(2);
    for (const container of response.container_responses) {
      expect(container.devices).toEqual([spec]);
    }
  });

  it('refuses an unknown device id with a gRPC error and keeps serving', async () => {
    await kubelet.start();
    await start();
    await kubelet.registrations.take('Register');
    const c = client();
    const refused = await unary(c, 'Allocate', {
      container_requests: [{ devices_ids: ['nvidia-0'] }],
    }).catch((e: ServiceError) => e);
    expect((refused as ServiceError).code).toBe(status.INVALID_ARGUMENT);
    expect((refused as ServiceError).details).toContain('"nvidia-0"');
    // Still alive: the same connection gets a good answer next.
    const ok = await unary<AllocateRequest, AllocateResponse>(c, 'Allocate', {
      container_requests: [{ devices_ids: ['rewind-2'] }],
    });
    expect(ok.container_responses[0].devices[0].host_path).toBe('/dev/rewind');
  });

  it('refuses Allocate while the node is absent, with the reason', async () => {
    await kubelet.start();
    await start();
    await kubelet.registrations.take('Register');
    rmSync(device);
    const refused = await unary(client(), 'Allocate', {
      container_requests: [{ devices_ids: ['rewind-0'] }],
    }).catch((e: ServiceError) => e);
    expect((refused as ServiceError).code).toBe(status.FAILED_PRECONDITION);
    expect((refused as ServiceError).details).toContain('/dev/rewind does not exist');
  });

  it('registers again, on a new socket, when the kubelet restarts', async () => {
    await kubelet.start();
    const plugin = await start();
    await kubelet.registrations.take('first Register');
    const before = listAndWatch(client());
    expect(await before.lists.take('first list')).toBe(healthList(3, 'Healthy'));

    await kubelet.restart();
    const again = await kubelet.registrations.take('Register after the restart');
    expect(again.request.endpoint).toBe('rewind.sock');
    expect(typeof again.optionsFromEndpoint).toBe('object');
    await log.nth('registered with the kubelet', 2);
    expect(plugin.status()).toMatchObject({ registered: true, registrations: 2 });
    // The old stream ended with the old socket; the new socket serves a new one.
    expect(await before.ended.take('end of the old stream')).toMatch(/UNAVAILABLE|CANCELLED|end/);
    const after = listAndWatch(client());
    expect(await after.lists.take('list on the new socket')).toBe(healthList(3, 'Healthy'));
    const lost = await log.nth('kubelet connection lost; registering again', 1);
    expect(String(lost.fields.reason)).toContain('rewind.sock');
  });

  it('retries while kubelet.sock is absent, never giving up, and registers when it appears', async () => {
    const plugin = await start();
    const first = await log.nth('registration with the kubelet failed; will retry', 1);
    const second = await log.nth('registration with the kubelet failed; will retry', 2);
    expect(String(first.fields.reason)).toContain('kubelet.sock does not exist');
    expect(first.fields.retryInMs).toBe(20);
    expect(second.fields.retryInMs).toBe(40);
    expect(plugin.status()).toMatchObject({ registered: false });
    expect(lifecycle.gates.describe()).toContain(`${REGISTRATION_GATE}: `);
    expect(lifecycle.gates.describe()).toContain('kubelet.sock does not exist');

    await kubelet.start();
    const registration = await kubelet.registrations.take('Register once kubelet.sock exists');
    expect(registration.request.resource_name).toBe('rewind.dev/recorder');
    await log.nth('registered with the kubelet', 1);
    expect(plugin.status().registered).toBe(true);
    expect(lifecycle.gates.ready()).toBe(false); // only the lifecycle's own startup gate is left
    expect(lifecycle.gates.closed().map((g) => g.name)).toEqual(['startup']);
  });

  it('stop() ends streams, removes its socket and stops retrying', async () => {
    await kubelet.start();
    const plugin = await start();
    await kubelet.registrations.take('Register');
    const { lists, ended } = listAndWatch(client());
    await lists.take('first list');
    await plugin.stop();
    expect(await ended.take('end of the stream')).toMatch(/UNAVAILABLE|CANCELLED|end/);
    expect(readdirSync(dir)).not.toContain('rewind.sock');
    expect(lifecycle.gates.describe()).toContain(`${REGISTRATION_GATE}: stopping`);
    expect(log.messages()).toContain('device plugin stopped');
  });
});

describe('registration retries, with the timers driven by hand', () => {
  /** Timers that fire only when the test says so. */
  class ManualTimers implements Timers {
    readonly pending: { ms: number; fn: () => void }[] = [];
    after(ms: number, fn: () => void): () => void {
      const entry = { ms, fn };
      this.pending.push(entry);
      return () => {
        const i = this.pending.indexOf(entry);
        if (i >= 0) this.pending.splice(i, 1);
      };
    }
    /** Fires the pending timer of `ms`; it must exist. */
    fire(ms: number): void {
      const i = this.pending.findIndex((t) => t.ms === ms);
      if (i < 0) throw new Error(`no pending ${ms} ms timer: ${JSON.stringify(this.pending)}`);
      const [entry] = this.pending.splice(i, 1);
      entry.fn();
    }
  }

  it('backs off 100, 200, 400, 400 ms and registers as soon as a poll sees kubelet.sock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rwdp-'));
    const timers = new ManualTimers();
    const log = new RecordingLog();
    const kubelet = new StandInKubelet(dir);
    let present = true;
    const plugin = await startDevicePlugin(
      {
        pluginDir: dir,
        resourceName: 'rewind.dev/recorder',
        devicePath: '/dev/rewind',
        deviceCount: 2,
        pollMs: 1000,
        backoff: { initialMs: 100, maxMs: 400 },
        log,
        timers,
        deviceExists: () => present,
      },
      new Lifecycle({ drainMs: 0 }),
    );
    try {
      const failed = 'registration with the kubelet failed; will retry';
      const delays: unknown[] = [];
      for (let n = 1; n <= 4; n += 1) {
        const entry = await log.nth(failed, n);
        delays.push(entry.fields.retryInMs);
        if (n < 4) timers.fire(entry.fields.retryInMs as number);
      }
      expect(delays).toEqual([100, 200, 400, 400]);

      // The kubelet comes up; the backoff timer (400 ms) is not fired, only the poll.
      await kubelet.start();
      present = false;
      timers.fire(1000);
      expect((await log.nth('retrying registration now', 1)).fields.reason).toContain(
        'kubelet.sock appeared',
      );
      await kubelet.registrations.take('Register');
      await log.nth('registered with the kubelet', 1);
      // The same poll saw the injected device check flip.
      expect(plugin.status()).toMatchObject({ registered: true, devicePresent: false });
      expect(timers.pending.map((t) => t.ms)).toEqual([1000]);
      // Stopped, nothing is left scheduled: no poll, no retry can ever run again.
      await plugin.stop();
      expect(timers.pending).toEqual([]);
    } finally {
      await plugin.stop();
      kubelet.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
