/**
 * The userspace writer: Rewind traces written from JavaScript (the packets and metadata the
 * module writes), and a synthetic workload for benchmarks and tests.
 */
import { z } from 'zod';

import { addon } from './addon';
import type { FieldValue } from './trace';
import { check, int64, nonEmpty, packetSize, uuid } from './validate';

export interface WriteEvent {
  cpu: number;
  /** Event name (or give id). */
  name?: string;
  id?: number;
  timestamp: bigint | number;
  fields?: Record<string, FieldValue | Buffer>;
}

export interface WriteOptions {
  hostname: string;
  /** Trace uuid (default: random). */
  uuid?: string;
  /** Clock uuid, the host's boot_id (default: random). */
  clockUuid?: string;
  /** Unix-epoch ns of clock value 0. */
  clockOffsetNs?: bigint | number;
  /** Bytes per packet (default 65536). */
  packetSize?: number;
}

const writeOptions = z
  .object({
    hostname: nonEmpty,
    uuid: uuid.optional(),
    clockUuid: uuid.optional(),
    clockOffsetNs: int64.optional(),
    packetSize: packetSize.optional(),
  })
  .strict();
const writeEvent = z
  .object({
    cpu: z.number().int().min(0).max(0xffffffff),
    name: nonEmpty.optional(),
    id: z.number().int().min(0).optional(),
    timestamp: int64.refine((v) => v >= 0n, 'must not be negative'),
    fields: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .refine((e) => e.name !== undefined || e.id !== undefined, 'needs a name or an id');

/**
 * Writes a Rewind trace from userspace: the packets and metadata the module writes. Timestamps
 * must not decrease per CPU.
 */
export async function writeTrace(
  dir: string,
  options: WriteOptions,
  events: WriteEvent[],
): Promise<void> {
  check('writeTrace', nonEmpty, dir, 'dir');
  const o = check('writeTrace', writeOptions, options, 'options');
  const evs = check('writeTrace', z.array(writeEvent), events, 'events');
  await addon().writeTrace(dir, o, evs);
}

export interface SyntheticOptions {
  hostname?: string;
  cpus?: number;
  eventsPerCpu?: number;
  seed?: number;
  clockOffsetNs?: bigint | number;
  packetSize?: number;
}

const syntheticOptions = z
  .object({
    hostname: nonEmpty.optional(),
    cpus: z.number().int().min(1).max(4096).optional(),
    eventsPerCpu: z.number().int().min(1).optional(),
    seed: z.number().int().min(0).optional(),
    clockOffsetNs: int64.optional(),
    packetSize: packetSize.optional(),
  })
  .strict();

/**
 * A synthetic kernel workload (switches, wakeups, syscalls, interrupts, network, block I/O)
 * written in the real format, deterministic per seed; resolves the number of events. For
 * benchmarks and tests that run without the module.
 */
export async function writeSyntheticTrace(
  dir: string,
  options: SyntheticOptions = {},
): Promise<number> {
  check('writeSyntheticTrace', nonEmpty, dir, 'dir');
  return addon().writeSyntheticTrace(
    dir,
    check('writeSyntheticTrace', syntheticOptions, options, 'options'),
  );
}
