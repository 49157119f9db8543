// The CRI configuration of one container: command and args with $(VAR) references expanded, env,
// mounts, log path, resources as cgroup settings (the kubelet's conversion) and the security context.
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import type { ContainerConfig, LinuxResources, Mount, NamespaceMode, PodSandboxConfig } from '../runtime/types.js';
import { LABEL } from '../runtime/types.js';
import { parseQuantityOrNull } from '../../machinery/quantity.js';

const CPU_PERIOD_US = 100_000;
const MIN_SHARES = 2;
const MIN_QUOTA_US = 1_000;

export type QOSClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

function milli(q: string | undefined): number | undefined {
  if (q === undefined) return undefined;
  const v = parseQuantityOrNull(String(q));
  return v === null ? undefined : v.milliValue();
}

function bytes(q: string | undefined): number | undefined {
  if (q === undefined) return undefined;
  const v = parseQuantityOrNull(String(q));
  return v === null ? undefined : v.value();
}

/** The pod's QoS class, as upstream computes it from requests and limits of cpu and memory. */
export function qosClass(pod: Pod): QOSClass {
  const cs = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  let any = false;
  let guaranteed = true;
  for (const c of cs) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    for (const r of ['cpu', 'memory']) {
      if (req[r] !== undefined || lim[r] !== undefined) any = true;
      if (
        lim[r] === undefined ||
        (req[r] !== undefined && String(req[r]) !== String(lim[r]) && milli(req[r]) !== milli(lim[r]))
      )
        guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** cgroup settings of a container (cpu shares and CFS quota, memory limit, OOM score by QoS). */
export function linuxResources(pod: Pod, c: Container, nodeMemoryBytes: number): LinuxResources {
  const req = c.resources?.requests ?? {};
  const lim = c.resources?.limits ?? {};
  const cpuReq = milli(req.cpu ?? lim.cpu);
  const cpuLim = milli(lim.cpu);
  const memLim = bytes(lim.memory);
  const out: LinuxResources = {
    cpuShares: cpuReq === undefined ? MIN_SHARES : Math.max(MIN_SHARES, Math.floor((cpuReq * 1024) / 1000)),
    cpuPeriod: CPU_PERIOD_US,
    cpuQuota: cpuLim === undefined ? 0 : Math.max(MIN_QUOTA_US, Math.floor((cpuLim * CPU_PERIOD_US) / 1000)),
    memoryLimitInBytes: memLim ?? 0,
  };
  const qos = qosClass(pod);
  if (qos === 'Guaranteed') out.oomScoreAdj = -997;
  else if (qos === 'BestEffort') out.oomScoreAdj = 1000;
  else {
    const memReq = bytes(req.memory ?? lim.memory) ?? 0;
    const adj = 1000 - Math.floor((1000 * memReq) / Math.max(1, nodeMemoryBytes));
    out.oomScoreAdj = Math.min(999, Math.max(2, adj));
  }
  return out;
}

/** Expands $(VAR) in a string as upstream (`$$` is a literal `$`; unknown references stay as written). */
export function expandVars(s: string, vars: Map<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m: string, name: string) =>
    m === '$$' ? '$' : vars.has(name) ? vars.get(name)! : m,
  );
}

export interface ContainerInputs {
  env: { key: string; value: string }[];
  mounts: Mount[];
  attempt: number;
  nodeMemoryBytes: number;
  /** Runtime id of the container whose process namespace this one joins (an ephemeral container's target). */
  targetId?: string;
}

export const containerLogPath = (name: string, attempt: number) => `${name}/${attempt}.log`;

/**
 * The pid namespace: the node's or the pod's when the pod says so (a target then sees its
 * processes anyway), else the target container's when there is one, else the container's own.
 */
function pidNamespace(pod: Pod, targetId: string | undefined): { pid: NamespaceMode; targetId?: string } {
  if (pod.spec?.hostPID) return { pid: 'NODE' };
  if (pod.spec?.shareProcessNamespace) return { pid: 'POD' };
  return targetId ? { pid: 'TARGET', targetId } : { pid: 'CONTAINER' };
}

export function containerConfig(
  pod: Pod,
  c: Container,
  sandbox: PodSandboxConfig,
  input: ContainerInputs,
): ContainerConfig {
  const vars = new Map(input.env.map((e) => [e.key, e.value]));
  const sc = { ...(pod.spec?.securityContext ?? {}), ...(c.securityContext ?? {}) };
  const caps = c.securityContext?.capabilities;
  return {
    metadata: { name: c.name, attempt: input.attempt },
    image: { image: c.image ?? '' },
    command: (c.command ?? []).map((s) => expandVars(s, vars)),
    args: (c.args ?? []).map((s) => expandVars(s, vars)),
    workingDir: c.workingDir ?? '',
    envs: input.env,
    mounts: input.mounts,
    devices: [],
    labels: { ...sandbox.labels, [LABEL.containerName]: c.name },
    annotations: {
      'io.kubernetes.container.restartCount': String(input.attempt),
      'io.kubernetes.container.terminationMessagePath': c.terminationMessagePath ?? '/dev/termination-log',
      'io.kubernetes.pod.terminationGracePeriod': String(pod.spec?.terminationGracePeriodSeconds ?? 30),
    },
    logPath: containerLogPath(c.name, input.attempt),
    stdin: !!c.stdin,
    stdinOnce: !!c.stdinOnce,
    tty: !!c.tty,
    linux: {
      resources: linuxResources(pod, c, input.nodeMemoryBytes),
      securityContext: {
        ...(caps ? { capabilities: { addCapabilities: caps.add ?? [], dropCapabilities: caps.drop ?? [] } } : {}),
        privileged: !!sc.privileged,
        namespaceOptions: {
          network: pod.spec?.hostNetwork ? 'NODE' : 'POD',
          ...pidNamespace(pod, input.targetId),
          ipc: pod.spec?.hostIPC ? 'NODE' : 'POD',
        },
        ...(sc.runAsUser !== undefined ? { runAsUser: { value: sc.runAsUser } } : {}),
        ...(sc.runAsGroup !== undefined ? { runAsGroup: { value: sc.runAsGroup } } : {}),
        readonlyRootfs: !!sc.readOnlyRootFilesystem,
        supplementalGroups: [
          ...(pod.spec?.securityContext?.supplementalGroups ?? []),
          ...(pod.spec?.securityContext?.fsGroup !== undefined ? [pod.spec.securityContext.fsGroup] : []),
        ],
        noNewPrivs: sc.allowPrivilegeEscalation === false,
      },
    },
  };
}
