/**
 * Which processes hostSnapshot() (hostNode.ts) counts as a node cluster's: node.test.ts compares
 * snapshots taken before and after a cluster while other suites run their own control planes,
 * kubectl and helm. Stand-in processes (node, sleeping) carry the command lines: argv[0] a pinned
 * program of the cache, as the real ones are started. No cluster is started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { cacheDir } from './binaries';
import { hostSnapshot } from './hostNode';

const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) {
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }
});

/** A process that sleeps, with `program` as argv[0] and `args` after it. */
async function standIn(program: string, args: string[]): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120_000)', '--', ...args], {
    argv0: path.join(cacheDir(), 'k8s', program),
    stdio: 'ignore',
  });
  children.push(child);
  await once(child, 'spawn');
  return child.pid as number;
}

test("counts a node cluster's daemons, not another suite's control plane, kubectl or helm", async () => {
  const pids = {
    strayKubelet: await standIn('kubelet-v1.34.4', ['--config=/nowhere/kubelet.yaml']),
    clusterApiServer: await standIn('kube-apiserver-v1.34.4', [
      '--cert-dir=/tmp/rewind-cluster-standin/rewind-k8s-standin',
    ]),
    otherApiServer: await standIn('kube-apiserver-v1.34.4', ['--cert-dir=/tmp/rewind-k8s-standin']),
    kubectl: await standIn('kubectl-v1.34.4', ['get', 'pods']),
    helm: await standIn('helm-v3.22.0', ['list']),
  };
  const counted = new Set((await hostSnapshot()).processes.map((p) => Number(p.split(' ')[0])));
  expect(
    Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, counted.has(pid)])),
  ).toEqual({
    strayKubelet: true,
    clusterApiServer: true,
    otherApiServer: false,
    kubectl: false,
    helm: false,
  });
});
