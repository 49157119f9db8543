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
  ServiceBackend,
  ValueMatch,
  WeightedBackend,
} from './routes.js';

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
}

/** A condition without its transition time (the status writer keeps or sets that). */
export type Cond = Omit<Condition, 'lastTransitionTime'>;

export interface CompiledGateways {
  routes: Route[];
  tls: ExtraTls[];
  /** Status by namespace/name (classes by name) for objects that are ours. */
  classStatus: Map<string, { conditions: Cond[] }>;
  gatewayStatus: Map<
    string,
    { conditions: Cond[]; listeners: (Omit<ListenerStatus, 'conditions'> & { conditions: Cond[] })[] }
  >;
  routeStatus: Map<string, { parents: (Omit<RouteParentStatus, 'conditions'> & { conditions: Cond[] })[] }>;
}

const keyOf = (o: Meta): ObjectKey => ({ namespace: o.metadata.namespace ?? 'default', name: o.metadata.name ?? '' });
const keyString = (k: ObjectKey) => `${k.namespace}/${k.name}`;
const cond = (type: string, ok: boolean, reason: string, message: string, generation?: number): Cond => ({
  type,
  status: ok ? 'True' : 'False',
  reason,
  message,
  observedGeneration: generation,
});

function byCreation(a: Meta, b: Meta): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = keyString(keyOf(a));
  const kb = keyString(keyOf(b));
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

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

class GatewayCompiler {
  readonly out: CompiledGateways = {
    routes: [],
    tls: [],
    classStatus: new Map(),
    gatewayStatus: new Map(),
    routeStatus: new Map(),
  };
  private readonly ourClasses = new Set<string>();
  /** Our Gateways by namespace/name and their usable listeners. */
  private readonly gateways = new Map<string, { gw: Gateway; listeners: Listener[]; attached: Map<string, number> }>();

  constructor(private readonly ctx: GatewayContext) {}

  run(gateways: readonly Gateway[], routes: readonly HTTPRoute[]): CompiledGateways {
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
    for (const r of [...routes].sort(byCreation)) this.route(r);
    for (const [k, g] of this.gateways) {
      const status = this.out.gatewayStatus.get(k);
      for (const l of status?.listeners ?? []) l.attachedRoutes = g.attached.get(l.name) ?? 0;
    }
    return this.out;
  }

  private gateway(gw: Gateway): void {
    const key = keyOf(gw);
    const gen = gw.metadata.generation;
    const usable: Listener[] = [];
    const listenerStatus: NonNullable<ReturnType<CompiledGateways['gatewayStatus']['get']>>['listeners'] = [];
    let allProgrammed = true;
    for (const l of gw.spec?.listeners ?? []) {
      const supported = l.protocol === 'HTTP' || l.protocol === 'HTTPS';
      // allowedRoutes.kinds: the supported ones among those asked for (none asked: HTTPRoute).
      const asked = l.allowedRoutes?.kinds ?? [];
      const isHttpRoute = (k: { group?: string; kind: string }) =>
        k.kind === 'HTTPRoute' && (k.group ?? GATEWAY_GROUP) === GATEWAY_GROUP;
      const supportedKinds =
        supported && (!asked.length || asked.some(isHttpRoute)) ? [{ group: GATEWAY_GROUP, kind: 'HTTPRoute' }] : [];
      const kindsProblem = asked.some((k) => !isHttpRoute(k))
        ? cond(
            'ResolvedRefs',
            false,
            'InvalidRouteKinds',
            `route kinds not supported: ${asked
              .filter((k) => !isHttpRoute(k))
              .map((k) => `${k.group ?? GATEWAY_GROUP}/${k.kind}`)
              .join(', ')}`,
            gen,
          )
        : undefined;
      if (!supported) {
        allProgrammed = false;
        listenerStatus.push({
          name: l.name,
          supportedKinds,
          attachedRoutes: 0,
          conditions: [
            cond('Accepted', false, 'UnsupportedProtocol', `protocol ${l.protocol} is not supported by k8ts`, gen),
            cond('Programmed', false, 'Invalid', 'listener is not accepted', gen),
            cond('ResolvedRefs', true, 'ResolvedRefs', 'all references resolved', gen),
          ],
        });
        continue;
      }
      let refsProblem: Cond | undefined = kindsProblem;
      if (l.protocol === 'HTTPS') {
        const refs = l.tls?.certificateRefs ?? [];
        if ((l.tls?.mode ?? 'Terminate') !== 'Terminate' || !refs.length)
          refsProblem = cond(
            'ResolvedRefs',
            false,
            'InvalidCertificateRef',
            'an HTTPS listener needs tls.mode Terminate and a certificateRef',
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
          this.out.tls.push({
            host: (l.hostname ?? '*').toLowerCase(),
            entry: { ingress: key, secret: { namespace: ns, name: ref.name } },
          });
        }
      }
      // A listener whose only problem is an unsupported route kind still serves the kinds it supports.
      const serving = supportedKinds.length > 0 && (!refsProblem || refsProblem === kindsProblem);
      if (serving) usable.push(l);
      else allProgrammed = false;
      listenerStatus.push({
        name: l.name,
        supportedKinds,
        attachedRoutes: 0,
        conditions: [
          cond('Accepted', true, 'Accepted', 'listener accepted', gen),
          refsProblem ?? cond('ResolvedRefs', true, 'ResolvedRefs', 'all references resolved', gen),
          serving
            ? cond('Programmed', true, 'Programmed', 'listener programmed on the k8ts ingress', gen)
            : cond('Programmed', false, 'Invalid', 'listener has unresolved references', gen),
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

  private route(route: HTTPRoute): void {
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
        (l) => (!ref.sectionName || l.name === ref.sectionName) && (!ref.port || l.port === ref.port),
      );
      const allowed = candidates.filter((l) => {
        const from = l.allowedRoutes?.namespaces?.from ?? 'Same';
        const kinds = l.allowedRoutes?.kinds;
        const kindOk =
          !kinds?.length || kinds.some((k) => k.kind === 'HTTPRoute' && (k.group ?? GATEWAY_GROUP) === GATEWAY_GROUP);
        if (!kindOk) return false;
        if (from === 'All') return true;
        if (from === 'Selector')
          return labelSelectorMatches(l.allowedRoutes?.namespaces?.selector, this.ctx.namespaceLabels?.(key.namespace));
        return from === 'Same' && keyOf(g.gw).namespace === key.namespace;
      });
      const hostsByListener = allowed.map((l) => ({
        l,
        hosts: intersectHostnames(l.hostname, route.spec?.hostnames ?? []),
      }));
      const matching = hostsByListener.filter((x) => x.hosts.length);
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
      const compiled = this.rules(
        route,
        accepted.status === 'True' ? [...new Set(matching.flatMap((x) => x.hosts))] : [],
      );
      for (const x of matching) g.attached.set(x.l.name, (g.attached.get(x.l.name) ?? 0) + 1);
      parents.push({
        parentRef,
        controllerName: GATEWAY_CONTROLLER,
        conditions: [
          accepted,
          compiled.resolved ?? cond('ResolvedRefs', true, 'ResolvedRefs', 'all references resolved', gen),
        ],
      });
    }
    if (parents.length) this.out.routeStatus.set(keyString(key), { parents });
  }

  /** Routes of every rule and match for these hosts; the first unresolved reference for status. */
  private rules(route: HTTPRoute, hosts: string[]): { resolved?: Cond } {
    const key = keyOf(route);
    const gen = route.metadata.generation;
    let resolved: Cond | undefined;
    const backend = (ref: BackendRef): ServiceBackend | undefined => {
      const ns = ref.namespace ?? key.namespace;
      if ((ref.group ?? '') !== '' || (ref.kind ?? 'Service') !== 'Service') {
        resolved ??= cond(
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
          { group: GATEWAY_GROUP, kind: 'HTTPRoute', namespace: key.namespace },
          { group: '', kind: 'Service', namespace: ns, name: ref.name },
        )
      ) {
        resolved ??= cond(
          'ResolvedRefs',
          false,
          'RefNotPermitted',
          `backendRef ${ns}/${ref.name} is in another namespace and no ReferenceGrant allows it`,
          gen,
        );
        return undefined;
      }
      if (!this.ctx.serviceExists(ns, ref.name)) {
        resolved ??= cond('ResolvedRefs', false, 'BackendNotFound', `Service ${ns}/${ref.name} not found`, gen);
        return undefined;
      }
      return { namespace: ns, service: ref.name, port: { number: ref.port } };
    };
    for (const rule of route.spec?.rules ?? []) {
      const weighted: WeightedBackend[] = [];
      for (const ref of rule.backendRefs ?? []) {
        const weight = ref.weight ?? 1;
        // An invalid ref keeps its share of the traffic, answered with 500 (core conformance).
        const b = backend(ref) ?? { namespace: key.namespace, service: '', port: {} };
        if (weight > 0) weighted.push({ backend: b, weight });
      }
      const filters: RouteFilters = {};
      for (const f of rule.filters ?? []) {
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
          const b = backend(f.requestMirror.backendRef);
          if (b) filters.mirrors = [...(filters.mirrors ?? []), b];
        }
      }
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
            resolved ??= cond(
              'Accepted',
              false,
              'UnsupportedValue',
              `invalid path regex: ${(err as Error).message}`,
              gen,
            );
            continue;
          }
          pathType = 'RegularExpression';
        }
        const headers = valueMatches(m.headers, true);
        const query = valueMatches(m.queryParams, false);
        if (typeof headers === 'string' || typeof query === 'string') continue;
        for (const host of hosts)
          this.out.routes.push({
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
            directStatus,
          });
      }
    }
    return { resolved };
  }
}

export function compileGateways(
  gateways: readonly Gateway[],
  routes: readonly HTTPRoute[],
  ctx: GatewayContext,
): CompiledGateways {
  return new GatewayCompiler(ctx).run(gateways, routes);
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
