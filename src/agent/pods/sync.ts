// One pod's reconciliation on its node (the kubelet's SyncPod, SyncTerminatingPod and
// computePodActions): make the runtime match the pod spec — sandbox, init containers in order,
// sidecars, main containers with restart policy and back-off — then report the status. Every call
// is idempotent and looks at the runtime afresh, so the agent can restart at any moment.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Container, Pod, PodStatus } from 'kubernetes-types/core/v1.js';
import { R, spec, type Client } from '../../client/client.js';
import { isConflict, isNotFound } from '../../client/errors.js';
import { runtimeHandlerOf } from './runtimeclass.js';
import type { EventRecorder } from '../../client/events.js';
import type { ContainerStatus, Mount, PodSandboxConfig, RegistryAuth, Runtime } from '../runtime/types.js';
import { LABEL } from '../runtime/types.js';
import { Backoff, goDuration } from './backoff.js';
import { ImagePuller } from './images.js';
import { PodFiles } from './files.js';
import { containerConfig, qosClass } from './container.js';
import { podCgroupParent, removePodCgroups, setPodPidsLimit } from './cgroups.js';
import { sandboxConfig, type DnsSettings } from './sandbox.js';
import { ephemeralContainerRan, isSidecar, podStatus, type ReportedPodStatus } from './status.js';
import { runHook, type HookTarget } from './hooks.js';
import { allContainers, type AgentPod, type PodContainer } from './types.js';
import type { PodVolumes } from '../volumes/manager.js';
import { errorMessage, errorReason } from '../errors.js';
import { applyDevices, type ContainerDevices, type DevicePort } from '../devices/manager.js';
import { rfc3339 } from '../../machinery/time.js';

export interface VolumePort {
  setUp(pod: Pod): Promise<PodVolumes>;
  refresh(pod: Pod): Promise<boolean>;
  tearDown(podUID: string): Promise<void>;
  mountsFor(
    pod: Pod,
    container: Container,
    volumes: PodVolumes,
    env: { key: string; value: string }[],
  ): Promise<Mount[]>;
}

/** How hooks and probes reach one running container. */
type ContainerTarget = HookTarget & { startedAt?: number };

export interface ProbePort {
  addContainer(pod: Pod, container: Container, containerId: string, target: ContainerTarget): void;
  removeContainer(podUID: string, containerName: string): void;
  removePod(podUID: string): void;
  isReady(podUID: string, containerName: string): boolean;
  isStarted(podUID: string, containerName: string): boolean;
}

export interface PodSyncDeps {
  client: Client;
  runtime: Runtime;
  recorder: EventRecorder;
  volumes: VolumePort;
  probes: ProbePort;
  containerEnv(
    pod: Pod,
    c: Container,
    ctx: { podIP: string; podIPs: string[] },
  ): Promise<{ key: string; value: string }[]>;
  nodeName: string;
  hostIP: string;
  podsDir: string;
  logsDir: string;
  dns: DnsSettings;
  clusterDomain: string;
  nodeMemoryBytes: number;
  /** Device plugins: devices for containers that ask for extended resources (optional). */
  devices?: DevicePort;
  /** Credentials from the node's registries file for an image (used when no imagePullSecret matches). */
  registryAuth?: (image: string) => RegistryAuth | undefined;
  /** Put pods in cgroups of their own (real containers only) and cap their PIDs (-1: no cap). */
  podCgroups: boolean;
  podMaxPids: number;
  logger: Logger;
}

interface Sandbox {
  id: string;
  attempt: number;
  ready: boolean;
  ips: string[];
}

/** What starting a container needs to know of its pod and the runtime. */
interface StartContext {
  pod: AgentPod;
  sandbox: Sandbox;
  cfg: PodSandboxConfig;
  volumes: PodVolumes;
  podIPs: string[];
  /** The runtime's containers of the pod, by name (an ephemeral container's target is found here). */
  containers: Map<string, ContainerStatus[]>;
}

/**
 * pods/status written with the status as the agent reports it: unset times are null on the wire,
 * which kubernetes-types' PodStatus cannot express.
 */
const podStatusWrites = spec<Omit<Pod, 'status'> & { status: ReportedPodStatus }>(R.pods);

/** Keep this many exited attempts of a container (the newest and the one before, for --previous). */
const KEEP_ATTEMPTS = 2;

export class PodSyncer {
  readonly backoff = new Backoff();
  /** Why containers are waiting, by "<uid>/<name>". */
  private waiting = new Map<string, { reason: string; message?: string }>();
  /** Containers the agent is killing on purpose (liveness failure, pod termination): id set. */
  readonly killing = new Set<string>();
  /** Last status seen of each container (see containerStatus). */
  private statuses = new Map<string, ContainerStatus>();
  private log: Logger;

  private images: ImagePuller;
  private files: PodFiles;

  constructor(private deps: PodSyncDeps) {
    this.log = deps.logger;
    this.images = new ImagePuller({
      client: deps.client,
      runtime: deps.runtime,
      registryAuth: deps.registryAuth,
      event: (...a) => this.event(...a),
    });
    this.files = new PodFiles(deps.podsDir, deps.clusterDomain);
  }

  private ref(pod: AgentPod) {
    return { apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata };
  }

  private event(pod: AgentPod, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath?: string) {
    this.deps.recorder.event(this.ref(pod), type, reason, message, fieldPath);
  }

  podDir(uid: string) {
    return this.files.dir(uid);
  }

  logDir(pod: AgentPod) {
    return join(this.deps.logsDir, `${pod.metadata.namespace}_${pod.metadata.name}_${pod.metadata.uid}`);
  }

  // ---- runtime view ---------------------------------------------------------------------------

  /** The pod's sandboxes (newest first) and, for the newest, its containers by name (newest attempt first). */
  async observe(
    uid: string,
  ): Promise<{ sandbox?: Sandbox; old: string[]; containers: Map<string, ContainerStatus[]> }> {
    const rt = this.deps.runtime;
    const sandboxes = (await rt.listPodSandboxes({ labelSelector: { [LABEL.podUID]: uid } })).sort(
      (a, b) => b.metadata.attempt - a.metadata.attempt || b.createdAt - a.createdAt,
    );
    const containers = new Map<string, ContainerStatus[]>();
    if (!sandboxes.length) return { old: [], containers };
    const [s] = sandboxes;
    const st = await rt.podSandboxStatus(s.id);
    const ips = st?.network?.ip ? [st.network.ip, ...(st.network.additionalIps ?? []).map((a) => a.ip)] : [];
    const sandbox: Sandbox = { id: s.id, attempt: s.metadata.attempt, ready: st?.state === 'SANDBOX_READY', ips };
    for (const c of await rt.listContainers({ podSandboxId: s.id })) {
      const status = await this.containerStatus(c.id, c.state);
      if (!status) continue;
      const list = containers.get(c.metadata.name) ?? [];
      list.push(status);
      containers.set(c.metadata.name, list);
    }
    for (const list of containers.values()) list.sort((a, b) => b.metadata.attempt - a.metadata.attempt);
    return { sandbox, old: sandboxes.slice(1).map((x) => x.id), containers };
  }

  /**
   * A container's status, asked of the runtime only when its state changed since the last time
   * (a status does not change while the state stays the same), which keeps syncs of many pods cheap.
   */
  private async containerStatus(id: string, state: string): Promise<ContainerStatus | undefined> {
    const cached = this.statuses.get(id);
    if (cached && cached.state === state) return cached;
    const status = await this.deps.runtime.containerStatus(id);
    if (status) this.statuses.set(id, status);
    else this.statuses.delete(id);
    return status;
  }

  // ---- sync ---------------------------------------------------------------------------------

  /** Brings a live pod's containers to its spec; returns when to look again (ms), if needed. */
  async sync(pod: AgentPod): Promise<number | undefined> {
    if (pod.metadata.deletionTimestamp) return this.terminate(pod, true);
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return this.terminate(pod, false);

    const uid = pod.metadata.uid;
    let volumes: PodVolumes;
    try {
      volumes = await this.deps.volumes.setUp(pod);
    } catch (err) {
      this.event(pod, 'Warning', errorReason(err) ?? 'FailedMount', errorMessage(err));
      await this.report(pod, await this.observe(uid));
      return 5_000;
    }
    let view = await this.observe(uid);
    let sandbox = view.sandbox;
    const logDirectory = this.logDir(pod);
    if (sandbox && !sandbox.ready && this.finished(pod, view.containers)) {
      // The pod ran to completion and its sandbox was released: nothing is started again (as
      // upstream, a pod that must not restart never gets a new sandbox), only the status is told.
      await this.report(pod, view);
      return undefined;
    }
    if (!sandbox || !sandbox.ready) {
      const attempt = sandbox ? sandbox.attempt + 1 : 0;
      if (sandbox) {
        this.event(pod, 'Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
        await this.stopAll(pod, view.containers, 0);
        await this.deps.runtime.stopPodSandbox(sandbox.id).catch(() => undefined);
      }
      mkdirSync(logDirectory, { recursive: true });
      const cfg = this.sandboxConfig(pod, attempt);
      if (cfg.linux.cgroupParent) setPodPidsLimit(cfg.linux.cgroupParent, this.deps.podMaxPids);
      try {
        await this.deps.runtime.runPodSandbox(cfg, await runtimeHandlerOf(this.deps.client, pod));
      } catch (err) {
        this.event(pod, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${errorMessage(err)}`);
        throw err;
      }
      view = await this.observe(uid);
      sandbox = view.sandbox;
      if (!sandbox) throw new Error('pod sandbox vanished after creation');
    }
    for (const id of view.old) await this.removeSandbox(id);
    const cfg = this.sandboxConfig(pod, sandbox.attempt);
    const podIPs = pod.spec?.hostNetwork ? [this.deps.hostIP] : sandbox.ips;
    this.files.writeHosts(pod, podIPs[0]);

    let next: number | undefined;
    const after = (ms: number | undefined) => {
      if (ms !== undefined && (next === undefined || ms < next)) next = ms;
    };
    const policy = pod.spec?.restartPolicy ?? 'Always';
    const ctx: StartContext = { pod, sandbox, cfg, volumes, podIPs, containers: view.containers };

    // Init containers, in order: each regular one must exit 0 before the next; sidecars must have started.
    let initBlocked = false;
    for (const c of pod.spec?.initContainers ?? []) {
      const latest = (view.containers.get(c.name) ?? [])[0];
      if (isSidecar(c)) {
        if (!latest || latest.state === 'CONTAINER_EXITED' || latest.state === 'CONTAINER_CREATED') {
          after(await this.start(ctx, c, latest));
          if (!latest) {
            initBlocked = true;
            break;
          }
        } else if (latest.state === 'CONTAINER_RUNNING' && !this.deps.probes.isStarted(uid, c.name)) {
          initBlocked = true;
          break;
        }
        continue;
      }
      if (latest?.state === 'CONTAINER_EXITED' && latest.exitCode === 0) continue;
      initBlocked = true;
      if (latest?.state === 'CONTAINER_RUNNING') break;
      if (latest?.state === 'CONTAINER_EXITED' && policy === 'Never') break; // the pod fails
      after(await this.start(ctx, c, latest));
      break;
    }

    if (!initBlocked) {
      for (const c of pod.spec?.containers ?? []) {
        const latest = (view.containers.get(c.name) ?? [])[0];
        if (latest?.state === 'CONTAINER_RUNNING') continue;
        if (latest?.state === 'CONTAINER_EXITED') {
          const restart = policy === 'Always' || (policy === 'OnFailure' && latest.exitCode !== 0);
          if (!restart) continue;
        }
        after(await this.start(ctx, c, latest));
      }
    }
    // Ephemeral containers (kubectl debug): each started once, as soon as the sandbox is up (init
    // containers need not have finished, as upstream), and never restarted once it ran.
    for (const c of pod.spec?.ephemeralContainers ?? []) {
      const latest = (view.containers.get(c.name) ?? [])[0];
      if (latest ? latest.state !== 'CONTAINER_CREATED' : ephemeralContainerRan(pod, c.name)) continue;
      after(await this.start(ctx, c, latest));
    }
    await this.gcAttempts(view.containers);
    const fresh = await this.observe(uid);
    this.probeRunning(pod, fresh.containers, podIPs);
    const status = await this.report(pod, fresh);
    if (status?.phase === 'Succeeded' || status?.phase === 'Failed') {
      // Nothing will run again: stop the sidecars and release the sandbox (and its IP).
      await this.stopAll(pod, fresh.containers, pod.spec?.terminationGracePeriodSeconds ?? 30);
      await this.deps.runtime.stopPodSandbox(sandbox.id).catch(() => undefined);
    }
    // ConfigMaps and Secrets may change under running pods; look again now and then.
    const refreshed = await this.deps.volumes.refresh(pod).catch(() => false);
    if (refreshed) this.log.debug({ pod: pod.metadata.name }, 'volume contents updated');
    return next ?? 10_000;
  }

  /** Whether the pod's restart policy lets none of its exited main containers run again. */
  private finished(pod: Pod, containers: Map<string, ContainerStatus[]>): boolean {
    const policy = pod.spec?.restartPolicy ?? 'Always';
    if (policy === 'Always') return false;
    const latest = (pod.spec?.containers ?? []).map((c) => (containers.get(c.name) ?? [])[0]);
    if (latest.some((c) => !c || c.state !== 'CONTAINER_EXITED')) return false;
    return policy === 'Never' || latest.every((c) => c.exitCode === 0);
  }

  private sandboxConfig(pod: AgentPod, attempt: number): PodSandboxConfig {
    const cgroupParent = this.deps.podCgroups ? podCgroupParent(pod.metadata.uid, qosClass(pod)) : undefined;
    return sandboxConfig(pod, attempt, { logDirectory: this.logDir(pod), dns: this.deps.dns, cgroupParent });
  }

  /** Starts (or restarts, after back-off) one container; returns when to look again if it has to wait. */
  private async start(
    ctx: StartContext,
    c: PodContainer,
    latest: ContainerStatus | undefined,
  ): Promise<number | undefined> {
    const { pod } = ctx;
    const uid = pod.metadata.uid;
    const key = `${uid}/${c.name}`;
    const ephemeral = (pod.spec?.ephemeralContainers ?? []).includes(c);
    const fieldPath = `spec.${ephemeral ? 'ephemeralContainers' : (pod.spec?.initContainers ?? []).includes(c) ? 'initContainers' : 'containers'}{${c.name}}`;
    // An ephemeral container with a target joins the target's process namespace (kubectl debug --target).
    let targetId: string | undefined;
    if (ephemeral && c.targetContainerName) {
      targetId = (ctx.containers.get(c.targetContainerName) ?? [])[0]?.id;
      if (!targetId) {
        const message = `unable to find target container ${c.targetContainerName}`;
        this.waiting.set(key, { reason: 'CreateContainerConfigError', message });
        this.event(pod, 'Warning', 'Failed', `Error: ${message}`, fieldPath);
        return 5_000;
      }
    }
    if (latest?.state === 'CONTAINER_CREATED') {
      // Created by an earlier sync that did not get to start it.
      await this.deps.runtime.removeContainer(latest.id).catch(() => undefined);
    } else if (latest) {
      const wait = this.backoff.remaining(key, Math.floor(latest.finishedAt / 1e6));
      if (wait > 0) {
        const msg = `back-off ${goDuration(this.backoff.current(key))} restarting failed container=${c.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${uid})`;
        this.waiting.set(key, { reason: 'CrashLoopBackOff', message: msg });
        this.event(
          pod,
          'Warning',
          'BackOff',
          `Back-off restarting failed container ${c.name} in pod ${pod.metadata.name}_${pod.metadata.namespace}(${uid})`,
          fieldPath,
        );
        return wait;
      }
      this.backoff.next(key);
    }
    const pullWait = await this.images.ensure(pod, c, key, fieldPath, this.waiting.get(key));
    if (pullWait) {
      this.waiting.set(key, pullWait);
      return this.images.remaining(key) || 5_000;
    }
    let env: { key: string; value: string }[];
    try {
      env = await this.deps.containerEnv(pod, c, { podIP: ctx.podIPs[0] ?? '', podIPs: ctx.podIPs });
    } catch (err) {
      this.waiting.set(key, { reason: 'CreateContainerConfigError', message: errorMessage(err) });
      this.event(pod, 'Warning', 'Failed', `Error: ${errorMessage(err)}`, fieldPath);
      return 5_000;
    }
    // ---- device plugins: allocate the container's extended resources (their envs come first) ----
    let devs: ContainerDevices | undefined;
    try {
      devs = await this.deps.devices?.allocate(pod, c);
    } catch (err) {
      this.waiting.set(key, { reason: 'CreateContainerConfigError', message: errorMessage(err) });
      this.event(
        pod,
        'Warning',
        'UnexpectedAdmissionError',
        `Allocate failed due to ${errorMessage(err)}, which is unexpected`,
        fieldPath,
      );
      return 5_000;
    }
    if (devs) env = [...devs.envs, ...env];
    const attempt = latest ? latest.metadata.attempt + 1 : 0;
    let mounts: Mount[];
    try {
      mounts = [
        ...(await this.deps.volumes.mountsFor(pod, c, ctx.volumes, env)),
        ...this.files.mounts(pod, c, attempt),
      ];
    } catch (err) {
      this.waiting.set(key, { reason: 'CreateContainerConfigError', message: errorMessage(err) });
      this.event(pod, 'Warning', 'Failed', `Error: ${errorMessage(err)}`, fieldPath);
      return 5_000;
    }
    const config = containerConfig(pod, c, ctx.cfg, {
      env,
      mounts,
      attempt,
      nodeMemoryBytes: this.deps.nodeMemoryBytes,
      targetId,
    });
    applyDevices(config, devs);
    let id: string;
    try {
      id = await this.deps.runtime.createContainer(ctx.sandbox.id, config, ctx.cfg);
    } catch (err) {
      this.waiting.set(key, { reason: 'CreateContainerError', message: errorMessage(err) });
      this.event(pod, 'Warning', 'Failed', `Error: ${errorMessage(err)}`, fieldPath);
      return 5_000;
    }
    this.event(pod, 'Normal', 'Created', `Created container ${c.name}`, fieldPath);
    try {
      await this.deps.runtime.startContainer(id);
    } catch (err) {
      this.waiting.set(key, { reason: 'RunContainerError', message: errorMessage(err) });
      this.event(pod, 'Warning', 'Failed', `Error: ${errorMessage(err)}`, fieldPath);
      return 5_000;
    }
    this.waiting.delete(key);
    this.event(pod, 'Normal', 'Started', `Started container ${c.name}`, fieldPath);
    if (ephemeral) return undefined; // no hooks, no probes
    const target = this.probeTarget(id, c, ctx.podIPs);
    if (c.lifecycle?.postStart) {
      const err = await runHook(c.lifecycle.postStart, target, pod.spec?.terminationGracePeriodSeconds ?? 30);
      if (err) {
        this.event(pod, 'Warning', 'FailedPostStartHook', err, fieldPath);
        this.killing.add(id);
        await this.deps.runtime.stopContainer(id, pod.spec?.terminationGracePeriodSeconds ?? 30).catch(() => undefined);
        return 0;
      }
    }
    this.deps.probes.addContainer(pod, c, id, target);
    return undefined;
  }

  /**
   * Every running container is probed, including those an earlier run of the agent started
   * (the probe manager ignores containers it already has).
   */
  private probeRunning(pod: Pod, containers: Map<string, ContainerStatus[]>, podIPs: string[]): void {
    for (const list of containers.values())
      for (const c of list) if (c.state === 'CONTAINER_EXITED') this.killing.delete(c.id);
    for (const c of [...(pod.spec?.initContainers ?? []).filter(isSidecar), ...(pod.spec?.containers ?? [])]) {
      const latest = (containers.get(c.name) ?? [])[0];
      if (latest?.state !== 'CONTAINER_RUNNING' || this.killing.has(latest.id)) continue;
      this.deps.probes.addContainer(
        pod,
        c,
        latest.id,
        this.probeTarget(latest.id, c, podIPs, Math.floor(latest.startedAt / 1e6)),
      );
    }
  }

  private probeTarget(id: string, c: Container, podIPs: string[], startedAt?: number): ContainerTarget {
    return {
      podIP: podIPs[0] ?? '',
      ports: c.ports ?? [],
      startedAt,
      execSync: (cmd: string[], t: number) => this.deps.runtime.execSync(id, cmd, t),
    };
  }

  /** Computes the pod's status from the runtime and writes it when it changed; returns it. */
  async report(
    pod: AgentPod,
    view: { sandbox?: Sandbox; containers: Map<string, ContainerStatus[]> },
  ): Promise<ReportedPodStatus> {
    const uid = pod.metadata.uid;
    const status = podStatus(pod, {
      hostIP: this.deps.hostIP,
      podIPs: pod.spec?.hostNetwork ? [this.deps.hostIP] : (view.sandbox?.ips ?? []),
      sandboxReady: !!view.sandbox?.ready,
      containers: view.containers,
      ready: (n) => this.deps.probes.isReady(uid, n),
      started: (n) => this.deps.probes.isStarted(uid, n),
      waiting: (n) => {
        const w = this.waiting.get(`${uid}/${n}`);
        if (!w) return undefined;
        const latest = (view.containers.get(n) ?? [])[0];
        // A container running again no longer waits.
        return latest?.state === 'CONTAINER_RUNNING' ? undefined : w;
      },
      terminationMessage: (c) => this.files.terminationMessage(pod, c),
      now: Date.now(),
    });
    if (!statusChanged(pod.status, status)) return status;
    try {
      await this.deps.client
        .resource(podStatusWrites)
        .namespace(pod.metadata.namespace)
        .updateStatus({ ...pod, status });
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return status; // the next event brings the new pod
      throw err;
    }
    return status;
  }

  // ---- termination ---------------------------------------------------------------------------

  /** The status of a pod whose containers were all stopped (deleted or evicted). */
  private stoppedStatus(pod: AgentPod, containers: Map<string, ContainerStatus[]>): ReportedPodStatus {
    return podStatus(pod, {
      hostIP: this.deps.hostIP,
      podIPs: [],
      sandboxReady: false,
      containers,
      ready: () => false,
      started: () => false,
      waiting: () => undefined,
      terminationMessage: (c) => this.files.terminationMessage(pod, c),
      now: Date.now(),
    });
  }

  /** Kills running containers: preStop hooks, then the stop signal with the grace period; main containers before sidecars. */
  async stopAll(pod: AgentPod, containers: Map<string, ContainerStatus[]>, graceSeconds: number): Promise<void> {
    const specs = new Map(allContainers(pod).map((c) => [c.name, c]));
    const sidecars = new Set((pod.spec?.initContainers ?? []).filter(isSidecar).map((c) => c.name));
    const running = [...containers.values()]
      .map((l) => l[0])
      .filter((c) => c && (c.state === 'CONTAINER_RUNNING' || c.state === 'CONTAINER_CREATED'));
    const deadline = Date.now() + graceSeconds * 1000;
    const stopOne = async (c: ContainerStatus) => {
      const spec = specs.get(c.metadata.name);
      this.killing.add(c.id);
      if (spec)
        this.event(
          pod,
          'Normal',
          'Killing',
          `Stopping container ${c.metadata.name}`,
          `spec.containers{${c.metadata.name}}`,
        );
      if (spec?.lifecycle?.preStop && c.state === 'CONTAINER_RUNNING' && graceSeconds > 0) {
        const target: HookTarget = {
          podIP: pod.status?.podIP ?? '',
          ports: spec.ports ?? [],
          execSync: (cmd: string[], t: number) => this.deps.runtime.execSync(c.id, cmd, t),
        };
        const err = await runHook(spec.lifecycle.preStop, target, graceSeconds);
        if (err) this.event(pod, 'Warning', 'FailedPreStopHook', err, `spec.containers{${c.metadata.name}}`);
      }
      const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      await this.deps.runtime.stopContainer(c.id, left).catch((err) => this.log.debug({ err }, 'stop container'));
      this.deps.probes.removeContainer(pod.metadata.uid, c.metadata.name);
    };
    await Promise.all(running.filter((c) => !sidecars.has(c.metadata.name)).map(stopOne));
    await Promise.all(running.filter((c) => sidecars.has(c.metadata.name)).map(stopOne));
  }

  /** A pod being deleted (or finished): stop everything; a deleted pod is then removed from the API and the node. */
  private async terminate(pod: AgentPod, deleting: boolean): Promise<number | undefined> {
    const uid = pod.metadata.uid;
    const view = await this.observe(uid);
    const grace = deleting
      ? (pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30)
      : 0;
    await this.stopAll(pod, view.containers, grace);
    if (view.sandbox) await this.deps.runtime.stopPodSandbox(view.sandbox.id).catch(() => undefined);
    this.deps.probes.removePod(uid);
    if (!deleting) return undefined;
    const after = await this.observe(uid);
    const status = this.stoppedStatus(pod, after.containers);
    // Keep the IPs the pod had while its final status is read, as upstream.
    if (pod.status?.podIP) {
      status.podIP = pod.status.podIP;
      status.podIPs = pod.status.podIPs;
    }
    if (
      status.phase !== 'Succeeded' &&
      status.phase !== 'Failed' &&
      pod.status?.phase !== 'Succeeded' &&
      pod.status?.phase !== 'Failed'
    ) {
      status.phase = pod.spec?.restartPolicy === 'Always' ? 'Failed' : status.phase;
    }
    const pods = this.deps.client.resource(podStatusWrites).namespace(pod.metadata.namespace);
    try {
      if (statusChanged(pod.status, status)) await pods.updateStatus({ ...pod, status });
      await pods.delete(pod.metadata.name, { gracePeriodSeconds: 0, preconditions: { uid } });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
    return undefined;
  }

  /**
   * Node-pressure eviction: the pod's containers are killed at once, its sandbox released, and
   * its status says Failed/Evicted with the DisruptionTarget condition, as the kubelet reports it.
   */
  async evict(pod: AgentPod, message: string): Promise<void> {
    const uid = pod.metadata.uid;
    const view = await this.observe(uid);
    await this.stopAll(pod, view.containers, 0);
    if (view.sandbox) await this.deps.runtime.stopPodSandbox(view.sandbox.id).catch(() => undefined);
    this.deps.probes.removePod(uid);
    const after = await this.observe(uid);
    const status = this.stoppedStatus(pod, after.containers);
    const now = rfc3339();
    status.phase = 'Failed';
    status.reason = 'Evicted';
    status.message = message;
    status.conditions = [
      ...status.conditions.filter((c) => c.type !== 'DisruptionTarget'),
      {
        type: 'DisruptionTarget',
        status: 'True',
        lastProbeTime: null,
        lastTransitionTime: now,
        reason: 'TerminationByKubelet',
        message,
      },
    ];
    this.event(pod, 'Warning', 'Evicted', message);
    await this.deps.client
      .resource(podStatusWrites)
      .namespace(pod.metadata.namespace)
      .updateStatus({ ...pod, status });
  }

  /** Removes everything of a pod that is gone from the API. */
  async cleanup(uid: string): Promise<void> {
    const sandboxes = await this.deps.runtime.listPodSandboxes({ labelSelector: { [LABEL.podUID]: uid } });
    for (const s of sandboxes) await this.removeSandbox(s.id);
    this.deps.probes.removePod(uid);
    this.deps.devices?.free(uid);
    this.backoff.forgetPrefix(`${uid}/`);
    this.images.forgetPod(uid);
    for (const k of this.waiting.keys()) if (k.startsWith(`${uid}/`)) this.waiting.delete(k);
    await this.deps.volumes.tearDown(uid).catch((err) => this.log.warn({ err, uid }, 'volume teardown failed'));
    if (this.deps.podCgroups)
      for (const qos of ['Guaranteed', 'Burstable', 'BestEffort'] as const) removePodCgroups(podCgroupParent(uid, qos));
    rmSync(this.podDir(uid), { recursive: true, force: true });
    const ns = sandboxes[0]?.metadata;
    if (ns) rmSync(join(this.deps.logsDir, `${ns.namespace}_${ns.name}_${uid}`), { recursive: true, force: true });
  }

  private async removeSandbox(id: string): Promise<void> {
    const rt = this.deps.runtime;
    for (const c of await rt.listContainers({ podSandboxId: id })) {
      this.statuses.delete(c.id);
      if (c.state === 'CONTAINER_RUNNING') await rt.stopContainer(c.id, 0).catch(() => undefined);
      await rt.removeContainer(c.id).catch(() => undefined);
    }
    await rt.stopPodSandbox(id).catch(() => undefined);
    await rt.removePodSandbox(id).catch((err) => this.log.debug({ err, id }, 'remove sandbox'));
  }

  /** Removes exited attempts beyond the newest two of each container. */
  private async gcAttempts(containers: Map<string, ContainerStatus[]>): Promise<void> {
    for (const list of containers.values()) {
      for (const old of list.slice(KEEP_ATTEMPTS)) {
        if (old.state !== 'CONTAINER_EXITED') continue;
        await this.deps.runtime.removeContainer(old.id).catch(() => undefined);
        this.statuses.delete(old.id);
      }
    }
  }
}

/** Whether two pod statuses differ in anything but condition probe/heartbeat times. */
function statusChanged(a: PodStatus | undefined, b: ReportedPodStatus): boolean {
  return JSON.stringify(a ?? {}) !== JSON.stringify(b);
}
