/**
 * `npm run demo` interrupted as a person interrupts it: Ctrl-C, which the terminal sends as
 * SIGINT to the demo's whole process group, once everything is running (three VMs, etcd, the
 * API server, the controller, the VDE switch, Prometheus and Alertmanager). The demo must stop
 * everything it started, say so, and exit 130; no process of its tree may be left.
 *
 * The scenario itself (alert → snapshot → merged trace) is the controller's e2e suite's; this
 * suite boots the same VMs through the demo's own entry point, scripts/demo.js.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../vm/kernel';

interface Proc {
  pid: number;
  ppid: number;
  /** Start time in clock ticks since boot: a pid reused later has another. */
  start: string;
  comm: string;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // comm is in parentheses and may hold spaces; the fields after it are space-separated.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      out.push({ pid: Number(entry), ppid: Number(fields[1]), start: fields[19] ?? '', comm });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** `root` and every process below it. */
function tree(root: number): Proc[] {
  const all = processes();
  const found: Proc[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    for (const p of all)
      if (p.pid === pid || p.ppid === pid) {
        if (found.some((f) => f.pid === p.pid)) continue;
        found.push(p);
        if (p.pid !== pid) queue.push(p.pid);
      }
  }
  return found;
}

function alive(p: Proc): boolean {
  if (!existsSync(`/proc/${p.pid}/stat`)) return false;
  const now = processes().find((q) => q.pid === p.pid);
  return now !== undefined && now.start === p.start;
}

describe('npm run demo, interrupted', () => {
  it('Ctrl-C once everything runs: everything it started stops, exit 130', async () => {
    const demo = spawn(process.execPath, [join(projectRoot, 'scripts/demo.js')], {
      cwd: projectRoot,
      detached: true, // its own process group, as a shell gives a foreground job
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    demo.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    demo.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => demo.once('exit', (c) => resolve(c)));
    try {
      const deadline = Date.now() + 900_000;
      while (!/the incident: /.test(stdout)) {
        if (demo.exitCode !== null || Date.now() > deadline)
          throw new Error(`the demo never got to the incident:\n${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      const started = tree(demo.pid as number);
      const comms = started.map((p) => p.comm);
      for (const c of ['qemu-system-x86', 'etcd', 'kube-apiserver', 'prometheus', 'vde_switch'])
        expect(comms.some((n) => n.startsWith(c))).toBe(true);
      expect(comms.filter((n) => n.startsWith('qemu-system-x86'))).toHaveLength(3);
      expect(comms.some((n) => n.startsWith('prometheus-ale') || n === 'alertmanager')).toBe(true);

      process.kill(-(demo.pid as number), 'SIGINT');
      const code = await Promise.race([
        exited,
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 120_000)),
      ]);
      expect(code).toBe(130);
      expect(stderr).toMatch(/SIGINT: stopping everything it started/);
      expect(stderr).toMatch(/nothing is left running/);
      // Let the kernel reap what the demo's children left to init.
      await new Promise((r) => setTimeout(r, 2000));
      expect(started.filter(alive).map((p) => `${p.pid} ${p.comm}`)).toEqual([]);
    } finally {
      if (demo.exitCode === null) {
        try {
          process.kill(-(demo.pid as number), 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
  }, 1_200_000);
});
