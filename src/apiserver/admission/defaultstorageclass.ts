// DefaultStorageClass (upstream plugin/pkg/admission/storage/storageclass/setdefault): a claim
// created without a class (spec.storageClassName absent — an explicit "" means "no class" and is
// left alone) gets the default StorageClass, the one annotated
// storageclass.kubernetes.io/is-default-class: "true"; with several, the newest wins. With none,
// the claim keeps no class; the PV controller assigns one retroactively once a default appears.
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { ANN_BETA_STORAGE_CLASS, defaultStorageClass } from '../../api/helpers/storageclass.js';
import type { AdmissionAttributes, MutatingPlugin } from './interfaces.js';

export class DefaultStorageClass implements MutatingPlugin {
  readonly name = 'DefaultStorageClass';

  /** `classes`: the StorageClasses the server has now. */
  constructor(private readonly classes: () => StorageClass[]) {}

  handles(a: AdmissionAttributes): boolean {
    return a.operation === 'CREATE' && !a.subresource && a.group === '' && a.resource === 'persistentvolumeclaims';
  }

  admit(a: AdmissionAttributes): void {
    const claim = a.object;
    if (!claim) return;
    const spec = (claim.spec ??= {});
    if (spec.storageClassName !== undefined && spec.storageClassName !== null) return;
    if (claim.metadata?.annotations?.[ANN_BETA_STORAGE_CLASS] !== undefined) return;
    const def = defaultStorageClass(this.classes());
    if (def?.metadata?.name) spec.storageClassName = def.metadata.name;
  }
}
