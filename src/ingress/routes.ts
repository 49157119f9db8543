// The route table: every Ingress of our class merged into one immutable lookup structure, built
// afresh on each change and swapped in whole (requests in flight keep the table they started
// with). Semantics are networking.k8s.io/v1's, as ingress-nginx implements them:
//   - hosts: exact names first, then `*.example.com` (one label only), rules without a host last;
//   - paths of one host are merged across Ingresses: Exact before Prefix, the longest Prefix
//     first, Prefix matched element-wise on `/`; ImplementationSpecific behaves as Prefix;
//   - with use-regex or rewrite-target on any Ingress of a host, that host's Prefix paths are
//     case-insensitive regular expressions anchored at the start, tried longest first;
//   - on a conflict (same host, path and type) the older Ingress wins;
//   - canary Ingresses attach to the route of the same host and path.
import type { Ingress, IngressBackend } from 'kubernetes-types/networking/v1.js';
import { parseAnnotations, type CanaryOptions, type RouteOptions } from './annotations.js';

export type PathType = 'Exact' | 'Prefix' | 'ImplementationSpecific';

export interface ObjectKey {
  namespace: string;
  name: string;
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
  ingress: ObjectKey;
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

interface HostRoutes {
  exact: Map<string, Route>;
  /** Prefix and regex routes, in the order they are tried. */
  ordered: Route[];
  regexMode: boolean;
  /** Where requests for this host that match no path go (an Ingress's defaultBackend). */
  fallback?: Route;
}

const keyOf = (ing: Ingress): ObjectKey => ({
  namespace: ing.metadata?.namespace ?? 'default',
  name: ing.metadata?.name ?? '',
});
const keyString = (k: ObjectKey) => `${k.namespace}/${k.name}`;

/** Oldest first (ingress-nginx resolves conflicts in favour of the older Ingress), then by name. */
function byAge(a: Ingress, b: Ingress): number {
  const ta = a.metadata?.creationTimestamp ?? '';
  const tb = b.metadata?.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = keyString(keyOf(a));
  const kb = keyString(keyOf(b));
  return ka < kb ? -1 : ka > kb ? 1 : 0;
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

function serviceBackend(namespace: string, b: IngressBackend | undefined): ServiceBackend | undefined {
  if (!b?.service) return undefined;
  return {
    namespace,
    service: b.service.name,
    port: b.service.port?.name ? { name: b.service.port.name } : { number: b.service.port?.number },
  };
}

/** Picks the canary (if one applies) or the main backend of a route; `random` in [0, 1). */
export function chooseBackend(
  route: Route,
  header: (name: string) => string | undefined,
  random: () => number = Math.random,
): ServiceBackend {
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

export class RouteTable {
  private readonly hosts = new Map<string, HostRoutes>();
  private readonly wildcards = new Map<string, HostRoutes>();
  private anyHost?: HostRoutes;
  private defaultRoute?: Route;
  /** TLS hosts (exact or wildcard) and the Secret that serves them (the oldest Ingress's). */
  readonly tls = new Map<string, TlsEntry>();
  readonly problems: IngressProblem[] = [];
  /** Secrets the table refers to (auth and TLS), so a Secret change rebuilds only when needed. */
  readonly secretsUsed = new Set<string>();
  /** Every route in force (path routes, per-host fallbacks, the default backend). */
  readonly routes: Route[] = [];

  static build(ingresses: readonly Ingress[]): RouteTable {
    const t = new RouteTable();
    t.load([...ingresses].sort(byAge));
    return t;
  }

  get empty(): boolean {
    return !this.hosts.size && !this.wildcards.size && !this.anyHost && !this.defaultRoute;
  }

  private load(ingresses: Ingress[]): void {
    const main: Route[] = [];
    const canaries: (CanaryRoute & { host: string; path: string })[] = [];
    const hostFallbacks = new Map<string, Route>();
    const regexHosts = new Set<string>();

    for (const ing of ingresses) {
      const ingress = keyOf(ing);
      const { options, problems } = parseAnnotations(ing);
      for (const message of problems) this.problems.push({ ingress, reason: 'InvalidAnnotation', message });
      if (options.basicAuth) this.secretsUsed.add(keyString(options.basicAuth.secret));
      const tlsHosts = new Set<string>();
      if (!options.canary) {
        for (const t of ing.spec?.tls ?? []) {
          for (const h of t.hosts ?? []) {
            tlsHosts.add(h.toLowerCase());
            if (!t.secretName) continue;
            const secret = { namespace: ingress.namespace, name: t.secretName };
            this.secretsUsed.add(keyString(secret));
            if (!this.tls.has(h.toLowerCase())) this.tls.set(h.toLowerCase(), { ingress, secret });
          }
        }
      }
      const routeOf = (host: string, path: string, pathType: PathType, b: ServiceBackend): Route => ({
        ingress,
        host,
        path,
        pathType,
        backend: b,
        options,
        tls: false,
        canaries: [],
      });
      const fallbackBackend = serviceBackend(ingress.namespace, ing.spec?.defaultBackend);
      if (ing.spec?.defaultBackend?.resource)
        this.problems.push({
          ingress,
          reason: 'UnsupportedBackend',
          message: 'resource backends are not supported by k8ts ingress (defaultBackend ignored)',
        });
      for (const rule of ing.spec?.rules ?? []) {
        const host = (rule.host ?? '').toLowerCase();
        if (options.useRegex || options.rewriteTarget) regexHosts.add(host);
        if (fallbackBackend && host && !options.canary && !hostFallbacks.has(host))
          hostFallbacks.set(host, routeOf(host, '/', 'Prefix', fallbackBackend));
        for (const p of rule.http?.paths ?? []) {
          const path = p.path || '/';
          const pathType = (p.pathType ?? 'ImplementationSpecific') as PathType;
          const b = serviceBackend(ingress.namespace, p.backend);
          if (!b) {
            this.problems.push({
              ingress,
              reason: 'UnsupportedBackend',
              message: `${host || '*'}${path}: resource backends are not supported by k8ts ingress (path ignored)`,
            });
            continue;
          }
          if (options.canary) canaries.push({ ingress, backend: b, canary: options.canary, host, path });
          else main.push(routeOf(host, path, pathType, b));
        }
      }
      if (fallbackBackend && !options.canary && !this.defaultRoute)
        this.defaultRoute = routeOf('', '/', 'Prefix', fallbackBackend);
    }

    const tlsHost = (h: string) => this.tls.has(h) || [...this.tls.keys()].some((t) => hostMatches(t, h));
    const seen = new Map<string, Route>();
    for (const r of main) {
      const id = `${r.host}\n${r.path}\n${r.pathType === 'Exact' ? 'Exact' : 'Prefix'}`;
      const winner = seen.get(id);
      if (winner) {
        if (keyString(winner.ingress) !== keyString(r.ingress))
          this.problems.push({
            ingress: r.ingress,
            reason: 'Conflict',
            message: `${r.host || '*'}${r.path} is already served by Ingress ${keyString(winner.ingress)} (older)`,
          });
        continue;
      }
      seen.set(id, r);
      this.routes.push(r);
      r.tls = tlsHost(r.host);
      const routes = this.routesFor(r.host);
      routes.regexMode ||= regexHosts.has(r.host);
      if (r.pathType === 'Exact') routes.exact.set(r.path, r);
      else routes.ordered.push(r);
    }
    for (const [host, fallback] of hostFallbacks) {
      fallback.tls = tlsHost(host);
      this.routes.push(fallback);
      this.routesFor(host).fallback = fallback;
    }
    if (this.defaultRoute) this.routes.push(this.defaultRoute);
    for (const routes of this.allHosts()) {
      // Longest first: the longest Prefix wins; on regex hosts, longer expressions are tried first.
      routes.ordered.sort((a, b) => b.path.replace(/\/+$/, '').length - a.path.replace(/\/+$/, '').length);
      if (routes.regexMode) for (const r of routes.ordered) r.regex = compileRegex(r, this.problems);
    }
    for (const c of canaries) {
      const target = this.findRoute(c.host, c.path);
      if (!target) {
        this.problems.push({
          ingress: c.ingress,
          reason: 'CanaryWithoutMain',
          message: `canary ${c.host || '*'}${c.path}: no non-canary Ingress serves this host and path`,
        });
        continue;
      }
      target.canaries.push({ ingress: c.ingress, backend: c.backend, canary: c.canary });
    }
  }

  private *allHosts(): Iterable<HostRoutes> {
    yield* this.hosts.values();
    yield* this.wildcards.values();
    if (this.anyHost) yield this.anyHost;
  }

  private routesFor(host: string): HostRoutes {
    const fresh = (): HostRoutes => ({ exact: new Map(), ordered: [], regexMode: false });
    if (host === '') return (this.anyHost ??= fresh());
    const map = host.startsWith('*.') ? this.wildcards : this.hosts;
    let r = map.get(host);
    if (!r) map.set(host, (r = fresh()));
    return r;
  }

  /** The route declared for exactly this host and path (canaries attach to it). */
  private findRoute(host: string, path: string): Route | undefined {
    const routes = host === '' ? this.anyHost : (host.startsWith('*.') ? this.wildcards : this.hosts).get(host);
    return routes?.exact.get(path) ?? routes?.ordered.find((r) => r.path === path);
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
  match(host: string, url: string): RouteMatch | undefined {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q);
    const routes = this.hostRoutes(host);
    const found = routes ? matchIn(routes, path) : undefined;
    if (found) {
      const { route, captures } = found;
      const target = route.options.rewriteTarget;
      return { route, upstreamPath: (target ? substituteCaptures(target, captures) : path) + query };
    }
    const fallback = routes?.fallback ?? this.defaultRoute;
    return fallback && { route: fallback, upstreamPath: url };
  }
}

function matchIn(routes: HostRoutes, path: string): { route: Route; captures: readonly string[] } | undefined {
  const exact = routes.exact.get(path);
  if (exact) return { route: exact, captures: [path] };
  for (const r of routes.ordered) {
    if (r.regex) {
      const m = r.regex.exec(path);
      if (m) return { route: r, captures: m };
    } else if (prefixMatches(r.path, path)) return { route: r, captures: [path] };
  }
  return undefined;
}

function compileRegex(r: Route, problems: IngressProblem[]): RegExp {
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
