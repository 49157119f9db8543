// Parses a request path into what it addresses, like upstream's RequestInfoFactory:
// /api/v1/namespaces/ns/pods/name/status  →  { group: '', version: 'v1', namespace: 'ns', resource: 'pods', name, subresource: 'status' }

export interface ResourceRequest {
  kind: 'resource';
  group: string;
  version: string;
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
  /** Extra path after the subresource (pods/proxy/...). */
  rest?: string;
  /** Came in through the deprecated /watch/ path prefix. */
  legacyWatch?: boolean;
}

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

export interface OtherRequest {
  kind: 'other';
  path: string;
}

export type RequestInfo = ResourceRequest | OtherRequest;

export function parseRequestPath(pathname: string): RequestInfo {
  const parts = pathname.split('/').filter((p) => p !== '');
  let i = 0;
  let group = '';
  let version: string;
  if (parts[0] === 'api') {
    if (parts.length < 3) return { kind: 'other', path: pathname };
    version = parts[1];
    i = 2;
  } else if (parts[0] === 'apis') {
    if (parts.length < 4) return { kind: 'other', path: pathname };
    group = parts[1];
    version = parts[2];
    i = 3;
  } else {
    return { kind: 'other', path: pathname };
  }
  const rest = parts.slice(i).map(decodeURIComponent);
  const req: ResourceRequest = { kind: 'resource', group, version, resource: '' };
  // Deprecated /watch/ prefix: /api/v1/watch/namespaces/ns/pods.
  if (rest[0] === 'watch') {
    req.legacyWatch = true;
    rest.shift();
  }
  // /namespaces/{ns}/{resource}... but /namespaces and /namespaces/{name}[/status|finalize] address namespaces themselves.
  if (rest[0] === 'namespaces' && rest.length >= 3 && !NAMESPACE_SUBRESOURCES.has(rest[2])) {
    req.namespace = rest[1];
    rest.splice(0, 2);
  }
  req.resource = rest[0];
  if (rest.length > 1) req.name = rest[1];
  if (rest.length > 2) req.subresource = rest[2];
  if (rest.length > 3) req.rest = rest.slice(3).join('/');
  return req;
}
