/**
 * A Rewind node in a VM, as the chart runs one: the built `rewind-agent load-module` loads this
 * tree's module (as the image's prebuilt one), then the built `rewind-agent serve` records with
 * its TLS files. Used by the agent's VM suite and the controller's end-to-end suite.
 *
 * The programs are the built dist/ (`npm run build:ts`, done by `npm test`'s build step). A dist/
 * older than a source would test stale code: that is an error saying what to run, not a second
 * compile.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot, resolveKernel } from '../vm/kernel';
import type { Vm } from '../vm/vm';
import type { TestPki } from './certs';

export const AGENT_API = 9401;
export const AGENT_HEALTH = 9402;
export const LOADER_HEALTH = 9403;

/** `node dist/<program>/main.js`, refusing a dist/ older than the sources it is built from. */
export function builtProgram(program: 'agent' | 'controller' | 'kubectl-rewind'): string {
  const main = join(projectRoot, 'dist', program, 'main.js');
  // The plugin is built from the controller's model and client too.
  const sources = program === 'kubectl-rewind' ? [program, 'controller'] : [program];
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build:ts`);
  const newer = spawnSync(
    'find',
    [
      ...sources,
      'common',
      'native/lib',
      'native/index.ts',
      '-name',
      '*.ts',
      '!',
      '-name',
      '*.test.ts',
      '-newer',
      main,
    ],
    { cwd: projectRoot, encoding: 'utf8' },
  ).stdout.trim();
  if (newer) throw new Error(`dist/ is older than ${newer.split('\n')[0]}: run npm run build:ts`);
  return `node ${main}`;
}

/** Polls a forwarded guest port's /readyz (or `path`) until 200; throws with the process's log. */
export async function waitReady(
  vm: Vm,
  port: number,
  log: string,
  path: '/readyz' | '/healthz' = '/readyz',
): Promise<void> {
  // node loads its modules over 9p under TCG: tens of seconds.
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    try {
      const r = await vm.httpGet(port, path, 2000);
      if (r.status === 200) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error(`${log} did not become ready:\n${await vm.run(`cat ${log}`)}`);
}

/**
 * The loader as the chart runs it, with the image's layout of prebuilt modules
 * (<dir>/<release>/rewind.ko): this tree's module, built for the kernel the VM boots. `out` is a
 * host folder the guest reads through the host root.
 */
export async function loadModuleInVm(
  vm: Vm,
  node: string,
  out: string,
  options: {
    /** More variables (a policy, e.g. REWIND_MODULE_ALLOWED_RELEASES). */
    env?: Record<string, string>;
    /** Wait for /readyz (loaded); false: only for /healthz (a loader left degraded). */
    ready?: boolean;
  } = {},
): Promise<void> {
  const modules = join(out, 'modules');
  const prebuilt = join(modules, resolveKernel().release);
  mkdirSync(prebuilt, { recursive: true });
  cpSync(join(projectRoot, 'kmod', 'rewind.ko'), join(prebuilt, 'rewind.ko'));
  await vm.run(
    `NODE_NAME=${node} REWIND_MODULE_PREBUILT_DIR=${modules} ` +
      `REWIND_MODULE_SOURCE_DIR=/nonexistent REWIND_MODULE_BUILD_CACHE=/tmp/rewind-modules ` +
      Object.entries(options.env ?? {})
        .map(([k, v]) => `${k}='${v}' `)
        .join('') +
      `setsid ${builtProgram('agent')} load-module >>/tmp/loader.log 2>&1 </dev/null & ` +
      'echo $! >/tmp/loader.pid',
  );
  await waitReady(
    vm,
    LOADER_HEALTH,
    '/tmp/loader.log',
    options.ready === false ? '/healthz' : '/readyz',
  );
}

export interface AgentInVm {
  node: string;
  pki: TestPki;
  /** Extra variables, e.g. ring sizes. */
  env?: Record<string, string>;
  /** Wait for /readyz (recording); false: only for /healthz (an agent left degraded). */
  ready?: boolean;
}

/** Starts `rewind-agent serve` in the background (pid in /tmp/agent.pid) and waits for /readyz. */
export async function startAgentInVm(vm: Vm, a: AgentInVm): Promise<void> {
  await startAgentProcessInVm(
    vm,
    {
      NODE_NAME: a.node,
      REWIND_TLS_CERT: a.pki.agent.cert,
      REWIND_TLS_KEY: a.pki.agent.key,
      REWIND_TLS_CA: a.pki.ca,
      REWIND_SNAPSHOT_DIR: '/tmp/rewind-snapshots',
      REWIND_DRAIN_SECONDS: '1',
      ...a.env,
    },
    { ready: a.ready },
  );
}

/**
 * `rewind-agent serve` with exactly this environment, in the background (pid in /tmp/agent.pid,
 * output in /tmp/agent.log), after making the folders in `dirs`; waits for /readyz (or /healthz
 * with ready: false).
 */
export async function startAgentProcessInVm(
  vm: Vm,
  env: Record<string, string>,
  options: { ready?: boolean; dirs?: string[] } = {},
): Promise<void> {
  const vars = Object.entries(env)
    .map(([k, v]) => `${k}='${v.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  const mkdirs = (options.dirs ?? []).map((d) => `mkdir -p '${d}' && `).join('');
  await vm.run(
    // The agent alone in the background, its output in a file: the exec server answers once
    // every holder of the command's stdout has gone.
    `${mkdirs}${vars} setsid ${builtProgram('agent')} serve >>/tmp/agent.log 2>&1 </dev/null & ` +
      'echo $! >/tmp/agent.pid',
  );
  await waitReady(
    vm,
    AGENT_HEALTH,
    '/tmp/agent.log',
    options.ready === false ? '/healthz' : '/readyz',
  );
}
