// Which LoadBalancer Services k8ts's ServiceLB serves: shared by its controller, which assigns
// their addresses, and by the node agents, which announce the addresses from a pool.
import type { Service } from 'kubernetes-types/core/v1.js';

/** The loadBalancerClass ServiceLB serves (besides Services that name none). */
export const SERVICELB_CLASS = 'k8ts.io/servicelb';

/** Whether ServiceLB provides the Service's load balancer. */
export function wantsLoadBalancer(svc: Service): boolean {
  const cls = svc.spec?.loadBalancerClass;
  return svc.spec?.type === 'LoadBalancer' && !svc.metadata?.deletionTimestamp && (!cls || cls === SERVICELB_CLASS);
}
