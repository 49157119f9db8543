// Node-pressure eviction, as the kubelet's eviction manager: hard thresholds on eviction signals
// (memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, pid.available).
// Crossing one sets the node's pressure condition; the agent first reclaims node-level resources
// (unused images for disk), then evicts one pod per check, ranked as upstream: pods using more
// than they requested first, then lower priority, then by how far usage exceeds the request.
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { AgentPod } from './pods/types.js';
import { parseQuantityOrNull } from '../machinery/quantity.js';
import { diskinfo, meminfo, pidinfo } from './hostinfo.js';

export type Signal =
  'memory.available' | 'nodefs.available' | 'nodefs.inodesFree' | 'imagefs.available' | 'pid.available';
const SIGNALS: Signal[] = [
  'memory.available',
  'nodefs.available',
  'nodefs.inodesFree',
  'imagefs.available',
  'pid.available',
];

export interface Threshold {
  signal: Signal;
  /** An absolute amount (bytes, inodes, PIDs) or a share of the capacity. */
  quantity?: number;
  percent?: number;
}

/** Upstream's default --eviction-hard on Linux. */
export const DEFAULT_EVICTION_HARD =
  'memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%,imagefs.available<15%';

export function parseEvictionHard(spec: string): Threshold[] {
  const out: Threshold[] = [];
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([a-zA-Z.]+)<(.+)$/.exec(part);
    if (!m)
      throw new Error(`--eviction-hard: invalid threshold ${JSON.stringify(part)} (want e.g. memory.available<100Mi)`);
    const signal = m[1] as Signal;
    if (!SIGNALS.includes(signal))
      throw new Error(`--eviction-hard: unknown signal ${JSON.stringify(m[1])} (one of ${SIGNALS.join(', ')})`);
    if (m[2].endsWith('%')) {
      const percent = Number(m[2].slice(0, -1));
      if (!Number.isFinite(percent) || percent < 0 || percent > 100)
        throw new Error(`--eviction-hard: invalid percentage in ${JSON.stringify(part)}`);
      out.push({ signal, percent });
    } else {
      const q = parseQuantityOrNull(m[2]);
      if (!q || q.sign() < 0) throw new Error(`--eviction-hard: invalid quantity in ${JSON.stringify(part)}`);
      out.push({ signal, quantity: q.value() });
    }
  }
  return out;
}

export type Observations = Record<Signal, { available: number; capacity: number }>;

export function observe(nodefsPath: string, imagefsPath: string): Observations {
  const mem = meminfo();
  const nodefs = diskinfo(nodefsPath);
  const imagefs = diskinfo(imagefsPath);
  const pids = pidinfo();
  return {
    'memory.available': { available: mem.availableBytes, capacity: mem.totalBytes },
    'nodefs.available': { available: nodefs.availableBytes, capacity: nodefs.totalBytes },
    'nodefs.inodesFree': { available: nodefs.inodesFree, capacity: nodefs.inodes },
    'imagefs.available': { available: imagefs.availableBytes, capacity: imagefs.totalBytes },
    'pid.available': { available: pids.max - pids.running, capacity: pids.max },
  };
}

export function thresholdAmount(t: Threshold, capacity: number): number {
  return t.quantity ?? ((t.percent ?? 0) / 100) * capacity;
}

/** The thresholds the observations cross (a signal with no capacity never crosses). */
export function crossed(thresholds: Threshold[], obs: Observations): Threshold[] {
  return thresholds.filter(
    (t) => obs[t.signal].capacity > 0 && obs[t.signal].available < thresholdAmount(t, obs[t.signal].capacity),
  );
}

export type Pressure = 'memory' | 'disk' | 'pid';
export const pressureOf = (s: Signal): Pressure =>
  s === 'memory.available' ? 'memory' : s === 'pid.available' ? 'pid' : 'disk';

function memoryRequest(pod: Pod): number {
  let sum = 0;
  for (const c of pod.spec?.containers ?? []) {
    const q = parseQuantityOrNull(c.resources?.requests?.memory);
    if (q) sum += q.value();
  }
  return sum;
}

/**
 * Pods in the order upstream evicts them under memory pressure: usage above requests first, then
 * lower priority, then the larger excess of usage over requests.
 */
export function rankByMemory<P extends Pod>(pods: P[], usage: (pod: P) => number): P[] {
  const info = pods.map((pod) => {
    const used = usage(pod);
    const req = memoryRequest(pod);
    return { pod, exceeds: used > req, priority: pod.spec?.priority ?? 0, excess: used - req };
  });
  info.sort((a, b) => Number(b.exceeds) - Number(a.exceeds) || a.priority - b.priority || b.excess - a.excess);
  return info.map((i) => i.pod);
}

/** The status message of an evicted pod, in upstream's words. */
export function evictionMessage(t: Threshold, obs: Observations): string {
  const resource =
    t.signal === 'memory.available'
      ? 'memory'
      : t.signal === 'pid.available'
        ? 'pids'
        : t.signal === 'nodefs.inodesFree'
          ? 'inodes'
          : 'ephemeral-storage';
  const o = obs[t.signal];
  const amount = thresholdAmount(t, o.capacity);
  const fmt = (n: number) =>
    resource === 'inodes' || resource === 'pids' ? String(Math.round(n)) : `${Math.round(n / 1024)}Ki`;
  return `The node was low on resource: ${resource}. Threshold quantity: ${fmt(amount)}, available: ${fmt(o.available)}. `;
}

export interface EvictionManagerOptions {
  thresholds: Threshold[];
  nodefsPath: string;
  imagefsPath: string;
  /** Pods on the node that are still running. */
  pods(): AgentPod[];
  /** Memory working set of a pod (bytes) from the latest stats sample. */
  memoryUsage(pod: AgentPod): number;
  /** Frees node-level resources for a disk signal (image GC); returns whether it did something. */
  reclaimDisk(): Promise<boolean>;
  evict(pod: AgentPod, message: string): Promise<void>;
  observe?: () => Observations;
}

export class EvictionManager {
  private pressures = new Set<Pressure>();

  constructor(private o: EvictionManagerOptions) {}

  /** The node conditions to report: which pressures are on now. */
  underPressure(p: Pressure): boolean {
    return this.pressures.has(p);
  }

  /** One round: update pressures, reclaim, evict at most one pod; returns the evicted pod's key. */
  async check(): Promise<string | undefined> {
    const obs = (this.o.observe ?? (() => observe(this.o.nodefsPath, this.o.imagefsPath)))();
    const hit = crossed(this.o.thresholds, obs);
    this.pressures = new Set(hit.map((t) => pressureOf(t.signal)));
    if (!hit.length) return undefined;
    const t = hit[0];
    if (pressureOf(t.signal) === 'disk' && (await this.o.reclaimDisk())) return undefined;
    const [victim] = rankByMemory(
      this.o.pods().filter((p) => !isCritical(p)),
      (p) => this.o.memoryUsage(p),
    );
    if (!victim) return undefined;
    await this.o.evict(victim, evictionMessage(t, obs));
    return `${victim.metadata.namespace}/${victim.metadata.name}`;
  }
}

/** Static and node-critical pods are never evicted by the kubelet. */
function isCritical(pod: Pod): boolean {
  return pod.spec?.priorityClassName === 'system-node-critical' || (pod.spec?.priority ?? 0) >= 2_000_000_000;
}
