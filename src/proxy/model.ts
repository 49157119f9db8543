// The mode-independent view of what the service proxy must do: every proxied Service port with the
// endpoints its traffic may go to, following kube-proxy's rules (pkg/proxy/topology.go and
// servicechangetracker.go): only ready endpoints, falling back to serving-terminating ones when no
// endpoint is ready; headless and ExternalName services are not proxied; named targetPorts are
// resolved per endpoint (each EndpointSlice names its port numbers); internalTrafficPolicy and
// externalTrafficPolicy Local restrict traffic to endpoints on this node. Renderers (nftables,
// iptables, userspace) turn this into rules; they never look at API objects themselves.
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** The annotation choosing the userspace proxy's scheduler for one Service (IPVS names). */
export const SCHEDULER_ANNOTATION = 'k8ts.io/lb-scheduler';
export const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'sh', 'dh', 'sed', 'nq'] as const;
export type Scheduler = (typeof SCHEDULERS)[number];
/** The service proxy's modes (--proxy-mode); here, beside the schedulers, so flags need no backend. */
export const PROXY_MODES = ['auto', 'nftables', 'iptables', 'userspace'] as const;
/** Upstream's default sessionAffinityConfig.clientIP.timeoutSeconds (3 hours). */
export const DEFAULT_AFFINITY_SECONDS = 10_800;

export interface Endpoint {
  ip: string;
  port: number;
  nodeName?: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  /** The endpoint runs on this node. */
  local: boolean;
  /** Relative weight (the userspace wrr/wlc schedulers); 1 for every endpoint unless annotated. */
  weight: number;
}

export interface ServicePort {
  /** `ns/name:portName` as upstream's ServicePortName (portName may be empty). */
  key: string;
  namespace: string;
  name: string;
  portName: string;
  protocol: Protocol;
  /** The IPv4 cluster IPs (this proxy handles IPv4 only). */
  clusterIPs: string[];
  port: number;
  nodePort?: number;
  externalIPs: string[];
  /** status.loadBalancer.ingress IPs. */
  loadBalancerIPs: string[];
  internalPolicyLocal: boolean;
  externalPolicyLocal: boolean;
  /** sessionAffinity ClientIP: how long a client stays with its endpoint (undefined: no affinity). */
  affinitySeconds?: number;
  healthCheckNodePort?: number;
  scheduler: Scheduler;
  /** Every usable endpoint (ready, or serving-terminating when none is ready). */
  allEndpoints: Endpoint[];
  /** Where traffic to the cluster IPs goes (local ones only with internalTrafficPolicy Local). */
  clusterEndpoints: Endpoint[];
  /** Where traffic to NodePort, externalIPs and LoadBalancer IPs goes (local only with externalTrafficPolicy Local). */
  externalEndpoints: Endpoint[];
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
export const isIPv4 = (s: unknown): s is string =>
  typeof s === 'string' && IPV4.test(s) && s.split('.').every((o) => Number(o) <= 255);

/** Ready endpoints if any, else the serving-terminating ones (upstream's graceful-termination fallback). */
export function usableEndpoints(eps: Endpoint[]): Endpoint[] {
  const ready = eps.filter((e) => e.ready);
  return ready.length ? ready : eps.filter((e) => e.serving && e.terminating);
}

export interface ModelOptions {
  nodeName: string;
  /** Cluster default scheduler (--lb-scheduler). */
  defaultScheduler: Scheduler;
}

function schedulerOf(svc: Service, fallback: Scheduler): Scheduler {
  const wanted = svc.metadata?.annotations?.[SCHEDULER_ANNOTATION];
  return (SCHEDULERS as readonly string[]).includes(wanted ?? '') ? (wanted as Scheduler) : fallback;
}

/** Whether a Service gets proxy rules at all (headless and ExternalName do not). */
export function isProxied(svc: Service): boolean {
  const type = svc.spec?.type ?? 'ClusterIP';
  if (type === 'ExternalName') return false;
  const ip = svc.spec?.clusterIP;
  return !!ip && ip !== 'None';
}

/** The endpoints EndpointSlices give one port (matched by name and protocol), deduplicated by address. */
function endpointsFor(slices: EndpointSlice[], portName: string, protocol: Protocol, nodeName: string): Endpoint[] {
  const byAddress = new Map<string, Endpoint>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    const sp = (slice.ports ?? []).find((p) => (p.name ?? '') === portName && (p.protocol ?? 'TCP') === protocol);
    if (!sp || typeof sp.port !== 'number') continue;
    for (const ep of slice.endpoints ?? []) {
      const c = ep.conditions ?? {};
      // Upstream: a nil ready counts as ready, a nil serving as the value of ready.
      const ready = c.ready ?? true;
      const serving = c.serving ?? ready;
      const terminating = c.terminating ?? false;
      for (const ip of (ep.addresses ?? []).slice(0, 1)) {
        if (!isIPv4(ip)) continue;
        const key = `${ip}:${sp.port}`;
        if (byAddress.has(key)) continue;
        byAddress.set(key, {
          ip,
          port: sp.port,
          nodeName: ep.nodeName,
          ready,
          serving,
          terminating,
          local: !!ep.nodeName && ep.nodeName === nodeName,
          weight: 1,
        });
      }
    }
  }
  return [...byAddress.values()].sort((a, b) => (a.ip === b.ip ? a.port - b.port : compareIPv4(a.ip, b.ip)));
}

export function compareIPv4(a: string, b: string): number {
  const n = (s: string) => s.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  return n(a) - n(b);
}

/**
 * The proxied ports of one Service given its EndpointSlices (those labelled
 * kubernetes.io/service-name with its name, in its namespace).
 */
export function servicePorts(svc: Service, slices: EndpointSlice[], o: ModelOptions): ServicePort[] {
  if (!isProxied(svc)) return [];
  const spec = svc.spec!;
  const namespace = svc.metadata?.namespace ?? 'default';
  const name = svc.metadata?.name ?? '';
  const clusterIPs = [...new Set([spec.clusterIP, ...(spec.clusterIPs ?? [])].filter(isIPv4))];
  if (!clusterIPs.length) return [];
  const type = spec.type ?? 'ClusterIP';
  const externalCapable = type === 'NodePort' || type === 'LoadBalancer';
  const lbIPs =
    type === 'LoadBalancer' ? (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter(isIPv4) : [];
  const affinity =
    spec.sessionAffinity === 'ClientIP'
      ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS)
      : undefined;
  const out: ServicePort[] = [];
  for (const p of spec.ports ?? []) {
    const protocol = (p.protocol ?? 'TCP') as Protocol;
    const portName = p.name ?? '';
    const all = endpointsFor(slices, portName, protocol, o.nodeName);
    const usable = usableEndpoints(all);
    const local = usableEndpoints(all.filter((e) => e.local));
    const internalPolicyLocal = spec.internalTrafficPolicy === 'Local';
    const externalPolicyLocal = externalCapable && spec.externalTrafficPolicy === 'Local';
    out.push({
      key: `${namespace}/${name}:${portName}`,
      namespace,
      name,
      portName,
      protocol,
      clusterIPs,
      port: p.port,
      nodePort: externalCapable && p.nodePort ? p.nodePort : undefined,
      externalIPs: (spec.externalIPs ?? []).filter(isIPv4),
      loadBalancerIPs: lbIPs,
      internalPolicyLocal,
      externalPolicyLocal,
      affinitySeconds: affinity,
      healthCheckNodePort: externalPolicyLocal ? spec.healthCheckNodePort : undefined,
      scheduler: schedulerOf(svc, o.defaultScheduler),
      allEndpoints: usable,
      clusterEndpoints: internalPolicyLocal ? local : usable,
      externalEndpoints: externalPolicyLocal ? local : usable,
    });
  }
  return out;
}

const byPortKey = (a: ServicePort, b: ServicePort) =>
  a.key < b.key ? -1 : a.key > b.key ? 1 : a.protocol.localeCompare(b.protocol);

const objectKey = (o: { metadata?: { namespace?: string; name?: string } }) =>
  `${o.metadata?.namespace ?? 'default'}/${o.metadata?.name ?? ''}`;
const sliceService = (s: EndpointSlice) => {
  const svcName = s.metadata?.labels?.['kubernetes.io/service-name'];
  return svcName ? `${s.metadata?.namespace ?? 'default'}/${svcName}` : undefined;
};

/**
 * The model kept up to date one object at a time, as upstream's service and endpoints change
 * trackers: a Service or EndpointSlice event marks its Service dirty, and `ports()` recomputes only
 * dirty Services. Unchanged Service ports keep their object identity from one `ports()` to the
 * next, so backends can skip them without comparing (at 10,000 Services, rebuilding everything
 * per sync costs more than programming the change).
 */
export class ModelTracker {
  private services = new Map<string, Service>();
  /** Service key → slice key → slice. */
  private slices = new Map<string, Map<string, EndpointSlice>>();
  /** Slice key → the Service key it was filed under (its label may change). */
  private sliceOwner = new Map<string, string>();
  private computed = new Map<string, ServicePort[]>();
  private dirty = new Set<string>();
  private sorted: ServicePort[] = [];

  constructor(private o: ModelOptions) {}

  setService(svc: Service): void {
    const key = objectKey(svc);
    this.services.set(key, svc);
    this.dirty.add(key);
  }

  deleteService(svc: Service): void {
    const key = objectKey(svc);
    this.services.delete(key);
    this.dirty.add(key);
  }

  setSlice(slice: EndpointSlice): void {
    this.deleteSlice(slice);
    const owner = sliceService(slice);
    if (!owner) return;
    const key = objectKey(slice);
    let mine = this.slices.get(owner);
    if (!mine) this.slices.set(owner, (mine = new Map<string, EndpointSlice>()));
    mine.set(key, slice);
    this.sliceOwner.set(key, owner);
    this.dirty.add(owner);
  }

  deleteSlice(slice: EndpointSlice): void {
    const key = objectKey(slice);
    const owner = this.sliceOwner.get(key);
    if (!owner) return;
    this.sliceOwner.delete(key);
    const mine = this.slices.get(owner);
    mine?.delete(key);
    if (mine && !mine.size) this.slices.delete(owner);
    this.dirty.add(owner);
  }

  /** Every proxied Service port, sorted by key (renderers produce stable output). */
  ports(): ServicePort[] {
    if (!this.dirty.size) return this.sorted;
    for (const key of this.dirty) {
      const svc = this.services.get(key);
      const ports = svc ? servicePorts(svc, [...(this.slices.get(key)?.values() ?? [])], this.o) : [];
      if (ports.length) this.computed.set(key, ports);
      else this.computed.delete(key);
    }
    this.dirty.clear();
    this.sorted = [...this.computed.values()].flat().sort(byPortKey);
    return this.sorted;
  }
}

/** Every proxied Service port of the cluster from all its objects at once (tests, one-off callers). */
export function buildModel(services: Service[], slices: EndpointSlice[], o: ModelOptions): ServicePort[] {
  const tracker = new ModelTracker(o);
  for (const s of services) tracker.setService(s);
  for (const s of slices) tracker.setSlice(s);
  return tracker.ports();
}
