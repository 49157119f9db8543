// storage.k8s.io/v1: StorageClass, CSIDriver, CSINode, VolumeAttachment.
import type { ResourceDef } from '../../types.js';
import { csiDriverResource } from './csidriver.js';
import { csiNodeResource } from './csinode.js';
import { storageClassResource } from './storageclass.js';
import { volumeAttachmentResource } from './volumeattachment.js';

export { csiDriverResource, csiNodeResource, storageClassResource, volumeAttachmentResource };

export const resources: ResourceDef[] = [
  storageClassResource,
  csiDriverResource,
  csiNodeResource,
  volumeAttachmentResource,
];
