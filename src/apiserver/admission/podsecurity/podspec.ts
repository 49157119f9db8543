// Where a pod spec lives in the objects PodSecurity looks at: a Pod itself, and the pod templates
// of the workload resources (upstream's PodSpecExtractor).
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { PodSpec, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import { deepEqual } from '../../../machinery/objects.js';

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

const APPARMOR_ANNOTATION_PREFIX = 'container.apparmor.security.beta.kubernetes.io/';

function appArmorAnnotations(meta: ObjectMeta): Record<string, string> {
  return Object.fromEntries(
    Object.entries(meta.annotations ?? {}).filter(([k]) => k.startsWith(APPARMOR_ANNOTATION_PREFIX)),
  );
}

/**
 * Whether a pod update can change what the checks see (upstream isSignificantPodUpdate): the
 * fields an update may change on a running pod — images, activeDeadlineSeconds, tolerations —
 * and metadata other than AppArmor annotations are not, so labelling or re-imaging a pod created
 * before the namespace was restricted is not refused.
 */
export function isSignificantPodUpdate(pod: PodMetaAndSpec, old: PodMetaAndSpec): boolean {
  if (!deepEqual(appArmorAnnotations(pod.meta), appArmorAnnotations(old.meta))) return true;
  const spec = pod.spec;
  const oldSpec = old.spec;
  if ((spec.containers ?? []).length !== (oldSpec.containers ?? []).length) return true;
  if ((spec.initContainers ?? []).length !== (oldSpec.initContainers ?? []).length) return true;
  const withOldImages = <T extends { image?: string }>(
    list: T[] | undefined,
    oldList: T[] | undefined,
  ): T[] | undefined => list?.map((c, i) => ({ ...c, image: oldList?.[i]?.image }));
  const normalized: PodSpec = {
    ...spec,
    containers: withOldImages(spec.containers, oldSpec.containers) ?? [],
    initContainers: withOldImages(spec.initContainers, oldSpec.initContainers),
    activeDeadlineSeconds: oldSpec.activeDeadlineSeconds,
    tolerations: oldSpec.tolerations,
  };
  return !deepEqual(stripUndefined(normalized), stripUndefined(oldSpec));
}

/** JSON's view of an object: keys set to undefined are absent. */
function stripUndefined<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}
