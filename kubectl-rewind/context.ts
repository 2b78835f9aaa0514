/**
 * What every command is given: the global flags, the user's Kubernetes connection (made on first
 * use, so `--help` and usage errors never touch a kubeconfig), the way to the controller, the
 * output streams and the clock. Tests build it with their own streams and kubeconfig.
 */
import type { Writable } from 'node:stream';
import { connectController, type ControllerClient } from './connection';
import { loadUserKube, type UserKube } from './kube';

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
