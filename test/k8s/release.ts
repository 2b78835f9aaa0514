/**
 * Watching the chart's release on a NodeCluster (nodeCluster.ts) from a test: its pods by
 * component, polling until a state is reached, the local volume the controller's claim binds to
 * (a cluster here has no provisioner). Shared by the suites that `helm install` on real nodes.
 */
import { dump } from 'js-yaml';
import { run, type RunResult } from './binaries';
import type { NodeCluster } from './nodeCluster';

export interface ContainerStatus {
  name: string;
  ready: boolean;
  restartCount: number;
  state: { running?: { startedAt: string }; waiting?: { reason: string } };
}

export interface Pod {
  metadata: { name: string; uid: string; labels: Record<string, string> };
  spec: { nodeName?: string };
  status: {
    phase: string;
    podIP?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: ContainerStatus[];
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns a value (not undefined), or fails with what it last saw. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 180_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await sleep(1000);
  }
}

export const isReady = (pod: Pod): boolean =>
  pod.status.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

/** kubectl, helm and pod queries in the release's namespace. */
export interface Release {
  kubectl(args: string[], input?: string): Promise<string>;
  json<T>(args: string[]): Promise<T>;
  helm(args: string[]): Promise<RunResult>;
  /** The pods of a component (app.kubernetes.io/component), optionally on one node. */
  podsOf(component: string, node?: string): Promise<Pod[]>;
  /** The one pod of a component (on `node`) once it is Ready. */
  readyPod(component: string, node?: string, timeoutMs?: number): Promise<Pod>;
}

export function release(cluster: NodeCluster, namespace: string): Release {
  const kubectl = (args: string[], input?: string): Promise<string> =>
    cluster.kubectlOk(['-n', namespace, ...args], {
      timeoutMs: 170_000,
      ...(input ? { input } : {}),
    });
  const json = async <T>(args: string[]): Promise<T> =>
    JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
  const podsOf = async (component: string, node?: string): Promise<Pod[]> =>
    (
      await json<{ items: Pod[] }>([
        'get',
        'pods',
        '-l',
        `app.kubernetes.io/component=${component}`,
        ...(node ? ['--field-selector', `spec.nodeName=${node}`] : []),
      ])
    ).items;
  return {
    kubectl,
    json,
    helm: (args) =>
      run('helm', [...args, '--kubeconfig', cluster.kubeconfigPath], { timeoutMs: 300_000 }),
    podsOf,
    readyPod: (component, node, timeoutMs) =>
      until(
        `the ${component} pod${node ? ` on ${node}` : ''} to be Ready`,
        async () => {
          const pods = await podsOf(component, node);
          return pods.length === 1 && isReady(pods[0]) ? pods[0] : undefined;
        },
        timeoutMs,
      ),
  };
}

/**
 * A local PersistentVolume at host folder `folder` on node `node`, for a claim without a
 * storage class, as an operator of a cluster without a provisioner would make it.
 */
export async function localVolume(
  cluster: NodeCluster,
  name: string,
  folder: string,
  node: string,
): Promise<void> {
  await cluster.kubectlOk(['apply', '-f', '-'], {
    input: dump({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name },
      spec: {
        capacity: { storage: '10Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        local: { path: folder },
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: 'kubernetes.io/hostname', operator: 'In', values: [node] },
                ],
              },
            ],
          },
        },
      },
    }),
  });
}
