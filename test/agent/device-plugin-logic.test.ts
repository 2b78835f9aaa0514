// The device plugin's decisions, without gRPC: what it advertises for a present or absent device
// node, what it answers to Allocate, its retry delays, its option checks, the fan-out of device
// lists to ListAndWatch streams, and where it finds api.proto in sources and in a build.
import { join } from 'node:path';
import { DeviceAdvertiser } from '../../agent/device-plugin/advertiser';
import { backoffDelay } from '../../common/backoff';
import {
  advertisedDevices,
  allocate,
  deviceIds,
  DEVICE_PERMISSIONS,
} from '../../agent/device-plugin/devices';
import type { ListAndWatchResponse } from '../../agent/device-plugin/messages';
import { checkPluginOptions } from '../../agent/device-plugin/options';
import { findProto, protoCandidates } from '../../agent/device-plugin/proto';

const root = join(__dirname, '..', '..');

describe('advertised devices', () => {
  it('names N ids rewind-0..N-1', () => {
    expect(deviceIds(3)).toEqual(['rewind-0', 'rewind-1', 'rewind-2']);
    expect(new Set(deviceIds(64)).size).toBe(64);
  });

  it('lists every id Healthy while the node exists and Unhealthy (not none) while it does not', () => {
    const ids = deviceIds(2);
    expect(advertisedDevices(ids, true)).toEqual([
      { ID: 'rewind-0', health: 'Healthy' },
      { ID: 'rewind-1', health: 'Healthy' },
    ]);
    expect(advertisedDevices(ids, false)).toEqual([
      { ID: 'rewind-0', health: 'Unhealthy' },
      { ID: 'rewind-1', health: 'Unhealthy' },
    ]);
  });
});

describe('Allocate', () => {
  const context = { ids: deviceIds(4), devicePath: '/dev/rewind', present: true };

  it('gives each container request the device node, read-write, no mknod', () => {
    const result = allocate(
      {
        container_requests: [
          { devices_ids: ['rewind-1'] },
          { devices_ids: ['rewind-2', 'rewind-3'] },
        ],
      },
      context,
    );
    const spec = { container_path: '/dev/rewind', host_path: '/dev/rewind', permissions: 'rw' };
    expect(result).toEqual({
      ok: true,
      response: { container_responses: [{ devices: [spec] }, { devices: [spec] }] },
    });
    expect(DEVICE_PERMISSIONS).not.toContain('m');
  });

  it('uses the configured device path on both sides', () => {
    const result = allocate(
      { container_requests: [{ devices_ids: ['rewind-0'] }] },
      { ...context, devicePath: '/dev/rewind-test' },
    );
    if (!result.ok) throw new Error(result.refusal.message);
    expect(result.response.container_responses[0].devices[0]).toMatchObject({
      container_path: '/dev/rewind-test',
      host_path: '/dev/rewind-test',
    });
  });

  it('refuses an unknown id, naming it and the ids it knows', () => {
    const result = allocate(
      { container_requests: [{ devices_ids: ['rewind-0'] }, { devices_ids: ['gpu-7'] }] },
      context,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.refusal.code).toBe('INVALID_ARGUMENT');
    expect(result.refusal.message).toContain('"gpu-7"');
    expect(result.refusal.message).toContain('rewind-0..rewind-3');
  });

  it('refuses an empty request and a container request naming no device', () => {
    const none = allocate({ container_requests: [] }, context);
    const empty = allocate({ container_requests: [{ devices_ids: [] }] }, context);
    expect(none.ok || none.refusal.code).toBe('INVALID_ARGUMENT');
    expect(empty.ok || empty.refusal.message).toContain('container request 0 names no device');
  });

  it('refuses while the device node is absent, saying why', () => {
    const result = allocate(
      { container_requests: [{ devices_ids: ['rewind-0'] }] },
      { ...context, present: false },
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.refusal.code).toBe('FAILED_PRECONDITION');
    expect(result.refusal.message).toContain('/dev/rewind does not exist');
  });
});

describe('registration backoff', () => {
  it('doubles from the first delay and stays at the cap', () => {
    const delays = Array.from({ length: 8 }, (_, i) =>
      backoffDelay(i, { initialMs: 500, maxMs: 30_000 }),
    );
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(backoffDelay(10_000, { initialMs: 500, maxMs: 30_000 })).toBe(30_000);
  });
});

describe('options', () => {
  const good = {
    pluginDir: '/var/lib/kubelet/device-plugins',
    resourceName: 'rewind.dev/recorder',
    devicePath: '/dev/rewind',
    deviceCount: 8,
  };

  it('fills in defaults and the two socket paths', () => {
    const checked = checkPluginOptions(good);
    expect(checked).toMatchObject({
      watchPath: '/dev/rewind',
      pollMs: 1000,
      socketPath: '/var/lib/kubelet/device-plugins/rewind.sock',
      kubeletSocketPath: '/var/lib/kubelet/device-plugins/kubelet.sock',
    });
  });

  it.each([
    [{ resourceName: 'recorder' }, 'resourceName="recorder"'],
    [{ resourceName: 'kubernetes.io/recorder' }, 'reserved'],
    [{ resourceName: 'Rewind.dev/recorder' }, 'resourceName'],
    [{ deviceCount: 0 }, 'deviceCount=0'],
    [{ deviceCount: 1.5 }, 'deviceCount=1.5'],
    [{ pluginDir: 'device-plugins' }, 'pluginDir="device-plugins": must be an absolute path'],
    [{ devicePath: 'rewind' }, 'devicePath'],
    [{ pluginDir: `/${'x'.repeat(100)}` }, 'longer than a unix socket path'],
    [{ pollMs: -1 }, 'pollMs=-1'],
    [{ backoff: { initialMs: 100, maxMs: 10 } }, 'backoff.maxMs=10'],
  ])('refuses %j in one line', (change, expected) => {
    expect(() => checkPluginOptions({ ...good, ...change })).toThrow(expected);
    try {
      checkPluginOptions({ ...good, ...change });
    } catch (e) {
      expect((e as Error).message).not.toContain('\n');
    }
  });
});

describe('the device list fan-out', () => {
  function sink(): { write: (m: ListAndWatchResponse) => void; seen: string[] } {
    const seen: string[] = [];
    return { seen, write: (m) => seen.push(m.devices.map((d) => d.health[0]).join('')) };
  }

  it('sends the list at once to a new stream, and again to every stream on each change only', () => {
    const advertiser = new DeviceAdvertiser(deviceIds(2));
    expect(advertiser.update(true)).toBe(true);
    const a = sink();
    advertiser.add(a);
    expect(advertiser.update(true)).toBe(false);
    const b = sink();
    advertiser.add(b);
    advertiser.update(false);
    advertiser.remove(a);
    advertiser.update(true);
    expect(a.seen).toEqual(['HH', 'UU']);
    expect(b.seen).toEqual(['HH', 'UU', 'HH']);
    expect(advertiser.streams).toBe(1);
  });
});

describe('api.proto', () => {
  it('is found beside the sources and, from a build in dist/, in the source tree', () => {
    const sources = join(root, 'agent', 'device-plugin');
    expect(findProto(sources)).toBe(join(sources, 'api.proto'));
    const built = join(root, 'dist', 'agent', 'device-plugin');
    const inTree = (p: string): boolean => p === join(sources, 'api.proto');
    expect(findProto(built, inTree)).toBe(join(sources, 'api.proto'));
    // A build that copied the file next to the compiled module uses that copy first.
    expect(protoCandidates(built)[0]).toBe(join(built, 'api.proto'));
  });

  it('missing: one line naming where it looked and what the build must do', () => {
    expect(() => findProto('/nowhere/agent/device-plugin', () => false)).toThrow(
      /api\.proto not found \(looked at \/nowhere\/agent\/device-plugin\/api\.proto, .*\); the build must copy/,
    );
  });
});
