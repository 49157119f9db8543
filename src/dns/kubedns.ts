// The kube-system/kube-dns Service and its endpoints, kept by the server. The Service has the
// cluster DNS address (--cluster-dns, by default the 10th address of --service-cidr) and no
// selector: its backends are not pods but the node agents' DNS listeners (as NodeLocal DNSCache
// runs one per node), which each agent announces in its Node's k8ts.io/dns-listener annotation.
// This controller writes them into the Service's Endpoints and EndpointSlice (the endpoints
// controllers leave selector-less Services alone), ready while the node is Ready.
// It also writes the default Corefile into kube-system/coredns when that ConfigMap is missing.
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import type { ConfigMap, Endpoints, Node, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { R, spec, type Client } from '../client/client.js';
import { SharedIndexInformer } from '../client/informer.js';
import { isNotFound, isAlreadyExists } from '../client/errors.js';
import { defaultCorefile } from './corefile.js';
import { COREFILE_CONFIGMAP, DNS_LISTENER_ANNOTATION, METRICS_PORT } from './service.js';
import { ENDPOINT_SLICES } from './view.js';
import { compareStrings } from '../machinery/order.js';

export const KUBE_DNS = { namespace: 'kube-system', name: 'kube-dns' };
const SERVICES = spec<Service>(R.services);
const ENDPOINTS = spec<Endpoints>(R.endpoints);
const NODES = spec<Node>(R.nodes);
const CONFIGMAPS = spec<ConfigMap>(R.configmaps);
const PORTS = [
  { name: 'dns', port: 53, protocol: 'UDP' },
  { name: 'dns-tcp', port: 53, protocol: 'TCP' },
  { name: 'metrics', port: METRICS_PORT, protocol: 'TCP' },
];

/** The 10th address of a service CIDR (10.43.0.0/16 → 10.43.0.10), as k3s defaults --cluster-dns. */
export function tenthAddress(cidr: string): string {
  const [net] = ipaddr.parseCIDR(cidr);
  const bytes = net.toByteArray();
  let carry = 10;
  for (let i = bytes.length - 1; i >= 0 && carry; i--) {
    const v = bytes[i] + carry;
    bytes[i] = v & 0xff;
    carry = v >> 8;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/** The listener address and readiness of every node that announces one, by node name. */
export function listeners(nodes: Node[]): { node: string; ip: string; ready: boolean }[] {
  const out: { node: string; ip: string; ready: boolean }[] = [];
  for (const n of nodes) {
    const ip = n.metadata?.annotations?.[DNS_LISTENER_ANNOTATION];
    if (!ip || !ipaddr.IPv4.isValidFourPartDecimal(ip) || n.metadata?.deletionTimestamp) continue;
    const ready = n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    out.push({ node: n.metadata!.name!, ip, ready });
  }
  return out.sort((a, b) => compareStrings(a.node, b.node));
}

export class KubeDNSController {
  private nodes: SharedIndexInformer<Node>;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(private readonly o: { client: Client; clusterDNS: string; clusterDomain: string; logger: Logger }) {
    this.nodes = new SharedIndexInformer(o.client, NODES, { dropManagedFields: true, frozen: true });
    const kick = () => this.kick();
    // Every Node reports its status every few seconds: only what `listeners` reads makes a sync
    // (at 5,000 nodes, one per heartbeat kept the controller syncing without pause).
    const facts = (n: Node) => JSON.stringify(listeners([n]));
    this.nodes.addEventHandler({ add: kick, update: (old, now) => facts(old) !== facts(now) && kick(), delete: kick });
  }

  async start(): Promise<void> {
    this.nodes.start();
    await this.nodes.waitForSync(60_000);
    this.kick();
    // The Service, Endpoints and ConfigMap may be deleted by a user: put them back now and then.
    this.timer = setInterval(() => this.kick(), 30_000);
    this.timer.unref();
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.sync()
      .catch((err) => this.o.logger.warn({ err }, 'kube-dns: sync failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async sync(): Promise<void> {
    await this.ensureService();
    await this.ensureCorefile();
    const eps = listeners(this.nodes.store.list());
    await this.ensureEndpoints(eps);
    await this.ensureSlice(eps);
  }

  private async ensureService(): Promise<void> {
    const c = this.o.client.resource(SERVICES).namespace(KUBE_DNS.namespace);
    const cur = await c.get(KUBE_DNS.name).catch((e: unknown) => {
      if (isNotFound(e)) return undefined;
      throw e;
    });
    if (cur) return;
    await c
      .create({
        metadata: {
          name: KUBE_DNS.name,
          namespace: KUBE_DNS.namespace,
          labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' },
          annotations: { 'prometheus.io/port': String(METRICS_PORT), 'prometheus.io/scrape': 'true' },
        },
        spec: {
          type: 'ClusterIP',
          clusterIP: this.o.clusterDNS,
          clusterIPs: [this.o.clusterDNS],
          ports: PORTS.map((p) => ({ ...p, targetPort: p.port })),
          sessionAffinity: 'None',
        },
      })
      .catch((e: unknown) => {
        if (isAlreadyExists(e)) return undefined;
        throw e;
      });
    this.o.logger.info({ clusterIP: this.o.clusterDNS }, 'kube-dns Service created');
  }

  private async ensureCorefile(): Promise<void> {
    const c = this.o.client.resource(CONFIGMAPS).namespace(COREFILE_CONFIGMAP.namespace);
    const cur = await c.get(COREFILE_CONFIGMAP.name).catch((e: unknown) => {
      if (isNotFound(e)) return undefined;
      throw e;
    });
    if (cur) return;
    await c
      .create({
        metadata: { name: COREFILE_CONFIGMAP.name, namespace: COREFILE_CONFIGMAP.namespace },
        data: { Corefile: defaultCorefile(this.o.clusterDomain) },
      })
      .catch((e: unknown) => {
        if (isAlreadyExists(e)) return undefined;
        throw e;
      });
  }

  private async ensureEndpoints(eps: { node: string; ip: string; ready: boolean }[]): Promise<void> {
    const ready = eps.filter((e) => e.ready);
    const notReady = eps.filter((e) => !e.ready);
    const addr = (e: { node: string; ip: string }) => ({ ip: e.ip, nodeName: e.node });
    const subsets = eps.length
      ? [
          {
            ...(ready.length ? { addresses: ready.map(addr) } : {}),
            ...(notReady.length ? { notReadyAddresses: notReady.map(addr) } : {}),
            ports: PORTS,
          },
        ]
      : [];
    const c = this.o.client.resource(ENDPOINTS).namespace(KUBE_DNS.namespace);
    const cur = await c.get(KUBE_DNS.name).catch((e: unknown) => {
      if (isNotFound(e)) return undefined;
      throw e;
    });
    const labels = { 'k8s-app': 'kube-dns' };
    if (!cur) await c.create({ metadata: { name: KUBE_DNS.name, namespace: KUBE_DNS.namespace, labels }, subsets });
    else if (JSON.stringify(cur.subsets ?? []) !== JSON.stringify(subsets)) await c.update({ ...cur, subsets });
  }

  private async ensureSlice(eps: { node: string; ip: string; ready: boolean }[]): Promise<void> {
    const c = this.o.client.resource(ENDPOINT_SLICES).namespace(KUBE_DNS.namespace);
    const endpoints = eps.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready, serving: e.ready, terminating: false },
      nodeName: e.node,
    }));
    const cur = await c.get(KUBE_DNS.name).catch((e: unknown) => {
      if (isNotFound(e)) return undefined;
      throw e;
    });
    const want: EndpointSlice = {
      metadata: {
        name: KUBE_DNS.name,
        namespace: KUBE_DNS.namespace,
        labels: {
          'kubernetes.io/service-name': KUBE_DNS.name,
          'endpointslice.kubernetes.io/managed-by': 'k8ts-dns',
          'k8s-app': 'kube-dns',
        },
      },
      addressType: 'IPv4',
      endpoints,
      ports: PORTS,
    };
    if (!cur) await c.create(want);
    else if (JSON.stringify([cur.endpoints ?? [], cur.ports]) !== JSON.stringify([endpoints, PORTS]))
      await c.update({ ...cur, endpoints, ports: PORTS });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.nodes.stop();
  }
}
