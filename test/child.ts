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
