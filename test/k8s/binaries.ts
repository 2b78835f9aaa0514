/**
 * Where the pinned Kubernetes binaries live, and a small process runner for them.
 *
 * The Kubernetes programs, helm and CoreDNS are built once by `test/k8s/build-binaries.sh` into
 * `${REWIND_CACHE:-/var/cache/rewind}/k8s/<name>-<version>` (versions in `versions.json`);
 * etcd is Debian's `etcd-server` package. Nothing here downloads or builds anything.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import * as path from 'node:path';
import versions from './versions.json';

export const KUBERNETES_VERSION: string = versions.kubernetes;
export const HELM_VERSION: string = versions.helm;
export const COREDNS_VERSION: string = versions.coredns;

export type Tool =
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kubelet'
  | 'kube-proxy'
  | 'kubectl'
  | 'helm'
  | 'coredns'
  | 'etcd';

const BUILD_HINT =
  'run `test/k8s/build-binaries.sh` (or `scripts/setup.sh`) to build the pinned Kubernetes binaries';

export function cacheDir(): string {
  return process.env.REWIND_CACHE ?? '/var/cache/rewind';
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of a tool, or an error that says how to get it. */
export function binaryPath(tool: Tool): string {
  if (tool === 'etcd') {
    const candidates = [process.env.REWIND_ETCD, '/usr/bin/etcd'].filter(
      (c): c is string => typeof c === 'string' && c.length > 0,
    );
    const found = candidates.find(isExecutable);
    if (found === undefined) {
      throw new Error(
        `etcd not found (looked at ${candidates.join(', ')}): install Debian's etcd-server ` +
          '(`apt-get install -y --no-install-recommends etcd-server`, done by `scripts/setup.sh`) ' +
          'or set REWIND_ETCD',
      );
    }
    return found;
  }
  const version =
    tool === 'helm' ? HELM_VERSION : tool === 'coredns' ? COREDNS_VERSION : KUBERNETES_VERSION;
  const file = path.join(cacheDir(), 'k8s', `${tool}-${version}`);
  if (!isExecutable(file)) {
    throw new Error(`${tool} ${version} not found at ${file}: ${BUILD_HINT}`);
  }
  return file;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Run a tool to completion and collect its output; never throws on a non-zero exit. */
export function run(tool: Tool, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const file = binaryPath(tool);
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        env: { ...process.env, ...options.env },
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`${tool} ${args.join(' ')}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
      },
    );
    if (options.input !== undefined) {
      child.stdin?.end(options.input);
    } else {
      child.stdin?.end();
    }
  });
}

/** Like run(), but throws with the tool's stderr unless it exits 0. */
export async function runOk(tool: Tool, args: string[], options: RunOptions = {}): Promise<string> {
  const result = await run(tool, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${tool} ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}
