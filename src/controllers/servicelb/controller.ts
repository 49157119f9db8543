// LoadBalancer Services on bare metal, in the manner of k3s' ServiceLB: there is no cloud load
// balancer, so a LoadBalancer Service's ingress is the nodes themselves. This controller writes
// status.loadBalancer.ingress (the ExternalIPs of Ready nodes, else their InternalIPs) and the
// service proxy of every node answers the Service's ports on those addresses. Like upstream's
// cloud service controller it guards the status with the finalizer
// service.kubernetes.io/load-balancer-cleanup, records EnsuringLoadBalancer/EnsuredLoadBalancer
// (and DeletingLoadBalancer/DeletedLoadBalancer), and leaves Services of another
// spec.loadBalancerClass to that class's controller.
// With --lb-address-pool the ingress is instead one address of the pool per Service (MetalLB's
// layer-2 mode, pool.ts); a node agent elected per Service announces it (agent/network/lbannounce.ts).
import type { Logger } from 'pino';
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import { R, spec, type Client } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { EventRecorder } from '../../client/events.js';
import { isNotFound } from '../../client/errors.js';
import { keyOf, splitKey, type SharedIndexInformer } from '../../client/informer.js';
import type { Controller, ControllerContext } from '../types.js';
import { AddressPool, requestedAddress } from './pool.js';
import { wantsLoadBalancer } from '../../api/helpers/loadbalancer.js';

/** Upstream's finalizer on Services that have (had) a load balancer. */
export const LB_CLEANUP_FINALIZER = 'service.kubernetes.io/load-balancer-cleanup';

const SERVICES = spec<Service>(R.services);
const NODES = spec<Node>(R.nodes);

/** The ingress addresses: per Ready node its ExternalIPs, or its InternalIPs if it has none; sorted. */
export function nodeIngressAddresses(nodes: Node[]): string[] {
  const ips = new Set<string>();
  for (const n of nodes) {
    if (n.metadata?.deletionTimestamp || n.spec?.unschedulable) continue;
    if (n.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') continue;
    const addrs = n.status?.addresses ?? [];
    const external = addrs.filter((a) => a.type === 'ExternalIP');
    for (const a of external.length ? external : addrs.filter((a) => a.type === 'InternalIP'))
      if (/^\d+\.\d+\.\d+\.\d+$/.test(a.address)) ips.add(a.address);
  }
  return [...ips].sort();
}

export class ServiceLBController implements Controller {
  readonly name = 'servicelb';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly services: SharedIndexInformer<Service>;
  private readonly nodes: SharedIndexInformer<Node>;
  private readonly runner: ControllerRunner;
  private readonly recorder: EventRecorder;
  /** --lb-address-pool: addresses come from here instead of the nodes. */
  private readonly pool?: AddressPool;

  constructor(ctx: ControllerContext) {
    const pools = ctx.options?.lbAddressPools;
    if (pools?.length) this.pool = new AddressPool(pools);
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'servicelb' });
    this.recorder = new EventRecorder(ctx.client, { component: 'service-controller' }, this.log);
    this.services = ctx.informers.forResource(SERVICES);
    this.nodes = ctx.informers.forResource(NODES);
    this.runner = new ControllerRunner({
      name: 'servicelb',
      workers: 1,
      reconcile: (key) => this.sync(key),
      logger: this.log,
    });
    const enqueue = (s?: Service) => s && this.runner.enqueue(keyOf(s));
    this.services.addEventHandler({ add: enqueue, update: (_o, n) => enqueue(n), delete: enqueue });
    // Any node change may change every LoadBalancer's addresses (upstream: "UpdatedLoadBalancer").
    const allLBs = () => {
      for (const s of this.services.store.list())
        if (s.spec?.type === 'LoadBalancer' || s.metadata?.finalizers?.includes(LB_CLEANUP_FINALIZER)) enqueue(s);
    };
    this.nodes.addEventHandler({
      add: allLBs,
      update: (o, n) =>
        JSON.stringify(o?.status?.addresses) + readiness(o) !== JSON.stringify(n?.status?.addresses) + readiness(n) &&
        allLBs(),
      delete: allLBs,
    });
  }

  start(): void {
    if (this.pool) this.restorePool();
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  /** The pool's allocations are the stored Services' status (informers are synced before start); older Services win a clash. */
  private restorePool(): void {
    const age = (s: Service) => s.metadata?.creationTimestamp ?? '';
    const services = this.services.store.list().filter(wantsLoadBalancer);
    for (const s of services.sort((a, b) => age(a).localeCompare(age(b)) || keyOf(a).localeCompare(keyOf(b))))
      for (const i of s.status?.loadBalancer?.ingress ?? []) if (i.ip && this.pool?.restore(keyOf(s), i.ip)) break;
  }

  /** Frees the Service's pool address; Services waiting for one get another chance. */
  private releaseAddress(key: string): void {
    if (!this.pool?.release(key)) return;
    for (const s of this.services.store.list())
      if (wantsLoadBalancer(s) && !this.pool.addressOf(keyOf(s))) this.runner.enqueue(keyOf(s));
  }

  private async sync(key: string): Promise<void> {
    const svc = this.services.store.get(key);
    if (!svc) return this.releaseAddress(key);
    const { namespace } = splitKey(key);
    const client = this.client.resource(SERVICES).namespace(namespace);
    const hasFinalizer = svc.metadata?.finalizers?.includes(LB_CLEANUP_FINALIZER) ?? false;
    if (!wantsLoadBalancer(svc)) {
      this.releaseAddress(key);
      // No longer ours (type changed, deleted, or another class): clear what we wrote.
      if (!hasFinalizer) return;
      this.recorder.event(svc, 'Normal', 'DeletingLoadBalancer', 'Deleting load balancer');
      try {
        if (svc.status?.loadBalancer?.ingress?.length)
          await client.patch(
            svc.metadata.name,
            'merge',
            { status: { loadBalancer: { ingress: null } } },
            { subresource: 'status' },
          );
        const finalizers = (svc.metadata?.finalizers ?? []).filter((f) => f !== LB_CLEANUP_FINALIZER);
        await client.patch(svc.metadata.name, 'merge', {
          metadata: { finalizers, resourceVersion: svc.metadata?.resourceVersion },
        });
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      this.recorder.event(svc, 'Normal', 'DeletedLoadBalancer', 'Deleted load balancer');
      return;
    }
    const current = svc.status?.loadBalancer?.ingress ?? [];
    let ips: string[];
    if (this.pool) {
      const got = this.pool.allocate(key, requestedAddress(svc));
      if ('error' in got) {
        // As MetalLB: no address, the status says so (none), an event says why.
        this.recorder.event(svc, 'Warning', 'AllocationFailed', got.error);
        if (current.length)
          await client
            .patch(
              svc.metadata.name,
              'merge',
              { status: { loadBalancer: { ingress: null } } },
              { subresource: 'status' },
            )
            .catch((err) => {
              if (!isNotFound(err)) throw err;
            });
        return;
      }
      ips = [got.ip];
    } else ips = nodeIngressAddresses(this.nodes.store.list());
    const ingress = ips.map((ip) => ({ ip, ipMode: 'VIP' as const }));
    if (hasFinalizer && JSON.stringify(current.map((i) => i.ip)) === JSON.stringify(ingress.map((i) => i.ip))) return;
    this.recorder.event(svc, 'Normal', 'EnsuringLoadBalancer', 'Ensuring load balancer');
    try {
      if (!hasFinalizer) {
        const finalizers = [...(svc.metadata?.finalizers ?? []), LB_CLEANUP_FINALIZER];
        await client.patch(svc.metadata.name, 'merge', {
          metadata: { finalizers, resourceVersion: svc.metadata?.resourceVersion },
        });
      }
      await client.patch(
        svc.metadata.name,
        'merge',
        { status: { loadBalancer: { ingress } } },
        { subresource: 'status' },
      );
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    this.log.debug({ service: key, ingress: ingress.map((i) => i.ip) }, 'ensured load balancer');
    this.recorder.event(svc, 'Normal', 'EnsuredLoadBalancer', 'Ensured load balancer');
  }
}

const readiness = (n?: Node) => n?.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? '';
