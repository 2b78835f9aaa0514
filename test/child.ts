/**
 * Ending a process a test started: SIGTERM, then SIGKILL after a grace, and resolve only once it
 * has exited — so that a test's cleanup never removes a folder a process is still writing (an
 * Alertmanager flushing its state, an etcd its WAL: rmSync then fails with ENOTEMPTY).
 */
import type { ChildProcess } from 'node:child_process';

export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (exited(child)) return;
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

/**
 * Processes that live and end together (a control plane, a node's daemons): killed at once if
 * the test process exits first; stop() ends them newest first, each with its grace, so a
 * dependent (the API server, the kubelet) goes before what it depends on.
 */
export class ChildGroup {
  private readonly children: ChildProcess[] = [];
  private readonly killAll = (): void => {
    for (const child of this.children) if (!exited(child)) child.kill('SIGKILL');
  };

  constructor() {
    process.on('exit', this.killAll);
  }

  /** SIGKILL to every one still running (a failed start: nothing to wait for). */
  kill(): void {
    this.killAll();
  }

  add<T extends ChildProcess>(child: T): T {
    this.children.push(child);
    return child;
  }

  async stop(graceMs: number): Promise<void> {
    for (const child of [...this.children].reverse()) await stopChild(child, graceMs);
    process.removeListener('exit', this.killAll);
  }
}
