// core/v1 PersistentVolumeClaim: volumeMode default, ValidatePersistentVolumeClaimSpec, and the
// update rule that only lets bound claims grow.
import type { PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { ResourceDef, StrategyContext } from '../../types.js';
import { type FieldError, forbidden, invalid, notSupported, path, required } from '../../../machinery/fielderrors.js';
import { isDNS1123Subdomain, validateLabelSelector } from '../../../machinery/validation.js';
import { persistentVolumeClaimColumns } from './tables.js';
import { VOLUME_MODES, validateAccessModes, validatePositiveStorage } from './persistentvolume.js';
import { clone, compareQuantity, semanticEqual } from './helpers.js';

export function defaultPersistentVolumeClaim(pvc: PersistentVolumeClaim): void {
  const c = pvc as any;
  c.spec ??= {};
  if (!c.spec.volumeMode) c.spec.volumeMode = 'Filesystem';
  c.status ??= {};
  if (!c.status.phase) c.status.phase = 'Pending';
}

/** ValidatePersistentVolumeClaimSpec; `p` is `spec` (or a template's spec). */
export function validatePersistentVolumeClaimSpec(spec: any, p = path('spec')): FieldError[] {
  const errs = validateAccessModes(spec?.accessModes, p.child('accessModes'), 'at least 1 access mode is required');
  if (spec?.selector) errs.push(...validateLabelSelector(spec.selector, p.child('selector')));
  const rp = p.child('resources').key('storage');
  const requests = spec?.resources?.requests ?? {};
  if (!('storage' in requests)) errs.push(required(rp));
  else errs.push(...validatePositiveStorage('storage', requests.storage, rp));
  if (spec?.storageClassName) {
    errs.push(
      ...isDNS1123Subdomain(spec.storageClassName).map((m) =>
        invalid(p.child('storageClassName'), spec.storageClassName, m),
      ),
    );
  }
  if (spec?.volumeMode && !VOLUME_MODES.includes(spec.volumeMode))
    errs.push(notSupported(p.child('volumeMode'), spec.volumeMode, VOLUME_MODES));
  if (spec?.dataSource) {
    const dp = p.child('dataSource');
    if (!spec.dataSource.name) errs.push(required(dp.child('name')));
    if (!spec.dataSource.kind) errs.push(required(dp.child('kind')));
    if (!spec.dataSource.apiGroup && spec.dataSource.kind && spec.dataSource.kind !== 'PersistentVolumeClaim') {
      errs.push(
        invalid(dp, spec.dataSource.kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"),
      );
    }
  }
  return errs;
}

export function validatePersistentVolumeClaimUpdate(pvc: any, old: any): FieldError[] {
  const errs: FieldError[] = [];
  const next = clone(pvc.spec ?? {});
  const prev = clone(old.spec ?? {});
  // Binding fills volumeName; volumeAttributesClassName may change.
  prev.volumeName = next.volumeName;
  prev.volumeAttributesClassName = next.volumeAttributesClassName;
  if (
    !prev.storageClassName &&
    old.metadata?.annotations?.['volume.beta.kubernetes.io/storage-class'] === next.storageClassName
  ) {
    prev.storageClassName = next.storageClassName;
  }
  if (old.status?.phase === 'Bound' && next.resources?.requests) {
    next.resources.requests.storage = old.spec?.resources?.requests?.storage;
  }
  if (!semanticEqual(next, prev)) {
    errs.push(
      forbidden(
        path('spec'),
        'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
      ),
    );
  }
  // Shrinking is allowed down to (not including) the capacity in status, to recover from a failed expansion.
  const newSize = pvc.spec?.resources?.requests?.storage;
  const c = compareQuantity(newSize, old.spec?.resources?.requests?.storage);
  if (c !== undefined && c < 0) {
    const cap = old.status?.capacity?.storage ?? '0';
    const vs = compareQuantity(newSize, cap);
    if (vs !== undefined && vs <= 0) {
      errs.push(
        forbidden(path('spec', 'resources', 'requests', 'storage'), 'field can not be less than status.capacity'),
      );
    }
  }
  return errs;
}

export const persistentVolumeClaims: ResourceDef = {
  group: '',
  versions: [{ name: 'v1' }],
  kind: 'PersistentVolumeClaim',
  plural: 'persistentvolumeclaims',
  singular: 'persistentvolumeclaim',
  shortNames: ['pvc'],
  namespaced: true,
  nameRule: 'dns1123-subdomain',
  subresources: { status: true },
  generationTracksSpec: false,
  table: persistentVolumeClaimColumns,
  defaults: defaultPersistentVolumeClaim,
  prepareForCreate(obj: any) {
    obj.status = { phase: 'Pending' };
  },
  prepareForUpdate(obj: any, old: any, ctx: StrategyContext) {
    if (ctx.subresource === 'status') obj.spec = old.spec;
    else if (!ctx.subresource) obj.status = old.status;
  },
  validate(obj: any, ctx: StrategyContext) {
    if (ctx.subresource === 'status') return [];
    return validatePersistentVolumeClaimSpec(obj.spec);
  },
  validateUpdate(obj: any, old: any, ctx: StrategyContext) {
    if (ctx.subresource) return [];
    return validatePersistentVolumeClaimUpdate(obj, old);
  },
};
