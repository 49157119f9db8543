// Parses a request URL into what it addresses, like upstream's RequestInfoFactory:
// /api/v1/namespaces/ns/pods/name/status  →  { group: '', version: 'v1', namespace: 'ns', resource: 'pods', name, subresource: 'status' }
//
// The path is taken as the client sent it: split on '/' first, then each segment unescaped, so
// `%2e%2e` is a name (rejected below), never a step up, and nothing is normalised away. A '#' is
// part of the path (a request line has no fragment), so it can't hide the query.
import * as errors from '../machinery/errors.js';

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

/** A request target split into its raw path and its query. */
export interface RequestTarget {
  /** The path as sent (still escaped), '#' included. */
  path: string;
  query: URLSearchParams;
}

/** Split a request target (`req.url`) at the first '?' only: no URL normalisation, no fragment. */
export function splitRequestTarget(target: string | undefined): RequestTarget {
  const raw = target || '/';
  const q = raw.indexOf('?');
  if (q < 0) return { path: raw, query: new URLSearchParams() };
  return { path: raw.slice(0, q), query: new URLSearchParams(raw.slice(q + 1)) };
}

/** One path segment unescaped; a malformed escape (`%zz`, `%ff` alone) is the client's error. */
function unescapeSegment(segment: string): string {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    throw errors.badRequest(`invalid URL escape in path segment ${JSON.stringify(segment)}`);
  }
}

/** Upstream's path segment rules for names that become storage keys (IsPathSegmentName). */
export function pathSegmentProblems(name: string): string[] {
  if (name === '.' || name === '..') return [`may not be '${name}'`];
  const out: string[] = [];
  if (name.includes('/')) out.push("may not contain '/'");
  if (name.includes('%')) out.push("may not contain '%'");
  return out;
}

function checkSegment(what: 'Name' | 'Namespace', value: string): void {
  const problems = pathSegmentProblems(value);
  if (problems.length)
    throw errors.badRequest(`${what} parameter invalid: ${JSON.stringify(value)}: ${problems.join(';')}`);
}

export function parseRequestPath(pathname: string): RequestInfo {
  // Leading and trailing slashes don't matter; an empty segment inside the path addresses nothing.
  let start = 0;
  let end = pathname.length;
  while (start < end && pathname.charCodeAt(start) === 0x2f /* / */) start++;
  while (end > start && pathname.charCodeAt(end - 1) === 0x2f) end--;
  const trimmed = pathname.slice(start, end);
  const parts = trimmed ? trimmed.split('/') : [];
  let i: number;
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
  const rawRest = parts.slice(i);
  const req: ResourceRequest = { kind: 'resource', group, version, resource: '' };
  // e.g. /apis//v1/... or /api/v1/namespaces//pods: nothing lives there (the router's 404).
  if (trimmed.includes('//')) return req;
  const rest = rawRest.map(unescapeSegment);
  // Deprecated /watch/ prefix: /api/v1/watch/namespaces/ns/pods.
  if (rest[0] === 'watch') {
    req.legacyWatch = true;
    rest.shift();
  }
  // /namespaces/{ns}/{resource}... but /namespaces and /namespaces/{name}[/status|finalize] address namespaces themselves.
  if (rest[0] === 'namespaces' && rest.length >= 3 && !NAMESPACE_SUBRESOURCES.has(rest[2])) {
    req.namespace = rest[1];
    checkSegment('Namespace', req.namespace);
    rest.splice(0, 2);
  }
  req.resource = rest[0];
  if (rest.length > 1) {
    req.name = rest[1];
    checkSegment('Name', req.name);
  }
  if (rest.length > 2) req.subresource = rest[2];
  if (rest.length > 3) req.rest = rest.slice(3).join('/');
  return req;
}
