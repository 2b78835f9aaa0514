/**
 * Reads a process's configuration from its environment once, with zod, into a frozen object.
 *
 * Each process's schema is the one list of the variables it reads: `variableNames(schema)` is
 * what the chart test compares with the variables the chart sets, both ways.
 */
import pino from 'pino';
import { z, type ZodObject, type ZodType } from 'zod';

/** A configuration problem; the message is one line naming every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function parseConfig<T>(schema: ZodType<T>, env: NodeJS.ProcessEnv): Readonly<T> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => {
      const variable = String(i.path[0] ?? '(environment)');
      const value = env[variable];
      return value === undefined
        ? `${variable} is not set`
        : `${variable}=${JSON.stringify(value)}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return Object.freeze(result.data);
}

/** The names of the variables an object schema reads, in declaration order. */
export function variableNames(schema: ZodObject): string[] {
  return Object.keys(schema.shape);
}

/**
 * A TCP port written in decimal digits, 0–65535 (0: the kernel picks a free port, which the
 * process logs; tests use it). Not `z.coerce`: Number('') is 0 and Number('0x50') is 80.
 */
export const port = (fallback: number) =>
  z
    .string()
    .regex(/^\d{1,5}$/, 'must be a port number 0–65535 in decimal digits')
    .transform(Number)
    .pipe(z.number().max(65535, 'must be a port number 0–65535 in decimal digits'))
    .default(fallback);

/** A non-negative decimal number of seconds, at most `max`. */
export const seconds = (fallback: number, max: number) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a number of seconds in decimal digits')
    .transform(Number)
    .pipe(z.number().max(max, `must be at most ${max} seconds`))
    .default(fallback);

/** An IPv4 or IPv6 address to listen on (not a host name: resolving it is not our job). */
export const bindAddress = (fallback: string) =>
  z.union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' }).default(fallback);

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Kubernetes object name such as a node's: a DNS-1123 subdomain of at most 253 characters. */
export const dns1123Subdomain = () =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(253, 'must be at most 253 characters (a DNS-1123 subdomain)')
    .regex(
      DNS1123_SUBDOMAIN,
      "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', " +
        'starting and ending with a letter or digit',
    );

const LOG_LEVELS = Object.keys(pino.levels.values) as [string, ...string[]];

/** Variables every Rewind process reads. */
export const commonVariables = {
  /** Seconds between SIGTERM and closing the servers, so endpoints drain first. */
  REWIND_DRAIN_SECONDS: seconds(5, 60),
  /** pino level of the process's log. */
  REWIND_LOG_LEVEL: z
    .enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })
    .default('info'),
};

type CommonVariables = {
  [K in keyof typeof commonVariables]: z.output<(typeof commonVariables)[K]>;
};

/** The settings every process derives from `commonVariables`, named once. */
export function commonSettings(e: CommonVariables) {
  return { drainMs: e.REWIND_DRAIN_SECONDS * 1000, logLevel: e.REWIND_LOG_LEVEL };
}
