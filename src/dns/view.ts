// What the kubernetes plugin reads: Services, EndpointSlices, Pods and Namespaces, in indexed
// stores. The agent fills them from informers (ClusterWatch); tests fill Indexers with objects.
import ipaddr from 'ipaddr.js';
import type { Namespace, Pod, Service } from 'kubernetes-types/core/v1.js';
import type { Stored, StoredMeta } from '../client/types.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { spec, type Client } from '../client/client.js';
import { Indexer, SharedIndexInformer, type IndexFunc } from '../client/informer.js';

export const SERVICES = spec<Service>({
  group: '',
  version: 'v1',
  plural: 'services',
  namespaced: true,
  kind: 'Service',
});
export const ENDPOINT_SLICES = spec<EndpointSlice>({
  group: 'discovery.k8s.io',
  version: 'v1',
  plural: 'endpointslices',
  namespaced: true,
  kind: 'EndpointSlice',
});
export const PODS = spec<Pod>({ group: '', version: 'v1', plural: 'pods', namespaced: true, kind: 'Pod' });
export const NAMESPACES = spec<Namespace>({
  group: '',
  version: 'v1',
  plural: 'namespaces',
  namespaced: false,
  kind: 'Namespace',
});

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Publish not-ready endpoints (the annotation that preceded spec.publishNotReadyAddresses). */
export const TOLERATE_UNREADY = 'service.alpha.kubernetes.io/tolerate-unready-endpoints';

/** A dotted quad already in canonical form (no leading zeros): most addresses a store holds. */
const CANONICAL_V4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * An address in one canonical spelling (IPv6 compressed, lower case), or undefined if it is none.
 * An address already canonical comes back as the same string, so stores and their indexes share it.
 */
export function canonicalIP(ip: string | undefined): string | undefined {
  if (!ip) return undefined;
  if (CANONICAL_V4.test(ip)) return ip;
  if (!ipaddr.isValid(ip)) return undefined;
  const a = ipaddr.parse(ip);
  const canonical =
    a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()
      ? (a as ipaddr.IPv6).toIPv4Address().toString()
      : a.toString();
  return canonical === ip ? ip : canonical;
}

const byClusterIP: IndexFunc = (s: Service) => [
  ...new Set([s.spec?.clusterIP, ...(s.spec?.clusterIPs ?? [])].map(canonicalIP).filter((x): x is string => !!x)),
];
const byService: IndexFunc = (s: EndpointSlice) => {
  const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
  return svc ? [`${s.metadata?.namespace}/${svc}`] : [];
};
const byAddress: IndexFunc = (s: EndpointSlice) => [
  ...new Set(
    (s.endpoints ?? [])
      .flatMap((e) => e.addresses ?? [])
      .map(canonicalIP)
      .filter((x): x is string => !!x),
  ),
];
const byPodIP: IndexFunc = (p: Pod) => [
  ...new Set(
    [p.status?.podIP, ...(p.status?.podIPs ?? []).map((x) => x.ip)].map(canonicalIP).filter((x): x is string => !!x),
  ),
];

export const INDEXERS = {
  services: { clusterIP: byClusterIP },
  slices: { service: byService, address: byAddress },
  pods: { podIP: byPodIP },
};

// The fields the DNS reads, and nothing else: its informers keep only these (an object from a
// watch is several times bigger: status, labels, managedFields, finalizers, ...). The slim objects
// are built as literals of one fixed shape each (a spread, or a property added afterwards, gave
// every object a hidden class of its own: a third of the stores' heap), and the values many
// objects repeat (namespaces, protocols, port lists, conditions) come from one bounded intern
// table, so 10,000 Services share one "default", one "TCP" and one port list where they can.

/** Beyond this many entries the intern table starts over (values already shared stay shared). */
const INTERN_LIMIT = 4096;

class Interner {
  private readonly strings = new Map<string, string>();
  private readonly values = new Map<string, unknown>();

  string<S extends string | undefined>(s: S): S {
    if (s === undefined || s.length > 64) return s;
    const known = this.strings.get(s);
    if (known !== undefined) return known as S;
    if (this.strings.size >= INTERN_LIMIT) this.strings.clear();
    this.strings.set(s, s);
    return s;
  }

  /** One frozen value per `key`, made by `make` the first time (shared, so never mutated). */
  value<T>(key: string, make: () => T): T {
    const known = this.values.get(key);
    if (known !== undefined) return known as T;
    if (this.values.size >= INTERN_LIMIT) this.values.clear();
    const v = Object.freeze(make());
    this.values.set(key, v);
    return v;
  }
}

const interned = new Interner();

type SlimPort = { name?: string; port: number; protocol?: string };

/** A port list shared by every object with the same ports (frozen: the stores never change it). */
function slimPorts<P extends { name?: string; port?: number; protocol?: string }>(
  ports: P[] | undefined,
): P[] | undefined {
  if (!ports) return undefined;
  const key = ports.map((p) => `${p.name ?? ''}/${p.port}/${p.protocol ?? ''}`).join(',');
  return interned.value(key, () =>
    ports.map((p): SlimPort =>
      Object.freeze({
        name: interned.string(p.name),
        port: p.port!,
        protocol: interned.string(p.protocol),
      }),
    ),
  ) as unknown as P[];
}

/**
 * Metadata with name, namespace and resourceVersion (the informer's bookkeeping needs the last)
 * and the few fields given: uid and creationTimestamp are not kept, nothing the DNS does reads them.
 */
function slimMeta(
  m: StoredMeta,
  extra: Pick<StoredMeta, 'annotations' | 'labels' | 'deletionTimestamp'> = {},
): StoredMeta {
  return {
    name: m.name,
    namespace: interned.string(m.namespace),
    resourceVersion: m.resourceVersion,
    annotations: extra.annotations,
    labels: extra.labels,
    deletionTimestamp: extra.deletionTimestamp,
  } as StoredMeta;
}

/** A Service as the DNS reads it. */
export function slimService(s: Stored<Service>): Stored<Service> {
  const tolerate = s.metadata.annotations?.[TOLERATE_UNREADY];
  const spec = s.spec;
  const clusterIP = spec?.clusterIP === 'None' ? 'None' : canonicalIP(spec?.clusterIP);
  const ips = spec?.clusterIPs ?? [];
  // clusterIPs is kept only when it adds to clusterIP (dual-stack): the records are their union.
  const clusterIPs = ips.length > 1 || (ips.length === 1 && ips[0] !== spec?.clusterIP) ? ips : undefined;
  return {
    metadata: slimMeta(s.metadata, {
      annotations: tolerate
        ? interned.value(`tolerate:${tolerate}`, () => ({ [TOLERATE_UNREADY]: tolerate }))
        : undefined,
    }),
    spec: spec && {
      type: interned.string(spec.type),
      clusterIP,
      clusterIPs,
      externalName: spec.externalName,
      publishNotReadyAddresses: spec.publishNotReadyAddresses,
      ports: slimPorts(spec.ports),
    },
  };
}

const READY = Object.freeze({ ready: true });
const NOT_READY = Object.freeze({ ready: false });

/** An EndpointSlice as the DNS reads it. */
export function slimSlice(s: Stored<EndpointSlice>): Stored<EndpointSlice> {
  const service = s.metadata.labels?.[SERVICE_NAME_LABEL];
  return {
    metadata: slimMeta(s.metadata, { labels: service ? { [SERVICE_NAME_LABEL]: service } : undefined }),
    addressType: interned.string(s.addressType),
    ports: slimPorts(s.ports),
    endpoints: (s.endpoints ?? []).map((e) => {
      const ready = e.conditions?.ready;
      return {
        addresses: e.addresses.map((a) => canonicalIP(a) ?? a),
        hostname: e.hostname,
        conditions: ready === undefined ? undefined : ready ? READY : NOT_READY,
        targetRef: e.targetRef && { kind: interned.string(e.targetRef.kind), name: e.targetRef.name },
      };
    }),
  };
}

/** A Pod as the DNS reads it (its addresses; deleted ones are skipped). */
export function slimPod(p: Stored<Pod>): Stored<Pod> {
  const podIPs = p.status?.podIPs;
  return {
    metadata: slimMeta(p.metadata, { deletionTimestamp: p.metadata.deletionTimestamp }),
    status: {
      podIP: canonicalIP(p.status?.podIP) ?? p.status?.podIP,
      // podIPs only when they add to podIP (dual-stack), as clusterIPs above.
      podIPs:
        podIPs && (podIPs.length > 1 || podIPs[0]?.ip !== p.status?.podIP)
          ? podIPs.map((x) => ({ ip: x.ip }))
          : undefined,
    },
  };
}

export const slimNamespace = (n: Stored<Namespace>): Stored<Namespace> => ({ metadata: slimMeta(n.metadata) });

/** The stores the DNS reads; `pods` only exists when a feature needs every pod (pods verified, autopath). */
export interface ClusterView {
  services: Indexer<Service>;
  slices: Indexer<EndpointSlice>;
  namespaces: Indexer<Namespace>;
  pods?: Indexer<Pod>;
  /** Changes with every change of the data (the SOA serial). */
  serial(): number;
}

/** Stores filled by hand (unit tests, benchmarks). */
export function staticView(objects: {
  services?: Service[];
  slices?: EndpointSlice[];
  namespaces?: string[];
  pods?: Pod[];
}): ClusterView {
  const services = new Indexer<Service>();
  services.addIndexers(INDEXERS.services);
  const slices = new Indexer<EndpointSlice>();
  slices.addIndexers(INDEXERS.slices);
  const namespaces = new Indexer<Namespace>();
  const pods = new Indexer<Pod>();
  pods.addIndexers(INDEXERS.pods);
  const key = (o: { metadata?: { namespace?: string; name?: string } }) =>
    o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : `${o.metadata?.name}`;
  for (const s of objects.services ?? []) services.set(key(s), s);
  for (const s of objects.slices ?? []) slices.set(key(s), s);
  for (const n of objects.namespaces ?? []) namespaces.set(n, { metadata: { name: n } });
  for (const p of objects.pods ?? []) pods.set(key(p), p);
  return { services, slices, namespaces, pods, serial: () => 1 };
}

/** Informers over the API that keep a ClusterView current. */
export class ClusterWatch implements ClusterView {
  private readonly informers: SharedIndexInformer<any>[] = [];
  private readonly svcInformer: SharedIndexInformer<Service>;
  private readonly sliceInformer: SharedIndexInformer<EndpointSlice>;
  private readonly nsInformer: SharedIndexInformer<Namespace>;
  private readonly podInformer?: SharedIndexInformer<Pod>;
  private changed = Math.floor(Date.now() / 1000);
  /** Counts every change the informers saw: answers computed before a change are stale after it. */
  generation = 0;

  constructor(client: Client, opts: { watchPods: boolean }) {
    this.svcInformer = new SharedIndexInformer(client, SERVICES, {
      indexers: INDEXERS.services,
      dropManagedFields: true,
      transform: slimService,
    });
    this.sliceInformer = new SharedIndexInformer(client, ENDPOINT_SLICES, {
      indexers: INDEXERS.slices,
      dropManagedFields: true,
      transform: slimSlice,
    });
    this.nsInformer = new SharedIndexInformer(client, NAMESPACES, {
      dropManagedFields: true,
      transform: slimNamespace,
    });
    this.informers.push(this.svcInformer, this.sliceInformer, this.nsInformer);
    if (opts.watchPods) {
      this.podInformer = new SharedIndexInformer(client, PODS, {
        indexers: INDEXERS.pods,
        dropManagedFields: true,
        transform: slimPod,
      });
      this.informers.push(this.podInformer);
    }
    const bump = () => {
      this.generation++;
      this.changed = Math.max(this.changed + 1, Math.floor(Date.now() / 1000));
    };
    for (const inf of this.informers) inf.addEventHandler({ add: bump, update: bump, delete: bump });
  }

  get services() {
    return this.svcInformer.store;
  }
  get slices() {
    return this.sliceInformer.store;
  }
  get namespaces() {
    return this.nsInformer.store;
  }
  get pods() {
    return this.podInformer?.store;
  }

  serial(): number {
    return this.changed >>> 0;
  }

  /** Registers for every change (the Corefile's reload and the metrics use it). */
  onChange(fn: () => void): void {
    for (const inf of this.informers) inf.addEventHandler({ add: fn, update: () => fn(), delete: fn });
  }

  async start(timeoutMs = 60_000): Promise<boolean> {
    for (const inf of this.informers) inf.start();
    const synced = await Promise.all(this.informers.map((i) => i.waitForSync(timeoutMs)));
    return synced.every(Boolean);
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}
