// StatefulSet pod identity (upstream pkg/controller/statefulset/stateful_set_utils.go): stable
// names <set>-<ordinal>, hostname and subdomain, the pod-name and pod-index labels, one claim
// per volumeClaimTemplate and ordinal, and which revision a new pod of an ordinal gets.
import type { StatefulSetSpec, StatefulSetStatus } from 'kubernetes-types/apps/v1.js';
import type { PersistentVolumeClaim, Pod, PodSpec, PodTemplateSpec, Volume } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta, OwnerReference } from 'kubernetes-types/meta/v1.js';
import { CONTROLLER_REVISION_HASH_LABEL, newControllerRef, templateFromRevision } from './common.js';

/** The parts of a StatefulSet read here (tests pass partial sets). */
export interface SetView {
  metadata?: ObjectMeta;
  spec?: Partial<StatefulSetSpec>;
  status?: Partial<StatefulSetStatus>;
}

/** A StatefulSet as read from the API (named, with a UID). */
/** A claim made from a volumeClaimTemplate (always named). */
export type NamedClaim = PersistentVolumeClaim & { metadata: ObjectMeta & { name: string } };

type NamedSet = SetView & { metadata: ObjectMeta & { name: string; uid: string } };

export const STATEFULSET_POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';

/** The ordinal of a pod of `set`, or -1 if its name is not <set>-<n>. */
export function getOrdinal(setName: string, podName: string): number {
  if (!podName.startsWith(`${setName}-`)) return -1;
  const rest = podName.slice(setName.length + 1);
  if (!/^(0|[1-9][0-9]*)$/.test(rest)) return -1;
  const n = Number(rest);
  return Number.isSafeInteger(n) ? n : -1;
}

export const podName = (setName: string, ordinal: number): string => `${setName}-${ordinal}`;

export const claimName = (templateName: string, setName: string, ordinal: number): string =>
  `${templateName}-${setName}-${ordinal}`;

/** spec.ordinals.start (default 0). */
export const startOrdinal = (set: SetView): number => Number(set.spec?.ordinals?.start ?? 0) || 0;

/** The ordinals a set of `replicas` replicas keeps: [start, start+replicas). */
export function ordinalInRange(set: SetView, ordinal: number): boolean {
  const start = startOrdinal(set);
  return ordinal >= start && ordinal < start + (set.spec?.replicas ?? 1);
}

/** The claims a pod of `ordinal` uses, by volume name. */
export function claimsFor(set: NamedSet, ordinal: number): Map<string, NamedClaim> {
  const out = new Map<string, NamedClaim>();
  const matchLabels = set.spec?.selector?.matchLabels ?? {};
  for (const t of set.spec?.volumeClaimTemplates ?? []) {
    const tplName = t?.metadata?.name;
    if (!tplName) continue;
    const { status: _status, ...rest } = structuredClone(t);
    const claim: NamedClaim = { ...rest, apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: '' } };
    claim.metadata = {
      name: claimName(tplName, set.metadata.name, ordinal),
      namespace: set.metadata.namespace,
      labels: { ...(t.metadata?.labels ?? {}), ...matchLabels },
      ...(t.metadata?.annotations ? { annotations: { ...t.metadata.annotations } } : {}),
    };
    out.set(tplName, claim);
  }
  return out;
}

/** A pod for `ordinal` built from `template` (a revision's) with the set's identity. */
export function newStatefulSetPod(
  set: NamedSet,
  template: PodTemplateSpec | undefined,
  revisionName: string,
  ordinal: number,
): Pod & {
  metadata: ObjectMeta & { name: string; labels: Record<string, string>; ownerReferences: OwnerReference[] };
  spec: PodSpec;
} {
  const tpl: PodTemplateSpec = structuredClone(template ?? {});
  const name = podName(set.metadata.name, ordinal);
  const labels = { ...(tpl.metadata?.labels ?? {}) };
  labels[STATEFULSET_POD_NAME_LABEL] = name;
  labels[POD_INDEX_LABEL] = String(ordinal);
  labels[CONTROLLER_REVISION_HASH_LABEL] = revisionName;
  const spec: PodSpec = tpl.spec ?? { containers: [] };
  spec.hostname = name;
  if (set.spec?.serviceName) spec.subdomain = set.spec.serviceName;
  const claims = claimsFor(set, ordinal);
  if (claims.size) {
    const volumes: Volume[] = (spec.volumes ?? []).filter((v) => !claims.has(v?.name));
    for (const [volName, claim] of claims)
      volumes.push({ name: volName, persistentVolumeClaim: { claimName: claim.metadata.name } });
    volumes.sort((a, b) => String(a.name).localeCompare(String(b.name)));
    spec.volumes = volumes;
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: set.metadata.namespace,
      labels,
      ...(tpl.metadata?.annotations ? { annotations: { ...tpl.metadata.annotations } } : {}),
      ...(tpl.metadata?.finalizers ? { finalizers: [...tpl.metadata.finalizers] } : {}),
      ownerReferences: [newControllerRef(set, 'apps/v1', 'StatefulSet')],
    },
    spec,
  };
}

/**
 * Upstream newVersionedStatefulSetPod: with RollingUpdate, ordinals below the partition (or, with
 * no rollingUpdate block, below start+currentReplicas) are created at the current revision; all
 * others at the update revision.
 */
export function revisionForNewPod<R>(set: SetView, ordinal: number, current: R, update: R): R {
  const us: NonNullable<StatefulSetSpec['updateStrategy']> = set.spec?.updateStrategy ?? {};
  if (us.type === 'RollingUpdate' || us.type === undefined) {
    if (!us.rollingUpdate) {
      if (ordinal < startOrdinal(set) + (set.status?.currentReplicas ?? 0)) return current;
    } else if (ordinal < Number(us.rollingUpdate.partition ?? 0)) {
      return current;
    }
  }
  return update;
}

export { templateFromRevision };

/** Does the pod carry the identity of `ordinal` in `set`? (upstream identityMatches) */
export function identityMatches(set: NamedSet, pod: Pod, ordinal: number): boolean {
  const name = podName(set.metadata.name, ordinal);
  return (
    pod.metadata?.name === name &&
    pod.metadata?.namespace === set.metadata.namespace &&
    pod.metadata?.labels?.[STATEFULSET_POD_NAME_LABEL] === name &&
    pod.spec?.hostname === name &&
    (pod.spec?.subdomain ?? '') === (set.spec?.serviceName ?? '')
  );
}
