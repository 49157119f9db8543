// apps/v1: the workload controllers' resources.
import type { ResourceDef } from '../../types.js';
import { controllerRevisionResource } from './controllerrevision.js';
import { daemonSetResource } from './daemonset.js';
import { deploymentResource } from './deployment.js';
import { replicaSetResource } from './replicaset.js';
import { statefulSetResource } from './statefulset.js';

export { controllerRevisionResource, daemonSetResource, deploymentResource, replicaSetResource, statefulSetResource };

export const resources: ResourceDef[] = [
  deploymentResource,
  replicaSetResource,
  statefulSetResource,
  daemonSetResource,
  controllerRevisionResource,
];
