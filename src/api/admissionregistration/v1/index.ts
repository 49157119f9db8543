// admissionregistration.k8s.io/v1: webhook configurations (stored; the admission chain reads them).
import type { ResourceDef } from '../../types.js';
import { mutatingWebhookConfigurationResource } from './mutatingwebhookconfiguration.js';
import { validatingWebhookConfigurationResource } from './validatingwebhookconfiguration.js';

export { mutatingWebhookConfigurationResource, validatingWebhookConfigurationResource };

export const resources: ResourceDef[] = [mutatingWebhookConfigurationResource, validatingWebhookConfigurationResource];
