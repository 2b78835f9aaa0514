/**
 * The node's clocks read back to back (native/src/core/clock.h): the trace clock (CLOCK_MONOTONIC,
 * the module's) and CLOCK_REALTIME, each pair bracketed by two monotonic reads. The agent serves
 * them on GET /v1/clock so the controller can estimate each node's offset.
 */
import { z } from 'zod';
import { addon } from './addon';
import { check } from './validate';

export interface ClockSample {
  /** Trace clock (monotonic) ns: the midpoint of the two reads around the realtime read. */
  monotonicNs: bigint;
  /** Realtime ns since the Unix epoch. */
  realtimeNs: bigint;
  /** ns between the two monotonic reads: the pair's uncertainty. */
  spreadNs: bigint;
}

/** `count` (1–64) samples taken back to back. */
export function clockSamples(count: number): ClockSample[] {
  check('clockSamples', z.number().int().min(1).max(64), count, 'count');
  return addon().clockSamples(count);
}
