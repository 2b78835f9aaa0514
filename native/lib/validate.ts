/**
 * Argument validation of the front: zod schemas shared by the trace, writer and device modules,
 * and check(), which turns the first issue into a TypeError naming the function, the option and
 * what was expected, before anything reaches C++.
 */
import { z } from 'zod';

export const int64 = z.union([z.bigint(), z.number().int()]).transform((v) => BigInt(v));
export const nonEmpty = z.string().min(1, 'must be a non-empty string');

/** Bytes per packet: room for a header and a few events, at most a 256 MiB packet. */
export const packetSize = z
  .number()
  .int()
  .min(128)
  .max(1 << 28);

export const uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, {
    message: 'must be a uuid',
  });

export function check<T>(fn: string, schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue ? [what, ...issue.path.map(String)].join('.') : what;
  throw new TypeError(`${fn}: ${path}: ${issue?.message ?? 'invalid'}`);
}
