// The StatefulSet controller (upstream pkg/controller/statefulset): pods with stable identities
// <set>-<ordinal>, created in order (OrderedReady: ordinal i only once 0..i-1 are Running and
// Ready) or all at once (Parallel), removed in reverse order; one PVC per volumeClaimTemplate and
// ordinal, kept on scale-down unless persistentVolumeClaimRetentionPolicy says Delete (done, as
// upstream, by owner references the garbage collector follows); RollingUpdate from the highest
// ordinal down to the partition, one pod at a time, or OnDelete; ControllerRevisions record the
// templates (currentRevision / updateRevision).
import type { ControllerRevision, StatefulSet, StatefulSetStatus } from 'kubernetes-types/apps/v1.js';
import type { PersistentVolumeClaim, Pod } from 'kubernetes-types/core/v1.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { Logger } from 'pino';
import type { Stored } from '../../client/types.js';
import { namespaceOf } from '../../machinery/meta.js';
import { R, type Client, type ResourceClient } from '../../client/client.js';
import { ControllerRunner, type ReconcileResult } from '../../client/controller.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../client/errors.js';
import { EventRecorder } from '../../client/events.js';
import { keyOf, type SharedIndexInformer } from '../../client/informer.js';
import { labelSelectorMatches } from '../../machinery/labels.js';
import type { Controller, ControllerContext } from '../types.js';
import {
  CONTROLLER_REVISION_HASH_LABEL,
  RESOURCES,
  addControllerIndex,
  controllerRefOf,
  ensureRevision,
  isPodAvailable,
  isPodFailed,
  isPodReady,
  isPodRunning,
  isPodSucceeded,
  isPodTerminating,
  msUntilAvailable,
  ownedBy,
  templatePatch,
  truncateHistory,
} from './common.js';
import {
  POD_INDEX_LABEL,
  STATEFULSET_POD_NAME_LABEL,
  claimsFor,
  getOrdinal,
  newStatefulSetPod,
  ordinalInRange,
  revisionForNewPod,
  startOrdinal,
  templateFromRevision,
} from './identity.js';

export interface StatefulSetControllerOptions {
  workers?: number;
  now?: () => number;
}

/** Pods one sync of a Parallel StatefulSet creates at most (as the ReplicaSet controller's burstReplicas). */
export const BURST_REPLICAS = 500;

const healthy = (pod: Pod) => isPodRunning(pod) && isPodReady(pod) && !isPodTerminating(pod);

type Set = Stored<StatefulSet>;
type StoredPod = Stored<Pod>;
/** A pod about to be created (named by the controller). */
type NewPod = Pod & { metadata: { name: string } };
type Revision = Stored<ControllerRevision>;
/** Counts are always written (a missing one would be read as 0 anyway). */
type SetStatus = StatefulSetStatus & {
  readyReplicas: number;
  currentReplicas: number;
  updatedReplicas: number;
  availableReplicas: number;
};

export class StatefulSetController implements Controller {
  readonly name = 'statefulset';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly sets: SharedIndexInformer<StatefulSet>;
  private readonly pods: SharedIndexInformer<Pod>;
  private readonly revisions: SharedIndexInformer<ControllerRevision>;
  private readonly claims: SharedIndexInformer<PersistentVolumeClaim>;
  private readonly runner: ControllerRunner;
  private readonly recorder: EventRecorder;
  private readonly now: () => number;

  constructor(ctx: ControllerContext, opts: StatefulSetControllerOptions = {}) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'statefulset' });
    this.now = opts.now ?? Date.now;
    this.sets = ctx.informers.forResource(R.statefulsets);
    this.pods = ctx.informers.forResource(R.pods);
    this.revisions = ctx.informers.forResource(RESOURCES.controllerrevisions);
    this.claims = ctx.informers.forResource(RESOURCES.persistentvolumeclaims);
    addControllerIndex(this.pods);
    addControllerIndex(this.revisions);
    this.recorder = new EventRecorder(this.client, { component: 'statefulset-controller' }, this.log);
    this.runner = new ControllerRunner({
      name: 'statefulset',
      workers: opts.workers ?? 5,
      reconcile: (k) => this.sync(k),
      logger: this.log,
    });
    this.sets.addEventHandler({
      add: (s) => this.runner.enqueue(keyOf(s)),
      update: (_o, s) => this.runner.enqueue(keyOf(s)),
      delete: (s) => this.runner.enqueue(keyOf(s)),
    });
    const onPod = (pod: StoredPod) => {
      const ref = controllerRefOf(pod);
      if (ref) {
        if (ref.kind === 'StatefulSet') this.runner.enqueue(`${namespaceOf(pod)}/${ref.name}`);
        return;
      }
      // An orphan: the sets that could adopt it.
      for (const s of this.sets.store.listByNamespace(namespaceOf(pod))) {
        if (labelSelectorMatches(s.spec?.selector, pod.metadata?.labels)) this.runner.enqueue(keyOf(s));
      }
    };
    this.pods.addEventHandler({
      add: onPod,
      update: (old, pod) => {
        onPod(pod);
        const oldRef = controllerRefOf(old);
        if (oldRef?.kind === 'StatefulSet' && oldRef.uid !== controllerRefOf(pod)?.uid)
          this.runner.enqueue(`${namespaceOf(old)}/${oldRef.name}`);
      },
      delete: onPod,
    });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  private podsClient(ns: string): ResourceClient<Pod> {
    return this.client.resource(R.pods).namespace(ns);
  }

  /** Pods of the set: owned ones, plus orphans adopted (selector and name match, as upstream). */
  private async getPods(set: Set): Promise<StoredPod[]> {
    const owned = ownedBy(this.pods, set.metadata.uid).filter((p) =>
      labelSelectorMatches(set.spec?.selector, p.metadata?.labels),
    );
    const orphans = this.pods.store
      .listByNamespace(namespaceOf(set))
      .filter(
        (p) =>
          !controllerRefOf(p) &&
          !isPodTerminating(p) &&
          getOrdinal(set.metadata.name, p.metadata.name) >= 0 &&
          labelSelectorMatches(set.spec?.selector, p.metadata?.labels),
      );
    if (set.metadata.deletionTimestamp) return owned;
    for (const p of orphans) {
      try {
        const adopted = await this.podsClient(namespaceOf(p)).patch(p.metadata.name, 'json', [
          { op: 'test', path: '/metadata/uid', value: p.metadata.uid },
          {
            op: 'add',
            path: '/metadata/ownerReferences',
            value: [
              ...(p.metadata.ownerReferences ?? []),
              {
                apiVersion: 'apps/v1',
                kind: 'StatefulSet',
                name: set.metadata.name,
                uid: set.metadata.uid,
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          },
        ]);
        owned.push(adopted);
      } catch (err) {
        if (!isNotFound(err)) this.log.debug({ err, pod: p.metadata.name }, 'adoption failed');
      }
    }
    return owned;
  }

  async sync(key: string): Promise<ReconcileResult | void> {
    const cached = this.sets.store.get(key);
    if (!cached) return;
    const set = structuredClone(cached);
    const pods = await this.getPods(set);

    // Revisions.
    const revs = ownedBy(this.revisions, set.metadata.uid);
    const revClient = this.client.resource(RESOURCES.controllerrevisions);
    let collisionCount = set.status?.collisionCount ?? 0;
    const ensured = await ensureRevision({
      client: revClient,
      owner: set,
      ownerApiVersion: 'apps/v1',
      ownerKind: 'StatefulSet',
      data: templatePatch(set.spec?.template),
      revisions: revs,
      collisionCount,
      labels: { ...(set.spec?.template?.metadata?.labels ?? {}) },
      log: this.log,
    });
    collisionCount = ensured.collisionCount;
    const updateRevision = ensured.revision;
    const allRevs = [...revs.filter((r) => r.metadata.name !== updateRevision.metadata.name), updateRevision];
    const currentRevision = allRevs.find((r) => r.metadata.name === set.status?.currentRevision) ?? updateRevision;

    let requeueAfterMs: number | undefined;
    const wake = (ms: number) => (requeueAfterMs = requeueAfterMs === undefined ? ms : Math.min(requeueAfterMs, ms));
    let status: SetStatus;
    if (set.metadata.deletionTimestamp) {
      status = this.computeStatus(set, pods, currentRevision, updateRevision, collisionCount, wake);
    } else {
      status = await this.updatePods(set, pods, currentRevision, updateRevision, collisionCount, wake);
    }
    await this.writeStatus(set, status);

    // History: keep revisions live pods use, current and update, plus revisionHistoryLimit more.
    const live = new Set<string>([currentRevision.metadata.name, updateRevision.metadata.name]);
    for (const p of pods) {
      const h = p.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL];
      if (h) live.add(h);
    }
    await truncateHistory(revClient, allRevs, live, set.spec?.revisionHistoryLimit ?? 10);
    if (requeueAfterMs !== undefined) return { requeueAfterMs };
  }

  private computeStatus(
    set: Set,
    pods: StoredPod[],
    current: Revision,
    update: Revision,
    collisionCount: number,
    wake: (ms: number) => void,
  ): SetStatus {
    const now = this.now();
    const minReady = set.spec?.minReadySeconds ?? 0;
    const status: SetStatus = {
      observedGeneration: set.metadata.generation,
      replicas: 0,
      readyReplicas: 0,
      currentReplicas: 0,
      updatedReplicas: 0,
      availableReplicas: 0,
      currentRevision: current.metadata.name,
      updateRevision: update.metadata.name,
    };
    if (collisionCount) status.collisionCount = collisionCount;
    for (const p of pods) {
      if (isPodTerminating(p)) continue;
      status.replicas++;
      if (isPodRunning(p) && isPodReady(p)) {
        status.readyReplicas++;
        if (isPodAvailable(p, minReady, now)) status.availableReplicas++;
        else {
          const ms = msUntilAvailable(p, minReady, now);
          if (ms !== undefined) wake(ms + 50);
        }
      }
      const rev = p.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL];
      if (rev === current.metadata.name) status.currentReplicas++;
      if (rev === update.metadata.name) status.updatedReplicas++;
    }
    return status;
  }

  /** Upstream updateStatefulSet (defaultStatefulSetControl). */
  private async updatePods(
    set: Set,
    pods: StoredPod[],
    current: Revision,
    update: Revision,
    collisionCount: number,
    wake: (ms: number) => void,
  ): Promise<SetStatus> {
    const name = set.metadata.name;
    const replicaCount = set.spec?.replicas ?? 1;
    const start = startOrdinal(set);
    const monotonic = (set.spec?.podManagementPolicy ?? 'OrderedReady') !== 'Parallel';
    const minReady = set.spec?.minReadySeconds ?? 0;
    const now = this.now();
    // Pods by index (ordinal - start), sparse: spec.replicas may be 2^31-1 while few pods exist.
    const replicas = new Map<number, StoredPod>();
    const condemned: StoredPod[] = [];
    for (const p of pods) {
      const ord = getOrdinal(name, p.metadata.name);
      if (ord >= 0 && ordinalInRange(set, ord)) replicas.set(ord - start, p);
      else condemned.push(p);
    }
    const present = [...replicas.entries()].sort((a, b) => a[0] - b[0]);
    condemned.sort((a, b) => getOrdinal(name, b.metadata.name) - getOrdinal(name, a.metadata.name));
    const status = this.computeStatus(set, pods, current, update, collisionCount, wake);
    // A rolling update finished: the update revision becomes current.
    const finish = () => {
      const us = set.spec?.updateStrategy?.type ?? 'RollingUpdate';
      if (
        us === 'RollingUpdate' &&
        status.updatedReplicas === status.replicas &&
        status.readyReplicas === status.replicas &&
        status.replicas === replicaCount
      ) {
        status.currentRevision = status.updateRevision;
        status.currentReplicas = status.updatedReplicas;
      }
      return status;
    };

    const firstUnhealthy = [...present.map(([, p]) => p), ...condemned.slice().reverse()].find((p) => !healthy(p));
    let unhealthy = 0;
    for (const p of [...replicas.values(), ...condemned]) if (!healthy(p)) unhealthy++;

    // Create missing pods, replace failed ones; in OrderedReady wait for each to be Running and Ready.
    // Parallel creates at most burstReplicas per sync (the pods' events bring the next sync), so
    // a huge valid spec.replicas makes bounded progress; the loop visits existing pods + burst.
    let created = 0;
    for (let i = 0; i < replicaCount; i++) {
      const ord = start + i;
      const pod = replicas.get(i);
      if (
        pod &&
        (isPodFailed(pod) || (isPodSucceeded(pod) && set.spec?.template?.spec?.restartPolicy !== 'Never')) &&
        !isPodTerminating(pod)
      ) {
        await this.deletePod(set, pod);
        if (monotonic) return finish();
        continue;
      }
      if (!pod) {
        const rev = revisionForNewPod(set, ord, current, update);
        const fresh = newStatefulSetPod(set, templateFromRevision(rev), rev.metadata.name, ord);
        await this.createClaims(set, fresh, ord);
        await this.createPod(set, fresh);
        if (monotonic || ++created >= BURST_REPLICAS) return finish();
        continue;
      }
      if (isPodTerminating(pod)) {
        if (monotonic) return finish();
        continue;
      }
      // The identity labels and claims of an existing pod.
      await this.ensureIdentity(set, pod, ord);
      if (!healthy(pod)) {
        if (monotonic) return finish();
        continue;
      }
      if (!isPodAvailable(pod, minReady, now)) {
        const ms = msUntilAvailable(pod, minReady, now);
        if (ms !== undefined) wake(ms + 50);
        if (monotonic) return finish();
      }
    }

    // Scale down: the highest ordinal first; in OrderedReady one at a time, and only while the
    // rest is healthy (or the pod to delete is the first unhealthy one).
    for (const pod of condemned) {
      if (isPodTerminating(pod)) {
        if (monotonic) return finish();
        continue;
      }
      if (monotonic && unhealthy > 0 && pod !== firstUnhealthy) return finish();
      await this.condemnClaims(set, pod);
      await this.deletePod(set, pod);
      if (monotonic) return finish();
    }

    const us = set.spec?.updateStrategy ?? {};
    if (us.type === 'OnDelete') return finish();

    // Rolling update: from the highest ordinal down to the partition, one (maxUnavailable) at a time.
    const partition = Number(us.rollingUpdate?.partition ?? 0);
    const maxUnavailable = Math.max(
      1,
      Number(typeof us.rollingUpdate?.maxUnavailable === 'number' ? us.rollingUpdate.maxUnavailable : 1),
    );
    let unavailable = 0;
    for (let k = present.length - 1; k >= 0; k--) {
      const [i, pod] = present[k];
      const ord = start + i;
      if (ord < partition) break;
      const rev = pod.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL];
      if (rev !== update.metadata.name && !isPodTerminating(pod)) {
        this.log.debug({ statefulset: keyOf(set), pod: pod.metadata.name }, 'terminating pod for update');
        await this.deletePod(set, pod);
        status.currentReplicas = Math.max(0, status.currentReplicas - (rev === current.metadata.name ? 1 : 0));
        unavailable++;
        if (unavailable >= maxUnavailable) return finish();
        continue;
      }
      if (!healthy(pod) || !isPodAvailable(pod, minReady, now)) {
        unavailable++;
        if (unavailable >= maxUnavailable) return finish();
      }
    }
    return finish();
  }

  private async createPod(set: Set, pod: NewPod): Promise<void> {
    try {
      await this.podsClient(namespaceOf(set)).create(pod);
      this.recorder.event(
        set,
        'Normal',
        'SuccessfulCreate',
        `create Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} successful`,
      );
    } catch (err) {
      if (isAlreadyExists(err)) return;
      this.recorder.event(
        set,
        'Warning',
        'FailedCreate',
        `create Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} failed error: ${(err as Error).message}`,
      );
      throw err;
    }
  }

  private async deletePod(set: Set, pod: StoredPod): Promise<void> {
    try {
      await this.podsClient(namespaceOf(set)).delete(pod.metadata.name, {
        preconditions: { uid: pod.metadata.uid },
      });
      this.recorder.event(
        set,
        'Normal',
        'SuccessfulDelete',
        `delete Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} successful`,
      );
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return;
      this.recorder.event(
        set,
        'Warning',
        'FailedDelete',
        `delete Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} failed error: ${(err as Error).message}`,
      );
      throw err;
    }
  }

  private claimsClient(ns: string): ResourceClient {
    return this.client.resource(RESOURCES.persistentvolumeclaims).namespace(ns);
  }

  /** Owner references a claim should carry under the retention policy (upstream claim owner-ref logic). */
  private claimOwnerRefs(
    set: Set,
    claim: PersistentVolumeClaim,
    pod: StoredPod | undefined,
    condemned: boolean,
  ): OwnerReference[] {
    const policy = set.spec?.persistentVolumeClaimRetentionPolicy ?? {};
    const refs: OwnerReference[] = (claim.metadata?.ownerReferences ?? []).filter(
      (r) =>
        !(r.kind === 'StatefulSet' && r.uid === set.metadata.uid) &&
        !(r.kind === 'Pod' && pod && r.name === pod.metadata.name),
    );
    if (policy.whenDeleted === 'Delete')
      refs.push({
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        name: set.metadata.name,
        uid: set.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      });
    if (condemned && pod && policy.whenScaled === 'Delete')
      refs.push({ apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid });
    return refs;
  }

  private async createClaims(set: Set, pod: NewPod, ordinal: number): Promise<void> {
    const ns = namespaceOf(set);
    for (const claim of claimsFor(set, ordinal).values()) {
      const existing = this.claims.store.getByName(ns, claim.metadata.name);
      if (existing && !existing.metadata.deletionTimestamp) continue;
      if (existing) throw new Error(`pvc ${claim.metadata.name} is being deleted`);
      const refs = this.claimOwnerRefs(set, claim, undefined, false);
      if (refs.length) claim.metadata.ownerReferences = refs;
      try {
        await this.claimsClient(ns).create(claim);
        this.recorder.event(
          set,
          'Normal',
          'SuccessfulCreate',
          `create Claim ${claim.metadata.name} Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} success`,
        );
      } catch (err) {
        if (isAlreadyExists(err)) continue;
        this.recorder.event(
          set,
          'Warning',
          'FailedCreate',
          `create Claim ${claim.metadata.name} for Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} failed error: ${(err as Error).message}`,
        );
        throw err;
      }
    }
  }

  /** Before a scale-down deletes `pod`: with whenScaled=Delete its claims become owned by it. */
  private async condemnClaims(set: Set, pod: StoredPod): Promise<void> {
    const policy = set.spec?.persistentVolumeClaimRetentionPolicy ?? {};
    if (policy.whenScaled !== 'Delete') return;
    const ord = getOrdinal(set.metadata.name, pod.metadata.name);
    if (ord < 0) return;
    for (const claim of claimsFor(set, ord).values()) {
      const existing = this.claims.store.getByName(namespaceOf(set), claim.metadata.name);
      if (!existing) continue;
      const refs = this.claimOwnerRefs(set, existing, pod, true);
      try {
        await this.claimsClient(namespaceOf(set)).patch(existing.metadata.name, 'merge', {
          metadata: { ownerReferences: refs },
        });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  /** Labels of the identity, the claims of the pod (a claim removed meanwhile is recreated). */
  private async ensureIdentity(set: Set, pod: StoredPod, ordinal: number): Promise<void> {
    const labels = pod.metadata?.labels ?? {};
    if (labels[STATEFULSET_POD_NAME_LABEL] !== pod.metadata.name || labels[POD_INDEX_LABEL] !== String(ordinal)) {
      await this.podsClient(namespaceOf(set)).patch(pod.metadata.name, 'merge', {
        metadata: { labels: { [STATEFULSET_POD_NAME_LABEL]: pod.metadata.name, [POD_INDEX_LABEL]: String(ordinal) } },
      });
    }
    const policy = set.spec?.persistentVolumeClaimRetentionPolicy ?? {};
    for (const claim of claimsFor(set, ordinal).values()) {
      const existing = this.claims.store.getByName(namespaceOf(set), claim.metadata.name);
      if (!existing) {
        if (this.claims.hasSynced()) await this.createClaims(set, pod, ordinal);
        continue;
      }
      // A pod back in range after a scale-down keeps its claim: drop the pod owner reference.
      const hasPodRef = (existing.metadata.ownerReferences ?? []).some((r) => r.kind === 'Pod');
      const hasSetRef = (existing.metadata.ownerReferences ?? []).some(
        (r) => r.kind === 'StatefulSet' && r.uid === set.metadata.uid,
      );
      if (hasPodRef || hasSetRef !== (policy.whenDeleted === 'Delete')) {
        const refs = this.claimOwnerRefs(set, existing, pod, false).filter((r) => r.kind !== 'Pod');
        await this.claimsClient(namespaceOf(set)).patch(existing.metadata.name, 'merge', {
          metadata: { ownerReferences: refs.length ? refs : null },
        });
      }
    }
  }

  private async writeStatus(set: Set, status: SetStatus): Promise<void> {
    const old: Partial<StatefulSetStatus> = set.status ?? {};
    const keys = Object.keys(status) as (keyof StatefulSetStatus)[];
    if (keys.every((k) => old[k] === status[k])) return;
    const next = { ...old, ...status };
    if (!next.collisionCount) delete next.collisionCount;
    try {
      await this.client
        .resource(R.statefulsets)
        .namespace(namespaceOf(set))
        .updateStatus({ ...set, status: next });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }
}
