// Deployment arithmetic and bookkeeping as upstream's pkg/controller/deployment/util: fenceposts
// of maxSurge/maxUnavailable, the size of the new ReplicaSet in a rolling update, proportional
// scaling, revisions and the annotations on ReplicaSets, conditions, the pod-template hash.
import type {
  Deployment,
  DeploymentCondition as ApiDeploymentCondition,
  DeploymentStatus,
  ReplicaSet,
} from 'kubernetes-types/apps/v1.js';
import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import { rfc3339 } from '../../machinery/time.js';
import { compareStrings } from '../../machinery/order.js';

/** A list of ReplicaSets where the new one may be missing (upstream passes nil pointers). */
type MaybeRSs = readonly (ReplicaSet | undefined)[];

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
export const MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000;

/** Annotations of a Deployment never copied to its ReplicaSets. */
const ANNOTATIONS_TO_SKIP = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  'deprecated.deployment.rollback.to',
]);

// Condition reasons (upstream deploymentutil).
export const FAILED_RS_CREATE_REASON = 'ReplicaSetCreateError';
export const NEW_REPLICA_SET_REASON = 'NewReplicaSetCreated';
export const FOUND_NEW_RS_REASON = 'FoundNewReplicaSet';
export const NEW_RS_AVAILABLE_REASON = 'NewReplicaSetAvailable';
export const TIMED_OUT_REASON = 'ProgressDeadlineExceeded';
export const PAUSED_DEPLOY_REASON = 'DeploymentPaused';
export const RESUMED_DEPLOY_REASON = 'DeploymentResumed';
export const REPLICA_SET_UPDATED_REASON = 'ReplicaSetUpdated';
export const MINIMUM_REPLICAS_AVAILABLE = 'MinimumReplicasAvailable';
export const MINIMUM_REPLICAS_UNAVAILABLE = 'MinimumReplicasUnavailable';

const MAX_INT32 = 2147483647;

// ---- int-or-percent and fenceposts ----

/** intstr.GetScaledValueFromIntOrPercent. */
export function scaledValue(v: number | string | undefined | null, total: number, roundUp: boolean): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  const m = /^(-?\d+)%$/.exec(v);
  if (!m) {
    if (/^-?\d+$/.test(v)) return Number.parseInt(v, 10);
    throw new Error(`invalid value for IntOrString: invalid value "${v}"`);
  }
  const pct = Number.parseInt(m[1], 10);
  // Integer arithmetic as upstream: ceil/floor of pct*total/100.
  const x = pct * total;
  return roundUp ? Math.ceil(x / 100) : Math.floor(x / 100);
}

/** Upstream ResolveFenceposts: maxSurge rounds up, maxUnavailable down; both 0 → unavailable 1. */
export function resolveFenceposts(
  maxSurge: number | string | undefined,
  maxUnavailable: number | string | undefined,
  desired: number,
): { surge: number; unavailable: number } {
  const surge = scaledValue(maxSurge ?? 0, desired, true);
  let unavailable = scaledValue(maxUnavailable ?? 0, desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

export const isRollingUpdate = (d: Deployment) => (d.spec?.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
export const specReplicas = (o: { spec?: { replicas?: number } } | undefined): number => o?.spec?.replicas ?? 1;

export function maxUnavailable(d: Deployment): number {
  const replicas = specReplicas(d);
  if (!isRollingUpdate(d) || replicas === 0) return 0;
  const ru = d.spec?.strategy?.rollingUpdate ?? {};
  const { unavailable } = resolveFenceposts(ru.maxSurge, ru.maxUnavailable, replicas);
  return Math.min(unavailable, replicas);
}

export function maxSurge(d: Deployment): number {
  if (!isRollingUpdate(d)) return 0;
  const ru = d.spec?.strategy?.rollingUpdate ?? {};
  return resolveFenceposts(ru.maxSurge, ru.maxUnavailable, specReplicas(d)).surge;
}

// ---- counts over ReplicaSets ----

const rsSpecReplicas = (rs: ReplicaSet | undefined): number => rs?.spec?.replicas ?? 1;
export const sumSpec = (rss: MaybeRSs) => rss.reduce((n, rs) => n + (rs ? rsSpecReplicas(rs) : 0), 0);
export const sumActual = (rss: MaybeRSs) => rss.reduce((n, rs) => n + (rs?.status?.replicas ?? 0), 0);
export const sumReady = (rss: MaybeRSs) => rss.reduce((n, rs) => n + (rs?.status?.readyReplicas ?? 0), 0);
export const sumAvailable = (rss: MaybeRSs) => rss.reduce((n, rs) => n + (rs?.status?.availableReplicas ?? 0), 0);
export const filterActive = <RS extends ReplicaSet>(rss: readonly (RS | undefined)[]): RS[] =>
  rss.filter((rs): rs is RS => !!rs && rsSpecReplicas(rs) > 0);

/** Upstream NewRSNewReplicas: how big the new ReplicaSet may be now. */
export function newRSNewReplicas(d: Deployment, allRSs: MaybeRSs, newRS: ReplicaSet | undefined): number {
  if (!isRollingUpdate(d)) return specReplicas(d);
  const current = sumSpec(allRSs);
  const maxTotal = specReplicas(d) + maxSurge(d);
  if (current >= maxTotal) return rsSpecReplicas(newRS);
  const scaleUp = Math.min(maxTotal - current, specReplicas(d) - rsSpecReplicas(newRS));
  return rsSpecReplicas(newRS) + scaleUp;
}

/** How many old replicas may go now (upstream reconcileOldReplicaSets' maxScaledDown). */
export function maxScaledDown(d: Deployment, allRSs: MaybeRSs, newRS: ReplicaSet | undefined): number {
  const minAvailable = specReplicas(d) - maxUnavailable(d);
  const newUnavailable = rsSpecReplicas(newRS) - (newRS?.status?.availableReplicas ?? 0);
  return sumSpec(allRSs) - minAvailable - newUnavailable;
}

// ---- ordering ----

const created = (rs: ReplicaSet) => Date.parse(rs.metadata?.creationTimestamp ?? '') || 0;

/** Older first; ties by name (upstream ReplicaSetsByCreationTimestamp). */
export function byCreation(a: ReplicaSet, b: ReplicaSet): number {
  const d = created(a) - created(b);
  if (d !== 0) return d;
  const an = a.metadata?.name ?? '';
  const bn = b.metadata?.name ?? '';
  return compareStrings(an, bn);
}

/** Larger first; ties: newer first (upstream ReplicaSetsBySizeNewer). */
export function bySizeNewer(a: ReplicaSet, b: ReplicaSet): number {
  const d = rsSpecReplicas(b) - rsSpecReplicas(a);
  if (d !== 0) return d;
  return created(b) - created(a);
}

/** Larger first; ties: older first (upstream ReplicaSetsBySizeOlder). */
export function bySizeOlder(a: ReplicaSet, b: ReplicaSet): number {
  const d = rsSpecReplicas(b) - rsSpecReplicas(a);
  if (d !== 0) return d;
  return byCreation(a, b);
}

export function revisionOf(obj: { metadata?: { annotations?: Record<string, string> } } | undefined): number {
  const v = obj?.metadata?.annotations?.[REVISION_ANNOTATION];
  if (v === undefined) return 0;
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : 0;
}

export function byRevision(a: ReplicaSet, b: ReplicaSet): number {
  const d = revisionOf(a) - revisionOf(b);
  return d !== 0 ? d : byCreation(a, b);
}

export function maxRevision(rss: MaybeRSs): number {
  let m = 0;
  for (const rs of rss) m = Math.max(m, revisionOf(rs));
  return m;
}

// ---- templates and hashing ----

/** Canonical JSON: keys sorted, so equal objects hash equal. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

/** 32-bit FNV-1a over bytes. */
export function fnv32a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** Upstream rand.SafeEncodeString: no vowels (no words), no confusable characters. */
export function safeEncodeString(s: string): string {
  let out = '';
  for (const ch of s) out += ALPHANUMS[ch.codePointAt(0)! % ALPHANUMS.length];
  return out;
}

/**
 * Upstream controller.ComputeHash: FNV-32a over the pod template, then the collision count (as
 * 8 little-endian bytes) when set; the decimal sum safe-encoded. (Upstream feeds the hasher Go's
 * spew dump of the struct; k8ts feeds canonical JSON, so the hashes differ in value, not in form.)
 */
export function computeHash(template: PodTemplateSpec | undefined, collisionCount?: number | null): string {
  let h = fnv32a(new TextEncoder().encode(canonicalJson(template ?? {})));
  if (collisionCount !== undefined && collisionCount !== null) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv32a(b, h);
  }
  return safeEncodeString(String(h));
}

/** Missing, null, an empty list, or a map of nothing but empty values (a Go zero struct/map). */
function isEmptyValue(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.values(v).every(isEmptyValue);
  return false;
}

/** Deep equality where missing, null, empty maps and empty lists are the same (Semantic.DeepEqual). */
export function semanticEqual(a: unknown, b: unknown): boolean {
  if (isEmptyValue(a) && isEmptyValue(b)) return true;
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => semanticEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)])) if (!semanticEqual(ao[k], bo[k])) return false;
  return true;
}

/** Templates equal apart from the pod-template-hash label (upstream EqualIgnoreHash). */
export function equalIgnoreHash(t1: PodTemplateSpec | undefined, t2: PodTemplateSpec | undefined): boolean {
  const strip = (t: PodTemplateSpec | undefined) => {
    const c: PodTemplateSpec = structuredClone(t ?? {});
    if (c.metadata?.labels) delete c.metadata.labels[POD_TEMPLATE_HASH_LABEL];
    return c;
  };
  return semanticEqual(strip(t1), strip(t2));
}

/** The newest-created-first match of the Deployment's template (upstream FindNewReplicaSet). */
export function findNewReplicaSet<RS extends ReplicaSet>(d: Deployment, rss: readonly RS[]): RS | undefined {
  const sorted = [...rss].sort(byCreation);
  return sorted.find((rs) => equalIgnoreHash(rs.spec?.template, d.spec?.template));
}

// ---- annotations ----

export function setReplicasAnnotations(rs: ReplicaSet, desired: number, max: number): boolean {
  const a = ((rs.metadata ??= {}).annotations ??= {});
  let changed = false;
  if (a[DESIRED_REPLICAS_ANNOTATION] !== String(desired)) {
    a[DESIRED_REPLICAS_ANNOTATION] = String(desired);
    changed = true;
  }
  if (a[MAX_REPLICAS_ANNOTATION] !== String(max)) {
    a[MAX_REPLICAS_ANNOTATION] = String(max);
    changed = true;
  }
  return changed;
}

export function replicasAnnotationsNeedUpdate(rs: ReplicaSet, desired: number, max: number): boolean {
  const a = rs.metadata?.annotations ?? {};
  return a[DESIRED_REPLICAS_ANNOTATION] !== String(desired) || a[MAX_REPLICAS_ANNOTATION] !== String(max);
}

function copyDeploymentAnnotations(d: Deployment, rs: ReplicaSet): boolean {
  const a = ((rs.metadata ??= {}).annotations ??= {});
  let changed = false;
  for (const [k, v] of Object.entries<string>(d.metadata?.annotations ?? {})) {
    if (ANNOTATIONS_TO_SKIP.has(k) || a[k] === v) continue;
    a[k] = v;
    changed = true;
  }
  return changed;
}

/** Upstream SetNewReplicaSetAnnotations: copy the Deployment's annotations, bump the revision, keep history. */
export function setNewReplicaSetAnnotations(
  d: Deployment,
  rs: ReplicaSet,
  newRevision: string,
  exists: boolean,
  limit = MAX_REV_HISTORY_LENGTH_IN_CHARS,
): boolean {
  let changed = copyDeploymentAnnotations(d, rs);
  const a = ((rs.metadata ??= {}).annotations ??= {});
  const had = Object.prototype.hasOwnProperty.call(a, REVISION_ANNOTATION);
  const oldRevision: string = a[REVISION_ANNOTATION] ?? '';
  let oldInt = 0;
  if (oldRevision !== '') {
    if (!/^-?\d+$/.test(oldRevision)) return false;
    oldInt = Number.parseInt(oldRevision, 10);
  }
  const newInt = Number.parseInt(newRevision, 10);
  if (oldInt < newInt) {
    a[REVISION_ANNOTATION] = newRevision;
    changed = true;
  }
  if (had && oldInt < newInt) {
    const hist: string = a[REVISION_HISTORY_ANNOTATION] ?? '';
    const old = hist.split(',');
    if (old[0].length === 0) {
      a[REVISION_HISTORY_ANNOTATION] = oldRevision;
    } else {
      let total = hist.length + oldRevision.length + 1;
      let start = 0;
      while (total > limit && start < old.length) {
        total -= old[start].length + 1;
        start++;
      }
      if (total <= limit) a[REVISION_HISTORY_ANNOTATION] = [...old.slice(start), oldRevision].join(',');
    }
  }
  if (!exists && setReplicasAnnotations(rs, specReplicas(d), specReplicas(d) + maxSurge(d))) changed = true;
  return changed;
}

function intAnnotation(rs: ReplicaSet, key: string): number | undefined {
  const v = rs.metadata?.annotations?.[key];
  if (v === undefined || !/^-?\d+$/.test(v)) return undefined;
  return Number.parseInt(v, 10);
}
export const desiredReplicasAnnotation = (rs: ReplicaSet) => intAnnotation(rs, DESIRED_REPLICAS_ANNOTATION);

/** Round half away from zero, as Go's math.Round. */
const roundHalfAway = (x: number) => (x < 0 ? -Math.round(-x) : Math.round(x));

/** Upstream getReplicaSetFraction. */
export function replicaSetFraction(rs: ReplicaSet, d: Deployment): number {
  if (specReplicas(d) === 0) return -rsSpecReplicas(rs);
  const dMax = specReplicas(d) + maxSurge(d);
  let before = intAnnotation(rs, MAX_REPLICAS_ANNOTATION);
  if (before === undefined || before === 0) {
    before = d.status?.replicas ?? 0;
    if (before === 0) return 0;
  }
  return roundHalfAway((rsSpecReplicas(rs) * dMax) / before) - rsSpecReplicas(rs);
}

/** Upstream GetProportion. */
export function proportion(rs: ReplicaSet | undefined, d: Deployment, toAdd: number, added: number): number {
  if (!rs || rsSpecReplicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  const fraction = replicaSetFraction(rs, d);
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

/**
 * Proportional scaling of the active ReplicaSets of a rolling Deployment (upstream scale()):
 * returns the new size of every set, in the order they should be updated.
 */
export function proportionalSizes<RS extends ReplicaSet>(
  d: Deployment,
  active: readonly RS[],
): { sizes: Map<RS, number>; order: RS[]; op: 'up' | 'down' | '' } {
  const allowedSize = specReplicas(d) > 0 ? specReplicas(d) + maxSurge(d) : 0;
  const toAdd = allowedSize - sumSpec(active);
  const order = [...active];
  let op: 'up' | 'down' | '' = '';
  if (toAdd > 0) {
    order.sort(bySizeNewer);
    op = 'up';
  } else if (toAdd < 0) {
    order.sort(bySizeOlder);
    op = 'down';
  }
  const sizes = new Map<RS, number>();
  let added = 0;
  for (const rs of order) {
    if (toAdd !== 0) {
      const p = proportion(rs, d, toAdd, added);
      sizes.set(rs, rsSpecReplicas(rs) + p);
      added += p;
    } else sizes.set(rs, rsSpecReplicas(rs));
  }
  if (order.length && toAdd !== 0) {
    const first = order[0];
    sizes.set(first, Math.max(0, sizes.get(first)! + toAdd - added));
  }
  return { sizes, order, op };
}

export function isSaturated(d: Deployment, rs: ReplicaSet | undefined): boolean {
  if (!rs) return false;
  const desired = desiredReplicasAnnotation(rs);
  if (desired === undefined) return false;
  const r = specReplicas(d);
  return rsSpecReplicas(rs) === r && desired === r && (rs.status?.availableReplicas ?? 0) === r;
}

/** The only active set, or the newest when none is active (upstream FindActiveOrLatest). */
export function findActiveOrLatest<RS extends ReplicaSet>(
  newRS: RS | undefined,
  oldRSs: readonly RS[],
): RS | undefined {
  if (!newRS && oldRSs.length === 0) return undefined;
  const olds = [...oldRSs].sort((a, b) => byCreation(b, a));
  const all = filterActive([...olds, newRS]);
  if (all.length === 0) return newRS ?? olds[0];
  if (all.length === 1) return all[0];
  return undefined;
}

// ---- conditions and status ----

export type DeploymentCondition = ApiDeploymentCondition;
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export function newCondition(
  type: string,
  status: ConditionStatus,
  reason: string,
  message: string,
): DeploymentCondition {
  const t = rfc3339();
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

export const getCondition = (status: DeploymentStatus | undefined, type: string): ApiDeploymentCondition | undefined =>
  (status?.conditions ?? []).find((c) => c.type === type);

/** Upstream SetDeploymentCondition: same status and reason → untouched; same status keeps lastTransitionTime. */
export function setCondition(status: DeploymentStatus, cond: DeploymentCondition): void {
  const cur = getCondition(status, cond.type);
  if (cur && cur.status === cond.status && cur.reason === cond.reason) return;
  if (cur && cur.status === cond.status) cond.lastTransitionTime = cur.lastTransitionTime;
  status.conditions = [...(status.conditions ?? []).filter((c) => c.type !== cond.type), cond];
}

export function removeCondition(status: DeploymentStatus, type: string): void {
  if (!status.conditions) return;
  status.conditions = status.conditions.filter((c) => c.type !== type);
  if (status.conditions.length === 0) delete status.conditions;
}

export const hasProgressDeadline = (d: Deployment) =>
  d.spec?.progressDeadlineSeconds !== undefined &&
  d.spec?.progressDeadlineSeconds !== null &&
  d.spec.progressDeadlineSeconds !== MAX_INT32;
export const hasRevisionHistoryLimit = (d: Deployment) =>
  d.spec?.revisionHistoryLimit !== undefined &&
  d.spec?.revisionHistoryLimit !== null &&
  d.spec.revisionHistoryLimit !== MAX_INT32;

/** Upstream DeploymentComplete. */
export function deploymentComplete(d: Deployment, st: DeploymentStatus): boolean {
  const r = specReplicas(d);
  return (
    (st.updatedReplicas ?? 0) === r &&
    (st.replicas ?? 0) === r &&
    (st.availableReplicas ?? 0) === r &&
    (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0)
  );
}

/** Upstream DeploymentProgressing: any sign of progress between the old and the new status. */
export function deploymentProgressing(d: Deployment, st: DeploymentStatus): boolean {
  const old: DeploymentStatus = d.status ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = (st.replicas ?? 0) - (st.updatedReplicas ?? 0);
  return (
    (st.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) ||
    newOld < oldOld ||
    (st.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
    (st.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
  );
}

/** Upstream DeploymentTimedOut. */
export function deploymentTimedOut(d: Deployment, st: DeploymentStatus, now = Date.now()): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getCondition(st, 'Progressing');
  if (!c) return false;
  if (c.reason === NEW_RS_AVAILABLE_REASON) return false;
  if (c.reason === TIMED_OUT_REASON) return true;
  const from = Date.parse(c.lastUpdateTime ?? '');
  return from + (d.spec?.progressDeadlineSeconds ?? 0) * 1000 < now;
}

/** Upstream calculateStatus of a Deployment. */
export function calculateStatus(allRSs: MaybeRSs, newRS: ReplicaSet | undefined, d: Deployment): DeploymentStatus {
  const available = sumAvailable(allRSs);
  const total = sumSpec(allRSs);
  const status: DeploymentStatus = {
    observedGeneration: d.metadata?.generation ?? 0,
    replicas: sumActual(allRSs),
    updatedReplicas: sumActual(newRS ? [newRS] : []),
    readyReplicas: sumReady(allRSs),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, total - available),
  };
  if (d.status?.collisionCount !== undefined && d.status?.collisionCount !== null)
    status.collisionCount = d.status.collisionCount;
  if (d.status?.conditions?.length) status.conditions = d.status.conditions.map((c) => ({ ...c }));
  if (available >= specReplicas(d) - maxUnavailable(d)) {
    setCondition(
      status,
      newCondition('Available', 'True', MINIMUM_REPLICAS_AVAILABLE, 'Deployment has minimum availability.'),
    );
  } else {
    setCondition(
      status,
      newCondition(
        'Available',
        'False',
        MINIMUM_REPLICAS_UNAVAILABLE,
        'Deployment does not have minimum availability.',
      ),
    );
  }
  return status;
}

/** Status equality as the API would store it (zero counts may be omitted). */
export function statusEqual(a: DeploymentStatus | undefined, b: DeploymentStatus | undefined): boolean {
  const norm = (s: DeploymentStatus | undefined) => {
    const o: Record<string, unknown> = { ...(s ?? {}) };
    for (const k of [
      'observedGeneration',
      'replicas',
      'updatedReplicas',
      'readyReplicas',
      'availableReplicas',
      'unavailableReplicas',
    ])
      o[k] = o[k] ?? 0;
    return o;
  };
  return semanticEqual(norm(a), norm(b));
}
