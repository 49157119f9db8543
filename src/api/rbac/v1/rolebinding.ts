// rbac.authorization.k8s.io/v1 RoleBinding, and the roleRef/subject checks shared with
// ClusterRoleBinding.
import type { ResourceDef } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  invalid,
  notSupported,
  path,
  required,
} from '../../../machinery/fielderrors.js';
import { isDNS1123Subdomain, isPathSegmentName } from '../../../machinery/validation.js';
import { roleBindingColumns } from './tables.js';
import { deepEqual, isObject } from '../../apps/v1/workload.js';
import { RBAC_GROUP } from './role.js';

/** SetDefaults_RoleBinding / ClusterRoleBinding / Subject. */
export function defaultBinding(obj: any): void {
  if (isObject(obj.roleRef) && !obj.roleRef.apiGroup) obj.roleRef.apiGroup = RBAC_GROUP;
  for (const s of obj.subjects ?? []) {
    if (!isObject(s) || s.apiGroup) continue;
    if (s.kind === 'ServiceAccount') s.apiGroup = '';
    else if (s.kind === 'User' || s.kind === 'Group') s.apiGroup = RBAC_GROUP;
  }
}

function validateSubject(s: any, isNamespaced: boolean, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const name: string = s?.name ?? '';
  if (name.length === 0) errs.push(required(p.child('name')));
  switch (s?.kind) {
    case 'ServiceAccount':
      if (name.length > 0) for (const m of isDNS1123Subdomain(name)) errs.push(invalid(p.child('name'), name, m));
      if ((s.apiGroup ?? '') !== '') errs.push(notSupported(p.child('apiGroup'), s.apiGroup, ['']));
      if (!isNamespaced && !s.namespace) errs.push(required(p.child('namespace')));
      break;
    case 'User':
    case 'Group':
      if (s.apiGroup !== RBAC_GROUP) errs.push(notSupported(p.child('apiGroup'), s.apiGroup ?? '', [RBAC_GROUP]));
      break;
    default:
      errs.push(notSupported(p.child('kind'), s?.kind ?? '', ['ServiceAccount', 'User', 'Group']));
  }
  return errs;
}

export function validateBinding(obj: any, isNamespaced: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const ref = obj.roleRef ?? {};
  const rp = path('roleRef');
  if (ref.apiGroup !== RBAC_GROUP) errs.push(notSupported(rp.child('apiGroup'), ref.apiGroup ?? '', [RBAC_GROUP]));
  const kinds = isNamespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (!kinds.includes(ref.kind)) errs.push(notSupported(rp.child('kind'), ref.kind ?? '', kinds));
  if (!ref.name) errs.push(required(rp.child('name')));
  else for (const m of isPathSegmentName(ref.name)) errs.push(invalid(rp.child('name'), ref.name, m));
  (obj.subjects ?? []).forEach((s: any, i: number) =>
    errs.push(...validateSubject(s, isNamespaced, path('subjects').index(i))),
  );
  return errs;
}

/** roleRef cannot change: a binding to another role is another binding. */
export function validateBindingUpdate(obj: any, old: any): FieldError[] {
  return deepEqual(obj.roleRef, old.roleRef)
    ? []
    : [invalid(path('roleRef'), obj.roleRef ?? null, 'cannot change roleRef')];
}

export const roleBindingResource: ResourceDef = {
  group: RBAC_GROUP,
  versions: [{ name: 'v1' }],
  kind: 'RoleBinding',
  plural: 'rolebindings',
  singular: 'rolebinding',
  namespaced: true,
  nameRule: 'path-segment',
  generationTracksSpec: false,
  defaults: defaultBinding,
  validate: (obj) => validateBinding(obj, true),
  validateUpdate: validateBindingUpdate,
  table: roleBindingColumns,
};
