// The local-path provisioner (in the manner of rancher's local-path-provisioner, which k3s ships):
// an external provisioner, k8ts.io/local-path, running in every node agent. Volumes are
// directories under <data-dir>/storage on the node the pod was scheduled to, exposed as hostPath
// PersistentVolumes pinned to that node by node affinity.
//
// The protocol is upstream's external-provisioner one: the PV controller marks a claim it cannot
// bind with volume.kubernetes.io/storage-provisioner; for WaitForFirstConsumer classes the
// scheduler adds volume.kubernetes.io/selected-node. The agent of that node makes the directory
// and a PV pre-bound to the claim (spec.claimRef), which the PV controller then binds. Immediate
// classes have no selected node: every agent tries, and the PV's name pvc-<claim uid> makes the
// API server pick one winner (the others get AlreadyExists).
//
// Deletion: a Released volume this node made, with reclaim policy Delete, loses its directory and
// then its API object.
//
// Data sources (upstream's external-provisioner rules): a claim whose dataSource is a
// VolumeSnapshot (ready, of this driver) is provisioned on the node holding the snapshot with a
// copy of it; one whose dataSource is another claim of the same namespace and class (a clone)
// with a copy of that claim's directory. The copy is made before the PV exists, so a pod never
// sees a half-filled volume. Snapshots themselves: snapshotter.ts. Expansion: controllers/volumeexpand.
import type { PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import type { Stored } from '../../client/types.js';
import { chmod, mkdir, rm } from 'node:fs/promises';
import type { ReconcileResult } from '../../client/controller.js';
import { join, resolve, sep } from 'node:path';
import type { Logger } from 'pino';
import { R, type Client } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { isAlreadyExists, isNotFound } from '../../client/errors.js';
import { EventRecorder } from '../../client/events.js';
import { SharedInformerFactory, type SharedIndexInformer } from '../../client/informer.js';
import {
  ANN_BETA_STORAGE_PROVISIONER,
  ANN_DEFAULT_STORAGE_CLASS,
  ANN_DYNAMICALLY_PROVISIONED,
  ANN_SELECTED_NODE,
  ANN_STORAGE_PROVISIONER,
  claimClass,
  claimRequest,
  isDelayBinding,
  storageBytes,
} from '../../api/helpers/volumes.js';
import { SNAPSHOT_GROUP, VOLUME_SNAPSHOTS, VOLUME_SNAPSHOT_CONTENTS } from '../../client/snapshots.js';
import { LocalPathSnapshotter, copyTree, parseSnapshotHandle } from './snapshotter.js';

export const LOCAL_PATH_PROVISIONER = 'k8ts.io/local-path';
export const LOCAL_PATH_CLASS = 'local-path';
/** Which node a volume lives on (its directory is only there). */
export const ANN_LOCAL_PATH_NODE = 'k8ts.io/local-path-node';
const HOSTNAME_LABEL = 'kubernetes.io/hostname';
/** rancher's provisioner serves these only: a directory on one node cannot be shared across nodes. */
const SUPPORTED_ACCESS_MODES = new Set(['ReadWriteOnce', 'ReadWriteOncePod']);

export interface LocalPathProvisionerOptions {
  client: Client;
  nodeName: string;
  /** Where volume directories go, e.g. <data-dir>/storage. */
  storageDir: string;
  logger: Logger;
  /**
   * Serve several nodes from one instance (the node simulator: its nodes share this host): the
   * nodes whose claims and volumes are ours. Default: nodeName alone.
   */
  servesNode?: (node: string) => boolean;
}

/** The class every node agent makes sure exists (created only when absent: users may change it). */
export function localPathStorageClass(): StorageClass {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: LOCAL_PATH_CLASS, annotations: { [ANN_DEFAULT_STORAGE_CLASS]: 'true' } },
    provisioner: LOCAL_PATH_PROVISIONER,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
    // A directory has no size of its own: growing a claim is recording its new capacity.
    allowVolumeExpansion: true,
  };
}

export class LocalPathProvisioner {
  readonly storageDir: string;
  private readonly client: Client;
  private readonly nodeName: string;
  private readonly log: Logger;
  private readonly recorder: EventRecorder;
  private readonly factory: SharedInformerFactory;
  private readonly claims: SharedIndexInformer<PersistentVolumeClaim>;
  private readonly volumes: SharedIndexInformer<PersistentVolume>;
  private readonly classes: SharedIndexInformer<StorageClass>;
  private readonly runner: ControllerRunner;
  private readonly hostnames = new Map<string, string>();
  private readonly servesNode: (node: string) => boolean;
  private readonly snapshotter: LocalPathSnapshotter;

  constructor(opts: LocalPathProvisionerOptions) {
    this.client = opts.client;
    this.nodeName = opts.nodeName;
    this.servesNode = opts.servesNode ?? ((n) => n === opts.nodeName);
    this.storageDir = resolve(opts.storageDir);
    this.log = opts.logger.child({ component: 'local-path-provisioner' });
    // Events name the provisioner and its instance, as external provisioners do.
    this.recorder = new EventRecorder(
      opts.client,
      { component: `${LOCAL_PATH_PROVISIONER}_${opts.nodeName}` },
      this.log,
    );
    this.factory = new SharedInformerFactory(opts.client, { logger: this.log });
    this.claims = this.factory.forResource(R.persistentvolumeclaims);
    this.volumes = this.factory.forResource(R.persistentvolumes);
    this.classes = this.factory.forResource(R.storageclasses);
    this.runner = new ControllerRunner({
      name: 'local-path-provisioner',
      workers: 2,
      reconcile: (k) => this.sync(k),
      logger: this.log,
    });
    const onClaim = (c: Stored<PersistentVolumeClaim>) =>
      this.runner.enqueue(`claim:${c.metadata.namespace}/${c.metadata.name}`);
    this.claims.addEventHandler({ add: onClaim, update: (_o, n) => onClaim(n) });
    const onVolume = (pv: Stored<PersistentVolume>) => this.runner.enqueue(`volume:${pv.metadata.name}`);
    this.volumes.addEventHandler({ add: onVolume, update: (_o, n) => onVolume(n) });
    this.snapshotter = new LocalPathSnapshotter({
      client: opts.client,
      driver: LOCAL_PATH_PROVISIONER,
      logger: this.log,
      snapshotDir: join(this.storageDir, 'snapshots'),
      nodeName: opts.nodeName,
      servesNode: this.servesNode,
      volumes: this.volumes,
      volumeLocation: (pv) => this.volumeLocation(pv),
    });
  }

  async start(): Promise<void> {
    await mkdir(this.storageDir, { recursive: true });
    await this.ensureStorageClass();
    this.factory.start();
    await this.factory.waitForCacheSync();
    this.runner.start();
    this.snapshotter.start();
    this.log.info({ storageDir: this.storageDir }, 'local-path provisioner started');
  }

  async stop(): Promise<void> {
    await this.snapshotter.stop();
    await this.runner.stop();
    await this.factory.shutdown();
  }

  private async ensureStorageClass(): Promise<void> {
    const rc = this.client.resource(R.storageclasses);
    try {
      await rc.get(LOCAL_PATH_CLASS);
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    try {
      await rc.create(localPathStorageClass());
      this.log.info({ storageClass: LOCAL_PATH_CLASS }, 'created storage class');
    } catch (err) {
      if (!isAlreadyExists(err)) throw err; // another node was first
    }
  }

  async sync(key: string): Promise<ReconcileResult | void> {
    if (key.startsWith('claim:')) {
      const rest = key.slice('claim:'.length);
      const i = rest.indexOf('/');
      return this.syncClaim(rest.slice(0, i), rest.slice(i + 1));
    } else if (key.startsWith('volume:')) {
      await this.syncVolume(key.slice('volume:'.length));
    }
  }

  // ---- provisioning ---------------------------------------------------------------------------

  private async syncClaim(ns: string, name: string): Promise<ReconcileResult | void> {
    const claim = this.claims.indexer.getByName(ns, name);
    if (!claim || claim.metadata.deletionTimestamp || claim.spec?.volumeName) return;
    const ann = claim.metadata.annotations ?? {};
    if ((ann[ANN_STORAGE_PROVISIONER] ?? ann[ANN_BETA_STORAGE_PROVISIONER]) !== LOCAL_PATH_PROVISIONER) return;
    const className = claimClass(claim);
    const sc = this.classes.indexer.get(className);
    if (!sc || sc.provisioner !== LOCAL_PATH_PROVISIONER) return;
    const selected: string | undefined = ann[ANN_SELECTED_NODE];
    if (selected !== undefined ? !this.servesNode(selected) : isDelayBinding(sc)) return;
    const pvName = `pvc-${claim.metadata.uid}`;
    if (this.volumes.indexer.get(pvName)) return; // made already (here or by a faster node)
    let source: DataSource | 'wait' | undefined;
    try {
      source = await this.dataSourceOf(claim);
      // The data is on one node: Immediate claims are provisioned there, selected nodes must be it.
      if (source && source !== 'wait' && !this.servesNode(source.node)) {
        if (selected === undefined) return;
        throw new Error(`the data source is on node "${source.node}", not on the selected node "${selected}"`);
      }
    } catch (err) {
      this.recorder.event(
        claim,
        'Warning',
        'ProvisioningFailed',
        `failed to provision volume with StorageClass "${className}": ${(err as Error).message}`,
      );
      throw err;
    }
    if (source === 'wait') return { requeueAfterMs: 1000 };
    const node = selected ?? source?.node ?? this.nodeName;

    this.recorder.event(
      claim,
      'Normal',
      'Provisioning',
      `External provisioner is provisioning volume for claim "${ns}/${name}"`,
    );
    try {
      const unsupported = (claim.spec?.accessModes ?? []).filter((m: string) => !SUPPORTED_ACCESS_MODES.has(m));
      if (unsupported.length)
        throw new Error(
          `only ReadWriteOnce and ReadWriteOncePod access modes are supported, not ${unsupported.join(', ')}`,
        );
      if (claim.spec?.volumeMode === 'Block') throw new Error('block volumes are not supported');
      const path = join(this.storageDir, `${pvName}_${ns}_${name}`);
      const pv = await this.volumeFor(claim, sc, node, pvName, path);
      if (source) {
        // Filled before the PV exists: nothing can mount it half-copied.
        await copyTree(source.dir, path);
        await chmod(path, 0o777);
      }
      // The API object first: with Immediate classes several nodes race and only the one whose
      // create succeeds may make a directory.
      try {
        await this.client.resource(R.persistentvolumes).create(pv);
      } catch (err) {
        if (isAlreadyExists(err)) return;
        throw err;
      }
      try {
        await mkdir(path, { recursive: true });
        // World-writable as rancher's: pods running as any user can write their volume.
        await chmod(path, 0o777);
      } catch (err) {
        await this.client
          .resource(R.persistentvolumes)
          .delete(pvName)
          .catch(() => undefined);
        throw err;
      }
      this.log.info({ claim: `${ns}/${name}`, volume: pvName, path }, 'provisioned volume');
      this.recorder.event(claim, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${pvName}`);
    } catch (err) {
      this.recorder.event(
        claim,
        'Warning',
        'ProvisioningFailed',
        `failed to provision volume with StorageClass "${className}": ${(err as Error).message}`,
      );
      throw err;
    }
  }

  private async volumeFor(
    claim: Stored<PersistentVolumeClaim>,
    sc: StorageClass,
    node: string,
    pvName: string,
    path: string,
  ): Promise<PersistentVolume> {
    const hostname = await this.hostnameLabel(node);
    const storage = claim.spec?.resources?.requests?.storage;
    const pv: PersistentVolume & { spec: PersistentVolumeSpec } = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: {
        name: pvName,
        annotations: { [ANN_DYNAMICALLY_PROVISIONED]: LOCAL_PATH_PROVISIONER, [ANN_LOCAL_PATH_NODE]: node },
      },
      spec: {
        capacity: storage === undefined ? {} : { storage },
        accessModes: [...(claim.spec?.accessModes ?? ['ReadWriteOnce'])],
        persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? 'Delete',
        storageClassName: claimClass(claim),
        volumeMode: claim.spec?.volumeMode ?? 'Filesystem',
        hostPath: { path, type: 'DirectoryOrCreate' },
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: HOSTNAME_LABEL, operator: 'In', values: [hostname] }] }],
          },
        },
        // Pre-bound: the PV controller binds exactly this claim to it.
        claimRef: {
          kind: 'PersistentVolumeClaim',
          apiVersion: 'v1',
          namespace: claim.metadata.namespace,
          name: claim.metadata.name,
          uid: claim.metadata.uid,
          resourceVersion: claim.metadata.resourceVersion,
        },
      },
    };
    if (sc.mountOptions?.length) pv.spec.mountOptions = [...sc.mountOptions];
    return pv;
  }

  /** The node's kubernetes.io/hostname label (what node affinity matches), else its name. */
  private async hostnameLabel(nodeName: string): Promise<string> {
    const known = this.hostnames.get(nodeName);
    if (known) return known;
    let hostname = nodeName;
    try {
      const node = await this.client.resource(R.nodes).get(nodeName);
      hostname = node.metadata?.labels?.[HOSTNAME_LABEL] ?? nodeName;
      this.hostnames.set(nodeName, hostname);
    } catch (err) {
      if (!isNotFound(err)) throw err; // not registered yet: its label will be its name
    }
    return hostname;
  }

  // ---- data sources ---------------------------------------------------------------------------

  /**
   * Where a claim's initial data comes from (a snapshot or a claim to clone), 'wait' while the
   * source is not ready yet; errors carry external-provisioner's reasons. Other kinds (volume
   * populators) are not ours: undefined.
   */
  private async dataSourceOf(claim: Stored<PersistentVolumeClaim>): Promise<DataSource | 'wait' | undefined> {
    const ds = claim.spec?.dataSourceRef ?? claim.spec?.dataSource;
    if (!ds) return undefined;
    const ns = claim.metadata.namespace ?? '';
    const requested = claimRequest(claim);
    if (ds.kind === 'PersistentVolumeClaim' && !ds.apiGroup) {
      const src = this.claims.indexer.getByName(ns, ds.name);
      if (!src)
        throw new Error(
          `error getting PVC ${ds.name} (namespace ${ns}): persistentvolumeclaims "${ds.name}" not found`,
        );
      if (src.status?.phase !== 'Bound' || !src.spec?.volumeName) return 'wait';
      if (claimClass(src) !== claimClass(claim))
        throw new Error('the source PVC and destination PVCs must be in the same storage class for cloning');
      const pv = this.volumes.indexer.get(src.spec.volumeName);
      const where = pv && this.volumeLocation(pv);
      if (!where) throw new Error(`the source PVC ${ds.name} is not a volume of ${LOCAL_PATH_PROVISIONER}`);
      const size = storageBytes(src.status?.capacity?.storage ?? src.spec?.resources?.requests?.storage);
      if (requested < size)
        throw new Error(
          `error, new PVC request must be greater than or equal in size to the specified PVC data source, requested ${requested} but source is ${size}`,
        );
      return { node: where.node, dir: where.path };
    }
    if (ds.kind === 'VolumeSnapshot' && ds.apiGroup === SNAPSHOT_GROUP) {
      let snapshot;
      try {
        snapshot = await this.client.resource(VOLUME_SNAPSHOTS).namespace(ns).get(ds.name);
      } catch (err) {
        if (isNotFound(err))
          throw new Error(
            `error getting handle for DataSource Type VolumeSnapshot by Name ${ds.name}: snapshot ${ds.name} not found`,
            { cause: err },
          );
        throw err;
      }
      if (snapshot.metadata.deletionTimestamp) throw new Error(`snapshot ${ds.name} is currently being deleted`);
      if (!snapshot.status?.readyToUse || !snapshot.status.boundVolumeSnapshotContentName) return 'wait';
      const content = await this.client
        .resource(VOLUME_SNAPSHOT_CONTENTS)
        .get(snapshot.status.boundVolumeSnapshotContentName);
      if (content.spec?.driver !== LOCAL_PATH_PROVISIONER)
        throw new Error(`the snapshot's driver "${content.spec?.driver ?? ''}" is not ${LOCAL_PATH_PROVISIONER}`);
      const handle = parseSnapshotHandle(content.status?.snapshotHandle);
      if (!handle) throw new Error(`snapshot ${ds.name} has no snapshot handle`);
      const size = content.status?.restoreSize ?? 0;
      if (requested < size)
        throw new Error(
          `requested volume size ${requested} is less than the size ${size} for the source snapshot ${ds.name}`,
        );
      return { node: handle.node, dir: join(this.storageDir, 'snapshots', handle.dir) };
    }
    return undefined;
  }

  /** The node and directory of a volume this instance made. */
  private volumeLocation(pv: PersistentVolume): { node: string; path: string } | undefined {
    if (!this.ownVolume(pv)) return undefined;
    return { node: pv.metadata?.annotations?.[ANN_LOCAL_PATH_NODE] ?? '', path: pv.spec?.hostPath?.path ?? '' };
  }

  // ---- deletion -------------------------------------------------------------------------------

  /** Made by this instance: our provisioner, a node we serve, a directory inside our storage dir. */
  private ownVolume(pv: PersistentVolume): boolean {
    const ann = pv.metadata?.annotations ?? {};
    if (
      ann[ANN_DYNAMICALLY_PROVISIONED] !== LOCAL_PATH_PROVISIONER ||
      !ann[ANN_LOCAL_PATH_NODE] ||
      !this.servesNode(ann[ANN_LOCAL_PATH_NODE])
    )
      return false;
    const path: string | undefined = pv.spec?.hostPath?.path;
    return !!path && resolve(path).startsWith(this.storageDir + sep);
  }

  private async syncVolume(name: string): Promise<void> {
    const pv = this.volumes.indexer.get(name);
    if (!pv || !this.ownVolume(pv)) return;
    if (pv.status?.phase !== 'Released' || pv.spec?.persistentVolumeReclaimPolicy !== 'Delete') return;
    // ownVolume() made sure the path is set and lies inside our storage directory.
    const path = pv.spec?.hostPath?.path;
    if (!path) return;
    try {
      await rm(path, { recursive: true, force: true });
    } catch (err) {
      this.recorder.event(
        pv,
        'Warning',
        'VolumeFailedDelete',
        `failed to delete volume directory ${path}: ${(err as Error).message}`,
      );
      throw err;
    }
    try {
      await this.client.resource(R.persistentvolumes).delete(name, { preconditions: { uid: pv.metadata.uid } });
      this.log.info({ volume: name, path }, 'deleted volume');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** A claim's initial data: a directory on a node (a snapshot, or the claim being cloned). */
interface DataSource {
  node: string;
  dir: string;
}
