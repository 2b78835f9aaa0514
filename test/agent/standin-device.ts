/**
 * A STAND-IN for /dev/rewind, for tests of the agent on a host that cannot load the kernel
 * module: it writes a synthetic trace in the real format (native writeSyntheticTrace) where the
 * module would write its rings, reports two online CPUs with fixed statistics, and can hold a
 * snapshot open (`hold`) so concurrency can be tested deterministically. The same agent over the
 * real module in a VM: agent-vm.test.ts.
 *
 * `startStandInAgent` runs the real `startServe` (real HTTPS and health servers, metrics,
 * lifecycle) over it on 127.0.0.1, as test/agent/api.test.ts does.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Lifecycle } from '../../common/lifecycle';
import { parseAgentConfig } from '../../agent/config';
import type { RecorderDevice } from '../../agent/recorder';
import { startServe } from '../../agent/serve';
import {
  nativeConstants,
  STATS_COUNTERS,
  clockSamples,
  writeSyntheticTrace,
  type ClockSample,
  type CpuStats,
  type DeviceConfig,
  type DeviceInfo,
  type SnapshotResult,
} from '../../native';
import { makeTestPki, type TestPki } from './certs';

/** The stand-in's trace clock: every CPU's oldest event is a few seconds before it. */
export const STANDIN_NOW_NS = 50_000_000_000n;

export class StandInDevice implements RecorderDevice {
  /**
   * Each node's trace is its own (hostname, and a trace uuid from a seed of the node's name), as
   * two real nodes' are: a merge refuses the same trace twice.
   */
  constructor(private readonly node = 'node-a') {}
  readonly abiVersion = nativeConstants().abiVersion;
  readonly formatVersion = nativeConstants().formatVersion;
  state = 0;
  config: DeviceConfig = {};
  snapshots = 0;
  hold: Promise<void> | undefined;
  closed = 0;

  info(): DeviceInfo {
    return {
      abiVersion: this.abiVersion,
      state: this.state,
      nrCpuIds: 2,
      subbufSize: this.config.subbufSize ?? 65536,
      numSubbufs: this.config.numSubbufs ?? 16,
      mode: this.config.mode === 'discard' ? 1 : 0,
      probeMask: nativeConstants().probesAll,
      probeActive: nativeConstants().probesAll,
      mmapStride: 0n,
      metadataLen: 0n,
      testHooks: false,
    };
  }
  allStats(): CpuStats[] {
    return [0, 1].map((cpu) => {
      const s = Object.fromEntries(STATS_COUNTERS.map((c) => [c, 0n])) as Record<string, bigint>;
      s.eventsWritten = 1000n + BigInt(cpu);
      s.lostFull = 3n;
      s.oldestTimestamp = STANDIN_NOW_NS - 4_000_000_000n - BigInt(cpu) * 1_000_000_000n;
      return { cpu, online: true, ...s } as CpuStats;
    });
  }
  configure(c: DeviceConfig): void {
    this.config = c;
    this.state = 1;
  }
  start(): void {
    this.state = 2;
  }
  stop(): void {
    this.state = 1;
  }
  async snapshot(dir: string): Promise<SnapshotResult> {
    this.snapshots++;
    await this.hold;
    const seed = [...this.node].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 2 ** 31, 7);
    await writeSyntheticTrace(dir, { cpus: 2, hostname: this.node, eventsPerCpu: 20000, seed });
    const files = readdirSync(dir).filter((f) => f.startsWith('stream_'));
    return {
      dir,
      bytes: 0n,
      packets: 0n,
      skipped: 0n,
      metadataBytes: 0n,
      cpus: files.map((f) => ({
        cpu: Number(f.slice(7)),
        file: join(dir, f),
        bytes: 0n,
        packets: 0n,
        skipped: 0n,
        firstSeq: 0n,
        lastSeq: 0n,
      })),
    };
  }
  close(): void {
    this.closed++;
  }
}

export interface StandInAgent {
  device: StandInDevice;
  pki: TestPki;
  lifecycle: Lifecycle;
  /** The agent's snapshot scratch folder. */
  scratch: string;
  /**
   * The loader state file the agent reads into /v1/status (`moduleLoader`); absent unless the
   * caller writes one (agent/module/state-writer.ts, as the loader does).
   */
  moduleStateFile: string;
  apiPort: number;
  healthPort: number;
  stop(): Promise<void>;
}

export interface StandInOptions {
  /** Certificates shared with other agents (one CA for a cluster); the caller removes them. */
  pki?: TestPki;
  /**
   * The node's clocks (e.g. a node whose realtime is off). By default the host's, with the
   * monotonic clock read on the synthetic trace's clock (STANDIN_TRACE_END_NS when the agent
   * starts), so that the snapshot's request time and the clock exchanges agree with the trace
   * as a real node's agree with its rings.
   */
  clockSamples?: (count: number) => ClockSample[];
  /** The loader state file to read; by default one in a folder of its own, absent. */
  moduleStateFile?: string;
  /** The agent's monotonic milliseconds (how long a reading of that file is reused). */
  elapsedMs?: () => number;
}

/**
 * The synthetic trace's clock just after its last event (writeSyntheticTrace's events lie
 * between 1.0 and 1.3 s).
 */
export const STANDIN_TRACE_END_NS = 1_500_000_000n;

/** The host's clock samples with monotonic moved onto the synthetic trace's clock. */
export function standInClock(): (count: number) => ClockSample[] {
  const origin = (clockSamples(1)[0] as ClockSample).monotonicNs;
  return (count) =>
    clockSamples(count).map((c) => ({
      ...c,
      monotonicNs: c.monotonicNs - origin + STANDIN_TRACE_END_NS,
    }));
}

/** The real `rewind-agent serve` over a StandInDevice, on free loopback ports. */
export async function startStandInAgent(
  nodeName = 'node-a',
  options: StandInOptions = {},
): Promise<StandInAgent> {
  const pki = options.pki ?? makeTestPki();
  const scratch = mkdtempSync(join(tmpdir(), 'rewind-agent-scratch-'));
  const device = new StandInDevice(nodeName);
  const stateDir = options.moduleStateFile
    ? undefined
    : mkdtempSync(join(tmpdir(), 'rewind-agent-module-'));
  const moduleStateFile = options.moduleStateFile ?? join(stateDir as string, 'state.json');
  const config = parseAgentConfig('serve', {
    env: {
      NODE_NAME: nodeName,
      REWIND_AGENT_API_PORT: '0',
      REWIND_AGENT_HEALTH_PORT: '0',
      REWIND_AGENT_BIND: '127.0.0.1',
      REWIND_TLS_CERT: pki.agent.cert,
      REWIND_TLS_KEY: pki.agent.key,
      REWIND_TLS_CA: pki.ca,
      REWIND_SNAPSHOT_DIR: scratch,
      REWIND_MODULE_STATE_FILE: moduleStateFile,
    },
  });
  const lifecycle = new Lifecycle({ drainMs: 0, closeTimeoutMs: 2000 });
  await startServe(config, lifecycle, pino({ level: process.env.AGENT_LOG ?? 'silent' }), {
    recorderIo: { open: () => device, setTimeout: () => ({ cancel: () => undefined }) },
    monotonicNow: () => STANDIN_NOW_NS,
    containers: () => ({
      refresh: async () => ({ version: 2, unifiedRoot: '/sys/fs/cgroup', cgroups: [] }) as never,
      stop: async () => undefined,
    }),
    clockSamples: options.clockSamples ?? standInClock(),
    ...(options.elapsedMs ? { elapsedMs: options.elapsedMs } : {}),
  });
  const addresses = lifecycle.addresses();
  return {
    device,
    pki,
    lifecycle,
    scratch,
    moduleStateFile,
    apiPort: Number(addresses.api?.split(':').pop()),
    healthPort: Number(addresses.health?.split(':').pop()),
    async stop() {
      await lifecycle.shutdown({ drain: false });
      if (!options.pki) rmSync(pki.dir, { recursive: true, force: true });
      rmSync(scratch, { recursive: true, force: true });
      if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
