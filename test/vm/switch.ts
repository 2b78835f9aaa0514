/**
 * A VDE switch (`vde_switch`, Debian's vde2): a private Ethernet segment on a Unix socket that
 * test VMs plug into (VmOptions.privateNetwork, qemu's `-netdev vde`). Nothing else is plugged
 * in, so the segment reaches neither the host's network nor the host itself.
 *
 * The switch runs in the foreground with its stdin a pipe that only this process holds:
 * vde_switch exits when its stdin reaches end of file, so a test process that dies in any way,
 * SIGKILL included, takes its switch with it (switch.test.ts proves it).
 */
import { spawn } from 'node:child_process';
import { stopChild } from '../child';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

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
  const failed = new Promise<string>((done) => {
    child.once('error', (e: NodeJS.ErrnoException) =>
      done(
        e.code === 'ENOENT'
          ? `${command} not found: run scripts/setup.sh (it installs vde2)`
          : `cannot start ${command}: ${e.message}`,
      ),
    );
    child.once('exit', (code, signal) => {
      const said = stderr.trim().split('\n').join(' | ');
      done(`${command} exited (${signal ?? code})${said ? `: ${said}` : ''}`);
    });
  });
  let failure: string | undefined;
  void failed.then((why) => (failure = why));

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
