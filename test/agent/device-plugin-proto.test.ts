// agent/device-plugin/api.proto against the kubelet's wire contract. The table below is copied
// from k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1/api.proto (kubernetes/kubernetes, staging/);
// the kubelet decodes by field number and routes by method path, so a renamed method or a
// renumbered field would make the kubelet and the plugin silently talk past each other.
import type { MessageTypeDefinition } from '@grpc/proto-loader';
import { devicePluginApi } from '../../agent/device-plugin/proto';

const KUBELET_FIELDS: Record<string, Record<string, number>> = {
  DevicePluginOptions: { pre_start_required: 1, get_preferred_allocation_available: 2 },
  RegisterRequest: { version: 1, endpoint: 2, resource_name: 3, options: 4 },
  Empty: {},
  ListAndWatchResponse: { devices: 1 },
  TopologyInfo: { nodes: 1 },
  NUMANode: { ID: 1 },
  Device: { ID: 1, health: 2, topology: 3 },
  PreStartContainerRequest: { devices_ids: 1 },
  PreStartContainerResponse: {},
  PreferredAllocationRequest: { container_requests: 1 },
  ContainerPreferredAllocationRequest: {
    available_deviceIDs: 1,
    must_include_deviceIDs: 2,
    allocation_size: 3,
  },
  PreferredAllocationResponse: { container_responses: 1 },
  ContainerPreferredAllocationResponse: { deviceIDs: 1 },
  AllocateRequest: { container_requests: 1 },
  ContainerAllocateRequest: { devices_ids: 1 },
  CDIDevice: { name: 1 },
  AllocateResponse: { container_responses: 1 },
  ContainerAllocateResponse: { envs: 1, mounts: 2, devices: 3, annotations: 4, cdi_devices: 5 },
  Mount: { container_path: 1, host_path: 2, read_only: 3 },
  DeviceSpec: { container_path: 1, host_path: 2, permissions: 3 },
};

interface FieldDescriptor {
  name: string;
  number: number;
}

describe('api.proto, the kubelet device plugin API v1beta1', () => {
  const api = devicePluginApi();

  it.each(Object.keys(KUBELET_FIELDS))('v1beta1.%s has the kubelet field numbers', (name) => {
    const message = api.definition[`v1beta1.${name}`] as
      MessageTypeDefinition<unknown, unknown> | undefined;
    expect(message).toBeDefined();
    const fields = (message!.type as { field: FieldDescriptor[] }).field;
    expect(Object.fromEntries(fields.map((f) => [f.name, f.number]))).toEqual(KUBELET_FIELDS[name]);
  });

  it('routes by the kubelet method paths, with ListAndWatch streaming', () => {
    const registration = api.Registration.service;
    expect(Object.values(registration).map((m) => m.path)).toEqual([
      '/v1beta1.Registration/Register',
    ]);
    const plugin = api.DevicePlugin.service;
    expect(Object.values(plugin).map((m) => m.path)).toEqual([
      '/v1beta1.DevicePlugin/GetDevicePluginOptions',
      '/v1beta1.DevicePlugin/ListAndWatch',
      '/v1beta1.DevicePlugin/GetPreferredAllocation',
      '/v1beta1.DevicePlugin/Allocate',
      '/v1beta1.DevicePlugin/PreStartContainer',
    ]);
    expect(plugin.ListAndWatch.responseStream).toBe(true);
    expect(plugin.Allocate.responseStream).toBe(false);
  });

  it('encodes a DeviceSpec as the kubelet decodes it (tags 0x0a, 0x12, 0x1a)', () => {
    const encoded = api.DevicePlugin.service.Allocate.responseSerialize({
      container_responses: [
        { devices: [{ container_path: '/dev/x', host_path: '/dev/x', permissions: 'rw' }] },
      ],
    });
    // AllocateResponse{1: ContainerAllocateResponse{3: DeviceSpec{1,2,3}}}, by hand.
    const spec = Buffer.from([
      0x0a,
      6,
      ...Buffer.from('/dev/x'),
      0x12,
      6,
      ...Buffer.from('/dev/x'),
      0x1a,
      2,
      ...Buffer.from('rw'),
    ]);
    const container = Buffer.concat([Buffer.from([0x1a, spec.length]), spec]);
    const expected = Buffer.concat([Buffer.from([0x0a, container.length]), container]);
    expect(Buffer.from(encoded).toString('hex')).toBe(expected.toString('hex'));
  });
});
