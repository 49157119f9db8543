// Helpers shared by the StatefulSet, DaemonSet, Job and CronJob controllers: pod state
// (upstream pkg/api/v1/pod, pkg/controller/controller_utils.go), controller references, an
// owner-UID index on shared informers, and ControllerRevision history
// (pkg/controller/history): hashing, naming, equality, ordering.
import type { ControllerRevision } from 'kubernetes-types/apps/v1.js';
import type { Pod, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta, OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { Logger } from 'pino';
import type { Stored } from '../../client/types.js';
import { R, type ResourceClient } from '../../client/client.js';
import { isAlreadyExists, isNotFound } from '../../client/errors.js';
import type { SharedIndexInformer } from '../../client/informer.js';

export const CONTROLLER_REVISION_HASH_LABEL = 'controller-revision-hash';

/** The typed specs of the resources the workload controllers keep (the R table's). */
export const RESOURCES = {
  controllerrevisions: R.controllerrevisions,
  persistentvolumeclaims: R.persistentvolumeclaims,
};

/** Seconds-precision RFC 3339, as metav1.Time serialises. */

export const parseTime = (t: string | undefined | null): number | undefined => (t ? Date.parse(t) : undefined);

// ---- pods ----

import { isPodAvailable, isPodReady, podCondition } from '../../api/helpers/podready.js';

export { isPodAvailable, isPodReady, podCondition };

/** The object a revision or a controller reference is made for (a StatefulSet or DaemonSet as read). */
type Owner = { metadata: ObjectMeta & { name: string; uid: string } };

/** A ControllerRevision as read from the API. */
export type Revision = Stored<ControllerRevision>;

/** What our revisions record; kubernetes-types types ControllerRevision.data as RawExtension ({}). */
export interface RevisionData {
  spec?: { template?: PodTemplateSpec & { $patch?: string } };
}

export const revisionData = (rev: Pick<ControllerRevision, 'data'> | undefined): RevisionData | undefined => rev?.data;

/** ms until a ready pod becomes available (0 if it is, undefined if it is not ready). */
export function msUntilAvailable(pod: Pod, minReadySeconds: number, now: number): number | undefined {
  const c = podCondition(pod, 'Ready');
  if (c?.status !== 'True') return undefined;
  const since = parseTime(c.lastTransitionTime) ?? now;
  return Math.max(0, since + minReadySeconds * 1000 - now);
}

export const isPodTerminating = (pod: Pod | undefined): boolean => !!pod?.metadata?.deletionTimestamp;
export const isPodSucceeded = (pod: Pod | undefined): boolean => pod?.status?.phase === 'Succeeded';
export const isPodFailed = (pod: Pod | undefined): boolean => pod?.status?.phase === 'Failed';
export const isPodFinished = (pod: Pod | undefined): boolean => isPodSucceeded(pod) || isPodFailed(pod);
export const isPodRunning = (pod: Pod | undefined): boolean => pod?.status?.phase === 'Running';
/** Upstream controller.IsPodActive. */
export const isPodActive = (pod: Pod | undefined): boolean => !isPodFinished(pod) && !isPodTerminating(pod);

/** Upstream's ActivePods order: the pods to delete first come first. */
export function comparePodsForDeletion(a: Pod, b: Pod): number {
  const rank = (p: Pod) => {
    // unassigned < assigned; Pending < Unknown < Running; not ready < ready
    const assigned = p.spec?.nodeName ? 1 : 0;
    const phase = p.status?.phase === 'Pending' ? 0 : p.status?.phase === 'Running' ? 2 : 1;
    return [assigned, phase, isPodReady(p) ? 1 : 0];
  };
  const ra = rank(a);
  const rb = rank(b);
  for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return ra[i] - rb[i];
  // ready for a shorter time first; then more restarts first; then newer first
  const readyA = parseTime(podCondition(a, 'Ready')?.lastTransitionTime) ?? 0;
  const readyB = parseTime(podCondition(b, 'Ready')?.lastTransitionTime) ?? 0;
  if (readyA !== readyB) return readyB - readyA;
  const restarts = (p: Pod) => Math.max(0, ...(p.status?.containerStatuses ?? []).map((c) => c.restartCount ?? 0));
  if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
  const ca = parseTime(a.metadata?.creationTimestamp) ?? 0;
  const cb = parseTime(b.metadata?.creationTimestamp) ?? 0;
  return cb - ca;
}

// ---- controller references ----

export function controllerRefOf(obj: { metadata?: ObjectMeta } | undefined): OwnerReference | undefined {
  return (obj?.metadata?.ownerReferences ?? []).find((r) => r?.controller === true);
}

export function newControllerRef(owner: Owner, apiVersion: string, kind: string): OwnerReference {
  return {
    apiVersion,
    kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** An index of objects by the UID of their controller (ownerReference with controller=true). */
export const CONTROLLER_UID_INDEX = 'k8ts.io/workload-controller-uid';

export function addControllerIndex<T>(informer: SharedIndexInformer<T>): void {
  try {
    informer.addIndexers({
      [CONTROLLER_UID_INDEX]: (obj: { metadata?: ObjectMeta } | undefined) => {
        const ref = controllerRefOf(obj);
        return ref?.uid ? [ref.uid] : [];
      },
    });
  } catch {
    // Another controller added it already (the same function).
  }
}

export function ownedBy<T>(informer: SharedIndexInformer<T>, uid: string): Stored<T>[] {
  return informer.store.byIndex(CONTROLLER_UID_INDEX, uid);
}

/** Remove a finalizer from an object with a JSON patch guarded by a test (no lost updates). */
export async function removeFinalizer<T>(
  rc: ResourceClient<T>,
  obj: Stored<{ metadata?: ObjectMeta }>,
  finalizer: string,
): Promise<void> {
  const list: string[] = obj.metadata?.finalizers ?? [];
  const i = list.indexOf(finalizer);
  if (i < 0) return;
  try {
    await rc.namespace(obj.metadata.namespace).patch(obj.metadata.name, 'json', [
      { op: 'test', path: `/metadata/finalizers/${i}`, value: finalizer },
      { op: 'remove', path: `/metadata/finalizers/${i}` },
    ]);
  } catch (err) {
    if (isNotFound(err)) return;
    // The list moved under us: read it again and retry once.
    const fresh = await rc
      .namespace(obj.metadata.namespace)
      .get(obj.metadata.name)
      .catch((e) => {
        if (isNotFound(e)) return undefined;
        throw e;
      });
    if (!fresh) return;
    const j = (fresh.metadata?.finalizers ?? []).indexOf(finalizer);
    if (j < 0) return;
    await rc.namespace(obj.metadata.namespace).patch(obj.metadata.name, 'json', [
      { op: 'test', path: `/metadata/finalizers/${j}`, value: finalizer },
      { op: 'remove', path: `/metadata/finalizers/${j}` },
    ]);
  }
}

// ---- ControllerRevision history (pkg/controller/history) ----

/** FNV-1a, 32 bits, over the UTF-8 bytes of a string. */
export function fnv32a(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  const bytes = Buffer.from(s, 'utf8');
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const SAFE_ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** apimachinery's rand.SafeEncodeString: no vowels, no confusable characters. */
export function safeEncodeString(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += SAFE_ALPHANUMS[s.charCodeAt(i) % SAFE_ALPHANUMS.length];
  return out;
}

/** Canonical JSON (sorted keys), so equal objects hash equally. */
export function canonicalJSON(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJSON).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJSON(o[k])}`)
    .join(',')}}`;
}

/** history.HashControllerRevision: the hash of a revision's data and the collision count. */
export function hashRevisionData(data: unknown, collisionCount?: number): string {
  let h = fnv32a(canonicalJSON(data));
  if (collisionCount) h = fnv32a(String(collisionCount), h);
  return safeEncodeString(String(h));
}

/** The data a StatefulSet/DaemonSet revision records: its pod template, replacing on apply. */
export function templatePatch(
  template: PodTemplateSpec | undefined,
): RevisionData & { spec: { template: PodTemplateSpec & { $patch: 'replace' } } } {
  return { spec: { template: { ...structuredClone(template ?? {}), $patch: 'replace' } } };
}

/** The pod template a revision recorded. */
export function templateFromRevision(rev: Pick<ControllerRevision, 'data'> | undefined): PodTemplateSpec {
  const tpl = structuredClone(revisionData(rev)?.spec?.template ?? {});
  delete tpl.$patch;
  return tpl;
}

export function revisionsEqual(a: ControllerRevision | undefined, b: ControllerRevision | undefined): boolean {
  return canonicalJSON(a?.data) === canonicalJSON(b?.data);
}

export function sortRevisions(revs: readonly Revision[]): Revision[] {
  return [...revs].sort(
    (a, b) => (a.revision ?? 0) - (b.revision ?? 0) || String(a.metadata.name).localeCompare(String(b.metadata.name)),
  );
}

export const nextRevisionNumber = (revs: readonly Revision[]): number =>
  revs.length ? Math.max(...revs.map((r) => r.revision ?? 0)) + 1 : 1;

export interface RevisionResult {
  revision: Revision;
  collisionCount: number;
}

/**
 * Find or create the revision holding `data` for `owner` (upstream getStatefulSetRevisions /
 * constructHistory): an equal revision is reused (and renumbered if it is not the newest);
 * otherwise a new one named <owner>-<hash> is created, a hash collision bumping collisionCount.
 */
export async function ensureRevision(opts: {
  client: ResourceClient<ControllerRevision>;
  owner: Owner;
  ownerApiVersion: string;
  ownerKind: string;
  data: RevisionData;
  revisions: Revision[];
  collisionCount: number;
  labels: Record<string, string>;
  log?: Logger;
}): Promise<RevisionResult> {
  const { owner, data } = opts;
  const ns = owner.metadata.namespace;
  const rc = opts.client.namespace(ns);
  const sorted = sortRevisions(opts.revisions);
  const next = nextRevisionNumber(sorted);
  const equal = sorted.filter((r) => canonicalJSON(r.data) === canonicalJSON(data));
  if (equal.length) {
    const latest = equal[equal.length - 1];
    if (latest === sorted[sorted.length - 1]) return { revision: latest, collisionCount: opts.collisionCount };
    const updated = await rc.update({ ...structuredClone(latest), revision: next });
    return { revision: updated, collisionCount: opts.collisionCount };
  }
  let collisionCount = opts.collisionCount;
  for (let attempt = 0; attempt < 20; attempt++) {
    const hash = hashRevisionData(data, collisionCount);
    const name = `${owner.metadata.name}-${hash}`;
    const rev: ControllerRevision = {
      apiVersion: 'apps/v1',
      kind: 'ControllerRevision',
      metadata: {
        name,
        namespace: ns,
        labels: { ...opts.labels, [CONTROLLER_REVISION_HASH_LABEL]: hash },
        // Upstream copies the owner's annotations (newRevision, DaemonSet snapshot): kubectl
        // rollout history shows a revision's kubernetes.io/change-cause from them.
        ...(owner.metadata.annotations ? { annotations: { ...owner.metadata.annotations } } : {}),
        ownerReferences: [newControllerRef(owner, opts.ownerApiVersion, opts.ownerKind)],
      },
      data,
      revision: next,
    };
    try {
      return { revision: await rc.create(rev), collisionCount };
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const existing = await rc.get(name);
      const sameOwner = controllerRefOf(existing)?.uid === owner.metadata.uid;
      if (sameOwner && canonicalJSON(existing.data) === canonicalJSON(data)) {
        if ((existing.revision ?? 0) < next - 1 || !sorted.some((r) => r.metadata.name === name)) {
          return { revision: await rc.update({ ...existing, revision: next }), collisionCount };
        }
        return { revision: existing, collisionCount };
      }
      collisionCount++;
      opts.log?.debug({ name }, 'controller revision hash collision');
    }
  }
  throw new Error(`could not create a ControllerRevision for ${ns}/${owner.metadata.name}`);
}

/** The hash part of a revision: its controller-revision-hash label, or its name's suffix. */
export function revisionHash(rev: ControllerRevision | undefined): string {
  return (
    rev?.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL] ??
    String(rev?.metadata?.name ?? '')
      .split('-')
      .pop() ??
    ''
  );
}

/** Delete revisions beyond the history limit that no live pod uses (oldest first). */
export async function truncateHistory(
  client: ResourceClient<ControllerRevision>,
  revisions: Revision[],
  keep: Set<string>,
  limit: number,
): Promise<void> {
  const candidates = sortRevisions(revisions).filter((r) => !keep.has(r.metadata.name));
  const excess = candidates.length - limit;
  for (let i = 0; i < excess; i++) {
    const r = candidates[i];
    try {
      await client.namespace(r.metadata.namespace).delete(r.metadata.name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** Upstream intstr.GetScaledValueFromIntOrPercent. */
export function scaledValue(v: unknown, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const m = /^(\d+)%$/.exec(v);
    if (m) {
      const x = (Number(m[1]) * total) / 100;
      return roundUp ? Math.ceil(x) : Math.floor(x);
    }
    const n = Number(v);
    if (Number.isFinite(n)) return n;
  }
  return 0;
}

/**
 * Upstream ControllerExpectations, by object name: after creating or deleting pods a controller
 * waits until its informer has seen those changes before acting again on stale caches.
 */
export class Expectations {
  private readonly pending = new Map<string, { creates: Set<string>; deletes: Set<string>; at: number }>();
  constructor(private readonly ttlMs = 5 * 60_000) {}

  private entry(key: string) {
    let e = this.pending.get(key);
    if (!e) this.pending.set(key, (e = { creates: new Set(), deletes: new Set(), at: Date.now() }));
    e.at = Date.now();
    return e;
  }

  expectCreate(key: string, name: string): void {
    this.entry(key).creates.add(name);
  }

  expectDelete(key: string, uid: string): void {
    this.entry(key).deletes.add(uid);
  }

  /** The informer saw a pod of `key` (added, or deleted/terminating). */
  observe(key: string, pod: Pod, deleted = false): void {
    const e = this.pending.get(key);
    if (!e) return;
    e.creates.delete(pod.metadata?.name ?? '');
    if (deleted || pod.metadata?.deletionTimestamp) e.deletes.delete(pod.metadata?.uid ?? '');
  }

  /** A create or delete that failed: no longer expected. */
  lower(key: string, nameOrUid: string): void {
    const e = this.pending.get(key);
    e?.creates.delete(nameOrUid);
    e?.deletes.delete(nameOrUid);
  }

  /** Whether the cache reflects every change made for `key` (given its pods in the cache). */
  satisfied(key: string, pods: readonly Stored<Pod>[]): boolean {
    const e = this.pending.get(key);
    if (!e) return true;
    if (Date.now() - e.at > this.ttlMs) {
      this.pending.delete(key);
      return true;
    }
    const names = new Set(pods.map((p) => p.metadata.name));
    for (const n of e.creates) if (names.has(n)) e.creates.delete(n);
    const live = new Map(pods.map((p) => [p.metadata.uid, p]));
    for (const u of e.deletes) {
      const p = live.get(u);
      if (!p || p.metadata.deletionTimestamp) e.deletes.delete(u);
    }
    if (!e.creates.size && !e.deletes.size) {
      this.pending.delete(key);
      return true;
    }
    return false;
  }

  forget(key: string): void {
    this.pending.delete(key);
  }
}
