/**
 * A VDE switch (`vde_switch`, Debian's vde2): a private Ethernet segment on a Unix socket that
 * test VMs plug into (VmOptions.privateNetwork, qemu's `-netdev vde`). Unless plugHost() plugs the
 * host in, the segment reaches neither the host's network nor the host itself.
 *
 * The switch runs in the foreground with its stdin a pipe that only this process holds:
 * vde_switch exits when its stdin reaches end of file, so a test process that dies in any way,
 * SIGKILL included, takes its switch with it (switch.test.ts proves it).
 *
 * plugHost() puts the host on the segment through a tap interface of its own (`vde_plug2tap`),
 * routed, without NAT: a VM that is a Kubernetes node must reach the host's API server, and the
 * host its pods. vde_plug2tap ignores its stdin (end of file does not end it, unlike the switch);
 * what ends it is its switch: it exits as soon as the switch does, however the switch ended,
 * and its tap, not persistent, goes with it. So a plug lives no longer than its switch, and the
 * switch no longer than the process that started it: a test process killed by SIGKILL takes
 * switch, plug and tap with it (switch.test.ts proves that too).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { exited, stopChild } from '../child';
import { privateNic } from './qemu-args';

export interface VdeSwitch {
  /** The switch's socket directory, for qemu's `-netdev vde,sock=…`. */
  readonly socket: string;
  readonly pid: number;
  /** SIGTERM, SIGKILL after a grace; resolves once the switch has exited and its socket is gone. */
  stop(): Promise<void>;
}

export interface SwitchOptions {
  /** The program; `vde_switch` on PATH by default. */
  command?: string;
  /** How long the switch may take to create its control socket. */
  readyTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  graceMs?: number;
}

/** The command line: the socket directory and its control socket for the owner only. */
export function switchArgs(socket: string): string[] {
  return ['--sock', socket, '--mode', '600', '--dirmode', '700'];
}

/** Why a child ended or could not start, in one line. */
function failureOf(child: ChildProcess, command: string, stderr: () => string): Promise<string> {
  return new Promise<string>((done) => {
    child.once('error', (e: NodeJS.ErrnoException) =>
      done(
        e.code === 'ENOENT'
          ? `${command} not found: run scripts/setup.sh (it installs vde2)`
          : `cannot start ${command}: ${e.message}`,
      ),
    );
    child.once('exit', (code, signal) => {
      const said = stderr().trim().split('\n').join(' | ');
      done(`${command} exited (${signal ?? code})${said ? `: ${said}` : ''}`);
    });
  });
}

/** Starts a switch whose socket is `<dir>/switch`; resolves once VMs can plug in. */
export async function startSwitch(dir: string, opts: SwitchOptions = {}): Promise<VdeSwitch> {
  const command = opts.command ?? 'vde_switch';
  const socket = join(resolve(dir), 'switch');
  mkdirSync(dir, { recursive: true });
  // stdin a pipe never written nor closed (see the header); stdout carries only its prompt.
  const child = spawn(command, switchArgs(socket), { stdio: ['pipe', 'ignore', 'pipe'] });
  child.stdin?.on('error', () => undefined);
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  let failure: string | undefined;
  void failureOf(child, command, () => stderr).then((why) => (failure = why));

  const stop = async (graceMs = opts.graceMs ?? 5000): Promise<void> => {
    if (child.pid !== undefined) await stopChild(child, graceMs);
    // The pipe's end kept open for the switch (see the header) would keep this process alive.
    child.stdin?.destroy();
    // vde_switch removes its socket directory on a clean exit, not after SIGKILL.
    rmSync(socket, { recursive: true, force: true });
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000);
  while (!existsSync(join(socket, 'ctl'))) {
    if (failure !== undefined) {
      await stop();
      throw new Error(`VDE switch at ${socket}: ${failure}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `VDE switch at ${socket}: no control socket after ${opts.readyTimeoutMs ?? 10_000} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { socket, pid: child.pid as number, stop: () => stop() };
}

export interface HostPlug {
  /** The host's interface on the segment. */
  readonly tap: string;
  readonly pid: number;
  /** SIGTERM, SIGKILL after a grace; resolves once the plug has exited and its tap is gone. */
  stop(): Promise<void>;
}

export interface PlugOptions {
  /** The tap's name: one that no interface on the host has yet, 15 characters at most. */
  tap: string;
  /** The host's address on the segment, with its prefix: 10.98.0.1/24. */
  address: string;
  /** The program; `vde_plug2tap` on PATH by default. */
  command?: string;
  /** How long the plug may take to create its tap and join the switch. */
  readyTimeoutMs?: number;
}

/** Runs `ip` (iproute2); resolves with its error output, or undefined if it succeeded. */
function ip(...args: string[]): Promise<string | undefined> {
  return new Promise((done) =>
    execFile('ip', args, (error, _stdout, stderr) =>
      done(error ? stderr.trim() || error.message : undefined),
    ),
  );
}

async function linkExists(name: string): Promise<boolean> {
  return (await ip('link', 'show', 'dev', name)) === undefined;
}

/**
 * What a process's descriptors above 0-2 point to (`socket:[…]`, a path), as /proc shows them;
 * one closed while read is ''. Throws when the process is gone.
 */
export function openFiles(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  return readdirSync(dir)
    .filter((fd) => Number(fd) > 2)
    .map((fd) => {
      try {
        return readlinkSync(`${dir}/${fd}`);
      } catch {
        return '';
      }
    });
}

/**
 * Whether the plug has joined its switch. vde_plug2tap creates its tap first and connects to the
 * switch after (a control and a data socket), so a tap alone does not mean frames flow yet. Its
 * descriptors 0-2 are the ones it was given; any socket above them is its own.
 */
function joinedSwitch(pid: number): boolean {
  try {
    return openFiles(pid).filter((l) => l.startsWith('socket:')).length >= 2;
  } catch {
    return false;
  }
}

/**
 * Plugs the host into a switch: a tap interface with this address, up, on the switch's segment.
 * Resolves once frames flow. The tap must be new: an interface of that name, whoever made it, is
 * refused rather than taken over (or deleted by stop()).
 */
export async function plugHost(sw: VdeSwitch, opts: PlugOptions): Promise<HostPlug> {
  const command = opts.command ?? 'vde_plug2tap';
  const { tap, address } = opts;
  const fail = (why: string): Error => new Error(`host plug ${tap} on ${sw.socket}: ${why}`);
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(tap))
    throw fail('a tap name is 1 to 15 letters, digits, ".", "-" or "_"');
  try {
    // The host is one more address on the segment, checked as the VMs' are.
    privateNic(address);
  } catch (e) {
    throw fail((e as Error).message);
  }
  if (await linkExists(tap)) throw fail(`an interface named ${tap} already exists`);

  // No stdin pipe as for the switch: the plug ignores it (see the header).
  const child = spawn(command, ['--sock', sw.socket, tap], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  let failure: string | undefined;
  void failureOf(child, command, () => stderr).then((why) => (failure = why));

  // The tap is deleted only once it was seen while this plug ran: then it is the plug's own.
  let tapSeen = false;
  const stop = async (): Promise<void> => {
    if (child.pid !== undefined) await stopChild(child, 5000);
    // Normally gone with the plug (it is not persistent); this is for the odd one left over.
    if (tapSeen && (await linkExists(tap))) await ip('link', 'delete', 'dev', tap);
  };

  const timeoutMs = opts.readyTimeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.pid !== undefined && !exited(child) && joinedSwitch(child.pid)) {
      tapSeen = await linkExists(tap);
      if (tapSeen) break;
    }
    if (failure !== undefined || Date.now() > deadline) {
      await stop();
      throw fail(failure ?? `not on the switch after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const refused =
    (await ip('addr', 'add', address, 'dev', tap)) ?? (await ip('link', 'set', 'dev', tap, 'up'));
  if (refused !== undefined) {
    await stop();
    throw fail(`cannot configure ${address} on ${tap}: ${refused}`);
  }
  return { tap, pid: child.pid as number, stop };
}
