// Storage object in-use protection (upstream pkg/controller/volume/pvcprotection and
// pvprotection): every claim carries the kubernetes.io/pvc-protection finalizer and every volume
// kubernetes.io/pv-protection, so deleting one that is still in use only marks it; the finalizer
// goes once no pod that has not terminated uses the claim, or once the volume is no longer Bound.
import type { PersistentVolume, PersistentVolumeClaim, Pod } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { isNotFound } from '../../client/errors.js';
import type { SharedIndexInformer } from '../../client/informer.js';
import type { Stored } from '../../client/types.js';
import type { Controller, ControllerContext } from '../types.js';
import { PVC_PROTECTION_FINALIZER, PV_PROTECTION_FINALIZER, podClaimNames } from '../../api/helpers/volumes.js';

const POD_CLAIM_INDEX = 'k8ts.io/pod-claims';

const isTerminated = (pod: Pod) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

function withFinalizer<T extends Stored<object>>(obj: T, finalizer: string, present: boolean): T {
  const next = structuredClone(obj);
  const list: string[] = (next.metadata.finalizers ?? []).filter((f) => f !== finalizer);
  if (present) list.push(finalizer);
  next.metadata.finalizers = list;
  return next;
}

export class PVCProtectionController implements Controller {
  readonly name = 'pvc-protection';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly claims: SharedIndexInformer<PersistentVolumeClaim>;
  private readonly pods: SharedIndexInformer<Pod>;
  private readonly runner: ControllerRunner;

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'pvc-protection' });
    this.claims = ctx.informers.forResource(R.persistentvolumeclaims);
    this.pods = ctx.informers.forResource(R.pods);
    try {
      this.pods.addIndexers({
        [POD_CLAIM_INDEX]: (pod: Pod) => podClaimNames(pod).map((c) => `${pod.metadata?.namespace}/${c}`),
      });
    } catch {
      // Added already by another instance on the shared informer.
    }
    this.runner = new ControllerRunner({
      name: 'pvcprotection',
      workers: 1,
      reconcile: (k) => this.sync(k),
      logger: this.log,
    });
    const onClaim = (c: Stored<PersistentVolumeClaim>) =>
      this.runner.enqueue(`${c.metadata.namespace}/${c.metadata.name}`);
    this.claims.addEventHandler({ add: onClaim, update: (_o, n) => onClaim(n) });
    // A pod that terminates or goes may free the claims it used.
    const onPod = (pod: Stored<Pod>) => {
      for (const c of podClaimNames(pod)) this.runner.enqueue(`${pod.metadata.namespace}/${c}`);
    };
    this.pods.addEventHandler({
      update: (o, n) => {
        if (!isTerminated(o) && isTerminated(n)) onPod(n);
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

  async sync(key: string): Promise<void> {
    const i = key.indexOf('/');
    const ns = key.slice(0, i);
    const name = key.slice(i + 1);
    const claim = this.claims.indexer.getByName(ns, name);
    if (!claim) return;
    const has = (claim.metadata.finalizers ?? []).includes(PVC_PROTECTION_FINALIZER);
    const rc = this.client.resource(R.persistentvolumeclaims).namespace(ns);
    if (!claim.metadata.deletionTimestamp) {
      if (!has) await this.write(() => rc.update(withFinalizer(claim, PVC_PROTECTION_FINALIZER, true)));
      return;
    }
    if (!has || (await this.inUse(ns, name))) return;
    await this.write(() => rc.update(withFinalizer(claim, PVC_PROTECTION_FINALIZER, false)));
    this.log.debug({ claim: key }, 'removed pvc-protection finalizer');
  }

  /**
   * Used by a pod that has not terminated? The cache answers first; a "no" is confirmed by the API
   * server, since a pod created a moment ago may not be in the cache yet (as upstream does).
   */
  private async inUse(ns: string, name: string): Promise<boolean> {
    const key = `${ns}/${name}`;
    if (this.pods.indexer.byIndex(POD_CLAIM_INDEX, key).some((p) => !isTerminated(p))) return true;
    const list = await this.client.resource(R.pods).namespace(ns).list();
    return list.items.some((p) => !isTerminated(p) && podClaimNames(p).includes(name));
  }

  private async write(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

export class PVProtectionController implements Controller {
  readonly name = 'pv-protection';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly volumes: SharedIndexInformer<PersistentVolume>;
  private readonly runner: ControllerRunner;

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'pv-protection' });
    this.volumes = ctx.informers.forResource(R.persistentvolumes);
    this.runner = new ControllerRunner({
      name: 'pvprotection',
      workers: 1,
      reconcile: (k) => this.sync(k),
      logger: this.log,
    });
    const onVolume = (pv: Stored<PersistentVolume>) => this.runner.enqueue(pv.metadata.name);
    this.volumes.addEventHandler({ add: onVolume, update: (_o, n) => onVolume(n) });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  async sync(name: string): Promise<void> {
    const pv = this.volumes.indexer.get(name);
    if (!pv) return;
    const has = (pv.metadata.finalizers ?? []).includes(PV_PROTECTION_FINALIZER);
    const rc = this.client.resource(R.persistentvolumes);
    try {
      if (!pv.metadata.deletionTimestamp) {
        if (!has) await rc.update(withFinalizer(pv, PV_PROTECTION_FINALIZER, true));
        return;
      }
      // Still bound to a claim: the claim's user keeps its data until the binding ends.
      if (!has || pv.status?.phase === 'Bound') return;
      await rc.update(withFinalizer(pv, PV_PROTECTION_FINALIZER, false));
      this.log.debug({ volume: name }, 'removed pv-protection finalizer');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
