// The default StorageClass (upstream pkg/volume/util GetDefaultClass and storage/util
// IsDefaultAnnotation), used by the DefaultStorageClass admission plugin, the PV controller's
// retroactive class assignment and `kubectl get storageclass`'s "(default)".
import type { StorageClass } from 'kubernetes-types/storage/v1.js';

export const ANN_DEFAULT_STORAGE_CLASS = 'storageclass.kubernetes.io/is-default-class';
export const ANN_BETA_DEFAULT_STORAGE_CLASS = 'storageclass.beta.kubernetes.io/is-default-class';
/** The class of a claim or volume, before spec.storageClassName existed; it still wins over it. */
export const ANN_BETA_STORAGE_CLASS = 'volume.beta.kubernetes.io/storage-class';

export function isDefaultStorageClass(sc: Pick<StorageClass, 'metadata'> | undefined): boolean {
  const a = sc?.metadata?.annotations ?? {};
  return a[ANN_DEFAULT_STORAGE_CLASS] === 'true' || a[ANN_BETA_DEFAULT_STORAGE_CLASS] === 'true';
}

/** The default among `classes`: the newest when several are marked, then the first by name. */
export function defaultStorageClass<T extends Pick<StorageClass, 'metadata'>>(classes: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const sc of classes) {
    if (!isDefaultStorageClass(sc)) continue;
    if (!best) {
      best = sc;
      continue;
    }
    const a = sc.metadata?.creationTimestamp ?? '';
    const b = best.metadata?.creationTimestamp ?? '';
    if (a > b || (a === b && (sc.metadata?.name ?? '') < (best.metadata?.name ?? ''))) best = sc;
  }
  return best;
}
