// rbac.authorization.k8s.io/v1 ClusterRole (with optional aggregationRule).
import type { ResourceDef } from '../../types.js';
import { type FieldError, path, required } from '../../../machinery/fielderrors.js';
import { validateLabelSelector } from '../../../machinery/validation.js';
import { clusterRoleColumns } from './tables.js';
import { RBAC_GROUP, validateRules } from './role.js';

export function validateClusterRole(obj: any): FieldError[] {
  const errs = validateRules(obj, false);
  const agg = obj.aggregationRule;
  if (agg !== undefined && agg !== null) {
    const sels: any[] = agg.clusterRoleSelectors ?? [];
    const sp = path('aggregationRule', 'clusterRoleSelectors');
    if (sels.length === 0)
      errs.push(required(sp, 'at least one clusterRoleSelector required if aggregationRule is non-nil'));
    sels.forEach((s, i) => errs.push(...validateLabelSelector(s, sp.index(i))));
  }
  return errs;
}

export const clusterRoleResource: ResourceDef = {
  group: RBAC_GROUP,
  versions: [{ name: 'v1' }],
  kind: 'ClusterRole',
  plural: 'clusterroles',
  singular: 'clusterrole',
  namespaced: false,
  nameRule: 'path-segment',
  generationTracksSpec: false,
  validate: validateClusterRole,
  table: clusterRoleColumns,
};
