// Volume expansion of local-path volumes (upstream: kube-controller-manager's expand controller
// hands CSI volumes to the external-resizer sidecar, which runs ControllerExpandVolume). A
// local-path volume is a directory with no size of its own, so expanding it is bookkeeping the
// server can do for every node: when a bound claim of a class with allowVolumeExpansion asks for
// more than its volume's capacity, the claim is marked Resizing (allocatedResources, the
// ControllerResizeInProgress status), the PV's capacity grows, and the claim's status.capacity
// follows with the conditions cleared, as external-resizer does for a driver that needs no node
// expansion. The claim's events: Resizing, VolumeResizeSuccessful.
import type {
  PersistentVolume,
  PersistentVolumeClaim,
  PersistentVolumeClaimCondition,
} from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { isConflict } from '../../client/errors.js';
import { EventRecorder } from '../../client/events.js';
import type { SharedIndexInformer } from '../../client/informer.js';
import type { Stored } from '../../client/types.js';
import { ANN_DYNAMICALLY_PROVISIONED, claimClass, storageBytes } from '../../api/helpers/volumes.js';
import type { Controller, ControllerContext } from '../types.js';

/** The agents' local-path provisioner (agent/provisioner/localpath.ts). */
const LOCAL_PATH_DRIVER = 'k8ts.io/local-path';
const RESIZE_CONDITIONS = new Set(['Resizing', 'FileSystemResizePending']);

export class LocalPathResizer implements Controller {
  readonly name = 'local-path-resizer';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly events: EventRecorder;
  private readonly claims: SharedIndexInformer<PersistentVolumeClaim>;
  private readonly volumes: SharedIndexInformer<PersistentVolume>;
  private readonly classes: SharedIndexInformer<StorageClass>;
  private readonly runner: ControllerRunner;

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'local-path-resizer' });
    this.events = new EventRecorder(ctx.client, { component: 'external-resizer k8ts.io/local-path' }, this.log);
    this.claims = ctx.informers.forResource(R.persistentvolumeclaims);
    this.volumes = ctx.informers.forResource(R.persistentvolumes);
    this.classes = ctx.informers.forResource(R.storageclasses);
    this.runner = new ControllerRunner({
      name: 'local-path-resizer',
      reconcile: (k) => this.sync(k),
      logger: this.log,
    });
    const onClaim = (c: Stored<PersistentVolumeClaim>) => {
      if (c.spec?.volumeName) this.runner.enqueue(`${c.metadata.namespace}/${c.metadata.name}`);
    };
    this.claims.addEventHandler({ add: onClaim, update: (_o, n) => onClaim(n) });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  async sync(key: string): Promise<void> {
    const i = key.indexOf('/');
    const claim = this.claims.indexer.getByName(key.slice(0, i), key.slice(i + 1));
    if (!claim || claim.metadata.deletionTimestamp || claim.status?.phase !== 'Bound') return;
    const pv = this.volumes.indexer.get(claim.spec?.volumeName ?? '');
    if (!pv || pv.metadata.annotations?.[ANN_DYNAMICALLY_PROVISIONED] !== LOCAL_PATH_DRIVER) return;
    const requested = claim.spec?.resources?.requests?.storage;
    if (requested === undefined) return;
    const want = storageBytes(requested);
    const have = storageBytes(pv.spec?.capacity?.storage);
    if (want > have) {
      if (!this.classes.indexer.get(claimClass(claim))?.allowVolumeExpansion) return;
      await this.expand(claim, pv, requested);
    } else if (storageBytes(claim.status?.capacity?.storage) < have || hasResizeState(claim)) {
      // The volume grew already (an earlier pass stopped half-way): the claim catches up.
      await this.finish(claim, pv.spec?.capacity?.storage ?? requested);
    }
  }

  private async expand(
    claim: Stored<PersistentVolumeClaim>,
    pv: Stored<PersistentVolume>,
    size: string,
  ): Promise<void> {
    const pvcs = this.client.resource(R.persistentvolumeclaims).namespace(claim.metadata.namespace);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const old = claim.status;
    const marked = {
      ...structuredClone(claim),
      status: {
        ...old,
        conditions: [
          ...(old?.conditions ?? []).filter((c) => c.type !== 'Resizing'),
          { type: 'Resizing', status: 'True', lastTransitionTime: now } as PersistentVolumeClaimCondition,
        ],
        allocatedResources: { ...old?.allocatedResources, storage: size },
        allocatedResourceStatuses: { ...old?.allocatedResourceStatuses, storage: 'ControllerResizeInProgress' },
      },
    };
    let current: Stored<PersistentVolumeClaim>;
    try {
      current = await pvcs.updateStatus(marked);
    } catch (err) {
      if (isConflict(err)) return this.runner.enqueue(`${claim.metadata.namespace}/${claim.metadata.name}`);
      throw err;
    }
    const ref = { ...claim, apiVersion: 'v1', kind: 'PersistentVolumeClaim' };
    this.events.event(ref, 'Normal', 'Resizing', `External resizer is resizing volume ${pv.metadata.name}`);
    const grown = structuredClone(pv);
    grown.spec = { ...grown.spec, capacity: { ...grown.spec?.capacity, storage: size } };
    await this.client.resource(R.persistentvolumes).update(grown);
    await this.finish(current, size);
    this.events.event(ref, 'Normal', 'VolumeResizeSuccessful', 'Resize volume succeeded');
    this.log.info({ claim: `${claim.metadata.namespace}/${claim.metadata.name}`, size }, 'expanded volume');
  }

  /** status.capacity = the new size, resize conditions and the in-progress status gone. */
  private async finish(claim: Stored<PersistentVolumeClaim>, size: string): Promise<void> {
    const statuses = { ...claim.status?.allocatedResourceStatuses };
    delete statuses.storage;
    const status: NonNullable<PersistentVolumeClaim['status']> = {
      ...claim.status,
      capacity: { ...claim.status?.capacity, storage: size },
      conditions: (claim.status?.conditions ?? []).filter((c) => !RESIZE_CONDITIONS.has(c.type)),
      allocatedResourceStatuses: statuses,
    };
    if (!status.conditions?.length) delete status.conditions;
    if (!Object.keys(statuses).length) delete status.allocatedResourceStatuses;
    const done = { ...structuredClone(claim), status };
    await this.client.resource(R.persistentvolumeclaims).namespace(claim.metadata.namespace).updateStatus(done);
  }
}

function hasResizeState(claim: PersistentVolumeClaim): boolean {
  return (
    (claim.status?.conditions ?? []).some((c) => RESIZE_CONDITIONS.has(c.type)) ||
    claim.status?.allocatedResourceStatuses?.storage !== undefined
  );
}
