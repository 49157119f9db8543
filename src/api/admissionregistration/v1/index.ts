// admissionregistration.k8s.io/v1: webhook configurations and validating admission policies with
// their bindings (stored; the admission chain reads them).
import type { ResourceDef } from '../../types.js';
import { mutatingAdmissionPolicyBindingResource, mutatingAdmissionPolicyResource } from './mutatingadmissionpolicy.js';
import { mutatingWebhookConfigurationResource } from './mutatingwebhookconfiguration.js';
import { validatingWebhookConfigurationResource } from './validatingwebhookconfiguration.js';
import {
  validatingAdmissionPolicyBindingResource,
  validatingAdmissionPolicyResource,
} from './validatingadmissionpolicy.js';

export {
  mutatingWebhookConfigurationResource,
  validatingWebhookConfigurationResource,
  validatingAdmissionPolicyResource,
  validatingAdmissionPolicyBindingResource,
  mutatingAdmissionPolicyResource,
  mutatingAdmissionPolicyBindingResource,
};

export const resources: ResourceDef[] = [
  mutatingWebhookConfigurationResource,
  validatingWebhookConfigurationResource,
  validatingAdmissionPolicyResource,
  validatingAdmissionPolicyBindingResource,
  mutatingAdmissionPolicyResource,
  mutatingAdmissionPolicyBindingResource,
];
