/**
 * Helpers to render charts/rewind with the pinned helm and look at the objects it produces.
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { loadAll } from 'js-yaml';
import { run, type RunResult } from './binaries';

export const CHART_DIR = path.resolve(__dirname, '../../charts/rewind');

/** A Kubernetes object as rendered: only the fields the tests read are typed. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
}

/** The ci/*-values.yaml scenarios, as paths. */
export function ciScenarios(): string[] {
  return readdirSync(path.join(CHART_DIR, 'ci'))
    .filter((f) => f.endsWith('-values.yaml'))
    .sort()
    .map((f) => path.join(CHART_DIR, 'ci', f));
}

export function helm(args: string[]): Promise<RunResult> {
  return run('helm', args, { timeoutMs: 120_000 });
}

/** Parse a multi-document YAML stream into its (non-empty) objects. */
export function parseManifests(text: string): K8sObject[] {
  return loadAll(text).filter(
    (doc): doc is K8sObject => typeof doc === 'object' && doc !== null && 'kind' in doc,
  );
}

export interface RenderOptions {
  valuesFiles?: string[];
  set?: string[];
  release?: string;
  namespace?: string;
}

/** `helm template`; resolves with the objects, or rejects with helm's error text. */
export async function render(options: RenderOptions = {}): Promise<K8sObject[]> {
  const result = await helm(templateArgs(options));
  if (result.code !== 0) throw new Error(result.stderr.trim());
  return parseManifests(result.stdout);
}

export function templateArgs(options: RenderOptions): string[] {
  return [
    'template',
    options.release ?? 'rewind',
    CHART_DIR,
    '--namespace',
    options.namespace ?? 'rewind-system',
    ...(options.valuesFiles ?? []).flatMap((f) => ['-f', f]),
    ...(options.set ?? []).flatMap((s) => ['--set', s]),
  ];
}

export function find(objects: K8sObject[], kind: string, name?: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

/** Container definitions of a workload (init containers first), with their kind. */
export interface ContainerView {
  workload: string;
  init: boolean;
  name: string;
  securityContext?: {
    privileged?: boolean;
    runAsNonRoot?: boolean;
    runAsUser?: number;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  command?: string[];
  image?: string;
}

export interface PodSpecView {
  hostPID?: boolean;
  hostNetwork?: boolean;
  serviceAccountName?: string;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; fsGroup?: number };
  initContainers?: ContainerView[];
  containers: ContainerView[];
  volumes?: { name: string; hostPath?: { path: string }; [key: string]: unknown }[];
  priorityClassName?: string;
  tolerations?: unknown[];
}

export function podSpec(workload: K8sObject): PodSpecView {
  if (workload.kind === 'Pod') return workload.spec as PodSpecView;
  const spec = workload.spec as { template: { spec: PodSpecView } };
  return spec.template.spec;
}

export function containers(objects: K8sObject[]): ContainerView[] {
  const out: ContainerView[] = [];
  for (const o of objects) {
    if (!['DaemonSet', 'Deployment', 'Pod', 'StatefulSet', 'Job'].includes(o.kind)) continue;
    const spec = podSpec(o);
    for (const c of spec.initContainers ?? []) out.push({ ...c, workload: o.kind, init: true });
    for (const c of spec.containers) out.push({ ...c, workload: o.kind, init: false });
  }
  return out;
}
