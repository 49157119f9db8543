// Where a `service` clientConfig is reached: a ready endpoint of the Service's port (found in
// its EndpointSlices), else its ClusterIP, else its ExternalName. Endpoints come first because
// the API server host may have no service proxy (an agentless control plane) to route the
// ClusterIP. services/proxy (proxy/location.ts) walks the same Service port → endpoint port
// mapping but reads Endpoints and admits only pod addresses, a rule of that proxy which a
// webhook behind a selector-less Service (an out-of-cluster backend) would never pass.
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { Store } from '../../store.js';

export interface ServiceAddress {
  host: string;
  port: number;
}

export type StoreLookup = (group: string, plural: string) => Store | undefined;

const randomOf = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)];

/** Throws an Error whose message says why the Service cannot be reached. */
export function resolveService(stores: StoreLookup, namespace: string, name: string, port: number): ServiceAddress {
  const svc = stores('', 'services')?.tryGet(namespace, name)?.obj as Service | undefined;
  if (!svc) throw new Error(`service "${namespace}/${name}" not found`);
  if (svc.spec?.type === 'ExternalName' && svc.spec.externalName) return { host: svc.spec.externalName, port };
  const svcPort = (svc.spec?.ports ?? []).find((p) => p.port === port);
  if (!svcPort) throw new Error(`no service port ${port} found for service "${name}"`);
  const portName = svcPort.name ?? '';
  const slices = stores('discovery.k8s.io', 'endpointslices');
  const candidates: ServiceAddress[] = [];
  for (const { obj } of slices?.cache.list(slices.keyPrefix(namespace)) ?? []) {
    const slice = obj as EndpointSlice;
    if (slice.metadata?.labels?.['kubernetes.io/service-name'] !== name) continue;
    const slicePort = (slice.ports ?? []).find((p) => (p.name ?? '') === portName);
    if (!slicePort?.port) continue;
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const host of ep.addresses.slice(0, 1)) candidates.push({ host, port: slicePort.port });
    }
  }
  if (candidates.length) return randomOf(candidates);
  const clusterIP = svc.spec?.clusterIP;
  if (clusterIP && clusterIP !== 'None') return { host: clusterIP, port };
  throw new Error(`no endpoints available for service "${name}"`);
}
