/**
 * The recorder as the agent holds it (I/O shell over recorder-plan.ts): opens /dev/rewind,
 * attaches to running rings or starts them, and keeps them recording. It never exits the process:
 * a missing device (module not loaded yet), a refused open or a module of another ABI is a state
 * with a reason, retried with capped backoff; a recorder someone stopped by hand is started again.
 * Closing the device (the agent stopping) leaves the rings recording.
 */
import type { Logger } from 'pino';
import { backoffDelay } from '../common/backoff';
import {
  nativeConstants,
  RewindError,
  type CpuStats,
  type DeviceConfig,
  type DeviceInfo,
  type SnapshotResult,
} from '../native';
import { DEVICE_STATE, planRecorder, type RingSettings } from './recorder-plan';

/** What the recorder uses of RewindDevice (tests pass their own). */
export interface RecorderDevice {
  readonly abiVersion: number;
  readonly formatVersion: number;
  info(): DeviceInfo;
  allStats(): CpuStats[];
  configure(config: DeviceConfig): void;
  start(): void;
  stop(): void;
  snapshot(
    dir: string,
    options: { statedump?: boolean; remeasure?: boolean },
  ): Promise<SnapshotResult>;
  close(): void;
}

export interface RecorderIo {
  open(path: string): RecorderDevice;
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

export type RecorderStateName =
  'starting' | 'recording' | 'no-device' | 'no-access' | 'abi-mismatch' | 'device-error';

export interface RecorderState {
  state: RecorderStateName;
  /** Why, in words a person can act on ('' while recording as configured). */
  detail: string;
  /** Settings of the running rings that differ from the configured ones (kept, not applied). */
  differences: string[];
}

export interface RecorderOptions {
  devicePath: string;
  ring: RingSettings;
  /** Written into the trace's metadata (the module keeps at most 63 bytes: else the kernel's). */
  hostname: string;
  reconfigure: boolean;
  /** Cap of the retry backoff and period of the recording check. */
  retryMaxMs?: number;
  checkEveryMs?: number;
}

export const RECORDER_STATES: readonly RecorderStateName[] = [
  'starting',
  'recording',
  'no-device',
  'no-access',
  'abi-mismatch',
  'device-error',
];

/** A failure to open or drive the device as a state and a reason. */
export function stateOfError(e: unknown, devicePath: string): RecorderState {
  const code = e instanceof RewindError ? e.code : undefined;
  const message = e instanceof Error ? e.message : String(e);
  const at = (state: RecorderStateName, detail: string): RecorderState => ({
    state,
    detail,
    differences: [],
  });
  switch (code) {
    case 'ENOENT':
    case 'ENODEV':
    case 'ENXIO':
      return at(
        'no-device',
        `${devicePath} does not exist: the module is not loaded (see the loader's /healthz: ` +
          '`rewind-agent load-module`)',
      );
    case 'EACCES':
    case 'EPERM':
      return at(
        'no-access',
        `${devicePath} cannot be opened (${code}): the container needs the device — ` +
          'a device plugin resource, or deviceAccess: privileged',
      );
    case 'ERR_REWIND_ABI':
      return at('abi-mismatch', message);
    default:
      return at('device-error', message);
  }
}

export class Recorder {
  private device: RecorderDevice | undefined;
  private current: RecorderState = { state: 'starting', detail: 'starting', differences: [] };
  private timer: { cancel(): void } | undefined;
  private failures = 0;
  private stopped = false;
  private lastStats: CpuStats[] = [];
  private info: DeviceInfo | undefined;
  private readonly retryMaxMs: number;
  private readonly checkEveryMs: number;

  constructor(
    private readonly options: RecorderOptions,
    private readonly log: Logger,
    private readonly io: RecorderIo,
  ) {
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.checkEveryMs = options.checkEveryMs ?? 10_000;
  }

  get state(): RecorderState {
    return this.current;
  }

  get recording(): boolean {
    return this.current.state === 'recording';
  }

  /** The running rings' description (undefined until the device was opened). */
  get deviceInfo(): DeviceInfo | undefined {
    return this.info;
  }

  get versions(): { abi: number; format: number } | undefined {
    return this.device && { abi: this.device.abiVersion, format: this.device.formatVersion };
  }

  /** Tries at once, then keeps the recorder recording until stop(). */
  start(): void {
    this.attempt();
  }

  /** Stops retrying and closes the device; the rings keep recording. */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.closeDevice();
  }

  /**
   * Every CPU's statistics: read from the module (microseconds, one ioctl per CPU), or the last
   * ones read while a snapshot owns the device (EBUSY) — a scrape never waits for a snapshot.
   */
  stats(): CpuStats[] {
    if (!this.device) return [];
    try {
      this.lastStats = this.device.allStats();
    } catch (e) {
      if (!(e instanceof RewindError && e.code === 'EBUSY')) this.fail(e);
    }
    return this.lastStats;
  }

  /** A snapshot of every CPU (statedump, flush, remeasured clock offset) into dir. */
  async snapshot(dir: string): Promise<SnapshotResult> {
    if (!this.device || !this.recording)
      throw new Error(`not recording: ${this.current.state}: ${this.current.detail}`);
    return this.device.snapshot(dir, { statedump: true, remeasure: true });
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer?.cancel();
    this.timer = this.io.setTimeout(() => this.attempt(), ms);
  }

  private closeDevice(): void {
    try {
      this.device?.close();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'closing the device failed');
    }
    this.device = undefined;
  }

  private fail(e: unknown): void {
    const next = stateOfError(e, this.options.devicePath);
    if (next.state !== this.current.state || next.detail !== this.current.detail)
      this.log.warn({ state: next.state }, `recorder not recording: ${next.detail}`);
    this.current = next;
    this.closeDevice();
    this.failures++;
    this.schedule(backoffDelay(this.failures - 1, { initialMs: 1000, maxMs: this.retryMaxMs }));
  }

  private attempt(): void {
    if (this.stopped) return;
    try {
      this.device ??= this.io.open(this.options.devicePath);
      const info = this.device.info();
      this.info = info;
      if (this.recording && info.state === DEVICE_STATE.tracing) {
        this.schedule(this.checkEveryMs);
        return;
      }
      if (this.recording) this.log.warn('the recorder was stopped by someone: starting it again');
      this.apply(info);
      this.info = this.device.info();
      this.failures = 0;
      this.schedule(this.checkEveryMs);
    } catch (e) {
      this.fail(e);
    }
  }

  private deviceConfig(): DeviceConfig {
    const { hostnameMaxBytes } = nativeConstants();
    const fits = Buffer.byteLength(this.options.hostname, 'utf8') <= hostnameMaxBytes;
    const { ring } = this.options;
    return {
      subbufSize: ring.subbufBytes,
      numSubbufs: ring.subbufs,
      mode: ring.mode,
      probes: ring.probes === 'all' ? 'all' : [...ring.probes],
      hostname: fits ? this.options.hostname : '',
    };
  }

  private apply(info: DeviceInfo): void {
    const device = this.device as RecorderDevice;
    const plan = planRecorder(
      info,
      this.options.ring,
      nativeConstants().probesAll,
      this.options.reconfigure,
    );
    let differences: string[] = [];
    switch (plan.action) {
      case 'configure-and-start':
        device.configure(this.deviceConfig());
        device.start();
        this.log.info(this.options.ring, 'recorder configured and started');
        break;
      case 'start':
        device.start();
        this.log.info('recorder started on the rings already configured (their history kept)');
        break;
      case 'attach':
        this.log.info('attached to the running recorder: its history is kept');
        break;
      case 'keep':
        if (!plan.tracing) device.start();
        differences = plan.differences;
        this.log.warn(
          { differences },
          'the running recorder differs from the configured rings; kept as it is (its history ' +
            'is kept): set --ring-reconfigure / REWIND_RING_RECONFIGURE=true to apply them, ' +
            'which drops the history',
        );
        break;
      case 'reconfigure':
        if (info.state === DEVICE_STATE.tracing) device.stop();
        device.configure(this.deviceConfig());
        device.start();
        this.log.warn(
          { differences: plan.differences },
          'recorder reconfigured as asked: its earlier history was dropped',
        );
        break;
    }
    this.current = { state: 'recording', detail: '', differences };
  }
}
