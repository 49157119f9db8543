// rbac.authorization.k8s.io/v1 Role, and the policy-rule checks ClusterRole shares.
import type { ResourceDef } from '../../types.js';
import { type FieldError, type FieldPath, invalid, path, required } from '../../../machinery/fielderrors.js';
import { roleColumns } from './tables.js';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';

/** Upstream ValidatePolicyRule. */
export function validatePolicyRule(rule: any, isNamespaced: boolean, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const verbs: unknown[] = rule?.verbs ?? [];
  if (verbs.length === 0) errs.push(required(p.child('verbs'), 'verbs must contain at least one value'));
  const nonResourceURLs: unknown[] = rule?.nonResourceURLs ?? [];
  if (nonResourceURLs.length > 0) {
    if (isNamespaced) {
      errs.push(
        invalid(p.child('nonResourceURLs'), nonResourceURLs, 'namespaced rules cannot apply to non-resource URLs'),
      );
    }
    if (
      (rule.apiGroups ?? []).length > 0 ||
      (rule.resources ?? []).length > 0 ||
      (rule.resourceNames ?? []).length > 0
    ) {
      errs.push(
        invalid(
          p.child('nonResourceURLs'),
          nonResourceURLs,
          'rules cannot apply to both regular resources and non-resource URLs',
        ),
      );
    }
    return errs;
  }
  if ((rule?.apiGroups ?? []).length === 0)
    errs.push(required(p.child('apiGroups'), 'resource rules must supply at least one api group'));
  if ((rule?.resources ?? []).length === 0)
    errs.push(required(p.child('resources'), 'resource rules must supply at least one resource'));
  return errs;
}

export function validateRules(obj: any, isNamespaced: boolean): FieldError[] {
  const errs: FieldError[] = [];
  (obj.rules ?? []).forEach((r: any, i: number) =>
    errs.push(...validatePolicyRule(r, isNamespaced, path('rules').index(i))),
  );
  return errs;
}

export const roleResource: ResourceDef = {
  group: RBAC_GROUP,
  versions: [{ name: 'v1' }],
  kind: 'Role',
  plural: 'roles',
  singular: 'role',
  namespaced: true,
  nameRule: 'path-segment',
  generationTracksSpec: false,
  validate: (obj) => validateRules(obj, true),
  table: roleColumns,
};
