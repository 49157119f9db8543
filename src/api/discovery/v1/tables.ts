// Server-side printer columns (kubectl get) for discovery.k8s.io/v1, matching upstream's printers.
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { TableColumn } from '../../types.js';
import { ageColumn, listWithMore, nameColumn } from '../../printing.js';

/** The PORTS cell: up to three port numbers (or names, or `*`), `<unset>` when there are none. */
export function endpointSlicePorts(o: EndpointSlice): string {
  const ports = o.ports ?? [];
  const list = ports.map((p) =>
    p.port !== undefined && p.port !== null ? String(p.port) : p.name !== undefined && p.name !== null ? p.name : '*',
  );
  return listWithMore(list, ports.length, 3);
}

/** The ENDPOINTS cell: up to three addresses, `<unset>` when there are none. */
export function endpointSliceEndpoints(o: EndpointSlice): string {
  const addresses = (o.endpoints ?? []).flatMap((e) => e.addresses ?? []);
  return listWithMore(addresses, addresses.length, 3);
}

export const endpointSliceColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'AddressType',
    type: 'string',
    description: 'IPv4, IPv6 or FQDN.',
    cell: (o: EndpointSlice) => o.addressType ?? '',
  },
  {
    name: 'Ports',
    type: 'string',
    description: 'Ports exposed by the endpoints.',
    cell: (o: EndpointSlice) => endpointSlicePorts(o),
  },
  {
    name: 'Endpoints',
    type: 'string',
    description: 'Addresses of the endpoints.',
    cell: (o: EndpointSlice) => endpointSliceEndpoints(o),
  },
  ageColumn(),
];
