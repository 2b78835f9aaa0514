// The built agent and controller, started as real processes the way their containers start them
// (node dist/<name>/main.js) and the way a new user starts them (npm run <name>): they serve their
// endpoints, fail readiness on SIGTERM and exit 0; a start that cannot serve exits 1 with one line
// on stderr naming the cause. The agent needs the native addon (npm run build:native). On this
// host there is no module, so the agent is alive but not ready: its readiness and health say why.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestPki } from '../agent/certs';

const root = join(__dirname, '..', '..');

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without any Rewind variable of the caller's, plus `env`. */
function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('REWIND_') && k !== 'NODE_NAME'),
  );
  return { ...base, ...env };
}

function collect(child: ChildProcess): { output: () => Exit; exited: Promise<Exit> } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const output = (): Exit => ({ code: child.exitCode, stdout, stderr });
  const exited = new Promise<Exit>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { output, exited };
}

/** Resolves with the first JSON log line whose msg matches, or rejects when the process exits. */
function logLine(
  child: ChildProcess,
  msg: string,
  output: () => Exit,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const look = (): void => {
      for (const line of output().stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg === msg) {
          child.stdout?.off('data', look);
          resolve(entry);
        }
      }
    };
    child.stdout?.on('data', look);
    child.once('close', () =>
      reject(new Error(`exited before "${msg}":\n${JSON.stringify(output())}`)),
    );
  });
}

const pki = makeTestPki();
afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));

const processes: {
  name: string;
  /** How it names itself on stderr. */
  program: string;
  portVariable: string;
  bindVariable: string;
  required: Record<string, string>;
  infoMetric: RegExp;
  /** /healthz's and /readyz's bodies while running here. */
  health: RegExp;
  readiness: RegExp;
}[] = [
  {
    name: 'agent',
    program: 'rewind-agent serve',
    portVariable: 'REWIND_AGENT_HEALTH_PORT',
    bindVariable: 'REWIND_AGENT_BIND',
    required: {
      NODE_NAME: 'node-under-test',
      REWIND_AGENT_API_PORT: '0',
      REWIND_TLS_CERT: pki.agent.cert,
      REWIND_TLS_KEY: pki.agent.key,
      REWIND_TLS_CA: pki.ca,
      REWIND_SNAPSHOT_DIR: mkdtempSync(join(tmpdir(), 'rewind-processes-')),
      REWIND_DEVICE: '/nonexistent/rewind',
    },
    infoMetric:
      /^rewind_agent_build_info\{version="0\.1\.0",kernel_release="[^"]+",abi_version="\d+",format_version="\d+"\} 1$/m,
    health: /^degraded: no-device \(\/nonexistent\/rewind does not exist: the module is not loaded/,
    readiness: /^not ready: recording: no-device: /,
  },
  {
    name: 'controller',
    program: 'rewind-controller',
    portVariable: 'REWIND_CONTROLLER_HEALTH_PORT',
    bindVariable: 'REWIND_CONTROLLER_BIND',
    // Standalone: the process alone, no API server (the in-cluster controller runs against a
    // real one in test/controller/).
    required: {
      REWIND_STANDALONE: 'true',
      REWIND_AGENTS: 'node-a=127.0.0.1:9401',
      REWIND_WEBHOOK_TOKEN: 'processes-test',
      REWIND_CONTROLLER_API_PORT: '0',
      REWIND_TLS_CERT: pki.controller.cert,
      REWIND_TLS_KEY: pki.controller.key,
      REWIND_TLS_CA: pki.ca,
      REWIND_DATA_DIR: mkdtempSync(join(tmpdir(), 'rewind-processes-')),
    },
    infoMetric: /^rewind_controller_info\{version="0\.1\.0"\} 1$/m,
    health: /^ok$/,
    readiness: /^ok$/,
  },
];

describe.each(processes)('the $name process', (p) => {
  const main = join(root, 'dist', p.name, 'main.js');
  const program = p.program;
  beforeAll(() => {
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build:ts\` first`);
  });

  /** Starts node dist/<name>/main.js with the required variables, loopback, a free port. */
  const start = (env: Record<string, string> = {}): ChildProcess =>
    spawn('node', [main], {
      env: cleanEnv({
        ...p.required,
        [p.bindVariable]: '127.0.0.1',
        [p.portVariable]: '0',
        REWIND_DRAIN_SECONDS: '2',
        ...env,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  /** Runs it to its end and expects a failed start: exit 1, one line on stderr, nothing served. */
  const failsToStart = async (env: Record<string, string>): Promise<string> => {
    const { exited } = collect(start(env));
    const result = await exited;
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain('started');
    expect(result.stderr.endsWith('\n')).toBe(true);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    return result.stderr.trimEnd();
  };

  it('serves its endpoints and shuts down cleanly on SIGTERM', async () => {
    const child = start();
    const { output, exited } = collect(child);
    try {
      const started = await logLine(child, `${p.name} started`, output);
      const address = (started.listening as { health: string }).health;
      expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
      const url = `http://${address}`;
      const healthz = await fetch(`${url}/healthz`);
      expect(healthz.status).toBe(200);
      expect(await healthz.text()).toMatch(p.health);
      expect(await (await fetch(`${url}/readyz`)).text()).toMatch(p.readiness);
      expect(await (await fetch(`${url}/metrics`)).text()).toMatch(p.infoMetric);

      child.kill('SIGTERM');
      // Draining (2 s): still answering, no longer ready. Polled, not timed.
      let readyz = await fetch(`${url}/readyz`);
      while (!(await readyz.clone().text()).includes('shutdown'))
        readyz = await fetch(`${url}/readyz`);
      expect(readyz.status).toBe(503);
      expect(await readyz.text()).toMatch(/(^not ready: |; )shutdown: shutting down$/);
      const result = await exited;
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('exits 1 naming the address when its port is taken', async () => {
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      expect(await failsToStart({ [p.portVariable]: String(port) })).toBe(
        `${program}: cannot listen on 127.0.0.1:${port}: address already in use`,
      );
    } finally {
      taken.close();
    }
  });

  it('exits 1 when the bind address is not one of this host', async () => {
    expect(await failsToStart({ [p.bindVariable]: '192.0.2.1' })).toMatch(
      new RegExp(
        `^${program}: cannot listen on 192\\.0\\.2\\.1:0: address not available on this host$`,
      ),
    );
  });

  it.each([
    ['not-an-ip', 'bind', 'must be an IPv4 or IPv6 address'],
    ['abc', 'port', 'must be a port number 0–65535 in decimal digits'],
    ['', 'port', 'must be a port number 0–65535 in decimal digits'],
    ['0x50', 'port', 'must be a port number 0–65535 in decimal digits'],
    ['65536', 'port', 'must be a port number 0–65535 in decimal digits'],
    ['bogus', 'log', 'must be one of trace, debug, info, warn, error, fatal'],
  ])('exits 1 with one line for %j as its %s variable', async (value, which, message) => {
    const variable = { bind: p.bindVariable, port: p.portVariable, log: 'REWIND_LOG_LEVEL' }[
      which as 'bind' | 'port' | 'log'
    ];
    expect(await failsToStart({ [variable]: value })).toBe(
      `${program}: invalid configuration: ${variable}=${JSON.stringify(value)}: ${message}`,
    );
  });

  it('stops with no process left when `npm run` is sent SIGTERM', async () => {
    // npm runs a script with `sh -c`; dash (Debian's sh) forks the command instead of exec'ing
    // it, so npm's SIGTERM reached sh only and node kept running. The scripts now `exec node`.
    const npm = spawn('npm', ['run', p.name], {
      cwd: root,
      env: cleanEnv({
        ...p.required,
        [p.bindVariable]: '127.0.0.1',
        [p.portVariable]: '0',
        REWIND_DRAIN_SECONDS: '0',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, to find whatever it started
    });
    const group = npm.pid!;
    const { output } = collect(npm);
    const alive = (): boolean => {
      try {
        process.kill(-group, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      await logLine(npm, `${p.name} started`, output);
      npm.kill('SIGTERM');
      const result = await new Promise<Exit & { signal: NodeJS.Signals | null }>((resolve) =>
        // 'exit', not 'close': a node left behind would hold the output pipes open.
        npm.once('exit', (code, signal) => resolve({ ...output(), code, signal })),
      );
      // npm itself ends with 0 or re-raises the SIGTERM, depending on which it sees first.
      expect([0, 'SIGTERM']).toContain(result.code ?? result.signal);
      expect(result.stderr).toBe('');
      // The bug left node running for good; give a process that is still exiting its moment.
      for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
      expect(alive()).toBe(false);
    } finally {
      if (alive()) process.kill(-group, 'SIGKILL');
    }
  });
});

describe('the agent process', () => {
  it('will not start without NODE_NAME, its identity, or with one that is not a node name', async () => {
    const main = join(root, 'dist', 'agent', 'main.js');
    const run = async (env: Record<string, string>): Promise<Exit> =>
      collect(spawn('node', [main], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] }))
        .exited;
    expect(await run({})).toEqual({
      code: 1,
      stdout: '',
      stderr: 'rewind-agent serve: invalid configuration: NODE_NAME (--node-name) is not set\n',
    });
    const long = await run({ NODE_NAME: 'n'.repeat(254) });
    expect(long.code).toBe(1);
    expect(long.stderr).toMatch(
      /^rewind-agent serve: invalid configuration: NODE_NAME="n{254}": must be at most 253 characters/,
    );
  });

  it('answers a usage error with exit status 2 and its help, and --help with 0', async () => {
    const main = join(root, 'dist', 'agent', 'main.js');
    const run = (args: string[]): Promise<Exit> =>
      collect(
        spawn('node', [main, ...args], { env: cleanEnv({}), stdio: ['ignore', 'pipe', 'pipe'] }),
      ).exited;
    const bogus = await run(['serve', '--bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/^error: unknown option '--bogus'\n/);
    expect(bogus.stderr).toContain('Usage: rewind-agent serve [options]');
    const help = await run(['load-module', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--module-load <value>');
  });
});
