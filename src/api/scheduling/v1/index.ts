// scheduling.k8s.io/v1: PriorityClass.
import type { ResourceDef } from '../../types.js';
import { priorityClassResource } from './priorityclass.js';

export { priorityClassResource };

export const resources: ResourceDef[] = [priorityClassResource];
