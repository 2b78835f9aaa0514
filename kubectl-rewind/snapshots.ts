/**
 * TraceSnapshots read, listed, created and deleted with the user's own rights (the API server's
 * RBAC answers for the user); each refusal is one line naming the verb and resource (kube.ts).
 */
import { GROUP, PLURAL, VERSION, type TraceSnapshot } from '../controller/model';
import { asUser, SNAPSHOTS, type UserKube } from './kube';

const ref = { group: GROUP, version: VERSION, plural: PLURAL };

/** GET one TraceSnapshot with the user's rights. */
export function readSnapshot(
  kube: UserKube,
  namespace: string,
  name: string,
): Promise<TraceSnapshot> {
  return asUser(
    kube,
    { verb: 'get', resource: SNAPSHOTS, namespace, name },
    async () =>
      (await kube.custom.getNamespacedCustomObject({ ...ref, namespace, name })) as TraceSnapshot,
  );
}

/** LIST them in `namespace`, or in every namespace when it is undefined. */
export function listSnapshots(
  kube: UserKube,
  namespace: string | undefined,
): Promise<TraceSnapshot[]> {
  return asUser(
    kube,
    { verb: 'list', resource: SNAPSHOTS, ...(namespace ? { namespace } : {}) },
    async () => {
      const list = (
        namespace
          ? await kube.custom.listNamespacedCustomObject({ ...ref, namespace })
          : await kube.custom.listClusterCustomObject(ref)
      ) as { items: TraceSnapshot[] };
      return list.items;
    },
  );
}

/** CREATE `body` in `namespace`; resolves with the object as stored (its generated name). */
export function createSnapshot(
  kube: UserKube,
  namespace: string,
  body: object,
): Promise<TraceSnapshot> {
  return asUser(
    kube,
    { verb: 'create', resource: SNAPSHOTS, namespace },
    async () =>
      (await kube.custom.createNamespacedCustomObject({
        ...ref,
        namespace,
        body,
      })) as TraceSnapshot,
  );
}

/** DELETE one; the controller's finalizer removes its stored trace first. */
export function deleteSnapshot(kube: UserKube, namespace: string, name: string): Promise<void> {
  return asUser(kube, { verb: 'delete', resource: SNAPSHOTS, namespace, name }, async () => {
    await kube.custom.deleteNamespacedCustomObject({ ...ref, namespace, name });
  });
}
