/**
 * The node's CPU time by mode, from /proc/stat's aggregate `cpu` line (pure): what node-exporter
 * exports as `node_cpu_seconds_total`, summed over the CPUs already by the kernel. The agent
 * exports it (`rewind_agent_node_cpu_seconds_total`, agent/metrics.ts) so that an alert a real
 * operator sets — a node's CPUs saturated — is computed from the agent's own scrape, and the
 * trace the alert captures comes from the same node.
 *
 * /proc/stat is not namespaced: inside the agent's container it is the node's.
 *
 * The line is `cpu  user nice system idle iowait irq softirq steal guest guest_nice`, in USER_HZ
 * ticks. USER_HZ is the kernel's fixed ABI unit for these counters (sysconf(_SC_CLK_TCK)): 100
 * on Linux x86 and arm, whatever the kernel's own CONFIG_HZ; node-exporter (procfs) assumes the
 * same 100. Older kernels write
 * fewer fields (iowait since 2.5.41, irq and softirq since 2.6.0, steal since 2.6.11), so a line
 * has at least the first four and the modes it has are the ones exported. guest and guest_nice
 * are already counted in user and nice, so they are not modes here (as in node-exporter, which
 * exports them apart). Fields after them, from kernels to come, are ignored.
 *
 * Anything else — no `cpu` line, fewer than four numbers, a field that is not a whole number —
 * is no reading at all (undefined): a metric absent says "unknown", where a wrong number would
 * make an alert fire or stay silent for no reason.
 */

/** The modes in /proc/stat's order (node-exporter's `mode` label values). */
export const CPU_MODES = [
  'user',
  'nice',
  'system',
  'idle',
  'iowait',
  'irq',
  'softirq',
  'steal',
] as const;
export type CpuMode = (typeof CPU_MODES)[number];

/** Ticks per second of /proc/stat's times: USER_HZ, 100 on Linux (see the header). */
export const USER_HZ = 100;

/** The modes the line carries, each in seconds since boot summed over the node's CPUs. */
export type NodeCpuSeconds = Partial<Record<CpuMode, number>>;

/** Fields a line must have: user, nice, system, idle (every kernel since 2.4). */
const MIN_FIELDS = 4;
const WHOLE = /^\d+$/;

/** /proc/stat's text → the node's CPU seconds by mode; undefined when it holds no sound line. */
export function parseProcStatCpu(text: string): NodeCpuSeconds | undefined {
  // The aggregate line is `cpu` followed by blanks; `cpu0`… are the per-CPU lines.
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (line === undefined) return undefined;
  const fields = line
    .trim()
    .split(/\s+/)
    .slice(1, 1 + CPU_MODES.length);
  if (fields.length < MIN_FIELDS || !fields.every((f) => WHOLE.test(f))) return undefined;
  const out: NodeCpuSeconds = {};
  fields.forEach((f, i) => {
    const ticks = Number(f);
    // Past 2^53 ticks (28 million years of one CPU) a double no longer counts every tick.
    if (!Number.isSafeInteger(ticks)) return;
    out[CPU_MODES[i] as CpuMode] = ticks / USER_HZ;
  });
  return Object.keys(out).length === fields.length ? out : undefined;
}
