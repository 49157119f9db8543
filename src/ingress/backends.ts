// Where a route's Service sends a request: straight to a ready endpoint of the Service's
// EndpointSlices (no hop through the ClusterIP, as ingress-nginx), chosen round-robin. Reads the
// informers' caches (the sorted list kept per Service port until a Service or EndpointSlice
// changes), so endpoint changes apply without rebuilding routes.
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { SharedIndexInformer } from '../client/informer.js';
import type { ServiceBackend } from './routes.js';

export interface Endpoint {
  address: string;
  port: number;
}

export type Resolution =
  { endpoint: Endpoint } | { problem: 'service-not-found' | 'port-not-found' | 'no-ready-endpoints'; message: string };

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const BY_SERVICE = 'k8ts-ingress/by-service';

export class Backends {
  private readonly next = new Map<string, number>();
  /** Sorted endpoint lists by Service port, kept until a Service or EndpointSlice changes. */
  private readonly cache = new Map<string, ReturnType<Backends['gather']>>();

  constructor(
    private readonly services: SharedIndexInformer<Service>,
    private readonly slices: SharedIndexInformer<EndpointSlice>,
  ) {
    slices.addIndexers({
      [BY_SERVICE]: (s: EndpointSlice) => {
        const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
        return svc ? [`${s.metadata?.namespace}/${svc}`] : [];
      },
    });
    const clear = () => this.cache.clear();
    for (const informer of [services, slices] as SharedIndexInformer<unknown>[])
      informer.addEventHandler({ add: clear, update: clear, delete: clear });
  }

  /** The ready endpoints of a Service port (by number or name), as the route names it. */
  endpoints(b: ServiceBackend, protocol = 'TCP'): Endpoint[] | Exclude<Resolution, { endpoint: Endpoint }> {
    const found = this.cached(b, protocol);
    return Array.isArray(found) ? [...found] : found;
  }

  private cached(b: ServiceBackend, protocol: string): ReturnType<Backends['gather']> {
    const key = `${b.namespace}/${b.service}:${b.port.name ?? ''}:${b.port.number ?? ''}/${protocol}`;
    let found = this.cache.get(key);
    if (!found) this.cache.set(key, (found = this.gather(b, protocol)));
    return found;
  }

  private gather(b: ServiceBackend, protocol: string): Endpoint[] | Exclude<Resolution, { endpoint: Endpoint }> {
    const key = `${b.namespace}/${b.service}`;
    const svc = this.services.store.get(key);
    if (!svc) return { problem: 'service-not-found', message: `service ${key} not found` };
    const port = svc.spec?.ports?.find(
      (p) =>
        (b.port.name !== undefined ? p.name === b.port.name : p.port === b.port.number) &&
        (p.protocol ?? 'TCP') === protocol,
    );
    if (!port)
      return {
        problem: 'port-not-found',
        message: `service ${key} has no port ${b.port.name ?? b.port.number}`,
      };
    const out: Endpoint[] = [];
    for (const slice of this.slices.store.byIndex(BY_SERVICE, key)) {
      if (slice.addressType === 'FQDN') continue;
      const sp = slice.ports?.find((p) => (p.name ?? '') === (port.name ?? '') && (p.protocol ?? 'TCP') === protocol);
      if (!sp?.port) continue;
      for (const ep of slice.endpoints ?? []) {
        // A nil ready condition means ready (discovery/v1).
        if (ep.conditions?.ready === false) continue;
        for (const address of ep.addresses.slice(0, 1)) out.push({ address, port: sp.port });
      }
    }
    out.sort((x, y) => (x.address < y.address ? -1 : x.address > y.address ? 1 : x.port - y.port));
    return out;
  }

  /** The next endpoint round-robin, or why there is none. */
  pick(b: ServiceBackend, protocol = 'TCP'): Resolution {
    const eps = this.cached(b, protocol);
    if (!Array.isArray(eps)) return eps;
    if (!eps.length)
      return { problem: 'no-ready-endpoints', message: `service ${b.namespace}/${b.service} has no ready endpoints` };
    const key = `${b.namespace}/${b.service}:${b.port.name ?? b.port.number}/${protocol}`;
    const i = this.next.get(key) ?? 0;
    this.next.set(key, (i + 1) % 1_000_000);
    return { endpoint: eps[i % eps.length] };
  }
}
