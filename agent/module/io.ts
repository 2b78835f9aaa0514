/**
 * What the loader touches outside itself: the kernel release, the kernel's state files, the
 * commands it runs (insmod, rmmod, make), the versions the agent speaks, the clock. The real ones
 * are `systemIo()`; tests point the paths into a folder and stand in for the commands the host
 * cannot run (insmod, on a kernel without modules), and say so.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { availableParallelism, release } from 'node:os';
import { nativeConstants } from '../../native';
import { parseFlag, parseLockdown, type KernelRestrictions, type Versions } from './decisions';

/** Where the kernel shows what the loader reads (the real paths in systemIo). */
export interface KernelPaths {
  /** /sys/module: a loaded module `rewind` is /sys/module/rewind. */
  sysModule: string;
  modulesDisabled: string;
  lockdown: string;
  sigEnforce: string;
}

export const SYSTEM_PATHS: KernelPaths = {
  sysModule: '/sys/module',
  modulesDisabled: '/proc/sys/kernel/modules_disabled',
  lockdown: '/sys/kernel/security/lockdown',
  sigEnforce: '/sys/module/module/parameters/sig_enforce',
};

export interface CommandResult {
  /** The exit code; 127 when the command could not be started. */
  code: number;
  /** stdout and stderr as they came, the last 64 KiB of them. */
  output: string;
}

export interface ModuleIo {
  /** `uname -r`. */
  release(): string;
  paths: KernelPaths;
  run(command: string, args: readonly string[]): Promise<CommandResult>;
  /** The ABI and format versions this agent's native addon speaks. */
  expectedVersions(): Versions;
  /** How many jobs a build may run at once. */
  buildJobs: number;
  /** Milliseconds since the epoch (stale temporary builds are judged by it). */
  now(): number;
}

const OUTPUT_LIMIT = 64 * 1024;

/** Runs a command with its output captured (never inherited: a build's chatter goes to the log). */
export function runCommand(command: string, args: readonly string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    let output = '';
    const keep = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (output.length > 2 * OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
    };
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (e) => resolve({ code: 127, output: `${command}: ${e.message}` }));
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? 128,
        output: (signal ? `${output}\n${command}: killed by ${signal}` : output).slice(
          -OUTPUT_LIMIT,
        ),
      }),
    );
  });
}

export function systemIo(): ModuleIo {
  return {
    release: () => release(),
    paths: SYSTEM_PATHS,
    run: runCommand,
    expectedVersions: () => {
      const c = nativeConstants();
      return { abiVersion: c.abiVersion, formatVersion: c.formatVersion };
    },
    // A build on a busy node should not take every CPU from its workloads.
    buildJobs: Math.max(1, Math.min(4, availableParallelism() - 1)),
    now: () => Date.now(),
  };
}

/** A file's text, or undefined when it does not exist (or cannot be read: not there for us). */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

export async function readKernelRestrictions(paths: KernelPaths): Promise<KernelRestrictions> {
  const [disabled, lockdown, sigEnforce] = await Promise.all([
    readOptional(paths.modulesDisabled),
    readOptional(paths.lockdown),
    readOptional(paths.sigEnforce),
  ]);
  return {
    modulesDisabled: parseFlag(disabled),
    lockdown: parseLockdown(lockdown),
    sigEnforce: parseFlag(sigEnforce),
  };
}
