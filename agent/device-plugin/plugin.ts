/**
 * `rewind-agent device-plugin`: a kubelet device plugin that advertises `rewind.dev/recorder`
 * while `/dev/rewind` exists and, on Allocate, has the runtime put that node on the requesting
 * container's device cgroup list, so the agent runs with every capability dropped and still
 * opens the device (issue 9, "Device access").
 *
 * The thin I/O shell around devices.ts and advertiser.ts. Its life is one loop:
 *   bind <pluginDir>/rewind.sock (a stale one removed first) → Register on kubelet.sock → wait
 *   until the connection to the kubelet is lost → bind again if the socket is gone → Register …
 * A failed step is logged and retried with capped backoff, never fatal: the plugin outlives any
 * kubelet restart or absence. One poll timer drives everything that changes on disk: the device
 * node appearing or disappearing (a new list on every ListAndWatch stream), our socket being
 * deleted (what a restarting kubelet does to every socket in the folder) and kubelet.sock being
 * created anew (a new kubelet that must be told about us). Polling rather than fs.watch: each
 * check is level-triggered (it compares what is on disk with what the plugin last saw), so no
 * missed or coalesced event can leave the plugin out of date, and a watch on a file that is
 * deleted and recreated would have to be re-armed each time; three stats a second cost nothing.
 */
import {
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  status,
  type CallOptions,
  type ClientUnaryCall,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { existsSync, lstatSync, rmSync, statSync } from 'node:fs';
import { backoffDelay } from '../../common/backoff';
import { oneLine } from '../../common/errors';
import type { Lifecycle } from '../../common/lifecycle';
import { DeviceAdvertiser } from './advertiser';
import { allocate, deviceIds } from './devices';
import type {
  AllocateRequest,
  AllocateResponse,
  DevicePluginOptionsMessage,
  ListAndWatchResponse,
  RegisterRequest,
} from './messages';
import {
  checkPluginOptions,
  PLUGIN_SOCKET,
  type CheckedPluginOptions,
  type PluginOptionsInput,
} from './options';
import { API_VERSION, devicePluginApi, type DevicePluginApi } from './proto';

/** The part of a pino logger the plugin uses: one line per step. */
export interface PluginLog {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
}

/** One-shot timers; injected so tests decide when time passes. */
export interface Timers {
  /** Runs `fn` once after `ms`; the returned function cancels it. */
  after(ms: number, fn: () => void): () => void;
}

export const realTimers: Timers = {
  after(ms, fn) {
    // Not unref'd: between a lost kubelet and the next attempt, this timer is all that keeps
    // the device plugin process alive.
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

export interface DevicePluginOptions extends PluginOptionsInput {
  log: PluginLog;
  /** Whether the device node exists; `fs.existsSync` unless a test injects its own. */
  deviceExists?: (path: string) => boolean;
  timers?: Timers;
}

export interface DevicePluginStatus {
  registered: boolean;
  /** Whether the device node existed at the last look. */
  devicePresent: boolean;
  /** Successful registrations since start (more than one: the kubelet restarted). */
  registrations: number;
  /** Why the plugin is not registered, while it is not. */
  problem?: string;
}

export interface DevicePlugin {
  status(): DevicePluginStatus;
  /** Stops retrying, ends every stream, removes the socket. Idempotent. */
  stop(): Promise<void>;
}

/** Neither optional call is needed: Rewind's device needs no reset and has no topology. */
const PLUGIN_OPTIONS: DevicePluginOptionsMessage = {
  pre_start_required: false,
  get_preferred_allocation_available: false,
};

/** The readiness gate: open while the kubelet knows about this plugin. */
export const REGISTRATION_GATE = 'kubelet-registration';

/**
 * Starts the plugin: checks the options (throws one line on a bad one, before touching
 * anything), adds the `kubelet-registration` readiness gate to `lifecycle`, and runs the
 * bind/register loop in the background. Resolves at once; registration happens when it can.
 */
export async function startDevicePlugin(
  options: DevicePluginOptions,
  lifecycle: Lifecycle,
): Promise<DevicePlugin> {
  const runner = new DevicePluginRunner(
    checkPluginOptions(options),
    devicePluginApi(),
    options.log,
    options.deviceExists ?? existsSync,
    options.timers ?? realTimers,
  );
  lifecycle.gates.add(REGISTRATION_GATE, () => runner.notReadyReason());
  runner.start();
  return { status: () => runner.status(), stop: () => runner.stop() };
}

/**
 * What identifies one socket file: a deleted and recreated socket has another inode or at least
 * another ctime, even on a file system that reuses inode numbers. undefined: nothing there.
 */
function fileIdentity(path: string): string | undefined {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.ctimeNs}`;
  } catch {
    return undefined;
  }
}

function grpcFailure(e: unknown): string {
  const err = e as Partial<ServiceError>;
  if (typeof err.code === 'number' && typeof err.details === 'string') {
    return `${status[err.code] ?? err.code}: ${err.details}`;
  }
  return oneLine(e);
}

/** Never-set marker for "no registration attempted yet", distinct from "kubelet.sock absent". */
const NOT_TRIED = Symbol('not tried');

class DevicePluginRunner {
  private readonly ids: string[];
  private readonly advertiser: DeviceAdvertiser;
  private server: Server | undefined;
  /** Our socket as we bound it. */
  private socketIdentity: string | undefined;
  /** kubelet.sock as it was at the last registration attempt. */
  private kubeletIdentity: string | undefined | typeof NOT_TRIED = NOT_TRIED;
  private registered = false;
  private registrations = 0;
  private problem: string | undefined = 'not registered with the kubelet yet';
  private stopped = false;
  /** Ends the current wait early, with the reason. */
  private wake: ((reason: string | undefined) => void) | undefined;
  private cancelPoll: (() => void) | undefined;
  private inflight: ClientUnaryCall | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: CheckedPluginOptions,
    private readonly api: DevicePluginApi,
    private readonly log: PluginLog,
    private readonly deviceExists: (path: string) => boolean,
    private readonly timers: Timers,
  ) {
    this.ids = deviceIds(options.deviceCount);
    this.advertiser = new DeviceAdvertiser(this.ids);
  }

  start(): void {
    this.log.info(
      {
        pluginDir: this.options.pluginDir,
        resourceName: this.options.resourceName,
        devicePath: this.options.devicePath,
        watchPath: this.options.watchPath,
        devices: this.ids.length,
      },
      'device plugin starting',
    );
    this.refreshPresence();
    this.schedulePoll();
    this.running = this.run();
  }

  status(): DevicePluginStatus {
    return {
      registered: this.registered,
      devicePresent: this.advertiser.devicePresent === true,
      registrations: this.registrations,
      ...(this.registered ? {} : { problem: this.problem }),
    };
  }

  notReadyReason(): string | undefined {
    if (this.stopped) return 'stopping';
    return this.registered ? undefined : (this.problem ?? 'not registered with the kubelet');
  }

  async stop(): Promise<void> {
    if (this.stopped) return this.running;
    this.stopped = true;
    this.cancelPoll?.();
    this.inflight?.cancel();
    this.wake?.(undefined);
    await this.running;
    this.unbind();
    this.registered = false;
    this.log.info({}, 'device plugin stopped');
  }

  /** The loop: connect, wait for the connection to be lost, again; failures back off. */
  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let failure: string | undefined;
      try {
        await this.connect();
      } catch (e) {
        failure = oneLine(e);
      }
      if (this.stopped) break;
      if (failure === undefined) {
        failures = 0;
        const lost = await this.waitForChange(undefined);
        this.registered = false;
        if (lost !== undefined) {
          this.problem = lost;
          this.log.warn({ reason: lost }, 'kubelet connection lost; registering again');
        }
      } else {
        this.problem = failure;
        const retryInMs = backoffDelay(failures, this.options.backoff);
        failures += 1;
        this.log.warn(
          { reason: failure, attempt: failures, retryInMs },
          'registration with the kubelet failed; will retry',
        );
        const early = await this.waitForChange(retryInMs);
        if (early !== undefined) this.log.info({ reason: early }, 'retrying registration now');
      }
    }
  }

  private async connect(): Promise<void> {
    if (!this.ownsSocket()) await this.bind();
    if (this.stopped) throw new Error('stopping');
    await this.register();
    this.registered = true;
    this.registrations += 1;
    this.problem = undefined;
    this.log.info(
      {
        resourceName: this.options.resourceName,
        endpoint: PLUGIN_SOCKET,
        registrations: this.registrations,
      },
      'registered with the kubelet',
    );
  }

  private ownsSocket(): boolean {
    return (
      this.server !== undefined && fileIdentity(this.options.socketPath) === this.socketIdentity
    );
  }

  /** Serves the DevicePlugin service on a fresh socket; the kubelet must be able to dial it before Register. */
  private async bind(): Promise<void> {
    // A server whose socket was deleted serves nobody; its streams belong to a kubelet that is gone.
    this.unbind();
    const path = this.options.socketPath;
    let stale = false;
    try {
      lstatSync(path);
      stale = true;
    } catch {
      // nothing there: the usual case
    }
    if (stale) {
      try {
        rmSync(path, { force: true });
      } catch (e) {
        throw new Error(`cannot remove the stale socket ${path}: ${oneLine(e)}`);
      }
      this.log.info({ socket: path }, 'removed a stale device plugin socket');
    }
    const server = new Server();
    server.addService(this.api.DevicePlugin.service, this.handlers());
    try {
      await new Promise<void>((resolve, reject) =>
        server.bindAsync(`unix:${path}`, ServerCredentials.createInsecure(), (err) =>
          err ? reject(err) : resolve(),
        ),
      );
    } catch (e) {
      server.forceShutdown();
      throw new Error(`cannot bind ${path}: ${oneLine(e)}`);
    }
    this.server = server;
    this.socketIdentity = fileIdentity(path);
    this.log.info({ socket: path }, 'device plugin socket bound');
  }

  /**
   * Closes the server; every ListAndWatch stream ends with it. libuv unlinks the socket path as
   * it closes a listening unix socket, which is what stop() wants and harmless after a kubelet
   * restart (the path is already gone; bind() runs this before binding the new one).
   */
  private unbind(): void {
    this.server?.forceShutdown();
    this.server = undefined;
    this.socketIdentity = undefined;
  }

  private async register(): Promise<void> {
    const path = this.options.kubeletSocketPath;
    const kubelet = fileIdentity(path);
    this.kubeletIdentity = kubelet;
    if (kubelet === undefined) {
      throw new Error(`${path} does not exist (kubelet not running, or not its plugin folder)`);
    }
    const request: RegisterRequest = {
      version: API_VERSION,
      endpoint: PLUGIN_SOCKET,
      resource_name: this.options.resourceName,
      options: PLUGIN_OPTIONS,
    };
    this.log.info(
      { kubelet: path, resourceName: request.resource_name, endpoint: request.endpoint },
      'registering with the kubelet',
    );
    const client = new this.api.Registration(`unix:${path}`, credentials.createInsecure());
    const registerCall = client.Register as (
      request: RegisterRequest,
      metadata: Metadata,
      options: CallOptions,
      callback: (err: ServiceError | null) => void,
    ) => ClientUnaryCall;
    try {
      await new Promise<void>((resolve, reject) => {
        this.inflight = registerCall.call(
          client,
          request,
          new Metadata(),
          { deadline: Date.now() + this.options.registerTimeoutMs },
          (err) => (err ? reject(err) : resolve()),
        );
      });
    } catch (e) {
      throw new Error(`Register on ${path} failed: ${grpcFailure(e)}`);
    } finally {
      this.inflight = undefined;
      client.close();
    }
  }

  /**
   * Resolves with the reason as soon as the connection to the kubelet needs renewing (checked at
   * once and on every poll), or with undefined after `ms` (undefined: no limit) or on stop().
   */
  private waitForChange(ms: number | undefined): Promise<string | undefined> {
    return new Promise((resolve) => {
      let cancelTimer: (() => void) | undefined;
      const done = (reason: string | undefined): void => {
        cancelTimer?.();
        this.wake = undefined;
        resolve(reason);
      };
      if (this.stopped) return done(undefined);
      const now = this.changed();
      if (now !== undefined) return done(now);
      this.wake = done;
      if (ms !== undefined) cancelTimer = this.timers.after(ms, () => done(undefined));
    });
  }

  /** Why the connection to the kubelet must be renewed now, or undefined. */
  private changed(): string | undefined {
    const { socketPath, kubeletSocketPath } = this.options;
    if (this.server !== undefined && fileIdentity(socketPath) !== this.socketIdentity) {
      return `${socketPath} was removed or replaced (a kubelet restart deletes every socket)`;
    }
    if (this.kubeletIdentity === NOT_TRIED) return undefined;
    const kubelet = fileIdentity(kubeletSocketPath);
    if (kubelet === this.kubeletIdentity) return undefined;
    if (kubelet === undefined) return `${kubeletSocketPath} was removed (kubelet stopped)`;
    if (this.kubeletIdentity === undefined) return `${kubeletSocketPath} appeared`;
    return `${kubeletSocketPath} was created anew (kubelet restarted)`;
  }

  private schedulePoll(): void {
    this.cancelPoll = this.timers.after(this.options.pollMs, () => {
      if (this.stopped) return;
      this.refreshPresence();
      const reason = this.changed();
      if (reason !== undefined) this.wake?.(reason);
      this.schedulePoll();
    });
  }

  /** Looks at the device node; on a change, every ListAndWatch stream gets the new list. */
  private refreshPresence(): void {
    const present = this.deviceExists(this.options.watchPath);
    if (this.advertiser.update(present)) {
      this.log.info(
        { device: this.options.watchPath, present, devices: this.ids.length },
        present
          ? 'device node present: devices advertised Healthy'
          : 'device node absent: devices advertised Unhealthy',
      );
    }
  }

  private handlers(): UntypedServiceImplementation {
    return {
      GetDevicePluginOptions: (
        _call: ServerUnaryCall<unknown, DevicePluginOptionsMessage>,
        callback: sendUnaryData<DevicePluginOptionsMessage>,
      ) => callback(null, PLUGIN_OPTIONS),
      ListAndWatch: (call: ServerWritableStream<unknown, ListAndWatchResponse>) =>
        this.listAndWatch(call),
      GetPreferredAllocation: (
        _call: ServerUnaryCall<unknown, unknown>,
        callback: sendUnaryData<unknown>,
      ) =>
        callback({
          code: status.UNIMPLEMENTED,
          details: 'GetPreferredAllocation: not offered (get_preferred_allocation_available=false)',
        }),
      Allocate: (
        call: ServerUnaryCall<AllocateRequest, AllocateResponse>,
        callback: sendUnaryData<AllocateResponse>,
      ) => this.allocate(call.request, callback),
      PreStartContainer: (
        _call: ServerUnaryCall<unknown, object>,
        callback: sendUnaryData<object>,
      ) => callback(null, {}),
    };
  }

  private listAndWatch(call: ServerWritableStream<unknown, ListAndWatchResponse>): void {
    this.refreshPresence();
    this.advertiser.add(call);
    this.log.info({ streams: this.advertiser.streams }, 'ListAndWatch stream opened');
    let open = true;
    const closed = (): void => {
      if (!open) return;
      open = false;
      this.advertiser.remove(call);
      this.log.info({ streams: this.advertiser.streams }, 'ListAndWatch stream closed');
    };
    call.on('cancelled', closed);
    call.on('close', closed);
    call.on('error', closed);
  }

  private allocate(request: AllocateRequest, callback: sendUnaryData<AllocateResponse>): void {
    try {
      // A fresh look: the kubelet should not hand out a node that vanished since the last poll.
      this.refreshPresence();
      const result = allocate(request, {
        ids: this.ids,
        devicePath: this.options.devicePath,
        present: this.advertiser.devicePresent === true,
      });
      if (result.ok) {
        this.log.info(
          {
            containers: request.container_requests.map((c) => c.devices_ids),
            device: this.options.devicePath,
          },
          'allocated the device',
        );
        callback(null, result.response);
      } else {
        this.log.warn({ reason: result.refusal.message }, 'refused an allocation');
        callback({ code: status[result.refusal.code], details: result.refusal.message });
      }
    } catch (e) {
      // A handler that throws must not take the plugin down; the kubelet gets the reason.
      callback({ code: status.INTERNAL, details: `Allocate: ${oneLine(e)}` });
    }
  }
}
