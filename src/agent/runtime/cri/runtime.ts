// The Runtime of src/agent/runtime/types.ts over CRI: gRPC to containerd's CRI plugin on its unix
// socket. Every call is a unary RPC with a deadline; a failed call rejects with the gRPC status
// message, which is what the kubelet shows in events too.
import * as grpc from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { CRI_PROTO } from './api.js';
import type {
  Container,
  ContainerConfig,
  ContainerStats,
  ContainerStatus,
  ExecSyncResult,
  Image,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxStatus,
  RegistryAuth,
  Runtime,
} from '../types.js';

const LOADER_OPTIONS = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true } as const;

let services:
  { RuntimeService: grpc.ServiceClientConstructor; ImageService: grpc.ServiceClientConstructor } | undefined;

function criServices() {
  if (!services) {
    const root = protobuf.parse(CRI_PROTO, { keepCase: false }).root;
    // The services are built from the .proto at run time: grpc-js gives them no static type.
    const pkg = grpc.loadPackageDefinition(fromJSON(root.toJSON(), LOADER_OPTIONS)) as any;
    services = { RuntimeService: pkg.runtime.v1.RuntimeService, ImageService: pkg.runtime.v1.ImageService };
  }
  return services;
}

/** A gRPC error from the runtime, with its status code (5 = NotFound). */
export class CriError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export const isNotFound = (e: unknown) => e instanceof CriError && e.code === (grpc.status.NOT_FOUND as number);

export class CriRuntime implements Runtime {
  readonly name = 'containerd';
  readonly isolated = true;
  private runtime: grpc.Client;
  private images: grpc.Client;

  constructor(
    readonly endpoint: string,
    /** Deadline of ordinary calls; image pulls get pullTimeoutMs. */
    private timeoutMs = 2 * 60_000,
    private pullTimeoutMs = 30 * 60_000,
  ) {
    const target = endpoint.startsWith('unix:') ? endpoint : `unix://${endpoint}`;
    const { RuntimeService, ImageService } = criServices();
    const options = { 'grpc.max_receive_message_length': 16 * 1024 * 1024 };
    this.runtime = new RuntimeService(target, grpc.credentials.createInsecure(), options);
    this.images = new ImageService(target, grpc.credentials.createInsecure(), options);
  }

  private call<T>(client: grpc.Client, method: string, req: object, timeoutMs = this.timeoutMs): Promise<T> {
    return new Promise((resolve, reject) => {
      // The method is generated from the .proto at run time (no static type).
      (client as any)[method](req, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: T) => {
        if (err) reject(new CriError(method, err.code, err.details || err.message));
        else resolve(res);
      });
    });
  }

  // Default: an untyped CRI reply, read where it is used; a type argument types it.
  private rt<T = any>(method: string, req: object, timeoutMs?: number) {
    return this.call<T>(this.runtime, method, req, timeoutMs);
  }

  // Default: as rt().
  private img<T = any>(method: string, req: object, timeoutMs?: number) {
    return this.call<T>(this.images, method, req, timeoutMs);
  }

  async version() {
    return this.rt('Version', { version: 'v1' });
  }

  /**
   * Waits until the CRI service answers. A just-started containerd accepts connections before its
   * CRI plugin has loaded its state and answers "server is not initialized yet" meanwhile.
   */
  async waitServing(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.rt('Version', { version: 'v1' }, 5_000);
        return;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(
            `the CRI service at ${this.endpoint} did not answer within ${timeoutMs / 1000} s: ${(err as Error).message}`,
            { cause: err },
          );
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Runtime conditions (RuntimeReady, NetworkReady) as the runtime reports them. */
  async status(): Promise<{ type: string; status: boolean; reason: string; message: string }[]> {
    const res = await this.rt('Status', {});
    return res.status?.conditions ?? [];
  }

  async runPodSandbox(config: PodSandboxConfig, runtimeHandler = ''): Promise<string> {
    // Sandbox creation includes CNI setup; allow it the full deadline.
    const res = await this.rt('RunPodSandbox', { config, runtimeHandler });
    return res.podSandboxId;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.rt('StopPodSandbox', { podSandboxId: id });
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.rt('RemovePodSandbox', { podSandboxId: id });
  }

  async podSandboxStatus(id: string): Promise<PodSandboxStatus | undefined> {
    try {
      return (await this.rt('PodSandboxStatus', { podSandboxId: id })).status;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async listPodSandboxes(filter?: { labelSelector?: Record<string, string> }): Promise<PodSandbox[]> {
    return (
      (
        await this.rt(
          'ListPodSandbox',
          filter?.labelSelector ? { filter: { labelSelector: filter.labelSelector } } : {},
        )
      ).items ?? []
    );
  }

  async createContainer(sandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    return (await this.rt('CreateContainer', { podSandboxId: sandboxId, config, sandboxConfig })).containerId;
  }

  async startContainer(id: string): Promise<void> {
    await this.rt('StartContainer', { containerId: id });
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.rt(
      'StopContainer',
      { containerId: id, timeout: timeoutSeconds },
      this.timeoutMs + timeoutSeconds * 1000,
    );
  }

  async removeContainer(id: string): Promise<void> {
    await this.rt('RemoveContainer', { containerId: id });
  }

  async listContainers(filter?: { podSandboxId?: string }): Promise<Container[]> {
    return (
      (
        await this.rt('ListContainers', {
          filter: filter?.podSandboxId ? { podSandboxId: filter.podSandboxId } : undefined,
        })
      ).containers ?? []
    );
  }

  async containerStatus(id: string): Promise<ContainerStatus | undefined> {
    try {
      return (await this.rt('ContainerStatus', { containerId: id })).status;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async execSync(id: string, cmd: string[], timeoutSeconds: number): Promise<ExecSyncResult> {
    const res = await this.rt(
      'ExecSync',
      { containerId: id, cmd, timeout: timeoutSeconds },
      timeoutSeconds * 1000 + 5000,
    );
    return {
      stdout: Buffer.from(res.stdout ?? []),
      stderr: Buffer.from(res.stderr ?? []),
      exitCode: res.exitCode ?? 0,
    };
  }

  async exec(req: {
    containerId: string;
    cmd: string[];
    tty: boolean;
    stdin: boolean;
    stdout: boolean;
    stderr: boolean;
  }): Promise<string> {
    return (await this.rt('Exec', req)).url;
  }

  async attach(req: {
    containerId: string;
    tty: boolean;
    stdin: boolean;
    stdout: boolean;
    stderr: boolean;
  }): Promise<string> {
    return (await this.rt('Attach', req)).url;
  }

  async portForward(req: { podSandboxId: string; port: number[] }): Promise<string> {
    return (await this.rt('PortForward', req)).url;
  }

  /** After the log file was renamed (rotation): the runtime writes a new file at the same path. */
  async reopenContainerLog(id: string): Promise<void> {
    await this.rt('ReopenContainerLog', { containerId: id });
  }

  async listContainerStats(): Promise<ContainerStats[]> {
    return (await this.rt('ListContainerStats', {})).stats ?? [];
  }

  async updateRuntimeConfig(podCIDR: string): Promise<void> {
    await this.rt('UpdateRuntimeConfig', { runtimeConfig: { networkConfig: { podCidr: podCIDR } } });
  }

  async pullImage(image: string, auth?: RegistryAuth): Promise<string> {
    return (await this.img('PullImage', { image: { image }, auth }, this.pullTimeoutMs)).imageRef;
  }

  async imageStatus(image: string): Promise<Image | undefined> {
    const res = await this.img('ImageStatus', { image: { image } });
    return res.image ?? undefined;
  }

  async listImages(): Promise<Image[]> {
    return (await this.img('ListImages', {})).images ?? [];
  }

  async removeImage(image: string): Promise<void> {
    await this.img('RemoveImage', { image: { image } });
  }

  close(): Promise<void> {
    this.runtime.close();
    this.images.close();
    return Promise.resolve();
  }
}
