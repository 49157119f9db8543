// The route table: every Ingress of our class merged into one immutable lookup structure, made
// anew on each change (routeindex.ts reassembles only the hosts that changed) and swapped in
// whole (requests in flight keep the table they started with). Semantics are networking.k8s.io/v1's, as ingress-nginx implements them:
//   - hosts: exact names first, then `*.example.com` (one label only), rules without a host last;
//   - paths of one host are merged across Ingresses: Exact before Prefix, the longest Prefix
//     first, Prefix matched element-wise on `/`; ImplementationSpecific behaves as Prefix;
//   - with use-regex or rewrite-target on any Ingress of a host, that host's Prefix paths are
//     case-insensitive regular expressions anchored at the start, tried longest first;
//   - on a conflict (same host, path and type) the older Ingress wins;
//   - canary Ingresses attach to the route of the same host and path.
// HTTPProxies (httpproxy.ts) and Gateway API HTTPRoutes (gateway.ts) compile into the same Route
// model and join the table as route sources: they add request conditions (headers, query,
// method), weighted backends, filters and timeout/retry policies, and other path match types.
import type { Ingress } from 'kubernetes-types/networking/v1.js';
import { ANNOTATION_PREFIX, type CanaryOptions, type RouteOptions } from './annotations.js';
import { compareStrings } from '../machinery/order.js';

/**
 * Ingress's types, plus Gateway API's RegularExpression (the whole path) and Contour's
 * StringPrefix (a plain string prefix: `/blog` also matches `/blogs`, as Envoy's prefix match).
 */
export type PathType = 'Exact' | 'Prefix' | 'ImplementationSpecific' | 'RegularExpression' | 'StringPrefix';

/** Where a route comes from: its events and status belong to that object. */
export type RouteSourceKind = 'Ingress' | 'HTTPProxy' | 'HTTPRoute' | 'GRPCRoute';

export type ValueMatchType = 'Exact' | 'RegularExpression' | 'Present' | 'NotPresent' | 'Contains' | 'NotContains';

/** A header or query parameter condition; names of headers are lower case. */
export interface ValueMatch {
  name: string;
  type: ValueMatchType;
  value?: string;
  /** Set for RegularExpression (compiled by the compiler, which reports bad expressions). */
  regex?: RegExp;
  /** Negates Exact (Contour's notexact). */
  invert?: boolean;
}

/** Conditions besides the path, all of which must hold. */
export interface RequestConditions {
  headers?: ValueMatch[];
  query?: ValueMatch[];
  method?: string;
}

export interface WeightedBackend {
  backend: ServiceBackend;
  weight: number;
}

/** Gateway API's HTTPHeaderFilter (and Contour's headersPolicy): names lower case. */
export interface HeaderEdits {
  set: [string, string][];
  add: [string, string][];
  remove: string[];
}

export type PathModifier = { type: 'ReplaceFullPath' | 'ReplacePrefixMatch'; value: string };

export interface RouteFilters {
  requestHeaders?: HeaderEdits;
  responseHeaders?: HeaderEdits;
  redirect?: { scheme?: string; hostname?: string; port?: number; path?: PathModifier; statusCode: number };
  rewrite?: { hostname?: string; path?: PathModifier };
  /** Copies of each request go to these too (responses ignored). */
  mirrors?: ServiceBackend[];
}

/** Contour's timeoutPolicy and retryPolicy. */
export interface RoutePolicy {
  /** The whole response must arrive within this (0: no limit). */
  responseTimeoutMs?: number;
  /** Longest silence on the upstream connection. */
  idleTimeoutMs?: number;
  retries?: { count: number; perTryTimeoutMs?: number };
  /** Each request to a backend must be answered within this (Gateway API's timeouts.backendRequest). */
  backendRequestTimeoutMs?: number;
}

/** What a request looks like besides host and path, for conditions. */
export interface RequestView {
  method: string;
  header(name: string): string | undefined;
}

export interface ObjectKey {
  namespace: string;
  name: string;
}

interface Named {
  metadata: { namespace?: string; name?: string; creationTimestamp?: string };
}

export const keyOf = (o: Named): ObjectKey => ({
  namespace: o.metadata.namespace ?? 'default',
  name: o.metadata.name ?? '',
});
export const keyString = (k: ObjectKey): string => `${k.namespace}/${k.name}`;

/** Oldest first, then by namespace/name: who came first owns a host (Contour's and Gateway API's rule). */
export function byCreation(a: Named, b: Named): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return compareStrings(keyString(keyOf(a)), keyString(keyOf(b)));
}

/** A Service port a route sends to: by number or by name, as in IngressServiceBackend. */
export interface ServiceBackend {
  namespace: string;
  service: string;
  port: { number?: number; name?: string };
}

export interface CanaryRoute {
  ingress: ObjectKey;
  backend: ServiceBackend;
  canary: CanaryOptions;
}

export interface Route {
  /** The object the route comes from (an Ingress unless `kind` says otherwise). */
  ingress: ObjectKey;
  kind?: RouteSourceKind;
  /** '' for rules without a host (and default backends). */
  host: string;
  path: string;
  pathType: PathType;
  /** Set on regex hosts (use-regex / rewrite-target). */
  regex?: RegExp;
  backend: ServiceBackend;
  options: RouteOptions;
  /** The host is listed in the TLS section of an Ingress. */
  tls: boolean;
  canaries: CanaryRoute[];
  conditions?: RequestConditions;
  /**
   * Replaces `backend` when set: each request goes to one of these by weight (total > 0). A
   * backend with an empty service name stands for an unresolved Gateway API backendRef (500).
   */
  weighted?: WeightedBackend[];
  filters?: RouteFilters;
  policy?: RoutePolicy;
  /** Answer with this status instead of forwarding (an include not found, no valid backend). */
  directStatus?: number;
}

/** A TLS host of an HTTPProxy or Gateway listener. */
/**
 * Connections routed by TLS server name without being decrypted (passthrough), or TCP ones:
 * Gateway TLSRoute and TCPRoute, HTTPProxy `tls.passthrough`, ingress-nginx's `ssl-passthrough`.
 */
export interface StreamRoute {
  route: ObjectKey;
  kind: 'TLSRoute' | 'TCPRoute' | 'UDPRoute' | 'HTTPProxy' | 'Ingress';
  /** SNI names (exact or `*.suffix`; '' for any): TLS only. */
  hosts: string[];
  /** A backend with an empty service name stands for an unresolved backendRef (connection refused). */
  backends: WeightedBackend[];
  /**
   * TLS is terminated by the ingress (with the certificate of the host's TLS entry) and the
   * cleartext relayed as TCP, not passed through: HTTPProxy `tcpproxy` with `tls.secretName`.
   */
  terminate?: boolean;
}

export interface ExtraTls {
  host: string;
  entry: TlsEntry;
}

/** Something wrong with one Ingress: reported as a Warning event on it; only its routes suffer. */
export interface IngressProblem {
  ingress: ObjectKey;
  reason: string;
  message: string;
}

export interface TlsEntry {
  ingress: ObjectKey;
  secret: ObjectKey;
}

export interface RouteMatch {
  route: Route;
  /** The upstream path (the rewrite applied), query string included. */
  upstreamPath: string;
}

export interface HostRoutes {
  exact: Map<string, Route>;
  /** Prefix and regex routes, in the order they are tried. */
  ordered: Route[];
  regexMode: boolean;
  /** Where requests for this host that match no path go (an Ingress's defaultBackend). */
  fallback?: Route;
}

/** Prefix match element-wise: `/foo` matches `/foo`, `/foo/` and `/foo/bar`, never `/foobar`. */
export function prefixMatches(prefix: string, path: string): boolean {
  const p = prefix.replace(/\/+$/, '');
  if (p === '') return true;
  return path === p || path.startsWith(p + '/');
}

/** Whether a rule host (exact or `*.suffix`) covers a request host (lower case, no port). */
export function hostMatches(ruleHost: string, host: string): boolean {
  if (!ruleHost.startsWith('*.')) return ruleHost === host;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === ruleHost.slice(2);
}

/** Replaces $1..$9 in a rewrite target with the regex captures (missing ones become ''). */
export function substituteCaptures(target: string, captures: readonly (string | undefined)[]): string {
  return target.replace(/\$(\d)/g, (_m, d: string) => captures[Number(d)] ?? '');
}

/** Picks the canary (if one applies) or the main backend of a route; `random` in [0, 1). */
export function chooseBackend(
  route: Route,
  header: (name: string) => string | undefined,
  random: () => number = Math.random,
): ServiceBackend {
  if (route.weighted?.length) return chooseWeighted(route.weighted, random);
  for (const c of route.canaries) {
    const { byHeader, byHeaderValue, weight, weightTotal } = c.canary;
    if (byHeader) {
      const v = header(byHeader.toLowerCase());
      if (byHeaderValue !== undefined ? v === byHeaderValue : v === 'always') return c.backend;
      if (v === 'never') return route.backend;
    }
    if (weight > 0 && random() * weightTotal < weight) return c.backend;
  }
  return route.backend;
}

/** One backend by weight (weights >= 0, total > 0). */
export function chooseWeighted(list: readonly WeightedBackend[], random: () => number = Math.random): ServiceBackend {
  const total = list.reduce((n, w) => n + w.weight, 0);
  let x = random() * total;
  for (const w of list) {
    if (x < w.weight) return w.backend;
    x -= w.weight;
  }
  return list[list.length - 1].backend;
}

/** The path sent upstream after a URLRewrite / pathRewritePolicy: `prefix` is the matched one. */
export function rewritePath(path: string, prefix: string, modifier: PathModifier): string {
  if (modifier.type === 'ReplaceFullPath') return modifier.value || '/';
  const p = prefix.replace(/\/+$/, '');
  let rest = path.slice(p.length);
  let head = modifier.value;
  if (head.endsWith('/') && rest.startsWith('/')) head = head.slice(0, -1);
  else if (head && !head.endsWith('/') && rest && !rest.startsWith('/')) rest = '/' + rest;
  const out = head + rest;
  return out.startsWith('/') ? out : '/' + out;
}

function valueMatches(m: ValueMatch, v: string | undefined): boolean {
  switch (m.type) {
    case 'Present':
      return v !== undefined;
    case 'NotPresent':
      return v === undefined;
    case 'Contains':
      return v !== undefined && v.includes(m.value ?? '');
    case 'NotContains':
      return v === undefined || !v.includes(m.value ?? '');
    case 'RegularExpression':
      return v !== undefined && !!m.regex?.test(v);
    default:
      return m.invert ? v !== m.value : v === m.value;
  }
}

/** Whether a request meets a route's conditions besides the path. */
export function conditionsHold(c: RequestConditions | undefined, req: RequestView | undefined, query: string): boolean {
  if (!c) return true;
  if (c.method && req?.method !== c.method) return false;
  for (const h of c.headers ?? []) if (!valueMatches(h, req?.header(h.name))) return false;
  if (c.query?.length) {
    const params = new URLSearchParams(query);
    for (const q of c.query) if (!valueMatches(q, params.get(q.name) ?? undefined)) return false;
  }
  return true;
}

/**
 * Order of the routes tried after exact Ingress paths: Exact first, then the longest path, then
 * (Gateway API's tie-breakers) a method, more header and query conditions. Ties keep their order
 * (the older object first).
 */
export function specificity(a: Route, b: Route): number {
  const exact = Number(b.pathType === 'Exact') - Number(a.pathType === 'Exact');
  if (exact) return exact;
  const len = b.path.replace(/\/+$/, '').length - a.path.replace(/\/+$/, '').length;
  if (len) return len;
  const method = Number(!!b.conditions?.method) - Number(!!a.conditions?.method);
  if (method) return method;
  const headers = (b.conditions?.headers?.length ?? 0) - (a.conditions?.headers?.length ?? 0);
  if (headers) return headers;
  return (b.conditions?.query?.length ?? 0) - (a.conditions?.query?.length ?? 0);
}

/** Whether the path part of a route matches; captures for rewrite-target. */
function pathMatch(r: Route, path: string): readonly string[] | undefined {
  switch (r.pathType) {
    case 'Exact':
      return r.path === path ? [path] : undefined;
    case 'StringPrefix':
      return path.startsWith(r.path) ? [path] : undefined;
    case 'RegularExpression':
      return r.regex?.exec(path) ?? undefined;
    default:
      if (r.regex) return r.regex.exec(path) ?? undefined;
      return prefixMatches(r.path, path) ? [path] : undefined;
  }
}

export interface TableParts {
  hosts: Map<string, HostRoutes>;
  wildcards: Map<string, HostRoutes>;
  anyHost?: HostRoutes;
  defaultRoute?: Route;
  tls: Map<string, TlsEntry>;
  problems: IngressProblem[];
  secretsUsed: Set<string>;
  routes: Route[];
}

/** The lookup side of the route table; RouteIndex (routeindex.ts) assembles it (buildRouteTable: at once). */
export class RouteTable {
  private readonly hosts: Map<string, HostRoutes>;
  private readonly wildcards: Map<string, HostRoutes>;
  private readonly anyHost?: HostRoutes;
  private readonly defaultRoute?: Route;
  /** TLS hosts (exact or wildcard) and the Secret that serves them (the oldest Ingress's). */
  readonly tls: Map<string, TlsEntry>;
  readonly problems: IngressProblem[];
  /** Secrets the table refers to (auth and TLS), so a Secret change rebuilds only when needed. */
  readonly secretsUsed: Set<string>;
  /** Every route in force (path routes, per-host fallbacks, the default backend). */
  readonly routes: Route[];

  private constructor(p: TableParts) {
    this.hosts = p.hosts;
    this.wildcards = p.wildcards;
    this.anyHost = p.anyHost;
    this.defaultRoute = p.defaultRoute;
    this.tls = p.tls;
    this.problems = p.problems;
    this.secretsUsed = p.secretsUsed;
    this.routes = p.routes;
  }

  static fromParts(p: TableParts): RouteTable {
    return new RouteTable(p);
  }

  /** A table without routes (every request gets 404). */
  static none(): RouteTable {
    return new RouteTable({
      hosts: new Map(),
      wildcards: new Map(),
      tls: new Map(),
      problems: [],
      secretsUsed: new Set(),
      routes: [],
    });
  }

  /** Named hosts and their routes: exact names, then `*.suffix` wildcards (for the NGINX renderer). */
  namedHosts(): [string, HostRoutes][] {
    return [...this.hosts, ...this.wildcards];
  }

  get empty(): boolean {
    return !this.hosts.size && !this.wildcards.size && !this.anyHost && !this.defaultRoute;
  }

  /** The routes that serve a request host: exact name, then wildcard, then host-less rules. */
  private hostRoutes(host: string): HostRoutes | undefined {
    const exact = this.hosts.get(host);
    if (exact) return exact;
    const dot = host.indexOf('.');
    if (dot > 0) {
      const wild = this.wildcards.get('*.' + host.slice(dot + 1));
      if (wild) return wild;
    }
    return this.anyHost;
  }

  /** Whether HTTPS is configured for the host (its TLS entry, exact or wildcard). */
  tlsFor(host: string): TlsEntry | undefined {
    const exact = this.tls.get(host);
    if (exact) return exact;
    const dot = host.indexOf('.');
    return dot > 0 ? this.tls.get('*.' + host.slice(dot + 1)) : undefined;
  }

  /** The route of a request (host: lower case without port; url: path and query), if any. */
  match(host: string, url: string, req?: RequestView): RouteMatch | undefined {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q);
    const routes = this.hostRoutes(host);
    const found = routes ? matchIn(routes, path, query, req) : undefined;
    if (found) {
      const { route, captures } = found;
      const target = route.options.rewriteTarget;
      const modifier = route.filters?.rewrite?.path;
      const upstream = target
        ? substituteCaptures(target, captures)
        : modifier
          ? rewritePath(path, route.path, modifier)
          : path;
      return { route, upstreamPath: upstream + query };
    }
    const fallback = routes?.fallback ?? this.defaultRoute;
    return fallback && { route: fallback, upstreamPath: url };
  }
}

function matchIn(
  routes: HostRoutes,
  path: string,
  query: string,
  req: RequestView | undefined,
): { route: Route; captures: readonly string[] } | undefined {
  const exact = routes.exact.get(path);
  if (exact) return { route: exact, captures: [path] };
  for (const r of routes.ordered) {
    const captures = pathMatch(r, path);
    if (captures && conditionsHold(r.conditions, req, query)) return { route: r, captures };
  }
  return undefined;
}

export function compileRegex(r: Route, problems: IngressProblem[]): RegExp {
  try {
    return new RegExp('^' + r.path, 'i');
  } catch (err) {
    problems.push({
      ingress: r.ingress,
      reason: 'InvalidPath',
      message: `${r.host || '*'}${r.path}: not a regular expression (${(err as Error).message}); matched literally`,
    });
    return new RegExp('^' + r.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
  }
}

/**
 * ingress-nginx's `ssl-passthrough: "true"`: TLS connections to the Ingress's hosts are passed to
 * the backend of the host's `/` path (the Ingress's defaultBackend without one) undecrypted, by
 * SNI; the backend terminates TLS. Its other annotations do not apply to those connections (they
 * never reach HTTP); plain HTTP to the hosts is routed as usual. Rules without a host are skipped:
 * passthrough needs a server name.
 */
export function sslPassthroughRoutes(ing: Ingress): StreamRoute[] {
  if (ing.metadata?.annotations?.[`${ANNOTATION_PREFIX}ssl-passthrough`] !== 'true') return [];
  const namespace = ing.metadata.namespace ?? 'default';
  const out: StreamRoute[] = [];
  for (const rule of ing.spec?.rules ?? []) {
    if (!rule.host) continue;
    const root = rule.http?.paths.find((p) => (p.path ?? '/') === '/')?.backend ?? ing.spec?.defaultBackend;
    const svc = root?.service;
    if (!svc) continue;
    out.push({
      route: { namespace, name: ing.metadata.name ?? '' },
      kind: 'Ingress',
      hosts: [rule.host.toLowerCase()],
      backends: [{ backend: { namespace, service: svc.name, port: { ...svc.port } }, weight: 1 }],
    });
  }
  return out;
}
