// The snapshot controller (external-snapshotter's common controller, which upstream runs as the
// snapshot-controller Deployment): binds VolumeSnapshots to VolumeSnapshotContents and mirrors
// the content's state into the snapshot's status. The driver's side (taking and deleting the
// snapshot, the content's status and finalizer) is the CSI snapshotter sidecar's upstream; here
// the local-path provisioner of each node agent plays it (agent/provisioner/snapshotter.ts).
//
// - Dynamic snapshots (spec.source.persistentVolumeClaimName): the claim must be bound; the class
//   is spec.volumeSnapshotClassName or the driver's default class (written into the spec, as
//   upstream does); a content `snapcontent-<uid>` is created pointing back at the snapshot, and
//   status.boundVolumeSnapshotContentName names it at once (readyToUse false until the driver
//   reports). The claim keeps the pvc-as-source-protection finalizer while a snapshot of it is
//   being taken.
// - Pre-provisioned snapshots (spec.source.volumeSnapshotContentName): the content must name this
//   snapshot in spec.volumeSnapshotRef; an empty uid there is filled in (binding).
// - Deletion: a snapshot a pending claim is restoring from waits (as-source finalizer); otherwise
//   a Delete content is marked and deleted (the driver then removes the data and its finalizer),
//   a Retain one is left; then the snapshot's finalizers go. A content whose bound snapshot is gone
//   is deleted when its policy is Delete.
import type { PersistentVolume, PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../client/errors.js';
import { EventRecorder } from '../../client/events.js';
import { SharedIndexInformer } from '../../client/informer.js';
import type { Stored } from '../../client/types.js';
import { ANN_DYNAMICALLY_PROVISIONED } from '../../api/helpers/volumes.js';
import type { Controller, ControllerContext } from '../types.js';
import { SNAPSHOT_CRDS } from './crds.js';
import { ensureOwnCrd, waitUntilServed } from '../../client/owncrds.js';
import {
  ANN_DEFAULT_SNAPSHOT_CLASS,
  ANN_SNAPSHOT_BEING_DELETED,
  PVC_AS_SOURCE_FINALIZER,
  SNAPSHOT_AS_SOURCE_FINALIZER,
  SNAPSHOT_BOUND_FINALIZER,
  SNAPSHOT_GROUP,
  VOLUME_SNAPSHOTS,
  VOLUME_SNAPSHOT_CLASSES,
  VOLUME_SNAPSHOT_CONTENTS,
  bytesToQuantity,
  contentNameFor,
  rfc3339FromNanos,
  type VolumeSnapshot,
  type VolumeSnapshotClass,
  type VolumeSnapshotContent,
} from '../../client/snapshots.js';

const SNAPSHOT_API_VERSION = `${SNAPSHOT_GROUP}/v1`;

/** Creates the CRDs, or brings ours up to date; an admin's own (unlabelled) ones are kept. */
export async function installSnapshotCrds(client: Client): Promise<void> {
  for (const want of SNAPSHOT_CRDS) await ensureOwnCrd(client, want);
}

/** The driver that provisioned a volume: a CSI driver's name, else the external provisioner's. */
export function volumeDriver(pv: PersistentVolume): string | undefined {
  return pv.spec?.csi?.driver ?? pv.metadata?.annotations?.[ANN_DYNAMICALLY_PROVISIONED];
}

/** Whether a claim (not yet provisioned) restores from this snapshot. */
function claimRestoresFrom(claim: PersistentVolumeClaim, ns: string, name: string): boolean {
  if (claim.metadata?.namespace !== ns || claim.spec?.volumeName) return false;
  const refs = [claim.spec?.dataSource, claim.spec?.dataSourceRef];
  return refs.some((r) => r?.kind === 'VolumeSnapshot' && r.apiGroup === SNAPSHOT_GROUP && r.name === name);
}

type SnapshotStatus = NonNullable<VolumeSnapshot['status']>;

export class SnapshotController implements Controller {
  readonly name = 'snapshot-controller';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly events: EventRecorder;
  private readonly snapshots: SharedIndexInformer<VolumeSnapshot>;
  private readonly contents: SharedIndexInformer<VolumeSnapshotContent>;
  private readonly classes: SharedIndexInformer<VolumeSnapshotClass>;
  private readonly claims: SharedIndexInformer<PersistentVolumeClaim>;
  private readonly volumes: SharedIndexInformer<PersistentVolume>;
  private readonly runner: ControllerRunner;
  private stopped = false;

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'snapshot-controller' });
    this.events = new EventRecorder(ctx.client, { component: 'snapshot-controller' }, this.log);
    // Own informers: the resources are served only once the CRDs are installed (start()).
    const opts = { logger: this.log, backoffMaxMs: 2000 };
    this.snapshots = new SharedIndexInformer(ctx.client, VOLUME_SNAPSHOTS, opts);
    this.contents = new SharedIndexInformer(ctx.client, VOLUME_SNAPSHOT_CONTENTS, opts);
    this.classes = new SharedIndexInformer(ctx.client, VOLUME_SNAPSHOT_CLASSES, opts);
    this.claims = ctx.informers.forResource(R.persistentvolumeclaims);
    this.volumes = ctx.informers.forResource(R.persistentvolumes);
    this.runner = new ControllerRunner({
      name: 'snapshot-controller',
      reconcile: (k) => this.sync(k),
      logger: this.log,
    });

    const onSnapshot = (s: Stored<VolumeSnapshot>) => {
      this.runner.enqueue(`vs:${s.metadata.namespace}/${s.metadata.name}`);
      const pvc = s.spec?.source?.persistentVolumeClaimName;
      if (pvc) this.runner.enqueue(`pvc:${s.metadata.namespace}/${pvc}`);
    };
    this.snapshots.addEventHandler({ add: onSnapshot, update: (_o, n) => onSnapshot(n), delete: onSnapshot });
    const onContent = (c: Stored<VolumeSnapshotContent>) => this.runner.enqueue(`vsc:${c.metadata.name}`);
    this.contents.addEventHandler({ add: onContent, update: (_o, n) => onContent(n), delete: onContent });
    // A class appearing may unblock snapshots waiting for one.
    this.classes.addEventHandler({ add: () => this.requeueWaiting() });
    const onClaim = (c: Stored<PersistentVolumeClaim>) => {
      const ns = c.metadata.namespace ?? '';
      for (const s of this.snapshots.indexer.list()) {
        if (s.metadata.namespace !== ns) continue;
        if (s.spec?.source?.persistentVolumeClaimName === c.metadata.name) onSnapshot(s);
        // A claim restoring from a snapshot that is being deleted holds it until provisioned.
        else if (s.metadata.deletionTimestamp) onSnapshot(s);
      }
      if (c.metadata.finalizers?.includes(PVC_AS_SOURCE_FINALIZER)) this.runner.enqueue(`pvc:${ns}/${c.metadata.name}`);
    };
    this.claims.addEventHandler({ add: onClaim, update: (_o, n) => onClaim(n), delete: onClaim });
  }

  start(): void {
    void this.install();
  }

  private async install(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await installSnapshotCrds(this.client);
        break;
      } catch (err) {
        if (attempt % 10 === 0) this.log.warn({ err }, 'cannot install the snapshot CRDs yet');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    // Started once the kinds are served, so their first list does not fail and back off.
    await waitUntilServed(this.client, [VOLUME_SNAPSHOTS, VOLUME_SNAPSHOT_CONTENTS, VOLUME_SNAPSHOT_CLASSES], {
      timeoutMs: 60_000,
      stopped: () => this.stopped,
    });
    if (this.stopped) return;
    this.snapshots.start();
    this.contents.start();
    this.classes.start();
    await Promise.all([this.snapshots.waitForSync(), this.contents.waitForSync(), this.classes.waitForSync()]);
    if (!this.stopped) this.runner.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.snapshots.stop(), this.contents.stop(), this.classes.stop(), this.runner.stop()]);
  }

  private requeueWaiting(): void {
    for (const s of this.snapshots.indexer.list())
      if (!s.status?.boundVolumeSnapshotContentName)
        this.runner.enqueue(`vs:${s.metadata.namespace}/${s.metadata.name}`);
  }

  async sync(key: string): Promise<void> {
    const sep = key.indexOf(':');
    const kind = key.slice(0, sep);
    const rest = key.slice(sep + 1);
    if (kind === 'vsc') return this.syncContent(rest);
    const slash = rest.indexOf('/');
    const ns = rest.slice(0, slash);
    const name = rest.slice(slash + 1);
    if (kind === 'vs') return this.syncSnapshot(ns, name);
    if (kind === 'pvc') return this.syncClaimFinalizer(ns, name);
  }

  // ---- snapshots ------------------------------------------------------------------------------

  private async syncSnapshot(ns: string, name: string): Promise<void> {
    const snapshot = this.snapshots.indexer.getByName(ns, name);
    if (!snapshot) return;
    if (snapshot.metadata.deletionTimestamp) return this.deleteSnapshot(snapshot);
    if (!snapshot.metadata.finalizers?.includes(SNAPSHOT_AS_SOURCE_FINALIZER)) {
      await this.setFinalizer(snapshot, SNAPSHOT_AS_SOURCE_FINALIZER, true);
      return; // the update brings the snapshot back
    }
    const source = snapshot.spec?.source ?? {};
    if (source.volumeSnapshotContentName) return this.syncPreProvisioned(snapshot, source.volumeSnapshotContentName);
    if (source.persistentVolumeClaimName) return this.syncDynamic(snapshot, source.persistentVolumeClaimName);
  }

  private async syncPreProvisioned(snapshot: Stored<VolumeSnapshot>, contentName: string): Promise<void> {
    const content = this.contents.indexer.get(contentName);
    if (!content) return this.setError(snapshot, 'SnapshotContentMissing', 'VolumeSnapshotContent is missing');
    const ref = content.spec?.volumeSnapshotRef;
    if (ref?.name !== snapshot.metadata.name || ref?.namespace !== snapshot.metadata.namespace)
      return this.setError(
        snapshot,
        'SnapshotContentMismatch',
        `VolumeSnapshotContent [${contentName}] is bound to a different snapshot`,
      );
    if (ref.uid && ref.uid !== snapshot.metadata.uid)
      return this.setError(
        snapshot,
        'SnapshotContentMismatch',
        `VolumeSnapshotContent [${contentName}] is bound to a different snapshot`,
      );
    if (!ref.uid) {
      // Binding: the content now points at this very snapshot.
      const next = structuredClone(content);
      next.spec = { ...next.spec, volumeSnapshotRef: { ...ref, uid: snapshot.metadata.uid } };
      await this.client.resource(VOLUME_SNAPSHOT_CONTENTS).update(next);
      return;
    }
    await this.mirrorContent(snapshot, content);
  }

  private async syncDynamic(snapshot: Stored<VolumeSnapshot>, claimName: string): Promise<void> {
    const ns = snapshot.metadata.namespace ?? '';
    const bound = snapshot.status?.boundVolumeSnapshotContentName;
    if (bound) {
      const content = this.contents.indexer.get(bound);
      if (!content) return this.setError(snapshot, 'SnapshotContentMissing', 'VolumeSnapshotContent is missing');
      return this.mirrorContent(snapshot, content);
    }
    const contentName = contentNameFor(snapshot);
    const existing = this.contents.indexer.get(contentName);
    if (existing) return this.mirrorContent(snapshot, existing);

    const claim = this.claims.indexer.getByName(ns, claimName);
    if (!claim)
      return this.setError(
        snapshot,
        'SnapshotContentCreationFailed',
        `Failed to create snapshot content with error failed to get input parameters to create snapshot ${snapshot.metadata.name}: "failed to retrieve PVC ${claimName} from the lister: \\"persistentvolumeclaim \\\\\\"${claimName}\\\\\\" not found\\""`,
      );
    if (claim.metadata.deletionTimestamp)
      return this.setError(
        snapshot,
        'SnapshotContentCreationFailed',
        `Failed to create snapshot content with error snapshot controller failed to update ${ns}/${claimName} on API server: cannot add finalizer on claim ${ns}/${claimName} which is being deleted`,
      );
    const volume = claim.spec?.volumeName ? this.volumes.indexer.get(claim.spec.volumeName) : undefined;
    if (claim.status?.phase !== 'Bound' || !volume) {
      // Upstream waits for the claim without an error: the claim's binding requeues us.
      this.log.debug({ snapshot: `${ns}/${snapshot.metadata.name}` }, 'claim not bound yet');
      return;
    }
    const driver = volumeDriver(volume);
    const className = snapshot.spec?.volumeSnapshotClassName;
    let cls: VolumeSnapshotClass | undefined;
    if (className) {
      cls = this.classes.indexer.get(className);
      if (!cls)
        return this.setError(
          snapshot,
          'SnapshotContentCreationFailed',
          `Failed to create snapshot content with error failed to retrieve snapshot class ${className} from the informer: "volumesnapshotclass.snapshot.storage.k8s.io \\"${className}\\" not found"`,
        );
    } else {
      const defaults = this.classes.indexer
        .list()
        .filter((c) => c.metadata?.annotations?.[ANN_DEFAULT_SNAPSHOT_CLASS] === 'true' && c.driver === driver);
      if (defaults.length !== 1)
        return this.setError(
          snapshot,
          'SetDefaultSnapshotClassFailed',
          defaults.length
            ? `Failed to set default snapshot class with error default snapshot class: more than one default`
            : `Failed to set default snapshot class with error cannot find default snapshot class`,
        );
      // As upstream: the default class is written into the snapshot's spec.
      const next = structuredClone(snapshot);
      next.spec = { ...next.spec, volumeSnapshotClassName: defaults[0].metadata?.name };
      await this.client.resource(VOLUME_SNAPSHOTS).namespace(ns).update(next);
      return;
    }
    if (cls.driver !== driver)
      return this.setError(
        snapshot,
        'SnapshotContentCreationFailed',
        `Failed to create snapshot content with error snapshot class ${className} driver "${cls.driver}" does not match the volume's driver "${driver ?? ''}"`,
      );

    await this.setClaimFinalizer(claim, true);
    const content: VolumeSnapshotContent = {
      apiVersion: SNAPSHOT_API_VERSION,
      kind: 'VolumeSnapshotContent',
      metadata: { name: contentName },
      spec: {
        volumeSnapshotRef: {
          kind: 'VolumeSnapshot',
          apiVersion: SNAPSHOT_API_VERSION,
          namespace: ns,
          name: snapshot.metadata.name,
          uid: snapshot.metadata.uid,
          resourceVersion: snapshot.metadata.resourceVersion,
        },
        source: { volumeHandle: volume.spec?.csi?.volumeHandle ?? volume.metadata?.name },
        driver: cls.driver,
        deletionPolicy: cls.deletionPolicy,
        volumeSnapshotClassName: className,
        sourceVolumeMode: volume.spec?.volumeMode ?? 'Filesystem',
      },
    };
    try {
      await this.client.resource(VOLUME_SNAPSHOT_CONTENTS).create(content);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    this.event(
      snapshot,
      'Normal',
      'CreatingSnapshot',
      `Waiting for a snapshot ${ns}/${snapshot.metadata.name} to be created by the CSI driver.`,
    );
    await this.writeStatus(snapshot, {
      ...snapshot.status,
      boundVolumeSnapshotContentName: contentName,
      readyToUse: false,
    });
  }

  /** The snapshot's status from its content's, plus the bound finalizer once bound. */
  private async mirrorContent(snapshot: Stored<VolumeSnapshot>, content: VolumeSnapshotContent): Promise<void> {
    const cs = content.status ?? {};
    const status: SnapshotStatus = {
      boundVolumeSnapshotContentName: content.metadata?.name,
      readyToUse: cs.readyToUse ?? false,
    };
    if (cs.creationTime !== undefined) status.creationTime = rfc3339FromNanos(cs.creationTime);
    else if (snapshot.status?.creationTime) status.creationTime = snapshot.status.creationTime;
    if (cs.restoreSize !== undefined) status.restoreSize = bytesToQuantity(cs.restoreSize);
    if (cs.error) status.error = cs.error;
    const old = snapshot.status ?? {};
    if (status.creationTime && !old.creationTime)
      this.event(
        snapshot,
        'Normal',
        'SnapshotCreated',
        `Snapshot ${snapshot.metadata.namespace}/${snapshot.metadata.name} was successfully created by the CSI driver.`,
      );
    if (status.readyToUse && !old.readyToUse)
      this.event(
        snapshot,
        'Normal',
        'SnapshotReady',
        `Snapshot ${snapshot.metadata.namespace}/${snapshot.metadata.name} is ready to use.`,
      );
    if (JSON.stringify(status) !== JSON.stringify(old)) await this.writeStatus(snapshot, status);
    if (!snapshot.metadata.finalizers?.includes(SNAPSHOT_BOUND_FINALIZER)) {
      const fresh = this.snapshots.indexer.getByName(snapshot.metadata.namespace ?? '', snapshot.metadata.name);
      if (fresh) await this.setFinalizer(fresh, SNAPSHOT_BOUND_FINALIZER, true);
    }
  }

  private async deleteSnapshot(snapshot: Stored<VolumeSnapshot>): Promise<void> {
    const ns = snapshot.metadata.namespace ?? '';
    const name = snapshot.metadata.name;
    // A claim still being provisioned from it keeps it (and its content) alive.
    if (this.claims.indexer.list().some((c) => claimRestoresFrom(c, ns, name))) {
      this.log.debug({ snapshot: `${ns}/${name}` }, 'snapshot is the source of a claim being provisioned');
      return;
    }
    const contentName =
      snapshot.status?.boundVolumeSnapshotContentName ?? snapshot.spec?.source?.volumeSnapshotContentName;
    const content = contentName ? this.contents.indexer.get(contentName) : undefined;
    const boundHere =
      content?.spec?.volumeSnapshotRef?.uid === snapshot.metadata.uid ||
      (content?.spec?.volumeSnapshotRef?.name === name && content?.spec?.volumeSnapshotRef?.namespace === ns);
    if (content && boundHere && content.spec?.deletionPolicy === 'Delete' && !content.metadata?.deletionTimestamp)
      await this.deleteContent(content);
    const finalizers = (snapshot.metadata.finalizers ?? []).filter(
      (f) => f !== SNAPSHOT_AS_SOURCE_FINALIZER && f !== SNAPSHOT_BOUND_FINALIZER,
    );
    if (finalizers.length !== (snapshot.metadata.finalizers ?? []).length) {
      const next = structuredClone(snapshot);
      next.metadata.finalizers = finalizers;
      await this.client
        .resource(VOLUME_SNAPSHOTS)
        .namespace(ns)
        .update(next)
        .catch((err) => {
          if (!isNotFound(err)) throw err;
        });
    }
  }

  /** Marks the content (the driver deletes the snapshot only when its snapshot is going) and deletes it. */
  private async deleteContent(content: Stored<VolumeSnapshotContent>): Promise<void> {
    const rc = this.client.resource(VOLUME_SNAPSHOT_CONTENTS);
    if (content.metadata.annotations?.[ANN_SNAPSHOT_BEING_DELETED] !== 'yes') {
      const next = structuredClone(content);
      next.metadata.annotations = { ...next.metadata.annotations, [ANN_SNAPSHOT_BEING_DELETED]: 'yes' };
      await rc.update(next);
    }
    await rc.delete(content.metadata.name).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
  }

  // ---- contents -------------------------------------------------------------------------------

  private async syncContent(name: string): Promise<void> {
    const content = this.contents.indexer.get(name);
    if (!content) return;
    const ref = content.spec?.volumeSnapshotRef;
    if (!ref?.name || !ref.namespace) return;
    const snapshot = this.snapshots.indexer.getByName(ref.namespace, ref.name);
    if (snapshot && (!ref.uid || ref.uid === snapshot.metadata.uid)) {
      this.runner.enqueue(`vs:${ref.namespace}/${ref.name}`);
      return;
    }
    // Bound once, and its snapshot is gone: the policy decides.
    if (ref.uid && content.spec?.deletionPolicy === 'Delete' && !content.metadata.deletionTimestamp) {
      // The informer may lag: make sure the snapshot is really gone.
      try {
        const live = await this.client.resource(VOLUME_SNAPSHOTS).namespace(ref.namespace).get(ref.name);
        if (live.metadata.uid === ref.uid) return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      await this.deleteContent(content);
    }
  }

  // ---- the source claim's finalizer -----------------------------------------------------------

  /** Kept while a snapshot of the claim has a content without a snapshot handle yet. */
  private async syncClaimFinalizer(ns: string, name: string): Promise<void> {
    const claim = this.claims.indexer.getByName(ns, name);
    if (!claim || !claim.metadata.finalizers?.includes(PVC_AS_SOURCE_FINALIZER)) return;
    const taking = this.snapshots.indexer.list().some((s) => {
      if (s.metadata.namespace !== ns || s.spec?.source?.persistentVolumeClaimName !== name) return false;
      if (s.metadata.deletionTimestamp || s.status?.readyToUse || s.status?.error) return false;
      const content = this.contents.indexer.get(s.status?.boundVolumeSnapshotContentName ?? contentNameFor(s));
      return !content?.status?.snapshotHandle;
    });
    if (!taking) await this.setClaimFinalizer(claim, false);
  }

  private async setClaimFinalizer(claim: Stored<PersistentVolumeClaim>, present: boolean): Promise<void> {
    const has = claim.metadata.finalizers?.includes(PVC_AS_SOURCE_FINALIZER) ?? false;
    if (has === present) return;
    const next = structuredClone(claim);
    const list = (next.metadata.finalizers ?? []).filter((f) => f !== PVC_AS_SOURCE_FINALIZER);
    if (present) list.push(PVC_AS_SOURCE_FINALIZER);
    next.metadata.finalizers = list;
    await this.client.resource(R.persistentvolumeclaims).namespace(claim.metadata.namespace).update(next);
  }

  // ---- writes ---------------------------------------------------------------------------------

  private async setFinalizer(snapshot: Stored<VolumeSnapshot>, finalizer: string, present: boolean): Promise<void> {
    const next = structuredClone(snapshot);
    const list = (next.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    if (present) list.push(finalizer);
    next.metadata.finalizers = list;
    await this.client.resource(VOLUME_SNAPSHOTS).namespace(snapshot.metadata.namespace).update(next);
  }

  private async setError(snapshot: Stored<VolumeSnapshot>, reason: string, message: string): Promise<void> {
    const old = snapshot.status ?? {};
    if (old.error?.message === message && old.readyToUse === false) return;
    this.event(snapshot, 'Warning', reason, message);
    await this.writeStatus(snapshot, {
      ...old,
      readyToUse: false,
      error: { message, time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
    });
  }

  private async writeStatus(snapshot: Stored<VolumeSnapshot>, status: SnapshotStatus): Promise<void> {
    const next = structuredClone(snapshot);
    next.status = status;
    try {
      await this.client.resource(VOLUME_SNAPSHOTS).namespace(snapshot.metadata.namespace).updateStatus(next);
    } catch (err) {
      // A newer version is on its way through the informer and requeues the snapshot.
      if (!isConflict(err) && !isNotFound(err)) throw err;
    }
  }

  private event(snapshot: Stored<VolumeSnapshot>, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.events.event({ ...snapshot, apiVersion: SNAPSHOT_API_VERSION, kind: 'VolumeSnapshot' }, type, reason, message);
  }
}
