/**
 * The shared fixture of the install suites: a real control plane per test file, with the chart
 * installed (or not), the components' ServiceAccount tokens and helpers. Each file gets its own
 * kube-apiserver + etcd (5–8 s to start, measured in test/k8s/README.md), so a file can run
 * alone and no file depends on another's leftovers.
 *
 *   const cluster = useCluster({ install: true });
 *   test('…', async () => { await cluster.cp.kubectlOk(['get', 'ns']); });
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dump } from 'js-yaml';
import { run, type RunResult } from './binaries';
import { CHART_DIR } from './chart';
import { type ControlPlane, startControlPlane } from './controlPlane';

export const NS = 'rewind-system';
export const RELEASE = 'rewind';
/** A second namespace, for cross-namespace checks. */
export const OTHER_NS = 'team-a';

export interface Cluster {
  cp: ControlPlane;
  /** A directory removed after the file's tests. */
  scratch: string;
  /** What `helm install` printed (install: true). */
  installOutput: RunResult;
  /** The agent's and controller's ServiceAccount tokens (install: true). */
  tokens: { agent: string; controller: string };
  /** helm against this control plane. */
  helm(args: string[]): Promise<RunResult>;
  /** `kubectl create -f` of one object; returns the result (exit code and messages). */
  createObject(object: unknown): Promise<RunResult>;
}

/**
 * Registers beforeAll/afterAll in the calling test file and returns the cluster, whose fields
 * are filled in by beforeAll. With `install`, the chart is installed as release `rewind` in
 * `rewind-system` and the tokens are made.
 */
export function useCluster({ install }: { install: boolean }): Cluster {
  const cluster = {} as Cluster;
  beforeAll(async () => {
    const cp = await startControlPlane();
    cluster.cp = cp;
    cluster.scratch = mkdtempSync(path.join(os.tmpdir(), 'rewind-install-'));
    cluster.helm = (args) =>
      run('helm', [...args, '--kubeconfig', cp.kubeconfigPath], { timeoutMs: 170_000 });
    cluster.createObject = (object) => {
      const file = path.join(cluster.scratch, `obj-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(file, dump(object));
      return cp.kubectl(['create', '-f', file]);
    };
    await cp.kubectlOk(['create', 'namespace', NS]);
    await cp.kubectlOk(['create', 'namespace', OTHER_NS]);
    if (!install) return;
    const installed = await cluster.helm([
      'install',
      RELEASE,
      CHART_DIR,
      '--namespace',
      NS,
      '--timeout',
      '2m',
    ]);
    if (installed.code !== 0) {
      throw new Error(`helm install failed:\n${installed.stderr}${installed.stdout}`);
    }
    cluster.installOutput = installed;
    const token = async (sa: string): Promise<string> =>
      (await cp.kubectlOk(['-n', NS, 'create', 'token', sa, '--duration=1h'])).trim();
    cluster.tokens = {
      agent: await token('rewind-agent'),
      controller: await token('rewind-controller'),
    };
  });
  afterAll(async () => {
    await cluster.cp?.stop();
    if (cluster.scratch) rmSync(cluster.scratch, { recursive: true, force: true });
  });
  return cluster;
}

/** A TraceSnapshot object in `rewind-system`. */
export function traceSnapshot(name: string, spec: unknown): unknown {
  return {
    apiVersion: 'rewind.dev/v1alpha1',
    kind: 'TraceSnapshot',
    metadata: { name, namespace: NS },
    spec,
  };
}

/** The kubectl arguments of a merge patch of TraceSnapshot `name` (optionally its status). */
export function mergePatch(name: string, patch: string, subresource?: 'status'): string[] {
  return ['-n', NS, 'patch', 'tracesnapshot', name]
    .concat(subresource ? [`--subresource=${subresource}`] : [])
    .concat(['--type=merge', '-p', patch]);
}
