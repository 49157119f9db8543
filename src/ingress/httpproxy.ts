// Contour's HTTPProxy (projectcontour.io/v1) compiled into the ingress route model. Semantics as
// Contour's DAG builder: a root (spec.virtualhost.fqdn) owns a host and may include other
// proxies, across namespaces, under prefix and header conditions that are concatenated down the
// chain; only proxies reachable from a valid root serve, the rest are orphaned. A broken include,
// a cycle or a root including a root marks the proxy invalid, never the other teams' routes.
// One deliberate difference: when two roots claim one fqdn, Contour rejects both; here the
// existing one (oldest creationTimestamp, then namespace/name) keeps serving and only the
// newcomer is invalid, so one team cannot take another's host down.
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import { DEFAULT_ROUTE_OPTIONS } from './annotations.js';
import type { RouteSource } from './routeindex.js';
import type {
  ExtraTls,
  HeaderEdits,
  ObjectKey,
  Route,
  RoutePolicy,
  ServiceBackend,
  StreamRoute,
  ValueMatch,
  WeightedBackend,
} from './routes.js';
import { byCreation, keyOf, keyString } from './routes.js';

export interface HeaderCondition {
  name: string;
  present?: boolean;
  notpresent?: boolean;
  contains?: string;
  notcontains?: string;
  exact?: string;
  notexact?: string;
  regex?: string;
}

/** Contour's query parameter condition: exactly one of the matches, values optionally case-insensitive. */
export interface QueryParameterCondition {
  name: string;
  exact?: string;
  prefix?: string;
  suffix?: string;
  regex?: string;
  contains?: string;
  present?: boolean;
  ignoreCase?: boolean;
}

export interface MatchCondition {
  prefix?: string;
  header?: HeaderCondition;
  queryParameter?: QueryParameterCondition;
}

export interface HeaderValue {
  name: string;
  value: string;
}

export interface HeadersPolicy {
  set?: HeaderValue[];
  remove?: string[];
}

export interface ProxyService {
  name: string;
  port: number;
  weight?: number;
  mirror?: boolean;
  requestHeadersPolicy?: HeadersPolicy;
  responseHeadersPolicy?: HeadersPolicy;
}

export interface ProxyRoute {
  conditions?: MatchCondition[];
  services?: ProxyService[];
  timeoutPolicy?: { response?: string; idle?: string };
  retryPolicy?: { count?: number; perTryTimeout?: string };
  pathRewritePolicy?: { replacePrefix?: { prefix?: string; replacement: string }[] };
  requestHeadersPolicy?: HeadersPolicy;
  responseHeadersPolicy?: HeadersPolicy;
  permitInsecure?: boolean;
}

export interface ProxyInclude {
  name: string;
  namespace?: string;
  conditions?: MatchCondition[];
}

export interface HTTPProxy {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: {
    virtualhost?: { fqdn: string; tls?: { secretName?: string; passthrough?: boolean } };
    /**
     * TLS connections for the fqdn go to these services: undecrypted with `tls.passthrough`, the
     * cleartext with `tls.secretName`. `include` (or the deprecated `includes`) delegates the
     * services to another, non-root, HTTPProxy's tcpproxy.
     */
    tcpproxy?: {
      services?: { name: string; port: number; weight?: number }[];
      include?: { name: string; namespace?: string };
      includes?: { name: string; namespace?: string };
    };
    routes?: ProxyRoute[];
    includes?: ProxyInclude[];
  };
  status?: HTTPProxyStatus;
}

export interface TLSCertificateDelegation {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: { delegations?: { secretName: string; targetNamespaces: string[] }[] };
}

/** One of Contour's sub-conditions (an entry of a DetailedCondition's errors). */
export interface SubCondition {
  type: string;
  status: 'True';
  reason: string;
  message: string;
}

export interface DetailedCondition {
  type: 'Valid';
  status: 'True' | 'False';
  observedGeneration?: number;
  lastTransitionTime?: string;
  reason: string;
  message: string;
  errors?: SubCondition[];
}

export interface HTTPProxyStatus {
  currentStatus?: 'valid' | 'invalid' | 'orphaned';
  description?: string;
  loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] };
  conditions?: DetailedCondition[];
}

export interface ProxyVerdict {
  currentStatus: 'valid' | 'invalid' | 'orphaned';
  description: string;
  errors: SubCondition[];
}

export interface HttpProxyContext {
  /** --ingress-root-namespaces; empty: roots anywhere. */
  rootNamespaces: readonly string[];
  delegations: readonly TLSCertificateDelegation[];
  serviceExists(namespace: string, name: string): boolean;
  secretExists(namespace: string, name: string): boolean;
}

export interface CompiledProxies {
  routes: Route[];
  tls: ExtraTls[];
  /** Roots with a tcpproxy: their fqdn's TLS connections go to its services (passed through or terminated). */
  passthrough: StreamRoute[];
  /** By namespace/name, for every proxy given. */
  verdicts: Map<string, ProxyVerdict>;
}

export const VALID_MESSAGE = 'Valid HTTPProxy';
export const ORPHANED_MESSAGE = 'this HTTPProxy is not part of a delegation chain from a root HTTPProxy';
export const ROOT_INCLUDES_ROOT_MESSAGE = 'root httpproxy cannot delegate to another root httpproxy';
export const ERROR_PRESENT = 'At least one error present, see Errors for details';

/** Contour's durations: Go syntax (`1m30s`, `500ms`) or `infinity`; 0 means no limit. */
export function parseTimeout(s: string | undefined): number | undefined {
  if (s === undefined || s === '') return undefined;
  if (s === 'infinity' || s === 'infinite') return 0;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 1e-6 };
  let total = 0;
  let rest = s;
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/.exec(rest);
    if (!m) throw new Error(`time: invalid duration "${s}"`);
    total += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  return Math.round(total);
}

/** Prefixes of a chain joined into one path: `/blog` + `/posts` = `/blog/posts`; `/blog` + `/` = `/blog`. */
export function joinPrefixes(prefixes: readonly string[]): string {
  const joined = prefixes
    .filter((p) => p !== '')
    .map((p) => (p.startsWith('/') ? p : '/' + p))
    .join('')
    .replace(/\/{2,}/g, '/');
  const trimmed = joined.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

function headerMatch(h: HeaderCondition): ValueMatch | string {
  const name = h.name.toLowerCase();
  if (h.present) return { name, type: 'Present' };
  if (h.notpresent) return { name, type: 'NotPresent' };
  if (h.contains !== undefined) return { name, type: 'Contains', value: h.contains };
  if (h.notcontains !== undefined) return { name, type: 'NotContains', value: h.notcontains };
  if (h.exact !== undefined) return { name, type: 'Exact', value: h.exact };
  if (h.notexact !== undefined) return { name, type: 'Exact', value: h.notexact, invert: true };
  if (h.regex !== undefined) {
    try {
      return { name, type: 'RegularExpression', value: h.regex, regex: new RegExp(`^(?:${h.regex})$`) };
    } catch (err) {
      return `header "${h.name}": invalid regex: ${(err as Error).message}`;
    }
  }
  return `header condition "${h.name}" must specify one of present, notpresent, contains, notcontains, exact, notexact or regex`;
}

function headerEdits(p: HeadersPolicy | undefined): HeaderEdits | undefined {
  if (!p) return undefined;
  return {
    set: (p.set ?? []).map((h): [string, string] => [h.name.toLowerCase(), h.value]),
    add: [],
    remove: (p.remove ?? []).map((h) => h.toLowerCase()),
  };
}

/**
 * Contour's queryParameterMatchConditionsValid: one match per condition, no two `exact` ones for
 * a parameter (names compared case-insensitively), valid regular expressions.
 */
function queryProblem(conditions: readonly MatchCondition[]): string | undefined {
  const exact = new Set<string>();
  for (const { queryParameter: q } of conditions) {
    if (!q) continue;
    const set = [q.exact, q.prefix, q.suffix, q.regex, q.contains, q.present ? 'true' : ''].filter((v) => !!v);
    if (!set.length) return 'must specify at least one query parameter condition';
    if (set.length > 1) return 'cannot specify more than one condition in the same match condition branch';
    const name = q.name.toLowerCase();
    if (q.exact) {
      if (exact.has(name)) return "cannot specify duplicate query parameter 'exact match' conditions in the same route";
      exact.add(name);
    }
    if (q.regex)
      try {
        new RegExp(q.regex);
      } catch {
        return "invalid regular expression specified for 'regex' condition";
      }
  }
  return undefined;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A valid query parameter condition as a route condition (Envoy's string matchers: `regex` matches the whole value). */
function queryMatch(q: QueryParameterCondition): ValueMatch {
  const { name } = q;
  const flags = q.ignoreCase ? 'i' : '';
  const re = (expr: string, value: string): ValueMatch => ({
    name,
    type: 'RegularExpression',
    value,
    regex: new RegExp(expr, flags),
  });
  if (q.present) return { name, type: 'Present' };
  if (q.regex) return { name, type: 'RegularExpression', value: q.regex, regex: new RegExp(`^(?:${q.regex})$`) };
  if (q.prefix) return re(`^${escapeRegex(q.prefix)}`, q.prefix);
  if (q.suffix) return re(`${escapeRegex(q.suffix)}$`, q.suffix);
  if (q.contains)
    return q.ignoreCase ? re(escapeRegex(q.contains), q.contains) : { name, type: 'Contains', value: q.contains };
  const exact = q.exact ?? '';
  return q.ignoreCase ? re(`^${escapeRegex(exact)}$`, exact) : { name, type: 'Exact', value: exact };
}

/** Contour's pathMatchConditionsValid: at most one prefix per list, each starting with `/`. */
function prefixProblem(conditions: readonly MatchCondition[]): string | undefined {
  const prefixes = conditions.filter((c) => c.prefix !== undefined);
  if (prefixes.length > 1) return 'more than one prefix is not allowed in a condition block';
  const p = prefixes[0]?.prefix;
  if (p !== undefined && !p.startsWith('/')) return 'prefix conditions must start with /, ' + p + ' was supplied';
  return undefined;
}

/** Whether a Secret in another namespace is delegated to `namespace` by a TLSCertificateDelegation. */
export function delegationPermitted(
  secret: ObjectKey,
  namespace: string,
  delegations: readonly TLSCertificateDelegation[],
): boolean {
  if (secret.namespace === namespace) return true;
  return delegations.some(
    (d) =>
      (d.metadata.namespace ?? 'default') === secret.namespace &&
      (d.spec?.delegations ?? []).some(
        (x) => x.secretName === secret.name && x.targetNamespaces.some((t) => t === '*' || t === namespace),
      ),
  );
}

const rootAllowed = (p: HTTPProxy, ctx: HttpProxyContext) =>
  !ctx.rootNamespaces.length || ctx.rootNamespaces.includes(keyOf(p).namespace);
const fqdnOf = (p: HTTPProxy | undefined) => (p?.spec?.virtualhost?.fqdn ?? '').toLowerCase();

/** One root compiled with everything it includes. */
interface RootResult {
  root: HTTPProxy;
  errors: Map<string, SubCondition[]>;
  reached: Set<string>;
  /** Every proxy looked up while compiling (found or not): a change to one recompiles this root. */
  refs: Set<string>;
  /** Its routes and TLS host as one source of the route table (the same object while unchanged). */
  source: RouteSource;
}

/** Compiles one root HTTPProxy and its include tree. */
class RootCompiler {
  readonly out: { routes: Route[]; tls: ExtraTls[]; passthrough: StreamRoute[] } = {
    routes: [],
    tls: [],
    passthrough: [],
  };
  readonly errors = new Map<string, SubCondition[]>();
  readonly reached = new Set<string>();
  readonly refs = new Set<string>();

  constructor(
    private readonly byKey: ReadonlyMap<string, HTTPProxy>,
    private readonly ctx: HttpProxyContext,
    /** Allowed roots by fqdn, oldest first: the first one owns the fqdn. */
    private readonly owners: ReadonlyMap<string, HTTPProxy[]>,
  ) {}

  private error(p: HTTPProxy, type: string, reason: string, message: string): void {
    const k = keyString(keyOf(p));
    const list = this.errors.get(k) ?? [];
    if (!list.some((e) => e.reason === reason && e.message === message))
      list.push({ type, status: 'True', reason, message });
    this.errors.set(k, list);
  }

  run(root: HTTPProxy): this {
    this.reached.add(keyString(keyOf(root)));
    const fqdn = fqdnOf(root);
    if (!fqdn) {
      this.error(root, 'VirtualHostError', 'FQDNNotSpecified', 'Spec.VirtualHost.Fqdn must be specified');
      return this;
    }
    const claimants = this.owners.get(fqdn) ?? [];
    if (claimants.length > 1 && claimants[0] !== root) {
      const names = claimants.map((c) => keyString(keyOf(c))).sort();
      this.error(
        root,
        'VirtualHostError',
        'DuplicateVhost',
        `fqdn "${fqdn}" is used in multiple HTTPProxies: ${names.join(', ')}`,
      );
      return this;
    }
    this.compileRoot(root, fqdn);
    return this;
  }

  private compileRoot(root: HTTPProxy, fqdn: string): void {
    const { namespace } = keyOf(root);
    if (!rootAllowed(root, this.ctx)) {
      this.error(
        root,
        'RootNamespaceError',
        'RootProxyNotAllowedInNamespace',
        'root HTTPProxy cannot be defined in this namespace',
      );
      return;
    }
    if (!root.spec?.routes?.length && !root.spec?.includes?.length && !root.spec?.tcpproxy) {
      this.error(
        root,
        'SpecError',
        'NothingDefined',
        'HTTPProxy.Spec must have at least one Route, Include, or a TCPProxy',
      );
      return;
    }
    let tls = false;
    const secretName = root.spec?.virtualhost?.tls?.secretName;
    const passthrough = root.spec?.virtualhost?.tls?.passthrough === true;
    if (passthrough && secretName) {
      this.error(
        root,
        'TLSError',
        'TLSConfigNotValid',
        'Spec.VirtualHost.TLS: both Passthrough and SecretName were specified',
      );
      return;
    }
    if (root.spec?.virtualhost?.tls && !passthrough) {
      if (!secretName) {
        this.error(
          root,
          'TLSError',
          'TLSConfigNotValid',
          'Spec.VirtualHost.TLS: neither Passthrough nor SecretName were specified',
        );
        return;
      }
      const slash = secretName.indexOf('/');
      const secret =
        slash < 0
          ? { namespace, name: secretName }
          : { namespace: secretName.slice(0, slash), name: secretName.slice(slash + 1) };
      if (!this.ctx.secretExists(secret.namespace, secret.name)) {
        this.error(
          root,
          'TLSError',
          'SecretNotValid',
          `Spec.VirtualHost.TLS Secret "${secretName}" is invalid: Secret not found`,
        );
        return;
      }
      if (!delegationPermitted(secret, namespace, this.ctx.delegations)) {
        this.error(
          root,
          'TLSError',
          'DelegationNotPermitted',
          `Spec.VirtualHost.TLS Secret "${secretName}" certificate delegation not permitted`,
        );
        return;
      }
      this.out.tls.push({ host: fqdn, entry: { ingress: keyOf(root), secret } });
      tls = true;
    }
    if (root.spec?.tcpproxy) {
      // Contour: TCP proxying needs TLS, passed through (SNI only) or terminated with the Secret.
      if (!passthrough && !tls) {
        this.error(
          root,
          'TCPProxyError',
          'TLSMustBeConfigured',
          'Spec.TCPProxy requires that either Spec.TLS.Passthrough or Spec.TLS.SecretName be set',
        );
        return;
      }
      const backends = this.tcpProxy(root, []);
      if (!backends) return;
      this.out.passthrough.push({
        route: keyOf(root),
        kind: 'HTTPProxy',
        hosts: [fqdn],
        backends,
        ...(passthrough ? {} : { terminate: true }),
      });
    } else if (passthrough) {
      // TLS passthrough needs somewhere to send the connections.
      this.error(root, 'TCPProxyError', 'NothingDefined', 'Spec.TCPProxy: TLS passthrough requires a tcpproxy service');
      return;
    }
    this.out.routes.push(...this.compileProxy(root, fqdn, tls, [], []));
  }

  /**
   * The services of a proxy's `tcpproxy`, following `tcpproxy.include` (or the deprecated
   * `includes`) across namespaces as Contour does; undefined (with the error recorded on the proxy
   * at fault) when the chain is invalid. An included proxy without a tcpproxy gives no services.
   */
  private tcpProxy(proxy: HTTPProxy, visited: HTTPProxy[]): WeightedBackend[] | undefined {
    const tcp = proxy.spec?.tcpproxy;
    if (!tcp) return [];
    const { namespace } = keyOf(proxy);
    const include = tcp.include ?? tcp.includes;
    if (tcp.services?.length && include) {
      this.error(
        proxy,
        'TCPProxyError',
        'NoServicesAndInclude',
        'cannot specify services and include in the same httpproxy',
      );
      return undefined;
    }
    if (tcp.services?.length) {
      const backends: WeightedBackend[] = [];
      for (const svc of tcp.services) {
        if (!this.ctx.serviceExists(namespace, svc.name)) {
          this.error(
            proxy,
            'TCPProxyError',
            'ServiceUnresolvedReference',
            `Spec.TCPProxy unresolved service reference: service "${namespace}/${svc.name}" not found`,
          );
          return undefined;
        }
        const weight = svc.weight ?? 1;
        if (weight > 0)
          backends.push({ backend: { namespace, service: svc.name, port: { number: svc.port } }, weight });
      }
      return backends;
    }
    if (!include) {
      this.error(proxy, 'TCPProxyError', 'NothingDefined', 'either services or inclusion must be specified');
      return undefined;
    }
    const ns = include.namespace || namespace;
    const key = `${ns}/${include.name}`;
    this.refs.add(key);
    const dest = this.byKey.get(key);
    if (!dest) {
      this.error(proxy, 'TCPProxyIncludeError', 'IncludeNotFound', `include ${key} not found`);
      return undefined;
    }
    if (dest.spec?.virtualhost) {
      this.error(
        proxy,
        'TCPProxyIncludeError',
        'RootIncludesRoot',
        `root httpproxy cannot include another root httpproxy (${key})`,
      );
      return undefined;
    }
    this.reached.add(key);
    const chain = [...visited, proxy];
    if (chain.includes(dest)) {
      const path = [...chain, dest].map((p) => keyString(keyOf(p)));
      this.error(proxy, 'TCPProxyIncludeError', 'IncludeCreatesCycle', `include creates a cycle: ${path.join(' -> ')}`);
      return undefined;
    }
    return this.tcpProxy(dest, chain);
  }

  /** The routes of one proxy and everything it includes, under the conditions inherited so far. */
  private compileProxy(
    proxy: HTTPProxy,
    fqdn: string,
    tls: boolean,
    inherited: MatchCondition[],
    visited: HTTPProxy[],
  ): Route[] {
    const key = keyOf(proxy);
    if (visited.includes(proxy)) {
      const chain = [...visited, proxy].map((p) => keyString(keyOf(p)));
      this.error(
        proxy,
        'IncludeError',
        'IncludeCreatesCycle',
        `include creates an include cycle: ${chain.join(' -> ')}`,
      );
      return [];
    }
    const chain = [...visited, proxy];
    const routes: Route[] = [];
    for (const inc of proxy.spec?.includes ?? []) {
      const ns = inc.namespace || key.namespace;
      const conditions = inc.conditions ?? [];
      const bad = prefixProblem(conditions);
      if (bad) {
        this.error(proxy, 'IncludeError', 'PathMatchConditionsNotValid', `include: ${bad}`);
        continue;
      }
      const queryBad = queryProblem(conditions);
      if (queryBad) {
        this.error(proxy, 'RouteError', 'QueryParameterMatchConditionsNotValid', queryBad);
        continue;
      }
      this.refs.add(`${ns}/${inc.name}`);
      const target = this.byKey.get(`${ns}/${inc.name}`);
      if (!target) {
        this.error(proxy, 'IncludeError', 'IncludeNotFound', `include ${ns}/${inc.name} not found`);
        // Contour answers 502 under the include's conditions, so the path does not fall through.
        if (conditions.length) {
          const r = this.route(proxy, fqdn, tls, [...inherited, ...conditions], {}, 502);
          if (typeof r !== 'string') routes.push(r);
        }
        continue;
      }
      if (target.spec?.virtualhost) {
        this.error(proxy, 'IncludeError', 'RootIncludesRoot', ROOT_INCLUDES_ROOT_MESSAGE);
        continue;
      }
      this.reached.add(keyString(keyOf(target)));
      routes.push(...this.compileProxy(target, fqdn, tls, [...inherited, ...conditions], chain));
    }
    for (const spec of proxy.spec?.routes ?? []) {
      const bad = prefixProblem(spec.conditions ?? []);
      if (bad) {
        this.error(proxy, 'RouteError', 'PathMatchConditionsNotValid', `route: ${bad}`);
        return [];
      }
      const r = this.route(proxy, fqdn, tls, [...inherited, ...(spec.conditions ?? [])], spec);
      if (typeof r === 'string') return [];
      routes.push(r);
    }
    return routes;
  }

  /** One route, or '' after reporting why the proxy's routes cannot be used. */
  private route(
    proxy: HTTPProxy,
    fqdn: string,
    tls: boolean,
    conditions: MatchCondition[],
    spec: ProxyRoute,
    directStatus?: number,
  ): Route | '' {
    const key = keyOf(proxy);
    const headers: ValueMatch[] = [];
    for (const c of conditions) {
      if (!c.header) continue;
      const m = headerMatch(c.header);
      if (typeof m === 'string') {
        this.error(proxy, 'RouteError', 'HeaderMatchConditionsNotValid', m);
        return '';
      }
      headers.push(m);
    }
    const queryBad = queryProblem(conditions);
    if (queryBad) {
      this.error(proxy, 'RouteError', 'QueryParameterMatchConditionsNotValid', queryBad);
      return '';
    }
    const query = conditions.flatMap((c) => (c.queryParameter ? [queryMatch(c.queryParameter)] : []));
    const prefix = joinPrefixes(conditions.map((c) => c.prefix ?? ''));
    const policy: RoutePolicy = {};
    try {
      policy.responseTimeoutMs = parseTimeout(spec.timeoutPolicy?.response);
      policy.idleTimeoutMs = parseTimeout(spec.timeoutPolicy?.idle);
      if (spec.retryPolicy)
        policy.retries = {
          count: spec.retryPolicy.count ?? 1,
          perTryTimeoutMs: parseTimeout(spec.retryPolicy.perTryTimeout),
        };
    } catch (err) {
      this.error(
        proxy,
        'RouteError',
        'TimeoutPolicyNotValid',
        `route.timeoutPolicy failed to parse: ${(err as Error).message}`,
      );
      return '';
    }
    const weighted: { backend: ServiceBackend; weight: number }[] = [];
    const mirrors: ServiceBackend[] = [];
    for (const s of spec.services ?? []) {
      if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) {
        this.error(
          proxy,
          'ServiceError',
          'ServicePortInvalid',
          `service "${s.name}": port must be in the range 1-65535`,
        );
        return '';
      }
      if (!this.ctx.serviceExists(key.namespace, s.name)) {
        this.error(
          proxy,
          'ServiceError',
          'ServiceUnresolvedReference',
          `Spec.Routes unresolved service reference: service "${key.namespace}/${s.name}" not found`,
        );
        continue;
      }
      const backend: ServiceBackend = { namespace: key.namespace, service: s.name, port: { number: s.port } };
      if (s.mirror) mirrors.push(backend);
      else weighted.push({ backend, weight: s.weight ?? 0 });
    }
    // Contour: with no weight given anywhere, services share traffic equally.
    if (weighted.length && weighted.every((w) => w.weight === 0)) for (const w of weighted) w.weight = 1;
    let rewrite: Route['filters'] = undefined;
    const replacements = spec.pathRewritePolicy?.replacePrefix ?? [];
    if (replacements.length) {
      const chosen = replacements.find((r) => r.prefix && r.prefix === prefix) ?? replacements.find((r) => !r.prefix);
      if (chosen) rewrite = { rewrite: { path: { type: 'ReplacePrefixMatch', value: chosen.replacement } } };
    }
    const readTimeoutMs = policy.idleTimeoutMs || DEFAULT_ROUTE_OPTIONS.readTimeoutMs;
    return {
      ingress: key,
      kind: 'HTTPProxy',
      host: fqdn,
      path: prefix,
      pathType: 'StringPrefix',
      backend: weighted[0]?.backend ?? { namespace: key.namespace, service: '', port: {} },
      weighted: weighted.filter((w) => w.weight > 0),
      // Contour redirects plain HTTP to HTTPS on TLS hosts unless the route permits insecure.
      options: { ...DEFAULT_ROUTE_OPTIONS, sslRedirect: tls && !spec.permitInsecure, readTimeoutMs },
      tls,
      canaries: [],
      conditions: headers.length || query.length ? { headers, query } : undefined,
      filters: {
        ...rewrite,
        requestHeaders: headerEdits(spec.requestHeadersPolicy),
        responseHeaders: headerEdits(spec.responseHeadersPolicy),
        mirrors: mirrors.length ? mirrors : undefined,
      },
      policy,
      directStatus: directStatus ?? (weighted.some((w) => w.weight > 0) ? undefined : 503),
    };
  }
}

/**
 * HTTPProxies compiled root by root and kept: an update compiles again only the roots a change
 * can affect (the changed root, roots whose include tree looked the changed proxy up, roots
 * claiming the same fqdn) and recomputes the verdicts of the proxies those roots reach(ed).
 */
export class HttpProxyIndex {
  private byKey = new Map<string, HTTPProxy>();
  private readonly results = new Map<string, RootResult>();
  private readonly refBy = new Map<string, Set<string>>();
  private readonly reachedBy = new Map<string, Set<string>>();
  private fqdnRoots = new Map<string, string[]>();
  /** By namespace/name, for every proxy. */
  readonly verdicts = new Map<string, ProxyVerdict>();

  /**
   * Brings the compiled state up to date with `proxies`; `all` compiles everything again (the
   * context changed: Services, Secrets, delegations). Returns the proxies whose verdict may differ.
   */
  update(proxies: readonly HTTPProxy[], ctx: HttpProxyContext, all: boolean): Set<string> {
    const byKey = new Map<string, HTTPProxy>();
    for (const p of proxies) byKey.set(keyString(keyOf(p)), p);
    const changed = new Set<string>();
    for (const [k, p] of byKey) {
      const old = this.byKey.get(k);
      // A status write makes a new object with the same generation: its routes are the same.
      const same =
        old === p ||
        (p.metadata.uid !== undefined &&
          old?.metadata.uid === p.metadata.uid &&
          p.metadata.generation !== undefined &&
          old?.metadata.generation === p.metadata.generation);
      if (!same) changed.add(k);
    }
    for (const k of this.byKey.keys()) if (!byKey.has(k)) changed.add(k);

    const owners = new Map<string, HTTPProxy[]>();
    const fqdnRoots = new Map<string, string[]>();
    for (const [k, p] of byKey) {
      if (!p.spec?.virtualhost) continue;
      const fqdn = fqdnOf(p);
      const same = fqdnRoots.get(fqdn);
      if (same) same.push(k);
      else fqdnRoots.set(fqdn, [k]);
      // Only roots that may exist compete for an fqdn: a root in a forbidden namespace cannot block one.
      if (!fqdn || !rootAllowed(p, ctx)) continue;
      const claimants = owners.get(fqdn);
      if (claimants) claimants.push(p);
      else owners.set(fqdn, [p]);
    }
    for (const list of owners.values()) if (list.length > 1) list.sort(byCreation);

    const dirty = new Set<string>(all ? [...this.results.keys(), ...[...fqdnRoots.values()].flat()] : []);
    if (!all)
      for (const k of changed) {
        for (const r of this.refBy.get(k) ?? []) dirty.add(r);
        if (this.results.has(k) || byKey.get(k)?.spec?.virtualhost) dirty.add(k);
        for (const fqdn of new Set([fqdnOf(this.byKey.get(k)), fqdnOf(byKey.get(k))]))
          for (const r of [...(fqdnRoots.get(fqdn) ?? []), ...(this.fqdnRoots.get(fqdn) ?? [])]) dirty.add(r);
      }
    this.byKey = byKey;
    this.fqdnRoots = fqdnRoots;
    const affected = all ? new Set([...byKey.keys(), ...changed]) : changed;
    for (const r of dirty) {
      const old = this.results.get(r);
      if (old) {
        this.index(r, old, false);
        for (const k of old.reached) affected.add(k);
        this.results.delete(r);
      }
      const root = byKey.get(r);
      if (!root?.spec?.virtualhost) continue;
      const c = new RootCompiler(byKey, ctx, owners).run(root);
      const result: RootResult = {
        root,
        errors: c.errors,
        reached: c.reached,
        refs: c.refs,
        source: { id: `HTTPProxy|${r}`, rank: 1, created: root.metadata.creationTimestamp ?? '', ...c.out },
      };
      this.results.set(r, result);
      this.index(r, result, true);
      for (const k of result.reached) affected.add(k);
    }
    for (const k of affected) this.judge(k);
    return affected;
  }

  /** The route sources of the roots (the route table orders them by creation). */
  sources(): RouteSource[] {
    const out: RouteSource[] = [];
    for (const r of this.results.values())
      if (r.source.routes.length || r.source.tls.length || r.source.passthrough?.length) out.push(r.source);
    return out;
  }

  private index(root: string, r: RootResult, add: boolean): void {
    const link = (map: Map<string, Set<string>>, k: string) => {
      let set = map.get(k);
      if (add) {
        if (!set) map.set(k, (set = new Set()));
        set.add(root);
      } else if (set) {
        set.delete(root);
        if (!set.size) map.delete(k);
      }
    };
    for (const k of r.refs) link(this.refBy, k);
    for (const k of r.reached) link(this.reachedBy, k);
  }

  /** A proxy's verdict: orphaned unless a root reaches it, else the errors of every root that does. */
  private judge(k: string): void {
    if (!this.byKey.has(k)) {
      this.verdicts.delete(k);
      return;
    }
    const roots = [...(this.reachedBy.get(k) ?? [])]
      .flatMap((r) => this.results.get(r) ?? [])
      .sort((a, b) => byCreation(a.root, b.root));
    if (!roots.length) {
      this.verdicts.set(k, {
        currentStatus: 'orphaned',
        description: ORPHANED_MESSAGE,
        errors: [{ type: 'Orphaned', status: 'True', reason: 'Orphaned', message: ORPHANED_MESSAGE }],
      });
      return;
    }
    const errors: SubCondition[] = [];
    for (const r of roots)
      for (const e of r.errors.get(k) ?? [])
        if (!errors.some((x) => x.reason === e.reason && x.message === e.message)) errors.push(e);
    this.verdicts.set(
      k,
      errors.length
        ? { currentStatus: 'invalid', description: errors[0].message, errors }
        : { currentStatus: 'valid', description: VALID_MESSAGE, errors: [] },
    );
  }
}

/** Every proxy's verdict, and the routes and TLS hosts of those reachable from valid roots. */
export function compileHttpProxies(proxies: readonly HTTPProxy[], ctx: HttpProxyContext): CompiledProxies {
  const index = new HttpProxyIndex();
  index.update(proxies, ctx, true);
  const sources = index
    .sources()
    .sort((a, b) => (a.created !== b.created ? (a.created < b.created ? -1 : 1) : a.id < b.id ? -1 : 1));
  return {
    routes: sources.flatMap((s) => s.routes),
    tls: sources.flatMap((s) => s.tls),
    passthrough: sources.flatMap((s) => s.passthrough ?? []),
    verdicts: index.verdicts,
  };
}

/** status of one proxy as Contour writes it (the Valid condition keeps its transition time while unchanged). */
export function proxyStatus(
  proxy: HTTPProxy,
  verdict: ProxyVerdict,
  addresses: { ip: string }[],
  now: string,
): HTTPProxyStatus {
  const valid = verdict.currentStatus === 'valid';
  const condition: DetailedCondition = {
    type: 'Valid',
    status: valid ? 'True' : 'False',
    observedGeneration: proxy.metadata.generation,
    lastTransitionTime: now,
    reason: valid ? 'Valid' : verdict.currentStatus === 'orphaned' ? 'Orphaned' : 'ErrorPresent',
    message: valid ? VALID_MESSAGE : verdict.currentStatus === 'orphaned' ? ORPHANED_MESSAGE : ERROR_PRESENT,
    ...(verdict.errors.length ? { errors: verdict.errors } : {}),
  };
  const before = proxy.status?.conditions?.find((c) => c.type === 'Valid');
  if (before?.status === condition.status && before.lastTransitionTime)
    condition.lastTransitionTime = before.lastTransitionTime;
  return {
    currentStatus: verdict.currentStatus,
    description: verdict.description,
    loadBalancer: valid && proxy.spec?.virtualhost ? { ingress: addresses } : {},
    conditions: [condition],
  };
}
