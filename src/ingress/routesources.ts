// The custom-resource sources of routes: HTTPProxy (+ TLSCertificateDelegation) and the Gateway
// API. Watches them, compiles them (httpproxy.ts, gateway.ts) into extra routes for the one route
// table, and, on the server, installs their CRDs and the `k8ts` GatewayClass and writes their
// status (only when it changed, keeping each condition's lastTransitionTime while its status
// holds). Their informers have their own factory: the ingress starts serving Ingresses without
// waiting for the CRDs, and a kind is compiled only once its cache is complete (a half-filled
// cache would misjudge fqdn owners and orphans).
import type { Logger } from 'pino';
import type { Condition } from 'kubernetes-types/meta/v1.js';
import type { Namespace } from 'kubernetes-types/core/v1.js';
import { R, spec, type Client } from '../client/client.js';
import type { ResourceSpec } from '../client/types.js';
import { ensureOwnCrd, waitUntilServed } from '../client/owncrds.js';
import { ControllerRunner } from '../client/controller.js';
import { isAlreadyExists, isNotFound } from '../client/errors.js';
import { SharedInformerFactory, splitKey, type SharedIndexInformer } from '../client/informer.js';
import { INGRESS_CRDS } from './crds.js';
import {
  compileGateways,
  defaultGatewayClass,
  GATEWAY_CONTROLLER,
  GATEWAY_GROUP,
  type Cond,
  type Gateway,
  type GatewayClass,
  type GRPCRoute,
  type HTTPRoute,
  type PortPlan,
  type ReferenceGrant,
  type TCPRoute,
  type TLSRoute,
  type UDPRoute,
} from './gateway.js';
import {
  HttpProxyIndex,
  proxyStatus,
  type HTTPProxy,
  type ProxyVerdict,
  type TLSCertificateDelegation,
} from './httpproxy.js';
import type { RouteSource } from './routeindex.js';

/** How long the informers wait for the route kinds to be served before starting anyway. */
const SERVED_WAIT_MS = 60_000;

export const RS = {
  httpproxies: spec<HTTPProxy>({
    group: 'projectcontour.io',
    version: 'v1',
    plural: 'httpproxies',
    namespaced: true,
    kind: 'HTTPProxy',
  }),
  tlscertificatedelegations: spec<TLSCertificateDelegation>({
    group: 'projectcontour.io',
    version: 'v1',
    plural: 'tlscertificatedelegations',
    namespaced: true,
    kind: 'TLSCertificateDelegation',
  }),
  gatewayclasses: spec<GatewayClass>({
    group: GATEWAY_GROUP,
    version: 'v1',
    plural: 'gatewayclasses',
    namespaced: false,
    kind: 'GatewayClass',
  }),
  gateways: spec<Gateway>({
    group: GATEWAY_GROUP,
    version: 'v1',
    plural: 'gateways',
    namespaced: true,
    kind: 'Gateway',
  }),
  httproutes: spec<HTTPRoute>({
    group: GATEWAY_GROUP,
    version: 'v1',
    plural: 'httproutes',
    namespaced: true,
    kind: 'HTTPRoute',
  }),
  grpcroutes: spec<GRPCRoute>({
    group: GATEWAY_GROUP,
    version: 'v1',
    plural: 'grpcroutes',
    namespaced: true,
    kind: 'GRPCRoute',
  }),
  tlsroutes: spec<TLSRoute>({
    group: GATEWAY_GROUP,
    version: 'v1alpha2',
    plural: 'tlsroutes',
    namespaced: true,
    kind: 'TLSRoute',
  }),
  tcproutes: spec<TCPRoute>({
    group: GATEWAY_GROUP,
    version: 'v1alpha2',
    plural: 'tcproutes',
    namespaced: true,
    kind: 'TCPRoute',
  }),
  udproutes: spec<UDPRoute>({
    group: GATEWAY_GROUP,
    version: 'v1alpha2',
    plural: 'udproutes',
    namespaced: true,
    kind: 'UDPRoute',
  }),
  referencegrants: spec<ReferenceGrant>({
    group: GATEWAY_GROUP,
    version: 'v1beta1',
    plural: 'referencegrants',
    namespaced: true,
    kind: 'ReferenceGrant',
  }),
} as const;

type Kind = 'HTTPProxy' | 'Gateway' | 'HTTPRoute' | 'GRPCRoute' | 'TLSRoute' | 'TCPRoute' | 'UDPRoute' | 'GatewayClass';
type Generation = { metadata?: { generation?: number } };

export interface RouteSourcesOptions {
  client: Client;
  logger: Logger;
  manageCluster: boolean;
  rootNamespaces: readonly string[];
  /** Something changed: rebuild the route table. */
  onChange: () => void;
  /** The addresses published in status (the nodes', as for Ingresses). */
  addresses: () => string[];
  /** The ingress's own HTTP and HTTPS ports (Gateway listeners on others get sockets of their own). */
  mainPorts?: { http: number[]; https: number[] };
}

export interface Lookups {
  serviceExists(namespace: string, name: string): boolean;
  secretExists(namespace: string, name: string): boolean;
}

/** Conditions with lastTransitionTime: kept from `before` while the status is unchanged. */
export function stampConditions(
  conds: readonly Cond[],
  before: readonly Condition[] | undefined,
  now: string,
): Condition[] {
  return conds.map((c) => {
    const old = before?.find((b) => b.type === c.type);
    return {
      ...c,
      lastTransitionTime: old?.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : now,
    };
  });
}

export class RouteSources {
  private readonly factory: SharedInformerFactory;
  private readonly proxies: SharedIndexInformer<HTTPProxy>;
  private readonly delegations: SharedIndexInformer<TLSCertificateDelegation>;
  private readonly classes: SharedIndexInformer<GatewayClass>;
  private readonly gateways: SharedIndexInformer<Gateway>;
  private readonly routes: SharedIndexInformer<HTTPRoute>;
  private readonly grpcRoutes: SharedIndexInformer<GRPCRoute>;
  private readonly tlsRoutes: SharedIndexInformer<TLSRoute>;
  private readonly tcpRoutes: SharedIndexInformer<TCPRoute>;
  private readonly udpRoutes: SharedIndexInformer<UDPRoute>;
  private readonly grants: SharedIndexInformer<ReferenceGrant>;
  private readonly namespaces: SharedIndexInformer<Namespace>;
  private readonly status?: ControllerRunner;
  private readonly log: Logger;
  /** Desired status per `Kind|namespace/name` from the last compile. */
  private desired = new Map<string, unknown>();
  /** The same, as canonical JSON with the object's uid and generation: what changed gets written. */
  private desiredCanon = new Map<string, string>();
  private readonly proxyIndex = new HttpProxyIndex();
  /** The next compile judges every HTTPProxy (first time, or their context changed). */
  private proxiesAll = true;
  private gatewaysDirty = true;
  private gatewaySource?: RouteSource;
  private gatewayKeys = new Set<string>();
  /** Gateway listener ports with sockets of their own, from the last compile. */
  ports = new Map<number, PortPlan>();
  /** Listener ports that could not be listened on (set by the controller). */
  private unavailable = new Set<number>();
  private stopped = false;

  constructor(private readonly o: RouteSourcesOptions) {
    this.log = o.logger;
    this.factory = new SharedInformerFactory(o.client);
    this.proxies = this.factory.forResource(RS.httpproxies);
    this.delegations = this.factory.forResource(RS.tlscertificatedelegations);
    this.classes = this.factory.forResource(RS.gatewayclasses);
    this.gateways = this.factory.forResource(RS.gateways);
    this.routes = this.factory.forResource(RS.httproutes);
    this.grpcRoutes = this.factory.forResource(RS.grpcroutes);
    this.tlsRoutes = this.factory.forResource(RS.tlsroutes);
    this.tcpRoutes = this.factory.forResource(RS.tcproutes);
    this.udpRoutes = this.factory.forResource(RS.udproutes);
    this.grants = this.factory.forResource(RS.referencegrants);
    // Namespace labels decide listeners' allowedRoutes `from: Selector`.
    this.namespaces = this.factory.forResource(R.namespaces, { metadataOnly: true });
    const changed = () => o.onChange();
    // Our own status writes come back as updates: only a new generation (spec) changes routes.
    const specChanged = (a: Generation, b: Generation) =>
      a.metadata?.generation !== b.metadata?.generation && changed();
    this.proxies.addEventHandler({ add: changed, update: specChanged, delete: changed });
    const gatewayChanged = () => {
      this.gatewaysDirty = true;
      changed();
    };
    for (const inf of [
      this.classes,
      this.gateways,
      this.routes,
      this.grpcRoutes,
      this.tlsRoutes,
      this.tcpRoutes,
      this.udpRoutes,
    ] as SharedIndexInformer<Generation>[])
      inf.addEventHandler({
        add: gatewayChanged,
        update: (a, b) => a.metadata?.generation !== b.metadata?.generation && gatewayChanged(),
        delete: gatewayChanged,
      });
    this.grants.addEventHandler({ add: gatewayChanged, update: gatewayChanged, delete: gatewayChanged });
    this.namespaces.addEventHandler({
      add: gatewayChanged,
      update: (a, b) => JSON.stringify(a.metadata?.labels) !== JSON.stringify(b.metadata?.labels) && gatewayChanged(),
      delete: gatewayChanged,
    });
    const delegationChanged = () => {
      this.proxiesAll = true;
      changed();
    };
    this.delegations.addEventHandler({ add: delegationChanged, update: delegationChanged, delete: delegationChanged });
    if (o.manageCluster)
      this.status = new ControllerRunner({
        name: 'ingress-route-status',
        reconcile: (k) => this.writeStatus(k),
        logger: this.log,
      });
  }

  start(): void {
    this.status?.start();
    // On the server the informers start once the CRDs exist: a list of a kind not yet served
    // fails and backs off (up to 30 s), which would delay the first routes by as much.
    if (this.o.manageCluster) void this.install();
    else this.factory.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.status?.stop();
    await this.factory.shutdown();
  }

  /** The listener ports that could not be listened on: their listeners' status says so. */
  setUnavailablePorts(ports: ReadonlySet<number>): void {
    if ([...ports].sort().join() === [...this.unavailable].sort().join()) return;
    this.unavailable = new Set(ports);
    this.gatewaysDirty = true;
    this.o.onChange();
  }

  /** Services or Secrets changed: every proxy and route is judged again at the next compile. */
  invalidate(): void {
    this.proxiesAll = true;
    this.gatewaysDirty = true;
  }

  /**
   * The route sources of every kind whose cache is complete; queues status writes. HTTPProxies
   * are compiled incrementally (HttpProxyIndex), the Gateway API kinds again only when one of
   * them (or a Service or Secret) changed.
   */
  compile(lookups: Lookups): RouteSource[] {
    const sources: RouteSource[] = [];
    if (this.proxies.hasSynced() && this.delegations.hasSynced()) {
      const affected = this.proxyIndex.update(
        this.proxies.store.list(),
        { rootNamespaces: this.o.rootNamespaces, delegations: this.delegations.store.list(), ...lookups },
        this.proxiesAll,
      );
      this.proxiesAll = false;
      for (const k of affected) this.setDesired(`HTTPProxy|${k}`, this.proxyIndex.verdicts.get(k));
      sources.push(...this.proxyIndex.sources());
    }
    if (
      this.classes.hasSynced() &&
      this.gateways.hasSynced() &&
      this.routes.hasSynced() &&
      this.grpcRoutes.hasSynced() &&
      this.tlsRoutes.hasSynced() &&
      this.tcpRoutes.hasSynced() &&
      this.udpRoutes.hasSynced() &&
      this.grants.hasSynced() &&
      this.namespaces.hasSynced()
    ) {
      if (this.gatewaysDirty || !this.gatewaySource) {
        this.gatewaysDirty = false;
        const routes = {
          http: this.routes.store.list(),
          grpc: this.grpcRoutes.store.list(),
          tls: this.tlsRoutes.store.list(),
          tcp: this.tcpRoutes.store.list(),
          udp: this.udpRoutes.store.list(),
        };
        const c = compileGateways(this.gateways.store.list(), routes, {
          mainPorts: this.o.mainPorts,
          unavailablePorts: this.unavailable,
          classes: this.classes.store.list(),
          grants: this.grants.store.list(),
          namespaceLabels: (ns) => this.namespaces.store.get(ns)?.metadata?.labels,
          ...lookups,
        });
        this.gatewaySource = {
          id: 'Gateway',
          rank: 2,
          created: '',
          routes: c.routes,
          tls: c.tls,
          passthrough: c.passthrough,
        };
        this.ports = c.ports;
        const keys = new Set<string>();
        const set = (k: string, v: unknown) => {
          keys.add(k);
          this.setDesired(k, v);
        };
        for (const [k, v] of c.classStatus) set(`GatewayClass|${k}`, v);
        for (const [k, v] of c.gatewayStatus) set(`Gateway|${k}`, v);
        for (const [k, v] of c.routeStatus) set(k, v);
        for (const k of this.gatewayKeys) if (!keys.has(k)) this.setDesired(k, undefined);
        this.gatewayKeys = keys;
      }
      sources.push(this.gatewaySource);
    }
    return sources;
  }

  /**
   * Records the status an object should have (undefined: none) and queues a write when it (or
   * the object) changed since the last time: a route change must not cost a comparison per object.
   */
  private setDesired(k: string, v: unknown): void {
    if (v === undefined) {
      this.desired.delete(k);
      this.desiredCanon.delete(k);
      return;
    }
    this.desired.set(k, v);
    if (!this.status) return;
    const bar = k.indexOf('|');
    const obj = this.informer(k.slice(0, bar) as Kind).inf.store.get(k.slice(bar + 1));
    const c = `${obj?.metadata.uid}|${obj?.metadata.generation}|${canonical(v)}`;
    if (this.desiredCanon.get(k) === c) return;
    this.desiredCanon.set(k, c);
    this.status.enqueue(k);
  }

  /** Node addresses changed: statuses that publish them are looked at again. */
  addressesChanged(): void {
    if (this.status) for (const k of this.desired.keys()) this.status.enqueue(k);
  }

  /** Creates the CRDs (or brings ours up to date), starts the informers once they are served, then the `k8ts` GatewayClass. */
  private async install(): Promise<void> {
    for (const want of INGRESS_CRDS)
      await this.retry(`CRD ${want.metadata?.name}`, () => ensureOwnCrd(this.o.client, want));
    // Served once Established (the CRD controller's work, moments later). Every kind is waited for:
    // an informer started before its kind is served backs off (up to 30 s), and the Gateway API
    // kinds are compiled only once all their caches are complete (on a loaded machine the last
    // CRDs, GRPCRoute and the experimental routes, are established seconds after HTTPRoute).
    await waitUntilServed(this.o.client, Object.values(RS) as ResourceSpec[], {
      timeoutMs: SERVED_WAIT_MS,
      stopped: () => this.stopped,
    });
    if (!this.stopped) this.factory.start();
    await this.retry('GatewayClass k8ts', async () => {
      try {
        await this.o.client.resource(RS.gatewayclasses).create(defaultGatewayClass());
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    });
  }

  private async retry(what: string, fn: () => Promise<void>): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt % 10 === 0) this.log.warn({ err }, `ingress: cannot install ${what} yet`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private informer(kind: Kind): {
    inf: SharedIndexInformer<{ status?: unknown; metadata: { generation?: number; uid?: string } }>;
    res: ResourceSpec;
  } {
    switch (kind) {
      case 'HTTPProxy':
        return { inf: this.proxies as never, res: RS.httpproxies };
      case 'Gateway':
        return { inf: this.gateways as never, res: RS.gateways };
      case 'HTTPRoute':
        return { inf: this.routes as never, res: RS.httproutes };
      case 'GRPCRoute':
        return { inf: this.grpcRoutes as never, res: RS.grpcroutes };
      case 'TLSRoute':
        return { inf: this.tlsRoutes as never, res: RS.tlsroutes };
      case 'TCPRoute':
        return { inf: this.tcpRoutes as never, res: RS.tcproutes };
      case 'UDPRoute':
        return { inf: this.udpRoutes as never, res: RS.udproutes };
      default:
        return { inf: this.classes as never, res: RS.gatewayclasses };
    }
  }

  /** The full status an object should have now, from its desired state and its current status. */
  private statusFor(kind: Kind, obj: { status?: unknown }, desired: unknown, now: string): unknown {
    const ips = this.o.addresses();
    switch (kind) {
      case 'HTTPProxy':
        return proxyStatus(
          obj as HTTPProxy,
          desired as ProxyVerdict,
          ips.map((ip) => ({ ip })),
          now,
        );
      case 'GatewayClass': {
        const before = (obj as GatewayClass).status;
        return {
          ...before,
          conditions: stampConditions((desired as { conditions: Cond[] }).conditions, before?.conditions, now),
        };
      }
      case 'Gateway': {
        const d = desired as NonNullable<
          ReturnType<typeof compileGateways>['gatewayStatus'] extends Map<string, infer V> ? V : never
        >;
        const before = (obj as Gateway).status;
        return {
          addresses: ips.map((value) => ({ type: 'IPAddress', value })),
          conditions: stampConditions(d.conditions, before?.conditions, now),
          listeners: d.listeners.map((l) => ({
            ...l,
            conditions: stampConditions(
              l.conditions,
              before?.listeners?.find((b) => b.name === l.name)?.conditions,
              now,
            ),
          })),
        };
      }
      case 'HTTPRoute':
      case 'GRPCRoute':
      case 'TLSRoute':
      case 'TCPRoute':
      case 'UDPRoute': {
        const d = desired as NonNullable<
          ReturnType<typeof compileGateways>['routeStatus'] extends Map<string, infer V> ? V : never
        >;
        const before = (obj as HTTPRoute).status?.parents ?? [];
        const same = (a: { name: string; namespace?: string; sectionName?: string }, b: typeof a) =>
          a.name === b.name && a.namespace === b.namespace && a.sectionName === b.sectionName;
        return {
          // Other controllers' entries are theirs to keep.
          parents: [
            ...before.filter((p) => p.controllerName !== GATEWAY_CONTROLLER),
            ...d.parents.map((p) => ({
              ...p,
              conditions: stampConditions(
                p.conditions,
                before.find((b) => b.controllerName === GATEWAY_CONTROLLER && same(b.parentRef, p.parentRef))
                  ?.conditions,
                now,
              ),
            })),
          ],
        };
      }
    }
  }

  private async writeStatus(key: string): Promise<void> {
    const bar = key.indexOf('|');
    const kind = key.slice(0, bar) as Kind;
    const name = key.slice(bar + 1);
    const desired = this.desired.get(key);
    const { inf, res } = this.informer(kind);
    const obj = inf.store.get(name);
    if (!obj || desired === undefined) return;
    const status = this.statusFor(kind, obj, desired, new Date().toISOString().replace(/\.\d+Z$/, 'Z'));
    if (canonical(status) === canonical(obj.status ?? {})) return;
    // The whole status replaced (PUT /status with the cached resourceVersion): a conflict means a
    // newer object is on its way through the informer, and the key is retried with it.
    try {
      await this.o.client
        .resource(res)
        .namespace(splitKey(name).namespace)
        .updateStatus({ ...obj, status });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** JSON with sorted keys and without undefined, to compare a status with the stored one. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}
