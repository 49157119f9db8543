// The HPA's replica calculation (upstream pkg/controller/podautoscaler/replica_calculator.go):
// the usage ratio against the target, a tolerance band (10%) around 1, and the treatment of
// pods that are unready (0% on scale-up), missing metrics (100% of request on scale-down, 0% on
// scale-up) or ignored (being deleted, failed), with no change of scale direction.

import type { Pod } from 'kubernetes-types/core/v1.js';
import { parseQuantityOrNull } from '../../machinery/quantity.js';

export const DEFAULT_TOLERANCE = 0.1;
/** --horizontal-pod-autoscaler-cpu-initialization-period. */
export const CPU_INITIALIZATION_PERIOD_MS = 5 * 60_000;
/** --horizontal-pod-autoscaler-initial-readiness-delay. */
export const DELAY_OF_INITIAL_READINESS_MS = 30_000;

export interface PodMetric {
  /** Usage in milli-units (cpu millicores, memory milli-bytes), as upstream's metrics client. */
  value: number;
  /** Sample time and window (ms). */
  timestamp: number;
  windowMs: number;
}

export type PodMetricsInfo = Map<string, PodMetric>;

export interface Tolerances {
  scaleDown: number;
  scaleUp: number;
}

export const defaultTolerances = (): Tolerances => ({ scaleDown: DEFAULT_TOLERANCE, scaleUp: DEFAULT_TOLERANCE });

export const isWithin = (t: Tolerances, ratio: number): boolean => 1 - t.scaleDown <= ratio && ratio <= 1 + t.scaleUp;

export interface PodGroups {
  readyPodCount: number;
  unready: Set<string>;
  missing: Set<string>;
  ignored: Set<string>;
}

/** A pod as the calculation reads it: metrics are keyed by its name. */
export type NamedPod = Pod & { metadata: { name: string } };

const condition = (pod: Pod, type: string) => (pod.status?.conditions ?? []).find((c) => c.type === type);

/** Upstream groupPods. */
export function groupPods(pods: NamedPod[], metrics: PodMetricsInfo, resource: string, now = Date.now()): PodGroups {
  const g: PodGroups = { readyPodCount: 0, unready: new Set(), missing: new Set(), ignored: new Set() };
  for (const pod of pods) {
    const name = pod.metadata.name;
    if (pod.metadata.deletionTimestamp || pod.status?.phase === 'Failed') {
      g.ignored.add(name);
      continue;
    }
    if (pod.status?.phase === 'Pending') {
      g.unready.add(name);
      continue;
    }
    const metric = metrics.get(name);
    if (!metric) {
      g.missing.add(name);
      continue;
    }
    if (resource === 'cpu') {
      const ready = condition(pod, 'Ready');
      const start = pod.status?.startTime ? Date.parse(pod.status.startTime) : undefined;
      let unready: boolean;
      if (!ready || start === undefined) unready = true;
      else {
        const transition = ready.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : start;
        if (start + CPU_INITIALIZATION_PERIOD_MS > now) {
          unready = ready.status === 'False' || metric.timestamp < transition + metric.windowMs;
        } else {
          unready = ready.status === 'False' && start + DELAY_OF_INITIAL_READINESS_MS > transition;
        }
      }
      if (unready) {
        g.unready.add(name);
        continue;
      }
    }
    g.readyPodCount++;
  }
  return g;
}

/** Per-pod requests (milli) of a resource; throws when a container has none (upstream calculatePodRequests). */
export function podRequests(
  pods: NamedPod[],
  resource: string,
  container?: string,
  parse: (q: unknown) => number = milli,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const pod of pods) {
    let sum = 0;
    for (const c of pod.spec?.containers ?? []) {
      if (container && c.name !== container) continue;
      const q = c.resources?.requests?.[resource];
      if (q === undefined || q === null)
        throw new Error(`missing request for ${resource} in container ${c.name} of Pod ${pod.metadata.name}`);
      sum += parse(q);
    }
    out.set(pod.metadata.name, sum);
  }
  return out;
}

/** A quantity's milli-value (upstream MilliValue, rounded up). */
export const milli = (q: unknown): number => parseQuantityOrNull(q)?.milliValue() ?? 0;

/** Upstream GetResourceUtilizationRatio. */
export function utilizationRatio(
  metrics: PodMetricsInfo,
  requests: Map<string, number>,
  targetUtilization: number,
): { ratio: number; utilization: number; rawAverage: number } {
  let metricsTotal = 0;
  let requestsTotal = 0;
  let n = 0;
  for (const [name, m] of metrics) {
    const r = requests.get(name);
    if (r === undefined) continue;
    metricsTotal += m.value;
    requestsTotal += r;
    n++;
  }
  if (requestsTotal === 0) throw new Error('no metrics returned matched known pods');
  const utilization = Math.trunc((metricsTotal * 100) / requestsTotal);
  return { ratio: utilization / targetUtilization, utilization, rawAverage: Math.trunc(metricsTotal / n) };
}

/** Upstream GetMetricUsageRatio: average usage against a target average. */
export function usageRatio(metrics: PodMetricsInfo, target: number): { ratio: number; usage: number } {
  let total = 0;
  for (const m of metrics.values()) total += m.value;
  const usage = Math.trunc(total / metrics.size);
  return { ratio: usage / target, usage };
}

export interface ResourceReplicas {
  replicas: number;
  utilization: number;
  rawUtilization: number;
}

/** Upstream GetResourceReplicas (target utilization, a percentage of requests). */
export function resourceReplicas(
  currentReplicas: number,
  targetUtilization: number,
  resource: string,
  tolerances: Tolerances,
  pods: NamedPod[],
  metricsIn: PodMetricsInfo,
  container?: string,
  now = Date.now(),
): ResourceReplicas {
  if (!pods.length) throw new Error('no pods returned by selector while calculating replica count');
  const metrics: PodMetricsInfo = new Map(metricsIn);
  const g = groupPods(pods, metrics, resource, now);
  for (const n of g.ignored) metrics.delete(n);
  for (const n of g.unready) metrics.delete(n);
  if (!metrics.size) throw new Error('did not receive metrics for targeted pods (pods might be unready)');
  const requests = podRequests(pods, resource, container);
  const { ratio, utilization, rawAverage } = utilizationRatio(metrics, requests, targetUtilization);
  const scaleUpWithUnready = g.unready.size > 0 && ratio > 1;
  if (!scaleUpWithUnready && !g.missing.size) {
    if (isWithin(tolerances, ratio)) return { replicas: currentReplicas, utilization, rawUtilization: rawAverage };
    return { replicas: Math.ceil(ratio * g.readyPodCount), utilization, rawUtilization: rawAverage };
  }
  if (g.missing.size) {
    if (ratio < 1) {
      const fallback = Math.max(100, targetUtilization);
      for (const n of g.missing)
        metrics.set(n, { value: Math.trunc((requests.get(n)! * fallback) / 100), timestamp: now, windowMs: 0 });
    } else if (ratio > 1) {
      for (const n of g.missing) metrics.set(n, { value: 0, timestamp: now, windowMs: 0 });
    }
  }
  if (scaleUpWithUnready) for (const n of g.unready) metrics.set(n, { value: 0, timestamp: now, windowMs: 0 });
  const next = utilizationRatio(metrics, requests, targetUtilization).ratio;
  if (isWithin(tolerances, next) || (ratio < 1 && next > 1) || (ratio > 1 && next < 1)) {
    return { replicas: currentReplicas, utilization, rawUtilization: rawAverage };
  }
  const replicas = Math.ceil(next * metrics.size);
  if ((next < 1 && replicas > currentReplicas) || (next > 1 && replicas < currentReplicas)) {
    return { replicas: currentReplicas, utilization, rawUtilization: rawAverage };
  }
  return { replicas, utilization, rawUtilization: rawAverage };
}

/** Upstream GetRawResourceReplicas / calcPlainMetricReplicas (target average value, milli-units). */
export function plainMetricReplicas(
  currentReplicas: number,
  targetUsage: number,
  resource: string,
  tolerances: Tolerances,
  pods: NamedPod[],
  metricsIn: PodMetricsInfo,
  now = Date.now(),
): { replicas: number; usage: number } {
  if (!pods.length) throw new Error('no pods returned by selector while calculating replica count');
  const metrics: PodMetricsInfo = new Map(metricsIn);
  const g = groupPods(pods, metrics, resource, now);
  for (const n of g.ignored) metrics.delete(n);
  for (const n of g.unready) metrics.delete(n);
  if (!metrics.size) throw new Error('did not receive metrics for targeted pods (pods might be unready)');
  const { ratio, usage } = usageRatio(metrics, targetUsage);
  const scaleUpWithUnready = g.unready.size > 0 && ratio > 1;
  if (!scaleUpWithUnready && !g.missing.size) {
    if (isWithin(tolerances, ratio)) return { replicas: currentReplicas, usage };
    return { replicas: Math.ceil(ratio * g.readyPodCount), usage };
  }
  if (g.missing.size) {
    for (const n of g.missing) metrics.set(n, { value: ratio < 1 ? targetUsage : 0, timestamp: now, windowMs: 0 });
  }
  if (scaleUpWithUnready) for (const n of g.unready) metrics.set(n, { value: 0, timestamp: now, windowMs: 0 });
  const next = usageRatio(metrics, targetUsage).ratio;
  if (isWithin(tolerances, next) || (ratio < 1 && next > 1) || (ratio > 1 && next < 1))
    return { replicas: currentReplicas, usage };
  const replicas = Math.ceil(next * metrics.size);
  if ((next < 1 && replicas > currentReplicas) || (next > 1 && replicas < currentReplicas))
    return { replicas: currentReplicas, usage };
  return { replicas, usage };
}
