/**
 * A settings table (common/settings.ts) read once from three sources into a frozen, typed object.
 * A flag wins over its environment variable, which wins over the configuration file (YAML or
 * JSON, keys as in the typed configuration), which wins over the default. A bad value is one
 * error naming the setting where it was given (`--ring-subbufs`, `REWIND_RING_SUBBUFS` or
 * `file.yaml: subbufs`) and its value.
 *
 * Pure: the caller reads the file and passes its text.
 */
import { load } from 'js-yaml';
import { z, type ZodType } from 'zod';
import { ConfigError } from './config';
import type { Setting, Settings } from './settings';

/** The typed configuration of a table: each setting's parsed value under its name. */
export type ConfigOf<S extends Settings> = {
  readonly [K in keyof S]: S[K] extends Setting<infer T extends ZodType> ? z.output<T> : never;
};

export interface ConfigSources {
  /** Flag values by setting name (commander's parsed options); undefined when not given. */
  flags?: Record<string, string | undefined>;
  env?: NodeJS.ProcessEnv;
  /** The configuration file, if one was given. */
  file?: { path: string; text: string };
}

/** A file's values as the strings a flag or a variable would carry; throws naming the key. */
function fileValues(
  path: string,
  text: string,
  settings: Record<string, Setting>,
): Record<string, string> {
  let doc: unknown;
  try {
    doc = load(text);
  } catch (e) {
    const reason = (e as Error).message.split('\n')[0] ?? 'not YAML';
    throw new ConfigError(`invalid configuration file ${path}: ${reason}`);
  }
  if (doc === undefined || doc === null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError(`invalid configuration file ${path}: must be a mapping of settings`);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc)) {
    if (!(key in settings)) {
      throw new ConfigError(
        `invalid configuration file ${path}: unknown setting ${JSON.stringify(key)} ` +
          `(known: ${Object.keys(settings).join(', ')})`,
      );
    }
    const scalar = (v: unknown): string => {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
        return String(v);
      throw new ConfigError(
        `invalid configuration file ${path}: ${key}: must be a string, number, boolean or list`,
      );
    };
    out[key] = Array.isArray(value) ? value.map(scalar).join(',') : scalar(value);
  }
  return out;
}

/** Parses a settings table's configuration from its sources; throws one ConfigError line. */
export function parseSettings<S extends Settings>(
  settings: S,
  sources: ConfigSources,
): ConfigOf<S> {
  const env = sources.env ?? {};
  const file = sources.file ? fileValues(sources.file.path, sources.file.text, settings) : {};
  const input: Record<string, string | undefined> = {};
  const origin: Record<string, string> = {};
  for (const [name, s] of Object.entries(settings)) {
    const flag = sources.flags?.[name];
    const variable = env[s.variable];
    if (flag !== undefined) {
      input[name] = flag;
      origin[name] = `--${s.flag}`;
    } else if (variable !== undefined) {
      input[name] = variable;
      origin[name] = s.variable;
    } else if (file[name] !== undefined) {
      input[name] = file[name];
      origin[name] = `${sources.file?.path}: ${name}`;
    }
  }
  const schema = z.object(
    Object.fromEntries(Object.entries(settings).map(([k, s]) => [k, s.type])),
  );
  const result = schema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((i) => {
      const name = String(i.path[0] ?? '');
      const s = settings[name];
      if (!s) return i.message;
      const value = input[name];
      return value === undefined
        ? `${s.variable} (--${s.flag}) is not set`
        : `${origin[name]}=${JSON.stringify(value)}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return Object.freeze(result.data) as ConfigOf<S>;
}
