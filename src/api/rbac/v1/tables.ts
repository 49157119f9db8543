// Server-side printer columns (kubectl get) for rbac.authorization.k8s.io/v1, matching upstream.
// Roles and ClusterRoles have no printer upstream and get the default NAME / CREATED AT table.
import type { ClusterRoleBinding, RoleBinding, Subject } from 'kubernetes-types/rbac/v1.js';
import type { TableColumn } from '../../types.js';
import { ageColumn, defaultColumns, nameColumn } from '../../printing.js';

/** Users, groups and service accounts (`namespace/name`) of a binding's subjects. */
export function subjectsStrings(subjects: readonly Subject[] | undefined): {
  users: string[];
  groups: string[];
  serviceAccounts: string[];
} {
  const users: string[] = [];
  const groups: string[] = [];
  const serviceAccounts: string[] = [];
  for (const s of subjects ?? []) {
    switch (s.kind) {
      case 'ServiceAccount':
        serviceAccounts.push(`${s.namespace ?? ''}/${s.name}`);
        break;
      case 'User':
        users.push(s.name);
        break;
      case 'Group':
        groups.push(s.name);
        break;
    }
  }
  return { users, groups, serviceAccounts };
}

function bindingColumns(what: string): TableColumn[] {
  type Binding = RoleBinding | ClusterRoleBinding;
  return [
    nameColumn(),
    {
      name: 'Role',
      type: 'string',
      description: 'The role granted, as Kind/name.',
      cell: (o: Binding) => `${o.roleRef?.kind ?? ''}/${o.roleRef?.name ?? ''}`,
    },
    ageColumn(),
    {
      name: 'Users',
      type: 'string',
      priority: 1,
      description: `Users in the ${what}.`,
      cell: (o: Binding) => subjectsStrings(o.subjects).users.join(', '),
    },
    {
      name: 'Groups',
      type: 'string',
      priority: 1,
      description: `Groups in the ${what}.`,
      cell: (o: Binding) => subjectsStrings(o.subjects).groups.join(', '),
    },
    {
      name: 'ServiceAccounts',
      type: 'string',
      priority: 1,
      description: `Service accounts in the ${what}.`,
      cell: (o: Binding) => subjectsStrings(o.subjects).serviceAccounts.join(', '),
    },
  ];
}

export const roleColumns: TableColumn[] = defaultColumns();
export const clusterRoleColumns: TableColumn[] = defaultColumns();
export const roleBindingColumns: TableColumn[] = bindingColumns('roleBinding');
export const clusterRoleBindingColumns: TableColumn[] = bindingColumns('clusterRoleBinding');
