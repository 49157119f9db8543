// Services and EndpointSlices for the service proxy's unit tests.
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice, Endpoint as SliceEndpoint } from 'kubernetes-types/discovery/v1.js';

export function svc(name: string, spec: Service['spec'], extra: Partial<Service> = {}): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default', ...extra.metadata },
    spec: { clusterIP: '10.43.0.20', ports: [{ port: 80, targetPort: 8080 }], ...spec },
    status: extra.status,
  };
}

export function slice(
  service: string,
  ports: EndpointSlice['ports'],
  endpoints: SliceEndpoint[],
  name = `${service}-x`,
): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    addressType: 'IPv4',
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    ports,
    endpoints,
  };
}
