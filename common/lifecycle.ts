/**
 * The lifecycle endpoints every Rewind process serves (/healthz, /readyz, /metrics) and the
 * SIGTERM sequence: fail readiness first, let in-flight requests drain, then exit before the
 * pod's grace period runs out. Thin I/O: what "healthy" and "ready" mean is injected.
 */
import express, { type Express } from 'express';
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface Probes {
  /** The process is alive and not wedged; false makes the kubelet restart it. */
  healthy(): boolean;
  /** The process can do its job now; false takes it out of Service endpoints. */
  ready(): boolean;
  /** Why the process is not ready (shown on /readyz), if it is not. */
  reason?(): string;
}

export function lifecycleApp(registry: Registry, probes: Probes): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res
      .status(probes.healthy() ? 200 : 503)
      .type('text/plain')
      .send(probes.healthy() ? 'ok' : 'unhealthy');
  });
  app.get('/readyz', (_req, res) => {
    const ready = probes.ready();
    res
      .status(ready ? 200 : 503)
      .type('text/plain')
      .send(ready ? 'ok' : `not ready: ${probes.reason?.() ?? 'starting'}`);
  });
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return app;
}

export function listen(app: Express, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, () => resolve(server));
    server.once('error', reject);
  });
}

export interface Shutdown {
  /** Starts the shutdown sequence (what SIGTERM does); resolves when servers are closed. */
  begin(): Promise<void>;
  readonly stopping: boolean;
}

/**
 * The SIGTERM sequence for `servers`: mark not-ready, wait `drainMs` so load balancers notice,
 * close the servers, and resolve. The caller decides when to exit.
 */
export function shutdownSequence(
  servers: Server[],
  drainMs: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Shutdown {
  let stopping = false;
  let done: Promise<void> | undefined;
  return {
    get stopping() {
      return stopping;
    },
    begin() {
      if (done) return done;
      stopping = true;
      done = (async () => {
        await sleep(drainMs);
        await Promise.all(
          servers.map(
            (s) =>
              new Promise<void>((resolve) => {
                s.close(() => resolve());
                s.closeIdleConnections?.();
              }),
          ),
        );
      })();
      return done;
    },
  };
}

export interface LifecycleOptions {
  registry: Registry;
  port: number;
  bind: string;
  drainMs: number;
  /** Extra readiness condition on top of "not shutting down". */
  ready?: () => boolean;
  reason?: () => string;
}

export interface RunningLifecycle {
  server: Server;
  shutdown: Shutdown;
}

/** Serves the lifecycle endpoints; readiness fails as soon as shutdown begins. */
export async function startLifecycle(opts: LifecycleOptions): Promise<RunningLifecycle> {
  // The probes need the shutdown state, which needs the server, which needs the probes.
  const state: { shutdown?: Shutdown } = {};
  const stopping = (): boolean => state.shutdown?.stopping ?? false;
  const app = lifecycleApp(opts.registry, {
    healthy: () => true,
    ready: () => !stopping() && (opts.ready?.() ?? true),
    reason: () => (stopping() ? 'shutting down' : (opts.reason?.() ?? 'starting')),
  });
  const server = await listen(app, opts.port, opts.bind);
  state.shutdown = shutdownSequence([server], opts.drainMs);
  return { server, shutdown: state.shutdown };
}

/** The `main` of a Rewind process: start it, exit cleanly on SIGTERM, loudly on failure. */
export function runMain(name: string, start: () => Promise<RunningLifecycle>): void {
  start()
    .then(({ shutdown }) => {
      const stop = (): void => void shutdown.begin().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    })
    .catch((e: Error) => {
      process.stderr.write(`${name}: ${e.message}\n`);
      process.exit(1);
    });
}
