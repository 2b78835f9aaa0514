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
  writeSyntheticTrace,
  type CpuStats,
  type DeviceConfig,
  type DeviceInfo,
  type SnapshotResult,
} from '../../native';
import { makeTestPki, type TestPki } from './certs';

/** The stand-in's trace clock: every CPU's oldest event is a few seconds before it. */
export const STANDIN_NOW_NS = 50_000_000_000n;

export class StandInDevice implements RecorderDevice {
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
    await writeSyntheticTrace(dir, { cpus: 2, hostname: 'node-a', eventsPerCpu: 20000, seed: 7 });
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
  apiPort: number;
  healthPort: number;
  stop(): Promise<void>;
}

/** The real `rewind-agent serve` over a StandInDevice, on free loopback ports. */
export async function startStandInAgent(nodeName = 'node-a'): Promise<StandInAgent> {
  const pki = makeTestPki();
  const scratch = mkdtempSync(join(tmpdir(), 'rewind-agent-scratch-'));
  const device = new StandInDevice();
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
  });
  const addresses = lifecycle.addresses();
  return {
    device,
    pki,
    lifecycle,
    scratch,
    apiPort: Number(addresses.api?.split(':').pop()),
    healthPort: Number(addresses.health?.split(':').pop()),
    async stop() {
      await lifecycle.shutdown({ drain: false });
      rmSync(pki.dir, { recursive: true, force: true });
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
