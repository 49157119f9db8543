// Server-side printer columns (kubectl get) for node.k8s.io/v1, matching upstream's printers.
import type { RuntimeClass } from 'kubernetes-types/node/v1.js';
import type { TableColumn } from '../../types.js';
import { ageColumn, nameColumn } from '../../printing.js';

export const runtimeClassColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Handler',
    type: 'string',
    description: 'The CRI handler that runs pods of this class.',
    cell: (o: RuntimeClass) => o.handler ?? '',
  },
  ageColumn(),
];
