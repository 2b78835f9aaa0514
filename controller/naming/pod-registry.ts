/**
 * The pods the controller knows, by uid and by container id, kept after deletion: a snapshot
 * covers the recorder's window before it was taken, so a process whose pod was deleted during
 * that window must still be named. The pod informer (a thin shell elsewhere) feeds it `upsert`
 * and `remove`; a deleted pod stays as a tombstone for `retentionMs` (the longest recorder
 * window), and at most `maxTombstones` are kept, the oldest deletions forgotten first. Pure: time
 * is passed in (or read from the injected clock); nothing here talks to the API server.
 *
 * Container ids are kept for as long as their pod is: a container that restarted has a new id,
 * but the old one's events (and the agent's exited cgroup) are still in the window, so every id
 * a pod's statuses ever showed (its current and `lastState.terminated` ones) stays mapped.
 */

/** What the registry reads of a pod: a subset of client-node's V1Pod, so a V1Pod fits. */
export interface PodLike {
  metadata?: {
    namespace?: string;
    name?: string;
    uid?: string;
    annotations?: Record<string, string>;
  };
  spec?: { nodeName?: string };
  status?: {
    containerStatuses?: ContainerStatusLike[];
    initContainerStatuses?: ContainerStatusLike[];
    ephemeralContainerStatuses?: ContainerStatusLike[];
  };
}

export interface ContainerStatusLike {
  name: string;
  /** `<runtime>://<id>`, e.g. `containerd://` + 64 hex digits; absent before it started. */
  containerID?: string;
  lastState?: { terminated?: { containerID?: string } };
}

/** A pod as the registry keeps it. */
export interface KnownPod {
  namespace: string;
  name: string;
  uid: string;
  nodeName?: string;
  /** When it was removed (ms since the epoch); absent while it exists. */
  deletedAt?: number;
}

export interface PodRegistryOptions {
  /** How long a deleted pod stays resolvable (ms): the longest recorder window. */
  retentionMs: number;
  /** Most tombstones kept; beyond it the oldest deletions are forgotten first. */
  maxTombstones?: number;
  /** Most container ids remembered per pod (its restarts); the oldest are forgotten first. */
  maxContainerIdsPerPod?: number;
  /** The clock (ms since the epoch) used when a caller passes no time. */
  now?: () => number;
}

export const DEFAULT_MAX_TOMBSTONES = 10000;
export const DEFAULT_MAX_CONTAINER_IDS_PER_POD = 64;

/** The annotation by which a static pod's mirror names the uid the kubelet gave its cgroup. */
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
const CONFIG_HASH_ANNOTATION = 'kubernetes.io/config.hash';

/**
 * A container id as the API writes it (`containerd://abc…`, `cri-o://abc…`, `docker://abc…`) or
 * bare, as the agent reports it: the id alone, lowercase. Ids are compared whole, never by prefix.
 */
export function bareContainerId(id: string): string {
  const sep = id.indexOf('://');
  return (sep >= 0 ? id.slice(sep + 3) : id).trim().toLowerCase();
}

interface Entry {
  pod: KnownPod;
  /** The uid the kubelet named the pod's cgroup by, when not the pod's (static pods). */
  cgroupUid?: string;
  /** Container id → container name, in the order first seen. */
  containers: Map<string, string>;
}

export class PodRegistry {
  private readonly byUid = new Map<string, Entry>();
  private readonly byCgroupUid = new Map<string, Entry>();
  private readonly byContainer = new Map<string, Entry>();
  /** Tombstoned uids in deletion order (a Map keeps insertion order). */
  private readonly tombstones = new Map<string, number>();
  private readonly retentionMs: number;
  private readonly maxTombstones: number;
  private readonly maxIdsPerPod: number;
  private readonly now: () => number;

  constructor(options: PodRegistryOptions) {
    this.retentionMs = options.retentionMs;
    this.maxTombstones = options.maxTombstones ?? DEFAULT_MAX_TOMBSTONES;
    this.maxIdsPerPod = options.maxContainerIdsPerPod ?? DEFAULT_MAX_CONTAINER_IDS_PER_POD;
    this.now = options.now ?? Date.now;
    for (const [what, v] of [
      ['retentionMs', this.retentionMs],
      ['maxTombstones', this.maxTombstones],
      ['maxContainerIdsPerPod', this.maxIdsPerPod],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < (what === 'retentionMs' ? 0 : 1))
        throw new RangeError(
          `PodRegistry: ${what} must be a ${what === 'retentionMs' ? 'non-negative' : 'positive'} integer, got ${v}`,
        );
    }
  }

  /** Pods known, tombstones included. */
  get size(): number {
    return this.byUid.size;
  }

  get tombstoneCount(): number {
    return this.tombstones.size;
  }

  /**
   * A pod added or changed (informer add/update, or a relist). A pod without namespace, name or
   * uid is ignored: it cannot be named. A tombstoned uid seen again (a relist racing a delete)
   * is alive again.
   */
  upsert(pod: PodLike): void {
    const meta = pod.metadata;
    if (!meta?.uid || !meta.name || !meta.namespace) return;
    let entry = this.byUid.get(meta.uid);
    if (!entry) {
      entry = {
        pod: { namespace: meta.namespace, name: meta.name, uid: meta.uid },
        containers: new Map(),
      };
      this.byUid.set(meta.uid, entry);
    }
    entry.pod.namespace = meta.namespace;
    entry.pod.name = meta.name;
    if (pod.spec?.nodeName) entry.pod.nodeName = pod.spec.nodeName;
    if (entry.pod.deletedAt !== undefined) {
      delete entry.pod.deletedAt;
      this.tombstones.delete(meta.uid);
    }
    const cgroupUid =
      meta.annotations?.[MIRROR_ANNOTATION] ?? meta.annotations?.[CONFIG_HASH_ANNOTATION];
    if (cgroupUid && cgroupUid !== meta.uid) {
      if (entry.cgroupUid && entry.cgroupUid !== cgroupUid)
        this.byCgroupUid.delete(entry.cgroupUid);
      entry.cgroupUid = cgroupUid;
      this.byCgroupUid.set(cgroupUid, entry);
    }
    const s = pod.status;
    for (const c of [
      ...(s?.initContainerStatuses ?? []),
      ...(s?.containerStatuses ?? []),
      ...(s?.ephemeralContainerStatuses ?? []),
    ]) {
      for (const raw of [c.lastState?.terminated?.containerID, c.containerID]) {
        if (raw) this.addContainer(entry, bareContainerId(raw), c.name);
      }
    }
  }

  /**
   * A pod deleted at `now` (informer delete; the pod as last seen, so its final statuses count).
   * It stays resolvable until `now + retentionMs`; pruning runs here too.
   */
  remove(pod: PodLike, now: number = this.now()): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    this.upsert(pod);
    const entry = this.byUid.get(uid);
    if (entry && entry.pod.deletedAt === undefined) {
      entry.pod.deletedAt = now;
      this.tombstones.set(uid, now);
    }
    this.prune(now);
  }

  /**
   * Forgets tombstones older than `retentionMs` before `now`, then the oldest beyond
   * `maxTombstones`. Returns how many pods were forgotten.
   */
  prune(now: number = this.now()): number {
    let removed = 0;
    for (const [uid, deletedAt] of this.tombstones) {
      const expired = deletedAt + this.retentionMs < now;
      if (!expired && this.tombstones.size <= this.maxTombstones) break;
      this.forget(uid);
      removed++;
    }
    return removed;
  }

  /** A pod by its uid, or by the uid its cgroup carries (a static pod's config hash). */
  podByUid(uid: string): KnownPod | undefined {
    return (this.byUid.get(uid) ?? this.byCgroupUid.get(uid))?.pod;
  }

  /** A container by its id (bare or `runtime://`): its pod and container name. */
  containerById(id: string): { pod: KnownPod; container: string } | undefined {
    const bare = bareContainerId(id);
    const entry = this.byContainer.get(bare);
    const container = entry?.containers.get(bare);
    return entry && container !== undefined ? { pod: entry.pod, container } : undefined;
  }

  private addContainer(entry: Entry, id: string, name: string): void {
    if (!id) return;
    const owner = this.byContainer.get(id);
    if (owner && owner !== entry) owner.containers.delete(id);
    entry.containers.delete(id); // re-inserted last: the most recent
    entry.containers.set(id, name);
    this.byContainer.set(id, entry);
    while (entry.containers.size > this.maxIdsPerPod) {
      const oldest = entry.containers.keys().next().value as string;
      entry.containers.delete(oldest);
      this.byContainer.delete(oldest);
    }
  }

  private forget(uid: string): void {
    const entry = this.byUid.get(uid);
    this.tombstones.delete(uid);
    if (!entry) return;
    this.byUid.delete(uid);
    if (entry.cgroupUid && this.byCgroupUid.get(entry.cgroupUid) === entry)
      this.byCgroupUid.delete(entry.cgroupUid);
    for (const id of entry.containers.keys()) {
      if (this.byContainer.get(id) === entry) this.byContainer.delete(id);
    }
  }
}
