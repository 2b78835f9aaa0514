/**
 * The TraceSnapshot calls of the controller, as a small interface over client-node's
 * CustomObjectsApi so the status writer and the reconciler can be read (and tested) without the
 * generated client's shapes. Every write that must not overwrite another's carries the
 * resourceVersion it was computed from: the API server answers 409 Conflict when it moved.
 */
import { type CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { GROUP, PLURAL, type TraceSnapshot, VERSION } from '../model';
import { isNotFound } from './client';

export interface SnapshotList {
  items: TraceSnapshot[];
  metadata?: { resourceVersion?: string };
}

export interface SnapshotApi {
  /** The object, or undefined when it does not exist. */
  get(namespace: string, name: string): Promise<TraceSnapshot | undefined>;
  /** Every TraceSnapshot of every namespace (the informer's list). */
  list(): Promise<SnapshotList>;
  /** PUT of the status subresource; fails with 409 unless `s.metadata.resourceVersion` is current. */
  replaceStatus(s: TraceSnapshot): Promise<TraceSnapshot>;
  /** Merge patch of annotations and finalizers, conditional on `resourceVersion` (409 otherwise). */
  patchMetadata(
    namespace: string,
    name: string,
    resourceVersion: string,
    patch: { annotations?: Record<string, string | null>; finalizers?: string[] },
  ): Promise<TraceSnapshot>;
  /** Deletes it when it still has `uid` (a new object of the same name is left alone). */
  delete(namespace: string, name: string, uid: string): Promise<void>;
}

/** The watch path of TraceSnapshots in every namespace. */
export const SNAPSHOTS_PATH = `/apis/${GROUP}/${VERSION}/${PLURAL}`;

export function snapshotApi(custom: CustomObjectsApi): SnapshotApi {
  const where = (namespace: string, name: string) => ({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    namespace,
    name,
  });
  return {
    async get(namespace, name) {
      try {
        return (await custom.getNamespacedCustomObject(where(namespace, name))) as TraceSnapshot;
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    async list() {
      return (await custom.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
      })) as SnapshotList;
    },
    async replaceStatus(s) {
      return (await custom.replaceNamespacedCustomObjectStatus({
        ...where(s.metadata.namespace, s.metadata.name),
        body: s,
      })) as TraceSnapshot;
    },
    async patchMetadata(namespace, name, resourceVersion, patch) {
      return (await custom.patchNamespacedCustomObject(
        { ...where(namespace, name), body: { metadata: { resourceVersion, ...patch } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )) as TraceSnapshot;
    },
    async delete(namespace, name, uid) {
      try {
        await custom.deleteNamespacedCustomObject({
          ...where(namespace, name),
          body: { preconditions: { uid } },
        });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    },
  };
}
