// The device manager: the agent's side of the device plugin protocol (the kubelet's devicemanager).
// Plugins register over <agent dir>/device-plugins/kubelet.sock; the manager then connects to the
// plugin's own socket, follows its ListAndWatch stream (healthy devices become the node's capacity
// and allocatable of that resource) and, when a container that asks for the resource is about to
// be created, picks free healthy devices, calls the plugin's Allocate and hands back what the
// container needs (environment, mounts, device nodes, annotations). Allocations are kept in a
// checkpoint file, so a restarted agent does not give a device to two containers.
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import type { AgentPod } from '../pods/types.js';
import { errorMessage } from '../errors.js';
import * as grpc from '@grpc/grpc-js';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { parseQuantityOrNull } from '../../machinery/quantity.js';
import type { Device, Mount } from '../runtime/types.js';
import {
  API_VERSION,
  CHECKPOINT_FILE,
  KUBELET_SOCKET,
  deviceServices,
  isExtendedResourceName,
  unary,
  unixTarget,
  type AllocateResponse,
  type ContainerAllocateResponse,
  type DevicePluginOptions,
  type ListAndWatchResponse,
  type PreferredAllocationResponse,
  type RegisterRequest,
  shutdownServer,
} from './api.js';
import { DeviceBook } from './allocations.js';

/** What a container gets from its devices, in CRI terms. */
export interface ContainerDevices {
  envs: { key: string; value: string }[];
  mounts: Mount[];
  devices: Device[];
  annotations: Record<string, string>;
}

export interface DeviceManagerOptions {
  /** The plugin directory (<agent dir>/device-plugins). */
  dir: string;
  logger: Logger;
  /** Called (debounced) when the healthy device counts change: report the node status again. */
  onChange?: () => void;
  /** Whether a pod still needs its devices (exists and has not finished); stale allocations are freed. */
  isActive?: (podUID: string) => boolean;
}

interface Endpoint {
  resource: string;
  socket: string;
  options: DevicePluginOptions;
  client: grpc.Client;
  stream?: grpc.ClientReadableStream<ListAndWatchResponse>;
  closed: boolean;
}

export class DeviceManager {
  readonly dir: string;
  readonly socket: string;
  private book = new DeviceBook();
  private server?: grpc.Server;
  private endpoints = new Map<string, Endpoint>();
  private lastCounts = '';
  private notifyTimer?: NodeJS.Timeout;
  private stopped = false;
  private log: Logger;

  constructor(private o: DeviceManagerOptions) {
    this.dir = o.dir;
    this.socket = join(o.dir, KUBELET_SOCKET);
    this.log = o.logger.child({ component: 'devicemanager' });
  }

  get checkpointPath(): string {
    return join(this.dir, CHECKPOINT_FILE);
  }

  /** Loads the checkpoint and serves Registration on kubelet.sock (replacing a stale one). */
  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o750 });
    this.loadCheckpoint();
    this.lastCounts = JSON.stringify(this.resources());
    rmSync(this.socket, { force: true });
    const server = new grpc.Server();
    server.addService(deviceServices().Registration.service, {
      Register: (call: grpc.ServerUnaryCall<RegisterRequest, object>, cb: grpc.sendUnaryData<object>) => {
        const err = this.register(call.request);
        if (err) cb({ code: grpc.status.INVALID_ARGUMENT, details: err });
        else cb(null, {});
      },
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(unixTarget(this.socket), grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    this.server = server;
    this.log.info({ socket: this.socket }, 'device plugin registration serving');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.notifyTimer);
    for (const ep of this.endpoints.values()) this.closeEndpoint(ep);
    this.endpoints.clear();
    const server = this.server;
    this.server = undefined;
    await shutdownServer(server, this.socket);
  }

  /** Healthy device count per resource, for the node's capacity and allocatable. */
  resources(): Record<string, number> {
    return this.book.healthyCounts();
  }

  /** The allocations, for inspection and tests. */
  allocations() {
    return this.book.list();
  }

  // ---- registration and the plugins' streams ----------------------------------------------

  /** Validates a RegisterRequest and starts following the plugin; returns an error message if refused. */
  private register(req: RegisterRequest): string | undefined {
    if (this.stopped) return 'the device manager is shutting down';
    if (req.version !== API_VERSION)
      return `unsupported API version "${req.version}": this agent supports ${API_VERSION}`;
    if (!isExtendedResourceName(req.resourceName))
      return `invalid resource name "${req.resourceName}": must be an extended resource name (example.com/device)`;
    if (!req.endpoint || req.endpoint.includes('/') || req.endpoint === KUBELET_SOCKET)
      return `invalid endpoint "${req.endpoint}": must be a socket file name in ${this.dir}`;
    const old = this.endpoints.get(req.resourceName);
    if (old) {
      this.log.info({ resource: req.resourceName }, 'device plugin registered again; replacing its old endpoint');
      this.closeEndpoint(old);
    }
    const socket = join(this.dir, req.endpoint);
    const { DevicePlugin } = deviceServices();
    const client = new DevicePlugin(unixTarget(socket), grpc.credentials.createInsecure());
    const ep: Endpoint = { resource: req.resourceName, socket, options: req.options ?? {}, client, closed: false };
    this.endpoints.set(req.resourceName, ep);
    this.log.info({ resource: req.resourceName, endpoint: socket }, 'device plugin registered');
    // Like the kubelet, answer the registration first and connect back afterwards.
    setImmediate(() => this.watch(ep));
    return undefined;
  }

  private watch(ep: Endpoint): void {
    if (ep.closed) return;
    // The service's methods come from the .proto at run time (grpc-js has no static type for them).
    // eslint-disable-next-line @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access
    const stream = (ep.client as any).ListAndWatch({}) as grpc.ClientReadableStream<ListAndWatchResponse>;
    ep.stream = stream;
    stream.on('data', (msg: ListAndWatchResponse) => {
      if (ep.closed) return;
      this.book.setDevices(ep.resource, msg.devices ?? []);
      this.log.debug({ resource: ep.resource, devices: msg.devices?.length ?? 0 }, 'device list updated');
      this.saveCheckpoint();
      this.changed();
    });
    const lost = (err?: Error) => {
      if (ep.closed) return;
      this.log.warn(
        { resource: ep.resource, err: err?.message },
        'device plugin stream ended; its devices are unhealthy until it registers again',
      );
      this.closeEndpoint(ep);
      if (this.endpoints.get(ep.resource) === ep) this.endpoints.delete(ep.resource);
      this.book.markUnhealthy(ep.resource);
      this.changed();
    };
    stream.on('error', (err) => lost(err));
    stream.on('end', () => lost());
  }

  private closeEndpoint(ep: Endpoint): void {
    ep.closed = true;
    try {
      ep.stream?.cancel();
    } catch {
      /* already gone */
    }
    ep.client.close();
  }

  /** Reports changed counts to the node status, coalescing bursts. */
  private changed(): void {
    const counts = JSON.stringify(this.resources());
    if (counts === this.lastCounts) return;
    this.lastCounts = counts;
    if (this.notifyTimer || !this.o.onChange) return;
    this.notifyTimer = setTimeout(() => {
      this.notifyTimer = undefined;
      if (!this.stopped) this.o.onChange?.();
    }, 100);
    this.notifyTimer.unref?.();
  }

  // ---- allocation ------------------------------------------------------------------------------

  /**
   * The devices of one container about to be created: for each device-plugin resource in its
   * limits, the devices it already holds (a restart) or newly picked ones the plugin allocates.
   * Undefined when it asks for none. Throws (with the kubelet's messages) when it cannot be served.
   */
  async allocate(pod: AgentPod, container: Container): Promise<ContainerDevices | undefined> {
    const uid = pod.metadata.uid;
    const asked = Object.entries({
      ...(container.resources?.requests ?? {}),
      ...(container.resources?.limits ?? {}),
    })
      .filter(([r]) => this.book.known(r) || this.endpoints.has(r))
      .map(([r, q]) => [r, Math.ceil(parseQuantityOrNull(String(q))?.value() ?? 0)] as const)
      .filter(([, n]) => n > 0);
    if (!asked.length) return undefined;
    if (this.o.isActive) {
      const freed = this.book.prune((u) => u === uid || this.o.isActive!(u));
      if (freed.length) {
        this.log.info({ pods: freed }, 'freed the devices of pods that are gone');
        this.saveCheckpoint();
      }
    }
    const out: ContainerDevices = { envs: [], mounts: [], devices: [], annotations: {} };
    for (const [resource, n] of asked) {
      const held = this.book.get(uid, container.name, resource);
      if (held?.response && held.deviceIds.length === n) {
        merge(out, held.response);
        continue;
      }
      if (held) this.book.release(uid, container.name, resource);
      merge(out, await this.allocateOne(pod, container, resource, n));
    }
    return out;
  }

  private async allocateOne(
    pod: AgentPod,
    container: Container,
    resource: string,
    n: number,
  ): Promise<ContainerAllocateResponse> {
    const uid = pod.metadata.uid;
    const ep = this.endpoints.get(resource);
    if (!ep || ep.closed) throw new Error(`cannot allocate unregistered device ${resource}`);
    const reusable = reusableContainers(pod, container);
    let ids = this.book.pick(resource, uid, n, reusable);
    if (ep.options.getPreferredAllocationAvailable) {
      try {
        const avail = this.book.available(resource, uid, reusable);
        const pref = await unary<PreferredAllocationResponse>(ep.client, 'GetPreferredAllocation', {
          containerRequests: [{ availableDeviceIds: avail, mustIncludeDeviceIds: [], allocationSize: n }],
        });
        const chosen = pref.containerResponses?.[0]?.deviceIds ?? [];
        const now = new Set(this.book.available(resource, uid, reusable));
        if (chosen.length === n && new Set(chosen).size === n && chosen.every((id) => now.has(id))) ids = chosen;
        else ids = this.book.pick(resource, uid, n, reusable);
      } catch (err) {
        this.log.debug({ err, resource }, 'GetPreferredAllocation failed; using our own pick');
        ids = this.book.pick(resource, uid, n, reusable);
      }
    }
    // Reserve before the plugin is called, so concurrent pod syncs cannot pick the same devices.
    this.book.commit(uid, container.name, resource, ids);
    let res: ContainerAllocateResponse;
    try {
      const answer = await unary<AllocateResponse>(ep.client, 'Allocate', { containerRequests: [{ devicesIds: ids }] });
      const first = answer.containerResponses?.[0];
      if (!first) throw new Error(`device plugin for ${resource} returned no allocation`);
      res = first;
      if (ep.options.preStartRequired) await unary(ep.client, 'PreStartContainer', { devicesIds: ids }, 60_000);
    } catch (err) {
      this.book.release(uid, container.name, resource);
      throw new Error(`allocating ${resource} for container ${container.name}: ${errorMessage(err)}`, { cause: err });
    }
    this.book.setResponse(uid, container.name, resource, res);
    this.saveCheckpoint();
    this.log.info(
      { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, container: container.name, resource, devices: ids },
      'devices allocated',
    );
    return res;
  }

  /** Frees every device a pod holds (the pod was removed from the node). */
  free(podUID: string): void {
    if (this.book.freePod(podUID)) {
      this.saveCheckpoint();
      this.log.info({ podUID }, 'devices freed');
    }
  }

  // ---- checkpoint --------------------------------------------------------------------------

  private loadCheckpoint(): void {
    if (!existsSync(this.checkpointPath)) return;
    try {
      this.book = DeviceBook.fromJSON(JSON.parse(readFileSync(this.checkpointPath, 'utf8')));
      this.log.info({ allocations: this.book.list().length }, 'device checkpoint restored');
    } catch (err) {
      this.log.warn({ err }, 'device checkpoint unreadable; starting without it');
    }
  }

  private saveCheckpoint(): void {
    if (this.stopped && !existsSync(this.dir)) return;
    const tmp = `${this.checkpointPath}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(this.book.toJSON()));
      renameSync(tmp, this.checkpointPath);
    } catch (err) {
      this.log.warn({ err }, 'writing the device checkpoint failed');
    }
  }
}

/** Containers whose devices this one may take over: regular init containers that run before it. */
export function reusableContainers(pod: Pod, container: Container): string[] {
  const inits = pod.spec?.initContainers ?? [];
  const idx = inits.findIndex((c) => c.name === container.name);
  const before = idx >= 0 ? inits.slice(0, idx) : inits;
  return before.filter((c) => c.restartPolicy !== 'Always').map((c) => c.name);
}

/** Adds a plugin's answer to what a container gets. */
function merge(out: ContainerDevices, r: ContainerAllocateResponse): void {
  for (const [key, value] of Object.entries(r.envs ?? {})) out.envs.push({ key, value });
  for (const m of r.mounts ?? [])
    out.mounts.push({ containerPath: m.containerPath, hostPath: m.hostPath, readonly: !!m.readOnly });
  for (const d of r.devices ?? [])
    out.devices.push({ containerPath: d.containerPath, hostPath: d.hostPath, permissions: d.permissions || 'rwm' });
  Object.assign(out.annotations, r.annotations ?? {});
}

/** Puts a container's devices, mounts and annotations into its CRI config (envs go in with the container's own). */
export function applyDevices(
  config: { mounts: Mount[]; devices: Device[]; annotations: Record<string, string> },
  d: ContainerDevices | undefined,
): void {
  if (!d) return;
  const taken = new Set(config.mounts.map((m) => m.containerPath));
  for (const m of d.mounts) if (!taken.has(m.containerPath)) config.mounts.push(m);
  config.devices.push(...d.devices);
  for (const [k, v] of Object.entries(d.annotations)) if (!(k in config.annotations)) config.annotations[k] = v;
}

/** What the pod syncer needs of the device manager. */
export interface DevicePort {
  allocate(pod: AgentPod, container: Container): Promise<ContainerDevices | undefined>;
  free(podUID: string): void;
}
