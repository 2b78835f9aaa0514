/**
 * Loads the compiled addon (built by `npm run build:native`), checks its shape against what this
 * front calls (a stale or foreign build is an error naming the missing export, not a TypeError
 * deep in a call), and registers RewindError as the class of its errors.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

import { RewindError } from './errors';
import type { NativeMergeResult } from './summary';
import type { EventDescription, TraceEvent } from './trace';

// The addon lives in native/build/Release whether this file runs from the sources (ts-jest) or
// from dist/native/lib (the built packages and the image).
const ADDON_CANDIDATES = [
  join(__dirname, '..', 'build', 'Release', 'rewind_native.node'),
  join(__dirname, '..', '..', '..', 'native', 'build', 'Release', 'rewind_native.node'),
];

/** An input as the binding takes it. */
export interface NativeInput {
  dir: string;
  node?: string;
  correctionNs?: bigint;
}

/** Objects of the binding's Device class (native/src/binding/device.cc); C field names. */
export interface NativeDevice {
  readonly abiVersion: number;
  readonly formatVersion: number;
  close(): void;
  info(): Record<string, unknown>;
  stats(cpu: number): Record<string, unknown>;
  configure(c: Record<string, unknown>): void;
  start(): void;
  stop(): void;
  statedump(): void;
  flush(): void;
  metadata(remeasure: boolean): string;
  readRing(cpu: number): Buffer;
  snapshot(dir: string, o: Record<string, unknown>): Promise<Record<string, unknown>>;
  test(o: Record<string, unknown>): bigint;
}

const DEVICE_METHODS = [
  'close',
  'info',
  'stats',
  'configure',
  'start',
  'stop',
  'statedump',
  'flush',
  'metadata',
  'readRing',
  'snapshot',
  'test',
] as const;

const fn = <T>() => z.custom<T>((v) => typeof v === 'function', 'must be a function');

const deviceClass = z.custom<new (path: string) => NativeDevice>(
  (v) =>
    typeof v === 'function' &&
    DEVICE_METHODS.every(
      (m) => typeof (v as { prototype?: Record<string, unknown> }).prototype?.[m] === 'function',
    ),
  `must be a class with the methods ${DEVICE_METHODS.join(', ')}`,
);

/** The binding's exports, checked at load; the types below are the ones the front relies on. */
const bindingSchema = z.object({
  version: fn<() => string>(),
  buildDescription: fn<() => string>(),
  setErrorClass: fn<(cls: typeof RewindError) => void>(),
  testThrow: fn<(kind: string, async?: boolean) => Promise<void> | void>(),
  eventTable: fn<() => EventDescription[]>(),
  decode:
    fn<
      (
        inputs: NativeInput[],
        o: Record<string, unknown>,
      ) => Promise<{ events: TraceEvent[]; truncated: boolean; result: NativeMergeResult }>
    >(),
  merge: fn<(inputs: NativeInput[], o: Record<string, unknown>) => Promise<NativeMergeResult>>(),
  checkOutputs: fn<(inputs: string[], outputs: string[]) => void>(),
  writeTrace: fn<(dir: string, o: Record<string, unknown>, events: unknown[]) => Promise<void>>(),
  writeSyntheticTrace: fn<(dir: string, o: Record<string, unknown>) => Promise<number>>(),
  clockSamples:
    fn<(count: number) => { monotonicNs: bigint; realtimeNs: bigint; spreadNs: bigint }[]>(),
  Device: deviceClass,
  constants: z.object({
    abiVersion: z.number(),
    formatVersion: z.number(),
    devicePath: z.string(),
    probesAll: z.bigint(),
    /** Tracepoint names; index = bit of probe_mask (REWIND_PROBE_TABLE). */
    probes: z.array(z.string()),
    /** The 64-bit counters of struct rewind_stats, C names (REWIND_STATS_COUNTERS). */
    statsCounters: z.array(z.object({ name: z.string(), help: z.string() })),
    /** The largest hostname the module's configuration holds, in bytes. */
    hostnameMaxBytes: z.number(),
    /** A trace directory's layout (format.h). */
    traceLayout: z.object({ metadata: z.string(), streamPrefix: z.string() }),
  }),
});

export type NativeBinding = z.infer<typeof bindingSchema>;

/** The binding, if its shape is the one this front calls; else an Error naming the export. */
export function checkBinding(raw: unknown, path: string): NativeBinding {
  const r = bindingSchema.safeParse(raw);
  if (r.success) return raw as NativeBinding;
  const issue = r.error.issues[0];
  const where = issue?.path.map(String).join('.') || '(exports)';
  throw new Error(
    `the native addon ${path} does not match this front: export ${where}: ` +
      `${issue?.message ?? 'invalid'} (rebuild it: npm run build:native)`,
  );
}

let loaded: NativeBinding | undefined;

export function addon(): NativeBinding {
  if (!loaded) {
    const path = ADDON_CANDIDATES.find((p) => existsSync(p)) ?? (ADDON_CANDIDATES[0] as string);
    let raw: unknown;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      raw = require(path);
    } catch (e) {
      throw new Error(
        `the native addon is not built (${path}): run \`npm run build:native\` ` +
          `(${(e as Error).message})`,
      );
    }
    const b = checkBinding(raw, path);
    b.setErrorClass(RewindError);
    loaded = b;
  }
  return loaded;
}
