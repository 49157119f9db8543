// The Deployment controller (upstream pkg/controller/deployment): one ReplicaSet per pod template
// (named <deployment>-<pod-template-hash>), rolled with the RollingUpdate or Recreate strategy,
// scaled proportionally while a rollout is in flight, paused and resumed, with revisions,
// history cleanup, the Progressing/Available/ReplicaFailure conditions and ScalingReplicaSet
// events. `kubectl rollout undo` works by itself (it copies a ReplicaSet's template back).
// This file is the controller itself (upstream deployment_controller.go): informers and their
// event handlers, claiming ReplicaSets, and the dispatch of each sync to scaling (sync.ts), a
// strategy (rolling.ts, recreate.ts) or a status update; progress.ts and history.ts complete it.
import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import { namespaceOf } from '../../machinery/meta.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { R, type ResourceClient } from '../../client/client.js';
import { ControllerRunner, type ReconcileResult } from '../../client/controller.js';
import { isNotFound } from '../../client/errors.js';
import { EventRecorder } from '../../client/events.js';
import { keyOf, type SharedIndexInformer } from '../../client/informer.js';
import { selectorFromLabelSelectorRaw, type Selector } from '../../machinery/labels.js';
import type { Controller, ControllerContext } from '../types.js';
import { CONTROLLER_INDEX, controllerRefOf, ensureControllerIndex, newControllerRef } from '../replicaset/podutil.js';
import { API_VERSION, DeploymentSync, KIND, type Dep, type RS } from './sync.js';
import { rolloutRolling } from './rolling.js';
import { rolloutRecreate } from './recreate.js';

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
  private readonly s: DeploymentSync;

  constructor(ctx: ControllerContext, opts: { workers?: number } = {}) {
    this.log = ctx.logger.child({ controller: 'deployment' });
    this.recorder = new EventRecorder(ctx.client, { component: 'deployment-controller' }, this.log);
    this.deployments = ctx.client.resource(R.deployments);
    this.replicasets = ctx.client.resource(R.replicasets);
    this.dInformer = ctx.informers.forResource(R.deployments);
    this.rsInformer = ctx.informers.forResource(R.replicasets);
    this.podInformer = ctx.informers.forResource(R.pods);
    this.s = new DeploymentSync({
      log: this.log,
      recorder: this.recorder,
      deployments: this.deployments,
      replicasets: this.replicasets,
      rsInformer: this.rsInformer,
      podInformer: this.podInformer,
    });
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
        await this.s.writeStatus(d);
      }
      return;
    }
    const rsList = await this.claimReplicaSets(d, sel);
    try {
      return await this.syncClaimed(d, rsList);
    } finally {
      for (const rs of rsList) this.s.written.delete(keyOf(rs));
    }
  }

  private async syncClaimed(d: Dep, rsList: RS[]): Promise<ReconcileResult | void> {
    const s = this.s;
    if (d.metadata.deletionTimestamp) return s.syncStatusOnly(d, rsList);

    await s.checkPausedConditions(d);
    if (d.spec?.paused) return s.syncScale(d, rsList);
    if (await s.isScalingEvent(d, rsList)) return s.syncScale(d, rsList);
    if (d.spec?.strategy?.type === 'Recreate') return rolloutRecreate(s, d, rsList);
    return rolloutRolling(s, d, rsList);
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
}

function selectorOf(d: Dep): Selector | null {
  try {
    return selectorFromLabelSelectorRaw(d.spec?.selector);
  } catch {
    return null;
  }
}
