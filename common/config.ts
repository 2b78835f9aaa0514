/** Reads a process's configuration from its environment once, with zod, into a frozen object. */
import { z, type ZodType } from 'zod';

export function parseConfig<T>(
  component: string,
  schema: ZodType<T>,
  env: NodeJS.ProcessEnv = process.env,
): Readonly<T> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues
      .map((i) => `  ${i.path.join('.') || '(environment)'}: ${i.message}`)
      .join('\n');
    throw new Error(`${component}: invalid configuration:\n${problems}`);
  }
  return Object.freeze(result.data);
}

/** Variables every Rewind process reads: where it serves its lifecycle endpoints, how it drains. */
export const lifecycleVariables = {
  /** Seconds between SIGTERM and closing the servers, so endpoints drain first. */
  REWIND_DRAIN_SECONDS: z.coerce.number().min(0).max(60).default(5),
};

/** A port variable (0 picks a free port), with its default. */
export const port = (fallback: number) =>
  z.coerce.number().int().min(0).max(65535).default(fallback);
