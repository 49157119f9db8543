// Labelling a namespace with a stricter enforce level: the pods already there are checked against
// it and the ones that would now be refused are listed as warnings (upstream's
// EvaluatePodsInNamespace). Nothing is refused: existing pods keep running, the level applies to
// the next ones.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { evaluatePod, formatLevelVersion, violationReasons, type LevelVersion } from './policy.js';
import { compareStrings } from '../../../machinery/order.js';

/** Upstream's bounds on the work one namespace update may cause. */
export const MAX_CHECKED_PODS = 3000;
export const POD_CHECK_TIMEOUT_MS = 1000;

/**
 * Pods in the order they are checked: exempt runtime classes left out, one pod of each controller
 * first and its replicas after, so a bounded check still sees every workload.
 */
function prioritize(pods: Pod[], exemptRuntimeClass: (name: string | undefined) => boolean): Pod[] {
  const first: Pod[] = [];
  const replicas: Pod[] = [];
  const seenControllers = new Set<string>();
  for (const pod of pods) {
    if (!pod.spec || exemptRuntimeClass(pod.spec.runtimeClassName)) continue;
    const controller = pod.metadata?.ownerReferences?.find((o) => o.controller)?.uid;
    if (controller === undefined) first.push(pod);
    else if (seenControllers.has(controller)) replicas.push(pod);
    else {
      seenControllers.add(controller);
      first.push(pod);
    }
  }
  return [...first, ...replicas];
}

export function existingPodWarnings(
  namespace: string,
  enforce: LevelVersion,
  pods: Pod[],
  exemptRuntimeClass: (name: string | undefined) => boolean,
  now: () => number = Date.now,
): string[] {
  const ordered = prioritize(pods, exemptRuntimeClass);
  const candidates = ordered.slice(0, MAX_CHECKED_PODS);
  const deadline = now() + POD_CHECK_TIMEOUT_MS;
  // Pods with the same violations are listed once: the lexically first, and how many others.
  const groups = new Map<string, { name: string; count: number }>();
  let checked = candidates.length;
  for (const [i, pod] of candidates.entries()) {
    const failed = evaluatePod(enforce, pod.metadata ?? {}, pod.spec!);
    if (failed.length) {
      const reasons = violationReasons(failed);
      const name = pod.metadata?.name ?? '';
      const group = groups.get(reasons);
      if (!group) groups.set(reasons, { name, count: 1 });
      else {
        group.count++;
        if (name < group.name) group.name = name;
      }
    }
    if (now() > deadline) {
      checked = i + 1;
      break;
    }
  }
  const warnings: string[] = [];
  if (checked < ordered.length)
    warnings.push(
      `new PodSecurity enforce level only checked against the first ${checked} of ${ordered.length} existing pods`,
    );
  if (groups.size)
    warnings.push(
      `existing pods in namespace ${JSON.stringify(namespace)} violate the new PodSecurity enforce level ${JSON.stringify(formatLevelVersion(enforce))}`,
    );
  const podWarnings = [...groups].map(([reasons, { name, count }]) =>
    count === 1
      ? `${name}: ${reasons}`
      : `${name} (and ${count - 1} other ${count === 2 ? 'pod' : 'pods'}): ${reasons}`,
  );
  // Go's sort.Strings: byte order.
  podWarnings.sort(compareStrings);
  return [...warnings, ...podWarnings];
}
