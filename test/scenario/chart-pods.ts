/**
 * Running a container of the installed chart as a process, configured as the chart configures
 * it, where no kubelet runs: its environment read from the live workload object (the Deployment
 * or DaemonSet the API server holds after `helm install`), with what a kubelet would supply
 * supplied here — the downward API's fields (node, namespace, pod name), and each volume the
 * container mounts made local: a Secret's keys written to files, an emptyDir a fresh folder, a
 * hostPath its path on the node. Every value that names a path under a mount is moved to where
 * that volume now is. The pure part is containerEnvironment().
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlPlane } from '../k8s/controlPlane';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface VolumeMount {
  name: string;
  mountPath: string;
}
interface Container {
  name: string;
  env?: EnvVar[];
  volumeMounts?: VolumeMount[];
}
interface Volume {
  name: string;
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  emptyDir?: object;
  hostPath?: { path: string };
  persistentVolumeClaim?: { claimName: string };
  configMap?: { name: string };
}
export interface PodSpec {
  serviceAccountName?: string;
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
}

/** What the kubelet would know of the pod. */
export interface PodFacts {
  namespace: string;
  podName: string;
  nodeName: string;
}

function containerOf(spec: PodSpec, name: string): Container {
  const c = [...spec.containers, ...(spec.initContainers ?? [])].find((x) => x.name === name);
  if (!c) throw new Error(`the pod template has no container "${name}"`);
  return c;
}

/**
 * The container's environment (pure): plain values, downward-API fields filled in from `facts`,
 * and every value under a mount path rewritten to `volumeDirs[volume]`. A variable the kubelet
 * could not fill here (a fieldRef other than the three known) is an error, not a guess.
 */
export function containerEnvironment(
  spec: PodSpec,
  containerName: string,
  facts: PodFacts,
  volumeDirs: Readonly<Record<string, string>>,
): Record<string, string> {
  const c = containerOf(spec, containerName);
  const fields: Record<string, string> = {
    'metadata.namespace': facts.namespace,
    'metadata.name': facts.podName,
    'spec.nodeName': facts.nodeName,
  };
  // Longest mount path first, so that /a/b wins over /a.
  const mounts = [...(c.volumeMounts ?? [])].sort(
    (a, b) => b.mountPath.length - a.mountPath.length,
  );
  const relocate = (value: string): string => {
    for (const m of mounts) {
      const dir = volumeDirs[m.name];
      if (dir === undefined) continue;
      if (value === m.mountPath) return dir;
      if (value.startsWith(`${m.mountPath}/`)) return dir + value.slice(m.mountPath.length);
    }
    return value;
  };
  const env: Record<string, string> = {};
  for (const v of c.env ?? []) {
    if (v.value !== undefined) env[v.name] = relocate(v.value);
    else if (v.valueFrom?.fieldRef) {
      const field = fields[v.valueFrom.fieldRef.fieldPath];
      if (field === undefined)
        throw new Error(
          `${v.name}: fieldRef ${v.valueFrom.fieldRef.fieldPath} is not supplied here`,
        );
      env[v.name] = field;
    } else throw new Error(`${v.name}: only values and fieldRefs are supplied here`);
  }
  return env;
}

/**
 * The container's volumes made local under `baseDir` (Secrets as files, mode 0600; emptyDirs and
 * claims as folders) or at their host path (hostPath), as `{ volume: folder }`. `emptyDirAt`
 * places emptyDirs elsewhere (a VM's own /tmp, say, made by the caller).
 */
export async function localVolumes(
  cp: ControlPlane,
  namespace: string,
  spec: PodSpec,
  containerName: string,
  baseDir: string,
  emptyDirAt?: (volume: string) => string,
): Promise<Record<string, string>> {
  const c = containerOf(spec, containerName);
  const dirs: Record<string, string> = {};
  for (const m of c.volumeMounts ?? []) {
    const v = (spec.volumes ?? []).find((x) => x.name === m.name);
    if (!v) throw new Error(`mount ${m.name}: no such volume in the pod template`);
    if (v.hostPath) {
      dirs[m.name] = v.hostPath.path;
    } else if (v.emptyDir && emptyDirAt) {
      dirs[m.name] = emptyDirAt(m.name);
    } else if (v.emptyDir || v.persistentVolumeClaim) {
      dirs[m.name] = join(baseDir, m.name);
      mkdirSync(dirs[m.name] as string, { recursive: true });
    } else if (v.secret) {
      const r = await cp.request(
        'GET',
        `/api/v1/namespaces/${namespace}/secrets/${v.secret.secretName}`,
      );
      if (r.status !== 200)
        throw new Error(`Secret ${namespace}/${v.secret.secretName}: ${r.status} ${r.text}`);
      const data = (r.body as { data?: Record<string, string> }).data ?? {};
      const dir = join(baseDir, m.name);
      mkdirSync(dir, { recursive: true });
      // With items, only those keys, each at its path (as the kubelet projects them).
      const files = v.secret.items ?? Object.keys(data).map((key) => ({ key, path: key }));
      for (const { key, path } of files) {
        const b64 = data[key];
        if (b64 === undefined) throw new Error(`Secret ${v.secret.secretName} has no key ${key}`);
        writeFileSync(join(dir, path), Buffer.from(b64, 'base64'), { mode: 0o600 });
      }
      dirs[m.name] = dir;
    } else {
      throw new Error(`volume ${m.name}: a kind this scenario does not supply`);
    }
  }
  return dirs;
}

/** The live workload's pod template (what the API server holds after helm install). */
export async function podTemplate(
  cp: ControlPlane,
  namespace: string,
  kind: 'deployments' | 'daemonsets',
  name: string,
): Promise<{ spec: PodSpec; labels: Record<string, string> }> {
  const r = await cp.request('GET', `/apis/apps/v1/namespaces/${namespace}/${kind}/${name}`);
  if (r.status !== 200) throw new Error(`${kind}/${name} in ${namespace}: ${r.status} ${r.text}`);
  const template = (
    r.body as {
      spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
    }
  ).spec.template;
  return { spec: template.spec, labels: template.metadata.labels };
}
