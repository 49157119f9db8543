// apiextensions.k8s.io/v1: CustomResourceDefinition.
import type { ResourceDef } from '../../types.js';
import { customResourceDefinitionResource } from './customresourcedefinition.js';

export { customResourceDefinitionResource };

export const resources: ResourceDef[] = [customResourceDefinitionResource];
