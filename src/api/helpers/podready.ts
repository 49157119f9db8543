// Pod readiness and availability (upstream pkg/api/v1/pod/util.go): a pod is ready when its Ready
// condition is True, and available once it has been ready for minReadySeconds.
import type { Pod, PodCondition } from 'kubernetes-types/core/v1.js';

type PodWithStatus = Pick<Pod, 'status'>;

export function podCondition(pod: PodWithStatus | undefined, type: string): PodCondition | undefined {
  return pod?.status?.conditions?.find((c) => c.type === type);
}

export function podReadyCondition(pod: PodWithStatus | undefined): PodCondition | undefined {
  return podCondition(pod, 'Ready');
}

export function isPodReady(pod: PodWithStatus | undefined): boolean {
  return podReadyCondition(pod)?.status === 'True';
}

/**
 * Ready, and for more than minReadySeconds (IsPodAvailable: lastTransitionTime + minReadySeconds
 * strictly before `now`; a ready pod without a transition time is available only with 0).
 */
export function isPodAvailable(
  pod: PodWithStatus | undefined,
  minReadySeconds: number,
  now: number = Date.now(),
): boolean {
  const c = podReadyCondition(pod);
  if (c?.status !== 'True') return false;
  if (!minReadySeconds) return true;
  const since = c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : NaN;
  return !Number.isNaN(since) && since + minReadySeconds * 1000 < now;
}
