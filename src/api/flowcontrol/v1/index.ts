// flowcontrol.apiserver.k8s.io/v1: FlowSchema, PriorityLevelConfiguration.
import type { ResourceDef } from '../../types.js';
import { flowSchemaResource, priorityLevelResource } from './flowcontrol.js';

export { flowSchemaResource, priorityLevelResource };

export const resources: ResourceDef[] = [flowSchemaResource, priorityLevelResource];
