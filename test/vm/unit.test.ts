// Pure parts of the VM harness: no VM is booted here.
import { parseCliArgs } from './cli-main';
import { compareReleases, seriesOf } from './kernel';
import { kernelProblems } from './kernel-log';
import { commandScript, privateNic, privateNicFile, qemuArgs, shellQuote } from './qemu-args';

describe('kernelProblems', () => {
  it('flags bugs, warnings, oopses, GPFs and lockups', () => {
    const log = [
      '[    1.0] virtio_net virtio0 eth0: renamed',
      '[    2.0] WARNING: CPU: 1 PID: 42 at kernel/foo.c:12 bar+0x1/0x2',
      '[    3.0] BUG: kernel NULL pointer dereference, address: 0000000000000000',
      '[    4.0] Oops: 0000 [#1] PREEMPT SMP NOPTI',
      '[    5.0] general protection fault, probably for non-canonical address',
      '[    6.0] watchdog: BUG: soft lockup - CPU#0 stuck for 22s!',
      '[    7.0] rewind: loaded',
    ].join('\n');
    expect(kernelProblems(log)).toHaveLength(5);
    expect(kernelProblems(log)[0]).toContain('WARNING:');
  });

  it('passes a clean log', () => {
    expect(kernelProblems('[ 0.1] Linux version 6.1.0\n[ 2.0] rewind: loaded\n')).toEqual([]);
  });
});

describe('qemuArgs', () => {
  const plan = {
    kernel: '/boot/vmlinuz-6.1.0-56-amd64',
    initramfs: '/c/initrd.gz',
    cpus: 4,
    memoryMiB: 2048,
    controlDir: '/c/ctl',
    consoleLog: '/c/ctl/console.log',
    shares: [{ tag: 'share0', hostPath: '/data/out' }],
    forwards: [
      { hostPort: 40001, guestPort: 7999 },
      { hostPort: 40002, guestPort: 8080 },
    ],
  };
  const args = qemuArgs(plan);
  const after = (flag: string): string[] =>
    args.flatMap((a, i) => (a === flag ? [args[i + 1] as string] : []));

  it('uses TCG with the requested size', () => {
    expect(after('-accel')).toEqual(['tcg,thread=single']);
    expect(qemuArgs({ ...plan, tcgThreads: 'multi' })).toContain('tcg,thread=multi');
    expect(after('-smp')).toEqual(['4']);
    expect(after('-m')).toEqual(['2048']);
  });

  it('mounts the host root read-only and shares read-write', () => {
    const virtfs = after('-virtfs');
    expect(virtfs[0]).toMatch(/^local,path=\/,mount_tag=hostroot,.*readonly=on$/);
    expect(virtfs[1]).toContain('path=/c/ctl,mount_tag=ctl');
    expect(virtfs[1]).not.toContain('readonly');
    expect(virtfs[2]).toContain('path=/data/out,mount_tag=share0');
  });

  it('forwards ports on loopback only, with no way out of the guest', () => {
    const net = after('-netdev')[0] as string;
    expect(net).toContain('restrict=on');
    expect(net).toContain('hostfwd=tcp:127.0.0.1:40001-:7999');
    expect(net).toContain('hostfwd=tcp:127.0.0.1:40002-:8080');
    const fixed = qemuArgs({
      ...plan,
      forwards: [{ hostAddress: '127.0.1.2', hostPort: 9401, guestPort: 9401 }],
    });
    expect(fixed.join(' ')).toContain('hostfwd=tcp:127.0.1.2:9401-:9401');
    expect(() =>
      qemuArgs({ ...plan, forwards: [{ hostAddress: '0.0.0.0', hostPort: 1, guestPort: 1 }] }),
    ).toThrow(/loopback only/);
  });

  it('sends the console to a file and the command output to stdout', () => {
    expect(after('-serial')).toEqual(['file:/c/ctl/console.log', 'chardev:out']);
  });

  it('has one NIC, on the user network, without a private network', () => {
    expect(after('-netdev')).toHaveLength(1);
    expect(after('-device')).toEqual(['virtio-net-pci,netdev=n0']);
    expect(args.join(' ')).not.toContain('vde');
  });

  it('plugs a second NIC with a MAC of its own into the switch of a private network', () => {
    const priv = qemuArgs({
      ...plan,
      privateNetwork: { switchSocket: '/t/sw,1/switch', address: '10.99.0.2/24' },
    });
    const netdevs = priv.flatMap((a, i) => (a === '-netdev' ? [priv[i + 1]] : []));
    const devices = priv.flatMap((a, i) => (a === '-device' ? [priv[i + 1]] : []));
    // The user NIC stays first (eth0, restrict=on); a comma in the path is escaped for qemu.
    expect(netdevs[0]).toMatch(/^user,id=n0,restrict=on/);
    expect(netdevs[1]).toBe('vde,id=n1,sock=/t/sw,,1/switch');
    expect(devices).toEqual([
      'virtio-net-pci,netdev=n0',
      'virtio-net-pci,netdev=n1,mac=52:54:0a:63:00:02',
    ]);
    expect(() =>
      qemuArgs({ ...plan, privateNetwork: { switchSocket: '/s', address: '127.0.0.2/8' } }),
    ).toThrow(/loopback/);
  });

  it('attaches no disk unless asked', () => {
    expect(args).not.toContain('-drive');
    expect(qemuArgs({ ...plan, disks: [] })).not.toContain('-drive');
  });

  it('attaches disks in order, as copy-on-write virtio disks, with commas escaped', () => {
    const withDisks = qemuArgs({ ...plan, disks: ['/c/cache/k8s,v1.ext4', '/c/data.img'] });
    const drives = withDisks.flatMap((a, i) => (a === '-drive' ? [withDisks[i + 1]] : []));
    expect(drives).toEqual([
      'file=/c/cache/k8s,,v1.ext4,if=virtio,format=raw,snapshot=on,cache=unsafe',
      'file=/c/data.img,if=virtio,format=raw,snapshot=on,cache=unsafe',
    ]);
  });
});

describe('privateNic', () => {
  it('derives a locally administered unicast MAC, one per address', () => {
    expect(privateNic('10.99.0.2/24')).toEqual({
      mac: '52:54:0a:63:00:02',
      ip: '10.99.0.2',
      prefix: 24,
    });
    const macs = ['10.99.0.2/24', '10.99.0.3/24', '10.99.1.2/16', '192.168.7.254/24'].map(
      (a) => privateNic(a).mac,
    );
    expect(new Set(macs).size).toBe(macs.length);
    for (const mac of macs) {
      expect(mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      const first = parseInt(mac.slice(0, 2), 16);
      expect(first & 0b10).toBe(0b10); // locally administered
      expect(first & 0b01).toBe(0); // unicast
      expect(mac).not.toBe('52:54:00:12:34:56'); // qemu's default, the user NIC's
    }
    expect(privateNicFile(privateNic('10.99.0.3/24'))).toBe('52:54:0a:63:00:03 10.99.0.3/24\n');
  });

  it.each([
    ['10.99.0.2', /not an IPv4 address with its prefix/],
    ['10.99.0.2/24 ', /not an IPv4 address with its prefix/],
    ['fd00::2/64', /not an IPv4 address with its prefix/],
    ['10.99.0.256/24', /octet above 255/],
    ['10.99.0.2/31', /prefix from 8 to 30/],
    ['10.99.0.2/4', /prefix from 8 to 30/],
    ['127.0.0.2/8', /is a loopback address/],
    ['0.1.2.3/8', /not a unicast address/],
    ['224.0.0.5/24', /not a unicast address/],
    ['10.99.0.0/24', /network or broadcast address of its \/24/],
    ['10.99.0.255/24', /network or broadcast address of its \/24/],
    ['10.0.2.20/24', /overlaps 10\.0\.2\.0\/24/],
    ['10.1.2.3/8', /overlaps 10\.0\.2\.0\/24/],
  ])('refuses %j in one line', (address, why) => {
    expect(() => privateNic(address)).toThrow(why);
    expect(() => privateNic(address)).toThrow(/^private network address "[^\n]*$/);
  });
});

describe('commandScript', () => {
  it('quotes every word', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    const script = commandScript({
      cwd: '/w',
      path: '/bin',
      argv: ['sh', '-c', 'echo "$x"; exit 3'],
    });
    expect(script).toContain(`exec 'sh' '-c' 'echo "$x"; exit 3'`);
    expect(script).toContain(`cd '/w' || exit 126`);
  });
});

describe('parseCliArgs', () => {
  it('takes options before the command and leaves the command alone', () => {
    expect(parseCliArgs(['--cpus', '4', '--out', 'D', 'sh', '-c', 'exit 3', '--cpus'])).toEqual({
      cpus: 4,
      memoryMiB: 1024,
      shareDirs: ['D'],
      argv: ['sh', '-c', 'exit 3', '--cpus'],
    });
  });

  it('takes a host name for the guest', () => {
    expect(parseCliArgs(['--name', 'node-a', 'true']).name).toBe('node-a');
    expect(() => parseCliArgs(['--name', 'Node_A', 'true'])).toThrow(/--name needs a host name/);
  });

  it('takes a kernel series of the matrix and nothing else', () => {
    expect(parseCliArgs(['--kernel', '5.10', 'uname', '-r'])).toMatchObject({
      kernel: '5.10',
      argv: ['uname', '-r'],
    });
    expect(parseCliArgs(['true']).kernel).toBeUndefined();
    expect(() => parseCliArgs(['--kernel', '4.19', 'true'])).toThrow(
      /--kernel needs one of 5\.10, 6\.1, 6\.12/,
    );
    expect(() => parseCliArgs(['--kernel'])).toThrow(/--kernel needs one of/);
  });

  it('rejects a missing command and bad numbers', () => {
    expect(() => parseCliArgs(['--out', 'D'])).toThrow(/no command given/);
    expect(() => parseCliArgs(['--cpus', 'two', 'true'])).toThrow(
      /--cpus needs a positive integer/,
    );
  });
});

describe('seriesOf', () => {
  it("names the series of Debian's release names", () => {
    expect(seriesOf('6.1.0-57-amd64')).toBe('6.1');
    expect(seriesOf('6.12.95+deb12-amd64')).toBe('6.12');
    expect(seriesOf('5.10.0-32-amd64')).toBe('5.10');
  });
});

describe('compareReleases', () => {
  it('orders Debian kernel releases numerically', () => {
    expect(['6.1.0-56-amd64', '6.1.0-9-amd64', '5.10.0-30-amd64'].sort(compareReleases)).toEqual([
      '5.10.0-30-amd64',
      '6.1.0-9-amd64',
      '6.1.0-56-amd64',
    ]);
  });
});
