// The network policy controller of one node (k3s runs kube-router's for this): informers over
// NetworkPolicies, Pods and Namespaces feed model.ts; a change schedules a sync, which renders the
// node's table (render.ts) and loads what changed with `nft -f`. Syncs
// never overlap and coalesce, as the service proxy's do.
//
// The cluster DNS is served by each agent on its bridge gateway (docs/dns.md), not by pods; the
// addresses in kube-system/kube-dns's EndpointSlices stand in for CoreDNS pods (namespace
// kube-system, label k8s-app=kube-dns, ports dns and dns-tcp), so the usual "egress to kube-dns"
// exception written for k3s works unchanged.
import type { Logger } from 'pino';
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import { R, spec, type Client } from '../client/client.js';
import { SharedInformerFactory, keyOf } from '../client/informer.js';
import { ENDPOINT_SLICES } from '../proxy/proxier.js';
import { nft } from '../proxy/nftbackend.js';
import { compileNodeRules, type Endpoint, type NodeRules, type Protocol } from './model.js';
import { parseIP } from './ranges.js';
import { deleteTableScript, fullScript, renderRules, updateScript, type RenderedTable } from './render.js';

export const NETWORK_POLICIES = spec<NetworkPolicy>({
  group: 'networking.k8s.io',
  version: 'v1',
  plural: 'networkpolicies',
  namespaced: true,
  kind: 'NetworkPolicy',
});

const DNS_SLICES = { namespace: 'kube-system', labelSelector: 'kubernetes.io/service-name=kube-dns' };

export interface NetworkPolicyControllerOptions {
  client: Client;
  nodeName: string;
  /** The nftables table (family inet); unique per cluster on a host. */
  table: string;
  logger: Logger;
  /** Called after each sync that loaded rules (benchmarks, tests). */
  onSynced?: (info: { computeMs: number; renderMs: number; loadMs: number; rules: NodeRules }) => void;
}

/**
 * The pods (with an address, not on the host network, not finished) as policy endpoints: one per
 * address, so a dual-stack pod's IPv4 and IPv6 addresses are both isolated and both peers.
 */
export function podEndpoints(pods: Pod[], nodeName: string): Endpoint[] {
  const out: Endpoint[] = [];
  for (const pod of pods) {
    const phase = pod.status?.phase;
    if (pod.spec?.hostNetwork || phase === 'Succeeded' || phase === 'Failed') continue;
    const ips = [
      ...new Set(
        [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip)].filter(
          (ip): ip is string => !!ip && parseIP(ip) !== undefined,
        ),
      ),
    ];
    if (!ips.length) continue;
    const ports = (pod.spec?.containers ?? []).flatMap((c) =>
      (c.ports ?? [])
        .filter((p) => p.name)
        .map((p) => ({
          name: p.name!,
          protocol: (p.protocol ?? 'TCP').toLowerCase() as Protocol,
          port: p.containerPort,
        })),
    );
    for (const ip of ips)
      out.push({
        namespace: pod.metadata?.namespace ?? '',
        name: pod.metadata?.name ?? '',
        labels: pod.metadata?.labels ?? {},
        ip,
        local: pod.spec?.nodeName === nodeName,
        ports,
      });
  }
  return out;
}

export class NetworkPolicyController {
  private readonly factory: SharedInformerFactory;
  private readonly log: Logger;
  /** What the kernel holds (undefined: unknown; the next sync replaces the whole table). */
  private installed?: RenderedTable;
  private syncing?: Promise<void>;
  private dirty = false;
  private stopped = false;
  /** Whether every informer has listed once (no rules from half the picture). */
  private synced = false;
  private timer?: NodeJS.Timeout;
  /** Each pod's endpoints, kept as pods change: a sync reads them instead of walking every pod again. */
  private readonly podEndpoints = new Map<string, Endpoint[]>();

  constructor(private o: NetworkPolicyControllerOptions) {
    // Read only: in the server's process the informers share the watch cache's objects.
    this.factory = new SharedInformerFactory(o.client, { logger: o.logger, dropManagedFields: true, frozen: true });
    this.log = o.logger.child({ component: 'network-policy', table: o.table });
  }

  /**
   * Starts the informers and returns; the first sync runs once every cache has synced (a node
   * agent's start must not wait on it: the API server may be slow or refuse a resource).
   */
  start(): void {
    const kick = () => this.requestSync();
    this.factory.forResource(NETWORK_POLICIES).addEventHandler({ add: kick, update: kick, delete: kick });
    // Pods, namespaces and the DNS endpoints only matter to the rules of some policy: with none (most
    // clusters), their churn (every pod of a large cluster) syncs nothing.
    const kickIfPolicies = () => this.hasPolicies() && kick();
    const handler = { add: kickIfPolicies, update: kickIfPolicies, delete: kickIfPolicies };
    // Pods change often in ways rules do not see (status conditions, annotations): an update counts
    // only when what the rules read of it changed.
    this.factory.forResource(R.pods).addEventHandler({
      add: (pod) => this.notePod(pod) && kickIfPolicies(),
      update: (_old, pod) => this.notePod(pod) && kickIfPolicies(),
      delete: (pod) => this.podEndpoints.delete(keyOf(pod)) && kickIfPolicies(),
    });
    const labels = (ns: Namespace) => JSON.stringify(ns.metadata?.labels ?? {});
    this.factory.forResource(R.namespaces).addEventHandler({
      ...handler,
      update: (old, now) => labels(old) !== labels(now) && kickIfPolicies(),
    });
    this.factory.forResource(ENDPOINT_SLICES, DNS_SLICES).addEventHandler(handler);
    this.factory.start();
    void this.factory.waitForCacheSync().then(() => {
      if (this.stopped) return;
      this.synced = true;
      this.requestSync();
      this.log.info('network policy controller running');
    });
    // Reloads the whole table now and then: repairs a table someone flushed.
    this.timer = setInterval(() => {
      this.installed = undefined;
      this.requestSync();
    }, 60_000);
    this.timer.unref?.();
  }

  private hasPolicies(): boolean {
    return this.factory.forResource(NETWORK_POLICIES).store.list().length > 0;
  }

  /** Records a pod's endpoints; whether they changed (status churn changes nothing the rules read). */
  private notePod(pod: Pod): boolean {
    const key = keyOf(pod);
    const endpoints = podEndpoints([pod], this.o.nodeName);
    const before = this.podEndpoints.get(key);
    if (before && JSON.stringify(before) === JSON.stringify(endpoints)) return false;
    this.podEndpoints.set(key, endpoints);
    return true;
  }

  requestSync(): void {
    if (this.stopped || !this.synced) return;
    if (this.syncing) {
      this.dirty = true;
      return;
    }
    this.syncing = this.loop().finally(() => (this.syncing = undefined));
  }

  private async loop(): Promise<void> {
    do {
      this.dirty = false;
      await this.syncOnce();
    } while (this.dirty && !this.stopped);
  }

  /** The endpoints standing in for CoreDNS pods: the cluster DNS listeners. */
  private dnsEndpoints(): Endpoint[] {
    const out: Endpoint[] = [];
    for (const slice of this.factory.forResource(ENDPOINT_SLICES, DNS_SLICES).store.list()) {
      const ports = (slice.ports ?? [])
        .filter((p) => p.name && p.port)
        .map((p) => ({ name: p.name!, protocol: (p.protocol ?? 'TCP').toLowerCase() as Protocol, port: p.port! }));
      for (const ep of slice.endpoints ?? [])
        for (const ip of ep.addresses)
          if (parseIP(ip) !== undefined)
            out.push({
              namespace: 'kube-system',
              name: `kube-dns@${ip}`,
              labels: { 'k8s-app': 'kube-dns' },
              ip,
              local: false, // a host address: never isolated
              ports,
            });
    }
    return out;
  }

  private async syncOnce(): Promise<void> {
    const t0 = performance.now();
    const policies = this.factory.forResource(NETWORK_POLICIES).store.list();
    const endpoints: Endpoint[] = [];
    if (policies.length) for (const eps of this.podEndpoints.values()) endpoints.push(...eps);
    const namespaces = this.factory.forResource(R.namespaces).store.list() as Namespace[];
    const labels = new Map(namespaces.map((n) => [n.metadata?.name ?? '', n.metadata?.labels ?? {}]));
    const rules = compileNodeRules(policies, policies.length ? [...endpoints, ...this.dnsEndpoints()] : [], labels);
    const t1 = performance.now();
    const rendered = renderRules(rules);
    const script = this.installed
      ? updateScript(this.o.table, this.installed, rendered)
      : fullScript(this.o.table, rendered);
    const t2 = performance.now();
    if (!script) return;
    try {
      await nft(script);
    } catch (err) {
      this.installed = undefined;
      this.log.error({ err }, 'loading network policy rules failed; retrying');
      setTimeout(() => this.requestSync(), 1_000).unref?.();
      return;
    }
    this.installed = rendered;
    const t3 = performance.now();
    this.log.debug({ isolated: rules.ingress.size + rules.egress.size, ms: t3 - t0 }, 'network policy rules loaded');
    this.o.onSynced?.({ computeMs: t1 - t0, renderMs: t2 - t1, loadMs: t3 - t2, rules });
  }

  /** Stops watching; `cleanup` also removes the table (policy enforcement turned off). */
  async stop(cleanup = false): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.syncing?.catch(() => undefined);
    await this.factory.shutdown();
    if (cleanup) await removeNetworkPolicyTable(this.o.table);
  }
}

export function removeNetworkPolicyTable(table: string): Promise<string> {
  return nft(deleteTableScript(table));
}
