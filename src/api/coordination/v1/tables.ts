// Server-side printer columns (kubectl get) for coordination.k8s.io/v1, matching upstream's printers.
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { TableColumn } from '../../types.js';
import { ageColumn, nameColumn } from '../../printing.js';

export const leaseColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Holder',
    type: 'string',
    description: 'Identity of the current holder.',
    cell: (o: Lease) => o.spec?.holderIdentity ?? '',
  },
  ageColumn(),
];
