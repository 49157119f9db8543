// The Deployment controller's shared steps (upstream pkg/controller/deployment/sync.go): find or
// create the new ReplicaSet and sync revisions, scale ReplicaSets (proportionally while a rollout
// is in flight), the paused conditions, and status writes. The strategies (rolling.ts,
// recreate.ts), progress reporting (progress.ts) and history cleanup (history.ts) build on it.
import type { Deployment, ReplicaSet, ReplicaSetSpec } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import type { Stored } from '../../client/types.js';
import type { ResourceClient } from '../../client/client.js';
import type { ReconcileResult } from '../../client/controller.js';
import { ApiError, isAlreadyExists } from '../../client/errors.js';
import type { EventRecorder } from '../../client/events.js';
import { keyOf, type SharedIndexInformer } from '../../client/informer.js';
import { controllerRefOf, newControllerRef } from '../replicaset/podutil.js';
import { cleanupDeployment } from './history.js';
import * as u from './util.js';

export const KIND = 'Deployment';
export const API_VERSION = 'apps/v1';

export type Dep = Stored<Deployment>;
export type RS = Stored<ReplicaSet>;

/** What every step of a sync uses: the API clients, informers' caches and the event recorder. */
export interface DeploymentSyncDeps {
  log: Logger;
  recorder: EventRecorder;
  deployments: ResourceClient<Deployment>;
  replicasets: ResourceClient<ReplicaSet>;
  rsInformer: SharedIndexInformer<ReplicaSet>;
  podInformer: SharedIndexInformer<Pod>;
}

export class DeploymentSync {
  readonly log: Logger;
  readonly recorder: EventRecorder;
  readonly deployments: ResourceClient<Deployment>;
  readonly replicasets: ResourceClient<ReplicaSet>;
  readonly rsInformer: SharedIndexInformer<ReplicaSet>;
  readonly podInformer: SharedIndexInformer<Pod>;

  constructor(deps: DeploymentSyncDeps) {
    this.log = deps.log;
    this.recorder = deps.recorder;
    this.deployments = deps.deployments;
    this.replicasets = deps.replicasets;
    this.rsInformer = deps.rsInformer;
    this.podInformer = deps.podInformer;
  }

  /** Write the Deployment's status, carrying the new resourceVersion forward. */
  async writeStatus(d: Dep): Promise<void> {
    const updated = await this.deployments.namespace(d.metadata.namespace).updateStatus(d, { shared: true });
    d.metadata.resourceVersion = updated.metadata.resourceVersion;
  }

  /** Set the revision annotation on the Deployment itself (a metadata write, not a status one). */
  async setDeploymentRevision(d: Dep, revision: string): Promise<void> {
    if (d.metadata.annotations?.[u.REVISION_ANNOTATION] === revision) return;
    const updated = await this.deployments.namespace(d.metadata.namespace).patch(d.metadata.name, 'merge', {
      metadata: { resourceVersion: d.metadata.resourceVersion, annotations: { [u.REVISION_ANNOTATION]: revision } },
    });
    (d.metadata.annotations ??= {})[u.REVISION_ANNOTATION] = revision;
    d.metadata.resourceVersion = updated.metadata.resourceVersion;
  }

  async checkPausedConditions(d: Dep): Promise<void> {
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
  async getAllReplicaSetsAndSyncRevision(
    d: Dep,
    rsList: RS[],
    create: boolean,
  ): Promise<{ newRS: RS | undefined; oldRSs: RS[] }> {
    const existing = u.findNewReplicaSet(d, rsList);
    const oldRSs = rsList.filter((rs) => rs !== existing);
    const newRS = await this.getNewReplicaSet(d, existing, oldRSs, create);
    return { newRS, oldRSs };
  }

  async getNewReplicaSet(d: Dep, existing: RS | undefined, oldRSs: RS[], create: boolean): Promise<RS | undefined> {
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

  async scaleAndRecord(d: Dep, rs: RS, newScale: number): Promise<{ scaled: boolean; rs: RS }> {
    const cur = rs.spec?.replicas ?? 1;
    if (cur === newScale) return { scaled: false, rs };
    return this.scaleReplicaSet(d, rs, newScale, cur < newScale ? 'up' : 'down');
  }

  async scaleReplicaSet(d: Dep, rs: RS, newScale: number, op: string): Promise<{ scaled: boolean; rs: RS }> {
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

  async isScalingEvent(d: Dep, rsList: RS[]): Promise<boolean> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    for (const rs of u.filterActive([...oldRSs, newRS])) {
      const desired = u.desiredReplicasAnnotation(rs);
      if (desired === undefined) continue;
      if (desired !== u.specReplicas(d)) return true;
    }
    return false;
  }

  /** Upstream sync(): scaling (and cleanup when paused), then status. */
  async syncScale(d: Dep, rsList: RS[]): Promise<ReconcileResult | void> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    await this.scale(d, newRS, oldRSs);
    if (d.spec?.paused) await cleanupDeployment(this.replicasets, oldRSs, d);
    await this.syncDeploymentStatus([...oldRSs, newRS].filter(Boolean), newRS, d);
  }

  async scale(d: Dep, newRS: RS | undefined, oldRSs: RS[]): Promise<void> {
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

  /** Keep the latest version of each set we wrote in this sync (by name). */
  readonly written = new Map<string, RS>();
  fresh(rs: RS): RS {
    return this.written.get(`${rs.metadata.namespace}/${rs.metadata.name}`) ?? rs;
  }
  freshRSs(rss: RS[]): RS[] {
    const out = rss.map((rs) => this.fresh(rs));
    for (const rs of rss) this.written.delete(`${rs.metadata.namespace}/${rs.metadata.name}`);
    return out;
  }

  remember(rs: RS): void {
    if (rs) this.written.set(`${rs.metadata.namespace}/${rs.metadata.name}`, rs);
  }

  // ---- status ----

  async syncStatusOnly(d: Dep, rsList: RS[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    await this.syncDeploymentStatus([...oldRSs, newRS].filter(Boolean), newRS, d);
  }

  async syncDeploymentStatus(allRSs: (RS | undefined)[], newRS: RS | undefined, d: Dep): Promise<void> {
    const st = u.calculateStatus(allRSs, newRS, d);
    if (u.statusEqual(d.status, st)) return;
    d.status = st;
    await this.writeStatus(d);
  }
}
