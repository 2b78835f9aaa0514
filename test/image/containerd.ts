/**
 * A throw-away containerd for the image suites: its own root, state, socket and config in a
 * temporary folder, the CRI plugin off (nothing here is a kubelet), runc through containerd's
 * runc v2 shim — the path a node's containerd takes once the kubelet has pulled an image. `ctr`
 * drives it: `images import` of the archive `npm run image` writes, `run` of containers. Given a
 * root of the caller's, it fills that instead (test/k8s/vmNodeDisk.ts: a VM node's disk).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild } from '../child';
import { requireTool } from './tools';

/** The namespace the kubelet's images live in (CRI's). */
export const NAMESPACE = 'k8s.io';

export interface Mount {
  source: string;
  target: string;
  readOnly?: boolean;
  /** A tmpfs instead of a bind mount (source ignored). */
  tmpfs?: boolean;
}

export interface RunOptions {
  /** Replaces the image's CMD (the entry point stays), as `args` would in a pod. */
  args?: string[];
  env?: Record<string, string>;
  mounts?: Mount[];
  /** The host's network namespace (the test reaches the process's ports on 127.0.0.1). */
  netHost?: boolean;
  /** readOnlyRootFilesystem, as the chart sets for every container. */
  readOnly?: boolean;
  capAdd?: string[];
  /**
   * Run from a mounted root instead of the image: the process runs as root with none of the
   * image's configuration (ctr 1.6 has no --user; this is how a root container is had here).
   */
  rootfs?: string;
  /** Working directory (with rootfs: the image's is not applied). */
  cwd?: string;
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  id: string;
  child: ChildProcess;
  /** What it printed so far (stdout and stderr interleaved). */
  output(): string;
  exited(): boolean;
  /** Resolves when ctr exits, with the container's exit code. */
  finished: Promise<Finished>;
  /** SIGTERM to ctr, which forwards it to the container's process; resolves with its exit. */
  stop(): Promise<Finished>;
}

export interface Containerd {
  dir: string;
  socket: string;
  /** Runs `ctr -a <socket> -n k8s.io ARGS` to its end. */
  ctr(args: string[], timeoutMs?: number): Promise<Finished>;
  /** Starts a container from `image` (removed when it exits). */
  start(image: string, options?: RunOptions): Running;
  /** Runs a container from `image` to its end. */
  run(image: string, options?: RunOptions, timeoutMs?: number): Promise<Finished>;
  /** Mounts `image` read-write at a new folder (a snapshot of its own, dropped by unmount). */
  mountImage(image: string): Promise<string>;
  stop(): Promise<void>;
}

function collect(child: ChildProcess): { done: Promise<Finished>; both: () => string } {
  let stdout = '';
  let stderr = '';
  let both = '';
  child.stdout?.on('data', (d: Buffer) => ((stdout += d.toString()), (both += d.toString())));
  child.stderr?.on('data', (d: Buffer) => ((stderr += d.toString()), (both += d.toString())));
  const done = new Promise<Finished>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { done, both: () => both };
}

function runArgs(options: RunOptions): string[] {
  const a = ['run', '--rm'];
  if (options.netHost) a.push('--net-host');
  if (options.readOnly) a.push('--read-only');
  if (options.rootfs !== undefined) a.push('--rootfs');
  if (options.cwd !== undefined) a.push('--cwd', options.cwd);
  for (const [k, v] of Object.entries(options.env ?? {})) a.push('--env', `${k}=${v}`);
  for (const c of options.capAdd ?? []) a.push('--cap-add', c);
  for (const m of options.mounts ?? []) {
    a.push(
      '--mount',
      m.tmpfs
        ? `type=tmpfs,src=tmpfs,dst=${m.target},options=nosuid:nodev:mode=1777`
        : `type=bind,src=${m.source},dst=${m.target},options=rbind:${m.readOnly ? 'ro' : 'rw'}`,
    );
  }
  return a;
}

async function waitFor(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${ms / 1000} s`);
}

export interface ContainerdOptions {
  /**
   * containerd's root (content, metadata, snapshots), kept by stop(). Default: a folder in the
   * temporary one, removed with it. State, socket and config stay in the temporary folder.
   */
  root?: string;
}

/** Starts containerd in a temporary folder and waits until it answers. */
export async function startContainerd(options: ContainerdOptions = {}): Promise<Containerd> {
  requireTool('containerd', 'containerd');
  requireTool('ctr', 'containerd');
  requireTool('containerd-shim-runc-v2', 'containerd');
  requireTool('runc', 'runc');
  if (process.getuid?.() !== 0) {
    throw new Error('the image suites run containers with containerd: run them as root');
  }
  const dir = mkdtempSync(join(tmpdir(), 'rewind-containerd-'));
  const socket = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${options.root ?? join(dir, 'root')}"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${socket}.ttrpc"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${dir}/opt"`,
      '',
    ].join('\n'),
  );
  const logFile = join(dir, 'containerd.log');
  const logFd = openSync(logFile, 'a');
  const daemon = spawn('containerd', ['--config', config], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const log = () => readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');

  const ctr = (args: string[], timeoutMs = 120_000): Promise<Finished> =>
    new Promise((resolve) => {
      execFile(
        'ctr',
        ['-a', socket, '-n', NAMESPACE, ...args],
        { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });

  try {
    await waitFor(
      'containerd answering',
      async () => {
        if (daemon.exitCode !== null) throw new Error(`containerd exited:\n${log()}`);
        return (await ctr(['version'], 5_000)).code === 0;
      },
      30_000,
    );
  } catch (e) {
    await stopChild(daemon);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  let containers = 0;
  const mounts: string[] = [];
  const running = new Set<Running>();
  const start = (image: string, options: RunOptions = {}): Running => {
    const id = `rewind-image-test-${process.pid}-${++containers}`;
    const child = spawn(
      'ctr',
      [
        '-a',
        socket,
        '-n',
        NAMESPACE,
        ...runArgs(options),
        options.rootfs ?? image,
        id,
        ...(options.args ?? []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const { done, both } = collect(child);
    const r: Running = {
      id,
      child,
      output: both,
      exited: () => child.exitCode !== null || child.signalCode !== null,
      finished: done,
      async stop() {
        if (!r.exited()) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        const result = await done;
        clearTimeout(timer);
        running.delete(r);
        return result;
      },
    };
    void done.then(() => running.delete(r));
    running.add(r);
    return r;
  };

  return {
    dir,
    socket,
    ctr,
    start,
    async run(image, options = {}, timeoutMs = 120_000) {
      const r = start(image, options);
      const timer = setTimeout(() => void r.stop(), timeoutMs);
      const result = await r.finished;
      clearTimeout(timer);
      return result;
    },
    async mountImage(image) {
      const target = mkdtempSync(join(dir, 'mnt-'));
      const r = await ctr(['images', 'mount', '--rw', image, target]);
      if (r.code !== 0) throw new Error(`ctr images mount ${image}: ${r.stderr.trim()}`);
      mounts.push(target);
      return target;
    },
    async stop() {
      await Promise.all([...running].map((r) => r.stop()));
      for (const m of mounts) await ctr(['images', 'unmount', '--rm', m]);
      await stopChild(daemon);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
