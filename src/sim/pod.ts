// What a kubelet would report for a pod on a simulated node, as a pure function of the pod, its
// current status and the time: container creation, init containers in order, containers running
// and becoming ready, run-to-completion containers exiting, restarts with back-off as
// restartPolicy says, activeDeadlineSeconds. The simulator calls it on every change and again at
// the next moment something is due (`next`). Conventions (annotations) are in docs/simulation.md.
import { createHash } from 'node:crypto';
import type {
  Container,
  ContainerState,
  ContainerStatus,
  Pod,
  PodCondition,
  PodStatus,
} from 'kubernetes-types/core/v1.js';
import { parseQuantityOrNull } from '../machinery/quantity.js';
import { rfc3339 } from '../machinery/time.js';
import { encodeUsage } from '../api/metrics/v1beta1/usage.js';
import { keyOf } from '../machinery/objects.js';

export const ANN = {
  runSeconds: 'sim.k8ts.io/run-seconds',
  exitCode: 'sim.k8ts.io/exit-code',
  startSeconds: 'sim.k8ts.io/start-seconds',
  initSeconds: 'sim.k8ts.io/init-seconds',
  readySeconds: 'sim.k8ts.io/ready-seconds',
  cpuMillicores: 'sim.k8ts.io/cpu-millicores',
  cpu: 'sim.k8ts.io/cpu',
  memory: 'sim.k8ts.io/memory',
  /** On a Node: "true" stops its heartbeats and pod handling (a failed node). */
  down: 'sim.k8ts.io/down',
} as const;

export interface PodTiming {
  /** Container creation (image pull, sandbox) before the first container starts (ms). */
  startupMs: number;
  /** How long a run-to-completion container runs when nothing says otherwise (ms). */
  jobRunMs: number;
  /** First restart back-off (ms); doubles per restart up to crashLoopMaxMs (upstream 10 s → 300 s). */
  crashLoopBaseMs: number;
  crashLoopMaxMs: number;
}

export const DEFAULT_TIMING: PodTiming = {
  startupMs: 0,
  jobRunMs: 1000,
  crashLoopBaseMs: 2000,
  crashLoopMaxMs: 60_000,
};

export interface PodEnv {
  now: number;
  hostIP: string;
  podIP: string;
  timing: PodTiming;
  runtime?: string;
}

/** kubelet writes lastProbeTime: null, which kubernetes-types (string | undefined) cannot say. */
export type SimCondition = Omit<PodCondition, 'lastProbeTime'> & { lastProbeTime?: string | null };

/** A pod status as the simulator writes it (conditions with lastProbeTime: null). */
export type SimPodStatus = Omit<PodStatus, 'conditions'> & { conditions?: SimCondition[] };

/** The status as the API types it: null is a valid metav1.Time on the wire. */
export const asPodStatus = (s: SimPodStatus): PodStatus => s as PodStatus;

export interface PodResult {
  status: SimPodStatus;
  /** When (ms since epoch) the status will change next without outside input. */
  next?: number;
}

/** metav1.Time: RFC 3339 in whole seconds. */

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function seconds(v: string | undefined): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n * 1000 : undefined;
}

function commandLine(c: Pick<Container, 'command' | 'args'>): string {
  return [...(c.command ?? []), ...(c.args ?? [])].join(' ');
}

/** How long a main container runs and how it exits (undefined runMs: until stopped). */
export function runOf(
  pod: Pod,
  c: Pick<Container, 'command' | 'args'>,
  timing: PodTiming,
): { runMs?: number; exitCode: number } {
  const ann = pod.metadata?.annotations ?? {};
  const cmd = commandLine(c);
  let exitCode = 0;
  const annExit = ann[ANN.exitCode];
  const exitMatch = /\bexit\s+(\d+)/.exec(cmd);
  if (annExit !== undefined && annExit !== '' && Number.isFinite(Number(annExit)))
    exitCode = Math.trunc(Number(annExit));
  else if (exitMatch) exitCode = Number(exitMatch[1]);
  else if (/^(\/bin\/|\/usr\/bin\/)?false$/.test(cmd.trim()) || /(^|[;&|]\s*)false\s*$/.test(cmd)) exitCode = 1;
  let runMs = seconds(ann[ANN.runSeconds]);
  if (runMs === undefined) {
    const sleep = /\bsleep\s+(\d+(?:\.\d+)?)\b/.exec(cmd);
    if (sleep) runMs = Number(sleep[1]) * 1000;
  }
  if (runMs === undefined && (pod.spec?.restartPolicy === 'Never' || pod.spec?.restartPolicy === 'OnFailure'))
    runMs = timing.jobRunMs;
  if (runMs === undefined && (exitMatch || exitCode !== 0 || /^(\/bin\/)?true$/.test(cmd.trim())))
    runMs = timing.jobRunMs;
  return { runMs, exitCode };
}

export function imageID(image: string): string {
  let ref = image.split('@')[0];
  const first = ref.split('/')[0];
  if (!ref.includes('/')) ref = `docker.io/library/${ref}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') ref = `docker.io/${ref}`;
  ref = ref.replace(/:[^/:]+$/, '');
  return `${ref}@sha256:${sha(image)}`;
}

function containerID(pod: Pod, name: string, restart: number, runtime: string): string {
  return `${runtime}://${sha(`${pod.metadata?.uid}/${name}/${restart}`).slice(0, 64)}`;
}

function backoffMs(restartCount: number, t: PodTiming): number {
  return Math.min(t.crashLoopBaseMs * 2 ** Math.max(0, restartCount - 1), t.crashLoopMaxMs);
}

function setCondition(
  conds: SimCondition[],
  old: SimCondition[],
  type: string,
  status: string,
  now: number,
  reason?: string,
  message?: string,
): void {
  const prev = old.find((c) => c.type === type);
  const c: SimCondition = {
    type,
    status,
    lastProbeTime: null,
    lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : rfc3339(now),
  };
  if (reason) c.reason = reason;
  if (message) c.message = message;
  conds.push(c);
}

/** The status a kubelet would report now. */
export function simulatePod(pod: Pod, env: PodEnv): PodResult {
  const { now, timing } = env;
  const runtime = env.runtime ?? 'sim';
  const spec = pod.spec ?? { containers: [] };
  const old: SimPodStatus = pod.status ?? {};
  const ann = pod.metadata?.annotations ?? {};
  const policy: string = spec.restartPolicy ?? 'Always';
  let next: number | undefined;
  const due = (t: number) => {
    if (t > now && (next === undefined || t < next)) next = t;
  };

  const start = old.startTime ? Date.parse(old.startTime) : now;
  const startupMs = seconds(ann[ANN.startSeconds]) ?? timing.startupMs;
  const initMs = seconds(ann[ANN.initSeconds]) ?? 0;
  const readyMs = seconds(ann[ANN.readySeconds]);

  // Already terminal: nothing changes any more.
  if (old.phase === 'Succeeded' || old.phase === 'Failed') return { status: old };

  // activeDeadlineSeconds: the kubelet fails the pod.
  if (typeof spec.activeDeadlineSeconds === 'number') {
    const deadline = start + spec.activeDeadlineSeconds * 1000;
    if (now >= deadline)
      return {
        status: failedStatus(
          pod,
          env,
          'DeadlineExceeded',
          'Pod was active on the node longer than the specified deadline',
        ),
      };
    due(deadline);
  }

  // Init containers, one after the other; sidecars (restartPolicy Always) start and keep running.
  let t = start + startupMs;
  const initStatuses: ContainerStatus[] = [];
  const incompleteInit: string[] = [];
  for (const c of spec.initContainers ?? []) {
    const sidecar = c.restartPolicy === 'Always';
    const base = {
      name: c.name,
      // Validation makes image required on a pod's containers.
      image: c.image ?? '',
      imageID: '',
      containerID: undefined as string | undefined,
      restartCount: 0,
      ready: false,
      started: false,
    };
    if (now < t) {
      initStatuses.push({ ...base, state: { waiting: { reason: 'PodInitializing' } }, lastState: {} });
      incompleteInit.push(c.name);
      due(t);
      continue;
    }
    const ids = { imageID: imageID(c.image ?? ''), containerID: containerID(pod, c.name, 0, runtime) };
    if (sidecar) {
      initStatuses.push({
        ...base,
        ...ids,
        ready: true,
        started: true,
        state: { running: { startedAt: rfc3339(t) } },
        lastState: {},
      });
      continue;
    }
    const end = t + initMs;
    if (now < end) {
      initStatuses.push({
        ...base,
        ...ids,
        started: true,
        state: { running: { startedAt: rfc3339(t) } },
        lastState: {},
      });
      incompleteInit.push(c.name);
      due(end);
      t = end;
      continue;
    }
    initStatuses.push({
      ...base,
      ...ids,
      ready: true,
      state: {
        terminated: {
          exitCode: 0,
          reason: 'Completed',
          startedAt: rfc3339(t),
          finishedAt: rfc3339(end),
          containerID: ids.containerID,
        },
      },
      lastState: {},
    });
    t = end;
  }
  // Later init containers wait for the earlier ones.
  let blocked = false;
  for (const s of initStatuses) {
    if (blocked && !s.state?.waiting) {
      s.state = { waiting: { reason: 'PodInitializing' } };
      s.started = false;
      s.ready = false;
      delete s.containerID;
    }
    if (s.state?.running && !s.ready) blocked = true;
    if (s.state?.waiting) blocked = true;
  }
  const initialized = incompleteInit.length === 0;
  const mainStart = t;

  // Main containers.
  const statuses: ContainerStatus[] = [];
  for (const c of spec.containers ?? []) {
    const prev = (old.containerStatuses ?? []).find((s) => s.name === c.name);
    const { runMs, exitCode } = runOf(pod, c, timing);
    let restartCount: number = prev?.restartCount ?? 0;
    let lastState: ContainerState = prev?.lastState ?? {};
    let state: ContainerState | undefined;
    let startedAt: number | undefined;
    if (prev?.state?.running?.startedAt) startedAt = Date.parse(prev.state.running.startedAt);
    else if (prev?.state?.waiting?.reason === 'CrashLoopBackOff' && lastState.terminated?.finishedAt) {
      const resume = Date.parse(lastState.terminated.finishedAt) + backoffMs(restartCount, timing);
      if (now >= resume) startedAt = resume;
      else {
        state = prev.state;
        due(resume);
      }
    } else if (prev?.state?.terminated) {
      state = prev.state;
    } else if (initialized && now >= mainStart) startedAt = mainStart;
    else {
      state = { waiting: { reason: initialized ? 'ContainerCreating' : 'PodInitializing' } };
      if (initialized) due(mainStart);
    }
    // Run (and restart) until now.
    for (let i = 0; startedAt !== undefined && i < 1000; i++) {
      if (runMs === undefined || now < startedAt + runMs) {
        state = { running: { startedAt: rfc3339(startedAt) } };
        if (runMs !== undefined) due(startedAt + runMs);
        break;
      }
      const finishedAt = startedAt + runMs;
      const terminated = {
        exitCode,
        reason: exitCode === 0 ? 'Completed' : 'Error',
        startedAt: rfc3339(startedAt),
        finishedAt: rfc3339(finishedAt),
        containerID: containerID(pod, c.name, restartCount, runtime),
      };
      const restart = policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
      if (!restart) {
        state = { terminated };
        startedAt = undefined;
        break;
      }
      restartCount++;
      lastState = { terminated };
      const resume = Date.parse(terminated.finishedAt) + backoffMs(restartCount, timing);
      if (now < resume) {
        const b = Math.round(backoffMs(restartCount, timing) / 1000);
        state = {
          waiting: {
            reason: 'CrashLoopBackOff',
            message: `back-off ${b}s restarting failed container=${c.name} pod=${pod.metadata?.name}_${pod.metadata?.namespace}(${pod.metadata?.uid})`,
          },
        };
        due(resume);
        startedAt = undefined;
        break;
      }
      startedAt = resume;
    }
    const running = !!state?.running;
    const readyDelay = readyMs ?? (c.readinessProbe ? (c.readinessProbe.initialDelaySeconds ?? 0) * 1000 : 0);
    const runningSince = running ? Date.parse(state?.running?.startedAt ?? '') : 0;
    const ready = running && now >= runningSince + readyDelay;
    if (running && !ready) due(runningSince + readyDelay);
    const cs: ContainerStatus = {
      name: c.name,
      state,
      lastState,
      ready,
      restartCount,
      image: c.image ?? '',
      imageID: '',
      started: running,
    };
    if (running || state?.terminated || restartCount > 0 || state?.waiting?.reason === 'CrashLoopBackOff') {
      cs.imageID = imageID(c.image ?? '');
      cs.containerID = state?.terminated?.containerID ?? containerID(pod, c.name, restartCount, runtime);
    }
    statuses.push(cs);
  }

  // Phase, as the kubelet's getPhase.
  let phase = 'Pending';
  if (initialized) {
    const terminated = statuses.filter((s) => s.state?.terminated);
    const anyStarted = statuses.some((s) => s.state?.running || s.restartCount > 0);
    if (statuses.length > 0 && terminated.length === statuses.length)
      phase = terminated.some((s) => s.state?.terminated?.exitCode !== 0) ? 'Failed' : 'Succeeded';
    else if (anyStarted || terminated.length > 0) phase = 'Running';
  }
  const terminal = phase === 'Succeeded' || phase === 'Failed';

  // Conditions.
  const oldConds: SimCondition[] = old.conditions ?? [];
  const conds: SimCondition[] = [];
  setCondition(conds, oldConds, 'PodReadyToStartContainers', terminal ? 'False' : 'True', now);
  if (initialized) setCondition(conds, oldConds, 'Initialized', 'True', now);
  else
    setCondition(
      conds,
      oldConds,
      'Initialized',
      'False',
      now,
      'ContainersNotInitialized',
      `containers with incomplete status: [${incompleteInit.join(' ')}]`,
    );
  const unready = statuses.filter((s) => !s.ready).map((s) => s.name);
  const gates: string[] = (spec.readinessGates ?? []).map((g) => g.conditionType);
  const missingGate = gates.find((g) => oldConds.find((c) => c.type === g)?.status !== 'True');
  if (terminal) {
    setCondition(conds, oldConds, 'Ready', 'False', now, 'PodCompleted');
    setCondition(conds, oldConds, 'ContainersReady', 'False', now, 'PodCompleted');
  } else if (unready.length) {
    const msg = `containers with unready status: [${unready.join(' ')}]`;
    setCondition(conds, oldConds, 'Ready', 'False', now, 'ContainersNotReady', msg);
    setCondition(conds, oldConds, 'ContainersReady', 'False', now, 'ContainersNotReady', msg);
  } else {
    if (missingGate) {
      const exists = oldConds.some((c) => c.type === missingGate);
      setCondition(
        conds,
        oldConds,
        'Ready',
        'False',
        now,
        'ReadinessGatesNotReady',
        exists
          ? `the status of pod readiness gate "${missingGate}" is not "True", but False`
          : `corresponding condition of pod readiness gate "${missingGate}" does not exist.`,
      );
    } else setCondition(conds, oldConds, 'Ready', 'True', now);
    setCondition(conds, oldConds, 'ContainersReady', 'True', now);
  }
  if (!oldConds.some((c) => c.type === 'PodScheduled')) setCondition(conds, oldConds, 'PodScheduled', 'True', now);
  // Conditions others own (PodScheduled, DisruptionTarget, readiness gates) stay.
  const mine = new Set(conds.map((c) => c.type));
  for (const c of oldConds) if (!mine.has(c.type)) conds.push(c);
  const order = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'];
  conds.sort((a, b) => (order.indexOf(a.type) + 1 || 99) - (order.indexOf(b.type) + 1 || 99));

  const podIP = spec.hostNetwork ? env.hostIP : env.podIP;
  const status: SimPodStatus = {
    ...old,
    phase,
    conditions: conds,
    hostIP: env.hostIP,
    hostIPs: [{ ip: env.hostIP }],
    podIP,
    podIPs: [{ ip: podIP }],
    startTime: old.startTime ?? rfc3339(start),
    containerStatuses: statuses,
  };
  if (initStatuses.length) status.initContainerStatuses = initStatuses;
  delete status.reason;
  delete status.message;
  if (terminal) next = undefined;
  return { status, next };
}

/** The pod killed by the kubelet (deadline exceeded): phase Failed, containers terminated. */
export function failedStatus(pod: Pod, env: PodEnv, reason: string, message: string): SimPodStatus {
  const old: SimPodStatus = pod.status ?? {};
  const s = terminatedStatus(pod, env, 137, 'Error');
  const conds = (s.conditions ?? []).filter((c) => c.type !== 'Ready' && c.type !== 'ContainersReady');
  setCondition(conds, old.conditions ?? [], 'Ready', 'False', env.now, 'PodFailed');
  setCondition(conds, old.conditions ?? [], 'ContainersReady', 'False', env.now, 'PodFailed');
  return { ...s, phase: 'Failed', reason, message, conditions: conds };
}

/** Every running container stopped (deletion, deadline): the status just before the pod goes. */
export function terminatedStatus(pod: Pod, env: PodEnv, exitCode: number, reason: string): SimPodStatus {
  const old: SimPodStatus = pod.status ?? {};
  const runtime = env.runtime ?? 'sim';
  const stop = (s: ContainerStatus): ContainerStatus => {
    if (s.state?.terminated) return s;
    const startedAt = s.state?.running?.startedAt;
    const containerID = s.containerID ?? containerID_(pod, s.name, s.restartCount ?? 0, runtime);
    return {
      ...s,
      ready: false,
      started: false,
      containerID,
      state: {
        terminated: {
          exitCode,
          reason,
          ...(startedAt ? { startedAt } : {}),
          finishedAt: rfc3339(env.now),
          containerID,
        },
      },
    };
  };
  const containerStatuses = (
    old.containerStatuses ??
    (pod.spec?.containers ?? []).map((c): ContainerStatus => ({
      name: c.name,
      image: c.image ?? '',
      imageID: '',
      restartCount: 0,
      ready: false,
      started: false,
      lastState: {},
      state: {},
    }))
  ).map(stop);
  const allZero = containerStatuses.every((s) => s.state?.terminated?.exitCode === 0);
  const conds: SimCondition[] = [];
  const oldConds: SimCondition[] = old.conditions ?? [];
  setCondition(conds, oldConds, 'PodReadyToStartContainers', 'False', env.now);
  for (const c of oldConds)
    if (c.type !== 'PodReadyToStartContainers' && c.type !== 'Ready' && c.type !== 'ContainersReady') conds.push(c);
  setCondition(conds, oldConds, 'Ready', 'False', env.now, 'PodCompleted');
  setCondition(conds, oldConds, 'ContainersReady', 'False', env.now, 'PodCompleted');
  return {
    ...old,
    phase: allZero ? 'Succeeded' : 'Failed',
    conditions: conds,
    hostIP: old.hostIP ?? env.hostIP,
    hostIPs: old.hostIPs ?? [{ ip: env.hostIP }],
    startTime: old.startTime ?? rfc3339(env.now),
    containerStatuses,
    ...(old.initContainerStatuses
      ? { initContainerStatuses: old.initContainerStatuses.map((s) => (s.state?.terminated ? s : stop(s))) }
      : {}),
  };
}

const containerID_ = containerID;

/** Synthetic usage of a pod's containers: cpu millicores and memory bytes each. */
export function podUsage(pod: Pod): [string, number, number][] {
  const ann = pod.metadata?.annotations ?? {};
  const containers: Container[] = pod.spec?.containers ?? [];
  if (!containers.length) return [];
  let cpuTotal: number | undefined;
  if (ann[ANN.cpuMillicores] !== undefined && Number.isFinite(Number(ann[ANN.cpuMillicores])))
    cpuTotal = Number(ann[ANN.cpuMillicores]);
  else if (ann[ANN.cpu] !== undefined) {
    const q = parseQuantityOrNull(ann[ANN.cpu]);
    if (q) cpuTotal = q.milliValue();
  }
  let memTotal: number | undefined;
  if (ann[ANN.memory] !== undefined) {
    const q = parseQuantityOrNull(ann[ANN.memory]);
    if (q) memTotal = q.value();
  }
  return containers.map((c) => {
    const req = c.resources?.requests ?? {};
    const cpuReq = parseQuantityOrNull(req.cpu)?.milliValue();
    const memReq = parseQuantityOrNull(req.memory)?.value();
    const cpu =
      cpuTotal !== undefined ? cpuTotal / containers.length : cpuReq ? Math.max(1, Math.round(cpuReq / 10)) : 2;
    const mem =
      memTotal !== undefined ? memTotal / containers.length : memReq ? Math.round(memReq / 2) : 8 * 1024 * 1024;
    return [c.name, Math.round(cpu), Math.round(mem)];
  });
}

/** A running pod's member of its node's usage sample, and its totals. */
export interface PodUsageEntry {
  /** `"namespace/name":[[container,cpu,memory],...]` */
  json: string;
  cpu: number;
  mem: number;
}

/** Usage of the node itself (system daemons) on top of its pods'. */
const NODE_BASE_CPU_MILLI = 50;
const NODE_BASE_MEMORY = 256 * 1024 * 1024;

/**
 * A node's usage sample (encodeUsage's text) from the pods bound to it: the running ones count.
 * Each pod's member is worked out once per version of the pod (`cache`, keyed by the object the
 * informer holds), not at every heartbeat.
 */
export function nodeUsageSample(
  pods: Iterable<Pod>,
  now: number,
  windowSeconds: number,
  cache: WeakMap<Pod, PodUsageEntry>,
): string {
  let cpu = NODE_BASE_CPU_MILLI;
  let mem = NODE_BASE_MEMORY;
  let members = '';
  for (const pod of pods) {
    if (pod.status?.phase !== 'Running' || pod.metadata?.deletionTimestamp) continue;
    let u = cache.get(pod);
    if (!u) {
      const containers = podUsage(pod);
      u = { json: `${JSON.stringify(keyOf(pod))}:${JSON.stringify(containers)}`, cpu: 0, mem: 0 };
      for (const [, c, m] of containers) {
        u.cpu += c;
        u.mem += m;
      }
      cache.set(pod, u);
    }
    members += members ? `,${u.json}` : u.json;
    cpu += u.cpu;
    mem += u.mem;
  }
  const head = encodeUsage({ t: rfc3339(now), w: windowSeconds, n: [cpu, mem], p: {} });
  // The pods are the sample's last member: the text encodeUsage writes with them in.
  return `${head.slice(0, -3)}{${members}}}`;
}
