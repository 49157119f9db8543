// Server-side printer columns (kubectl get) for policy/v1, matching upstream's printers.
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import type { TableColumn } from '../../types.js';
import { ageColumn, nameColumn } from '../../printing.js';

function intOrString(v: number | string | undefined | null): string {
  return v === undefined || v === null ? 'N/A' : String(v);
}

export const podDisruptionBudgetColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Min Available',
    type: 'string',
    description: 'Pods that must stay available.',
    cell: (o: PodDisruptionBudget) => intOrString(o.spec?.minAvailable),
  },
  {
    name: 'Max Unavailable',
    type: 'string',
    description: 'Pods that may be unavailable.',
    cell: (o: PodDisruptionBudget) => intOrString(o.spec?.maxUnavailable),
  },
  {
    name: 'Allowed Disruptions',
    type: 'integer',
    description: 'Pod disruptions allowed right now.',
    cell: (o: PodDisruptionBudget) => o.status?.disruptionsAllowed ?? 0,
  },
  ageColumn(),
];
