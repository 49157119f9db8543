// Options of the node simulator and the command-line flags that set them (shared by
// `k8ts server --simulated-nodes N` and `k8ts sim --nodes N`).
import type { Command } from 'commander';
import { parseQuantityOrNull } from '../machinery/quantity.js';
import { DEFAULT_TIMING, type PodTiming } from './pod.js';

export interface SimTaint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface SimOptions {
  nodes: number;
  /** Node names are `${namePrefix}-${i}`. */
  namePrefix: string;
  /** First index (several `k8ts sim` processes can share one cluster with distinct ranges). */
  startIndex: number;
  cpu: string;
  memory: string;
  pods: string;
  ephemeralStorage: string;
  labels: Record<string, string>;
  taints: SimTaint[];
  /** Nodes are spread over this many zones (topology.kubernetes.io/zone = zone-a, zone-b, ...). */
  zones: number;
  arch: string;
  /** Lease renewal (and usage report) interval, ms (upstream kubelet: 10 s). */
  heartbeatMs: number;
  /** Lease duration written on the Lease (upstream: 40 s). */
  leaseDurationSeconds: number;
  /** Node status report interval when nothing changed, ms (upstream: 5 min; here 1 min). */
  nodeStatusMs: number;
  /** A pod being deleted is gone after min(its grace period, this), ms. */
  maxGraceMs: number;
  timing: PodTiming;
  /**
   * Pod status writes in flight at once. Each kubelet writes its own pods' statuses, so a fleet
   * of thousands has that many writers; the simulated one shares this many (see --sim-status-writers).
   */
  workers: number;
}

export const DEFAULT_SIM_OPTIONS: SimOptions = {
  nodes: 0,
  namePrefix: 'sim-node',
  startIndex: 0,
  cpu: '4',
  memory: '16Gi',
  pods: '110',
  ephemeralStorage: '100Gi',
  labels: {},
  taints: [],
  zones: 3,
  arch: 'amd64',
  heartbeatMs: 10_000,
  leaseDurationSeconds: 40,
  // The kubelet's nodeStatusReportFrequency: with leases, an unchanged status is posted every 5 min.
  nodeStatusMs: 300_000,
  maxGraceMs: 2_000,
  timing: DEFAULT_TIMING,
  workers: 128,
};

export function parseLabels(s: string[] | string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (Array.isArray(s) ? s : (s ?? '').split(',')).filter(Boolean)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new Error(`--sim-labels: want key=value, got ${JSON.stringify(part)}`);
    out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

export function parseTaints(s: string[] | string | undefined): SimTaint[] {
  const out: SimTaint[] = [];
  for (const part of (Array.isArray(s) ? s : (s ?? '').split(',')).filter(Boolean)) {
    const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(part);
    if (!m) throw new Error(`--sim-taints: want key[=value]:Effect, got ${JSON.stringify(part)}`);
    out.push({
      key: m[1],
      ...(m[2] !== undefined && m[2] !== '' ? { value: m[2] } : {}),
      effect: m[3] as SimTaint['effect'],
    });
  }
  return out;
}

const collect = (v: string, prev: string[]) => [...prev, ...v.split(',').filter(Boolean)];

/** Add the --sim-* flags to a command. */
export function addSimFlags(cmd: Command): Command {
  const d = DEFAULT_SIM_OPTIONS;
  return cmd
    .option('--sim-node-prefix <prefix>', 'names of simulated nodes: PREFIX-0, PREFIX-1, ...', d.namePrefix)
    .option('--sim-start-index <n>', 'index of the first simulated node', String(d.startIndex))
    .option('--sim-cpu <cpu>', 'cpu capacity of each simulated node', d.cpu)
    .option('--sim-memory <mem>', 'memory capacity of each simulated node', d.memory)
    .option('--sim-pods <n>', 'pod capacity of each simulated node', d.pods)
    .option('--sim-ephemeral-storage <q>', 'ephemeral-storage capacity of each simulated node', d.ephemeralStorage)
    .option('--sim-labels <k=v>', 'extra labels of simulated nodes (repeatable, comma-separated)', collect, [])
    .option('--sim-taints <k=v:Effect>', 'taints of simulated nodes (repeatable, comma-separated)', collect, [])
    .option('--sim-zones <n>', 'spread simulated nodes over this many zones', String(d.zones))
    .option('--sim-arch <arch>', 'kubernetes.io/arch of simulated nodes', d.arch)
    .option('--sim-heartbeat-seconds <s>', 'lease renewal and usage report interval', String(d.heartbeatMs / 1000))
    .option('--sim-node-status-seconds <s>', 'node status report interval', String(d.nodeStatusMs / 1000))
    .option(
      '--sim-pod-startup-seconds <s>',
      'time from a pod bound to a simulated node to its containers running',
      String(d.timing.startupMs / 1000),
    )
    .option(
      '--sim-job-seconds <s>',
      'how long run-to-completion containers (restartPolicy Never/OnFailure) run by default',
      String(d.timing.jobRunMs / 1000),
    )
    .option(
      '--sim-max-grace-seconds <s>',
      'cap on the termination grace period of pods on simulated nodes',
      String(d.maxGraceMs / 1000),
    )
    .option(
      '--sim-status-writers <n>',
      'pod status writes the simulated nodes have in flight at once',
      String(d.workers),
    )
    .option(
      '--sim-crashloop-seconds <s>',
      'first restart back-off of a failed container (doubles per restart)',
      String(d.timing.crashLoopBaseMs / 1000),
    );
}

function num(v: unknown, flag: string, min = 0): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`${flag}: invalid number ${JSON.stringify(v)}`);
  return n;
}

function quantity(v: string, flag: string): string {
  if (!parseQuantityOrNull(v)) throw new Error(`${flag}: invalid quantity ${JSON.stringify(v)}`);
  return v;
}

/** The --sim-* flags as commander parses them (camel-cased): strings, or lists of them. */
export type SimFlagValues = { [flag: `sim${string}`]: unknown };

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strList = (v: unknown): string[] | string | undefined =>
  typeof v === 'string' || Array.isArray(v) ? (v as string[] | string) : undefined;

/** SimOptions from parsed commander options (camel-cased --sim-* flags). */
export function simOptionsFromFlags(nodes: number, o: SimFlagValues): SimOptions {
  const d = DEFAULT_SIM_OPTIONS;
  return {
    ...d,
    nodes,
    namePrefix: str(o.simNodePrefix) ?? d.namePrefix,
    startIndex: Math.trunc(num(o.simStartIndex ?? d.startIndex, '--sim-start-index')),
    cpu: quantity(str(o.simCpu) ?? d.cpu, '--sim-cpu'),
    memory: quantity(str(o.simMemory) ?? d.memory, '--sim-memory'),
    pods: quantity(str(o.simPods) ?? d.pods, '--sim-pods'),
    ephemeralStorage: quantity(str(o.simEphemeralStorage) ?? d.ephemeralStorage, '--sim-ephemeral-storage'),
    labels: parseLabels(strList(o.simLabels)),
    taints: parseTaints(strList(o.simTaints)),
    zones: Math.max(1, Math.trunc(num(o.simZones ?? d.zones, '--sim-zones', 1))),
    arch: str(o.simArch) ?? d.arch,
    heartbeatMs: num(o.simHeartbeatSeconds ?? 10, '--sim-heartbeat-seconds', 0.05) * 1000,
    nodeStatusMs: num(o.simNodeStatusSeconds ?? 300, '--sim-node-status-seconds', 0.05) * 1000,
    maxGraceMs: num(o.simMaxGraceSeconds ?? 2, '--sim-max-grace-seconds') * 1000,
    workers: Math.trunc(num(o.simStatusWriters ?? d.workers, '--sim-status-writers', 1)),
    timing: {
      ...d.timing,
      startupMs: num(o.simPodStartupSeconds ?? 0, '--sim-pod-startup-seconds') * 1000,
      jobRunMs: num(o.simJobSeconds ?? 1, '--sim-job-seconds') * 1000,
      crashLoopBaseMs: num(o.simCrashloopSeconds ?? 2, '--sim-crashloop-seconds') * 1000,
    },
  };
}
