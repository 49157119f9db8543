// The core group, version v1: every built-in resource definition of the legacy API.
import type { ResourceDef } from '../../types.js';
import { namespaces } from './namespace.js';
import { pods } from './pod.js';
import { services } from './service.js';
import { endpoints } from './endpoints.js';
import { configMaps } from './configmap.js';
import { secrets } from './secret.js';
import { serviceAccounts } from './serviceaccount.js';
import { nodes } from './node.js';
import { events } from './event.js';
import { limitRanges } from './limitrange.js';
import { resourceQuotas } from './resourcequota.js';
import { replicationControllers } from './replicationcontroller.js';
import { persistentVolumes } from './persistentvolume.js';
import { persistentVolumeClaims } from './persistentvolumeclaim.js';
import { podTemplates } from './podtemplate.js';
import { componentStatuses } from './componentstatus.js';

export {
  namespaces,
  pods,
  services,
  endpoints,
  configMaps,
  secrets,
  serviceAccounts,
  nodes,
  events,
  limitRanges,
  resourceQuotas,
  replicationControllers,
  persistentVolumes,
  persistentVolumeClaims,
  podTemplates,
  componentStatuses,
};
export { defaultPodSpec, validatePodSpec, defaultPodTemplateSpec, validatePodTemplateSpec } from './podspec.js';

export const resources: ResourceDef[] = [
  namespaces,
  pods,
  services,
  endpoints,
  configMaps,
  secrets,
  serviceAccounts,
  nodes,
  events,
  limitRanges,
  resourceQuotas,
  replicationControllers,
  persistentVolumes,
  persistentVolumeClaims,
  podTemplates,
  componentStatuses,
];
