/** The qemu command line of a test VM, as a pure function of its plan. */

export interface PortForward {
  /** A loopback address (127.0.0.0/8); 127.0.0.1 by default. */
  hostAddress?: string;
  hostPort: number;
  guestPort: number;
}

export interface Share {
  /** 9p mount tag (unique per VM). */
  tag: string;
  hostPath: string;
}

export interface QemuPlan {
  kernel: string;
  initramfs: string;
  cpus: number;
  memoryMiB: number;
  /** Host folder that holds the command, and gets back status and kernel log. */
  controlDir: string;
  consoleLog: string;
  shares: Share[];
  forwards: PortForward[];
  extraKernelArgs?: string;
  /**
   * TCG threading: 'single' runs all vCPUs in one host thread, 'multi' one thread per vCPU.
   * Single is the default: with multi-threaded TCG, a guest CPU was seen stuck for good at the
   * int3 entry while another patched kernel text (static keys flipping as tracepoints are
   * unregistered: text_poke_bp), a livelock of the emulator, not of the guest.
   */
  tcgThreads?: 'single' | 'multi';
}

/** Forwards listen on loopback only: a test VM is never reachable from the network. */
function loopback(address = '127.0.0.1'): string {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address))
    throw new Error(`forwarded ports listen on loopback only (127.0.0.0/8), not ${address}`);
  return address;
}

export function qemuArgs(plan: QemuPlan): string[] {
  const virtfs = (tag: string, path: string, readonly: boolean): string[] => [
    '-virtfs',
    `local,path=${path},mount_tag=${tag},security_model=none,multidevs=remap` +
      (readonly ? ',readonly=on' : ''),
  ];
  const net =
    'user,id=n0,restrict=on' +
    plan.forwards
      .map((f) => `,hostfwd=tcp:${loopback(f.hostAddress)}:${f.hostPort}-:${f.guestPort}`)
      .join('');
  return [
    '-accel',
    `tcg,thread=${plan.tcgThreads ?? 'single'}`,
    '-m',
    String(plan.memoryMiB),
    '-smp',
    String(plan.cpus),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-monitor',
    'none',
    '-no-reboot',
    '-kernel',
    plan.kernel,
    '-initrd',
    plan.initramfs,
    '-append',
    `console=ttyS0 loglevel=5 panic=-1 ${plan.extraKernelArgs ?? ''}`.trim(),
    // ttyS0: the kernel console, to a file. ttyS1: the command's output, to qemu's stdout.
    '-serial',
    `file:${plan.consoleLog}`,
    '-chardev',
    'stdio,id=out,signal=off',
    '-serial',
    'chardev:out',
    ...virtfs('hostroot', '/', true),
    ...virtfs('ctl', plan.controlDir, false),
    ...plan.shares.flatMap((s) => virtfs(s.tag, s.hostPath, false)),
    '-netdev',
    net,
    '-device',
    'virtio-net-pci,netdev=n0',
  ];
}

/** Quotes one word for /bin/sh. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The script the guest's /init runs in the chroot. */
export function commandScript(opts: { cwd: string; path: string; argv: string[] }): string {
  return [
    `export PATH=${shellQuote(opts.path)} HOME=/tmp/root TERM=dumb LANG=C.UTF-8`,
    'mkdir -p "$HOME"',
    `cd ${shellQuote(opts.cwd)} || exit 126`,
    `exec ${opts.argv.map(shellQuote).join(' ')}`,
    '',
  ].join('\n');
}
