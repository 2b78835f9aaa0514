/**
 * A process's settings, each written once: its name (the key of the typed configuration and of
 * an optional configuration file), its environment variable, its flag, its type and default, and
 * its help. A process's table (agent/settings.ts, controller/settings.ts) is the source of its
 * schema (common/settings-parse.ts), its command-line options (common/settings-cli.ts) and the
 * chart's environment (test/k8s/chart-env.test.ts).
 *
 * Every value arrives as a string (a flag or a variable; a file's scalars and lists are turned
 * into the same strings), so one zod type per setting checks all three sources alike.
 */
import { z, type ZodType } from 'zod';
import { commonVariables } from './config';

export interface Setting<T extends ZodType = ZodType> {
  /** The environment variable. */
  variable: string;
  /** The long flag, without `--`. */
  flag: string;
  help: string;
  type: T;
  /** A boolean: its flag alone means true (`--ring-reconfigure`). */
  boolean: boolean;
}

export function setting<T extends ZodType>(
  variable: string,
  flag: string,
  type: T,
  help: string,
): Setting<T> {
  return { variable, flag, help, type, boolean: BOOLEANS.has(type) };
}

/** The types made by boolean(), so their flags may stand alone. */
const BOOLEANS = new WeakSet<ZodType>();

export const boolean = (fallback: boolean) => {
  const type = z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true');
  BOOLEANS.add(type);
  return type;
};

export const absolutePath = (fallback: string) =>
  z
    .string()
    .regex(/^\/[^\0]*$/, 'must be an absolute path')
    .default(fallback);

export const integer = (fallback: number, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number in decimal digits')
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
    .default(fallback);

export const powerOfTwo = (fallback: number, min: number, max: number) =>
  integer(fallback, min, max).refine((v) => (v & (v - 1)) === 0, 'must be a power of two');

/** A comma-separated list; empty means none. */
export const list = (item: z.ZodString) =>
  z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    )
    .pipe(z.array(item));

export type Settings = Record<string, Setting>;

/** The variables a table reads, in table order: the chart sets exactly these. */
export function settingsVariables(settings: Settings): string[] {
  return Object.values(settings).map((s) => s.variable);
}

/** Settings of every Rewind process: how it stops and how much it logs. */
export const processSettings = {
  drainSeconds: setting(
    'REWIND_DRAIN_SECONDS',
    'drain-seconds',
    commonVariables.REWIND_DRAIN_SECONDS,
    'Seconds between SIGTERM (readiness failing) and closing the servers.',
  ),
  logLevel: setting(
    'REWIND_LOG_LEVEL',
    'log-level',
    commonVariables.REWIND_LOG_LEVEL,
    'Log level (pino: trace, debug, info, warn, error, fatal).',
  ),
} as const;

/** The TLS files a process reads (the chart mounts its Secret at /etc/rewind/tls). */
export function tlsSettings(help: { cert: string; ca: string }) {
  return {
    tlsCert: setting(
      'REWIND_TLS_CERT',
      'tls-cert',
      absolutePath('/etc/rewind/tls/tls.crt'),
      help.cert,
    ),
    tlsKey: setting(
      'REWIND_TLS_KEY',
      'tls-key',
      absolutePath('/etc/rewind/tls/tls.key'),
      "The certificate's private key (PEM).",
    ),
    tlsCa: setting('REWIND_TLS_CA', 'tls-ca', absolutePath('/etc/rewind/tls/ca.crt'), help.ca),
  } as const;
}
