/**
 * The image, built for real (`npm run image`: buildah from the Dockerfile, over a local stand-in
 * for node:20-bookworm-slim) and run the way a node runs it: the archive imported into containerd
 * (`ctr -n k8s.io images import`, a throw-away containerd of this suite's own), containers started
 * by runc through containerd's shim. Each program the chart's containers run starts from the
 * image as the chart configures it: the controller (the image's default command, user 65532,
 * read-only root) serves /readyz; the agent's three commands, as root with the chart's
 * variables and mounts, stay up degraded on this host (no kernel headers or prebuilt module for
 * its kernel, no /dev/rewind, no kubelet) and say why. The native addon loads and decodes what it
 * writes; the prebuilt rewind.ko matches the release it is filed under. A build on a cache miss
 * takes minutes (test/image/README.md); a hit, under a second.
 */
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestPki } from '../agent/certs';
import { freePorts } from '../ports';
import {
  appVersion,
  buildFailure,
  buildImage,
  IMAGE_NAME,
  requireBuildTools,
  type ImageBuild,
} from './build';
import { startContainerd, type Containerd, type Mount, type Running } from './containerd';

/**
 * What the image may weigh (all layers, uncompressed): 559 MiB when written (the base 286, the
 * loader's compiler 180, node_modules 88); a leak such as apt's downloaded packages (128 MiB) or a
 * dev dependency in the runtime fails here.
 */
const SIZE_BUDGET_MIB = 640;
/** The image's own user, as the Dockerfile's USER line sets it (the controller runs as it). */
const IMAGE_USER = '65532';

interface Manifest {
  config: { digest: string };
  layers: { size: number }[];
}
interface ImageConfig {
  config: {
    User?: string;
    Env?: string[];
    Cmd?: string[];
    Entrypoint?: string[];
    WorkingDir?: string;
  };
}

async function get(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return { status: r.status, body: await r.text() };
  } catch {
    return undefined;
  }
}

/** Polls until `check` holds; on timeout fails with what the container printed. */
async function until(
  what: string,
  c: Running,
  check: () => Promise<boolean>,
  ms = 60_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (c.exited()) throw new Error(`${what}: the container exited:\n${c.output()}`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${ms / 1000} s; the container printed:\n${c.output()}`);
}

describe('the image, built with buildah and run by containerd + runc', () => {
  let build: ImageBuild;
  let ctd: Containerd;
  let imported = '';
  let manifest: Manifest;
  let config: ImageConfig;
  let scratch = '';
  let tls = '';

  beforeAll(async () => {
    requireBuildTools();
    build = await buildImage();
    if (build.code !== 0) throw new Error(buildFailure(build));
    ctd = await startContainerd();
    const r = await ctd.ctr(['images', 'import', build.archive], 600_000);
    if (r.code !== 0) throw new Error(`ctr images import ${build.archive}: ${r.stderr.trim()}`);
    imported = r.stdout;
    // What containerd stored, read back as a kubelet's runtime would: manifest, then config.
    const ls = await ctd.ctr(['images', 'ls']);
    const row = ls.stdout.split('\n').find((l) => l.split(/\s+/)[0] === IMAGE_NAME);
    const digest = row?.split(/\s+/)[2];
    if (digest === undefined) throw new Error(`${IMAGE_NAME} not in ctr images ls:\n${ls.stdout}`);
    manifest = JSON.parse((await ctd.ctr(['content', 'get', digest])).stdout) as Manifest;
    config = JSON.parse(
      (await ctd.ctr(['content', 'get', manifest.config.digest])).stdout,
    ) as ImageConfig;
    scratch = mkdtempSync(join(tmpdir(), 'rewind-image-test-'));
    chmodSync(scratch, 0o755);
    // The chart's TLS secret as a folder, readable by the image's user (the controller).
    const pki = makeTestPki(scratch);
    tls = join(scratch, 'tls');
    mkdirSync(tls, { mode: 0o755 });
    for (const [from, to] of [
      [pki.ca, 'ca.crt'],
      [pki.controller.cert, 'tls.crt'],
      [pki.controller.key, 'tls.key'],
      [pki.agent.cert, 'agent.crt'],
      [pki.agent.key, 'agent.key'],
    ] as const) {
      copyFileSync(from, join(tls, to));
      chmodSync(join(tls, to), 0o644);
    }
  }, 60 * 60_000);

  afterAll(async () => {
    await ctd?.stop();
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  });

  it(`is imported by ctr under ${IMAGE_NAME}, the chart's rewind:<appVersion>`, () => {
    expect(build.archive).toMatch(/^\/.*\.tar$/);
    expect(existsSync(build.archive)).toBe(true);
    expect(imported).toContain(IMAGE_NAME);
    expect(IMAGE_NAME).toBe(`docker.io/library/rewind:${appVersion()}`);
  });

  it('stays within its size budget', () => {
    const bytes = manifest.layers.reduce((sum, l) => sum + l.size, 0);
    const mib = Math.round(bytes / 2 ** 20);
    const archiveMib = Math.round(statSync(build.archive).size / 2 ** 20);
    console.log(
      `image: ${mib} MiB in ${manifest.layers.length} layers (archive ${archiveMib} MiB, ` +
        `${build.archive}); npm run image took ${build.seconds.toFixed(1)} s`,
    );
    expect(manifest.layers.length).toBeGreaterThan(0);
    expect(mib).toBeLessThanOrEqual(SIZE_BUDGET_MIB);
  });

  it(`runs as ${IMAGE_USER}:${IMAGE_USER} unless told otherwise`, async () => {
    expect(config.config.User).toBe(`${IMAGE_USER}:${IMAGE_USER}`);
    const r = await ctd.run(IMAGE_NAME, { args: ['sh', '-c', 'id -u; id -g'] });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([IMAGE_USER, IMAGE_USER]);
  });

  it("starts the controller from the image's default command and serves /readyz", async () => {
    expect(config.config.Cmd).toEqual(['node', 'dist/controller/main.js']);
    // Standalone mode (no API server here): the TLS files and a data volume, as the chart
    // mounts them, writable by the image's user.
    const data = join(scratch, 'data');
    mkdirSync(data);
    chownSync(data, Number(IMAGE_USER), Number(IMAGE_USER));
    const [apiPort, healthPort, agentPort] = await freePorts(3);
    const c = ctd.start(IMAGE_NAME, {
      netHost: true,
      readOnly: true,
      env: {
        POD_NAME: 'rewind-controller-image-test',
        REWIND_CONTROLLER_BIND: '127.0.0.1',
        REWIND_CONTROLLER_API_PORT: String(apiPort),
        REWIND_CONTROLLER_HEALTH_PORT: String(healthPort),
        REWIND_DRAIN_SECONDS: '0',
        REWIND_STANDALONE: 'true',
        REWIND_AGENTS: `node-1=127.0.0.1:${agentPort}`,
        REWIND_TLS_CERT: '/etc/rewind/tls/tls.crt',
        REWIND_TLS_KEY: '/etc/rewind/tls/tls.key',
        REWIND_TLS_CA: '/etc/rewind/tls/ca.crt',
        REWIND_DATA_DIR: '/var/lib/rewind',
        REWIND_WEBHOOK_TOKEN: 'image-test-token',
      },
      mounts: [
        { source: tls, target: '/etc/rewind/tls', readOnly: true },
        { source: data, target: '/var/lib/rewind' },
      ],
    });
    const health = `http://127.0.0.1:${healthPort}`;
    await until(
      'the controller ready',
      c,
      async () => (await get(`${health}/readyz`))?.status === 200,
    );
    expect((await get(`${health}/healthz`))?.status).toBe(200);
    const end = await c.stop();
    expect({ code: end.code, output: end.stdout + end.stderr }).toEqual({
      code: 0,
      output: expect.stringContaining('rewind-controller') as unknown,
    });
  });

  it("lists the agent's three commands", async () => {
    const r = await ctd.run(IMAGE_NAME, { args: ['node', 'dist/agent/main.js', '--help'] });
    expect(r.code).toBe(0);
    for (const command of ['serve', 'load-module', 'device-plugin']) {
      expect(r.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    }
  });

  /**
   * A node command as the chart runs it: root, a read-only root file system, the chart's
   * variables and mounts (charts/rewind/templates/{node,agent}/daemonset.yaml). ctr 1.6 cannot
   * override the image's user, so the image is mounted and run as a root file system, with the
   * image's variables and working directory passed along.
   */
  async function startNodeCommand(
    command: string,
    env: Record<string, string>,
    mounts: Mount[],
    capAdd: string[] = [],
  ): Promise<Running> {
    const root = await ctd.mountImage(IMAGE_NAME);
    return ctd.start(IMAGE_NAME, {
      rootfs: root,
      cwd: config.config.WorkingDir ?? '/',
      netHost: true,
      readOnly: true,
      capAdd,
      env: {
        ...Object.fromEntries((config.config.Env ?? []).map((e) => e.split(/=(.*)/s, 2))),
        NODE_NAME: 'image-test-node',
        REWIND_AGENT_BIND: '127.0.0.1',
        REWIND_DRAIN_SECONDS: '0',
        REWIND_LOG_LEVEL: 'info',
        ...env,
      },
      mounts,
      args: ['node', 'dist/agent/main.js', command],
    });
  }

  /**
   * Node processes degrade, they never crash-loop: /healthz 200 with `degraded: <why>`, /readyz
   * 503 with the reason, and still so after the next attempt (`retried` in the log; without a
   * log line per attempt, a few seconds).
   */
  async function expectDegraded(
    c: Running,
    port: number,
    expected: { healthz: RegExp; readyz: string; says: string; retried?: RegExp },
  ): Promise<void> {
    const health = `http://127.0.0.1:${port}`;
    await until('health answering', c, async () => (await get(`${health}/healthz`)) !== undefined);
    const retried = expected.retried;
    if (retried) await until('a retry', c, async () => retried.test(c.output()), 30_000);
    else await new Promise((r) => setTimeout(r, 3000));
    const healthz = await get(`${health}/healthz`);
    expect(healthz?.status).toBe(200);
    expect(healthz?.body).toMatch(expected.healthz);
    expect(healthz?.body).toContain(expected.says);
    const readyz = await get(`${health}/readyz`);
    expect(readyz?.status).toBe(503);
    expect(readyz?.body).toContain(expected.readyz);
    expect(c.exited()).toBe(false);
    const end = await c.stop();
    expect({ code: end.code, stderr: end.stderr }).toEqual({ code: 0, stderr: '' });
  }

  it('runs load-module as the chart does: degraded on this host, saying why, staying up', async () => {
    const kernel = release();
    // A host that has this kernel's modules could load rewind.ko for real: the kill switch keeps
    // the suite from inserting a module into the machine that runs it.
    const hostCanLoad = existsSync(join('/lib/modules', kernel));
    const state = join(scratch, 'module-state');
    const buildCache = join(scratch, 'module-cache');
    mkdirSync(state);
    mkdirSync(buildCache);
    const [port] = await freePorts(1);
    const c = await startNodeCommand(
      'load-module',
      {
        REWIND_LOADER_HEALTH_PORT: String(port),
        REWIND_MODULE_LOAD: hostCanLoad ? 'never' : 'auto',
        REWIND_MODULE_ALLOWED_RELEASES: '',
        REWIND_MODULE_BUILD_CACHE: '/var/cache/rewind/modules',
        REWIND_MODULE_HEADERS_ROOT: '/lib/modules',
        REWIND_MODULE_RETRY_MAX_SECONDS: '300',
        REWIND_MODULE_UNLOAD_ON_EXIT: 'false',
        REWIND_MODULE_STATE_FILE: '/var/run/rewind/module/state.json',
      },
      [
        ...['/lib/modules', '/usr/src']
          .filter((p) => existsSync(p))
          .map((p) => ({ source: p, target: p, readOnly: true })),
        { source: buildCache, target: '/var/cache/rewind/modules' },
        { source: state, target: '/var/run/rewind/module' },
        { source: '', target: '/tmp', tmpfs: true },
      ],
      ['CAP_SYS_MODULE'],
    );
    const reason = hostCanLoad ? 'disabled' : 'no-headers';
    await expectDegraded(c, port!, {
      healthz: new RegExp(`^degraded: ${reason} \\(`),
      readyz: reason,
      says: hostCanLoad ? 'switched off' : `/lib/modules/${kernel}/build`,
      retried: /"failures":2\b/,
    });
    const file = JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')) as unknown;
    expect(file).toMatchObject({ state: 'degraded', reason, kernelRelease: kernel });
  });

  it('runs serve as the chart does: degraded without the device, saying why, staying up', async () => {
    const snapshots = join(scratch, 'snapshots');
    mkdirSync(snapshots);
    const [apiPort, port] = await freePorts(2);
    const c = await startNodeCommand(
      'serve',
      {
        REWIND_AGENT_API_PORT: String(apiPort),
        REWIND_AGENT_HEALTH_PORT: String(port),
        REWIND_TLS_CERT: '/etc/rewind/tls/agent.crt',
        REWIND_TLS_KEY: '/etc/rewind/tls/agent.key',
        REWIND_TLS_CA: '/etc/rewind/tls/ca.crt',
        REWIND_CONTROLLER_IDENTITY: 'rewind-controller',
        REWIND_DEVICE: '/dev/rewind',
        REWIND_SNAPSHOT_DIR: '/var/run/rewind/snapshots',
        REWIND_CGROUP_ROOT: '/sys/fs/cgroup',
        REWIND_MODULE_STATE_FILE: '/var/run/rewind/module/state.json',
      },
      [
        { source: tls, target: '/etc/rewind/tls', readOnly: true },
        { source: snapshots, target: '/var/run/rewind/snapshots' },
      ],
    );
    await expectDegraded(c, port!, {
      healthz: /^degraded: no-device \(/,
      readyz: 'no-device',
      says: '/dev/rewind does not exist',
    });
  });

  it('runs device-plugin as the chart does: degraded without a kubelet, saying why, staying up', async () => {
    const plugins = join(scratch, 'device-plugins');
    const hostDev = join(scratch, 'host-dev');
    mkdirSync(plugins);
    mkdirSync(hostDev);
    const [port] = await freePorts(1);
    const c = await startNodeCommand(
      'device-plugin',
      {
        REWIND_DEVICE_PLUGIN_HEALTH_PORT: String(port),
        REWIND_DEVICE: '/dev/rewind',
        REWIND_DEVICE_PLUGIN_WATCH: '/host/dev/rewind',
        REWIND_DEVICE_PLUGIN_DIR: '/var/lib/kubelet/device-plugins',
        REWIND_DEVICE_RESOURCE: 'rewind.dev/recorder',
        REWIND_DEVICE_PLUGIN_DEVICES: '1',
      },
      [
        { source: plugins, target: '/var/lib/kubelet/device-plugins' },
        { source: hostDev, target: '/host/dev', readOnly: true },
      ],
    );
    await expectDegraded(c, port!, {
      healthz: /^degraded: not registered with the kubelet \(/,
      readyz: 'kubelet-registration',
      says: 'kubelet.sock does not exist',
      retried: /"attempt":2\b/,
    });
  });

  it('loads the native addon, which writes and decodes a trace', async () => {
    const script = `
      const n = require('./dist/native');
      (async () => {
        const written = await n.writeSyntheticTrace('/tmp/trace', { hostname: 'image-test', cpus: 2, eventsPerCpu: 500, seed: 7 });
        const summary = await n.validateTrace('/tmp/trace');
        console.log(JSON.stringify({ version: n.nativeVersion(), written, events: summary.events, hosts: summary.nodes.map((x) => x.hostname) }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const r = await ctd.run(IMAGE_NAME, {
      readOnly: true,
      mounts: [{ source: '', target: '/tmp', tmpfs: true }],
      args: ['node', '-e', script],
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      version: string;
      written: number;
      events: number;
      hosts: string[];
    };
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as {
      version: string;
    };
    expect(out.version).toBe(pkg.version);
    expect(out.written).toBeGreaterThanOrEqual(1000);
    expect(out.events).toBe(out.written);
    expect(out.hosts).toEqual(['image-test']);
  });

  it('ships rewind.ko prebuilt for each release it is filed under (vermagic)', async () => {
    const r = await ctd.run(IMAGE_NAME, {
      args: [
        'sh',
        '-c',
        'for ko in /app/modules/*/rewind.ko; do [ -f "$ko" ] || continue; ' +
          'echo "$ko|$(modinfo -F name "$ko")|$(modinfo -F vermagic "$ko")"; done',
      ],
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const modules = r.stdout
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split('|'));
    expect(modules.length).toBeGreaterThan(0);
    for (const [path, name, vermagic] of modules) {
      const filedUnder = /^\/app\/modules\/([^/]+)\/rewind\.ko$/.exec(path ?? '')?.[1];
      expect({ path, name, release: vermagic?.split(' ')[0] }).toEqual({
        path,
        name: 'rewind',
        release: filedUnder,
      });
    }
  });
});
