/**
 * The kubelet's device plugin API (api.proto beside this file), loaded once into gRPC service
 * constructors. tsc does not copy .proto files, so the file is looked for beside the running
 * module first (sources under ts-jest, or a build that copied it into dist/) and then at its
 * place in the source tree (a dist/ built in this checkout).
 */
import {
  loadPackageDefinition,
  type GrpcObject,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const API_VERSION = 'v1beta1';
const PROTO_FILE = 'api.proto';

/** Where api.proto may be, relative to the directory of this module, in order. */
export function protoCandidates(moduleDir: string): string[] {
  return [
    join(moduleDir, PROTO_FILE),
    // dist/agent/device-plugin → the checkout's agent/device-plugin
    join(moduleDir, '..', '..', '..', 'agent', 'device-plugin', PROTO_FILE),
  ];
}

/** The first candidate that exists; throws one line naming every place looked at. */
export function findProto(
  moduleDir: string,
  exists: (path: string) => boolean = existsSync,
): string {
  const candidates = protoCandidates(moduleDir);
  const found = candidates.find(exists);
  if (found === undefined) {
    throw new Error(
      `device plugin API ${PROTO_FILE} not found (looked at ${candidates.join(', ')}); ` +
        'the build must copy agent/device-plugin/api.proto next to the compiled plugin',
    );
  }
  return found;
}

export interface DevicePluginApi {
  /** The path the API was loaded from. */
  protoPath: string;
  definition: PackageDefinition;
  /** The kubelet's service; its `.service` is the definition a stand-in kubelet serves. */
  Registration: ServiceClientConstructor;
  /** The plugin's service; its `.service` is what the plugin serves. */
  DevicePlugin: ServiceClientConstructor;
}

let loaded: DevicePluginApi | undefined;

/** The API, loaded on first use. */
export function devicePluginApi(): DevicePluginApi {
  if (loaded) return loaded;
  const protoPath = findProto(__dirname);
  // keepCase: the messages keep the proto's field names (messages.ts); defaults: every repeated
  // and scalar field is present on decoded messages, so handlers need no undefined checks.
  const definition = loadSync(protoPath, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = loadPackageDefinition(definition)[API_VERSION] as GrpcObject;
  loaded = {
    protoPath,
    definition,
    Registration: pkg.Registration as ServiceClientConstructor,
    DevicePlugin: pkg.DevicePlugin as ServiceClientConstructor,
  };
  return loaded;
}
