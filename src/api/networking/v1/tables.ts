// Server-side printer columns (kubectl get) for networking.k8s.io/v1, matching upstream's printers.
import type { Ingress, IngressClass, NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import type { TableColumn } from '../../types.js';
import { NONE, ageColumn, loadBalancerIngress, nameColumn, selectorString } from '../../printing.js';

/** The HOSTS cell: up to three rule hosts, `*` when no rule names a host. */
export function ingressHosts(o: Ingress): string {
  const rules = o.spec?.rules ?? [];
  const max = 3;
  const list: string[] = [];
  let more = false;
  for (const rule of rules) {
    if (list.length === max) more = true;
    if (!more && rule.host) list.push(rule.host);
  }
  if (!list.length) return '*';
  const joined = list.join(',');
  return more ? `${joined} + ${rules.length - max} more...` : joined;
}

export const ingressColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Class',
    type: 'string',
    description: 'The IngressClass that handles this ingress.',
    cell: (o: Ingress) => o.spec?.ingressClassName ?? NONE,
  },
  { name: 'Hosts', type: 'string', description: 'Hosts the rules match.', cell: (o: Ingress) => ingressHosts(o) },
  {
    name: 'Address',
    type: 'string',
    description: 'Addresses of the load balancer serving the ingress.',
    cell: (o: Ingress) => loadBalancerIngress(o.status?.loadBalancer?.ingress),
  },
  {
    name: 'Ports',
    type: 'string',
    description: 'Ports the ingress listens on.',
    cell: (o: Ingress) => ((o.spec?.tls ?? []).length ? '80, 443' : '80'),
  },
  ageColumn(),
];

export const ingressClassColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Controller',
    type: 'string',
    description: 'The controller that implements this class.',
    cell: (o: IngressClass) => o.spec?.controller ?? '',
  },
  {
    name: 'Parameters',
    type: 'string',
    description: 'The resource holding extra configuration for the class.',
    cell: (o: IngressClass) => {
      const p = o.spec?.parameters;
      if (!p) return NONE;
      return `${p.kind}${p.apiGroup !== undefined && p.apiGroup !== null ? `.${p.apiGroup}` : ''}/${p.name}`;
    },
  },
  ageColumn(),
];

export const networkPolicyColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Pod-Selector',
    type: 'string',
    description: 'The pods the policy applies to.',
    cell: (o: NetworkPolicy) => selectorString(o.spec?.podSelector ?? {}),
  },
  ageColumn(),
];
