/**
 * `rewind-agent serve` (the I/O shell): the recorder, the snapshot API on the TLS port, health
 * and metrics on the plain port. Order matters: configuration and certificates are checked
 * before the kernel is touched; the servers listen before the recorder is opened, so /healthz
 * can say why the recorder is not recording while the module is missing.
 *
 * On SIGTERM (common/lifecycle.ts): readiness fails, the drain passes, a snapshot in flight gets
 * the close timeout to finish (else its connection is cut and its scratch folder removed), the
 * device is closed — and the rings keep recording for the next agent.
 */
import { mkdirSync } from 'node:fs';
import { release } from 'node:os';
import type { Logger } from 'pino';
import { healthApp, type Lifecycle } from '../common/lifecycle';
import { clockSamples, nativeVersion, RewindDevice, type ClockSample } from '../native';
import { apiApp } from './api';
import type { ServeConfig } from './config';
import type { NodeContainers } from './containers';
import { agentMetrics, refusalCounters } from './metrics';
import { Recorder, type RecorderIo } from './recorder';
import { windowSeconds } from './recorder-plan';
import { SnapshotService } from './snapshot';
import { ModuleStateReader } from './module-state';
import { buildStatus } from './status';
import { tlsOptions, watchCertificates } from '../common/tls';

export interface ServeDeps {
  recorderIo: RecorderIo;
  /** The trace clock now (CLOCK_MONOTONIC ns, the module's clock). */
  monotonicNow: () => bigint;
  /** Starts keeping the node's container facts, exited ones for `retentionMs`. */
  containers: (retentionMs: () => number) => NodeContainers;
  /**
   * The node's clocks read back to back (GET /v1/clock and each snapshot's request time); native
   * `clockSamples` unless a test gives a node whose realtime is off by a known amount.
   */
  clockSamples?: (count: number) => ClockSample[];
  /**
   * Milliseconds on a monotonic clock, for how long a reading of the loader's state file is
   * reused; `performance.now` unless a test moves time itself.
   */
  elapsedMs?: () => number;
}

export const defaultRecorderIo: RecorderIo = {
  open: (path) => RewindDevice.open(path),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

export async function startServe(
  config: ServeConfig,
  lifecycle: Lifecycle,
  log: Logger,
  deps: ServeDeps,
): Promise<void> {
  const clock = deps.clockSamples ?? clockSamples;
  const tls = tlsOptions({ cert: config.tlsCert, key: config.tlsKey, ca: config.tlsCa });
  mkdirSync(config.snapshotDir, { recursive: true });
  const kernelRelease = release();
  const version = nativeVersion();
  const ring = {
    subbufBytes: config.subbufBytes,
    subbufs: config.subbufs,
    mode: config.mode,
    probes: config.probes,
  };
  const recorder = new Recorder(
    { devicePath: config.device, ring, hostname: config.nodeName, reconfigure: config.reconfigure },
    log,
    deps.recorderIo,
  );
  const metrics = agentMetrics({
    node: config.nodeName,
    version,
    kernelRelease,
    recorder,
    monotonicNow: deps.monotonicNow,
  });
  // Exited containers are kept as long as any CPU still holds their history (at least a minute).
  const retentionMs = () => {
    const now = deps.monotonicNow();
    const windows = recorder.stats().map((s) => windowSeconds(s.oldestTimestamp, now));
    return Math.max(60, ...windows) * 1000;
  };
  const containers = deps.containers(retentionMs);
  const snapshots = new SnapshotService({
    recorder,
    scratchDir: config.snapshotDir,
    node: config.nodeName,
    kernelRelease,
    agentVersion: version,
    ring: { ...ring, probes: ring.probes === 'all' ? 'all' : [...ring.probes] },
    clock: () => clock(1)[0] as ClockSample,
    containers: () => containers.refresh(),
    log,
    observe: (outcome, seconds, bytes) => metrics.snapshot(outcome, seconds, bytes),
  });
  const refusals = refusalCounters();
  const moduleLoader = new ModuleStateReader({
    path: config.moduleStateFile,
    kernelRelease,
    now: deps.elapsedMs ?? (() => performance.now()),
  });
  const status = async () => {
    // Read first, so that the recorder's fields below are taken together, after the only wait.
    const loader = await moduleLoader.current();
    return buildStatus({
      node: config.nodeName,
      agentVersion: version,
      kernelRelease,
      recorder: recorder.state,
      moduleLoader: loader,
      info: recorder.deviceInfo,
      versions: recorder.versions,
      stats: recorder.stats(),
      refusalCounters: refusals,
      monotonicNow: deps.monotonicNow(),
      snapshotInFlight: snapshots.busy,
    });
  };

  lifecycle.gates.add('recording', () =>
    recorder.recording ? undefined : `${recorder.state.state}: ${recorder.state.detail}`,
  );
  const health = () => {
    const s = recorder.state;
    if (s.state === 'recording')
      return {
        alive: true,
        detail: s.differences.length ? `recording (differs: ${s.differences.join('; ')})` : 'ok',
      };
    // Alive on purpose: restarting the agent cannot load a module or grant a device.
    return { alive: true, detail: `degraded: ${s.state} (${s.detail})` };
  };

  await lifecycle.serve(
    'health',
    healthApp(metrics.registry, lifecycle.gates, health, () => metrics.refresh()),
    config.healthPort,
    config.bind,
  );
  await lifecycle.serve(
    'api',
    apiApp({
      controllerIdentity: config.controllerIdentity,
      snapshots,
      recording: () => ({
        ok: recorder.recording,
        why: `${recorder.state.state}: ${recorder.state.detail}`,
      }),
      stopping: () => lifecycle.stopping,
      clock,
      status,
      metrics,
      node: config.nodeName,
    }),
    config.apiPort,
    config.bind,
    tls,
  );
  const api = lifecycle.server('api');
  const stopWatching = api
    ? watchCertificates(
        api as import('node:https').Server,
        { cert: config.tlsCert, key: config.tlsKey, ca: config.tlsCa },
        (event, detail) =>
          event === 'reloaded'
            ? log.info(detail)
            : log.error(`certificate reload failed: ${detail}`),
      )
    : () => undefined;
  lifecycle.onStop(async () => {
    stopWatching();
    await snapshots.settled();
    await containers.stop();
    recorder.stop();
    log.info('stopped; the module keeps recording');
  });
  recorder.start();
  log.info(
    { node: config.nodeName, listening: lifecycle.addresses(), recorder: recorder.state.state },
    'agent started',
  );
}
