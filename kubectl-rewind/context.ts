/**
 * What every command is given: the global flags, the user's Kubernetes connection (made on first
 * use, so `--help` and usage errors never touch a kubeconfig), the way to the controller, the
 * output streams and the clock. Tests build it with their own streams and kubeconfig.
 */
import type { Writable } from 'node:stream';
import { GROUP, PLURAL, VERSION, type TraceSnapshot } from '../controller/model';
import { connectController, type ControllerClient } from './connection';
import { asUser, loadUserKube, SNAPSHOTS, type UserKube } from './kube';

export interface GlobalFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  rewindNamespace: string;
  controllerAddress?: string;
}

export interface Output extends Pick<Writable, 'write'> {
  isTTY?: boolean;
}

export interface Context {
  flags: GlobalFlags;
  out: Output;
  err: Output;
  now(): number;
  /** Aborted by Ctrl-C (SIGINT) while a command follows something. */
  signal: AbortSignal;
  kube(): UserKube;
  /** Opens the way to the controller; the caller closes it. */
  controller(): Promise<ControllerClient>;
}

export function makeContext(
  flags: GlobalFlags,
  io: { out: Output; err: Output; now: () => number; signal: AbortSignal },
): Context {
  let kube: UserKube | undefined;
  const ctx: Context = {
    flags,
    ...io,
    kube: () => (kube ??= loadUserKube(flags)),
    controller: () =>
      connectController(ctx.kube(), {
        rewindNamespace: flags.rewindNamespace,
        ...(flags.controllerAddress !== undefined
          ? { controllerAddress: flags.controllerAddress }
          : {}),
      }),
  };
  return ctx;
}

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

export function deleteSnapshot(kube: UserKube, namespace: string, name: string): Promise<void> {
  return asUser(kube, { verb: 'delete', resource: SNAPSHOTS, namespace, name }, async () => {
    await kube.custom.deleteNamespacedCustomObject({ ...ref, namespace, name });
  });
}
