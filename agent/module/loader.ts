/**
 * `rewind-agent load-module`: the long-running process that gets rewind.ko in place and stays up
 * whatever happens. It goes down the ladder (ladder.ts); on a failure it says why on /healthz
 * (200, `degraded: <reason> (<what to do>)`), counts it, and tries again with capped exponential
 * backoff; once loaded it re-checks cheaply that the module is still there and still the right
 * one. It never opens /dev/rewind (its container may not) and never exits on a load failure
 * (ANCHORS.md, Falco: a crash-looping loader tells nobody anything). Every change of its state is
 * also written to the state file (state-writer.ts), where the agent in its other pod reads it.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { healthApp, type Health, type Lifecycle } from '../../common/lifecycle';
import { healthDetail, retryDelayMs } from './decisions';
import { systemIo, type ModuleIo } from './io';
import { checkLoaded, loadModuleOnce, MODULE_NAME } from './ladder';
import { moduleMetrics, type ModuleMetrics } from './metrics';
import type { LoadOutcome, ModulePolicy } from './policy';
import { ModuleStateWriter } from './state-writer';

/** How often a loaded module is checked for (a stat and three small reads). */
export const RECHECK_MS = 30_000;

/** The timer the loader waits with; tests drive their own. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface ModuleLoaderOptions {
  port: number;
  bind: string;
  log: Logger;
  registry: Registry;
  /** The system by default. */
  io?: ModuleIo;
  timers?: Timers;
  recheckMs?: number;
  /** Where to write the state for the agent (state-file.ts); none when undefined. */
  stateFile?: string;
}

const PENDING: LoadOutcome = {
  state: 'pending',
  reason: undefined,
  detail: 'the first attempt is running',
};

export class ModuleLoader {
  private current: LoadOutcome = PENDING;
  /** Failed attempts in a row: the backoff's exponent. */
  private failures = 0;
  private timer: unknown;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly policy: ModulePolicy,
    private readonly io: ModuleIo,
    private readonly log: Logger,
    private readonly metrics: ModuleMetrics,
    private readonly timers: Timers,
    private readonly recheckMs: number,
    /** Whether the process is shutting down (no attempt starts then). */
    private readonly stopping: () => boolean = () => false,
    /** Publishes each state to the agent's state file, when there is one. */
    private readonly state?: ModuleStateWriter,
  ) {}

  get outcome(): LoadOutcome {
    return this.current;
  }

  /** What /healthz answers: alive always (a failure is reported, never restarted away). */
  health(): Health {
    return { alive: true, detail: healthDetail(this.current) };
  }

  /** Starts the first attempt; the next ones follow on their own. */
  start(): void {
    this.run(async () => {
      // `pending` first: a build on the spot takes minutes, and the file may hold a previous
      // loader's state.
      await this.state?.publish(this.current);
      await this.attempt();
    });
  }

  /** Resolves when the attempt or re-check in progress (if any) has finished. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Stops retrying and re-checking, waits for an attempt in progress (a build is not left half
   * published), and with `unloadOnExit` removes the module; the kernel refuses while the agent
   * holds the device, which is logged, not an error.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.settled();
    if (!this.policy.unloadOnExit || this.current.state !== 'loaded') return;
    const r = await this.io.run('rmmod', [MODULE_NAME]);
    if (r.code === 0) {
      this.log.info({ step: 'unload' }, 'unload: rmmod rewind: removed');
      // No loader and no module: the agent says it does not know, not `loaded`.
      await this.state?.remove();
    } else
      this.log.warn(
        { step: 'unload' },
        `unload: rmmod rewind refused (${r.output.trim() || `exit ${r.code}`}): the agent may still hold /dev/rewind; the module stays`,
      );
  }

  private run(task: () => Promise<void>): void {
    this.timer = undefined;
    if (this.stopped || this.stopping()) return;
    const p = task().finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
  }

  private schedule(ms: number, task: () => Promise<void>): void {
    if (this.stopped || this.stopping()) return;
    this.timer = this.timers.setTimeout(() => this.run(task), ms);
  }

  private async attempt(): Promise<void> {
    const outcome = await loadModuleOnce(this.policy, this.io, this.log);
    this.current = outcome;
    this.metrics.record(outcome, true);
    await this.state?.publish(outcome);
    if (outcome.state === 'loaded') {
      this.failures = 0;
      this.schedule(this.recheckMs, () => this.recheck());
      return;
    }
    this.failures++;
    const delay = retryDelayMs(this.failures, this.policy.retryMaxSeconds);
    this.log.warn(
      { state: outcome.state, failures: this.failures, retryInSeconds: delay / 1000 },
      `${healthDetail(outcome)}; next attempt in ${delay / 1000} s`,
    );
    this.schedule(delay, () => this.attempt());
  }

  private async recheck(): Promise<void> {
    const now = await checkLoaded(this.io).catch(() => undefined);
    if (now?.state === 'loaded') {
      this.schedule(this.recheckMs, () => this.recheck());
      return;
    }
    this.log.warn(
      { state: now?.state ?? 'absent' },
      now ? `the loaded module changed: ${now.detail}` : 'rewind was removed; loading it again',
    );
    await this.attempt();
  }
}

/**
 * Serves /healthz, /readyz (ready once the module is loaded) and /metrics on port/bind, and starts
 * the ladder in the background: /healthz answers `pending` during a first attempt that builds.
 * Returns the loader; its `stop()` belongs in the shutdown sequence (it is also checked before
 * every attempt through `lifecycle.stopping`).
 */
export async function startModuleLoader(
  policy: ModulePolicy,
  lifecycle: Lifecycle,
  opts: ModuleLoaderOptions,
): Promise<ModuleLoader> {
  const io = opts.io ?? systemIo();
  const loader = new ModuleLoader(
    policy,
    io,
    opts.log,
    moduleMetrics(opts.registry),
    opts.timers ?? realTimers,
    opts.recheckMs ?? RECHECK_MS,
    () => lifecycle.stopping,
    opts.stateFile === undefined
      ? undefined
      : new ModuleStateWriter({
          path: opts.stateFile,
          log: opts.log,
          kernelRelease: io.release(),
          now: () => io.now(),
        }),
  );
  lifecycle.gates.add('module', () =>
    loader.outcome.state === 'loaded' ? undefined : healthDetail(loader.outcome),
  );
  await lifecycle.serve(
    'health',
    healthApp(opts.registry, lifecycle.gates, () => loader.health()),
    opts.port,
    opts.bind,
  );
  loader.start();
  return loader;
}
