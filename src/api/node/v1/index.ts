// node.k8s.io/v1: RuntimeClass.
import type { ResourceDef } from '../../types.js';
import { runtimeClassResource } from './runtimeclass.js';

export { runtimeClassResource };

export const resources: ResourceDef[] = [runtimeClassResource];
