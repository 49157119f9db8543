// Server-side printer columns (kubectl get) for storage.k8s.io/v1, matching upstream's printers.
import type { CSIDriver, CSINode, StorageClass, VolumeAttachment } from 'kubernetes-types/storage/v1.js';
import type { TableColumn } from '../../types.js';
import { NONE, UNSET, ageColumn, nameColumn } from '../../printing.js';
import { isDefaultStorageClass } from '../../helpers/storageclass.js';

export const storageClassColumns: TableColumn[] = [
  {
    ...nameColumn(),
    cell: (o: StorageClass) => (o.metadata?.name ?? '') + (isDefaultStorageClass(o) ? ' (default)' : ''),
  },
  {
    name: 'Provisioner',
    type: 'string',
    description: 'The volume plugin that provisions volumes.',
    cell: (o: StorageClass) => o.provisioner ?? '',
  },
  {
    name: 'ReclaimPolicy',
    type: 'string',
    description: 'Reclaim policy given to provisioned volumes.',
    cell: (o: StorageClass) => o.reclaimPolicy ?? 'Delete',
  },
  {
    name: 'VolumeBindingMode',
    type: 'string',
    description: 'When volumes are provisioned and bound.',
    cell: (o: StorageClass) => o.volumeBindingMode ?? 'Immediate',
  },
  {
    name: 'AllowVolumeExpansion',
    type: 'string',
    description: 'Whether claims of this class may grow.',
    cell: (o: StorageClass) => o.allowVolumeExpansion ?? false,
  },
  ageColumn(),
];

export const csiDriverColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'AttachRequired',
    type: 'boolean',
    description: 'Whether volumes need an attach step.',
    cell: (o: CSIDriver) => o.spec?.attachRequired ?? true,
  },
  {
    name: 'PodInfoOnMount',
    type: 'boolean',
    description: 'Whether pod details are passed on mount.',
    cell: (o: CSIDriver) => o.spec?.podInfoOnMount ?? false,
  },
  {
    name: 'StorageCapacity',
    type: 'boolean',
    description: 'Whether the scheduler considers storage capacity.',
    cell: (o: CSIDriver) => o.spec?.storageCapacity ?? false,
  },
  {
    name: 'TokenRequests',
    type: 'string',
    description: 'Audiences of the service account tokens passed to the driver.',
    cell: (o: CSIDriver) => (o.spec?.tokenRequests ? o.spec.tokenRequests.map((t) => t.audience).join(',') : UNSET),
  },
  {
    name: 'RequiresRepublish',
    type: 'boolean',
    description: 'Whether NodePublishVolume is called periodically.',
    cell: (o: CSIDriver) => o.spec?.requiresRepublish ?? false,
  },
  {
    name: 'Modes',
    type: 'string',
    description: 'Volume lifecycle modes the driver supports.',
    cell: (o: CSIDriver) => (o.spec?.volumeLifecycleModes ?? []).join(',') || NONE,
  },
  ageColumn(),
];

export const csiNodeColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Drivers',
    type: 'integer',
    description: 'Number of CSI drivers registered on the node.',
    cell: (o: CSINode) => (o.spec?.drivers ?? []).length,
  },
  ageColumn(),
];

export const volumeAttachmentColumns: TableColumn[] = [
  nameColumn(),
  // Upstream marks this column with the name format too.
  {
    name: 'Attacher',
    type: 'string',
    format: 'name',
    description: 'The driver attaching the volume.',
    cell: (o: VolumeAttachment) => o.spec?.attacher ?? '',
  },
  {
    name: 'PV',
    type: 'string',
    description: 'The persistent volume being attached.',
    cell: (o: VolumeAttachment) => o.spec?.source?.persistentVolumeName ?? '',
  },
  {
    name: 'Node',
    type: 'string',
    description: 'The node the volume is attached to.',
    cell: (o: VolumeAttachment) => o.spec?.nodeName ?? '',
  },
  {
    name: 'Attached',
    type: 'boolean',
    description: 'Whether the attach succeeded.',
    cell: (o: VolumeAttachment) => o.status?.attached ?? false,
  },
  ageColumn(),
];
