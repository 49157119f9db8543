// rbac.authorization.k8s.io/v1: roles and bindings.
import type { ResourceDef } from '../../types.js';
import { clusterRoleResource } from './clusterrole.js';
import { clusterRoleBindingResource } from './clusterrolebinding.js';
import { roleResource } from './role.js';
import { roleBindingResource } from './rolebinding.js';

export { clusterRoleBindingResource, clusterRoleResource, roleBindingResource, roleResource };

export const resources: ResourceDef[] = [
  roleResource,
  clusterRoleResource,
  roleBindingResource,
  clusterRoleBindingResource,
];
