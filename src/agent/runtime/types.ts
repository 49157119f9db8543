// The container runtime as the node agent sees it: the CRI (Container Runtime Interface) model of
// pod sandboxes, containers and images, in TypeScript. The containerd runtime is a thin gRPC
// client of exactly this; the process runtime implements the same calls with host processes, so
// the agent's pod logic never knows which one it drives.
//
// Field names are the CRI protobuf fields in camelCase (as @grpc/proto-loader presents them);
// timestamps are nanoseconds since the epoch as numbers (CRI's int64).

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';
export type SandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';

export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}

export interface PortMapping {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  containerPort: number;
  hostPort: number;
  hostIp?: string;
}

export interface LinuxResources {
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuShares?: number;
  memoryLimitInBytes?: number;
  oomScoreAdj?: number;
  /** cgroup v2 / extra settings, e.g. pids limit for the process runtime. */
  unified?: Record<string, string>;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname: string;
  /** Directory under which container logs are written (log paths are relative to it). */
  logDirectory: string;
  dnsConfig?: { servers: string[]; searches: string[]; options: string[] };
  portMappings: PortMapping[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  linux: {
    cgroupParent?: string;
    securityContext: {
      namespaceOptions: { network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode };
      privileged?: boolean;
      runAsUser?: { value: number };
      runAsGroup?: { value: number };
      supplementalGroups?: number[];
      readonlyRootfs?: boolean;
    };
    sysctls?: Record<string, string>;
  };
}

export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata;
  state: SandboxState;
  createdAt: number;
  network?: { ip: string; additionalIps: { ip: string }[] };
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata;
  state: SandboxState;
  createdAt: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface Mount {
  containerPath: string;
  hostPath: string;
  readonly?: boolean;
  propagation?: 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL';
}

export interface Device {
  containerPath: string;
  hostPath: string;
  permissions: string;
}

export interface ContainerConfig {
  metadata: { name: string; attempt: number };
  image: { image: string };
  command: string[];
  args: string[];
  workingDir: string;
  envs: { key: string; value: string }[];
  mounts: Mount[];
  devices: Device[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Relative to the sandbox's logDirectory. */
  logPath: string;
  stdin: boolean;
  stdinOnce: boolean;
  tty: boolean;
  linux: {
    resources: LinuxResources;
    securityContext: {
      capabilities?: { addCapabilities: string[]; dropCapabilities: string[] };
      privileged?: boolean;
      /** targetId: the container whose namespace a TARGET mode joins (ephemeral containers' pid). */
      namespaceOptions: { network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode; targetId?: string };
      runAsUser?: { value: number };
      runAsGroup?: { value: number };
      runAsUsername?: string;
      readonlyRootfs?: boolean;
      supplementalGroups?: number[];
      noNewPrivs?: boolean;
    };
  };
}

export interface Container {
  id: string;
  podSandboxId: string;
  metadata: { name: string; attempt: number };
  image: { image: string };
  imageRef: string;
  state: ContainerState;
  createdAt: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface ContainerStatus {
  id: string;
  metadata: { name: string; attempt: number };
  state: ContainerState;
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  image: { image: string };
  imageRef: string;
  /** e.g. "Completed", "Error", "OOMKilled". */
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Absolute path of the container's log file. */
  logPath: string;
}

export interface Image {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
}

export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

export interface ContainerStats {
  attributes: { id: string; metadata: { name: string; attempt: number }; labels: Record<string, string> };
  cpu?: { timestamp: number; usageCoreNanoSeconds?: { value: number } };
  memory?: { timestamp: number; workingSetBytes?: { value: number } };
}

export interface RegistryAuth {
  username?: string;
  password?: string;
  auth?: string;
  serverAddress?: string;
}

export interface Runtime {
  /** "containerd" or "process". */
  readonly name: string;
  /** False when containers are plain host processes (no namespaces, no cgroup limits). */
  readonly isolated: boolean;
  version(): Promise<{ runtimeName: string; runtimeVersion: string; runtimeApiVersion: string }>;

  /** `runtimeHandler`: the RuntimeClass's CRI handler ('' for the runtime's default). */
  runPodSandbox(config: PodSandboxConfig, runtimeHandler?: string): Promise<string>;
  stopPodSandbox(id: string): Promise<void>;
  removePodSandbox(id: string): Promise<void>;
  podSandboxStatus(id: string): Promise<PodSandboxStatus | undefined>;
  /** All sandboxes, or those carrying every label of `labelSelector`. */
  listPodSandboxes(filter?: { labelSelector?: Record<string, string> }): Promise<PodSandbox[]>;

  createContainer(sandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** Sends the stop signal, then SIGKILL after timeoutSeconds. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  listContainers(filter?: { podSandboxId?: string }): Promise<Container[]>;
  containerStatus(id: string): Promise<ContainerStatus | undefined>;
  execSync(id: string, cmd: string[], timeoutSeconds: number): Promise<ExecSyncResult>;
  /** Streaming endpoints: a URL that speaks the Kubernetes remotecommand / port-forward protocols. */
  exec(req: {
    containerId: string;
    cmd: string[];
    tty: boolean;
    stdin: boolean;
    stdout: boolean;
    stderr: boolean;
  }): Promise<string>;
  attach(req: { containerId: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): Promise<string>;
  portForward(req: { podSandboxId: string; port: number[] }): Promise<string>;
  listContainerStats(): Promise<ContainerStats[]>;
  /** Reopen a container's log file after it was renamed (log rotation); absent: no rotation. */
  reopenContainerLog?(id: string): Promise<void>;

  pullImage(image: string, auth?: RegistryAuth): Promise<string>;
  imageStatus(image: string): Promise<Image | undefined>;
  listImages(): Promise<Image[]>;
  removeImage(image: string): Promise<void>;

  close(): Promise<void>;
}

/** Labels the agent puts on sandboxes and containers so it can find its pods after a restart. */
export const LABEL = {
  podName: 'io.kubernetes.pod.name',
  podNamespace: 'io.kubernetes.pod.namespace',
  podUID: 'io.kubernetes.pod.uid',
  containerName: 'io.kubernetes.container.name',
} as const;
