// discovery.k8s.io/v1: EndpointSlice.
import type { ResourceDef } from '../../types.js';
import { endpointSliceResource } from './endpointslice.js';

export { endpointSliceResource };

export const resources: ResourceDef[] = [endpointSliceResource];
