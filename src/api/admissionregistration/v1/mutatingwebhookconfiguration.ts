// admissionregistration.k8s.io/v1 MutatingWebhookConfiguration.
import type { ResourceDef } from '../../types.js';
import { mutatingWebhookConfigurationColumns } from './tables.js';
import { defaultWebhookConfiguration, validateWebhookConfiguration } from './validatingwebhookconfiguration.js';

export const mutatingWebhookConfigurationResource: ResourceDef = {
  group: 'admissionregistration.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'MutatingWebhookConfiguration',
  plural: 'mutatingwebhookconfigurations',
  singular: 'mutatingwebhookconfiguration',
  categories: ['api-extensions'],
  namespaced: false,
  generationTracksSpec: true,
  defaults: (obj) => defaultWebhookConfiguration(obj, true),
  validate: (obj) => validateWebhookConfiguration(obj, true),
  table: mutatingWebhookConfigurationColumns,
};
