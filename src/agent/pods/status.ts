// The status a kubelet reports for a pod, as a pure function of the pod, what the runtime shows
// (sandbox and the attempts of each container) and the agent's own knowledge (probe results,
// why a container is waiting). Phase and conditions follow upstream's getPhase and
// generateAPIPodStatus.
import type {
  ContainerStateRunning,
  ContainerStateTerminated,
  ContainerStateWaiting,
  ContainerStatus as ApiContainerStatus,
  Pod,
  PodCondition,
  PodSpec,
  PodStatus,
} from 'kubernetes-types/core/v1.js';
import type { ContainerStatus } from '../runtime/types.js';
import type { PodContainer } from './types.js';
import { qosClass } from './container.js';
import { rfc3339 } from '../../machinery/time.js';

export interface Observed {
  hostIP: string;
  podIPs: string[];
  sandboxReady: boolean;
  /** Runtime containers per container name, newest attempt first. */
  containers: Map<string, ContainerStatus[]>;
  ready(name: string): boolean;
  started(name: string): boolean;
  /** Why a container is waiting (ErrImagePull, CrashLoopBackOff, CreateContainerConfigError...). */
  waiting(name: string): { reason: string; message?: string } | undefined;
  /** Termination message of an exited container (from its termination-log file or logs). */
  terminationMessage(c: ContainerStatus): string | undefined;
  now: number;
}

/**
 * Upstream writes an unset metav1.Time as null (lastProbeTime, a lost container's startedAt);
 * kubernetes-types declares those fields as optional strings, so the reported shapes allow null.
 */
type NullTimes<T, K extends keyof T> = Omit<T, K> & { [P in K]?: T[P] | null };

export type ReportedCondition = NullTimes<PodCondition, 'lastProbeTime'>;
type TerminatedState = NullTimes<ContainerStateTerminated, 'startedAt' | 'finishedAt'>;

export interface ReportedState {
  running?: ContainerStateRunning;
  waiting?: ContainerStateWaiting;
  terminated?: TerminatedState;
}

export type ReportedContainerStatus = Omit<ApiContainerStatus, 'state' | 'lastState'> & {
  state?: ReportedState;
  lastState?: ReportedState;
};

/** A container status computed from the runtime: both states are always there. */
type ComputedContainerStatus = ReportedContainerStatus & { state: ReportedState; lastState: ReportedState };

/** A pod status as the agent reports it. */
export type ReportedPodStatus = Omit<
  PodStatus,
  'conditions' | 'containerStatuses' | 'initContainerStatuses' | 'ephemeralContainerStatuses'
> & {
  phase: string;
  conditions: ReportedCondition[];
  containerStatuses: ReportedContainerStatus[];
  initContainerStatuses?: ReportedContainerStatus[];
  ephemeralContainerStatuses?: ReportedContainerStatus[];
};

/** metav1.Time: RFC 3339 in whole seconds. */
const nsTime = (ns: number) => rfc3339(Math.floor(ns / 1e6));

export const isSidecar = (c: PodContainer) => c.restartPolicy === 'Always';

function terminated(c: ContainerStatus, obs: Observed): TerminatedState {
  const msg = obs.terminationMessage(c);
  return {
    exitCode: c.exitCode,
    reason: c.reason || (c.exitCode === 0 ? 'Completed' : 'Error'),
    ...(msg ? { message: msg } : {}),
    startedAt: c.startedAt ? nsTime(c.startedAt) : null,
    finishedAt: c.finishedAt ? nsTime(c.finishedAt) : null,
    containerID: `containerd://${c.id}`,
  };
}

function containerStatus(spec: PodContainer, obs: Observed, defaultWaiting: string): ComputedContainerStatus {
  const attempts = obs.containers.get(spec.name) ?? [];
  const [latest, previous] = attempts;
  const waiting = obs.waiting(spec.name);
  const out: ComputedContainerStatus = {
    name: spec.name,
    state: {},
    lastState: {},
    ready: false,
    restartCount: latest ? latest.metadata.attempt : 0,
    image: spec.image ?? '',
    imageID: latest?.imageRef ?? '',
    started: false,
  };
  if (latest) out.containerID = `containerd://${latest.id}`;
  if (latest?.state === 'CONTAINER_RUNNING') {
    out.state = { running: { startedAt: nsTime(latest.startedAt) } };
    out.started = obs.started(spec.name);
    out.ready = out.started && obs.ready(spec.name);
  } else if (latest?.state === 'CONTAINER_EXITED' && !waiting) {
    out.state = { terminated: terminated(latest, obs) };
  } else {
    out.state = {
      waiting: waiting
        ? { reason: waiting.reason, ...(waiting.message ? { message: waiting.message } : {}) }
        : { reason: defaultWaiting },
    };
  }
  // The attempt before the newest, or the newest itself when it exited and a restart is pending.
  const last = latest?.state === 'CONTAINER_EXITED' && waiting ? latest : previous;
  if (last && last.state === 'CONTAINER_EXITED') out.lastState = { terminated: terminated(last, obs) };
  return out;
}

/**
 * Whether an ephemeral container ran already, by what was last reported (the runtime may no
 * longer show it: a new sandbox, or an agent that started over): it is never run again.
 */
export function ephemeralContainerRan(pod: Pod, name: string): boolean {
  return !!reportedEphemeral(pod, name)?.containerID;
}

function reportedEphemeral(pod: Pod, name: string): ApiContainerStatus | undefined {
  return (pod.status?.ephemeralContainerStatuses ?? []).find((s) => s.name === name);
}

/** An ephemeral container's status: it runs once, has no probes and never counts as ready. */
function ephemeralContainerStatus(pod: Pod, spec: PodContainer, obs: Observed): ReportedContainerStatus {
  const reported = reportedEphemeral(pod, spec.name);
  if (!obs.containers.get(spec.name)?.length && reported?.containerID) {
    // Gone from the runtime: what was last reported stays, a running one as upstream reports a lost container.
    if (reported.state?.terminated) return reported;
    const terminated = {
      exitCode: 137,
      reason: 'ContainerStatusUnknown',
      message: 'The container could not be located when the pod was terminated',
      startedAt: null,
      finishedAt: null,
    };
    return { ...reported, ready: false, started: false, state: { terminated } };
  }
  const out = containerStatus(spec, obs, 'ContainerCreating');
  out.ready = false;
  out.started = !!out.state.running;
  return out;
}

function condition(
  pod: Pod,
  type: string,
  ok: boolean,
  now: number,
  reason?: string,
  message?: string,
): ReportedCondition {
  const prev = (pod.status?.conditions ?? []).find((c) => c.type === type);
  const status = ok ? 'True' : 'False';
  return {
    type,
    status,
    lastProbeTime: null,
    lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : rfc3339(now),
    ...(ok || !reason ? {} : { reason, message }),
  };
}

/** Counts of upstream's getPhase over container statuses. */
function phaseOf(
  pod: Pod,
  init: ComputedContainerStatus[],
  main: ComputedContainerStatus[],
  initDone: boolean,
): string {
  const policy = pod.spec?.restartPolicy ?? 'Always';
  const initSpecs = pod.spec?.initContainers ?? [];
  for (let i = 0; i < init.length; i++) {
    const t = init[i].state.terminated;
    if (!isSidecar(initSpecs[i]) && policy === 'Never' && t && t.exitCode !== 0) return 'Failed';
  }
  if (!initDone) return 'Pending';
  let waiting = 0,
    running = 0,
    stopped = 0,
    succeeded = 0,
    failed = 0;
  for (const s of main) {
    if (s.state.running) running++;
    else if (s.state.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
      else failed++;
    } else if (s.state.waiting) {
      if (s.lastState.terminated) {
        stopped++;
        if (s.lastState.terminated.exitCode === 0) succeeded++;
        else failed++;
      } else waiting++;
    }
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (policy === 'Always') return 'Running';
    if (policy === 'OnFailure') return stopped === succeeded ? 'Succeeded' : 'Running';
    return failed > 0 ? 'Failed' : 'Succeeded';
  }
  return 'Pending';
}

/** Whether every init container finished (regular ones with exit 0; sidecars started). */
export function initialized(pod: Pod, obs: Observed): { done: boolean; incomplete: string[] } {
  const incomplete: string[] = [];
  for (const c of pod.spec?.initContainers ?? []) {
    const latest = (obs.containers.get(c.name) ?? [])[0];
    if (isSidecar(c)) {
      if (!latest || latest.state !== 'CONTAINER_RUNNING' || !obs.started(c.name)) {
        // A sidecar that ran once counts as initialised even while it restarts, as upstream.
        if (!latest) incomplete.push(c.name);
      }
    } else if (!latest || latest.state !== 'CONTAINER_EXITED' || latest.exitCode !== 0) incomplete.push(c.name);
  }
  return { done: incomplete.length === 0, incomplete };
}

export function podStatus(pod: Pod, obs: Observed): ReportedPodStatus {
  const spec: PodSpec = pod.spec ?? { containers: [] };
  const init = initialized(pod, obs);
  const initSpecs = spec.initContainers ?? [];
  const initStatuses = (spec.initContainers ?? []).map((c) => containerStatus(c, obs, 'PodInitializing'));
  const mainStatuses = (spec.containers ?? []).map((c) =>
    containerStatus(c, obs, init.done ? 'ContainerCreating' : 'PodInitializing'),
  );
  // The first init container that has not run yet is being created, not waiting for initialisation.
  for (const s of initStatuses) {
    if (s.state.waiting?.reason === 'PodInitializing') {
      s.state.waiting.reason = 'ContainerCreating';
      break;
    }
    if (!s.state.terminated) break;
  }
  const phase = phaseOf(pod, initStatuses, mainStatuses, init.done);
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const unready = mainStatuses.filter((s) => !s.ready).map((s) => s.name);
  const sidecarsUnready = initStatuses.filter((s, i) => isSidecar(initSpecs[i]) && !s.ready).map((s) => s.name);
  const allUnready = [...sidecarsUnready, ...unready];
  const containersReady = allUnready.length === 0 && !terminal;
  const gates = (spec.readinessGates ?? []).map((g) => g.conditionType);
  const gatesFalse = gates.filter((t) => (pod.status?.conditions ?? []).find((c) => c.type === t)?.status !== 'True');
  const msg = (names: string[]) => `containers with unready status: [${names.join(' ')}]`;
  const now = obs.now;
  const reasonFor = (completed: boolean) => (completed ? 'PodCompleted' : 'ContainersNotReady');
  const conditions = [
    condition(pod, 'PodReadyToStartContainers', obs.sandboxReady, now),
    condition(
      pod,
      'Initialized',
      init.done,
      now,
      terminal ? 'PodCompleted' : 'ContainersNotInitialized',
      `containers with incomplete status: [${init.incomplete.join(' ')}]`,
    ),
    condition(
      pod,
      'Ready',
      containersReady && gatesFalse.length === 0,
      now,
      allUnready.length || terminal ? reasonFor(terminal) : 'ReadinessGatesNotReady',
      allUnready.length || terminal
        ? msg(allUnready)
        : `corresponding condition of pod readiness gate "${gatesFalse[0]}" does not exist.`,
    ),
    condition(pod, 'ContainersReady', containersReady, now, reasonFor(terminal), msg(allUnready)),
  ];
  const others = (pod.status?.conditions ?? []).filter((c) => !conditions.some((n) => n.type === c.type));
  const status: ReportedPodStatus = {
    ...(pod.status ?? {}),
    phase,
    conditions: [...conditions, ...others],
    hostIP: obs.hostIP,
    hostIPs: [{ ip: obs.hostIP }],
    startTime: pod.status?.startTime ?? rfc3339(now),
    qosClass: qosClass(pod),
    containerStatuses: mainStatuses,
  };
  if (obs.podIPs.length) {
    status.podIP = obs.podIPs[0];
    status.podIPs = obs.podIPs.map((ip) => ({ ip }));
  }
  if (initStatuses.length) status.initContainerStatuses = initStatuses;
  else delete status.initContainerStatuses;
  const ephemeralStatuses = (spec.ephemeralContainers ?? []).map((c) => ephemeralContainerStatus(pod, c, obs));
  if (ephemeralStatuses.length) status.ephemeralContainerStatuses = ephemeralStatuses;
  else delete status.ephemeralContainerStatuses;
  return status;
}
