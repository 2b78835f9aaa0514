/** Reads a process's configuration from its environment once, with zod, into a frozen object. */
import type { ZodType } from 'zod';

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
