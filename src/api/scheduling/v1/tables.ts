// Server-side printer columns (kubectl get) for scheduling.k8s.io/v1, matching upstream's printers.
import type { PriorityClass } from 'kubernetes-types/scheduling/v1.js';
import type { TableColumn } from '../../types.js';
import { ageColumn, nameColumn } from '../../printing.js';

export const priorityClassColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Value',
    type: 'integer',
    description: 'Priority given to pods of this class.',
    cell: (o: PriorityClass) => o.value ?? 0,
  },
  {
    name: 'Global-Default',
    type: 'boolean',
    description: 'Whether pods without a class get this one.',
    cell: (o: PriorityClass) => o.globalDefault ?? false,
  },
  ageColumn(),
  {
    name: 'PreemptionPolicy',
    type: 'string',
    description: 'Whether pods of this class may preempt others.',
    cell: (o: PriorityClass) => o.preemptionPolicy ?? '',
  },
];
