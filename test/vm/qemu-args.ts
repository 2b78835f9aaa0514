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
  /** A second NIC on a private Ethernet segment shared with other VMs (a VDE switch). */
  privateNetwork?: PrivateNetwork;
  /**
   * Host raw disk images, attached as virtio disks in this order: the first is /dev/vda in the
   * guest. Each is opened with snapshot=on (see qemuArgs), so the host file is never written.
   */
  disks?: string[];
}

export interface PrivateNetwork {
  /** The switch's socket directory (VdeSwitch.socket, test/vm/switch.ts). */
  switchSocket: string;
  /** The guest's address on that segment, with its prefix: 10.99.0.2/24. */
  address: string;
}

/** What the guest's /init needs to configure its private NIC (the control file `net1`). */
export interface PrivateNic {
  mac: string;
  /** The address without its prefix. */
  ip: string;
  prefix: number;
}

/** The network qemu's user netdev gives eth0 (guest/init): 10.0.2.0/24. */
const USER_NET = { base: 0x0a000200, prefix: 24 };

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/**
 * The private NIC of a VM with this address (an IPv4 CIDR), or a one-line error. Every VM on a
 * segment needs a MAC of its own (qemu gives every NIC the same default, 52:54:00:12:34:56), so
 * the MAC is the address itself behind qemu's locally administered 52:54: one address, one MAC.
 */
export function privateNic(cidr: string): PrivateNic {
  const bad = (why: string): Error =>
    new Error(`private network address ${JSON.stringify(cidr)} ${why}`);
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) throw bad('is not an IPv4 address with its prefix, e.g. 10.99.0.2/24');
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255)) throw bad('has an octet above 255');
  if (prefix < 8 || prefix > 30) throw bad('needs a prefix from 8 to 30');
  const value = octets.reduce((n, o) => n * 256 + o, 0);
  const first = value >>> 24;
  if (first === 127) throw bad('is a loopback address');
  if (first === 0 || first >= 224)
    throw bad('is not a unicast address (0.0.0.0/8, multicast and reserved are refused)');
  const host = (value & ~mask(prefix)) >>> 0;
  if (host === 0 || host === ~mask(prefix) >>> 0)
    throw bad(`is the network or broadcast address of its /${prefix}`);
  const common = mask(Math.min(prefix, USER_NET.prefix));
  if ((value & common) >>> 0 === (USER_NET.base & common) >>> 0)
    throw bad("overlaps 10.0.2.0/24, qemu's user network on eth0");
  const hex = (o: number): string => o.toString(16).padStart(2, '0');
  return { mac: ['52', '54', ...octets.map(hex)].join(':'), ip: octets.join('.'), prefix };
}

/** The control file `net1` that guest/init reads to configure the private NIC. */
export function privateNicFile(nic: PrivateNic): string {
  return `${nic.mac} ${nic.ip}/${nic.prefix}\n`;
}

/** qemu's option syntax: a comma inside a value is written twice. */
function optionValue(value: string): string {
  return value.replace(/,/g, ',,');
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
  // The private NIC comes after the user one, so the guest names it eth1; /init finds it by
  // its MAC all the same.
  const privateNet = plan.privateNetwork
    ? [
        '-netdev',
        `vde,id=n1,sock=${optionValue(plan.privateNetwork.switchSocket)}`,
        '-device',
        `virtio-net-pci,netdev=n1,mac=${privateNic(plan.privateNetwork.address).mac}`,
      ]
    : [];
  // snapshot=on: the guest may write to its disk, but the writes go to a temporary overlay that
  // qemu deletes when it exits. The host file (a shared cache entry) stays pristine, and several
  // VMs may use it at once. cache=unsafe: nothing written there needs to survive a host crash.
  const disks = (plan.disks ?? []).flatMap((path) => [
    '-drive',
    `file=${optionValue(path)},if=virtio,format=raw,snapshot=on,cache=unsafe`,
  ]);
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
    ...privateNet,
    ...disks,
  ];
}

/** Quotes one word for /bin/sh. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The script the guest's /init runs in the host root (see guest/init). */
export function commandScript(opts: { cwd: string; path: string; argv: string[] }): string {
  return [
    `export PATH=${shellQuote(opts.path)} HOME=/tmp/root TERM=dumb LANG=C.UTF-8`,
    'mkdir -p "$HOME"',
    `cd ${shellQuote(opts.cwd)} || exit 126`,
    `exec ${opts.argv.map(shellQuote).join(' ')}`,
    '',
  ].join('\n');
}
