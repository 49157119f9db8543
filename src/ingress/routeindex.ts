// Incremental construction of the route table. Every object that declares routes (an Ingress, a
// root HTTPProxy with its includes, the Gateway API routes) is one *contribution*: its routes
// grouped by host, its TLS hosts, its own problems. Contributions are cached by object identity
// (informers replace an object when it changes), so an update compares identities and assembles
// again only the hosts whose contributions changed; the other hosts' compiled routes are shared
// with the previous table. A change costs work in proportion to the hosts it touches, not to the
// number of objects (the whole-table rebuild took 5–50 ms with 2,000 objects, most of it garbage).
// The table stays immutable: each update makes a new RouteTable (copies of the host maps) that
// the proxy swaps in, and routes of a contribution are copied before the table sets anything on
// them (tls, canaries, regex), so tables never share mutable state.
import type { Ingress, IngressBackend } from 'kubernetes-types/networking/v1.js';
import { parseAnnotations } from './annotations.js';
import {
  compileRegex,
  hostMatches,
  RouteTable,
  specificity,
  type CanaryRoute,
  type ExtraTls,
  type HostRoutes,
  type IngressProblem,
  type ObjectKey,
  type PathType,
  type Route,
  type ServiceBackend,
  type StreamRoute,
  type TlsEntry,
} from './routes.js';
import { compareStrings } from '../machinery/order.js';

/** Routes compiled elsewhere (HTTPProxy, Gateway API), given as one unit; keep the object to keep its cache. */
export interface RouteSource {
  /** Unique among sources, e.g. `HTTPProxy|ns/name`. */
  id: string;
  /** Precedence among sources declaring the same host: lower first (every Ingress comes first). */
  rank: number;
  created: string;
  routes: Route[];
  tls: ExtraTls[];
  /** Hosts whose TLS connections on the HTTPS port are passed through (by SNI), not terminated. */
  passthrough?: StreamRoute[];
}

type HostCanary = CanaryRoute & { path: string };

interface HostPart {
  /** Ingress rule paths (not canaries). */
  main: Route[];
  /** Routes of sources (already in their own precedence order). */
  extra: Route[];
  canaries: HostCanary[];
  /** The Ingress's defaultBackend for this host's unmatched paths. */
  fallback?: Route;
  /** use-regex / rewrite-target was set on this host by this Ingress. */
  regex: boolean;
}

interface Contribution {
  id: string;
  rank: number;
  created: string;
  key: string;
  parts: Map<string, HostPart>;
  tls: ExtraTls[];
  problems: IngressProblem[];
  secrets: string[];
  /** An Ingress's spec.defaultBackend: serves requests no rule matches (the oldest one's). */
  defaultRoute?: Route;
}

const keyString = (k: ObjectKey) => `${k.namespace}/${k.name}`;

function byPrecedence(a: Contribution, b: Contribution): number {
  if (a.rank !== b.rank) return a.rank - b.rank;
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  return compareStrings(a.key, b.key);
}

function serviceBackend(namespace: string, b: IngressBackend | undefined): ServiceBackend | undefined {
  if (!b?.service) return undefined;
  return {
    namespace,
    service: b.service.name,
    port: b.service.port?.name ? { name: b.service.port.name } : { number: b.service.port?.number },
  };
}

const newPart = (): HostPart => ({ main: [], extra: [], canaries: [], regex: false });

function partOf(c: Contribution, host: string): HostPart {
  let p = c.parts.get(host);
  if (!p) c.parts.set(host, (p = newPart()));
  return p;
}

/** One Ingress as a contribution (networking.k8s.io/v1 semantics, ingress-nginx's annotations). */
function ingressContribution(ing: Ingress): Contribution {
  const ingress = { namespace: ing.metadata?.namespace ?? 'default', name: ing.metadata?.name ?? '' };
  const c: Contribution = {
    id: `Ingress|${keyString(ingress)}`,
    rank: 0,
    created: ing.metadata?.creationTimestamp ?? '',
    key: keyString(ingress),
    parts: new Map(),
    tls: [],
    problems: [],
    secrets: [],
  };
  const { options, problems } = parseAnnotations(ing);
  for (const message of problems) c.problems.push({ ingress, reason: 'InvalidAnnotation', message });
  if (options.basicAuth) c.secrets.push(keyString(options.basicAuth.secret));
  if (!options.canary)
    for (const t of ing.spec?.tls ?? [])
      for (const h of t.hosts ?? []) {
        if (!t.secretName) continue;
        const secret = { namespace: ingress.namespace, name: t.secretName };
        c.secrets.push(keyString(secret));
        c.tls.push({ host: h.toLowerCase(), entry: { ingress, secret } });
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
    c.problems.push({
      ingress,
      reason: 'UnsupportedBackend',
      message: 'resource backends are not supported by k8ts ingress (defaultBackend ignored)',
    });
  for (const rule of ing.spec?.rules ?? []) {
    const host = (rule.host ?? '').toLowerCase();
    const part = partOf(c, host);
    if (options.useRegex || options.rewriteTarget) part.regex = true;
    if (fallbackBackend && host && !options.canary && !part.fallback)
      part.fallback = routeOf(host, '/', 'Prefix', fallbackBackend);
    for (const p of rule.http?.paths ?? []) {
      const path = p.path || '/';
      const pathType = (p.pathType ?? 'ImplementationSpecific') as PathType;
      const b = serviceBackend(ingress.namespace, p.backend);
      if (!b) {
        c.problems.push({
          ingress,
          reason: 'UnsupportedBackend',
          message: `${host || '*'}${path}: resource backends are not supported by k8ts ingress (path ignored)`,
        });
        continue;
      }
      if (options.canary) part.canaries.push({ ingress, backend: b, canary: options.canary, path });
      else part.main.push(routeOf(host, path, pathType, b));
    }
  }
  if (fallbackBackend && !options.canary) c.defaultRoute = routeOf('', '/', 'Prefix', fallbackBackend);
  return c;
}

function sourceContribution(s: RouteSource): Contribution {
  const c: Contribution = {
    id: s.id,
    rank: s.rank,
    created: s.created,
    key: s.id,
    parts: new Map(),
    tls: s.tls,
    problems: [],
    secrets: s.tls.map((t) => keyString(t.entry.secret)),
  };
  for (const r of s.routes) partOf(c, r.host).extra.push(r);
  return c;
}

interface AssembledHost {
  /** Unset when the host has no route at all (its requests go to wildcard or host-less rules). */
  routes?: HostRoutes;
  /** Every route in force for the host (paths, extras, fallback). */
  all: Route[];
  problems: IngressProblem[];
}

export class RouteIndex {
  private readonly ingressCache = new WeakMap<Ingress, Contribution>();
  private readonly sourceCache = new WeakMap<RouteSource, Contribution>();
  private contribs = new Map<string, Contribution>();
  /** Route hosts and TLS hosts, each with the ids of the contributions that declare them. */
  private readonly byHost = new Map<string, Set<string>>();
  private readonly byTlsHost = new Map<string, Set<string>>();
  private assembled = new Map<string, AssembledHost>();
  private tls = new Map<string, TlsEntry>();
  private current = RouteTable.none();
  /** Hosts assembled by the last update (for tests and the benchmark's accounting). */
  lastAssembled = 0;

  get table(): RouteTable {
    return this.current;
  }

  /** The table for these Ingresses (ours only) and sources; hosts whose inputs are unchanged are reused. */
  update(ingresses: readonly Ingress[], sources: readonly RouteSource[]): RouteTable {
    const next = new Map<string, Contribution>();
    for (const ing of ingresses) {
      let c = this.ingressCache.get(ing);
      if (!c) this.ingressCache.set(ing, (c = ingressContribution(ing)));
      next.set(c.id, c);
    }
    for (const s of sources) {
      let c = this.sourceCache.get(s);
      if (!c) this.sourceCache.set(s, (c = sourceContribution(s)));
      next.set(c.id, c);
    }
    const dirtyHosts = new Set<string>();
    const dirtyTls = new Set<string>();
    const index = (c: Contribution, add: boolean) => {
      for (const h of c.parts.keys()) {
        dirtyHosts.add(h);
        link(this.byHost, h, c.id, add);
      }
      for (const t of c.tls) {
        dirtyTls.add(t.host);
        link(this.byTlsHost, t.host, c.id, add);
      }
    };
    let changed = false;
    for (const [id, old] of this.contribs)
      if (next.get(id) !== old) {
        index(old, false);
        changed = true;
      }
    for (const [id, c] of next)
      if (this.contribs.get(id) !== c) {
        index(c, true);
        changed = true;
      }
    this.contribs = next;
    this.lastAssembled = 0;
    if (!changed) return this.current;

    const tls = new Map(this.tls);
    for (const t of dirtyTls) {
      const before = tls.get(t);
      const winner = this.sorted(this.byTlsHost.get(t))[0]?.tls.find((x) => x.host === t)?.entry;
      if (winner) tls.set(t, winner);
      else tls.delete(t);
      if (before?.secret.namespace === winner?.secret.namespace && before?.secret.name === winner?.secret.name)
        continue;
      // Whether a host has TLS decides its HTTP→HTTPS redirect: the hosts it covers are assembled again.
      dirtyHosts.add(t);
      if (t.startsWith('*.')) for (const h of this.byHost.keys()) if (hostMatches(t, h)) dirtyHosts.add(h);
    }
    this.tls = tls;
    const assembled = new Map(this.assembled);
    for (const h of dirtyHosts) {
      const ids = this.byHost.get(h);
      if (ids?.size) assembled.set(h, this.assemble(h, this.sorted(ids)));
      else assembled.delete(h);
    }
    this.assembled = assembled;
    this.lastAssembled = dirtyHosts.size;

    const hosts = new Map<string, HostRoutes>();
    const wildcards = new Map<string, HostRoutes>();
    let anyHost: HostRoutes | undefined;
    const routes: Route[] = [];
    const problems: IngressProblem[] = [];
    const secretsUsed = new Set<string>();
    let defaultRoute: Contribution | undefined;
    for (const c of next.values()) {
      problems.push(...c.problems);
      for (const s of c.secrets) secretsUsed.add(s);
      if (c.defaultRoute && (!defaultRoute || byPrecedence(c, defaultRoute) < 0)) defaultRoute = c;
    }
    for (const [h, a] of assembled) {
      if (a.routes) {
        if (h === '') anyHost = a.routes;
        else (h.startsWith('*.') ? wildcards : hosts).set(h, a.routes);
      }
      routes.push(...a.all);
      problems.push(...a.problems);
    }
    if (defaultRoute?.defaultRoute) routes.push(defaultRoute.defaultRoute);
    this.current = RouteTable.fromParts({
      hosts,
      wildcards,
      anyHost,
      defaultRoute: defaultRoute?.defaultRoute,
      tls,
      problems,
      secretsUsed,
      routes,
    });
    return this.current;
  }

  private sorted(ids: Set<string> | undefined): Contribution[] {
    const list: Contribution[] = [];
    for (const id of ids ?? []) {
      const c = this.contribs.get(id);
      if (c) list.push(c);
    }
    return list.sort(byPrecedence);
  }

  private tlsFor(host: string): boolean {
    if (this.tls.has(host)) return true;
    const dot = host.indexOf('.');
    return dot > 0 && this.tls.has('*.' + host.slice(dot + 1));
  }

  /**
   * The routes of one host from its contributions in precedence order: on the same path and type
   * the older Ingress wins (a Conflict for the other), Exact before Prefix, the longest path
   * first, canaries attached to the route of their path.
   */
  private assemble(host: string, list: Contribution[]): AssembledHost {
    const routes: HostRoutes = { exact: new Map(), ordered: [], regexMode: false };
    const all: Route[] = [];
    const problems: IngressProblem[] = [];
    const tls = this.tlsFor(host);
    const regex = list.some((c) => c.parts.get(host)?.regex);
    const seen = new Map<string, Route>();
    const use = (r: Route): Route => {
      const copy: Route = { ...r, tls, canaries: [] };
      all.push(copy);
      return copy;
    };
    for (const c of list)
      for (const r of c.parts.get(host)?.main ?? []) {
        const id = `${r.path}\n${r.pathType === 'Exact' ? 'Exact' : 'Prefix'}`;
        const winner = seen.get(id);
        if (winner) {
          if (keyString(winner.ingress) !== keyString(r.ingress))
            problems.push({
              ingress: r.ingress,
              reason: 'Conflict',
              message: `${host || '*'}${r.path} is already served by Ingress ${keyString(winner.ingress)} (older)`,
            });
          continue;
        }
        seen.set(id, r);
        const copy = use(r);
        routes.regexMode ||= regex;
        if (r.pathType === 'Exact') routes.exact.set(r.path, copy);
        else routes.ordered.push(copy);
      }
    for (const c of list)
      for (const r of c.parts.get(host)?.extra ?? []) {
        const id = `${r.path}\n${r.pathType}\n${JSON.stringify(r.conditions ?? {})}\n`;
        if (seen.has(id)) continue;
        seen.set(id, r);
        routes.ordered.push(use(r));
      }
    const fallback = list.find((c) => c.parts.get(host)?.fallback)?.parts.get(host)?.fallback;
    if (fallback) routes.fallback = use(fallback);
    // Longest first: the longest Prefix wins; on regex hosts, longer expressions are tried first.
    routes.ordered.sort(specificity);
    if (routes.regexMode)
      for (const r of routes.ordered) if (!r.kind || r.kind === 'Ingress') r.regex = compileRegex(r, problems);
    for (const c of list)
      for (const can of c.parts.get(host)?.canaries ?? []) {
        const { path } = can;
        const target = routes.exact.get(path) ?? routes.ordered.find((r) => r.path === path);
        if (!target) {
          problems.push({
            ingress: can.ingress,
            reason: 'CanaryWithoutMain',
            message: `canary ${host || '*'}${path}: no non-canary Ingress serves this host and path`,
          });
          continue;
        }
        target.canaries.push({ ingress: can.ingress, backend: can.backend, canary: can.canary });
      }
    return { routes: all.length ? routes : undefined, all, problems };
  }
}

/** A table of Ingresses, then the routes of HTTPProxies and HTTPRoutes (`extra`, already in precedence order). */
export function buildRouteTable(
  ingresses: readonly Ingress[],
  extra: { routes: Route[]; tls: ExtraTls[] } = { routes: [], tls: [] },
): RouteTable {
  return new RouteIndex().update(ingresses, [{ id: 'extra', rank: 1, created: '', ...extra }]);
}

function link(map: Map<string, Set<string>>, host: string, id: string, add: boolean): void {
  let ids = map.get(host);
  if (add) {
    if (!ids) map.set(host, (ids = new Set()));
    ids.add(id);
  } else if (ids) {
    ids.delete(id);
    if (!ids.size) map.delete(host);
  }
}
