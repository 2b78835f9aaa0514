// The VDE switch private networks between test VMs plug into (switch.ts): the real vde_switch,
// started, stopped, and gone with the test process that started it even when that one is killed.
// The VMs on it are in vm.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from './kernel';
import { startSwitch } from './switch';

/** Whether a process is still there (a zombie counts as gone: it runs nothing). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
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
