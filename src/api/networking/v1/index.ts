// networking.k8s.io/v1: Ingress, IngressClass, NetworkPolicy.
import type { ResourceDef } from '../../types.js';
import { ingressResource } from './ingress.js';
import { ingressClassResource } from './ingressclass.js';
import { networkPolicyResource } from './networkpolicy.js';

export { ingressClassResource, ingressResource, networkPolicyResource };

export const resources: ResourceDef[] = [ingressResource, ingressClassResource, networkPolicyResource];
