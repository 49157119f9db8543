// storage.k8s.io/v1 VolumeAttachment (cluster-scoped): attach a volume to a node.
import type { ResourceDef } from '../../types.js';
import { type FieldError, type FieldPath, forbidden, invalid, path, required } from '../../../machinery/fielderrors.js';
import { isDNS1123Subdomain } from '../../../machinery/validation.js';
import { volumeAttachmentColumns } from './tables.js';
import { clearStatus, deepEqual, isObject } from '../../apps/v1/workload.js';
import { validateCSIDriverName } from './storageclass.js';

const MAX_ATTACHED_METADATA = 256 * 1024;
const MAX_ERROR_MESSAGE = 1024;
const isSet = (v: unknown): boolean => v !== undefined && v !== null;

function validateSource(src: any, p: FieldPath): FieldError[] {
  const hasPV = isSet(src?.persistentVolumeName);
  const hasInline = isSet(src?.inlineVolumeSpec);
  if (!hasPV && !hasInline)
    return [required(p, 'must specify exactly one of inlineVolumeSpec and persistentVolumeName')];
  if (hasPV && hasInline)
    return [forbidden(p, 'must specify exactly one of inlineVolumeSpec and persistentVolumeName')];
  if (hasPV) {
    const pv = String(src.persistentVolumeName);
    if (pv.length === 0)
      return [required(p.child('persistentVolumeName'), 'must specify non empty persistentVolumeName')];
    return isDNS1123Subdomain(pv).map((m) => invalid(p.child('persistentVolumeName'), pv, m));
  }
  return [];
}

function validateVolumeError(e: any, p: FieldPath): FieldError[] {
  if (!isObject(e)) return [];
  const msg: string = e.message ?? '';
  return msg.length > MAX_ERROR_MESSAGE
    ? [invalid(p.child('message'), msg, `must be ${MAX_ERROR_MESSAGE} characters or less`)]
    : [];
}

export function validateVolumeAttachment(obj: any): FieldError[] {
  const spec = obj.spec ?? {};
  const p = path('spec');
  const errs: FieldError[] = [];
  const attacher: string = spec.attacher ?? '';
  if (attacher.length === 0) errs.push(required(p.child('attacher'), attacher));
  else errs.push(...validateCSIDriverName(attacher, p.child('attacher')));
  errs.push(...validateSource(spec.source, p.child('source')));
  const node: string = spec.nodeName ?? '';
  for (const m of isDNS1123Subdomain(node)) errs.push(invalid(p.child('nodeName'), node, m));
  const status = obj.status;
  if (isObject(status)) {
    const sp = path('status');
    let size = 0;
    for (const [k, v] of Object.entries(status.attachmentMetadata ?? {})) size += k.length + String(v).length;
    if (size > MAX_ATTACHED_METADATA)
      errs.push(invalid(sp.child('attachmentMetadata'), '', `must be less than ${MAX_ATTACHED_METADATA} bytes`));
    errs.push(...validateVolumeError(status.attachError, sp.child('attachError')));
    errs.push(...validateVolumeError(status.detachError, sp.child('detachError')));
  }
  return errs;
}

export const volumeAttachmentResource: ResourceDef = {
  group: 'storage.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'VolumeAttachment',
  plural: 'volumeattachments',
  singular: 'volumeattachment',
  namespaced: false,
  subresources: { status: true },
  generationTracksSpec: true,
  prepareForCreate: clearStatus,
  validate: validateVolumeAttachment,
  validateUpdate: (obj, old) =>
    deepEqual(obj.spec, old.spec) ? [] : [invalid(path('spec'), obj.spec, 'field is immutable')],
  table: volumeAttachmentColumns,
};
