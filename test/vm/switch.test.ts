// The VDE switch private networks between test VMs plug into (switch.ts): the real vde_switch,
// started, stopped, and gone with the test process that started it even when that one is killed;
// and the host plugged into it through a real tap (root only: these touch the host's links, under
// names of their own, rwtest0 and rwtest1, removed after each test whatever happens). The VMs on
// it are in vm.test.ts; no VM is booted here.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from './kernel';
import { plugHost, startSwitch, type HostPlug, type VdeSwitch } from './switch';

/** Whether a process is still there (a zombie counts as gone: it runs nothing). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** `ip -j` of one link: its flags and IPv4 addresses, or undefined if there is no such link. */
function link(name: string): { flags: string[]; addresses: string[] } | undefined {
  const r = spawnSync('ip', ['-j', 'addr', 'show', 'dev', name], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const [info] = JSON.parse(r.stdout) as {
    flags: string[];
    addr_info: { family: string; local: string; prefixlen: number }[];
  }[];
  return {
    flags: info?.flags ?? [],
    addresses: (info?.addr_info ?? [])
      .filter((a) => a.family === 'inet')
      .map((a) => `${a.local}/${a.prefixlen}`),
  };
}

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end;) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('startSwitch', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rewind-switch-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('serves a control socket for the owner only until stopped', async () => {
    const sw = await startSwitch(dir);
    try {
      expect(sw.socket).toBe(join(dir, 'switch'));
      expect(statSync(join(sw.socket, 'ctl')).isSocket()).toBe(true);
      expect(statSync(sw.socket).mode & 0o777).toBe(0o700);
      expect(running(sw.pid)).toBe(true);
    } finally {
      await sw.stop();
    }
    expect(running(sw.pid)).toBe(false);
    expect(existsSync(sw.socket)).toBe(false);
    await sw.stop(); // twice is harmless
  });

  it('says how to install vde_switch when it is missing', async () => {
    await expect(startSwitch(dir, { command: 'vde_switch-not-installed' })).rejects.toThrow(
      /^VDE switch at .*: vde_switch-not-installed not found: run scripts\/setup\.sh \(it installs vde2\)$/,
    );
  });

  it('reports a switch that exits at once, with its own words', async () => {
    await expect(startSwitch(dir, { command: 'false' })).rejects.toThrow(
      /^VDE switch at .*: false exited \(1\)/,
    );
  });

  it('goes away with a test process killed by SIGKILL', async () => {
    const r = spawnSync(
      process.execPath,
      [
        require.resolve('jest/bin/jest'),
        '--ci',
        '--runInBand',
        '--rootDir',
        projectRoot,
        '--testMatch',
        '**/test/vm/fixtures/switch-orphan.fixture.ts',
      ],
      {
        cwd: projectRoot,
        env: { ...process.env, REWIND_SWITCH_FIXTURE_DIR: dir },
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(r.signal).toBe('SIGKILL');
    const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
    expect(pid).toBeGreaterThan(0);
    expect(await until(() => !running(pid), 5000)).toBe(true);
    // vde_switch cleans up on end of file: its socket directory is gone too.
    expect(existsSync(join(dir, 'switch'))).toBe(false);
  });
});

describe('plugHost', () => {
  const TAPS = ['rwtest0', 'rwtest1'];
  // A subnet of this suite's own: the Kubernetes VM node's link (10.98.0.0/24, test/k8s) may be
  // on the host at the same time, in the other lane.
  const ADDRESS = '10.97.254.1/24';
  let dir: string;
  let sw: VdeSwitch;
  const plugs: HostPlug[] = [];
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rewind-plug-'));
    sw = await startSwitch(dir);
  });
  afterEach(async () => {
    for (const plug of plugs.splice(0)) await plug.stop();
    await sw.stop();
    for (const tap of TAPS) spawnSync('ip', ['link', 'delete', 'dev', tap], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });

  it('puts the host on the segment with its address, until stopped', async () => {
    const plug = await plugHost(sw, { tap: 'rwtest0', address: ADDRESS });
    plugs.push(plug);
    expect(plug.tap).toBe('rwtest0');
    expect(running(plug.pid)).toBe(true);
    const up = link('rwtest0');
    expect(up?.addresses).toEqual([ADDRESS]);
    expect(up?.flags).toContain('UP');
    await plug.stop();
    expect(running(plug.pid)).toBe(false);
    expect(link('rwtest0')).toBeUndefined();
    await plug.stop(); // twice is harmless
    expect(running(sw.pid)).toBe(true); // the switch is the caller's to stop
  });

  it('refuses a tap name that is taken, and leaves that interface alone', async () => {
    // Someone else's interface: a persistent tap, which vde_plug2tap would attach to.
    expect(spawnSync('ip', ['tuntap', 'add', 'dev', 'rwtest1', 'mode', 'tap']).status).toBe(0);
    await expect(plugHost(sw, { tap: 'rwtest1', address: ADDRESS })).rejects.toThrow(
      /^host plug rwtest1 on .*: an interface named rwtest1 already exists$/,
    );
    expect(link('rwtest1')?.addresses).toEqual([]);
  });

  it('refuses a bad address or tap name before plugging anything', async () => {
    await expect(plugHost(sw, { tap: 'rwtest0', address: '10.97.254.1' })).rejects.toThrow(
      /^host plug rwtest0 on .*: private network address "10\.97\.254\.1" is not an IPv4 address with its prefix[^\n]*$/,
    );
    await expect(plugHost(sw, { tap: 'rwtest0-far-too-long', address: ADDRESS })).rejects.toThrow(
      /a tap name is 1 to 15 letters/,
    );
    expect(link('rwtest0')).toBeUndefined();
  });

  it('says how to install vde_plug2tap when it is missing', async () => {
    await expect(
      plugHost(sw, { tap: 'rwtest0', address: ADDRESS, command: 'vde_plug2tap-not-there' }),
    ).rejects.toThrow(
      /^host plug rwtest0 on .*: vde_plug2tap-not-there not found: run scripts\/setup\.sh \(it installs vde2\)$/,
    );
  });

  it('reports a plug that cannot join its switch, with its own words, and leaves no tap', async () => {
    await sw.stop();
    await expect(plugHost(sw, { tap: 'rwtest0', address: ADDRESS })).rejects.toThrow(
      /^host plug rwtest0 on .*: vde_plug2tap exited \(1\): .*vde_open/,
    );
    expect(link('rwtest0')).toBeUndefined();
  });

  it('goes away on its own, tap and all, when its switch stops', async () => {
    const plug = await plugHost(sw, { tap: 'rwtest0', address: ADDRESS });
    plugs.push(plug);
    await sw.stop();
    expect(await until(() => !running(plug.pid), 5000)).toBe(true);
    expect(link('rwtest0')).toBeUndefined();
    await plug.stop(); // harmless once gone
  });

  it('goes away, tap and all, with a test process killed by SIGKILL', async () => {
    // The owner starts a switch of its own (not this test's, in a folder of its own) and plugs
    // the host in, then dies: its switch sees the end of its stdin and exits, and the plug
    // follows its switch.
    const script = `
      const { writeFileSync } = require('node:fs');
      const { plugHost, startSwitch } = require(${JSON.stringify(join(__dirname, 'switch.ts'))});
      (async () => {
        const dir = process.env.REWIND_PLUG_FIXTURE_DIR;
        const sw = await startSwitch(dir + '/owner');
        const plug = await plugHost(sw, { tap: 'rwtest1', address: ${JSON.stringify(ADDRESS)} });
        writeFileSync(dir + '/pids', sw.pid + ' ' + plug.pid);
        process.kill(process.pid, 'SIGKILL');
      })();
    `;
    const r = spawnSync(
      process.execPath,
      ['-r', join(projectRoot, 'test', 'ts-register.js'), '-e', script],
      {
        cwd: projectRoot,
        env: { ...process.env, REWIND_PLUG_FIXTURE_DIR: dir },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(r.stderr).toBe('');
    expect(r.signal).toBe('SIGKILL');
    const [switchPid, plugPid] = readFileSync(join(dir, 'pids'), 'utf8').split(' ').map(Number);
    expect(await until(() => !running(switchPid as number), 5000)).toBe(true);
    expect(await until(() => !running(plugPid as number), 5000)).toBe(true);
    expect(link('rwtest1')).toBeUndefined();
  });
});
