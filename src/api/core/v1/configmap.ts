// core/v1 ConfigMap: key validation, data/binaryData overlap, the 1 MiB size limit, immutability.
import type { ConfigMap } from 'kubernetes-types/core/v1.js';
import type { ResourceDef } from '../../types.js';
import { type FieldError, forbidden, invalid, path, tooLong } from '../../../machinery/fielderrors.js';
import { isConfigMapKey } from '../../../machinery/validation.js';
import { configMapColumns } from './tables.js';
import { semanticEqual } from './helpers.js';

/** core.MaxSecretSize, shared by ConfigMaps and Secrets. */
export const MAX_SIZE = 1024 * 1024;

export const base64Length = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'base64').length : 0);

export function validateConfigMap(cm: ConfigMap): FieldError[] {
  const errs: FieldError[] = [];
  const data: Record<string, string> = cm.data ?? {};
  const bin: Record<string, string> = cm.binaryData ?? {};
  let total = 0;
  for (const k in data) {
    const v = data[k];
    // Paths are built only for keys with errors: a ConfigMap may hold tens of thousands of keys.
    for (const m of isConfigMapKey(k)) errs.push(invalid(path('data').key(k), k, m));
    if (Object.hasOwn(bin, k)) errs.push(invalid(path('data').key(k), k, 'duplicate of key present in binaryData'));
    total += Buffer.byteLength(String(v ?? ''), 'utf8');
  }
  for (const k in bin) {
    const v = bin[k];
    for (const m of isConfigMapKey(k)) errs.push(invalid(path('binaryData').key(k), k, m));
    total += base64Length(v);
  }
  if (total > MAX_SIZE) errs.push(tooLong(path(''), MAX_SIZE));
  return errs;
}

export function validateImmutableData(obj: any, old: any, keys: string[]): FieldError[] {
  const errs: FieldError[] = [];
  if (old.immutable !== true) return errs;
  const msg = 'field is immutable when `immutable` is set';
  if (obj.immutable !== true) errs.push(forbidden(path('immutable'), msg));
  for (const k of keys) if (!semanticEqual(obj[k], old[k])) errs.push(forbidden(path(k), msg));
  return errs;
}

export const configMaps: ResourceDef = {
  group: '',
  versions: [{ name: 'v1' }],
  kind: 'ConfigMap',
  plural: 'configmaps',
  singular: 'configmap',
  shortNames: ['cm'],
  namespaced: true,
  nameRule: 'dns1123-subdomain',
  generationTracksSpec: false,
  table: configMapColumns,
  validate: (obj: any) => validateConfigMap(obj),
  validateUpdate: (obj: any, old: any) => validateImmutableData(obj, old, ['data', 'binaryData']),
};
