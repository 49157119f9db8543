import { rmSync } from 'node:fs';
// The device plugin API (package v1beta1, as the kubelet serves and consumes it), declared from
// the published field numbers. The agent serves Registration on <agent dir>/device-plugins/
// kubelet.sock; each plugin serves DevicePlugin on its own socket in the same directory. Names
// of fields are ours (they only shape the JavaScript objects); numbers and types are the wire.
import * as grpc from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';
import protobuf from 'protobufjs';

export const DEVICE_PLUGIN_PROTO = `
syntax = "proto3";
package v1beta1;

service Registration {
  rpc Register(RegisterRequest) returns (Empty) {}
}

service DevicePlugin {
  rpc GetDevicePluginOptions(Empty) returns (DevicePluginOptions) {}
  rpc ListAndWatch(Empty) returns (stream ListAndWatchResponse) {}
  rpc GetPreferredAllocation(PreferredAllocationRequest) returns (PreferredAllocationResponse) {}
  rpc Allocate(AllocateRequest) returns (AllocateResponse) {}
  rpc PreStartContainer(PreStartContainerRequest) returns (PreStartContainerResponse) {}
}

message Empty {}
message DevicePluginOptions { bool pre_start_required = 1; bool get_preferred_allocation_available = 2; }
message RegisterRequest { string version = 1; string endpoint = 2; string resource_name = 3; DevicePluginOptions options = 4; }

message NUMANode { int64 id = 1; }
message TopologyInfo { repeated NUMANode nodes = 1; }
message Device { string id = 1; string health = 2; TopologyInfo topology = 3; }
message ListAndWatchResponse { repeated Device devices = 1; }

message PreStartContainerRequest { repeated string devices_ids = 1; }
message PreStartContainerResponse {}

message ContainerPreferredAllocationRequest { repeated string available_device_ids = 1; repeated string must_include_device_ids = 2; int32 allocation_size = 3; }
message PreferredAllocationRequest { repeated ContainerPreferredAllocationRequest container_requests = 1; }
message ContainerPreferredAllocationResponse { repeated string device_ids = 1; }
message PreferredAllocationResponse { repeated ContainerPreferredAllocationResponse container_responses = 1; }

message ContainerAllocateRequest { repeated string devices_ids = 1; }
message AllocateRequest { repeated ContainerAllocateRequest container_requests = 1; }
message Mount { string container_path = 1; string host_path = 2; bool read_only = 3; }
message DeviceSpec { string container_path = 1; string host_path = 2; string permissions = 3; }
message CDIDevice { string name = 1; }
message ContainerAllocateResponse {
  map<string, string> envs = 1;
  repeated Mount mounts = 2;
  repeated DeviceSpec devices = 3;
  map<string, string> annotations = 4;
  repeated CDIDevice cdi_devices = 5;
}
message AllocateResponse { repeated ContainerAllocateResponse container_responses = 1; }
`;

/** The API version plugins must register with. */
export const API_VERSION = 'v1beta1';
/** Directory (under the agent's dir) of the registration socket and the plugins' sockets. */
export const PLUGIN_DIR_NAME = 'device-plugins';
export const KUBELET_SOCKET = 'kubelet.sock';
export const CHECKPOINT_FILE = 'kubelet_internal_checkpoint';
export const HEALTHY = 'Healthy';
export const UNHEALTHY = 'Unhealthy';

// ---- the messages as JavaScript objects ----

export interface DevicePluginOptions {
  preStartRequired?: boolean;
  getPreferredAllocationAvailable?: boolean;
}

export interface RegisterRequest {
  version: string;
  endpoint: string;
  resourceName: string;
  options?: DevicePluginOptions | null;
}

export interface PluginDevice {
  id: string;
  health: string;
  topology?: { nodes: { id: number }[] } | null;
}

export interface ListAndWatchResponse {
  devices: PluginDevice[];
}

export interface ContainerAllocateResponse {
  envs?: Record<string, string>;
  mounts?: { containerPath: string; hostPath: string; readOnly?: boolean }[];
  devices?: { containerPath: string; hostPath: string; permissions: string }[];
  annotations?: Record<string, string>;
  cdiDevices?: { name: string }[];
}

export interface AllocateRequest {
  containerRequests: { devicesIds: string[] }[];
}

export interface AllocateResponse {
  containerResponses: ContainerAllocateResponse[];
}

export interface PreferredAllocationRequest {
  containerRequests: { availableDeviceIds: string[]; mustIncludeDeviceIds: string[]; allocationSize: number }[];
}

export interface PreferredAllocationResponse {
  containerResponses: { deviceIds: string[] }[];
}

const LOADER_OPTIONS = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true } as const;

let loaded: { Registration: grpc.ServiceClientConstructor; DevicePlugin: grpc.ServiceClientConstructor } | undefined;

/** The two services (client constructors; `.service` is the definition a grpc.Server needs). */
export function deviceServices() {
  if (!loaded) {
    const root = protobuf.parse(DEVICE_PLUGIN_PROTO, { keepCase: false }).root;
    // The services are built from the .proto at run time: grpc-js gives them no static type.
    const pkg = grpc.loadPackageDefinition(fromJSON(root.toJSON(), LOADER_OPTIONS)) as any;
    loaded = { Registration: pkg.v1beta1.Registration, DevicePlugin: pkg.v1beta1.DevicePlugin };
  }
  return loaded;
}

/** gRPC target of a unix socket path. */
export const unixTarget = (path: string) => `unix://${path}`;

/** A unary call as a promise, with a deadline. */
export function unary<T>(client: grpc.Client, method: string, req: object, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    // The method is generated from the .proto at run time (no static type).
    (client as any)[method](req, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: T) => {
      if (err) reject(new Error(`${method}: ${err.details || err.message}`));
      else resolve(res);
    });
  });
}

/** Whether a name is an extended resource a plugin may advertise (domain-prefixed, not kubernetes.io). */
export function isExtendedResourceName(name: string): boolean {
  const m =
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)\/([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/.exec(
      name,
    );
  if (!m) return false;
  const domain = m[1];
  if (domain === 'kubernetes.io' || domain.endsWith('.kubernetes.io')) return false;
  return !name.startsWith('requests.') && name.length <= 253 && m[5].length <= 63;
}

/** Stops a gRPC server: gracefully, or forcibly after a second, then removes its unix socket. */
export async function shutdownServer(server: grpc.Server | undefined, socket: string): Promise<void> {
  if (server) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 1_000);
      server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
  rmSync(socket, { force: true });
}
