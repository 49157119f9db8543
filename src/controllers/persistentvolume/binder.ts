// The PersistentVolume binder (upstream pkg/controller/volume/persistentvolume, "persistentvolume-
// binder"): two reconcile loops over informer caches, one per claim and one per volume.
//
// Claims: a Pending claim gets the smallest Available volume that fits (or the one it, or a
// volume, names); binding writes the volume side first (spec.claimRef, phase Bound) and then the
// claim side (spec.volumeName, the bind-completed annotation, status Bound with capacity and
// access modes), so a crash in between leaves a volume that points at a claim — which the next
// sync completes — and never a claim pointing at a volume bound elsewhere. A claim nothing fits is
// handed to dynamic provisioning: external provisioners are told through the storage-provisioner
// annotations (for WaitForFirstConsumer classes only once the scheduler picked a node).
//
// Volumes: phase Available when unclaimed, Bound when the claim points back, Released when the
// claim is gone; then the reclaim policy: Retain keeps it, Delete of a volume an external
// provisioner made is left to that provisioner, anything else (no in-tree deleters or recyclers
// here) fails with an event, as upstream does when no plugin can delete.
import type {
  PersistentVolume,
  PersistentVolumeClaim,
  PersistentVolumeClaimStatus,
  PersistentVolumeStatus,
} from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import type { Logger } from 'pino';
import type { Client, ResourceClient } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { isNotFound } from '../../client/errors.js';
import { EventRecorder } from '../../client/events.js';
import type { SharedIndexInformer } from '../../client/informer.js';
import type { Stored } from '../../client/types.js';
import type { Controller, ControllerContext } from '../types.js';
import {
  ANN_BETA_STORAGE_PROVISIONER,
  ANN_BIND_COMPLETED,
  ANN_BOUND_BY_CONTROLLER,
  ANN_DYNAMICALLY_PROVISIONED,
  ANN_SELECTED_NODE,
  ANN_STORAGE_PROVISIONER,
  claimClass,
  defaultClass,
  findMatchingVolume,
  isDelayBinding,
  isExternalProvisioner,
  isVolumeBoundToClaim,
  volumeClass,
  volumeMismatch,
} from '../../api/helpers/volumes.js';
import { R } from '../../client/client.js';

const CLAIM_REF_INDEX = 'k8ts.io/claim-ref';
const CLASS_INDEX = 'k8ts.io/storage-class';

export const MSG_WAIT_FOR_FIRST_CONSUMER = 'waiting for first consumer to be created before binding';
export const MSG_NO_CLASS = 'no persistent volumes available for this claim and no storage class is set';

type Claim = Stored<PersistentVolumeClaim>;
type Volume = Stored<PersistentVolume>;

const claimKey = (c: Claim) => `${c.metadata.namespace}/${c.metadata.name}`;

function splitClaimKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

export class PersistentVolumeController implements Controller {
  readonly name = 'persistentvolume-binder';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly recorder: EventRecorder;
  private readonly claims: SharedIndexInformer<PersistentVolumeClaim>;
  private readonly volumes: SharedIndexInformer<PersistentVolume>;
  private readonly classes: SharedIndexInformer<StorageClass>;
  private readonly claimRunner: ControllerRunner;
  private readonly volumeRunner: ControllerRunner;

  constructor(ctx: ControllerContext, opts: { workers?: number } = {}) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'persistentvolume-binder' });
    this.recorder = new EventRecorder(ctx.client, { component: 'persistentvolume-controller' }, this.log);
    this.claims = ctx.informers.forResource(R.persistentvolumeclaims);
    this.volumes = ctx.informers.forResource(R.persistentvolumes);
    this.classes = ctx.informers.forResource(R.storageclasses);
    try {
      this.volumes.addIndexers({
        [CLAIM_REF_INDEX]: (pv: PersistentVolume) =>
          pv.spec?.claimRef?.name ? [`${pv.spec.claimRef.namespace ?? ''}/${pv.spec.claimRef.name}`] : [],
        [CLASS_INDEX]: (pv: PersistentVolume) => [volumeClass(pv)],
      });
    } catch {
      // Another instance sharing the informer added them already.
    }
    const workers = opts.workers ?? 2;
    this.claimRunner = new ControllerRunner({
      name: 'claims',
      workers,
      reconcile: (k) => this.syncClaim(k),
      logger: this.log,
    });
    this.volumeRunner = new ControllerRunner({
      name: 'volumes',
      workers,
      reconcile: (k) => this.syncVolume(k),
      logger: this.log,
    });

    const onClaim = (c: Claim) => {
      this.claimRunner.enqueue(claimKey(c));
      // Volumes pointing at the claim learn about it too (deleted claim → Released).
      if (c.spec?.volumeName) this.volumeRunner.enqueue(c.spec.volumeName);
      for (const pv of this.volumes.indexer.byIndex(CLAIM_REF_INDEX, claimKey(c)))
        this.volumeRunner.enqueue(pv.metadata.name);
    };
    this.claims.addEventHandler({ add: onClaim, update: (_o, n) => onClaim(n), delete: onClaim });
    const onVolume = (pv: Volume) => {
      this.volumeRunner.enqueue(pv.metadata.name);
      const ref = pv.spec?.claimRef;
      if (ref?.name && ref.namespace) this.claimRunner.enqueue(`${ref.namespace}/${ref.name}`);
    };
    this.volumes.addEventHandler({
      add: (pv) => {
        onVolume(pv);
        // A new Available volume may fit any waiting claim.
        this.enqueuePendingClaims();
      },
      update: (o, n) => {
        onVolume(n);
        if (o.status?.phase !== 'Available' && n.status?.phase === 'Available') this.enqueuePendingClaims();
      },
      delete: onVolume,
    });
    // A class that appears (or becomes the default) may let waiting claims proceed.
    this.classes.addEventHandler({ add: () => this.enqueuePendingClaims(), update: () => this.enqueuePendingClaims() });
  }

  start(): void {
    this.claimRunner.start();
    this.volumeRunner.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.claimRunner.stop(), this.volumeRunner.stop()]);
  }

  private enqueuePendingClaims(): void {
    for (const c of this.claims.indexer.list())
      if (!c.spec?.volumeName || c.status?.phase !== 'Bound') this.claimRunner.enqueue(claimKey(c));
  }

  private claimClient(ns: string | undefined): ResourceClient<PersistentVolumeClaim> {
    return this.client.resource(R.persistentvolumeclaims).namespace(ns);
  }

  private volumeClient(): ResourceClient<PersistentVolume> {
    return this.client.resource(R.persistentvolumes);
  }

  // ---- claims ---------------------------------------------------------------------------------

  async syncClaim(key: string): Promise<void> {
    const [ns, name] = splitClaimKey(key);
    const claim = this.claims.indexer.getByName(ns, name);
    if (!claim) return;
    if (claim.metadata?.annotations?.[ANN_BIND_COMPLETED] === undefined) await this.syncUnboundClaim(claim);
    else await this.syncBoundClaim(claim);
  }

  private async syncUnboundClaim(claim: Claim): Promise<void> {
    if (!claim.spec?.volumeName) {
      // Retroactive default class: a claim created before any default existed gets it now.
      if (claim.spec?.storageClassName === undefined || claim.spec?.storageClassName === null) {
        const def = defaultClass(this.classes.indexer.list());
        if (def && claim.metadata?.annotations?.['volume.beta.kubernetes.io/storage-class'] === undefined) {
          const next = structuredClone(claim);
          (next.spec ??= {}).storageClassName = def.metadata.name;
          await this.claimClient(claim.metadata.namespace).update(next);
          return; // the update event brings the claim back
        }
      }
      const className = claimClass(claim);
      const sc = className ? this.classes.indexer.get(className) : undefined;
      const delay = isDelayBinding(sc);
      const candidates = this.volumes.indexer.byIndex(CLASS_INDEX, className);
      const prebound = this.volumes.indexer.byIndex(CLAIM_REF_INDEX, claimKey(claim));
      const pv = findMatchingVolume(claim, new Set([...prebound, ...candidates]), { delayBinding: delay });
      if (!pv) {
        const selectedNode = claim.metadata?.annotations?.[ANN_SELECTED_NODE];
        if (delay && !selectedNode) {
          this.recorder.event(claim, 'Normal', 'WaitForFirstConsumer', MSG_WAIT_FOR_FIRST_CONSUMER);
        } else if (className) {
          await this.provisionClaim(claim, className, sc);
        } else {
          this.recorder.event(claim, 'Normal', 'FailedBinding', MSG_NO_CLASS);
        }
        await this.updateClaimStatus(claim, 'Pending');
        return;
      }
      await this.bind(pv, claim);
      return;
    }

    // The claim names its volume (pre-bound by the user, or a binding half done).
    const pv = this.volumes.indexer.get(claim.spec.volumeName);
    if (!pv) {
      // Perhaps not created yet; the volume's add event brings the claim back.
      await this.updateClaimStatus(claim, 'Pending');
      return;
    }
    if (!pv.spec?.claimRef) {
      const why = volumeMismatch(pv, claim);
      if (why) {
        this.recorder.event(
          claim,
          'Warning',
          'VolumeMismatch',
          `Cannot bind to requested volume "${pv.metadata.name}": ${why}`,
        );
        await this.updateClaimStatus(claim, 'Pending');
        return;
      }
      await this.bind(pv, claim);
      return;
    }
    if (isVolumeBoundToClaim(pv, claim)) {
      await this.bind(pv, claim);
      return;
    }
    if (claim.metadata?.annotations?.[ANN_BOUND_BY_CONTROLLER]) {
      // We set volumeName but the volume went to someone else: undo our half, match again.
      const next = structuredClone(claim);
      (next.spec ??= {}).volumeName = '';
      delete (next.metadata.annotations ?? {})[ANN_BOUND_BY_CONTROLLER];
      await this.claimClient(claim.metadata.namespace).update(next);
      return;
    }
    this.recorder.event(
      claim,
      'Warning',
      'FailedBinding',
      `volume "${pv.metadata.name}" already bound to a different claim.`,
    );
    await this.updateClaimStatus(claim, 'Pending');
  }

  private async syncBoundClaim(claim: Claim): Promise<void> {
    const volumeName = claim.spec?.volumeName;
    if (!volumeName) {
      await this.claimLost(claim, 'Bound claim has lost reference to PersistentVolume. Data on the volume is lost!');
      return;
    }
    const pv = this.volumes.indexer.get(volumeName) ?? (await this.getVolume(volumeName));
    if (!pv) {
      await this.claimLost(claim, 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
      return;
    }
    if (!pv.spec?.claimRef || isVolumeBoundToClaim(pv, claim)) {
      // Either half-done (volume not yet pointing back) or complete: bind() does what is missing.
      await this.bind(pv, claim);
      return;
    }
    await this.claimLost(
      claim,
      'Two claims are bound to the same volume, this one is bound incorrectly',
      'ClaimMisbound',
    );
  }

  private async claimLost(claim: Claim, message: string, reason = 'ClaimLost'): Promise<void> {
    if (claim.status?.phase === 'Lost') return;
    this.recorder.event(claim, 'Warning', reason, message);
    await this.updateClaimStatus(claim, 'Lost');
  }

  private async getVolume(name: string): Promise<Volume | undefined> {
    try {
      return await this.volumeClient().get(name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Dynamic provisioning of an unmatched claim: external provisioners get the claim by annotation. */
  private async provisionClaim(claim: Claim, className: string, sc: StorageClass | undefined): Promise<void> {
    if (!sc) {
      this.recorder.event(
        claim,
        'Warning',
        'ProvisioningFailed',
        `storageclass.storage.k8s.io "${className}" not found`,
      );
      return;
    }
    const provisioner: string = sc.provisioner ?? '';
    if (!isExternalProvisioner(provisioner)) {
      // No in-tree volume plugins here: nothing can provision for a kubernetes.io/ provisioner.
      this.recorder.event(claim, 'Warning', 'ProvisioningFailed', `no volume plugin matched name: ${provisioner}`);
      return;
    }
    const ann = claim.metadata?.annotations ?? {};
    if (ann[ANN_STORAGE_PROVISIONER] !== provisioner || ann[ANN_BETA_STORAGE_PROVISIONER] !== provisioner) {
      const next = structuredClone(claim);
      next.metadata.annotations = {
        ...ann,
        [ANN_STORAGE_PROVISIONER]: provisioner,
        [ANN_BETA_STORAGE_PROVISIONER]: provisioner,
      };
      await this.claimClient(claim.metadata.namespace).update(next);
    }
    this.recorder.event(
      claim,
      'Normal',
      'ExternalProvisioning',
      `waiting for a volume to be created, either by external provisioner "${provisioner}" or manually created by system administrator`,
    );
  }

  /** Complete a binding from wherever it stands (upstream bind()): volume first, then the claim. */
  private async bind(pv: Volume, claim: Claim): Promise<void> {
    let volume = pv;
    const ref = volume.spec?.claimRef;
    if (
      !ref ||
      ref.uid !== claim.metadata.uid ||
      ref.name !== claim.metadata.name ||
      ref.namespace !== claim.metadata.namespace
    ) {
      const next = structuredClone(volume);
      (next.spec ??= {}).claimRef = {
        kind: 'PersistentVolumeClaim',
        namespace: claim.metadata.namespace,
        name: claim.metadata.name,
        uid: claim.metadata.uid,
        apiVersion: 'v1',
        resourceVersion: claim.metadata.resourceVersion,
      };
      // Only a binding we chose is ours to undo later; a pre-bound one stays the user's.
      if (!isVolumeBoundToClaim(volume, claim))
        next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [ANN_BOUND_BY_CONTROLLER]: 'yes' };
      volume = await this.volumeClient().update(next);
    }
    if (volume.status?.phase !== 'Bound') {
      volume = await this.volumeClient().updateStatus({
        ...volume,
        status: { ...(volume.status ?? {}), phase: 'Bound', message: undefined, reason: undefined },
      });
    }
    let c = claim;
    const ann = c.metadata?.annotations ?? {};
    if (c.spec?.volumeName !== volume.metadata.name || ann[ANN_BIND_COMPLETED] !== 'yes') {
      const next = structuredClone(c);
      const annotations: Record<string, string> = { ...ann, [ANN_BIND_COMPLETED]: 'yes' };
      if (next.spec?.volumeName !== volume.metadata.name) {
        (next.spec ??= {}).volumeName = volume.metadata.name;
        annotations[ANN_BOUND_BY_CONTROLLER] = 'yes';
      }
      next.metadata.annotations = annotations;
      c = await this.claimClient(c.metadata.namespace).update(next);
    }
    await this.updateClaimStatus(c, 'Bound', volume);
  }

  private async updateClaimStatus(claim: Claim, phase: string, volume?: Volume): Promise<void> {
    const st = claim.status ?? {};
    const status: PersistentVolumeClaimStatus = { ...st, phase };
    if (volume) {
      status.accessModes = volume.spec?.accessModes ?? [];
      status.capacity = { ...(volume.spec?.capacity ?? {}) };
    }
    if (JSON.stringify(status) === JSON.stringify(st)) return;
    try {
      await this.claimClient(claim.metadata.namespace).updateStatus({ ...claim, status });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }

  // ---- volumes --------------------------------------------------------------------------------

  async syncVolume(name: string): Promise<void> {
    const pv = this.volumes.indexer.get(name);
    if (!pv) return;
    const ref = pv.spec?.claimRef;
    if (!ref) {
      await this.updateVolumePhase(pv, 'Available');
      return;
    }
    if (!ref.uid) {
      // Pre-bound by the user to a claim that may not exist yet: Available to that claim alone.
      await this.updateVolumePhase(pv, 'Available');
      return;
    }
    const refName = ref.name ?? ''; // validation requires a claimRef's name
    let claim = this.claims.indexer.getByName(ref.namespace, refName);
    if (!claim) claim = await this.getClaim(ref.namespace, refName); // the cache may lag behind a fresh claim
    if (claim && claim.metadata.uid !== ref.uid) claim = undefined; // deleted and created again: not ours
    if (!claim) {
      await this.releaseVolume(pv);
      return;
    }
    if (!claim.spec?.volumeName) {
      // The claim's sync finishes (or undoes) the binding.
      this.claimRunner.enqueue(claimKey(claim));
      return;
    }
    if (claim.spec.volumeName === pv.metadata.name) {
      await this.updateVolumePhase(pv, 'Bound');
      return;
    }
    // The claim went to another volume.
    if (pv.metadata?.annotations?.[ANN_BOUND_BY_CONTROLLER]) {
      await this.unbindVolume(pv, true);
    } else {
      await this.unbindVolume(pv, false);
    }
  }

  private async getClaim(ns: string | undefined, name: string): Promise<Claim | undefined> {
    try {
      return await this.claimClient(ns).get(name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Undo a binding: ours entirely; a user's pre-binding keeps its name but loses the uid. */
  private async unbindVolume(pv: Volume, ours: boolean): Promise<void> {
    const next = structuredClone(pv);
    if (ours) delete next.spec?.claimRef;
    else delete next.spec?.claimRef?.uid;
    if (next.metadata.annotations) delete next.metadata.annotations[ANN_BOUND_BY_CONTROLLER];
    const updated = await this.volumeClient().update(next);
    await this.updateVolumePhase(updated, 'Available');
  }

  private async releaseVolume(pv: Volume): Promise<void> {
    const phase = pv.status?.phase;
    if (phase === 'Failed') return;
    let volume: Volume | undefined = pv;
    if (phase !== 'Released') {
      volume = await this.updateVolumePhase(pv, 'Released');
      if (!volume) return;
    }
    await this.reclaimVolume(volume);
  }

  private async reclaimVolume(pv: Volume): Promise<void> {
    const policy = pv.spec?.persistentVolumeReclaimPolicy ?? 'Retain';
    if (policy === 'Retain') return;
    if (policy === 'Recycle') {
      await this.failVolume(pv, 'VolumeFailedRecycle', 'No recycler plugin found for the volume!');
      return;
    }
    if (policy === 'Delete') {
      const provisionedBy = pv.metadata?.annotations?.[ANN_DYNAMICALLY_PROVISIONED];
      // External provisioners delete their own volumes (and the API object).
      if (isExternalProvisioner(provisionedBy)) return;
      await this.failVolume(
        pv,
        'VolumeFailedDelete',
        `error getting deleter volume plugin for volume "${pv.metadata.name}": no deletable volume plugin matched`,
      );
      return;
    }
    await this.failVolume(pv, 'VolumeUnknownReclaimPolicy', 'Volume has unrecognized PersistentVolumeReclaimPolicy');
  }

  private async failVolume(pv: Volume, reason: string, message: string): Promise<void> {
    this.recorder.event(pv, 'Warning', reason, message);
    await this.updateVolumePhase(pv, 'Failed', message);
  }

  private async updateVolumePhase(pv: Volume, phase: string, message?: string): Promise<Volume | undefined> {
    if (pv.status?.phase === phase && (pv.status?.message ?? undefined) === message) return pv;
    const status: PersistentVolumeStatus = { ...(pv.status ?? {}), phase };
    if (message) status.message = message;
    else delete status.message;
    try {
      return await this.volumeClient().updateStatus({ ...pv, status });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err; // a conflict is retried once the cache has the fresher copy
    }
  }
}
