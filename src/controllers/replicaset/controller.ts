// The ReplicaSet and ReplicationController controllers (upstream pkg/controller/replicaset; the
// replication manager is the same code over core/v1 ReplicationControllers). One implementation,
// parameterised by the resource: create pods from the template until `replicas` are active
// (slow-start batches, expectations so a stale cache never causes double creates), delete the
// lowest-ranked extras, adopt orphans matching the selector and release owned pods that stopped
// matching, and keep status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
// observedGeneration, the ReplicaFailure condition) up to date.
import type { ReplicaSet, ReplicaSetCondition, ReplicaSetStatus } from 'kubernetes-types/apps/v1.js';
import type { Pod, ReplicationController } from 'kubernetes-types/core/v1.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { Logger } from 'pino';
import { R, type ResourceClient } from '../../client/client.js';
import { ControllerRunner, type ReconcileResult } from '../../client/controller.js';
import { ApiError, isConflict, isNotFound } from '../../client/errors.js';
import { EventRecorder } from '../../client/events.js';
import { keyOf, type SharedIndexInformer } from '../../client/informer.js';
import type { ResourceSpec, Stored } from '../../client/types.js';
import { namespaceOf } from '../../machinery/meta.js';
import { markUnshared } from '../../machinery/objects.js';
import { Selector, selectorFromLabelSelectorRaw, selectorFromSet } from '../../machinery/labels.js';
import type { Controller, ControllerContext } from '../types.js';
import {
  CONTROLLER_INDEX,
  Expectations,
  controllerRefOf,
  ensureControllerIndex,
  isPodActive,
  isPodAvailable,
  isPodReady,
  newControllerRef,
  podFromTemplate,
  podsToDelete,
  slowStartBatch,
} from './podutil.js';
import { rfc3339 } from '../../machinery/time.js';

/** A ReplicaSet or a ReplicationController: the same fields apart from the selector's form. */
export type ReplicaOwner = ReplicaSet | ReplicationController;
type Owner = Stored<ReplicaOwner>;
type StoredPod = Stored<Pod>;

/** What differs between ReplicaSets and ReplicationControllers. */
export interface ReplicaKind {
  /** Controller name as upstream ('replicaset', 'replicationcontroller'). */
  name: string;
  component: string;
  resource: ResourceSpec<ReplicaOwner>;
  apiVersion: string;
  kind: string;
  /** The selector of an object; null for one that selects nothing (invalid). */
  selector(obj: ReplicaOwner): Selector | null;
}

export const REPLICASET_KIND: ReplicaKind = {
  name: 'replicaset',
  component: 'replicaset-controller',
  resource: R.replicasets,
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  selector(rs) {
    try {
      return selectorFromLabelSelectorRaw((rs as ReplicaSet).spec?.selector);
    } catch {
      return null;
    }
  },
};

export const RC_RESOURCE = R.replicationcontrollers;

export const REPLICATIONCONTROLLER_KIND: ReplicaKind = {
  name: 'replicationcontroller',
  component: 'replication-controller',
  resource: RC_RESOURCE,
  apiVersion: 'v1',
  kind: 'ReplicationController',
  selector(rc) {
    const sel = (rc as ReplicationController).spec?.selector;
    // An RC's selector is a map; an empty one would select everything, which validation forbids.
    if (!sel || Object.keys(sel).length === 0) return null;
    return selectorFromSet(sel);
  },
};

/** Upstream's burstReplicas: at most this many creates or deletes per sync. */
export const BURST_REPLICAS = 500;
const SLOW_START_INITIAL_BATCH = 1;

export class ReplicaSetController implements Controller {
  readonly name: string;
  private readonly log: Logger;
  private readonly rsInformer: SharedIndexInformer<ReplicaOwner>;
  private readonly podInformer: SharedIndexInformer<Pod>;
  private readonly runner: ControllerRunner;
  private readonly recorder: EventRecorder;
  readonly expectations = new Expectations();
  private readonly pods: ResourceClient<Pod>;
  private readonly sets: ResourceClient<ReplicaOwner>;

  constructor(
    ctx: ControllerContext,
    private readonly k: ReplicaKind = REPLICASET_KIND,
    opts: { workers?: number; burstReplicas?: number } = {},
  ) {
    this.name = k.name;
    this.log = ctx.logger.child({ controller: k.name });
    this.recorder = new EventRecorder(ctx.client, { component: k.component }, this.log);
    this.pods = ctx.client.resource(R.pods);
    this.sets = ctx.client.resource(k.resource);
    this.burst = opts.burstReplicas ?? BURST_REPLICAS;
    this.rsInformer = ctx.informers.forResource(k.resource);
    this.podInformer = ctx.informers.forResource(R.pods);
    ensureControllerIndex(this.podInformer);
    this.runner = new ControllerRunner({
      name: k.name,
      workers: opts.workers ?? 5,
      reconcile: (key) => this.sync(key),
      logger: this.log,
    });

    this.rsInformer.addEventHandler({
      add: (rs) => this.enqueue(rs),
      update: (_o, rs) => this.enqueue(rs),
      delete: (rs) => {
        this.expectations.delete(keyOf(rs));
        this.enqueue(rs);
      },
    });
    this.podInformer.addEventHandler({
      add: (pod) => this.addPod(pod),
      update: (old, pod) => this.updatePod(old, pod),
      delete: (pod) => this.deletePod(pod),
    });
  }

  private readonly burst: number;

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  private enqueue(rs: Owner): void {
    this.runner.enqueue(keyOf(rs));
  }

  /** The controller of a pod if it is one of ours and still exists with that UID. */
  private resolveControllerRef(namespace: string, ref: OwnerReference | undefined): Owner | undefined {
    if (
      !ref ||
      ref.kind !== this.k.kind ||
      (ref.apiVersion ?? '').split('/').slice(0, -1).join('/') !== this.k.resource.group
    )
      return undefined;
    const rs = this.rsInformer.store.getByName(namespace, ref.name);
    return rs && rs.metadata.uid === ref.uid ? rs : undefined;
  }

  /** Every set in the pod's namespace whose selector matches it (for orphans). */
  private setsSelecting(pod: StoredPod): Owner[] {
    const out: Owner[] = [];
    for (const rs of this.rsInformer.store.listByNamespace(namespaceOf(pod))) {
      const sel = this.k.selector(rs);
      if (sel && !sel.isEmpty() && sel.matches(pod.metadata.labels)) out.push(rs);
    }
    return out;
  }

  private addPod(pod: StoredPod): void {
    if (pod.metadata.deletionTimestamp) return this.deletePod(pod);
    const ref = controllerRefOf(pod);
    if (ref) {
      const rs = this.resolveControllerRef(namespaceOf(pod), ref);
      if (!rs) return;
      this.expectations.creationObserved(keyOf(rs));
      this.enqueue(rs);
      return;
    }
    for (const rs of this.setsSelecting(pod)) this.enqueue(rs);
  }

  private updatePod(old: StoredPod, pod: StoredPod): void {
    if (old.metadata.resourceVersion === pod.metadata.resourceVersion) return;
    const labelsChanged = JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(pod.metadata.labels ?? {});
    if (pod.metadata.deletionTimestamp) {
      // Graceful deletion started: the pod no longer counts; the set can replace it now.
      this.deletePod(pod);
      if (labelsChanged) this.deletePod(old);
      return;
    }
    const oldRef = controllerRefOf(old);
    const ref = controllerRefOf(pod);
    if (oldRef && (!ref || oldRef.uid !== ref.uid)) {
      const rs = this.resolveControllerRef(namespaceOf(old), oldRef);
      if (rs) this.enqueue(rs);
    }
    if (ref) {
      const rs = this.resolveControllerRef(namespaceOf(pod), ref);
      if (!rs) return;
      this.enqueue(rs);
      // A pod turning ready becomes available minReadySeconds later: look again then.
      const mrs = rs.spec?.minReadySeconds ?? 0;
      if (mrs > 0 && !isPodReady(old) && isPodReady(pod)) this.runner.queue.addAfter(keyOf(rs), mrs * 1000 + 100);
      return;
    }
    if (labelsChanged || (oldRef && !ref)) for (const rs of this.setsSelecting(pod)) this.enqueue(rs);
  }

  private deletePod(pod: StoredPod): void {
    const ref = controllerRefOf(pod);
    if (!ref) return;
    const rs = this.resolveControllerRef(namespaceOf(pod), ref);
    if (!rs) return;
    this.expectations.deletionObserved(keyOf(rs), keyOf(pod));
    this.enqueue(rs);
  }

  /** Reconcile one set by `namespace/name`. */
  async sync(key: string): Promise<ReconcileResult | void> {
    const [namespace, name] = key.split('/');
    const cached = this.rsInformer.store.getByName(namespace, name);
    if (!cached) {
      this.expectations.delete(key);
      return;
    }
    const needsSync = this.expectations.satisfied(key);
    const selector = this.k.selector(cached);
    if (!selector) {
      this.log.debug({ key }, 'invalid selector; ignoring');
      return;
    }
    // Candidates: pods we control plus orphans in the namespace (pods controlled by another
    // object are never ours, whatever their labels).
    const store = this.podInformer.store;
    const candidates = [
      ...store.byIndex(CONTROLLER_INDEX, `uid:${cached.metadata.uid}`),
      ...store.byIndex(CONTROLLER_INDEX, `orphan:${namespace}`),
    ];
    const active = candidates.filter(isPodActive);
    const pods = await this.claimPods(cached, selector, active);

    let manageErr: unknown;
    if (needsSync && !cached.metadata.deletionTimestamp) {
      try {
        await this.manageReplicas(pods, cached, key);
      } catch (err) {
        manageErr = err;
      }
    }
    const status = calculateStatus(cached, pods, manageErr);
    const updated = await this.updateStatus(cached, status);
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows the caught value unchanged
    if (manageErr) throw manageErr;
    const mrs = updated.spec?.minReadySeconds ?? 0;
    const replicas = updated.spec?.replicas ?? 1;
    if (mrs > 0 && updated.status?.readyReplicas === replicas && updated.status?.availableReplicas !== replicas) {
      return { requeueAfterMs: mrs * 1000 };
    }
  }

  // ---- adoption and release (upstream PodControllerRefManager) ----

  private async claimPods(rs: Owner, selector: Selector, pods: StoredPod[]): Promise<StoredPod[]> {
    const claimed: StoredPod[] = [];
    let adoptable: boolean | undefined;
    const errors: unknown[] = [];
    for (const pod of pods) {
      const ref = controllerRefOf(pod);
      const matches = !selector.isEmpty() && selector.matches(pod.metadata.labels);
      if (ref) {
        if (ref.uid !== rs.metadata.uid) continue;
        if (matches) {
          claimed.push(pod);
          continue;
        }
        if (rs.metadata.deletionTimestamp) continue;
        try {
          await this.releasePod(rs, pod);
        } catch (err) {
          if (!isNotFound(err)) errors.push(err);
        }
        continue;
      }
      if (rs.metadata.deletionTimestamp || !matches || pod.metadata.deletionTimestamp) continue;
      if (adoptable === undefined) adoptable = await this.canAdopt(rs);
      if (!adoptable) continue;
      try {
        claimed.push(await this.adoptPod(rs, pod));
      } catch (err) {
        if (!isNotFound(err)) errors.push(err);
      }
    }
    if (errors.length) throw errors[0];
    return claimed;
  }

  /** Re-read the set from the API (not the cache): no adoption by a set that is being deleted. */
  private async canAdopt(rs: Owner): Promise<boolean> {
    try {
      const fresh = await this.sets.namespace(namespaceOf(rs)).get(rs.metadata.name);
      return fresh.metadata.uid === rs.metadata.uid && !fresh.metadata.deletionTimestamp;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  private adoptPod(rs: Owner, pod: StoredPod): Promise<StoredPod> {
    const patch = {
      metadata: { ownerReferences: [newControllerRef(rs, this.k.apiVersion, this.k.kind)], uid: pod.metadata.uid },
    };
    return this.pods.namespace(namespaceOf(pod)).patch(pod.metadata.name, 'strategic', patch);
  }

  private releasePod(rs: Owner, pod: StoredPod): Promise<StoredPod> {
    const patch = {
      metadata: { ownerReferences: [{ $patch: 'delete', uid: rs.metadata.uid }], uid: pod.metadata.uid },
    };
    return this.pods.namespace(namespaceOf(pod)).patch(pod.metadata.name, 'strategic', patch);
  }

  // ---- creating and deleting pods ----

  private async manageReplicas(pods: StoredPod[], rs: Owner, key: string): Promise<void> {
    const want = rs.spec?.replicas ?? 1;
    let diff = pods.length - want;
    const podsNs = this.pods.namespace(namespaceOf(rs));
    if (diff < 0) {
      diff = Math.min(-diff, this.burst);
      this.expectations.expectCreations(key, diff);
      const ref = newControllerRef(rs, this.k.apiVersion, this.k.kind);
      const template = rs.spec?.template;
      const { successes, error } = await slowStartBatch(diff, SLOW_START_INITIAL_BATCH, async () => {
        try {
          // The pod is built fresh for this call (handed over), and its answer only read.
          const created = await podsNs.create(markUnshared(podFromTemplate(template, rs, ref)), { shared: true });
          this.recorder.event(this.withKind(rs), 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
        } catch (err) {
          // A namespace being deleted refuses new pods: not a failure of this set.
          if (ApiError.from(err).details?.causes?.some((c) => c.reason === 'NamespaceTerminating')) return;
          this.recorder.event(
            this.withKind(rs),
            'Warning',
            'FailedCreate',
            `Error creating: ${(err as Error).message}`,
          );
          throw err;
        }
      });
      // Creations never attempted will never be observed.
      for (let i = successes; i < diff; i++) this.expectations.creationObserved(key);
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows the caught value unchanged
      if (error) throw error;
      return;
    }
    if (diff > 0) {
      diff = Math.min(diff, this.burst);
      const related = this.relatedPods(rs);
      const victims = podsToDelete(pods, related, diff);
      this.expectations.expectDeletions(key, victims.map(keyOf));
      const results = await Promise.allSettled(
        victims.map(async (pod) => {
          try {
            await podsNs.delete(pod.metadata.name);
            this.recorder.event(this.withKind(rs), 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
          } catch (err) {
            this.expectations.deletionObserved(key, keyOf(pod));
            if (isNotFound(err)) return;
            this.recorder.event(
              this.withKind(rs),
              'Warning',
              'FailedDelete',
              `Error deleting: ${(err as Error).message}`,
            );
            throw err;
          }
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  /**
   * Pods of every set with the same controller as this one (sibling ReplicaSets of a Deployment),
   * upstream's getIndirectlyRelatedPods: used to prefer deleting pods doubled up on a node.
   */
  private relatedPods(rs: Owner): StoredPod[] {
    const owner = controllerRefOf(rs);
    const sets = owner
      ? this.rsInformer.store.listByNamespace(namespaceOf(rs)).filter((o) => controllerRefOf(o)?.uid === owner.uid)
      : [rs];
    const out: StoredPod[] = [];
    for (const s of sets) out.push(...this.podInformer.store.byIndex(CONTROLLER_INDEX, `uid:${s.metadata.uid}`));
    return out;
  }

  private withKind(rs: Owner): Owner {
    // this.k names the kind of rs, which the union's literal apiVersion/kind types cannot follow.
    return rs.kind ? rs : ({ ...rs, apiVersion: this.k.apiVersion, kind: this.k.kind } as Owner);
  }

  private async updateStatus(rs: Owner, status: ReplicaSetStatus): Promise<Owner> {
    const gen = rs.metadata.generation ?? 0;
    const cur = (rs.status ?? {}) as ReplicaSetStatus; // both kinds' statuses have these fields
    if (
      (cur.replicas ?? 0) === status.replicas &&
      (cur.fullyLabeledReplicas ?? 0) === status.fullyLabeledReplicas &&
      (cur.readyReplicas ?? 0) === status.readyReplicas &&
      (cur.availableReplicas ?? 0) === status.availableReplicas &&
      (cur.observedGeneration ?? 0) === gen &&
      JSON.stringify(cur.conditions ?? []) === JSON.stringify(status.conditions ?? [])
    ) {
      return rs;
    }
    const client = this.sets.namespace(namespaceOf(rs));
    let obj = rs;
    for (let attempt = 0; ; attempt++) {
      const body = { ...this.withKind(obj), status: { ...status, observedGeneration: obj.metadata.generation ?? gen } };
      if (!body.status.conditions?.length) delete body.status.conditions;
      try {
        return await client.updateStatus(body, { shared: true }); // only read
      } catch (err) {
        if (!isConflict(err) || attempt >= 1) throw err;
        obj = await client.get(rs.metadata.name);
        if (obj.metadata.uid !== rs.metadata.uid) throw err;
      }
    }
  }
}

/** Upstream calculateStatus: counts over the active pods the set owns. */
export function calculateStatus(
  rs: ReplicaOwner,
  pods: readonly Pod[],
  manageErr: unknown,
  now = Date.now(),
): ReplicaSetStatus & { replicas: number } {
  const templateLabels: Record<string, string> = rs.spec?.template?.metadata?.labels ?? {};
  const mrs = rs.spec?.minReadySeconds ?? 0;
  let fullyLabeled = 0;
  let ready = 0;
  let available = 0;
  for (const pod of pods) {
    const labels = pod.metadata?.labels ?? {};
    if (Object.entries(templateLabels).every(([k, v]) => labels[k] === v)) fullyLabeled++;
    if (isPodReady(pod)) {
      ready++;
      if (isPodAvailable(pod, mrs, now)) available++;
    }
  }
  let conditions: ReplicaSetCondition[] = [...(rs.status?.conditions ?? [])];
  const failure = conditions.find((c) => c.type === 'ReplicaFailure');
  if (manageErr && !failure) {
    const diff = pods.length - (rs.spec?.replicas ?? 1);
    const reason = diff < 0 ? 'FailedCreate' : diff > 0 ? 'FailedDelete' : '';
    conditions.push({
      type: 'ReplicaFailure',
      status: 'True',
      lastTransitionTime: rfc3339(),
      reason,
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a non-Error failure is shown as String() shows it
      message: (manageErr as Error).message ?? String(manageErr),
    });
  } else if (!manageErr && failure) {
    conditions = conditions.filter((c) => c.type !== 'ReplicaFailure');
  }
  const status: ReplicaSetStatus & { replicas: number } = {
    replicas: pods.length,
    fullyLabeledReplicas: fullyLabeled,
    readyReplicas: ready,
    availableReplicas: available,
    observedGeneration: rs.status?.observedGeneration ?? 0,
  };
  if (conditions.length) status.conditions = conditions;
  return status;
}

/** The ReplicationController manager: the same controller over core/v1 ReplicationControllers. */
export function newReplicationManager(ctx: ControllerContext): ReplicaSetController {
  return new ReplicaSetController(ctx, REPLICATIONCONTROLLER_KIND);
}
