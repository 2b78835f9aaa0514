/**
 * Where a snapshot's data lives on the controller's volume (pure): `<data>/<namespace>/<name>/`
 * holding `nodes/` (each node's collected data, removed once the merge succeeded), `trace/` (the
 * unified CTF trace), `trace.json` (Chrome JSON for the Perfetto UI) and `manifest.json`.
 * Namespace and name are checked as Kubernetes checks them (DNS-1123 label / subdomain), so no
 * name can lead a path out of the data folder (no '/', no '..', never empty).
 */
import { join } from 'node:path';

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export interface SnapshotLayout {
  namespace: string;
  name: string;
  /** `<data>/<namespace>/<name>`: everything of the snapshot, deleted together. */
  root: string;
  /** Per-node collected data: `nodes/<node>/{manifest.json,trace/}`. */
  nodes: string;
  /** The unified CTF trace (one trace per node inside). */
  trace: string;
  /** Chrome Trace Event JSON. */
  chrome: string;
  /** The snapshot's manifest (trigger, nodes, offsets, statistics, errors). */
  manifest: string;
}

/** The file names inside a snapshot's folder, and what the download archive holds. */
export const LAYOUT = {
  nodes: 'nodes',
  trace: 'trace',
  chrome: 'trace.json',
  manifest: 'manifest.json',
} as const;

/** Why `namespace`/`name` cannot be a snapshot's folder, or undefined when they can. */
export function invalidSnapshotName(namespace: string, name: string): string | undefined {
  if (namespace.length > 63 || !LABEL.test(namespace))
    return `namespace ${JSON.stringify(namespace)} is not a DNS-1123 label`;
  if (name.length > 253 || !SUBDOMAIN.test(name))
    return `name ${JSON.stringify(name)} is not a DNS-1123 subdomain`;
  return undefined;
}

/** The layout of snapshot `namespace/name` under `dataDir`; throws one line on an invalid name. */
export function snapshotLayout(dataDir: string, namespace: string, name: string): SnapshotLayout {
  const why = invalidSnapshotName(namespace, name);
  if (why) throw new Error(`no storage for snapshot ${namespace}/${name}: ${why}`);
  const root = join(dataDir, namespace, name);
  return {
    namespace,
    name,
    root,
    nodes: join(root, LAYOUT.nodes),
    trace: join(root, LAYOUT.trace),
    chrome: join(root, LAYOUT.chrome),
    manifest: join(root, LAYOUT.manifest),
  };
}

/** `namespace/name` (model.ts snapshotKey) as its layout; throws one line when malformed. */
export function layoutOfKey(dataDir: string, key: string): SnapshotLayout {
  const parts = key.split('/');
  if (parts.length !== 2)
    throw new Error(`snapshot key ${JSON.stringify(key)} is not namespace/name`);
  return snapshotLayout(dataDir, parts[0] as string, parts[1] as string);
}
