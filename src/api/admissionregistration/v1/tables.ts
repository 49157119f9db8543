// Server-side printer columns (kubectl get) for admissionregistration.k8s.io/v1, matching upstream.
import type {
  MutatingWebhookConfiguration,
  ValidatingWebhookConfiguration,
} from 'kubernetes-types/admissionregistration/v1.js';
import type { TableColumn } from '../../types.js';
import { ageColumn, nameColumn } from '../../printing.js';

function webhookColumns(): TableColumn[] {
  return [
    nameColumn(),
    {
      name: 'Webhooks',
      type: 'integer',
      description: 'Number of webhooks in the configuration.',
      cell: (o: MutatingWebhookConfiguration | ValidatingWebhookConfiguration) => (o.webhooks ?? []).length,
    },
    ageColumn(),
  ];
}

export const mutatingWebhookConfigurationColumns: TableColumn[] = webhookColumns();
export const validatingWebhookConfigurationColumns: TableColumn[] = webhookColumns();
