// VolumeBinding (upstream pkg/scheduler/framework/plugins/volumebinding): the pod's claims decide
// where it may run, and for WaitForFirstConsumer claims the scheduler decides where their volumes
// come from.
//
//  PreFilter: every claim must exist and not be deleting; an unbound claim of an Immediate class
//    is waited for (the PV controller binds it on its own), so the pod is unschedulable for now.
//  Filter (per node): a bound claim's volume must be reachable from the node (spec.nodeAffinity);
//    an unbound WaitForFirstConsumer claim needs an Available volume matching it on this node or
//    a class that provisions dynamically.
//  PreBind (the binding cycle, off the scheduling loop): static matches are pre-bound (the PV's
//    claimRef set, as upstream's binder does), claims to provision get the selected-node
//    annotation, then the pod waits, bounded, until the PV controller bound them all; only then
//    is the pod bound, so the node agent never starts a pod whose volume does not exist.
//
// Not done (unlike upstream): no assume cache, so two pods scheduled at once may pick the same
// static volume for different claims; the loser's PreBind times out and it is rescheduled.
import type { PersistentVolume, PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import type { Stored } from '../../client/types.js';
import { R, type Client } from '../../client/client.js';
import { isNotFound } from '../../client/errors.js';
import type { SharedInformerFactory } from '../../client/informer.js';
import {
  ANN_BIND_COMPLETED,
  ANN_BOUND_BY_CONTROLLER,
  ANN_SELECTED_NODE,
  NO_PROVISIONER,
  claimClass,
  findMatchingVolume,
  isDelayBinding,
  isVolumeBoundToClaim,
  podClaims,
  volumeNodeAffinityMatches,
} from '../../api/helpers/volumes.js';
import type { CycleState, FilterPlugin, PreBindPlugin, PreFilterPlugin } from '../framework.js';
import type { ClusterEvent } from '../queue.js';
import { Code, type NodeInfo, type PodInfo, Status } from '../types.js';

export const VOLUME_BINDING = 'VolumeBinding';
export const ERR_UNBOUND_IMMEDIATE = 'pod has unbound immediate PersistentVolumeClaims';
export const ERR_NODE_CONFLICT = 'node(s) had volume node affinity conflict';
export const ERR_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind";
export const ERR_PV_NOT_EXIST = 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)';

/** Cluster events after which pods VolumeBinding rejected are worth another try. */
export const VOLUME_EVENTS = {
  ClaimChange: { label: 'PersistentVolumeClaimChange', plugins: new Set([VOLUME_BINDING]) } as ClusterEvent,
  VolumeChange: { label: 'PersistentVolumeChange', plugins: new Set([VOLUME_BINDING]) } as ClusterEvent,
  StorageClassChange: { label: 'StorageClassChange', plugins: new Set([VOLUME_BINDING]) } as ClusterEvent,
};

/** Read access to the objects the plugin looks at (informer caches, or fakes in tests). */
type Claim = Stored<PersistentVolumeClaim>;

export interface VolumeListers {
  claim(namespace: string, name: string): Claim | undefined;
  volume(name: string): Stored<PersistentVolume> | undefined;
  volumes(): Iterable<Stored<PersistentVolume>>;
  storageClass(name: string): StorageClass | undefined;
}

export interface VolumeBindingOptions {
  client?: Client;
  listers?: VolumeListers;
  /** How long PreBind waits for the claims to be bound (default 60 s, upstream's bindTimeoutSeconds is 600). */
  bindTimeoutMs?: number;
  /** How often PreBind looks at the caches while waiting (default 100 ms). */
  pollMs?: number;
}

interface NodeDecision {
  /** claim key → the Available volume chosen for it on this node. */
  staticBindings: Map<string, string>;
  /** Claims to be provisioned on this node. */
  provision: Claim[];
}

interface VolumeState {
  bound: { claim: Claim; volumeName: string }[];
  /** Unbound WaitForFirstConsumer claims. */
  delayed: Claim[];
  decisions: Map<string, NodeDecision>;
}

const claimKey = (c: Claim) => `${c.metadata.namespace}/${c.metadata.name}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class VolumeBinding implements PreFilterPlugin, FilterPlugin, PreBindPlugin {
  readonly name = VOLUME_BINDING;
  private listers?: VolumeListers;
  private readonly client?: Client;
  private readonly bindTimeoutMs: number;
  private readonly pollMs: number;
  private closed = false;

  constructor(opts: VolumeBindingOptions = {}) {
    this.client = opts.client;
    this.listers = opts.listers;
    this.bindTimeoutMs = opts.bindTimeoutMs ?? 60_000;
    this.pollMs = opts.pollMs ?? 100;
  }

  /** Use the factory's claim, volume and class informers; `onEvent` requeues waiting pods. */
  attach(factory: SharedInformerFactory, onEvent: (ev: ClusterEvent) => void): void {
    const claims = factory.forResource(R.persistentvolumeclaims);
    const volumes = factory.forResource(R.persistentvolumes);
    const classes = factory.forResource(R.storageclasses);
    this.listers = {
      claim: (ns, name) => claims.store.getByName(ns, name),
      volume: (name) => volumes.store.get(name),
      volumes: () => volumes.store.list(),
      storageClass: (name) => classes.store.get(name),
    };
    claims.addEventHandler({
      add: () => onEvent(VOLUME_EVENTS.ClaimChange),
      update: () => onEvent(VOLUME_EVENTS.ClaimChange),
    });
    volumes.addEventHandler({
      add: () => onEvent(VOLUME_EVENTS.VolumeChange),
      update: () => onEvent(VOLUME_EVENTS.VolumeChange),
    });
    classes.addEventHandler({
      add: () => onEvent(VOLUME_EVENTS.StorageClassChange),
      update: () => onEvent(VOLUME_EVENTS.StorageClassChange),
    });
  }

  /** Stop waiting in PreBind (the scheduler is shutting down). */
  close(): void {
    this.closed = true;
  }

  preFilter(state: CycleState, pod: PodInfo): Status | null {
    const claims = podClaims(pod.pod);
    if (!claims.length || !this.listers) return new Status(Code.Skip);
    const s: VolumeState = { bound: [], delayed: [], decisions: new Map() };
    let unboundImmediate = false;
    for (const { name, ephemeral } of claims) {
      const claim = this.listers.claim(pod.namespace, name);
      if (!claim) {
        if (ephemeral)
          return Status.unresolvable(
            `waiting for ephemeral volume controller to create the persistentvolumeclaim "${name}"`,
          );
        return Status.unresolvable(`persistentvolumeclaim "${name}" not found`);
      }
      if (claim.metadata?.deletionTimestamp)
        return Status.unresolvable(`persistentvolumeclaim "${name}" is being deleted`);
      const volumeName = claim.spec?.volumeName;
      if (volumeName) {
        s.bound.push({ claim, volumeName });
        continue;
      }
      const className = claimClass(claim);
      if (className && isDelayBinding(this.listers.storageClass(className))) s.delayed.push(claim);
      else unboundImmediate = true;
    }
    if (unboundImmediate) return Status.unresolvable(ERR_UNBOUND_IMMEDIATE);
    state.write(this.name, s);
    return null;
  }

  filter(state: CycleState, _pod: PodInfo, node: NodeInfo): Status | null {
    const s = state.read<VolumeState>(this.name);
    if (!s || !this.listers) return null;
    const nodeObj = node.node ?? { metadata: { name: node.name, labels: node.labels } };
    const reasons = new Set<string>();
    for (const b of s.bound) {
      const pv = this.listers.volume(b.volumeName);
      if (!pv) reasons.add(ERR_PV_NOT_EXIST);
      else if (!volumeNodeAffinityMatches(pv, nodeObj)) reasons.add(ERR_NODE_CONFLICT);
    }
    const decision: NodeDecision = { staticBindings: new Map(), provision: [] };
    if (s.delayed.length) {
      const chosen = new Set<string>();
      for (const claim of s.delayed) {
        const pv = findMatchingVolume(claim, this.listers.volumes(), { node: nodeObj, excluded: chosen });
        if (pv) {
          chosen.add(pv.metadata.name);
          decision.staticBindings.set(claimKey(claim), pv.metadata.name);
          continue;
        }
        const sc = this.listers.storageClass(claimClass(claim));
        if (!sc || !sc.provisioner || sc.provisioner === NO_PROVISIONER) reasons.add(ERR_BIND_CONFLICT);
        else decision.provision.push(claim);
      }
    }
    if (reasons.size) return Status.unresolvable(...reasons);
    s.decisions.set(node.name, decision);
    return null;
  }

  async preBind(state: CycleState, pod: PodInfo, node: string): Promise<Status | null> {
    const s = state.read<VolumeState>(this.name);
    if (!s || !s.delayed.length) return null;
    if (!this.client || !this.listers) return Status.error('VolumeBinding has no API client');
    const decision = s.decisions.get(node);
    if (!decision) return Status.error(`binding volumes: no volume decisions for node ${node}`);
    try {
      for (const claim of s.delayed) {
        const volumeName = decision.staticBindings.get(claimKey(claim));
        if (volumeName) await this.preBindVolume(volumeName, claim);
        else await this.selectNode(claim, node);
      }
      await this.waitForBindings(pod, s.delayed, node);
    } catch (err) {
      return Status.error(`binding volumes: ${(err as Error).message}`);
    }
    return null;
  }

  /** Point an Available volume at the claim; the PV controller completes the binding. */
  private async preBindVolume(volumeName: string, claim: Claim): Promise<void> {
    const pv = this.listers!.volume(volumeName);
    if (!pv) throw new Error(`persistentvolume "${volumeName}" not found`);
    if (isVolumeBoundToClaim(pv, claim)) return;
    if (pv.spec?.claimRef) throw new Error(`persistentvolume "${volumeName}" was bound to another claim meanwhile`);
    const next = structuredClone(pv);
    next.spec = {
      ...next.spec,
      claimRef: {
        kind: 'PersistentVolumeClaim',
        apiVersion: 'v1',
        namespace: claim.metadata.namespace,
        name: claim.metadata.name,
        uid: claim.metadata.uid,
      },
    };
    next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [ANN_BOUND_BY_CONTROLLER]: 'yes' };
    await this.client!.resource(R.persistentvolumes).update(next);
  }

  /** Tell the claim's provisioner where the pod runs (volume.kubernetes.io/selected-node). */
  private async selectNode(claim: Claim, node: string): Promise<void> {
    if (claim.metadata?.annotations?.[ANN_SELECTED_NODE] === node) return;
    await this.client!.resource(R.persistentvolumeclaims)
      .namespace(claim.metadata.namespace)
      .patch(claim.metadata.name, 'merge', { metadata: { annotations: { [ANN_SELECTED_NODE]: node } } });
  }

  /** Until every claim is bound to a volume reachable from the node (upstream checkBindings). */
  private async waitForBindings(pod: PodInfo, claims: Claim[], node: string): Promise<void> {
    const deadline = Date.now() + this.bindTimeoutMs;
    const annotated = new Set<string>();
    for (;;) {
      if (await this.allBound(pod, claims, node, annotated)) return;
      if (this.closed) throw new Error('scheduler stopping');
      if (Date.now() > deadline) throw new Error('timed out waiting for the condition');
      await sleep(this.pollMs);
    }
  }

  /** `annotated`: claims seen carrying our selected-node (so its removal means a provisioner gave up). */
  private async allBound(pod: PodInfo, claims: Claim[], node: string, annotated: Set<string>): Promise<boolean> {
    for (const c of claims) {
      const claim = this.listers!.claim(c.metadata.namespace ?? '', c.metadata.name);
      if (!claim || claim.metadata.uid !== c.metadata.uid)
        throw new Error(`persistentvolumeclaim "${c.metadata.name}" was deleted`);
      const volumeName = claim.spec?.volumeName;
      if (!volumeName || claim.metadata?.annotations?.[ANN_BIND_COMPLETED] === undefined) {
        // A provisioner that gave up on this node takes the annotation away (as upstream's do).
        const selected = claim.metadata?.annotations?.[ANN_SELECTED_NODE];
        const key = claimKey(claim);
        if (selected === node) annotated.add(key);
        else if (annotated.has(key))
          throw new Error(`persistentvolumeclaim "${c.metadata.name}" selectedNode annotation reset`);
        return false;
      }
      const pv = this.listers!.volume(volumeName);
      if (!pv || !isVolumeBoundToClaim(pv, claim)) return false;
    }
    // The pod may have gone while we waited: binding it then would only fail.
    try {
      await this.client!.resource(R.pods).namespace(pod.namespace).get(pod.name);
    } catch (err) {
      if (isNotFound(err)) throw new Error(`pod ${pod.key} does not exist any more`, { cause: err });
    }
    return true;
  }
}
