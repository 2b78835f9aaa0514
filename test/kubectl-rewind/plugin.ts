/**
 * `kubectl rewind` as a person runs it, for suites with a real API server: the pinned kubectl of
 * test/k8s finds the built plugin on PATH (a `kubectl-rewind` link to the package bin in a folder
 * of its own) and runs it with a kubeconfig of the test's choosing — the admin's, or a real
 * ServiceAccount token's (TokenRequest) for a user with only the rights a test gives it.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlPlane } from '../k8s/controlPlane';
import { run, type RunResult } from '../k8s/binaries';
import { builtProgram } from '../agent/vm-node';
import { projectRoot } from '../vm/kernel';
import { CONNECTION_CONFIGMAP } from '../../kubectl-rewind/connection-info';

export interface Plugin {
  /** The folder put first on PATH. */
  binDir: string;
  /** `kubectl rewind ARGS` with this kubeconfig (and more environment). */
  run(
    args: string[],
    kubeconfig: string,
    env?: NodeJS.ProcessEnv,
    timeoutMs?: number,
  ): Promise<RunResult>;
}

export function installPlugin(root: string): Plugin {
  builtProgram('kubectl-rewind'); // refuses a stale dist/
  const binDir = mkdtempSync(join(root, 'plugin-bin-'));
  symlinkSync(
    join(projectRoot, 'kubectl-rewind', 'bin', 'kubectl-rewind.js'),
    join(binDir, 'kubectl-rewind'),
  );
  return {
    binDir,
    run: (args, kubeconfig, env = {}, timeoutMs = 300_000) =>
      run('kubectl', ['rewind', ...args], {
        env: { PATH: `${binDir}:${process.env.PATH ?? ''}`, KUBECONFIG: kubeconfig, ...env },
        timeoutMs,
      }),
  };
}

/** A kubeconfig for `token` against the control plane, current namespace `namespace`. */
export function userKubeconfig(
  cp: ControlPlane,
  dir: string,
  user: string,
  token: string,
  namespace: string,
): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `kubeconfig-${user}`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'test', cluster: { server: cp.server, 'certificate-authority': cp.caFile } },
      ],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: user, context: { cluster: 'test', user, namespace } }],
      'current-context': user,
    }),
    { mode: 0o600 },
  );
  return file;
}

/** A ServiceAccount (created if missing) and a real token for it (TokenRequest). */
export async function serviceAccountToken(
  cp: ControlPlane,
  namespace: string,
  name: string,
): Promise<string> {
  await cp.kubectl(['-n', namespace, 'create', 'serviceaccount', name]);
  return (await cp.kubectlOk(['-n', namespace, 'create', 'token', name, '--duration=2h'])).trim();
}

/** Grants `verbs` on tracesnapshots in `namespace` to a ServiceAccount (a Role and its binding). */
export async function grantSnapshots(
  cp: ControlPlane,
  namespace: string,
  sa: { namespace: string; name: string },
  verbs: string[],
): Promise<void> {
  const role = `${sa.name}-snapshots`;
  await cp.kubectlOk([
    '-n',
    namespace,
    'create',
    'role',
    role,
    `--verb=${verbs.join(',')}`,
    '--resource=tracesnapshots.rewind.dev',
  ]);
  await cp.kubectlOk([
    '-n',
    namespace,
    'create',
    'rolebinding',
    role,
    `--role=${role}`,
    `--serviceaccount=${sa.namespace}:${sa.name}`,
  ]);
}

/**
 * What the chart publishes for the plugin (charts/rewind/templates/controller/connection.yaml),
 * for suites that run the controller without the chart.
 */
export async function publishConnection(
  cp: ControlPlane,
  o: { namespace: string; caPem: string; serverName: string; apiPort: number; selector: string },
): Promise<void> {
  await cp.kubectlOk(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: CONNECTION_CONFIGMAP, namespace: o.namespace },
      data: {
        'ca.crt': o.caPem,
        serverName: o.serverName,
        apiPort: String(o.apiPort),
        controllerSelector: o.selector,
      },
    }),
  });
}
