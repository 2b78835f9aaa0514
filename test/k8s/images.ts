/**
 * Container images without a registry: a root filesystem made here, packed by umoci into an OCI
 * image layout, and tarred into an OCI archive that `ctr images import` loads under its full name
 * (the `io.containerd.image.name` annotation). Building one takes well under a second.
 *
 * Two images are made from Debian's static busybox (package busybox-static): `busybox`, a shell
 * with the usual applets for test pods, and `pause`, the pod sandbox (containerd's sandbox_image),
 * a shell that sleeps until SIGTERM.
 *
 * A limit of this busybox: it is linked statically with glibc, which cannot load NSS modules, so
 * every applet that resolves a name through the C library (wget, nc, ping) crashes on a name; use
 * an address. Its nslookup speaks DNS itself and resolves names as a pod's resolver would.
 */
import {
  chmodSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { commandOk } from './process';

export interface LocalImages {
  /** Full name of the busybox image, e.g. `localhost/rewind/busybox:1.35.0`. */
  busybox: string;
  /** Full name of the sandbox image. */
  pause: string;
  /** The two OCI archives, to import into a node's containerd. */
  archives: string[];
}

const BUSYBOX = '/bin/busybox';

/** The busybox version, from its banner ("BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1)"). */
async function busyboxVersion(): Promise<string> {
  const banner = await commandOk(BUSYBOX, ['--help']).catch(() => '');
  const match = /BusyBox v(\d+\.\d+\.\d+)/.exec(banner);
  if (!match) {
    throw new Error(
      `${BUSYBOX} is not Debian's static busybox (install busybox-static; scripts/setup.sh does)`,
    );
  }
  return match[1];
}

/** A root filesystem with busybox, a link per applet in /bin, and root and nobody users. */
async function busyboxRootfs(dir: string): Promise<string> {
  const rootfs = path.join(dir, 'rootfs');
  for (const sub of ['bin', 'etc', 'tmp', 'root'])
    mkdirSync(path.join(rootfs, sub), { recursive: true });
  chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, path.join(rootfs, 'bin', 'busybox'));
  chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  const applets = (await commandOk(BUSYBOX, ['--list']))
    .split('\n')
    .filter((a) => /^[\w.[-]+$/.test(a));
  for (const applet of applets) {
    if (applet !== 'busybox') symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  }
  writeFileSync(
    path.join(rootfs, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
  );
  writeFileSync(path.join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  return rootfs;
}

/**
 * Pack `rootfs` as image `name` (registry/repository:tag) with an entrypoint, into an OCI archive
 * `<dir>/<file>.tar`.
 */
async function ociArchive(
  dir: string,
  file: string,
  name: string,
  rootfs: string,
  entrypoint: string[],
): Promise<string> {
  const tag = name.slice(name.lastIndexOf(':') + 1);
  const layout = path.join(dir, `${file}-layout`);
  const image = `${layout}:${tag}`;
  await commandOk('umoci', ['init', '--layout', layout]);
  await commandOk('umoci', ['new', '--image', image]);
  await commandOk('umoci', ['insert', '--image', image, rootfs, '/']);
  await commandOk('umoci', [
    'config', '--image', image, '--os', 'linux', '--architecture', 'amd64',
    '--config.env', 'PATH=/bin', '--config.workingdir', '/',
    ...entrypoint.flatMap((arg) => [`--config.entrypoint=${arg}`]),
  ]); // prettier-ignore
  await commandOk('umoci', ['gc', '--layout', layout]);
  // ctr names an image after this annotation; without it, only the tag would be known.
  const indexFile = path.join(layout, 'index.json');
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as {
    manifests: { annotations?: Record<string, string> }[];
  };
  for (const manifest of index.manifests) {
    manifest.annotations = { ...manifest.annotations, 'io.containerd.image.name': name };
  }
  writeFileSync(indexFile, JSON.stringify(index));
  const archive = path.join(dir, `${file}.tar`);
  await commandOk('tar', ['-C', layout, '-cf', archive, '.']);
  return archive;
}

/** Build the busybox and pause images into `dir` (made if missing). */
export async function buildLocalImages(dir: string): Promise<LocalImages> {
  mkdirSync(dir, { recursive: true });
  const version = await busyboxVersion();
  const rootfs = await busyboxRootfs(dir);
  const busybox = `localhost/rewind/busybox:${version}`;
  const pause = `localhost/rewind/pause:busybox-${version}`;
  const archives = await Promise.all([
    ociArchive(dir, 'busybox', busybox, rootfs, ['/bin/sh']),
    // PID 1 of a pod's sandbox: the kernel delivers it only the signals it handles, so the shell
    // traps TERM (a bare `sleep` would ignore it and hold the pod for the whole grace period).
    ociArchive(dir, 'pause', pause, rootfs, [
      '/bin/sh',
      '-c',
      'trap "exit 0" TERM INT; while :; do sleep 86400 & wait $!; done',
    ]),
  ]);
  return { busybox, pause, archives };
}
