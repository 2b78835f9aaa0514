/**
 * A Rewind process's life: readiness gates, the servers it runs, and one SIGTERM sequence over
 * all of them (fail readiness, drain, close every server, resolve). `runMain` is the process's
 * entry: it parses the configuration, starts the process and, on any startup failure, prints
 * `<name>: <one line>` and exits 1. Thin I/O: what the servers serve and when the process is
 * ready are given by the caller; the sleep and the process's exit, stderr and signals are
 * injected for tests.
 */
import express, { type Express } from 'express';
import { createServer, type RequestListener, type Server } from 'node:http';
import {
  createServer as createTlsServer,
  type ServerOptions as TlsServerOptions,
} from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { oneLine } from './errors';
import { formatAddress, listen } from './listen';
import { ReadinessGates } from './readiness';

export interface LifecycleOptions {
  /** Time between failing readiness and closing the servers on shutdown. */
  drainMs: number;
  /**
   * How long closing waits for requests in flight (a snapshot streaming out) before it cuts
   * their connections, so the process exits within its grace period.
   */
  closeTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export class Lifecycle {
  /** Readiness: a gate per condition. `startup` is open once `runMain` has started everything. */
  readonly gates = new ReadinessGates();
  private readonly servers: { name: string; server: Server; address: AddressInfo }[] = [];
  private readonly sleep: (ms: number) => Promise<void>;
  private stopped: Promise<void> | undefined;
  private readonly stopHooks: (() => void | Promise<void>)[] = [];

  constructor(private readonly options: LifecycleOptions) {
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.gates.add('startup', () => 'starting');
  }

  /**
   * Serves `handler` on host:port under `name` (over TLS when `tls` is given); resolves with the
   * bound address, rejects with a one-line ListenError. Every server is closed by `shutdown()`.
   */
  async serve(
    name: string,
    handler: RequestListener,
    port: number,
    host: string,
    tls?: TlsServerOptions,
  ): Promise<AddressInfo> {
    if (this.stopped) throw new Error(`cannot serve ${name}: shutting down`);
    const server = tls ? createTlsServer(tls, handler) : createServer(handler);
    const address = await listen(server, port, host);
    this.servers.push({ name, server, address });
    return address;
  }

  /** The server serving under `name` (e.g. to swap a TLS server's certificates). */
  server(name: string): Server | undefined {
    return this.servers.find((s) => s.name === name)?.server;
  }

  /** Where each server listens, e.g. `{ health: '0.0.0.0:9090' }`, for the "started" log line. */
  addresses(): Record<string, string> {
    return Object.fromEntries(
      this.servers.map((s) => [s.name, formatAddress(s.address.address, s.address.port)]),
    );
  }

  /** Runs `hook` once the servers are closed on shutdown (stop timers, release devices). */
  onStop(hook: () => void | Promise<void>): void {
    this.stopHooks.push(hook);
  }

  /** Marks the start as complete: the `startup` gate opens. */
  started(): void {
    this.gates.remove('startup');
  }

  get stopping(): boolean {
    return this.stopped !== undefined;
  }

  /**
   * The SIGTERM sequence: fail readiness, wait `drainMs` so endpoints and load balancers notice,
   * close every server (idle keep-alive connections at once; requests in flight get
   * `closeTimeoutMs` to finish, then their connections are cut), run the stop hooks, resolve.
   * Idempotent; with `drain: false` (a failed start) the servers close at once.
   */
  shutdown({ drain = true }: { drain?: boolean } = {}): Promise<void> {
    this.stopped ??= (async () => {
      this.gates.add('shutdown', () => 'shutting down');
      if (drain) await this.sleep(this.options.drainMs);
      const closeTimeoutMs = this.options.closeTimeoutMs ?? 20_000;
      await Promise.all(
        this.servers.map(
          ({ server }) =>
            new Promise<void>((resolve) => {
              const cut = setTimeout(() => server.closeAllConnections(), closeTimeoutMs);
              cut.unref();
              server.close(() => {
                clearTimeout(cut);
                resolve();
              });
              server.closeIdleConnections();
            }),
        ),
      );
      for (const hook of this.stopHooks) await hook();
    })();
    return this.stopped;
  }
}

/**
 * What /healthz says: `alive` false fails the liveness probe (the kubelet restarts the
 * container); `detail` is the body, e.g. `degraded: no-headers (…)` for a process that is alive
 * on purpose while it cannot do its work, so a person and the controller can read why.
 */
export interface Health {
  alive: boolean;
  detail: string;
}

const ALIVE: Health = { alive: true, detail: 'ok' };

/** /healthz (alive, and the detail), /readyz (every gate open, else which are closed and why), /metrics. */
export function healthApp(
  registry: Registry,
  gates: ReadinessGates,
  health: () => Health = () => ALIVE,
  /** Runs before each scrape: reads what the collectors report, once for all of them. */
  beforeScrape: () => void = () => undefined,
): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    const h = health();
    res
      .status(h.alive ? 200 : 503)
      .type('text/plain')
      .send(h.detail);
  });
  app.get('/readyz', (_req, res) => {
    res
      .status(gates.ready() ? 200 : 503)
      .type('text/plain')
      .send(gates.describe());
  });
  app.get('/metrics', async (_req, res) => {
    beforeScrape();
    res.type(registry.contentType).send(await registry.metrics());
  });
  return app;
}

/** What `runMain` touches of the process; tests pass their own. */
export interface ProcessIo {
  stderr(line: string): void;
  exit(code: number): void;
  onSignal(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void;
}

const processIo: ProcessIo = {
  stderr: (line) => process.stderr.write(line),
  exit: (code) => process.exit(code),
  onSignal: (signal, handler) => process.once(signal, handler),
};

/**
 * The `main` of a Rewind process. `configure` parses the environment and `start` starts the
 * servers on the given Lifecycle, both inside the error handling: any failure prints
 * `<name>: <one line>` on stderr, closes what was started and exits 1. Once started, SIGTERM or
 * SIGINT runs the shutdown sequence and exits 0. Resolves when the start has succeeded or failed.
 */
export async function runMain<C extends { drainMs: number; closeTimeoutMs?: number }>(
  name: string,
  configure: () => C,
  start: (config: C, lifecycle: Lifecycle) => Promise<void>,
  io: ProcessIo = processIo,
): Promise<void> {
  let lifecycle: Lifecycle | undefined;
  try {
    const config = configure();
    lifecycle = new Lifecycle({ drainMs: config.drainMs, closeTimeoutMs: config.closeTimeoutMs });
    await start(config, lifecycle);
    lifecycle.started();
  } catch (e) {
    io.stderr(`${name}: ${oneLine(e)}\n`);
    await lifecycle?.shutdown({ drain: false });
    io.exit(1);
    return;
  }
  const running = lifecycle;
  const stop = (): void => {
    running.shutdown().then(
      () => io.exit(0),
      (e: unknown) => {
        io.stderr(`${name}: shutdown failed: ${oneLine(e)}\n`);
        io.exit(1);
      },
    );
  };
  io.onSignal('SIGTERM', stop);
  io.onSignal('SIGINT', stop);
}
