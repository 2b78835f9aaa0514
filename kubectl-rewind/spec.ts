/**
 * `kubectl rewind snapshot`'s flags as a TraceSnapshot to create (pure): exactly one target
 * (nodes by name, nodes by selector, the nodes some pods run on, or all nodes), the window as a
 * Go-style duration, the reason. Every rule the CRD would refuse is a usage error here first, so
 * a mistyped command never reaches the cluster.
 */
import {
  API_VERSION,
  KIND,
  LABEL_TRIGGER,
  type LabelSelector,
  type SnapshotTarget,
  type TraceSnapshotSpec,
} from '../controller/model';
import { UsageError } from './errors';
import { parseLabelSelector } from './selector';
import { dns1123Subdomain } from '../common/config';

/** The CRD's bounds on spec.windowSeconds and spec.reason. */
export const WINDOW_MIN_SECONDS = 1;
export const WINDOW_MAX_SECONDS = 3600;
export const REASON_MAX = 1024;
export const TTL_MAX_SECONDS = 31_536_000;

const UNIT_SECONDS: Record<string, number> = { h: 3600, m: 60, s: 1 };

/** `30s`, `2m`, `1m30s`, `1h` or a bare number of seconds, as whole seconds; `flag` for errors. */
export function parseDuration(text: string, flag: string): number {
  const t = text.trim();
  let seconds: number;
  if (/^\d+$/.test(t)) seconds = Number(t);
  else if (/^(\d+(\.\d+)?[hms])+$/.test(t)) {
    // Summed exactly (a fraction of BigInts), as Go's time.ParseDuration does in integers: in
    // floating point `1.1h` would be 3960.0000000000005 s and refused as a fraction.
    let num = 0n;
    let den = 1n;
    for (const m of t.matchAll(/(\d+)(?:\.(\d+))?([hms])/g)) {
      const frac = m[2] ?? '';
      const termDen = 10n ** BigInt(frac.length);
      const termNum =
        BigInt(`${m[1] as string}${frac}`) * BigInt(UNIT_SECONDS[m[3] as string] as number);
      num = num * termDen + termNum * den;
      den *= termDen;
    }
    seconds = num % den === 0n ? Number(num / den) : Number.NaN;
  } else {
    throw new UsageError(
      `${flag}: ${JSON.stringify(text)} is not a duration (e.g. 30s, 2m, 1m30s)`,
    );
  }
  if (!Number.isInteger(seconds))
    throw new UsageError(`${flag}: ${text} is not a whole number of seconds`);
  return seconds;
}

/** The window of history: a duration within the CRD's bounds. */
export function parseWindow(text: string): number {
  const seconds = parseDuration(text, '--window');
  if (seconds < WINDOW_MIN_SECONDS || seconds > WINDOW_MAX_SECONDS)
    throw new UsageError(`--window: ${text} is outside 1s…1h (what a node's rings can hold)`);
  return seconds;
}

/** A Kubernetes object name (a node's, a pod's, a TraceSnapshot's). */
const isObjectName = (name: string): boolean => dns1123Subdomain().safeParse(name).success;

export interface SnapshotFlags {
  node?: string[];
  selector?: string;
  pod?: string;
  /** `-l`: a selector of pods in the namespace. */
  podSelector?: string;
  allNodes?: boolean;
  window: string;
  reason?: string;
  name?: string;
  ttl?: string;
}

/**
 * What the flags ask for, before the namespace is known: `--pod` needs its node looked up, `-l`
 * the namespace of its pods (the command's).
 */
export type TargetRequest =
  | { kind: 'target'; target: SnapshotTarget }
  | { kind: 'pod'; pod: string }
  | { kind: 'pods'; labelSelector: LabelSelector };

/** The one target the flags choose, or a usage error naming the conflict. */
export function targetRequest(flags: SnapshotFlags): TargetRequest {
  const chosen = [
    flags.node?.length ? '--node' : undefined,
    flags.selector !== undefined ? '--selector' : undefined,
    flags.pod !== undefined ? '--pod' : undefined,
    flags.podSelector !== undefined ? '-l' : undefined,
    flags.allNodes ? '--all-nodes' : undefined,
  ].filter((f): f is string => f !== undefined);
  if (chosen.length === 0)
    throw new UsageError(
      'say which nodes: --node NAME (repeatable), --selector LABELS, --pod NAME or -l LABELS (in -n NAMESPACE), or --all-nodes',
    );
  if (chosen.length > 1)
    throw new UsageError(`${chosen.join(' and ')} cannot be combined: choose one target`);
  if (flags.node?.length) {
    for (const n of flags.node)
      if (!isObjectName(n)) throw new UsageError(`--node: ${JSON.stringify(n)} is not a node name`);
    return { kind: 'target', target: { nodeNames: [...new Set(flags.node)] } };
  }
  if (flags.selector !== undefined)
    return {
      kind: 'target',
      target: { nodeSelector: parseLabelSelector(flags.selector, '--selector') },
    };
  if (flags.pod !== undefined) {
    if (!isObjectName(flags.pod))
      throw new UsageError(`--pod: ${JSON.stringify(flags.pod)} is not a pod name`);
    return { kind: 'pod', pod: flags.pod };
  }
  if (flags.podSelector !== undefined)
    return { kind: 'pods', labelSelector: parseLabelSelector(flags.podSelector, '-l') };
  return { kind: 'target', target: { allNodes: true } };
}

export interface SnapshotObject {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: {
    namespace: string;
    name?: string;
    generateName?: string;
    labels: Record<string, string>;
  };
  spec: TraceSnapshotSpec;
}

/** The object to create; a generated name (`manual-xxxxx`) unless --name is given. */
export function snapshotObject(
  flags: SnapshotFlags,
  namespace: string,
  target: SnapshotTarget,
): SnapshotObject {
  const windowSeconds = parseWindow(flags.window);
  if (flags.reason !== undefined && flags.reason.length > REASON_MAX)
    throw new UsageError(`--reason: longer than ${REASON_MAX} characters`);
  if (flags.name !== undefined && !isObjectName(flags.name))
    throw new UsageError(
      `--name: ${JSON.stringify(flags.name)} is not a valid name (lower case, digits, '-', '.')`,
    );
  const ttlSecondsAfterFinished =
    flags.ttl !== undefined ? parseDuration(flags.ttl, '--ttl') : undefined;
  if (ttlSecondsAfterFinished !== undefined && ttlSecondsAfterFinished > TTL_MAX_SECONDS)
    throw new UsageError(`--ttl: ${flags.ttl} is longer than a year`);
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      namespace,
      ...(flags.name !== undefined ? { name: flags.name } : { generateName: 'manual-' }),
      labels: { [LABEL_TRIGGER]: 'manual' },
    },
    spec: {
      target,
      windowSeconds,
      ...(flags.reason !== undefined ? { reason: flags.reason } : {}),
      ...(ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished } : {}),
    },
  };
}
