/**
 * `npm run demo` interrupted: SIGINT to the demo alone while its VMs still boot. Only its own
 * code can stop its children then (a terminal's Ctrl-C would also reach them, as the group's
 * foreground job), and some starts are still in flight. The demo must stop everything it
 * started, say so, and exit 130; no process of its tree may be left.
 *
 * Ctrl-C once everything runs (Prometheus and Alertmanager too) is not tested here: it takes a
 * whole boot of the scenario more (about five minutes of the suite under load), and stopping the
 * running parts is the path every normal end of the demo and the e2e suite takes.
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

/** The demo started in a process group of its own, as a shell starts a foreground job. */
function startDemo() {
  const demo = spawn(process.execPath, [join(projectRoot, 'scripts/demo.js')], {
    cwd: projectRoot,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  demo.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  demo.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => demo.once('exit', (c) => resolve(c)));
  const until = async (pattern: RegExp, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(out.stdout)) {
      if (demo.exitCode !== null || Date.now() > deadline)
        throw new Error(`the demo never printed ${pattern}:\n${out.stdout}\n${out.stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const exit = () =>
    Promise.race([
      exited,
      // unref: a pending timer must not keep jest up once the demo has exited.
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 180_000).unref()),
    ]);
  const kill = () => {
    if (demo.exitCode !== null) return;
    try {
      process.kill(-(demo.pid as number), 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  return { demo, out, until, exit, kill };
}

describe('npm run demo, interrupted', () => {
  it('SIGINT to the demo alone while the VMs boot: it stops what it started, also what was still starting', async () => {
    const d = startDemo();
    try {
      await d.until(/booting three VMs/, 120_000);
      // Once the three qemus run (the VMs still boot: tens of seconds), with etcd and the switch.
      let started: Proc[] = [];
      const deadline = Date.now() + 60_000;
      while (started.filter((p) => p.comm.startsWith('qemu-system-x86')).length < 3) {
        if (Date.now() > deadline) throw new Error(`no three qemus: ${JSON.stringify(started)}`);
        await new Promise((r) => setTimeout(r, 200));
        started = tree(d.demo.pid as number);
      }
      expect(started.some((p) => p.comm === 'vde_switch')).toBe(true);
      process.kill(d.demo.pid as number, 'SIGINT');
      expect(await d.exit()).toBe(130);
      expect(d.out.stderr).toMatch(/nothing is left running/);
      await new Promise((r) => setTimeout(r, 2000));
      expect(started.filter(alive).map((p) => `${p.pid} ${p.comm}`)).toEqual([]);
    } finally {
      d.kill();
    }
  }, 600_000);
});
