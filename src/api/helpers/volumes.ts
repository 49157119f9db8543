// Which PersistentVolume can serve which claim (upstream pkg/controller/volume/persistentvolume/util
// and component-helpers/storage/volume): the annotations both sides carry, class lookups, and the
// "smallest volume that satisfies the claim" search shared by the binder controller and the
// scheduler's VolumeBinding plugin, so both agree on what a match is.
import { labelSelectorMatches } from '../../machinery/labels.js';
import { parseQuantityOrNull } from '../../machinery/quantity.js';
import type { NodeSelectorTerm, PersistentVolume } from 'kubernetes-types/core/v1.js';
import { nodeSelectorTermMatches } from './nodeaffinity.js';
import { ANN_BETA_STORAGE_CLASS } from './storageclass.js';

export {
  ANN_BETA_STORAGE_CLASS,
  ANN_DEFAULT_STORAGE_CLASS,
  ANN_BETA_DEFAULT_STORAGE_CLASS,
  defaultStorageClass as defaultClass,
  isDefaultStorageClass as isDefaultClass,
} from './storageclass.js';

// Annotations, as upstream names them.
export const ANN_BIND_COMPLETED = 'pv.kubernetes.io/bind-completed';
export const ANN_BOUND_BY_CONTROLLER = 'pv.kubernetes.io/bound-by-controller';
export const ANN_DYNAMICALLY_PROVISIONED = 'pv.kubernetes.io/provisioned-by';
export const ANN_SELECTED_NODE = 'volume.kubernetes.io/selected-node';
export const ANN_STORAGE_PROVISIONER = 'volume.kubernetes.io/storage-provisioner';
export const ANN_BETA_STORAGE_PROVISIONER = 'volume.beta.kubernetes.io/storage-provisioner';

export const PVC_PROTECTION_FINALIZER = 'kubernetes.io/pvc-protection';
export const PV_PROTECTION_FINALIZER = 'kubernetes.io/pv-protection';
/** The provisioner of classes whose volumes are only ever created by hand (local volumes). */
export const NO_PROVISIONER = 'kubernetes.io/no-provisioner';

/** The class of a claim: the beta annotation wins over spec.storageClassName, as upstream. */
export function claimClass(claim: any): string {
  const beta = claim?.metadata?.annotations?.[ANN_BETA_STORAGE_CLASS];
  if (beta !== undefined) return beta;
  return claim?.spec?.storageClassName ?? '';
}

export function volumeClass(pv: any): string {
  const beta = pv?.metadata?.annotations?.[ANN_BETA_STORAGE_CLASS];
  if (beta !== undefined) return beta;
  return pv?.spec?.storageClassName ?? '';
}

/** WaitForFirstConsumer: binding waits until a pod using the claim is scheduled. */
export const isDelayBinding = (sc: any): boolean => sc?.volumeBindingMode === 'WaitForFirstConsumer';

export function storageBytes(v: unknown): number {
  return parseQuantityOrNull(v)?.value() ?? 0;
}

export const claimRequest = (claim: any): number => storageBytes(claim?.spec?.resources?.requests?.storage);
export const volumeCapacity = (pv: any): number => storageBytes(pv?.spec?.capacity?.storage);

/** Is `pv.spec.claimRef` this claim (by namespace and name, and uid when the ref has one)? */
export function isVolumeBoundToClaim(pv: any, claim: any): boolean {
  const ref = pv?.spec?.claimRef;
  if (!ref) return false;
  if (ref.name !== claim.metadata?.name || ref.namespace !== claim.metadata?.namespace) return false;
  return !ref.uid || ref.uid === claim.metadata?.uid;
}

/** The claim's access modes all offered by the volume. */
export function accessModesContained(volumeModes: string[] | undefined, claimModes: string[] | undefined): boolean {
  const have = new Set(volumeModes ?? []);
  // Literal set containment, as upstream: a ReadWriteOnce volume does not serve a
  // ReadWriteOncePod claim even though the guarantees overlap.
  return (claimModes ?? []).every((m) => have.has(m));
}

const volumeModeOf = (o: any): string => o?.spec?.volumeMode ?? 'Filesystem';

/** Whether a node (a Node object) satisfies the volume's required node affinity (none: any). */
export function volumeNodeAffinityMatches(pv: any, node: any): boolean {
  const terms: NodeSelectorTerm[] | undefined = pv?.spec?.nodeAffinity?.required?.nodeSelectorTerms;
  if (!terms) return true;
  return terms.some((t) => nodeSelectorTermMatches(t, node));
}

/**
 * Why `pv` cannot serve `claim` (upstream checkVolumeSatisfyClaim), or '' when it can. Used for
 * volumes a claim asked for by name.
 */
export function volumeMismatch(pv: any, claim: any): string {
  if (volumeCapacity(pv) < claimRequest(claim)) return 'requested PV is too small';
  if (volumeClass(pv) !== claimClass(claim)) return 'storageClassName does not match';
  if (volumeModeOf(pv) !== volumeModeOf(claim)) return 'incompatible volumeMode';
  if (!accessModesContained(pv.spec?.accessModes, claim.spec?.accessModes)) return 'incompatible accessMode';
  return '';
}

/**
 * The smallest Available volume that satisfies the claim (upstream FindMatchingVolume). A volume
 * pre-bound to the claim wins outright. With `node` (the scheduler's search for a
 * WaitForFirstConsumer claim) the volume must also be reachable from that node; without a node,
 * a claim of a WaitForFirstConsumer class (`delayBinding`) is only matched to a pre-bound volume,
 * so the binder never picks a volume the scheduler would have to place the pod around.
 * `excluded`: volume names already chosen for other claims of the same pod.
 */
export function findMatchingVolume<V extends PersistentVolume>(
  claim: any,
  volumes: Iterable<V>,
  opts: { node?: any; delayBinding?: boolean; excluded?: Set<string> } = {},
): V | undefined {
  const request = claimRequest(claim);
  const cls = claimClass(claim);
  let selectorOk: (labels: Record<string, string> | undefined) => boolean = () => true;
  if (claim.spec?.selector) selectorOk = (labels) => labelSelectorMatches(claim.spec.selector, labels);
  let best: V | undefined;
  let bestSize = Infinity;
  for (const pv of volumes) {
    if (opts.excluded?.has(pv.metadata?.name ?? '')) continue;
    const size = volumeCapacity(pv);
    if (size < request) continue;
    if (volumeModeOf(pv) !== volumeModeOf(claim)) continue;
    if (pv.metadata?.deletionTimestamp) continue;
    const nodeOk = !opts.node || volumeNodeAffinityMatches(pv, opts.node);
    if (isVolumeBoundToClaim(pv, claim)) {
      // Pre-bound (by the user, a provisioner or an earlier binding): nothing else competes.
      if (!nodeOk) continue;
      return pv;
    }
    if (!opts.node && opts.delayBinding) continue;
    if (pv.spec?.claimRef) continue; // bound or pre-bound to another claim
    // Volumes not yet Available are about to be; binding them now would only meet conflicts.
    if (pv.status?.phase !== 'Available') continue;
    if (!selectorOk(pv.metadata?.labels)) continue;
    if (volumeClass(pv) !== cls) continue;
    if (!nodeOk) continue;
    if (!accessModesContained(pv.spec?.accessModes, claim.spec?.accessModes)) continue;
    if (size < bestSize) {
      best = pv;
      bestSize = size;
    }
  }
  return best;
}

/** The claims a pod's volumes use; generic ephemeral volumes use the claim <pod>-<volume>. */
export function podClaims(pod: any): { name: string; ephemeral: boolean }[] {
  const out: { name: string; ephemeral: boolean }[] = [];
  for (const v of pod?.spec?.volumes ?? []) {
    if (v?.persistentVolumeClaim?.claimName) out.push({ name: v.persistentVolumeClaim.claimName, ephemeral: false });
    else if (v?.ephemeral) out.push({ name: `${pod.metadata?.name}-${v.name}`, ephemeral: true });
  }
  return out;
}

export const podClaimNames = (pod: any): string[] => podClaims(pod).map((c) => c.name);

/** Whether the class's provisioner is an external one (not a kubernetes.io/ in-tree plugin). */
export const isExternalProvisioner = (name: string | undefined): boolean =>
  !!name && !name.startsWith('kubernetes.io/');
