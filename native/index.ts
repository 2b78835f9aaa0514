/**
 * The typed front of the native engine, by concern (lib/): addon loading and its shape check
 * (addon.ts), errors (errors.ts), C-to-JavaScript naming (naming.ts), argument validation
 * (validate.ts), the trace engine (trace.ts), its summary (summary.ts), the userspace writer
 * (writer.ts), the device (device.ts) and the clocks (clock.ts). This file only re-exports.
 */
export { clockSamples, type ClockSample } from './lib/clock';
export { RewindError } from './lib/errors';
export { camelCase } from './lib/naming';
export {
  checkOutputs,
  decodeTrace,
  eventTable,
  exportChrome,
  mergeTraces,
  nativeBuildDescription,
  nativeVersion,
  traceStats,
  validateTrace,
  type DecodeOptions,
  type EventDescription,
  type FieldValue,
  type MergeOptions,
  type PodNameEntry,
  type PodNames,
  type TraceEvent,
  type TraceInput,
} from './lib/trace';
export type {
  IrqCount,
  NodeNames,
  NodeSummary,
  StreamSummary,
  SyscallCount,
  ThreadUse,
  TraceSummary,
} from './lib/summary';
export {
  writeSyntheticTrace,
  writeTrace,
  type SyntheticOptions,
  type WriteEvent,
  type WriteOptions,
} from './lib/writer';
export {
  nativeConstants,
  PROBES,
  RewindDevice,
  STATS_COUNTERS,
  type CpuStats,
  type DeviceConfig,
  type DeviceInfo,
  type Probe,
  type SnapshotResult,
  type StatsCounter,
} from './lib/device';
