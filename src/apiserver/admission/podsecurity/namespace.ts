// Labelling a namespace with a stricter enforce level: the pods already there are checked against
// it and the ones that would now be refused are listed as warnings (upstream's namespace check).
// Nothing is refused: existing pods keep running, the level applies to the next ones.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { evaluatePod, formatLevelVersion, violationReasons, type LevelVersion } from './policy.js';
import { pluralize } from './check.js';

/** Pods checked at most (upstream's bound on the work one namespace update may cause). */
export const MAX_CHECKED_PODS = 3000;

export function existingPodWarnings(
  namespace: string,
  enforce: LevelVersion,
  pods: Pod[],
  exemptRuntimeClass: (name: string | undefined) => boolean,
): string[] {
  const checked = pods.slice(0, MAX_CHECKED_PODS);
  // Pods with the same violations are listed once: the first, and how many others.
  const groups = new Map<string, { first: string; others: number }>();
  for (const pod of checked) {
    if (!pod.spec || exemptRuntimeClass(pod.spec.runtimeClassName)) continue;
    const failed = evaluatePod(enforce, pod.metadata ?? {}, pod.spec);
    if (!failed.length) continue;
    const reasons = violationReasons(failed);
    const group = groups.get(reasons);
    if (group) group.others++;
    else groups.set(reasons, { first: pod.metadata?.name ?? '', others: 0 });
  }
  const warnings: string[] = [];
  if (groups.size)
    warnings.push(
      `existing pods in namespace ${JSON.stringify(namespace)} violate the new PodSecurity enforce level ${JSON.stringify(formatLevelVersion(enforce))}`,
    );
  for (const [reasons, { first, others }] of groups)
    warnings.push(
      others
        ? `${first} (and ${others} other ${pluralize('pod', 'pods', others)}): ${reasons}`
        : `${first}: ${reasons}`,
    );
  if (pods.length > checked.length)
    warnings.push(
      `new PodSecurity enforce level only checked against the first ${checked.length} of ${pods.length} existing pods`,
    );
  return warnings;
}
