// Where a pod spec lives in the objects PodSecurity looks at: a Pod itself, and the pod templates
// of the workload resources (upstream's PodSpecExtractor).
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { PodSpec, PodTemplateSpec } from 'kubernetes-types/core/v1.js';

/** group/plural of the resources with a pod template, and where the template is. */
const TEMPLATE_PATHS: Record<string, string[]> = {
  '/podtemplates': ['template'],
  '/replicationcontrollers': ['spec', 'template'],
  'apps/deployments': ['spec', 'template'],
  'apps/replicasets': ['spec', 'template'],
  'apps/statefulsets': ['spec', 'template'],
  'apps/daemonsets': ['spec', 'template'],
  'batch/jobs': ['spec', 'template'],
  'batch/cronjobs': ['spec', 'jobTemplate', 'spec', 'template'],
};

export function hasPodTemplate(group: string, resource: string): boolean {
  return `${group}/${resource}` in TEMPLATE_PATHS;
}

export interface PodMetaAndSpec {
  meta: ObjectMeta;
  spec: PodSpec;
}

/** The pod template of a workload object (undefined when it has none yet). */
export function podTemplateOf(group: string, resource: string, obj: unknown): PodMetaAndSpec | undefined {
  let cur: unknown = obj;
  for (const k of TEMPLATE_PATHS[`${group}/${resource}`] ?? []) {
    if (cur == null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  const t = cur as PodTemplateSpec | undefined;
  return t?.spec ? { meta: t.metadata ?? {}, spec: t.spec } : undefined;
}

/**
 * Whether a pod update can change what the checks see (upstream isSignificantPodUpdate). A pod's
 * spec is immutable but for images, activeDeadlineSeconds, tolerations and ephemeral containers:
 * a container count or image change, or an ephemeral container added or changed, is significant;
 * a metadata-only update (labels, annotations, finalizers) is not, so a pod created before its
 * namespace was restricted can still be relabelled.
 */
export function isSignificantPodUpdate(pod: PodMetaAndSpec, old: PodMetaAndSpec): boolean {
  const spec = pod.spec;
  const oldSpec = old.spec;
  const containers = spec.containers ?? [];
  const oldContainers = oldSpec.containers ?? [];
  const inits = spec.initContainers ?? [];
  const oldInits = oldSpec.initContainers ?? [];
  if (containers.length !== oldContainers.length || inits.length !== oldInits.length) return true;
  if (containers.some((c, i) => c.image !== oldContainers[i].image)) return true;
  if (inits.some((c, i) => c.image !== oldInits[i].image)) return true;
  const oldEphemeral = new Map((oldSpec.ephemeralContainers ?? []).map((c) => [c.name, c]));
  return (spec.ephemeralContainers ?? []).some((c) => {
    const before = oldEphemeral.get(c.name);
    return !before || c.image !== before.image;
  });
}
