/**
 * Test VMs: Debian's kernel under qemu (TCG), the host root mounted read-only at the same paths,
 * a writable /tmp. Two ways in:
 *  - runVm(): boot, run one command, stream its output, power off, return its exit status;
 *  - Vm.start(): boot a VM that keeps running an exec server, so a test can run many commands,
 *    reach guest TCP ports through forwarded host ports, read the kernel log, then stop it.
 * VMs plugged into one switch (switch.ts) share a private network of their own
 * (VmOptions.privateNetwork). Every VM's kernel log is checked for bugs, warnings, oopses and
 * lockups when it stops.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../ports';
import { ensureInitramfs, projectRoot, resolveKernel, type Kernel } from './kernel';
import { KernelLogError, kernelProblems } from './kernel-log';
import {
  commandScript,
  privateNic,
  privateNicFile,
  qemuArgs,
  type PortForward,
  type PrivateNetwork,
  type PrivateNic,
  type Share,
} from './qemu-args';

export interface VmOptions {
  /** A name for logs and the guest's hostname. */
  name?: string;
  cpus?: number;
  memoryMiB?: number;
  /** Guest TCP ports to forward to free ports on 127.0.0.1 (see hostPort()). */
  forwardPorts?: number[];
  /**
   * Guest TCP ports forwarded to a given loopback address and port, e.g. an agent's 9401 on
   * 127.0.1.2:9401 so that it can stand for a pod IP (the test must pick addresses apart).
   */
  fixedForwards?: { hostAddress: string; hostPort: number; guestPort: number }[];
  /** Host folders shared read-write at the same path inside the guest (created if missing). */
  shareDirs?: string[];
  /** Working directory of commands inside the guest; the project root by default. */
  cwd?: string;
  extraKernelArgs?: string;
  /** Where kernel logs are kept; test-output/vm by default. */
  logDir?: string;
  /**
   * The kernel series to boot (5.10, 6.1, 6.12: see kernel.ts); the host's installed kernel by
   * default. Another series is fetched into the cache on first use.
   */
  kernel?: string;
  /**
   * A second NIC on a private Ethernet segment shared with the other VMs plugged into the same
   * switch (startSwitch() in switch.ts), with this address (10.99.0.2/24): guests reach each
   * other there; the host does not, and no route leads out of it.
   */
  privateNetwork?: PrivateNetwork;
  /**
   * Host raw disk images attached as virtio disks, the first as /dev/vda (a relative path is
   * taken from the current directory; a missing file is refused before qemu starts). The guest
   * may write to them, but qemu throws its writes away when it exits: the host files never
   * change, so several VMs may share one (a cache entry, say).
   */
  disks?: string[];
  /**
   * More host paths under /tmp that the guest must still see through its own /tmp tmpfs (read-
   * only, at the same path), like the project root when it lives there. Others are ignored: the
   * rest of the host root is visible anyway.
   */
  keepPaths?: string[];
}

export interface ExecResult {
  code: number;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

const EXEC_PORT = 7999;
let vmCounter = 0;

export { freePort } from '../ports';

interface Prepared {
  name: string;
  nic: PrivateNic | undefined;
  kernel: Kernel;
  controlDir: string;
  consoleLog: string;
  args: string[];
}

function prepare(opts: VmOptions, argv: string[], forwards: PortForward[]): Prepared {
  const name = opts.name ?? `vm${++vmCounter}`;
  // A bad address is refused before anything is made.
  const nic = opts.privateNetwork && privateNic(opts.privateNetwork.address);
  const disks = (opts.disks ?? []).map((d) => resolve(d));
  for (const disk of disks)
    if (!existsSync(disk)) throw new Error(`VM ${name}: disk image ${disk} does not exist`);
  const kernel = resolveKernel(opts.kernel);
  const initramfs = ensureInitramfs(kernel.release, kernel.modulesRoot);
  const controlDir = mkdtempSync(join(tmpdir(), `rewind-${name}-`));
  const shares: Share[] = (opts.shareDirs ?? []).map((dir, i) => {
    const hostPath = resolve(dir);
    mkdirSync(hostPath, { recursive: true });
    return { tag: `share${i}`, hostPath };
  });
  writeFileSync(join(controlDir, 'shares'), shares.map((s) => `${s.tag} ${s.hostPath}\n`).join(''));
  writeFileSync(join(controlDir, 'hostname'), name);
  if (nic) writeFileSync(join(controlDir, 'net1'), privateNicFile(nic));
  // The guest mounts a tmpfs on /tmp; a project that lives under the host's /tmp (a CI clone,
  // say) must stay visible through it, and so must a fetched kernel's modules (a REWIND_CACHE
  // under /tmp), which the guest loads with modprobe -d.
  const cwd = opts.cwd ?? projectRoot;
  const keep = [
    ...new Set([
      projectRoot,
      cwd,
      kernel.modulesRoot,
      ...(opts.keepPaths ?? []).map((p) => resolve(p)),
    ]),
  ].filter((p) => p.startsWith('/tmp/'));
  writeFileSync(join(controlDir, 'keep'), keep.map((p) => `${p}\n`).join(''));
  writeFileSync(
    join(controlDir, 'cmd'),
    commandScript({
      cwd: opts.cwd ?? projectRoot,
      path: process.env.PATH ?? '/usr/bin:/bin',
      argv,
    }),
  );
  const consoleLog = join(controlDir, 'console.log');
  const args = qemuArgs({
    kernel: kernel.image,
    initramfs,
    cpus: opts.cpus ?? 2,
    memoryMiB: opts.memoryMiB ?? 1024,
    controlDir,
    consoleLog,
    shares,
    forwards,
    extraKernelArgs: opts.extraKernelArgs,
    tcgThreads: process.env.REWIND_VM_TCG_THREADS === 'multi' ? 'multi' : 'single',
    privateNetwork: opts.privateNetwork,
    disks,
  });
  return { name, nic, kernel, controlDir, consoleLog, args };
}

function readIfExists(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/** The kernel log a VM left: dmesg taken at power-off if it got that far, else the console. */
function finalKernelLog(p: Prepared): string {
  return readIfExists(join(p.controlDir, 'dmesg')) || readIfExists(p.consoleLog);
}

function keepLog(name: string, log: string, logDir?: string): string {
  const dir = logDir ?? join(projectRoot, 'test-output', 'vm');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}-${Date.now()}.log`);
  writeFileSync(path, log);
  return path;
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolveExit) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolveExit(child.exitCode);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveExit(code);
    });
  });
}

export interface RunResult {
  /** The command's exit status; 125 if the VM died before the command finished. */
  code: number;
  kernelLog: string;
  kernelProblems: string[];
}

/**
 * Boots a fresh VM, runs argv inside from the project root, streams its output to `output`,
 * powers off. Shares `shareDirs` read-write at the same paths.
 */
export async function runVm(
  argv: string[],
  opts: VmOptions & { output?: NodeJS.WritableStream; timeoutMs?: number } = {},
): Promise<RunResult> {
  if (argv.length === 0) throw new Error('runVm: no command given');
  const p = prepare(opts, argv, []);
  const child = spawn('qemu-system-x86_64', p.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(opts.output ?? process.stdout, { end: false });
  child.stderr?.pipe(process.stderr, { end: false });
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (e) =>
      reject(new Error(`cannot start qemu-system-x86_64 (${e.message}): run scripts/setup.sh`)),
    ),
  );
  await Promise.race([waitExit(child, opts.timeoutMs ?? 30 * 60_000), spawnError]);
  const status = readIfExists(join(p.controlDir, 'status')).trim();
  const kernelLog = finalKernelLog(p);
  rmSync(p.controlDir, { recursive: true, force: true });
  return {
    code: status === '' ? 125 : Number(status),
    kernelLog,
    kernelProblems: kernelProblems(kernelLog),
  };
}

/** A running VM with an exec server inside. */
export class Vm {
  private exited = false;
  private checkedLines = 0;
  readonly logs: string[] = [];

  private constructor(
    readonly name: string,
    private readonly prepared: Prepared,
    private readonly child: ChildProcess,
    private readonly ports: Map<number, number>,
    private readonly logDir: string | undefined,
  ) {
    child.once('exit', () => (this.exited = true));
  }

  static async start(opts: VmOptions = {}): Promise<Vm> {
    const guestPorts = [EXEC_PORT, ...(opts.forwardPorts ?? [])];
    const forwards: PortForward[] = [];
    for (const guestPort of guestPorts) forwards.push({ guestPort, hostPort: await freePort() });
    forwards.push(...(opts.fixedForwards ?? []));
    const server = join(__dirname, 'guest', 'exec-server.js');
    const p = prepare(opts, ['node', server, String(EXEC_PORT)], forwards);
    const child = spawn('qemu-system-x86_64', p.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let qemuOutput = '';
    child.stdout?.on('data', (c: Buffer) => (qemuOutput += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (qemuOutput += c.toString()));
    const vm = new Vm(
      p.name,
      p,
      child,
      new Map(forwards.filter((f) => !f.hostAddress).map((f) => [f.guestPort, f.hostPort])),
      opts.logDir,
    );
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (vm.exited || Date.now() > deadline) {
        child.kill('SIGKILL');
        const log = finalKernelLog(p);
        throw new Error(
          `VM ${p.name} did not come up (${vm.exited ? 'qemu exited' : 'timed out'}).\n` +
            `qemu/guest output:\n${qemuOutput.slice(-2000)}\nkernel log tail:\n${log.slice(-3000)}`,
        );
      }
      try {
        if ((await vm.http('GET', '/ping', undefined, 2000)) === 'pong') break;
      } catch {
        /* not up yet */
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    return vm;
  }

  /** The kernel this VM booted. */
  get kernel(): Kernel {
    return this.prepared.kernel;
  }

  /** The guest's address on its private network (without the prefix), if it has one. */
  get privateAddress(): string | undefined {
    return this.prepared.nic?.ip;
  }

  /** The host port (on 127.0.0.1) forwarded to a guest port given in forwardPorts. */
  hostPort(guestPort: number): number {
    const port = this.ports.get(guestPort);
    if (port === undefined) throw new Error(`guest port ${guestPort} is not forwarded`);
    return port;
  }

  private http(method: string, path: string, body?: unknown, timeoutMs = 0): Promise<string> {
    return new Promise((resolveBody, reject) => {
      const req = request(
        // A connection of its own per request (agent: false): a kept-alive one that the guest
        // closed while the host was busy (a long synchronous build) is reused dead through
        // qemu's user networking and fails with "socket hang up".
        {
          host: '127.0.0.1',
          port: this.hostPort(EXEC_PORT),
          method,
          path,
          timeout: timeoutMs,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode === 200) resolveBody(text);
            else reject(new Error(`VM ${this.name}: ${method} ${path}: ${res.statusCode} ${text}`));
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`VM ${this.name}: ${path} timed out`)));
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  /**
   * GET `path` from a forwarded guest port: status and body. Each request gives up after
   * `timeoutMs` (the caller retries): through qemu's user networking, a connection to a guest
   * port nothing listens on yet can stay open forever.
   */
  async httpGet(
    guestPort: number,
    path: string,
    timeoutMs = 5000,
  ): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://127.0.0.1:${this.hostPort(guestPort)}${path}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, body: await res.text() };
  }

  /** Runs a shell command line as root in the guest, from the project root. */
  async exec(
    command: string,
    opts: { timeoutMs?: number; input?: string } = {},
  ): Promise<ExecResult> {
    if (this.exited) throw new Error(`VM ${this.name} is not running`);
    return JSON.parse(await this.http('POST', '/exec', { command, ...opts })) as ExecResult;
  }

  /** Like exec(), but throws with the command's output unless it exits 0. */
  async run(command: string, opts: { timeoutMs?: number; input?: string } = {}): Promise<string> {
    const r = await this.exec(command, opts);
    if (r.code !== 0) {
      throw new Error(
        `VM ${this.name}: \`${command}\` exited ${r.code}${r.timedOut ? ' (timed out)' : ''}\n` +
          `stdout:\n${r.stdout.slice(-4000)}\nstderr:\n${r.stderr.slice(-4000)}`,
      );
    }
    return r.stdout;
  }

  /** The guest's kernel log (dmesg), or the console log once the guest is gone. */
  async kernelLog(): Promise<string> {
    if (!this.exited) {
      try {
        return (await this.exec('dmesg', { timeoutMs: 20_000 })).stdout;
      } catch {
        /* fall through to the console */
      }
    }
    return finalKernelLog(this.prepared);
  }

  /** Saves the kernel log with the test output and returns its path. */
  async saveKernelLog(log?: string): Promise<string> {
    const path = keepLog(this.name, log ?? (await this.kernelLog()), this.logDir);
    this.logs.push(path);
    return path;
  }

  /** Throws KernelLogError if the kernel log grew problem lines since the last check. */
  async checkKernelLog(): Promise<void> {
    const lines = (await this.kernelLog()).split('\n');
    const fresh = lines.slice(this.checkedLines);
    this.checkedLines = lines.length;
    const problems = kernelProblems(fresh.join('\n'));
    if (problems.length > 0) {
      throw new KernelLogError(this.name, problems, await this.saveKernelLog(lines.join('\n')));
    }
  }

  /** Powers the VM off; throws KernelLogError if its kernel log shows a problem. */
  async stop(): Promise<void> {
    let log = '';
    if (!this.exited) {
      log = await this.kernelLog();
      await this.http('POST', '/shutdown', undefined, 5000).catch(() => undefined);
      await waitExit(this.child, 30_000);
    }
    log = finalKernelLog(this.prepared) || log;
    rmSync(this.prepared.controlDir, { recursive: true, force: true });
    // Lines already reported by checkKernelLog() are not reported twice.
    const problems = kernelProblems(log.split('\n').slice(this.checkedLines).join('\n'));
    if (problems.length > 0) {
      throw new KernelLogError(this.name, problems, await this.saveKernelLog(log));
    }
  }

  /** Kills qemu at once (for cleanup after a failure). */
  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}
