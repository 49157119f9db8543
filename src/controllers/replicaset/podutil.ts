// Helpers over pods and controller references shared by the workload controllers (upstream
// pkg/api/v1/pod and pkg/controller/controller_utils.go): readiness and availability, active
// pods, controller references, the pod template → pod conversion, the ranking of pods for
// deletion, expectations and slow-start batching.

import type { ObjectMeta, OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { Pod, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { IndexFunc } from '../../client/informer.js';
import { isPodAvailable, isPodReady, podReadyCondition } from '../../api/helpers/podready.js';

export { isPodAvailable, isPodReady, podReadyCondition };

/** Any object: only its metadata is read. */
interface WithMetadata {
  metadata?: ObjectMeta;
}

/** Not terminated and not being deleted (upstream controller.IsPodActive). */
export function isPodActive(pod: Pod | undefined): boolean {
  const phase = pod?.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod?.metadata?.deletionTimestamp;
}

export function controllerRefOf(obj: WithMetadata | undefined): OwnerReference | undefined {
  return (obj?.metadata?.ownerReferences ?? []).find((r) => r.controller === true);
}

export function newControllerRef(
  owner: { metadata: { name: string; uid: string } },
  apiVersion: string,
  kind: string,
): OwnerReference {
  return {
    apiVersion,
    kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Index name: pods (or ReplicaSets) by the UID of their controller, orphans under `orphan:<ns>`. */
export const CONTROLLER_INDEX = 'k8ts-controller-uid';
export const controllerIndexFunc = (obj: WithMetadata | undefined): string[] => {
  const ref = controllerRefOf(obj);
  return [ref ? `uid:${ref.uid}` : `orphan:${obj?.metadata?.namespace ?? ''}`];
};

/** Adds the controller index to an informer's store unless another controller already did. */
export function ensureControllerIndex(informer: { addIndexers(i: Record<string, IndexFunc>): void }): void {
  try {
    informer.addIndexers({ [CONTROLLER_INDEX]: controllerIndexFunc });
  } catch {
    // Already added by a controller sharing the informer.
  }
}

/** A pod from a controller's template (upstream GetPodFromTemplate). */
export function podFromTemplate(
  template: PodTemplateSpec | undefined,
  parent: { metadata: { name: string; namespace?: string } },
  controllerRef: OwnerReference | undefined,
): Pod & { metadata: ObjectMeta; spec: NonNullable<Pod['spec']> } {
  const t: PodTemplateSpec = template ?? {};
  const meta: ObjectMeta = {
    generateName: `${parent.metadata.name}-`,
    namespace: parent.metadata.namespace,
    labels: { ...(t.metadata?.labels ?? {}) },
  };
  if (t.metadata?.annotations && Object.keys(t.metadata.annotations).length)
    meta.annotations = { ...t.metadata.annotations };
  if (t.metadata?.finalizers?.length) meta.finalizers = [...t.metadata.finalizers];
  if (controllerRef) meta.ownerReferences = [{ ...controllerRef }];
  return { apiVersion: 'v1', kind: 'Pod', metadata: meta, spec: structuredClone(t.spec ?? { containers: [] }) };
}

// ---- Ranking of pods for deletion (upstream controller.ActivePodsWithRanks) ----

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };
const ts = (s: string | undefined) => (s ? Date.parse(s) : 0);

function podReadyTime(pod: Pod): number {
  const c = podReadyCondition(pod);
  return c?.status === 'True' && c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : 0;
}

function maxRestarts(pod: Pod): number {
  let m = 0;
  for (const s of [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])])
    m = Math.max(m, s.restartCount ?? 0);
  return m;
}

function deletionCost(pod: Pod): number {
  const v = pod.metadata?.annotations?.['controller.kubernetes.io/pod-deletion-cost'];
  const n = v === undefined ? 0 : Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : 0;
}

/** Upstream's logarithmic bucketing of ages (LogarithmicScaleDown): r1 - r2 of floor(log2(age in ns)). */
function logRankDiff(t1: number, t2: number, now: number): number {
  const rank = (t: number) => {
    const d = (now - t) * 1e6;
    return d > 0 ? Math.floor(Math.log2(d)) : -1;
  };
  return rank(t1) - rank(t2);
}

/** Comparator: negative when `a` should be deleted before `b`. `rank`: related pods on the same node. */
export function comparePodsForDeletion(a: Pod, b: Pod, rankA: number, rankB: number, now = Date.now()): number {
  const na = a.spec?.nodeName ?? '';
  const nb = b.spec?.nodeName ?? '';
  // 1. Unassigned < assigned
  if (na !== nb && (!na || !nb)) return !na ? -1 : 1;
  // 2. Pending < Unknown < Running
  const pa = PHASE_ORDINAL[a.status?.phase ?? 'Pending'] ?? 0;
  const pb = PHASE_ORDINAL[b.status?.phase ?? 'Pending'] ?? 0;
  if (pa !== pb) return pa - pb;
  // 3. Not ready < ready
  const ra = isPodReady(a);
  const rb = isPodReady(b);
  if (ra !== rb) return ra ? 1 : -1;
  // 4. Lower pod-deletion-cost < higher
  const ca = deletionCost(a);
  const cb = deletionCost(b);
  if (ca !== cb) return ca - cb;
  // 5. Doubled up (more related pods on the node) < not doubled up
  if (rankA !== rankB) return rankB - rankA;
  // 6. Ready for a shorter time < longer (logarithmic buckets; ties broken by UID)
  if (ra && rb) {
    const t1 = podReadyTime(a);
    const t2 = podReadyTime(b);
    if (t1 !== t2) {
      if (!t1 || !t2) return afterOrZero(t1, t2);
      const d = logRankDiff(t1, t2, now);
      if (d === 0)
        return (a.metadata?.uid ?? '') < (b.metadata?.uid ?? '')
          ? -1
          : (a.metadata?.uid ?? '') > (b.metadata?.uid ?? '')
            ? 1
            : 0;
      return d;
    }
  }
  // 7. Higher restart counts < lower
  const xa = maxRestarts(a);
  const xb = maxRestarts(b);
  if (xa !== xb) return xb - xa;
  // 8. Empty creation time < newer < older
  const c1 = ts(a.metadata?.creationTimestamp);
  const c2 = ts(b.metadata?.creationTimestamp);
  if (c1 !== c2) {
    if (!c1 || !c2) return afterOrZero(c1, c2);
    const d = logRankDiff(c1, c2, now);
    if (d === 0)
      return (a.metadata?.uid ?? '') < (b.metadata?.uid ?? '')
        ? -1
        : (a.metadata?.uid ?? '') > (b.metadata?.uid ?? '')
          ? 1
          : 0;
    return d;
  }
  return 0;
}

/** Zero time first, then the later one first. */
function afterOrZero(t1: number, t2: number): number {
  if (!t1 || !t2) return !t1 ? -1 : 1;
  return t2 - t1;
}

/** The `diff` pods to delete (upstream getPodsToDelete), ranked by related pods sharing their node. */
export function podsToDelete<P extends Pod>(
  filtered: readonly P[],
  related: readonly Pod[],
  diff: number,
  now = Date.now(),
): P[] {
  if (diff >= filtered.length) return filtered.slice();
  const onNode = new Map<string, number>();
  for (const p of related) {
    if (!isPodActive(p)) continue;
    const n = p.spec?.nodeName ?? '';
    onNode.set(n, (onNode.get(n) ?? 0) + 1);
  }
  const ranked = filtered.map((p) => ({ p, r: onNode.get(p.spec?.nodeName ?? '') ?? 0 }));
  ranked.sort((x, y) => comparePodsForDeletion(x.p, y.p, x.r, y.r, now));
  return ranked.slice(0, diff).map((x) => x.p);
}

// ---- Expectations (upstream UIDTrackingControllerExpectations) ----

const EXPECTATIONS_TTL_MS = 5 * 60_000;

interface Expectation {
  add: number;
  deletes: Set<string>;
  at: number;
}

export class Expectations {
  private readonly m = new Map<string, Expectation>();

  /** True when nothing is outstanding (or the record expired): the controller may act again. */
  satisfied(key: string): boolean {
    const e = this.m.get(key);
    if (!e) return true;
    if (e.add <= 0 && e.deletes.size === 0) return true;
    return Date.now() - e.at > EXPECTATIONS_TTL_MS;
  }

  expectCreations(key: string, n: number): void {
    this.m.set(key, { add: n, deletes: new Set(), at: Date.now() });
  }

  expectDeletions(key: string, podKeys: string[]): void {
    this.m.set(key, { add: 0, deletes: new Set(podKeys), at: Date.now() });
  }

  creationObserved(key: string): void {
    const e = this.m.get(key);
    if (e) e.add--;
  }

  deletionObserved(key: string, podKey: string): void {
    this.m.get(key)?.deletes.delete(podKey);
  }

  delete(key: string): void {
    this.m.delete(key);
  }
}

/**
 * Upstream slowStartBatch: call fn in batches of 1, 2, 4, ... (all of a batch concurrently),
 * stopping at the first batch with an error. Returns the successes and the first error.
 */
export async function slowStartBatch(
  count: number,
  initial: number,
  fn: () => Promise<void>,
): Promise<{ successes: number; error?: unknown }> {
  let remaining = count;
  let successes = 0;
  for (let batch = Math.min(remaining, initial); batch > 0; batch = Math.min(2 * batch, remaining)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, () => fn()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    successes += batch - failed.length;
    if (failed.length) return { successes, error: failed[0].reason };
    remaining -= batch;
  }
  return { successes };
}
