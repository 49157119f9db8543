// coordination.k8s.io/v1: Lease.
import type { ResourceDef } from '../../types.js';
import { leaseResource } from './lease.js';

export { leaseResource };

export const resources: ResourceDef[] = [leaseResource];
