// PersistentVolumeClaimResize (upstream plugin/pkg/admission/storage/persistentvolume/resize): a
// claim may grow only once it is bound, and only when it keeps its StorageClass and that class
// allows expansion. Shrinking is refused by validation, not here.
import type { PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { claimClass, claimRequest } from '../../api/helpers/volumes.js';
import { type AdmissionAttributes, type ValidatingPlugin, forbiddenFor } from './interfaces.js';

export class PersistentVolumeClaimResize implements ValidatingPlugin {
  readonly name = 'PersistentVolumeClaimResize';

  /** `storageClass`: the StorageClass of that name the server has now. */
  constructor(private readonly storageClass: (name: string) => StorageClass | undefined) {}

  handles(a: AdmissionAttributes): boolean {
    return a.operation === 'UPDATE' && !a.subresource && a.group === '' && a.resource === 'persistentvolumeclaims';
  }

  validate(a: AdmissionAttributes): void {
    const claim = a.object as PersistentVolumeClaim | undefined;
    const old = a.oldObject as PersistentVolumeClaim | undefined;
    if (!claim || !old || claimRequest(claim) <= claimRequest(old)) return;
    if (old.status?.phase !== 'Bound') throw forbiddenFor(a, 'Only bound persistent volume claims can be expanded');
    if (!this.allowsResize(claim, old))
      throw forbiddenFor(
        a,
        'only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize',
      );
  }

  private allowsResize(claim: PersistentVolumeClaim, old: PersistentVolumeClaim): boolean {
    const className = claimClass(claim);
    if (className === '' || className !== claimClass(old)) return false;
    return this.storageClass(className)?.allowVolumeExpansion === true;
  }
}
