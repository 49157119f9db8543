// Ingress objects for unit tests of the route table and the NGINX renderer: hosts to paths
// ([path, pathType, service], port 80), optional annotations, default backend and TLS hosts.
import type { Ingress, IngressRule } from 'kubernetes-types/networking/v1.js';

export type Path = [path: string, pathType: string, service: string];

export function ing(
  name: string,
  rules: Record<string, Path[]>,
  opts: { annotations?: Record<string, string>; created?: string; defaultBackend?: string; tls?: string[] } = {},
): Ingress {
  const spec: Ingress['spec'] = {
    rules: Object.entries(rules).map(([host, paths]): IngressRule => ({
      ...(host ? { host } : {}),
      http: {
        paths: paths.map(([path, pathType, service]) => ({
          path,
          pathType,
          backend: { service: { name: service, port: { number: 80 } } },
        })),
      },
    })),
  };
  if (opts.defaultBackend) spec.defaultBackend = { service: { name: opts.defaultBackend, port: { number: 80 } } };
  if (opts.tls) spec.tls = [{ hosts: opts.tls, secretName: `${name}-tls` }];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name,
      namespace: 'default',
      creationTimestamp: opts.created ?? '2026-01-01T00:00:00Z',
      annotations: opts.annotations,
    },
    spec,
  };
}
