// Tolerations against taints (upstream core/v1 Toleration.ToleratesTaint and
// pkg/apis/core/v1/helper's TolerationsTolerateTaint / FindMatchingUntoleratedTaint).
import type { Taint, Toleration } from 'kubernetes-types/core/v1.js';

/**
 * Does `toleration` tolerate `taint`? An empty effect matches every effect, an empty key every
 * key; operator Exists matches any value, Equal (or empty) needs the same value. Other operators
 * tolerate nothing.
 */
export function toleratesTaint(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  switch (toleration.operator ?? '') {
    case '':
    case 'Equal':
      return (toleration.value ?? '') === (taint.value ?? '');
    case 'Exists':
      return true;
    default:
      return false;
  }
}

export function tolerationsTolerateTaint(tolerations: readonly Toleration[] | undefined, taint: Taint): boolean {
  return (tolerations ?? []).some((t) => toleratesTaint(t, taint));
}

/** The first taint selected by `filter` that no toleration tolerates (undefined: all tolerated). */
export function findUntoleratedTaint(
  taints: readonly Taint[] | undefined,
  tolerations: readonly Toleration[] | undefined,
  filter: (taint: Taint) => boolean = () => true,
): Taint | undefined {
  return (taints ?? []).find((taint) => filter(taint) && !tolerationsTolerateTaint(tolerations, taint));
}

/** Taints a pod is kept off a node by (NoSchedule, NoExecute), as the scheduler filters. */
export const isHardTaint = (taint: Taint): boolean => taint.effect === 'NoSchedule' || taint.effect === 'NoExecute';
