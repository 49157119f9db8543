// Gateway API v1 (gateway.networking.k8s.io) compiled into the ingress route model: Gateways of a
// GatewayClass whose controllerName is k8ts's, their HTTP/HTTPS listeners served on the ingress
// ports, and the HTTPRoutes attached to them. Semantics and status follow the specification's
// core conformance: hostnames intersected with the listener's, path/header/query/method matches
// with the spec's precedence, the five core filters, weighted backendRefs, and references to
// another namespace only where a ReferenceGrant there allows them.
import type { ObjectMeta, Condition, LabelSelector } from 'kubernetes-types/meta/v1.js';
import { labelSelectorMatches } from '../machinery/labels.js';
import { DEFAULT_ROUTE_OPTIONS } from './annotations.js';
import type {
  ExtraTls,
  HeaderEdits,
  ObjectKey,
  PathModifier,
  PathType,
  Route,
  RouteFilters,
  RoutePolicy,
  ServiceBackend,
  StreamRoute,
  ValueMatch,
  WeightedBackend,
} from './routes.js';
import { byCreation, keyOf, keyString } from './routes.js';

export type { StreamRoute } from './routes.js';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
export const GATEWAY_CONTROLLER = 'k8ts.io/gateway-controller';
export const GATEWAY_CLASS_NAME = 'k8ts';

interface Meta {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export interface GatewayClass extends Meta {
  spec?: { controllerName: string; description?: string };
  status?: { conditions?: Condition[] };
}

export interface SecretObjectRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
}

export interface Listener {
  name: string;
  hostname?: string;
  port: number;
  protocol: string;
  tls?: { mode?: string; certificateRefs?: SecretObjectRef[] };
  allowedRoutes?: {
    namespaces?: { from?: 'All' | 'Same' | 'Selector'; selector?: LabelSelector };
    kinds?: { group?: string; kind: string }[];
  };
}

export interface ListenerStatus {
  name: string;
  supportedKinds: { group: string; kind: string }[];
  attachedRoutes: number;
  conditions: Condition[];
}

export interface Gateway extends Meta {
  spec?: { gatewayClassName: string; listeners?: Listener[] };
  status?: { addresses?: { type: string; value: string }[]; conditions?: Condition[]; listeners?: ListenerStatus[] };
}

export interface ParentRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
}

export interface HeaderFilter {
  set?: { name: string; value: string }[];
  add?: { name: string; value: string }[];
  remove?: string[];
}

export interface HTTPPathModifier {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  replaceFullPath?: string;
  replacePrefixMatch?: string;
}

export interface HTTPRouteFilter {
  type: string;
  requestHeaderModifier?: HeaderFilter;
  responseHeaderModifier?: HeaderFilter;
  requestRedirect?: { scheme?: string; hostname?: string; path?: HTTPPathModifier; port?: number; statusCode?: number };
  urlRewrite?: { hostname?: string; path?: HTTPPathModifier };
  requestMirror?: { backendRef: BackendRef };
}

export interface HTTPRouteMatch {
  path?: { type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value?: string };
  headers?: { type?: 'Exact' | 'RegularExpression'; name: string; value: string }[];
  queryParams?: { type?: 'Exact' | 'RegularExpression'; name: string; value: string }[];
  method?: string;
}

export interface HTTPRouteRule {
  matches?: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: BackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
}

/** Gateway API's Duration (`1h`, `1m30s`, `500ms`; GEP-2257), in ms; undefined when unusable. */
export function gatewayDuration(s: string | undefined): number | undefined {
  if (!s || !/^([0-9]{1,5}(h|m|s|ms)){1,4}$/.test(s)) return undefined;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  for (const m of s.matchAll(/([0-9]+)(ms|h|m|s)/g)) total += Number(m[1]) * units[m[2]];
  return total;
}

/**
 * An HTTPRoute rule's timeouts: `request` bounds the whole response, `backendRequest` each
 * request to a backend; both answer 504 past it. `0s` is no limit, as the spec says.
 */
export function rulePolicy(t: HTTPRouteRule['timeouts']): RoutePolicy | undefined {
  const request = gatewayDuration(t?.request);
  const backendRequest = gatewayDuration(t?.backendRequest);
  if (!request && !backendRequest) return undefined;
  return { responseTimeoutMs: request || undefined, backendRequestTimeoutMs: backendRequest || undefined };
}

export interface RouteParentStatus {
  parentRef: ParentRef;
  controllerName: string;
  conditions: Condition[];
}

export interface HTTPRoute extends Meta {
  spec?: { parentRefs?: ParentRef[]; hostnames?: string[]; rules?: HTTPRouteRule[] };
  status?: { parents?: RouteParentStatus[] };
}

export interface GRPCMethodMatch {
  type?: 'Exact' | 'RegularExpression';
  service?: string;
  method?: string;
}

export interface GRPCRouteRule {
  matches?: {
    method?: GRPCMethodMatch;
    headers?: { type?: 'Exact' | 'RegularExpression'; name: string; value: string }[];
  }[];
  filters?: HTTPRouteFilter[];
  backendRefs?: BackendRef[];
}

export interface GRPCRoute extends Meta {
  spec?: { parentRefs?: ParentRef[]; hostnames?: string[]; rules?: GRPCRouteRule[] };
  status?: { parents?: RouteParentStatus[] };
}

/** TLSRoute (by SNI, TLS passed through) and TCPRoute (experimental channel, v1alpha2). */
export interface TLSRoute extends Meta {
  spec?: { parentRefs?: ParentRef[]; hostnames?: string[]; rules?: { backendRefs?: BackendRef[] }[] };
  status?: { parents?: RouteParentStatus[] };
}

export interface TCPRoute extends Meta {
  spec?: { parentRefs?: ParentRef[]; rules?: { backendRefs?: BackendRef[] }[] };
  status?: { parents?: RouteParentStatus[] };
}

/** UDPRoute (experimental channel, v1alpha2): TCPRoute's schema, datagrams to the backends flow by flow. */
export type UDPRoute = TCPRoute;

export type RouteKind = 'HTTPRoute' | 'GRPCRoute' | 'TLSRoute' | 'TCPRoute' | 'UDPRoute';
type AnyRoute = HTTPRoute | GRPCRoute | TLSRoute | TCPRoute; // UDPRoute is TCPRoute
type StreamKind = 'TLSRoute' | 'TCPRoute' | 'UDPRoute';
const STREAM_KINDS: readonly RouteKind[] = ['TLSRoute', 'TCPRoute', 'UDPRoute'];

/** The routes of every kind (HTTPRoutes alone may be given as an array). */
export interface GatewayRoutes {
  http?: readonly HTTPRoute[];
  grpc?: readonly GRPCRoute[];
  tls?: readonly TLSRoute[];
  tcp?: readonly TCPRoute[];
  udp?: readonly UDPRoute[];
}

export type ListenerProtocol = 'HTTP' | 'HTTPS' | 'TLS' | 'TCP' | 'UDP';
const PROTOCOLS: readonly ListenerProtocol[] = ['HTTP', 'HTTPS', 'TLS', 'TCP', 'UDP'];
const KINDS_BY_PROTOCOL: Record<ListenerProtocol, RouteKind[]> = {
  HTTP: ['HTTPRoute', 'GRPCRoute'],
  HTTPS: ['HTTPRoute', 'GRPCRoute'],
  TLS: ['TLSRoute'],
  TCP: ['TCPRoute'],
  UDP: ['UDPRoute'],
};

/** What a socket of its own (a listener port other than the ingress's) serves. */
export interface PortPlan {
  port: number;
  protocol: ListenerProtocol;
  /** HTTP and HTTPS: routes and certificates, as for the ingress's own ports. */
  routes: Route[];
  tls: ExtraTls[];
  /** TLS (passthrough), TCP and UDP; on an HTTPS port, the TLS listeners' passthrough routes. */
  streams: StreamRoute[];
}

export interface ReferenceGrant extends Meta {
  spec?: {
    from: { group: string; kind: string; namespace: string }[];
    to: { group: string; kind: string; name?: string }[];
  };
}

export interface GatewayContext {
  classes: readonly GatewayClass[];
  grants: readonly ReferenceGrant[];
  serviceExists(namespace: string, name: string): boolean;
  secretExists(namespace: string, name: string): boolean;
  /** A namespace's labels (for allowedRoutes.namespaces.from: Selector); undefined if unknown. */
  namespaceLabels?(namespace: string): Record<string, string> | undefined;
  /** The ingress's own ports: HTTP and HTTPS listeners on these are served there (default 80 and 443). */
  mainPorts?: { http: readonly number[]; https: readonly number[] };
  /** Ports that could not be listened on (listener Accepted=False, PortUnavailable). */
  unavailablePorts?: ReadonlySet<number>;
}

/** A condition without its transition time (the status writer keeps or sets that). */
export type Cond = Omit<Condition, 'lastTransitionTime'>;

export interface CompiledGateways {
  routes: Route[];
  tls: ExtraTls[];
  /** TLSRoutes on TLS (Passthrough) listeners on the ingress's HTTPS port: spliced there by SNI. */
  passthrough: StreamRoute[];
  /** Listener ports other than the ingress's, each with its own socket. */
  ports: Map<number, PortPlan>;
  /** Status by namespace/name (classes by name) for objects that are ours. */
  classStatus: Map<string, { conditions: Cond[] }>;
  gatewayStatus: Map<
    string,
    { conditions: Cond[]; listeners: (Omit<ListenerStatus, 'conditions'> & { conditions: Cond[] })[] }
  >;
  /** By `Kind|namespace/name`. */
  routeStatus: Map<string, { parents: (Omit<RouteParentStatus, 'conditions'> & { conditions: Cond[] })[] }>;
}

const cond = (type: string, ok: boolean, reason: string, message: string, generation?: number): Cond => ({
  type,
  status: ok ? 'True' : 'False',
  reason,
  message,
  observedGeneration: generation,
});

/** Whether a ReferenceGrant in `to.namespace` lets a `fromKind` of `fromNamespace` refer to it. */
export function referenceGranted(
  grants: readonly ReferenceGrant[],
  from: { group: string; kind: string; namespace: string },
  to: { group: string; kind: string; namespace: string; name: string },
): boolean {
  if (from.namespace === to.namespace) return true;
  return grants.some(
    (g) =>
      (g.metadata.namespace ?? 'default') === to.namespace &&
      (g.spec?.from ?? []).some(
        (f) => f.group === from.group && f.kind === from.kind && f.namespace === from.namespace,
      ) &&
      (g.spec?.to ?? []).some((t) => t.group === to.group && t.kind === to.kind && (!t.name || t.name === to.name)),
  );
}

/** The hostnames a route serves on a listener: the intersection (Gateway API), or [] when none. */
export function intersectHostnames(listener: string | undefined, route: readonly string[]): string[] {
  const l = listener?.toLowerCase();
  if (!route.length) return [l ?? ''];
  if (!l) return route.map((h) => h.toLowerCase());
  const out: string[] = [];
  for (const raw of route) {
    const r = raw.toLowerCase();
    if (r === l) out.push(r);
    else if (l.startsWith('*.') && !r.startsWith('*.') && r.endsWith(l.slice(1))) out.push(r);
    else if (r.startsWith('*.') && !l.startsWith('*.') && l.endsWith(r.slice(1))) out.push(l);
    else if (r.startsWith('*.') && l.startsWith('*.'))
      out.push(r.length >= l.length ? (r.endsWith(l.slice(1)) ? r : '') : l.endsWith(r.slice(1)) ? l : '');
  }
  return [...new Set(out.filter(Boolean))];
}

function edits(f: HeaderFilter | undefined): HeaderEdits | undefined {
  if (!f) return undefined;
  const pairs = (l?: { name: string; value: string }[]) =>
    (l ?? []).map((h): [string, string] => [h.name.toLowerCase(), h.value]);
  return { set: pairs(f.set), add: pairs(f.add), remove: (f.remove ?? []).map((h) => h.toLowerCase()) };
}

function pathModifier(p: HTTPPathModifier | undefined): PathModifier | undefined {
  if (!p) return undefined;
  return p.type === 'ReplaceFullPath'
    ? { type: 'ReplaceFullPath', value: p.replaceFullPath ?? '/' }
    : { type: 'ReplacePrefixMatch', value: p.replacePrefixMatch ?? '/' };
}

function valueMatches(
  list: { type?: string; name: string; value: string }[] | undefined,
  lowerName: boolean,
): ValueMatch[] | string {
  const out: ValueMatch[] = [];
  for (const m of list ?? []) {
    const name = lowerName ? m.name.toLowerCase() : m.name;
    if (m.type === 'RegularExpression') {
      try {
        out.push({ name, type: 'RegularExpression', value: m.value, regex: new RegExp(`^(?:${m.value})$`) });
      } catch (err) {
        return `invalid regular expression ${JSON.stringify(m.value)}: ${(err as Error).message}`;
      }
    } else out.push({ name, type: 'Exact', value: m.value });
  }
  return out;
}

/** Where a listener's routes are served: the ingress's own sockets, or a socket for that port. */
type Target = 'main' | number;

interface LiveListener {
  l: Listener;
  target: Target;
  kinds: RouteKind[];
}

/** The ports one listener of each protocol may share with another, and what already holds them. */
interface PortClaim {
  protocol: ListenerProtocol;
  /** Hostnames of the listeners on the port ('' for none); undefined for the ingress's own use. */
  hostnames?: Set<string>;
}

class GatewayCompiler {
  readonly out: CompiledGateways = {
    routes: [],
    tls: [],
    passthrough: [],
    ports: new Map(),
    classStatus: new Map(),
    gatewayStatus: new Map(),
    routeStatus: new Map(),
  };
  private readonly ourClasses = new Set<string>();
  /** Our Gateways by namespace/name and their usable listeners. */
  private readonly gateways = new Map<
    string,
    { gw: Gateway; listeners: LiveListener[]; attached: Map<string, number> }
  >();
  private readonly claims = new Map<number, PortClaim>();

  constructor(private readonly ctx: GatewayContext) {
    for (const p of ctx.mainPorts?.http ?? [80]) this.claims.set(p, { protocol: 'HTTP' });
    for (const p of ctx.mainPorts?.https ?? [443]) this.claims.set(p, { protocol: 'HTTPS' });
  }

  run(gateways: readonly Gateway[], routes: GatewayRoutes): CompiledGateways {
    for (const c of this.ctx.classes) {
      if (c.spec?.controllerName !== GATEWAY_CONTROLLER) continue;
      const name = c.metadata.name ?? '';
      this.ourClasses.add(name);
      this.out.classStatus.set(name, {
        conditions: [cond('Accepted', true, 'Accepted', 'GatewayClass is accepted by k8ts', c.metadata.generation)],
      });
    }
    for (const gw of [...gateways].sort(byCreation))
      if (this.ourClasses.has(gw.spec?.gatewayClassName ?? '')) this.gateway(gw);
    for (const r of [...(routes.http ?? [])].sort(byCreation)) this.route('HTTPRoute', r, r.spec?.hostnames ?? []);
    for (const r of [...(routes.grpc ?? [])].sort(byCreation)) this.route('GRPCRoute', r, r.spec?.hostnames ?? []);
    for (const r of [...(routes.tls ?? [])].sort(byCreation)) this.route('TLSRoute', r, r.spec?.hostnames ?? []);
    for (const r of [...(routes.tcp ?? [])].sort(byCreation)) this.route('TCPRoute', r, undefined);
    for (const r of [...(routes.udp ?? [])].sort(byCreation)) this.route('UDPRoute', r, undefined);
    for (const [k, g] of this.gateways) {
      const status = this.out.gatewayStatus.get(k);
      for (const l of status?.listeners ?? []) l.attachedRoutes = g.attached.get(l.name) ?? 0;
    }
    return this.out;
  }

  /** Why a listener cannot have its port (another listener's protocol or hostname there), else undefined. */
  private conflict(l: Listener, protocol: ListenerProtocol, target: Target): string | undefined {
    const claim = this.claims.get(l.port);
    const hostname = (l.hostname ?? '').toLowerCase();
    if (!claim) {
      this.claims.set(l.port, { protocol, hostnames: new Set([hostname]) });
      return undefined;
    }
    // TLS passthrough shares a port with terminated HTTPS, on the ingress's HTTPS port and on any
    // other: connections are told apart by the SNI of their ClientHello.
    const secure = (p: ListenerProtocol) => p === 'TLS' || p === 'HTTPS';
    if (claim.protocol !== protocol && !(secure(protocol) && secure(claim.protocol))) return 'ProtocolConflict';
    // The ingress's own ports merge every listener's routes, as Ingresses of one host merge.
    if (target === 'main' || !claim.hostnames) return undefined;
    // On a port of its own, one hostname is one listener's (HTTPS and TLS alike: SNI picks one).
    if (protocol === 'TCP' || protocol === 'UDP' || claim.hostnames.has(hostname)) return 'HostnameConflict';
    claim.hostnames.add(hostname);
    return undefined;
  }

  /**
   * The plan of a port of its own. HTTPS and TLS listeners on one port make an HTTPS port whose
   * TLS passthrough routes (`streams`) are read by SNI before the TLS server, as on 443.
   */
  private plan(port: number, protocol: ListenerProtocol): PortPlan {
    let p = this.out.ports.get(port);
    if (!p) this.out.ports.set(port, (p = { port, protocol, routes: [], tls: [], streams: [] }));
    else if (p.protocol === 'TLS' && protocol === 'HTTPS') p.protocol = 'HTTPS';
    return p;
  }

  private gateway(gw: Gateway): void {
    const key = keyOf(gw);
    const gen = gw.metadata.generation;
    const usable: LiveListener[] = [];
    const listenerStatus: NonNullable<ReturnType<CompiledGateways['gatewayStatus']['get']>>['listeners'] = [];
    let allProgrammed = true;
    for (const l of gw.spec?.listeners ?? []) {
      const protocol = PROTOCOLS.includes(l.protocol as ListenerProtocol)
        ? (l.protocol as ListenerProtocol)
        : undefined;
      const protocolKinds = protocol ? KINDS_BY_PROTOCOL[protocol] : [];
      // allowedRoutes.kinds: the supported ones among those asked for (none asked: all the protocol's).
      const asked = l.allowedRoutes?.kinds ?? [];
      const supportedKind = (k: { group?: string; kind: string }) =>
        (k.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && protocolKinds.includes(k.kind as RouteKind);
      const kinds = asked.length
        ? protocolKinds.filter((k) => asked.some((a) => supportedKind(a) && a.kind === k))
        : protocolKinds;
      const supportedKinds = kinds.map((kind) => ({ group: GATEWAY_GROUP, kind }));
      const unsupported = asked.filter((k) => !supportedKind(k));
      const kindsProblem = unsupported.length
        ? cond(
            'ResolvedRefs',
            false,
            'InvalidRouteKinds',
            `route kinds not supported: ${unsupported.map((k) => `${k.group ?? GATEWAY_GROUP}/${k.kind}`).join(', ')}`,
            gen,
          )
        : undefined;
      const noConflict = cond('Conflicted', false, 'NoConflicts', 'no conflicts', gen);
      const rejected = (accepted: Cond, conflicted = noConflict) => {
        allProgrammed = false;
        listenerStatus.push({
          name: l.name,
          supportedKinds,
          attachedRoutes: 0,
          conditions: [
            accepted,
            conflicted,
            kindsProblem ?? cond('ResolvedRefs', true, 'ResolvedRefs', 'all references resolved', gen),
            cond('Programmed', false, 'Invalid', 'listener is not accepted', gen),
          ],
        });
      };
      if (!protocol) {
        rejected(
          cond('Accepted', false, 'UnsupportedProtocol', `protocol ${l.protocol} is not supported by k8ts`, gen),
        );
        continue;
      }
      const mode = l.tls?.mode ?? 'Terminate';
      if ((protocol === 'TLS' && mode !== 'Passthrough') || (protocol === 'HTTPS' && mode !== 'Terminate')) {
        rejected(
          cond(
            'Accepted',
            false,
            'UnsupportedValue',
            `tls.mode ${mode} is not supported on ${protocol} listeners`,
            gen,
          ),
        );
        continue;
      }
      const main =
        (protocol === 'HTTP' && (this.ctx.mainPorts?.http ?? [80]).includes(l.port)) ||
        ((protocol === 'HTTPS' || protocol === 'TLS') && (this.ctx.mainPorts?.https ?? [443]).includes(l.port));
      const target: Target = main ? 'main' : l.port;
      const conflict = this.conflict(l, protocol, target);
      if (conflict) {
        rejected(
          cond('Accepted', true, 'Accepted', 'listener accepted', gen),
          cond(
            'Conflicted',
            true,
            conflict,
            conflict === 'ProtocolConflict'
              ? `port ${l.port} is used with another protocol`
              : `port ${l.port} is used by another listener with the same hostname`,
            gen,
          ),
        );
        continue;
      }
      let refsProblem: Cond | undefined = kindsProblem;
      const tls: ExtraTls[] = [];
      if (protocol === 'HTTPS') {
        const refs = l.tls?.certificateRefs ?? [];
        if (!refs.length)
          refsProblem = cond(
            'ResolvedRefs',
            false,
            'InvalidCertificateRef',
            'an HTTPS listener needs a certificateRef',
            gen,
          );
        for (const ref of refs) {
          const ns = ref.namespace ?? key.namespace;
          if ((ref.group ?? '') !== '' || (ref.kind ?? 'Secret') !== 'Secret') {
            refsProblem ??= cond(
              'ResolvedRefs',
              false,
              'InvalidCertificateRef',
              `certificateRef ${ref.name}: only core Secrets are supported`,
              gen,
            );
            continue;
          }
          if (
            !referenceGranted(
              this.ctx.grants,
              { group: GATEWAY_GROUP, kind: 'Gateway', namespace: key.namespace },
              { group: '', kind: 'Secret', namespace: ns, name: ref.name },
            )
          ) {
            refsProblem ??= cond(
              'ResolvedRefs',
              false,
              'RefNotPermitted',
              `certificateRef ${ns}/${ref.name} is not permitted by a ReferenceGrant`,
              gen,
            );
            continue;
          }
          if (!this.ctx.secretExists(ns, ref.name)) {
            refsProblem ??= cond(
              'ResolvedRefs',
              false,
              'InvalidCertificateRef',
              `Secret ${ns}/${ref.name} not found`,
              gen,
            );
            continue;
          }
          tls.push({
            host: (l.hostname ?? '*').toLowerCase(),
            entry: { ingress: key, secret: { namespace: ns, name: ref.name } },
          });
        }
      }
      // A listener whose only problem is an unsupported route kind still serves the kinds it supports.
      const serving = kinds.length > 0 && (!refsProblem || refsProblem === kindsProblem);
      const unavailable = target !== 'main' && this.ctx.unavailablePorts?.has(l.port);
      if (serving) {
        usable.push({ l, target, kinds });
        if (target === 'main') this.out.tls.push(...tls);
        else this.plan(target, protocol).tls.push(...tls);
      }
      if (!serving || unavailable) allProgrammed = false;
      listenerStatus.push({
        name: l.name,
        supportedKinds,
        attachedRoutes: 0,
        conditions: [
          unavailable
            ? cond('Accepted', false, 'PortUnavailable', `port ${l.port} cannot be listened on`, gen)
            : cond('Accepted', true, 'Accepted', 'listener accepted', gen),
          noConflict,
          refsProblem ?? cond('ResolvedRefs', true, 'ResolvedRefs', 'all references resolved', gen),
          !serving
            ? cond('Programmed', false, 'Invalid', 'listener has unresolved references', gen)
            : unavailable
              ? cond('Programmed', false, 'Pending', `port ${l.port} is not listened on yet`, gen)
              : cond(
                  'Programmed',
                  true,
                  'Programmed',
                  target === 'main' ? 'listener programmed on the k8ts ingress' : `listening on port ${l.port}`,
                  gen,
                ),
        ],
      });
    }
    this.gateways.set(keyString(key), { gw, listeners: usable, attached: new Map() });
    this.out.gatewayStatus.set(keyString(key), {
      conditions: [
        cond('Accepted', true, 'Accepted', 'Gateway accepted by k8ts', gen),
        usable.length
          ? cond(
              'Programmed',
              true,
              'Programmed',
              allProgrammed ? 'Gateway programmed' : 'some listeners are invalid',
              gen,
            )
          : cond('Programmed', false, 'Invalid', 'no listener can be programmed', gen),
      ],
      listeners: listenerStatus,
    });
  }

  /** One route of any kind: its parents judged, its rules compiled for every listener that takes it. */
  private route(kind: RouteKind, route: AnyRoute, hostnames: string[] | undefined): void {
    const key = keyOf(route);
    const gen = route.metadata.generation;
    const parents: NonNullable<ReturnType<CompiledGateways['routeStatus']['get']>>['parents'] = [];
    for (const ref of route.spec?.parentRefs ?? []) {
      if ((ref.group ?? GATEWAY_GROUP) !== GATEWAY_GROUP || (ref.kind ?? 'Gateway') !== 'Gateway') continue;
      const gwKey = `${ref.namespace ?? key.namespace}/${ref.name}`;
      const g = this.gateways.get(gwKey);
      if (!g) continue; // not ours (or does not exist): another controller's business
      const parentRef: ParentRef = {
        group: GATEWAY_GROUP,
        kind: 'Gateway',
        namespace: ref.namespace ?? key.namespace,
        name: ref.name,
      };
      if (ref.sectionName) parentRef.sectionName = ref.sectionName;
      if (ref.port) parentRef.port = ref.port;
      const candidates = g.listeners.filter(
        (x) => (!ref.sectionName || x.l.name === ref.sectionName) && (!ref.port || x.l.port === ref.port),
      );
      const allowed = candidates.filter(({ l, kinds }) => {
        if (!kinds.includes(kind)) return false;
        const from = l.allowedRoutes?.namespaces?.from ?? 'Same';
        if (from === 'All') return true;
        if (from === 'Selector')
          return labelSelectorMatches(l.allowedRoutes?.namespaces?.selector, this.ctx.namespaceLabels?.(key.namespace));
        return from === 'Same' && keyOf(g.gw).namespace === key.namespace;
      });
      // TCPRoutes and UDPRoutes have no hostnames: every allowed listener takes them.
      const matching = allowed
        .map((x) => ({ ...x, hosts: hostnames ? intersectHostnames(x.l.hostname, hostnames) : [''] }))
        .filter((x) => x.hosts.length);
      let accepted: Cond;
      if (!candidates.length)
        accepted = cond('Accepted', false, 'NoMatchingParent', 'no listener matches the parentRef', gen);
      else if (!allowed.length)
        accepted = cond('Accepted', false, 'NotAllowedByListeners', 'no listener allows this route', gen);
      else if (!matching.length)
        accepted = cond(
          'Accepted',
          false,
          'NoMatchingListenerHostname',
          'no listener hostname matches the route hostnames',
          gen,
        );
      else accepted = cond('Accepted', true, 'Accepted', 'route accepted', gen);
      // The hosts per socket the route is served on; the rules are compiled once per socket.
      const byTarget = new Map<Target, { protocol: ListenerProtocol; hosts: Set<string> }>();
      for (const x of matching) {
        g.attached.set(x.l.name, (g.attached.get(x.l.name) ?? 0) + 1);
        let t = byTarget.get(x.target);
        if (!t) byTarget.set(x.target, (t = { protocol: x.l.protocol as ListenerProtocol, hosts: new Set() }));
        for (const h of x.hosts) t.hosts.add(h);
      }
      const backends = new BackendResolver(this.ctx, kind, key, gen);
      // A route attached nowhere still has its references judged for its status.
      if (!byTarget.size) for (const rule of route.spec?.rules ?? []) backends.weighted(rule.backendRefs);
      for (const [target, t] of byTarget) {
        const hosts = [...t.hosts];
        if (STREAM_KINDS.includes(kind)) {
          const sink = target === 'main' ? this.out.passthrough : this.plan(target, t.protocol).streams;
          for (const rule of route.spec?.rules ?? [])
            sink.push({ route: key, kind: kind as StreamKind, hosts, backends: backends.weighted(rule.backendRefs) });
          // The spec allows one rule: later ones are unreachable.
        } else {
          const sink = target === 'main' ? this.out.routes : this.plan(target, t.protocol).routes;
          if (kind === 'HTTPRoute') this.httpRules(route as HTTPRoute, hosts, sink, backends);
          else this.grpcRules(route as GRPCRoute, hosts, sink, backends);
        }
      }
      const resolved = backends.problem;
      parents.push({
        parentRef,
        controllerName: GATEWAY_CONTROLLER,
        conditions: [accepted, resolved ?? cond('ResolvedRefs', true, 'ResolvedRefs', 'all references resolved', gen)],
      });
    }
    if (parents.length) this.out.routeStatus.set(`${kind}|${keyString(key)}`, { parents });
  }

  /** The filters of an HTTPRoute or GRPCRoute rule. */
  private filters(list: HTTPRouteFilter[] | undefined, backends: BackendResolver): RouteFilters {
    const filters: RouteFilters = {};
    for (const f of list ?? []) {
      if (f.type === 'RequestHeaderModifier') filters.requestHeaders = edits(f.requestHeaderModifier);
      else if (f.type === 'ResponseHeaderModifier') filters.responseHeaders = edits(f.responseHeaderModifier);
      else if (f.type === 'RequestRedirect' && f.requestRedirect) {
        const r = f.requestRedirect;
        filters.redirect = {
          scheme: r.scheme,
          hostname: r.hostname,
          port: r.port,
          path: pathModifier(r.path),
          statusCode: r.statusCode ?? 302,
        };
      } else if (f.type === 'URLRewrite' && f.urlRewrite)
        filters.rewrite = { hostname: f.urlRewrite.hostname, path: pathModifier(f.urlRewrite.path) };
      else if (f.type === 'RequestMirror' && f.requestMirror) {
        const b = backends.one(f.requestMirror.backendRef);
        if (b) filters.mirrors = [...(filters.mirrors ?? []), b];
      }
    }
    return filters;
  }

  /** Routes of every rule and match of an HTTPRoute for these hosts. */
  private httpRules(route: HTTPRoute, hosts: string[], sink: Route[], backends: BackendResolver): void {
    const key = keyOf(route);
    for (const rule of route.spec?.rules ?? []) {
      const weighted = backends.weighted(rule.backendRefs);
      const filters = this.filters(rule.filters, backends);
      const policy = rulePolicy(rule.timeouts);
      // A rule without backends answers 500 (the spec's requirement), unless it redirects.
      const directStatus = weighted.length || filters.redirect ? undefined : 500;
      for (const m of rule.matches?.length ? rule.matches : [{}]) {
        const type = m.path?.type ?? 'PathPrefix';
        const value = m.path?.value ?? '/';
        let pathType: PathType = type === 'PathPrefix' ? 'Prefix' : type;
        let regex: RegExp | undefined;
        if (type === 'RegularExpression') {
          try {
            regex = new RegExp(`^(?:${value})$`);
          } catch (err) {
            backends.problem ??= cond(
              'Accepted',
              false,
              'UnsupportedValue',
              `invalid path regex: ${(err as Error).message}`,
              route.metadata.generation,
            );
            continue;
          }
          pathType = 'RegularExpression';
        }
        const headers = valueMatches(m.headers, true);
        const query = valueMatches(m.queryParams, false);
        if (typeof headers === 'string' || typeof query === 'string') continue;
        for (const host of hosts)
          sink.push({
            ingress: key,
            kind: 'HTTPRoute',
            host,
            path: value,
            pathType,
            regex,
            backend: weighted[0]?.backend ?? { namespace: key.namespace, service: '', port: {} },
            weighted,
            options: { ...DEFAULT_ROUTE_OPTIONS, sslRedirect: false },
            tls: false,
            canaries: [],
            conditions: headers.length || query.length || m.method ? { headers, query, method: m.method } : undefined,
            filters,
            policy,
            directStatus,
          });
      }
    }
  }

  /**
   * GRPCRoute: a method match is a match on the request path `/service/method` (gRPC over HTTP/2),
   * service and method each optional; requests go to the backends over HTTP/2 (h2c).
   */
  private grpcRules(route: GRPCRoute, hosts: string[], sink: Route[], backends: BackendResolver): void {
    const key = keyOf(route);
    for (const rule of route.spec?.rules ?? []) {
      const weighted = backends.weighted(rule.backendRefs);
      const filters = this.filters(rule.filters, backends);
      for (const m of rule.matches?.length ? rule.matches : [{}]) {
        const path = grpcPath(m.method);
        if (typeof path === 'string') {
          backends.problem ??= cond('Accepted', false, 'UnsupportedValue', path, route.metadata.generation);
          continue;
        }
        const headers = valueMatches(m.headers, true);
        if (typeof headers === 'string') continue;
        for (const host of hosts)
          sink.push({
            ingress: key,
            kind: 'GRPCRoute',
            host,
            ...path,
            backend: weighted[0]?.backend ?? { namespace: key.namespace, service: '', port: {} },
            weighted,
            options: { ...DEFAULT_ROUTE_OPTIONS, sslRedirect: false, backendProtocol: 'GRPC' },
            tls: false,
            canaries: [],
            conditions: headers.length ? { headers } : undefined,
            filters,
            directStatus: weighted.length ? undefined : 500,
          });
      }
    }
  }
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The path match of a GRPCMethodMatch; a string when its regular expression is invalid. */
export function grpcPath(
  m: GRPCMethodMatch | undefined,
): { path: string; pathType: PathType; regex?: RegExp } | string {
  if (!m || (!m.service && !m.method)) return { path: '/', pathType: 'Prefix' };
  if ((m.type ?? 'Exact') === 'Exact') {
    if (m.service && m.method) return { path: `/${m.service}/${m.method}`, pathType: 'Exact' };
    if (m.service) return { path: `/${m.service}/`, pathType: 'StringPrefix' };
    const expr = `/[^/]+/${escapeRegex(m.method ?? '')}`;
    return { path: expr, pathType: 'RegularExpression', regex: new RegExp(`^${expr}$`) };
  }
  const expr = `/(?:${m.service || '[^/]+'})/(?:${m.method || '[^/]+'})`;
  try {
    return { path: expr, pathType: 'RegularExpression', regex: new RegExp(`^${expr}$`) };
  } catch (err) {
    return `invalid method match: ${(err as Error).message}`;
  }
}

/** backendRefs of one route to Services: references checked, the first problem kept for status. */
class BackendResolver {
  problem?: Cond;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly kind: RouteKind,
    private readonly key: ObjectKey,
    private readonly gen: number | undefined,
  ) {}

  one(ref: BackendRef): ServiceBackend | undefined {
    const ns = ref.namespace ?? this.key.namespace;
    const gen = this.gen;
    if ((ref.group ?? '') !== '' || (ref.kind ?? 'Service') !== 'Service') {
      this.problem ??= cond(
        'ResolvedRefs',
        false,
        'InvalidKind',
        `backendRef ${ref.name}: kind ${ref.kind} is not supported`,
        gen,
      );
      return undefined;
    }
    if (
      !referenceGranted(
        this.ctx.grants,
        { group: GATEWAY_GROUP, kind: this.kind, namespace: this.key.namespace },
        { group: '', kind: 'Service', namespace: ns, name: ref.name },
      )
    ) {
      this.problem ??= cond(
        'ResolvedRefs',
        false,
        'RefNotPermitted',
        `backendRef ${ns}/${ref.name} is in another namespace and no ReferenceGrant allows it`,
        gen,
      );
      return undefined;
    }
    if (!this.ctx.serviceExists(ns, ref.name)) {
      this.problem ??= cond('ResolvedRefs', false, 'BackendNotFound', `Service ${ns}/${ref.name} not found`, gen);
      return undefined;
    }
    return { namespace: ns, service: ref.name, port: { number: ref.port } };
  }

  /** An invalid ref keeps its share of the traffic, answered with 500 (or refused: TCP/TLS; dropped: UDP) as the spec asks. */
  weighted(refs: BackendRef[] | undefined): WeightedBackend[] {
    const out: WeightedBackend[] = [];
    for (const ref of refs ?? []) {
      const weight = ref.weight ?? 1;
      const b = this.one(ref) ?? { namespace: this.key.namespace, service: '', port: {} };
      if (weight > 0) out.push({ backend: b, weight });
    }
    return out;
  }
}

export function compileGateways(
  gateways: readonly Gateway[],
  routes: readonly HTTPRoute[] | GatewayRoutes,
  ctx: GatewayContext,
): CompiledGateways {
  return new GatewayCompiler(ctx).run(gateways, Array.isArray(routes) ? { http: routes } : (routes as GatewayRoutes));
}

/** The GatewayClass k8ts installs. */
export function defaultGatewayClass(): GatewayClass {
  return {
    apiVersion: `${GATEWAY_GROUP}/v1`,
    kind: 'GatewayClass',
    metadata: { name: GATEWAY_CLASS_NAME, labels: { 'app.kubernetes.io/managed-by': 'k8ts' } },
    spec: { controllerName: GATEWAY_CONTROLLER, description: 'Gateways served by the k8ts ingress proxy' },
  };
}
