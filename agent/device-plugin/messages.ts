/**
 * The messages of the kubelet's device plugin API (api.proto) that Rewind's plugin reads or
 * writes, as @grpc/proto-loader decodes them with `keepCase` and `defaults`: the proto's own
 * field names (`resource_name`, `ID`, `devices_ids`), every repeated field present. They mirror
 * a wire contract, so they keep its spelling rather than the project's camelCase.
 */

/** The kubelet's health values (k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1/constants.go). */
export type DeviceHealth = 'Healthy' | 'Unhealthy';

export interface Device {
  ID: string;
  health: DeviceHealth;
}

export interface ListAndWatchResponse {
  devices: Device[];
}

export interface DevicePluginOptionsMessage {
  pre_start_required: boolean;
  get_preferred_allocation_available: boolean;
}

export interface RegisterRequest {
  version: string;
  endpoint: string;
  resource_name: string;
  options: DevicePluginOptionsMessage;
}

export interface ContainerAllocateRequest {
  devices_ids: string[];
}

export interface AllocateRequest {
  container_requests: ContainerAllocateRequest[];
}

export interface DeviceSpec {
  container_path: string;
  host_path: string;
  permissions: string;
}

/** Only `devices` is set: the recorder needs its device node and nothing else in the container. */
export interface ContainerAllocateResponse {
  devices: DeviceSpec[];
}

export interface AllocateResponse {
  container_responses: ContainerAllocateResponse[];
}
