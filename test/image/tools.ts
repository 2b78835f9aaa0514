/**
 * The programs the image suites need, each with the Debian package that brings it: a missing one
 * fails the suite with one line saying what to install (scripts/setup.sh installs them).
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where a program is on PATH (and the sbin folders root has), or undefined. */
export function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs.filter((d) => d !== '')) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Throws one line naming the Debian package when `name` is not installed. */
export function requireTool(name: string, debianPackage: string): string {
  const path = findTool(name);
  if (path === undefined) {
    throw new Error(
      `${name} not found: apt-get install ${debianPackage} (scripts/setup.sh installs it)`,
    );
  }
  return path;
}
