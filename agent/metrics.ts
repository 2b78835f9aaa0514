/**
 * The agent's metrics (`rewind_agent_`): one private registry, every name and help here. The
 * recorder's counters are the module's own statistics, read at scrape time (one ioctl per CPU:
 * microseconds; the last values while a snapshot owns the device) and named from the UAPI's
 * counter table (`constants.statsCounters`): the `lost_*` counters become
 * `rewind_agent_events_refused_total{reason}`. The node's CPU time is /proc/stat's, read at scrape
 * time too (agent/node-cpu.ts): the chart's RewindNodeCPUSaturated alert is computed from it.
 */
import { readFile } from 'node:fs/promises';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { camelCase, nativeConstants, type CpuStats, type StatsCounter } from '../native';
import { windowSeconds } from './recorder-plan';
import { RECORDER_STATES, type Recorder } from './recorder';
import { collectProcessMetrics } from '../common/metrics';
import { CPU_MODES, parseProcStatCpu } from './node-cpu';

/** The refusal reasons: the statistics counters named lost_<reason> (REWIND_STATS_COUNTERS). */
export function refusalCounters(): { counter: StatsCounter; reason: string }[] {
  return nativeConstants()
    .statsCounters.filter((c) => c.name.startsWith('lost_'))
    .map((c) => ({
      counter: camelCase(c.name) as StatsCounter,
      reason: c.name.slice('lost_'.length),
    }));
}

export interface AgentMetricsInput {
  node: string;
  version: string;
  kernelRelease: string;
  recorder: Recorder;
  /** The trace clock now (monotonic ns). */
  monotonicNow: () => bigint;
  /** The node's CPU times: `/proc/stat` unless a test gives its own file. */
  procStat?: string;
}

export interface AgentMetrics {
  registry: Registry;
  /** Reads the module's statistics for the next scrape: once, for every collector. */
  refresh(): void;
  snapshot(outcome: string, seconds: number, bytes: number): void;
  requestRefused(reason: 'unauthenticated' | 'forbidden' | 'busy' | 'not-recording'): void;
}

/** Sets a counter to the module's value (a counter the module keeps; reset() then inc()). */
function setCounter(
  c: Counter<'cpu'> | Counter<'cpu' | 'reason'>,
  labels: Record<string, string>,
  v: bigint,
) {
  (c as Counter<string>).inc(labels, Number(v));
}

export function agentMetrics(input: AgentMetricsInput): AgentMetrics {
  const registry = new Registry();
  const registers = [registry];
  const { recorder } = input;
  collectProcessMetrics(registry, 'rewind_agent_');
  const refusals = refusalCounters();
  let stats: CpuStats[] = [];
  const perCpu = (s: CpuStats) => ({ cpu: String(s.cpu) });

  new Gauge({
    name: 'rewind_agent_build_info',
    // No node label: the scrape's target labels name the node (the chart's ServiceMonitor).
    help: 'Always 1; labels describe the agent, the kernel and the module ABI it speaks.',
    labelNames: ['version', 'kernel_release', 'abi_version', 'format_version'] as const,
    registers,
  }).set(
    {
      version: input.version,
      kernel_release: input.kernelRelease,
      abi_version: String(nativeConstants().abiVersion),
      format_version: String(nativeConstants().formatVersion),
    },
    1,
  );

  new Gauge({
    name: 'rewind_agent_recorder_state',
    help: 'The recorder as the agent holds it: 1 for the current state (recording, no-device, …).',
    labelNames: ['state'] as const,
    registers,
    collect() {
      for (const s of RECORDER_STATES) this.set({ state: s }, recorder.state.state === s ? 1 : 0);
    },
  });

  new Gauge({
    name: 'rewind_agent_recorder_window_seconds',
    help: "Seconds of history each CPU's ring holds: from its oldest event to now.",
    labelNames: ['cpu'] as const,
    registers,
    collect() {
      this.reset();
      const now = input.monotonicNow();
      for (const s of stats)
        if (s.online) this.set(perCpu(s), windowSeconds(s.oldestTimestamp, now));
    },
  });

  new Gauge({
    name: 'rewind_agent_ring_bytes',
    help: "Bytes of each CPU's ring (sub-buffers x sub-buffer bytes).",
    labelNames: ['cpu'] as const,
    registers,
    collect() {
      this.reset();
      const info = recorder.deviceInfo;
      if (!info) return;
      for (const s of stats) if (s.online) this.set(perCpu(s), info.subbufSize * info.numSubbufs);
    },
  });

  const counter = (
    name: string,
    help: string,
    field: 'eventsWritten' | 'bytesWritten' | 'packetsOverwritten',
  ) =>
    new Counter({
      name,
      help,
      labelNames: ['cpu'] as const,
      registers,
      collect() {
        this.reset();
        for (const s of stats) setCounter(this, perCpu(s), s[field]);
      },
    });
  counter(
    'rewind_agent_events_written_total',
    'Events the module wrote, per CPU.',
    'eventsWritten',
  );
  counter(
    'rewind_agent_written_bytes_total',
    'Event bytes the module wrote (headers included), per CPU.',
    'bytesWritten',
  );
  counter(
    'rewind_agent_packets_overwritten_total',
    'Packets (sub-buffers) overwritten by newer ones, per CPU: history rolling out of the window.',
    'packetsOverwritten',
  );

  new Counter({
    name: 'rewind_agent_events_refused_total',
    help:
      'Events the module refused, per CPU and reason (' +
      refusals.map((r) => r.reason).join(', ') +
      '): a gap in the recording.',
    labelNames: ['cpu', 'reason'] as const,
    registers,
    collect() {
      this.reset();
      for (const s of stats)
        for (const r of refusals)
          setCounter(this, { ...perCpu(s), reason: r.reason }, s[r.counter]);
    },
  });

  const procStat = input.procStat ?? '/proc/stat';
  new Counter({
    name: 'rewind_agent_node_cpu_seconds_total',
    help:
      `Seconds the node's CPUs spent in each mode (${CPU_MODES.join(', ')}), summed over ` +
      "its CPUs: /proc/stat's, as node-exporter's node_cpu_seconds_total. Absent when " +
      '/proc/stat cannot be read.',
    labelNames: ['mode'] as const,
    registers,
    async collect() {
      // Read, then reset and set with no wait between: two scrapes at once never add up.
      const cpu = await readFile(procStat, 'utf8').then(parseProcStatCpu, () => undefined);
      this.reset();
      if (cpu === undefined) return;
      for (const mode of CPU_MODES) {
        const seconds = cpu[mode];
        if (seconds !== undefined) this.inc({ mode }, seconds);
      }
    },
  });

  const snapshots = new Counter({
    name: 'rewind_agent_snapshots_total',
    help: 'Snapshots served, by result (ok, aborted: the client left, failed).',
    labelNames: ['result'] as const,
    registers,
  });
  for (const result of ['ok', 'aborted', 'failed']) snapshots.inc({ result }, 0);
  const duration = new Histogram({
    name: 'rewind_agent_snapshot_duration_seconds',
    help: 'Time to take and stream one snapshot.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const size = new Histogram({
    name: 'rewind_agent_snapshot_size_bytes',
    help: 'Bytes of one snapshot as streamed (trace and manifest).',
    buckets: [64e3, 256e3, 1e6, 4e6, 16e6, 64e6, 256e6, 1e9],
    registers,
  });
  const refused = new Counter({
    name: 'rewind_agent_requests_refused_total',
    help:
      'Snapshot API requests refused, by reason (unauthenticated, forbidden: not the ' +
      "controller's certificate, busy: a snapshot in flight, not-recording).",
    labelNames: ['reason'] as const,
    registers,
  });
  for (const reason of ['unauthenticated', 'forbidden', 'busy', 'not-recording'])
    refused.inc({ reason }, 0);

  return {
    registry,
    refresh() {
      stats = recorder.stats();
    },
    snapshot(outcome, seconds, bytes) {
      snapshots.inc({ result: outcome });
      if (outcome === 'ok') {
        duration.observe(seconds);
        size.observe(bytes);
      }
    },
    requestRefused(reason) {
      refused.inc({ reason });
    },
  };
}
