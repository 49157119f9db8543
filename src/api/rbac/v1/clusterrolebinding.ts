// rbac.authorization.k8s.io/v1 ClusterRoleBinding.
import type { ResourceDef } from '../../types.js';
import { clusterRoleBindingColumns } from './tables.js';
import { RBAC_GROUP } from './role.js';
import { defaultBinding, validateBinding, validateBindingUpdate } from './rolebinding.js';

export const clusterRoleBindingResource: ResourceDef = {
  group: RBAC_GROUP,
  versions: [{ name: 'v1' }],
  kind: 'ClusterRoleBinding',
  plural: 'clusterrolebindings',
  singular: 'clusterrolebinding',
  namespaced: false,
  nameRule: 'path-segment',
  generationTracksSpec: false,
  defaults: defaultBinding,
  validate: (obj) => validateBinding(obj, false),
  validateUpdate: validateBindingUpdate,
  table: clusterRoleBindingColumns,
};
