/**
 * A STAND-IN for an agent's /metrics on a node whose CPUs a test makes idle or busy, for the
 * host-lane monitoring test (in the e2e scenario the real agent runs in VMs, on real CPUs). What
 * is served is the agent's real registry (agent/metrics.ts, its recorder never started) reading
 * a /proc/stat that stands in for the node's: its aggregate `cpu` line is written before each
 * scrape from a model of the node's CPUs, so `rewind_agent_node_cpu_seconds_total` is named,
 * labelled and counted by the agent's own code.
 *
 * The model (pure, clock injected): CPU seconds by mode, accumulated at the rate of a load
 * profile (the share of each CPU's time in each mode) since the last change of profile.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { agentMetrics } from '../../agent/metrics';
import { CPU_MODES, USER_HZ, type CpuMode } from '../../agent/node-cpu';
import { Recorder } from '../../agent/recorder';

/** The share of a CPU's time in each mode (the rest: idle). */
export type LoadProfile = Partial<Record<CpuMode, number>>;

/** A node doing little: 6% busy. */
export const IDLE: LoadProfile = { user: 0.04, system: 0.02, idle: 0.93, iowait: 0.01 };
/** A CPU hog on every CPU: 99% busy. */
export const BUSY: LoadProfile = { user: 0.95, system: 0.04, idle: 0.01 };

/** The node's CPU seconds by mode, summed over its CPUs, as time passes under a profile. */
export class CpuModel {
  private seconds: Record<CpuMode, number>;
  private since: number;

  constructor(
    private readonly cpus: number,
    private profile: LoadProfile,
    private readonly now: () => number,
    /** Seconds since boot spent idle before the model starts (a node that has been up). */
    uptimeSeconds = 1000,
  ) {
    this.seconds = Object.fromEntries(CPU_MODES.map((m) => [m, 0])) as Record<CpuMode, number>;
    this.seconds.idle = uptimeSeconds * cpus;
    this.since = now();
  }

  /** Accounts the time so far to the current profile, then switches. */
  setProfile(profile: LoadProfile): void {
    this.read();
    this.profile = profile;
  }

  read(): Readonly<Record<CpuMode, number>> {
    const now = this.now();
    const elapsed = (now - this.since) / 1000;
    this.since = now;
    const busy = CPU_MODES.reduce((s, m) => s + (m === 'idle' ? 0 : (this.profile[m] ?? 0)), 0);
    for (const m of CPU_MODES) {
      const share = m === 'idle' ? Math.max(0, 1 - busy) : (this.profile[m] ?? 0);
      this.seconds[m] += elapsed * share * this.cpus;
    }
    return this.seconds;
  }
}

/** /proc/stat's aggregate line for these seconds (USER_HZ ticks; guest and guest_nice 0). */
export function procStatText(seconds: Readonly<Record<CpuMode, number>>): string {
  const ticks = CPU_MODES.map((m) => Math.floor(seconds[m] * USER_HZ));
  return `cpu  ${[...ticks, 0, 0].join(' ')}\n`;
}

export interface StandInNode {
  node: string;
  /** host:port of its /metrics, a Prometheus target's address. */
  address: string;
  model: CpuModel;
  /** How many times /metrics was scraped. */
  scrapes(): number;
  stop(): Promise<void>;
}

export async function startStandInNode(
  node: string,
  profile: LoadProfile,
  options: { cpus?: number; now?: () => number } = {},
): Promise<StandInNode> {
  const dir = mkdtempSync(path.join(tmpdir(), 'rewind-standin-node-'));
  const procStat = path.join(dir, 'stat');
  const model = new CpuModel(options.cpus ?? 2, profile, options.now ?? Date.now);
  writeFileSync(procStat, procStatText(model.read()));
  const recorder = new Recorder(
    {
      devicePath: path.join(dir, 'no-device'),
      ring: { subbufBytes: 65536, subbufs: 16, mode: 'overwrite', probes: 'all' },
      hostname: node,
      reconfigure: false,
    },
    pino({ level: 'silent' }),
    {
      open: () => {
        throw new Error('the stand-in node has no device');
      },
      setTimeout: () => ({ cancel: () => undefined }),
    },
  );
  const metrics = agentMetrics({
    node,
    version: '0.0.0-standin',
    kernelRelease: 'standin',
    recorder,
    monotonicNow: () => 0n,
    procStat,
  });
  let scrapes = 0;
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    scrapes++;
    // Renamed into place: the registry's read never sees half a line.
    writeFileSync(`${procStat}.new`, procStatText(model.read()));
    renameSync(`${procStat}.new`, procStat);
    metrics.refresh();
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
      (e: unknown) => res.writeHead(500).end(String(e)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    node,
    address: `127.0.0.1:${port}`,
    model,
    scrapes: () => scrapes,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
