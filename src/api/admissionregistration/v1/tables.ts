// Server-side printer columns (kubectl get) for admissionregistration.k8s.io/v1, matching upstream.
import type {
  MutatingWebhookConfiguration,
  ValidatingAdmissionPolicy,
  ValidatingAdmissionPolicyBinding,
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

/** Upstream printValidatingAdmissionPolicy: NAME, VALIDATIONS, PARAMKIND, AGE. */
export const validatingAdmissionPolicyColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Validations',
    type: 'integer',
    description: 'Validations indicates the number of validation rules defined in this configuration',
    cell: (o: ValidatingAdmissionPolicy) => (o.spec?.validations ?? []).length,
  },
  {
    name: 'ParamKind',
    type: 'string',
    description: 'ParamKind specifies the kind of resources used to parameterize this policy',
    cell: (o: ValidatingAdmissionPolicy) =>
      o.spec?.paramKind ? `${o.spec.paramKind.apiVersion}/${o.spec.paramKind.kind}` : '<unset>',
  },
  ageColumn(),
];

/** Upstream printValidatingAdmissionPolicyBinding: NAME, POLICYNAME, PARAMREF, AGE. */
export const validatingAdmissionPolicyBindingColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'PolicyName',
    type: 'string',
    description: 'PolicyName indicates the policy definition which the policy binding binded to',
    cell: (o: ValidatingAdmissionPolicyBinding) => o.spec?.policyName ?? '',
  },
  {
    name: 'ParamRef',
    type: 'string',
    description: 'ParamRef indicates the param resource which sets the configration param',
    cell: (o: ValidatingAdmissionPolicyBinding) => {
      const ref = o.spec?.paramRef;
      if (!ref) return '<unset>';
      const name = ref.name ?? '*';
      return ref.namespace ? `${ref.namespace}/${name}` : name;
    },
  },
  ageColumn(),
];
