// A sample device plugin: N made-up devices of one extended resource (example.com/widget), each
// backed by a directory on the host. It serves the DevicePlugin service on a socket in the
// agent's plugin directory, registers with the agent, and registers again whenever the agent's
// kubelet.sock is re-created (an agent restart). Allocate answers with an environment variable
// listing the device IDs (WIDGET_IDS=widget-0,widget-1) and a mount of each device's directory.
import { errorMessage } from '../errors.js';
import * as grpc from '@grpc/grpc-js';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  API_VERSION,
  HEALTHY,
  KUBELET_SOCKET,
  UNHEALTHY,
  deviceServices,
  unary,
  unixTarget,
  type AllocateRequest,
  type AllocateResponse,
  type ContainerAllocateResponse,
  type ListAndWatchResponse,
  type PluginDevice,
  type PreferredAllocationRequest,
  type PreferredAllocationResponse,
  shutdownServer,
} from './api.js';

export interface SamplePluginOptions {
  /** The agent's plugin directory (<data dir>/agent/device-plugins). */
  pluginDir: string;
  resource: string;
  count: number;
  /** Where the devices' host directories are made (default <pluginDir>/sample). */
  hostDir?: string;
  /** How often kubelet.sock is checked for an agent restart. */
  pollMs?: number;
  log?: (msg: string) => void;
}

/** The short name of a resource: "widget" for example.com/widget. */
export const shortName = (resource: string) =>
  resource
    .split('/')
    .pop()!
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-');
/** The environment variable the plugin sets: WIDGET_IDS for example.com/widget. */
export const idsEnvName = (resource: string) =>
  `${shortName(resource)
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, '_')}_IDS`;

export class SamplePlugin {
  readonly devices: PluginDevice[];
  readonly socketName: string;
  readonly hostDir: string;
  private server?: grpc.Server;
  private watchers = new Set<grpc.ServerWritableStream<object, ListAndWatchResponse>>();
  private timer?: NodeJS.Timeout;
  /** Identity (inode and ctime) of the kubelet.sock we registered with. */
  private registeredWith = '';
  private busy = false;
  private stopped = false;
  /** How many times the plugin registered (for tests and logs). */
  registrations = 0;
  /** Device IDs handed out by Allocate, newest last. */
  readonly allocated: string[][] = [];

  constructor(private o: SamplePluginOptions) {
    const name = shortName(o.resource);
    this.devices = Array.from({ length: o.count }, (_, i) => ({ id: `${name}-${i}`, health: HEALTHY }));
    this.socketName = `k8ts-sample-${o.resource.replace(/[^A-Za-z0-9.-]/g, '_')}.sock`;
    this.hostDir = o.hostDir ?? join(o.pluginDir, 'sample');
  }

  private log(msg: string): void {
    this.o.log?.(msg);
  }

  get socket(): string {
    return join(this.o.pluginDir, this.socketName);
  }

  /** Makes the device directories, serves, registers, and starts watching for agent restarts. */
  async start(): Promise<void> {
    for (const d of this.devices) {
      const dir = join(this.hostDir, d.id);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'id'), `${d.id}\n`);
    }
    await this.check();
    this.timer = setInterval(() => void this.check(), this.o.pollMs ?? 1_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.stopServer();
  }

  /** Marks a device healthy or not; every ListAndWatch stream gets the new list. */
  setHealth(id: string, healthy: boolean): void {
    const d = this.devices.find((x) => x.id === id);
    if (!d) throw new Error(`no device ${id}`);
    d.health = healthy ? HEALTHY : UNHEALTHY;
    this.broadcast();
  }

  private broadcast(): void {
    for (const w of this.watchers) w.write(this.list());
  }

  private list(): ListAndWatchResponse {
    return { devices: this.devices.map((d) => ({ id: d.id, health: d.health })) };
  }

  /** Registers when the agent's socket is new to us (first start, or the agent restarted). */
  private async check(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      const kubelet = join(this.o.pluginDir, KUBELET_SOCKET);
      let id = '';
      try {
        const st = statSync(kubelet);
        id = `${st.ino}:${st.ctimeMs}`;
      } catch {
        if (this.registeredWith) this.log(`${kubelet} is gone; waiting for the agent to come back`);
        this.registeredWith = '';
        return;
      }
      if (id === this.registeredWith) return;
      // A fresh agent: serve on a fresh socket (the agent may have cleaned the directory), then register.
      await this.stopServer();
      await this.startServer();
      await this.register(kubelet);
      this.registeredWith = id;
      this.registrations++;
      this.log(`registered ${this.o.resource} (${this.devices.length} devices) with the agent at ${kubelet}`);
    } catch (err) {
      this.log(`registration failed, will retry: ${errorMessage(err)}`);
    } finally {
      this.busy = false;
    }
  }

  private async register(kubeletSocket: string): Promise<void> {
    const client = new (deviceServices().Registration)(unixTarget(kubeletSocket), grpc.credentials.createInsecure());
    try {
      await unary(client, 'Register', {
        version: API_VERSION,
        endpoint: this.socketName,
        resourceName: this.o.resource,
        options: { preStartRequired: false, getPreferredAllocationAvailable: true },
      });
    } finally {
      client.close();
    }
  }

  private async startServer(): Promise<void> {
    mkdirSync(this.o.pluginDir, { recursive: true });
    rmSync(this.socket, { force: true });
    const server = new grpc.Server();
    server.addService(deviceServices().DevicePlugin.service, {
      GetDevicePluginOptions: (_call: unknown, cb: grpc.sendUnaryData<object>) =>
        cb(null, { preStartRequired: false, getPreferredAllocationAvailable: true }),
      ListAndWatch: (call: grpc.ServerWritableStream<object, ListAndWatchResponse>) => {
        this.watchers.add(call);
        call.write(this.list());
        const done = () => this.watchers.delete(call);
        call.on('cancelled', done);
        call.on('close', done);
        call.on('error', done);
      },
      GetPreferredAllocation: (
        call: grpc.ServerUnaryCall<PreferredAllocationRequest, PreferredAllocationResponse>,
        cb: grpc.sendUnaryData<PreferredAllocationResponse>,
      ) => {
        // Prefer the lowest-numbered devices, so allocations are predictable.
        const num = (id: string) => Number(id.split('-').pop());
        cb(null, {
          containerResponses: (call.request.containerRequests ?? []).map((r) => {
            const must = r.mustIncludeDeviceIds ?? [];
            const rest = (r.availableDeviceIds ?? [])
              .filter((id) => !must.includes(id))
              .sort((a, b) => num(a) - num(b));
            return { deviceIds: [...must, ...rest].slice(0, r.allocationSize) };
          }),
        });
      },
      Allocate: (
        call: grpc.ServerUnaryCall<AllocateRequest, AllocateResponse>,
        cb: grpc.sendUnaryData<AllocateResponse>,
      ) => {
        const responses: ContainerAllocateResponse[] = [];
        for (const req of call.request.containerRequests ?? []) {
          const ids = req.devicesIds ?? [];
          const bad = ids.find((id) => !this.devices.some((d) => d.id === id && d.health === HEALTHY));
          if (bad) return cb({ code: grpc.status.INVALID_ARGUMENT, details: `unknown or unhealthy device ${bad}` });
          this.allocated.push([...ids]);
          responses.push({
            envs: { [idsEnvName(this.o.resource)]: ids.join(',') },
            mounts: ids.map((id) => ({
              containerPath: `/dev/${shortName(this.o.resource)}s/${id}`,
              hostPath: join(this.hostDir, id),
              readOnly: true,
            })),
            devices: [],
            annotations: { [`k8ts.io/${shortName(this.o.resource)}-ids`]: ids.join(',') },
          });
        }
        cb(null, { containerResponses: responses });
      },
      PreStartContainer: (_call: unknown, cb: grpc.sendUnaryData<object>) => cb(null, {}),
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(unixTarget(this.socket), grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    this.server = server;
  }

  private async stopServer(): Promise<void> {
    for (const w of this.watchers) w.end();
    this.watchers.clear();
    const server = this.server;
    this.server = undefined;
    await shutdownServer(server, this.socket);
  }
}
