// storage.k8s.io/v1 StorageClass (cluster-scoped). Also the CSI driver name rule the other
// storage kinds share.
import type { ResourceDef } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  forbidden,
  invalid,
  notSupported,
  path,
  required,
  tooLong,
} from '../../../machinery/fielderrors.js';
import { isDNS1123Subdomain, isQualifiedName, validateLabelName } from '../../../machinery/validation.js';
import { storageClassColumns } from './tables.js';
import { deepEqual, immutable, isObject } from '../../apps/v1/workload.js';

const MAX_PARAMETER_SIZE = 256 * 1024;
const MAX_PARAMETERS = 512;
const RECLAIM_POLICIES = ['Delete', 'Retain'];
const BINDING_MODES = ['Immediate', 'WaitForFirstConsumer'];

/** Upstream ValidateCSIDriverName. */
export function validateCSIDriverName(name: unknown, p: FieldPath): FieldError[] {
  const s = typeof name === 'string' ? name : '';
  const errs: FieldError[] = [];
  if (s.length === 0) errs.push(required(p));
  if (s.length > 63) errs.push(tooLong(p, 63));
  for (const m of isDNS1123Subdomain(s.toLowerCase())) errs.push(invalid(p, s, m));
  return errs;
}

export function defaultStorageClass(obj: any): void {
  if (!obj.reclaimPolicy) obj.reclaimPolicy = 'Delete';
  if (!obj.volumeBindingMode) obj.volumeBindingMode = 'Immediate';
}

function validateParameters(params: unknown, p: FieldPath): FieldError[] {
  if (!isObject(params)) return [];
  const entries = Object.entries(params);
  if (entries.length > MAX_PARAMETERS) return [tooLong(p, MAX_PARAMETERS)];
  const errs: FieldError[] = [];
  let total = 0;
  for (const [k, v] of entries) {
    if (k.length < 1) errs.push(invalid(p, k, 'field can not be empty.'));
    total += Buffer.byteLength(k) + Buffer.byteLength(String(v ?? ''));
  }
  if (total > MAX_PARAMETER_SIZE) errs.push(tooLong(p, MAX_PARAMETER_SIZE));
  return errs;
}

function validateAllowedTopologies(terms: unknown, p: FieldPath): FieldError[] {
  if (!Array.isArray(terms)) return [];
  const errs: FieldError[] = [];
  terms.forEach((term: any, i) => {
    const tp = p.index(i);
    const exprs: any[] = term?.matchLabelExpressions ?? [];
    if (exprs.length === 0) errs.push(required(tp, 'must contain at least one requirement'));
    const keys = new Set<string>();
    exprs.forEach((e, j) => {
      const ep = tp.child('matchLabelExpressions').index(j);
      errs.push(...validateLabelName(e?.key ?? '', ep.child('key')));
      if ((e?.values ?? []).length === 0) errs.push(required(ep.child('values'), 'must specify as least one value'));
      if (keys.has(e?.key)) errs.push(invalid(ep.child('key'), e?.key, 'duplicate key'));
      keys.add(e?.key);
    });
  });
  return errs;
}

export function validateStorageClass(obj: any): FieldError[] {
  const errs: FieldError[] = [];
  const prov: string = obj.provisioner ?? '';
  if (prov.length === 0) errs.push(required(path('provisioner'), ''));
  else for (const m of isQualifiedName(prov.toLowerCase())) errs.push(invalid(path('provisioner'), prov, m));
  errs.push(...validateParameters(obj.parameters, path('parameters')));
  if (obj.reclaimPolicy && !RECLAIM_POLICIES.includes(obj.reclaimPolicy))
    errs.push(notSupported(path('reclaimPolicy'), obj.reclaimPolicy, RECLAIM_POLICIES));
  if (!obj.volumeBindingMode) errs.push(required(path('volumeBindingMode')));
  else if (!BINDING_MODES.includes(obj.volumeBindingMode))
    errs.push(notSupported(path('volumeBindingMode'), obj.volumeBindingMode, BINDING_MODES));
  errs.push(...validateAllowedTopologies(obj.allowedTopologies, path('allowedTopologies')));
  return errs;
}

export function validateStorageClassUpdate(obj: any, old: any): FieldError[] {
  const errs: FieldError[] = [];
  if (!deepEqual(obj.parameters, old.parameters))
    errs.push(forbidden(path('parameters'), 'updates to parameters are forbidden.'));
  if ((obj.provisioner ?? '') !== (old.provisioner ?? ''))
    errs.push(forbidden(path('provisioner'), 'updates to provisioner are forbidden.'));
  if ((obj.reclaimPolicy ?? '') !== (old.reclaimPolicy ?? ''))
    errs.push(forbidden(path('reclaimPolicy'), 'updates to reclaimPolicy are forbidden.'));
  errs.push(...immutable(obj.volumeBindingMode, old.volumeBindingMode, path('volumeBindingMode')));
  return errs;
}

export const storageClassResource: ResourceDef = {
  group: 'storage.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'StorageClass',
  plural: 'storageclasses',
  singular: 'storageclass',
  shortNames: ['sc'],
  namespaced: false,
  generationTracksSpec: false,
  defaults: defaultStorageClass,
  validate: validateStorageClass,
  validateUpdate: validateStorageClassUpdate,
  table: storageClassColumns,
};
