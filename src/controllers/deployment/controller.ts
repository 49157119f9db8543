// The Deployment controller (upstream pkg/controller/deployment): one ReplicaSet per pod template
// (named <deployment>-<pod-template-hash>), rolled with the RollingUpdate or Recreate strategy,
// scaled proportionally while a rollout is in flight, paused and resumed, with revisions,
// history cleanup, the Progressing/Available/ReplicaFailure conditions and ScalingReplicaSet
// events. `kubectl rollout undo` works by itself (it copies a ReplicaSet's template back).
import type { Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec } from 'kubernetes-types/apps/v1.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import { namespaceOf } from '../../machinery/meta.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import type { Stored } from '../../client/types.js';
import { R, type ResourceClient } from '../../client/client.js';
import { ControllerRunner, type ReconcileResult } from '../../client/controller.js';
import { ApiError, isAlreadyExists, isNotFound } from '../../client/errors.js';
import { EventRecorder } from '../../client/events.js';
import { keyOf, type SharedIndexInformer } from '../../client/informer.js';
import { selectorFromLabelSelectorRaw, type Selector } from '../../machinery/labels.js';
import type { Controller, ControllerContext } from '../types.js';
import { CONTROLLER_INDEX, controllerRefOf, ensureControllerIndex, newControllerRef } from '../replicaset/podutil.js';
import * as u from './util.js';

const KIND = 'Deployment';
const API_VERSION = 'apps/v1';

type Dep = Stored<Deployment>;
type RS = Stored<ReplicaSet>;

export class DeploymentController implements Controller {
  readonly name = 'deployment';
  private readonly log: Logger;
  private readonly dInformer: SharedIndexInformer<Deployment>;
  private readonly rsInformer: SharedIndexInformer<ReplicaSet>;
  private readonly podInformer: SharedIndexInformer<Pod>;
  private readonly runner: ControllerRunner;
  private readonly recorder: EventRecorder;
  private readonly deployments: ResourceClient<Deployment>;
  private readonly replicasets: ResourceClient<ReplicaSet>;

  constructor(ctx: ControllerContext, opts: { workers?: number } = {}) {
    this.log = ctx.logger.child({ controller: 'deployment' });
    this.recorder = new EventRecorder(ctx.client, { component: 'deployment-controller' }, this.log);
    this.deployments = ctx.client.resource(R.deployments);
    this.replicasets = ctx.client.resource(R.replicasets);
    this.dInformer = ctx.informers.forResource(R.deployments);
    this.rsInformer = ctx.informers.forResource(R.replicasets);
    this.podInformer = ctx.informers.forResource(R.pods);
    ensureControllerIndex(this.rsInformer);
    ensureControllerIndex(this.podInformer);
    this.runner = new ControllerRunner({
      name: 'deployment',
      workers: opts.workers ?? 5,
      reconcile: (key) => this.sync(key),
      logger: this.log,
    });

    this.dInformer.addEventHandler({
      add: (d) => this.enqueue(d),
      update: (_o, d) => this.enqueue(d),
      delete: (d) => this.enqueue(d),
    });
    this.rsInformer.addEventHandler({
      add: (rs) => (rs.metadata.deletionTimestamp ? this.deleteRS(rs) : this.addRS(rs)),
      update: (old, rs) => this.updateRS(old, rs),
      delete: (rs) => this.deleteRS(rs),
    });
    // Recreate waits for old pods to be gone.
    this.podInformer.addEventHandler({ delete: (pod) => this.deletePod(pod) });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  private enqueue(d: Dep): void {
    this.runner.enqueue(keyOf(d));
  }

  private resolveControllerRef(namespace: string, ref: OwnerReference | undefined): Dep | undefined {
    if (!ref || ref.kind !== KIND || !(ref.apiVersion ?? '').startsWith('apps/')) return undefined;
    const d = this.dInformer.store.getByName(namespace, ref.name);
    return d && d.metadata.uid === ref.uid ? d : undefined;
  }

  private deploymentsSelecting(rs: RS): Dep[] {
    const out: Dep[] = [];
    for (const d of this.dInformer.store.listByNamespace(namespaceOf(rs))) {
      const sel = selectorOf(d);
      if (sel && !sel.isEmpty() && sel.matches(rs.metadata.labels)) out.push(d);
    }
    return out;
  }

  private addRS(rs: RS): void {
    const ref = controllerRefOf(rs);
    if (ref) {
      const d = this.resolveControllerRef(namespaceOf(rs), ref);
      if (d) this.enqueue(d);
      return;
    }
    for (const d of this.deploymentsSelecting(rs)) this.enqueue(d);
  }

  private updateRS(old: RS, rs: RS): void {
    if (old.metadata.resourceVersion === rs.metadata.resourceVersion) return;
    const oldRef = controllerRefOf(old);
    const ref = controllerRefOf(rs);
    if (oldRef && (!ref || oldRef.uid !== ref.uid)) {
      const d = this.resolveControllerRef(namespaceOf(old), oldRef);
      if (d) this.enqueue(d);
    }
    if (ref) {
      const d = this.resolveControllerRef(namespaceOf(rs), ref);
      if (d) this.enqueue(d);
      return;
    }
    const labelsChanged = JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(rs.metadata.labels ?? {});
    if (labelsChanged || oldRef) for (const d of this.deploymentsSelecting(rs)) this.enqueue(d);
  }

  private deleteRS(rs: RS): void {
    const d = this.resolveControllerRef(namespaceOf(rs), controllerRefOf(rs));
    if (d) this.enqueue(d);
  }

  private deletePod(pod: Pod): void {
    const rsRef = controllerRefOf(pod);
    if (!rsRef || rsRef.kind !== 'ReplicaSet') return;
    const rs = this.rsInformer.store.getByName(namespaceOf(pod), rsRef.name);
    if (!rs || rs.metadata.uid !== rsRef.uid) return;
    const d = this.resolveControllerRef(namespaceOf(rs), controllerRefOf(rs));
    if (d && d.spec?.strategy?.type === 'Recreate') this.enqueue(d);
  }

  // ---- the sync loop ----

  async sync(key: string): Promise<ReconcileResult | void> {
    const [namespace, name] = key.split('/');
    const cached = this.dInformer.store.getByName(namespace, name);
    if (!cached) return;
    const d = structuredClone(cached);
    d.apiVersion ??= API_VERSION;
    d.kind ??= KIND;
    const sel = selectorOf(d);
    if (!sel) return;
    if (sel.isEmpty()) {
      this.recorder.event(
        d,
        'Warning',
        'SelectingAll',
        'This deployment is selecting all pods. A non-empty selector is required.',
      );
      if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) {
        d.status = { ...(d.status ?? {}), observedGeneration: d.metadata.generation };
        await this.writeStatus(d);
      }
      return;
    }
    const rsList = await this.claimReplicaSets(d, sel);
    try {
      return await this.syncClaimed(d, rsList);
    } finally {
      for (const rs of rsList) this.written.delete(keyOf(rs));
    }
  }

  private async syncClaimed(d: Dep, rsList: RS[]): Promise<ReconcileResult | void> {
    if (d.metadata.deletionTimestamp) return this.syncStatusOnly(d, rsList);

    await this.checkPausedConditions(d);
    if (d.spec?.paused) return this.syncScale(d, rsList);
    if (await this.isScalingEvent(d, rsList)) return this.syncScale(d, rsList);
    if (d.spec?.strategy?.type === 'Recreate') return this.rolloutRecreate(d, rsList);
    return this.rolloutRolling(d, rsList);
  }

  /** ReplicaSets this Deployment controls, adopting orphans that match and releasing strays. */
  private async claimReplicaSets(d: Dep, sel: Selector): Promise<RS[]> {
    const store = this.rsInformer.store;
    const candidates = [
      ...store.byIndex(CONTROLLER_INDEX, `uid:${d.metadata.uid}`),
      ...store.byIndex(CONTROLLER_INDEX, `orphan:${d.metadata.namespace}`),
    ];
    const claimed: RS[] = [];
    let adoptable: boolean | undefined;
    const rsc = this.replicasets.namespace(d.metadata.namespace);
    for (const rs of candidates) {
      const ref = controllerRefOf(rs);
      const matches = sel.matches(rs.metadata.labels);
      if (ref) {
        if (ref.uid !== d.metadata.uid) continue;
        if (matches) {
          claimed.push(rs);
          continue;
        }
        if (d.metadata.deletionTimestamp) continue;
        try {
          await rsc.patch(rs.metadata.name, 'strategic', {
            metadata: { ownerReferences: [{ $patch: 'delete', uid: d.metadata.uid }], uid: rs.metadata.uid },
          });
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        continue;
      }
      if (d.metadata.deletionTimestamp || !matches || rs.metadata.deletionTimestamp) continue;
      if (adoptable === undefined) {
        try {
          const fresh = await this.deployments.namespace(d.metadata.namespace).get(d.metadata.name);
          adoptable = fresh.metadata.uid === d.metadata.uid && !fresh.metadata.deletionTimestamp;
        } catch (err) {
          if (!isNotFound(err)) throw err;
          adoptable = false;
        }
      }
      if (!adoptable) continue;
      try {
        claimed.push(
          await rsc.patch(rs.metadata.name, 'strategic', {
            metadata: { ownerReferences: [newControllerRef(d, API_VERSION, KIND)], uid: rs.metadata.uid },
          }),
        );
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return claimed;
  }

  /** Write the Deployment's status, carrying the new resourceVersion forward. */
  private async writeStatus(d: Dep): Promise<void> {
    const updated = await this.deployments.namespace(d.metadata.namespace).updateStatus(d);
    d.metadata.resourceVersion = updated.metadata.resourceVersion;
  }

  /** Set the revision annotation on the Deployment itself (a metadata write, not a status one). */
  private async setDeploymentRevision(d: Dep, revision: string): Promise<void> {
    if (d.metadata.annotations?.[u.REVISION_ANNOTATION] === revision) return;
    const updated = await this.deployments.namespace(d.metadata.namespace).patch(d.metadata.name, 'merge', {
      metadata: { resourceVersion: d.metadata.resourceVersion, annotations: { [u.REVISION_ANNOTATION]: revision } },
    });
    (d.metadata.annotations ??= {})[u.REVISION_ANNOTATION] = revision;
    d.metadata.resourceVersion = updated.metadata.resourceVersion;
  }

  private async checkPausedConditions(d: Dep): Promise<void> {
    if (!u.hasProgressDeadline(d)) return;
    const cond = u.getCondition(d.status, 'Progressing');
    if (cond?.reason === u.TIMED_OUT_REASON) return;
    const pausedExists = cond?.reason === u.PAUSED_DEPLOY_REASON;
    d.status ??= {};
    if (d.spec?.paused && !pausedExists) {
      u.setCondition(
        d.status,
        u.newCondition('Progressing', 'Unknown', u.PAUSED_DEPLOY_REASON, 'Deployment is paused'),
      );
    } else if (!d.spec?.paused && pausedExists) {
      u.setCondition(
        d.status,
        u.newCondition('Progressing', 'Unknown', u.RESUMED_DEPLOY_REASON, 'Deployment is resumed'),
      );
    } else return;
    await this.writeStatus(d);
  }

  /** Split the list into the new ReplicaSet (created when asked) and the old ones; sync revisions. */
  private async getAllReplicaSetsAndSyncRevision(
    d: Dep,
    rsList: RS[],
    create: boolean,
  ): Promise<{ newRS: RS | undefined; oldRSs: RS[] }> {
    const existing = u.findNewReplicaSet(d, rsList);
    const oldRSs = rsList.filter((rs) => rs !== existing);
    const newRS = await this.getNewReplicaSet(d, existing, oldRSs, create);
    return { newRS, oldRSs };
  }

  private async getNewReplicaSet(
    d: Dep,
    existing: RS | undefined,
    oldRSs: RS[],
    create: boolean,
  ): Promise<RS | undefined> {
    const newRevision = String(u.maxRevision(oldRSs) + 1);
    const rsc = this.replicasets.namespace(d.metadata.namespace);
    if (existing) {
      const copy = structuredClone(existing);
      copy.apiVersion ??= API_VERSION;
      copy.kind ??= 'ReplicaSet';
      const annotationsUpdated = u.setNewReplicaSetAnnotations(d, copy, newRevision, true);
      const mrsNeedsUpdate = (copy.spec?.minReadySeconds ?? 0) !== (d.spec?.minReadySeconds ?? 0);
      if (annotationsUpdated || mrsNeedsUpdate) {
        copy.spec = { ...copy.spec!, minReadySeconds: d.spec?.minReadySeconds ?? 0 };
        return rsc.update(copy);
      }
      await this.setDeploymentRevision(d, copy.metadata.annotations?.[u.REVISION_ANNOTATION] ?? '');
      if (u.hasProgressDeadline(d) && !u.getCondition(d.status, 'Progressing')) {
        d.status ??= {};
        u.setCondition(
          d.status,
          u.newCondition('Progressing', 'True', u.FOUND_NEW_RS_REASON, `Found new replica set "${copy.metadata.name}"`),
        );
        await this.writeStatus(d);
      }
      return copy;
    }
    if (!create) return undefined;

    const template = structuredClone(d.spec?.template ?? {});
    const hash = u.computeHash(template, d.status?.collisionCount);
    template.metadata ??= {};
    template.metadata.labels = { ...(template.metadata.labels ?? {}), [u.POD_TEMPLATE_HASH_LABEL]: hash };
    const selector = structuredClone(d.spec?.selector ?? {});
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [u.POD_TEMPLATE_HASH_LABEL]: hash };
    const rs: ReplicaSet & { metadata: { name: string }; spec: ReplicaSetSpec } = {
      apiVersion: API_VERSION,
      kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name}-${hash}`,
        namespace: d.metadata.namespace,
        ownerReferences: [newControllerRef(d, API_VERSION, KIND)],
        labels: template.metadata.labels,
      },
      spec: { replicas: 0, minReadySeconds: d.spec?.minReadySeconds ?? 0, selector, template },
    };
    const newReplicas = u.newRSNewReplicas(d, [...oldRSs, rs], rs);
    rs.spec.replicas = newReplicas;
    u.setNewReplicaSetAnnotations(d, rs, newRevision, false);

    let createdRS: RS;
    let alreadyExists = false;
    try {
      createdRS = await rsc.create(rs);
    } catch (err) {
      if (isAlreadyExists(err)) {
        alreadyExists = true;
        const other =
          this.rsInformer.store.getByName(d.metadata.namespace, rs.metadata.name) ?? (await rsc.get(rs.metadata.name));
        const ref = controllerRefOf(other);
        if (ref && ref.uid === d.metadata.uid && u.equalIgnoreHash(d.spec?.template, other.spec?.template)) {
          createdRS = other;
        } else {
          // A hash collision: bump collisionCount and try again with the next hash.
          d.status ??= {};
          d.status.collisionCount = (d.status.collisionCount ?? 0) + 1;
          await this.writeStatus(d);
          this.log.info(
            { deployment: keyOf(d), collisionCount: d.status.collisionCount },
            'hash collision; bumped collisionCount',
          );
          throw err;
        }
      } else if (ApiError.from(err).details?.causes?.some((c) => c.reason === 'NamespaceTerminating')) {
        throw err;
      } else {
        const msg = `Failed to create new replica set "${rs.metadata.name}": ${(err as Error).message}`;
        if (u.hasProgressDeadline(d)) {
          d.status ??= {};
          u.setCondition(d.status, u.newCondition('Progressing', 'False', u.FAILED_RS_CREATE_REASON, msg));
          await this.writeStatus(d).catch(() => undefined);
        }
        this.recorder.event(d, 'Warning', u.FAILED_RS_CREATE_REASON, msg);
        throw err;
      }
    }
    if (!alreadyExists && newReplicas > 0) {
      this.recorder.event(
        d,
        'Normal',
        'ScalingReplicaSet',
        `Scaled up replica set ${createdRS.metadata.name} from 0 to ${newReplicas}`,
      );
    }
    await this.setDeploymentRevision(d, newRevision);
    if (!alreadyExists && u.hasProgressDeadline(d)) {
      d.status ??= {};
      u.setCondition(
        d.status,
        u.newCondition(
          'Progressing',
          'True',
          u.NEW_REPLICA_SET_REASON,
          `Created new replica set "${createdRS.metadata.name}"`,
        ),
      );
      await this.writeStatus(d);
    }
    return createdRS;
  }

  // ---- scaling ----

  private async scaleAndRecord(d: Dep, rs: RS, newScale: number): Promise<{ scaled: boolean; rs: RS }> {
    const cur = rs.spec?.replicas ?? 1;
    if (cur === newScale) return { scaled: false, rs };
    return this.scaleReplicaSet(d, rs, newScale, cur < newScale ? 'up' : 'down');
  }

  private async scaleReplicaSet(d: Dep, rs: RS, newScale: number, op: string): Promise<{ scaled: boolean; rs: RS }> {
    const cur = rs.spec?.replicas ?? 1;
    const sizeNeedsUpdate = cur !== newScale;
    const max = u.specReplicas(d) + u.maxSurge(d);
    const annotationsNeedUpdate = u.replicasAnnotationsNeedUpdate(rs, u.specReplicas(d), max);
    if (!sizeNeedsUpdate && !annotationsNeedUpdate) return { scaled: false, rs };
    const copy = structuredClone(rs);
    copy.apiVersion ??= API_VERSION;
    copy.kind ??= 'ReplicaSet';
    copy.spec = { ...copy.spec!, replicas: newScale };
    u.setReplicasAnnotations(copy, u.specReplicas(d), max);
    const updated = await this.replicasets.namespace(rs.metadata.namespace).update(copy);
    if (sizeNeedsUpdate) {
      this.recorder.event(
        d,
        'Normal',
        'ScalingReplicaSet',
        `Scaled ${op} replica set ${updated.metadata.name} to ${newScale} from ${cur}`,
      );
    }
    return { scaled: sizeNeedsUpdate, rs: updated };
  }

  private async isScalingEvent(d: Dep, rsList: RS[]): Promise<boolean> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    for (const rs of u.filterActive([...oldRSs, newRS])) {
      const desired = u.desiredReplicasAnnotation(rs);
      if (desired === undefined) continue;
      if (desired !== u.specReplicas(d)) return true;
    }
    return false;
  }

  /** Upstream sync(): scaling (and cleanup when paused), then status. */
  private async syncScale(d: Dep, rsList: RS[]): Promise<ReconcileResult | void> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    await this.scale(d, newRS, oldRSs);
    if (d.spec?.paused) await this.cleanupDeployment(oldRSs, d);
    await this.syncDeploymentStatus([...oldRSs, newRS].filter(Boolean), newRS, d);
  }

  private async scale(d: Dep, newRS: RS | undefined, oldRSs: RS[]): Promise<void> {
    const one = u.findActiveOrLatest(newRS, oldRSs);
    if (one) {
      if ((one.spec?.replicas ?? 1) === u.specReplicas(d)) return;
      await this.scaleAndRecord(d, one, u.specReplicas(d));
      return;
    }
    if (u.isSaturated(d, newRS)) {
      for (const old of u.filterActive(oldRSs)) await this.scaleAndRecord(d, old, 0);
      return;
    }
    if (u.isRollingUpdate(d)) {
      const active = u.filterActive([...oldRSs, newRS]);
      const { sizes, order, op } = u.proportionalSizes(d, active);
      for (const rs of order) await this.scaleReplicaSet(d, rs, sizes.get(rs)!, op);
    }
  }

  // ---- strategies ----

  private async rolloutRolling(d: Dep, rsList: RS[]): Promise<ReconcileResult | void> {
    const got = await this.getAllReplicaSetsAndSyncRevision(d, rsList, true);
    const oldRSs = got.oldRSs;
    const newRS = got.newRS!; // asked to create it: there is one, or the call threw
    const allRSs = [...oldRSs, newRS];
    if (await this.reconcileNewReplicaSet(allRSs, newRS, d)) {
      return this.syncRolloutStatus(this.freshRSs(allRSs), newRS && this.fresh(newRS), d);
    }
    if (await this.reconcileOldReplicaSets(allRSs, u.filterActive(oldRSs), newRS, d)) {
      return this.syncRolloutStatus(this.freshRSs(allRSs), this.fresh(newRS), d);
    }
    if (u.deploymentComplete(d, d.status ?? {})) await this.cleanupDeployment(oldRSs, d);
    return this.syncRolloutStatus(allRSs, newRS, d);
  }

  /** Keep the latest version of each set we wrote in this sync (by name). */
  private written = new Map<string, RS>();
  private fresh(rs: RS): RS {
    return this.written.get(`${rs.metadata.namespace}/${rs.metadata.name}`) ?? rs;
  }
  private freshRSs(rss: RS[]): RS[] {
    const out = rss.map((rs) => this.fresh(rs));
    for (const rs of rss) this.written.delete(`${rs.metadata.namespace}/${rs.metadata.name}`);
    return out;
  }

  private async reconcileNewReplicaSet(allRSs: RS[], newRS: RS, d: Dep): Promise<boolean> {
    const want = u.specReplicas(d);
    const cur = newRS.spec?.replicas ?? 1;
    if (cur === want) return false;
    const target = cur > want ? want : u.newRSNewReplicas(d, allRSs, newRS);
    const r = await this.scaleAndRecord(d, newRS, target);
    this.remember(r.rs);
    return r.scaled;
  }

  private remember(rs: RS): void {
    if (rs) this.written.set(`${rs.metadata.namespace}/${rs.metadata.name}`, rs);
  }

  private async reconcileOldReplicaSets(
    allRSs: (RS | undefined)[],
    oldRSs: RS[],
    newRS: RS | undefined,
    d: Dep,
  ): Promise<boolean> {
    if (u.sumSpec(oldRSs) === 0) return false;
    const maxDown = u.maxScaledDown(d, allRSs, newRS);
    if (maxDown <= 0) return false;
    const { oldRSs: cleaned, count: cleanedUp } = await this.cleanupUnhealthyReplicas(oldRSs, d, maxDown);
    const scaledDown = await this.scaleDownOldReplicaSetsForRollingUpdate([...cleaned, newRS], cleaned, d);
    return cleanedUp + scaledDown > 0;
  }

  private async cleanupUnhealthyReplicas(
    oldRSs: RS[],
    d: Dep,
    maxCleanup: number,
  ): Promise<{ oldRSs: RS[]; count: number }> {
    const sorted = [...oldRSs].sort(u.byCreation);
    let total = 0;
    for (let i = 0; i < sorted.length; i++) {
      if (total >= maxCleanup) break;
      const rs = sorted[i];
      const replicas = rs.spec?.replicas ?? 1;
      const avail = rs.status?.availableReplicas ?? 0;
      if (replicas === 0 || replicas === avail) continue;
      const down = Math.min(maxCleanup - total, replicas - avail);
      const r = await this.scaleAndRecord(d, rs, replicas - down);
      this.remember(r.rs);
      sorted[i] = r.rs;
      total += down;
    }
    return { oldRSs: sorted, count: total };
  }

  private async scaleDownOldReplicaSetsForRollingUpdate(
    allRSs: (RS | undefined)[],
    oldRSs: RS[],
    d: Dep,
  ): Promise<number> {
    const minAvailable = u.specReplicas(d) - u.maxUnavailable(d);
    const available = u.sumAvailable(allRSs);
    if (available <= minAvailable) return 0;
    const sorted = [...oldRSs].sort(u.byCreation);
    const want = available - minAvailable;
    let total = 0;
    for (const rs of sorted) {
      if (total >= want) break;
      const replicas = rs.spec?.replicas ?? 1;
      if (replicas === 0) continue;
      const down = Math.min(replicas, want - total);
      const r = await this.scaleAndRecord(d, rs, replicas - down);
      this.remember(r.rs);
      total += down;
    }
    return total;
  }

  private async rolloutRecreate(d: Dep, rsList: RS[]): Promise<ReconcileResult | void> {
    let { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    let allRSs = [...oldRSs, newRS].filter((rs): rs is RS => !!rs);
    let scaledDown = false;
    for (const rs of u.filterActive(oldRSs)) {
      const r = await this.scaleAndRecord(d, rs, 0);
      this.remember(r.rs);
      if (r.scaled) scaledDown = true;
    }
    if (scaledDown) return this.syncRolloutStatus(this.freshRSs(allRSs), newRS && this.fresh(newRS), d);
    if (this.oldPodsRunning(newRS, oldRSs)) return this.syncRolloutStatus(allRSs, newRS, d);
    if (!newRS) {
      ({ newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, true));
      newRS = newRS!; // asked to create it: there is one, or the call threw
      allRSs = [...oldRSs, newRS];
    }
    const r = await this.scaleAndRecord(d, newRS, u.specReplicas(d));
    this.remember(r.rs);
    if (u.deploymentComplete(d, d.status ?? {})) await this.cleanupDeployment(oldRSs, d);
    return this.syncRolloutStatus(this.freshRSs(allRSs), this.fresh(newRS), d);
  }

  private oldPodsRunning(newRS: RS | undefined, oldRSs: RS[]): boolean {
    if (u.sumActual(oldRSs) > 0) return true;
    for (const rs of oldRSs) {
      for (const pod of this.podInformer.store.byIndex(CONTROLLER_INDEX, `uid:${rs.metadata.uid}`)) {
        if (newRS && rs.metadata.uid === newRS.metadata.uid) continue;
        const phase = pod.status?.phase;
        if (phase === 'Failed' || phase === 'Succeeded') continue;
        return true;
      }
    }
    return false;
  }

  /** Delete old, empty ReplicaSets beyond revisionHistoryLimit, oldest revisions first. */
  private async cleanupDeployment(oldRSs: RS[], d: Dep): Promise<void> {
    if (!u.hasRevisionHistoryLimit(d)) return;
    const cleanable = oldRSs.filter((rs) => rs && !rs.metadata.deletionTimestamp);
    const diff = cleanable.length - (d.spec?.revisionHistoryLimit ?? 0);
    if (diff <= 0) return;
    cleanable.sort(u.byRevision);
    for (let i = 0; i < diff; i++) {
      const rs = cleanable[i];
      if (
        (rs.status?.replicas ?? 0) !== 0 ||
        (rs.spec?.replicas ?? 1) !== 0 ||
        (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0)
      )
        continue;
      try {
        await this.replicasets.namespace(rs.metadata.namespace).delete(rs.metadata.name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  // ---- status ----

  private async syncStatusOnly(d: Dep, rsList: RS[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    await this.syncDeploymentStatus([...oldRSs, newRS].filter(Boolean), newRS, d);
  }

  private async syncDeploymentStatus(allRSs: (RS | undefined)[], newRS: RS | undefined, d: Dep): Promise<void> {
    const st = u.calculateStatus(allRSs, newRS, d);
    if (u.statusEqual(d.status, st)) return;
    d.status = st;
    await this.writeStatus(d);
  }

  private async syncRolloutStatus(
    maybeRSs: (RS | undefined)[],
    newRS: RS | undefined,
    d: Dep,
  ): Promise<ReconcileResult | void> {
    const allRSs = maybeRSs.filter((rs): rs is RS => !!rs);
    const st = u.calculateStatus(allRSs, newRS, d);
    if (!u.hasProgressDeadline(d)) u.removeCondition(st, 'Progressing');
    const currentCond = u.getCondition(d.status, 'Progressing');
    const isComplete = st.replicas === st.updatedReplicas && currentCond?.reason === u.NEW_RS_AVAILABLE_REASON;
    if (u.hasProgressDeadline(d) && !isComplete) {
      if (u.deploymentComplete(d, st)) {
        const msg = newRS
          ? `ReplicaSet "${newRS.metadata.name}" has successfully progressed.`
          : `Deployment "${d.metadata.name}" has successfully progressed.`;
        u.setCondition(st, u.newCondition('Progressing', 'True', u.NEW_RS_AVAILABLE_REASON, msg));
      } else if (u.deploymentProgressing(d, st)) {
        const msg = newRS
          ? `ReplicaSet "${newRS.metadata.name}" is progressing.`
          : `Deployment "${d.metadata.name}" is progressing.`;
        const cond = u.newCondition('Progressing', 'True', u.REPLICA_SET_UPDATED_REASON, msg);
        if (currentCond) {
          if (currentCond.status === 'True') cond.lastTransitionTime = currentCond.lastTransitionTime;
          u.removeCondition(st, 'Progressing');
        }
        u.setCondition(st, cond);
      } else if (u.deploymentTimedOut(d, st)) {
        const msg = newRS
          ? `ReplicaSet "${newRS.metadata.name}" has timed out progressing.`
          : `Deployment "${d.metadata.name}" has timed out progressing.`;
        u.setCondition(st, u.newCondition('Progressing', 'False', u.TIMED_OUT_REASON, msg));
      }
    }
    const failure = replicaFailure(allRSs, newRS);
    if (failure) u.setCondition(st, failure);
    else u.removeCondition(st, 'ReplicaFailure');

    if (u.statusEqual(d.status, st)) return this.requeueStuck(d, st);
    d.status = st;
    await this.writeStatus(d);
  }

  /** Look again when the progress deadline would pass (upstream requeueStuckDeployment). */
  private requeueStuck(d: Dep, st: DeploymentStatus): ReconcileResult | void {
    const cond = u.getCondition(d.status, 'Progressing');
    if (!u.hasProgressDeadline(d) || !cond) return;
    if (u.deploymentComplete(d, st) || cond.reason === u.TIMED_OUT_REASON) return;
    const after = Date.parse(cond.lastUpdateTime ?? '') + (d.spec?.progressDeadlineSeconds ?? 0) * 1000 - Date.now();
    if (after < 1000) return { requeueAfterMs: 1000 };
    return { requeueAfterMs: after + 1000 };
  }
}

function selectorOf(d: Dep): Selector | null {
  try {
    return selectorFromLabelSelectorRaw(d.spec?.selector);
  } catch {
    return null;
  }
}

/** The ReplicaFailure condition of the new set (else of any old one), as a Deployment condition. */
function replicaFailure(allRSs: RS[], newRS: RS | undefined): u.DeploymentCondition | undefined {
  const conv = (rs: RS): u.DeploymentCondition | undefined => {
    const c = (rs.status?.conditions ?? []).find((x) => x.type === 'ReplicaFailure');
    if (!c) return undefined;
    return {
      type: 'ReplicaFailure',
      status: c.status,
      lastUpdateTime: c.lastTransitionTime,
      lastTransitionTime: c.lastTransitionTime,
      reason: c.reason,
      message: c.message,
    };
  };
  if (newRS) {
    const c = conv(newRS);
    if (c) return c;
  }
  for (const rs of allRSs) {
    if (newRS && rs.metadata.name === newRS.metadata.name) continue;
    const c = conv(rs);
    if (c) return c;
  }
  return undefined;
}
