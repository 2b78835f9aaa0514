/** Reads the configuration file a process was given (`--config FILE` or its variable). */
import { readFileSync } from 'node:fs';
import { ConfigError } from './config';

export function readConfigFile(
  path: string | undefined,
): { path: string; text: string } | undefined {
  if (path === undefined || path === '') return undefined;
  try {
    return { path, text: readFileSync(path, 'utf8') };
  } catch (e) {
    throw new ConfigError(
      `cannot read the configuration file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}
