// Server-side printer columns (kubectl get) for apiextensions.k8s.io/v1. CustomResourceDefinitions
// have no printer upstream, so they get the default NAME / CREATED AT table.
import type { TableColumn } from '../../types.js';
import { defaultColumns } from '../../printing.js';

export const customResourceDefinitionColumns: TableColumn[] = defaultColumns();
