// The agent's prober manager (upstream pkg/kubelet/prober): one worker per container instance and
// probe kind, and the per-container "started" and "ready" state derived from their results.
//
// Rules kept from the kubelet:
//   - a startup probe gates the other two: liveness and readiness do not run until it succeeds,
//     and the container is neither started nor ready before that;
//   - readiness is false until the probe first succeeds successThreshold times in a row (true at
//     once when there is no readiness probe), and a readiness probe runs immediately when the
//     container becomes started;
//   - liveness or startup failing failureThreshold times in a row asks the agent to restart the
//     container, and that probe stops until a new container instance (a new container id) shows up;
//   - results belong to a container id: a restarted container starts from the initial state.
//
// The agent calls addContainer when it sees a container running (again), removeContainer when it
// exits or is removed, removePod when the pod goes away, and reads isReady/isStarted when it
// builds the pod status.

import type { Container, Pod, Probe } from 'kubernetes-types/core/v1.js';
import { runProbe, type ProbeRunner } from './run.js';
import { probeSettings } from './settings.js';
import type { ExecSyncFn, ProbeKind, ProbeOutcome } from './types.js';
import { ProbeWorker, type WorkerClock } from './worker.js';

/** How to reach one running container. */
export interface ProbeTarget {
  podIP: string;
  /** ExecSync bound to this container (runtime.execSync(containerId, ...)). */
  execSync: ExecSyncFn;
  /** When the container started, in ms since the epoch; initialDelaySeconds counts from it. Default: now. */
  startedAt?: number;
}

export interface ProbeEvents {
  /**
   * Every probe outcome. The agent turns non-successes into events with probeResultEvent()
   * (Warning Unhealthy "Liveness probe failed: <output>", Warning ProbeWarning for redirects).
   */
  onResult?(podUID: string, containerName: string, kind: ProbeKind, outcome: ProbeOutcome): void;
  /**
   * The liveness probe failed failureThreshold times: the agent records
   * probeKillingEvent('liveness', name) and kills the container; restartPolicy decides the rest.
   */
  onLivenessFailure(podUID: string, containerName: string, containerId: string, message: string): void;
  /** Same for the startup probe. */
  onStartupFailure(podUID: string, containerName: string, containerId: string, message: string): void;
  /** isReady() or isStarted() of this container changed: the agent recomputes the pod status. */
  onStatusChanged(podUID: string, containerName: string): void;
}

export interface ProbeManagerOptions {
  now?: () => number;
  /** Milliseconds per probe second; tests shrink probe periods with it. Default 1000. */
  secondMs?: number;
  /** Replaces the real runners (tests). */
  runner?: ProbeRunner;
}

const KINDS: ProbeKind[] = ['startup', 'liveness', 'readiness'];

/** Probe state of one container instance. */
interface ContainerProbes {
  containerId: string;
  started: boolean;
  ready: boolean;
  /** Set once the pod is being deleted: liveness and startup no longer act. */
  terminating: boolean;
  workers: Partial<Record<ProbeKind, ProbeWorker>>;
}

function probeOf(container: Container, kind: ProbeKind): Probe | undefined {
  if (kind === 'liveness') return container.livenessProbe;
  if (kind === 'readiness') return container.readinessProbe;
  return container.startupProbe;
}

export class ProbeManager {
  private readonly pods = new Map<string, Map<string, ContainerProbes>>();
  private readonly clock: WorkerClock;
  private readonly runner: ProbeRunner;
  private stopped = false;

  constructor(
    private readonly events: ProbeEvents,
    opts: ProbeManagerOptions = {},
  ) {
    this.clock = { now: opts.now ?? Date.now, secondMs: opts.secondMs ?? 1000 };
    this.runner = opts.runner ?? runProbe;
  }

  /**
   * Starts probing a running container instance. Calling it again with the same container id is
   * a no-op; a different id (the container was restarted) replaces the old workers and state.
   */
  addContainer(pod: Pod, container: Container, containerId: string, target: ProbeTarget): void {
    if (this.stopped) return;
    const podUID = pod.metadata?.uid ?? '';
    let containers = this.pods.get(podUID);
    const existing = containers?.get(container.name);
    if (existing?.containerId === containerId) return;
    if (existing) this.stopWorkers(existing);
    if (!containers) {
      containers = new Map();
      this.pods.set(podUID, containers);
    }
    const state: ContainerProbes = {
      containerId,
      started: !container.startupProbe,
      ready: !container.readinessProbe,
      terminating: pod.metadata?.deletionTimestamp !== undefined,
      workers: {},
    };
    containers.set(container.name, state);

    const startedAt = target.startedAt ?? this.clock.now();
    for (const kind of KINDS) {
      const probe = probeOf(container, kind);
      if (!probe) continue;
      // A pod already being deleted is not restarted by its probes (upstream: "quiet shutdown").
      if (state.terminating && kind !== 'readiness') continue;
      const settings = probeSettings(kind, probe);
      const worker = new ProbeWorker(
        kind,
        probe,
        settings,
        {
          podIP: target.podIP,
          container,
          execSync: target.execSync,
          timeoutMs: settings.timeoutSeconds * this.clock.secondMs,
        },
        this.runner,
        {
          canProbe: () => (kind === 'startup' ? !state.started : state.started),
          onOutcome: (outcome) => this.safely(() => this.events.onResult?.(podUID, container.name, kind, outcome)),
          onThreshold: (result, outcome) => this.onThreshold(podUID, container.name, state, kind, result, outcome),
        },
        this.clock,
      );
      state.workers[kind] = worker;
      worker.start(Math.max(this.clock.now(), startedAt + settings.initialDelaySeconds * this.clock.secondMs));
    }
  }

  /** Stops probing a container (it exited or was removed); it is then neither started nor ready. */
  removeContainer(podUID: string, containerName: string): void {
    const containers = this.pods.get(podUID);
    const state = containers?.get(containerName);
    if (!containers || !state) return;
    this.stopWorkers(state);
    containers.delete(containerName);
    if (containers.size === 0) this.pods.delete(podUID);
  }

  removePod(podUID: string): void {
    const containers = this.pods.get(podUID);
    if (!containers) return;
    for (const state of containers.values()) this.stopWorkers(state);
    this.pods.delete(podUID);
  }

  /**
   * The pod is being deleted: liveness and startup probes stop so that a container shutting
   * down gracefully is not restarted; readiness keeps running (endpoints drain on it).
   */
  setPodTerminating(podUID: string): void {
    for (const state of this.pods.get(podUID)?.values() ?? []) {
      state.terminating = true;
      for (const kind of ['liveness', 'startup'] as const) {
        state.workers[kind]?.stop();
        delete state.workers[kind];
      }
    }
  }

  /** Whether the container's readiness holds: started and (no readiness probe or it passed). */
  isReady(podUID: string, containerName: string): boolean {
    const state = this.pods.get(podUID)?.get(containerName);
    return state !== undefined && state.started && state.ready;
  }

  /** Whether the container passed its startup probe (true at once without one). */
  isStarted(podUID: string, containerName: string): boolean {
    return this.pods.get(podUID)?.get(containerName)?.started ?? false;
  }

  /** The container id whose probes are running for this container, if any. */
  containerId(podUID: string, containerName: string): string | undefined {
    return this.pods.get(podUID)?.get(containerName)?.containerId;
  }

  /** Stops every worker; pending timers are cleared and late results ignored. */
  stop(): void {
    this.stopped = true;
    for (const containers of this.pods.values()) {
      for (const state of containers.values()) this.stopWorkers(state);
    }
    this.pods.clear();
  }

  private stopWorkers(state: ContainerProbes): void {
    for (const kind of KINDS) state.workers[kind]?.stop();
    state.workers = {};
  }

  /** Applies a thresholded result; returns whether the worker keeps probing. */
  private onThreshold(
    podUID: string,
    name: string,
    state: ContainerProbes,
    kind: ProbeKind,
    result: 'success' | 'failure',
    outcome: ProbeOutcome,
  ): boolean {
    switch (kind) {
      case 'readiness': {
        const ready = result === 'success';
        if (state.ready !== ready) {
          state.ready = ready;
          this.safely(() => this.events.onStatusChanged(podUID, name));
        }
        return true;
      }
      case 'liveness':
        if (result === 'success') return true;
        if (!state.terminating) {
          this.safely(() => this.events.onLivenessFailure(podUID, name, state.containerId, outcome.output));
        }
        // Hold until the agent brings up a new container instance (a new addContainer).
        return false;
      case 'startup':
        if (result === 'failure') {
          if (!state.terminating) {
            this.safely(() => this.events.onStartupFailure(podUID, name, state.containerId, outcome.output));
          }
          return false;
        }
        state.started = true;
        this.safely(() => this.events.onStatusChanged(podUID, name));
        // Upstream asks for an immediate readiness probe once a container counts as started.
        state.workers.readiness?.trigger();
        return false;
    }
  }

  /** A throwing callback must not break the probe loop of every other container. */
  private safely(fn: () => void): void {
    try {
      fn();
    } catch {
      // The agent's handlers log their own failures; nothing useful to do here.
    }
  }
}
