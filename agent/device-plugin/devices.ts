/**
 * What the device plugin advertises and what it answers to Allocate: pure functions of the
 * configuration and of whether the device node exists, so every decision is tested without gRPC.
 *
 * Rewind has one device node, `/dev/rewind`, but the plugin advertises several IDs for it: each
 * agent pod asks for one, and a rolling update's surge pod or a debug pod must be able to
 * schedule next to the running agent. The module lets one opener control the rings at a time
 * (a second opener for writing gets EBUSY), so the IDs are shares of admission, not of the rings.
 */
import type {
  AllocateRequest,
  AllocateResponse,
  ContainerAllocateResponse,
  Device,
  DeviceHealth,
} from './messages';

/** `rewind-0` … `rewind-<count-1>`. */
export function deviceIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `rewind-${i}`);
}

/**
 * The list for ListAndWatch. While the device node is absent (module not loaded yet, or
 * unloaded) every ID stays listed as Unhealthy rather than the list going empty: the kubelet
 * then keeps the resource's capacity and sets its allocatable to 0, so `kubectl describe node`
 * shows a recorder that exists but is not usable, new pods wait for it, and pods already
 * running keep their allocation. An empty list would make the resource vanish from the node as
 * if the plugin had never been installed.
 */
export function advertisedDevices(ids: readonly string[], present: boolean): Device[] {
  const health: DeviceHealth = present ? 'Healthy' : 'Unhealthy';
  return ids.map((ID) => ({ ID, health }));
}

/**
 * The device cgroup access the agent needs: it opens `/dev/rewind` O_RDWR (it is the session's
 * controller: configure, start, statedump, snapshot; native/src/core/device.cc) and maps it
 * read-only, which the open's read access covers. No `m`: the runtime creates the node in the
 * container itself, the agent never calls mknod.
 */
export const DEVICE_PERMISSIONS = 'rw';

export interface AllocateContext {
  ids: readonly string[];
  /** The device node's path on the host, and the same path in the container. */
  devicePath: string;
  /** Whether the device node exists now. */
  present: boolean;
}

/** A refusal, with the gRPC status it maps to (named here so this file needs no gRPC). */
export interface AllocateRefusal {
  code: 'INVALID_ARGUMENT' | 'FAILED_PRECONDITION';
  message: string;
}

export type AllocateResult =
  { ok: true; response: AllocateResponse } | { ok: false; refusal: AllocateRefusal };

/**
 * The answer to Allocate: for each container request, in order, the one DeviceSpec that puts the
 * device node on the container's device cgroup list (a container asking for several IDs still
 * gets one node). An unknown ID or an empty request is refused (the kubelet only sends IDs it was
 * given, so either means a confused caller); so is any request while the node is absent, with a
 * reason a person can act on instead of the runtime's "no such file" at container creation.
 */
export function allocate(request: AllocateRequest, context: AllocateContext): AllocateResult {
  const known = new Set(context.ids);
  const containers = request.container_requests;
  if (containers.length === 0) {
    return refuse('INVALID_ARGUMENT', 'Allocate: no container requests');
  }
  for (const [i, container] of containers.entries()) {
    if (container.devices_ids.length === 0) {
      return refuse('INVALID_ARGUMENT', `Allocate: container request ${i} names no device`);
    }
    const unknown = container.devices_ids.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      return refuse(
        'INVALID_ARGUMENT',
        `Allocate: unknown device ${unknown.map((id) => JSON.stringify(id)).join(', ')} ` +
          `(this plugin advertises ${describeIds(context.ids)})`,
      );
    }
  }
  if (!context.present) {
    return refuse(
      'FAILED_PRECONDITION',
      `Allocate: ${context.devicePath} does not exist on this node (rewind.ko not loaded); ` +
        'see the module loader on this node',
    );
  }
  const perContainer = (): ContainerAllocateResponse => ({
    devices: [
      {
        container_path: context.devicePath,
        host_path: context.devicePath,
        permissions: DEVICE_PERMISSIONS,
      },
    ],
  });
  return { ok: true, response: { container_responses: containers.map(perContainer) } };
}

function refuse(code: AllocateRefusal['code'], message: string): AllocateResult {
  return { ok: false, refusal: { code, message } };
}

function describeIds(ids: readonly string[]): string {
  if (ids.length === 0) return 'no device';
  if (ids.length === 1) return ids[0];
  return `${ids[0]}..${ids[ids.length - 1]}`;
}
