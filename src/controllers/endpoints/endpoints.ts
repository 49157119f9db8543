// The Endpoints controller (upstream pkg/controller/endpoint): for every Service with a selector,
// an Endpoints object of the same name listing the selected pods — ready ones in `addresses`,
// the others in `notReadyAddresses` (all of them ready with publishNotReadyAddresses) — with
// ports resolved per pod (named targetPorts), grouped into subsets by port set. Services without
// a selector are left to their users; the Endpoints of a deleted Service are deleted.
import type {
  EndpointAddress,
  EndpointPort,
  EndpointSubset,
  Endpoints,
  Pod,
  Service,
  ServicePort,
} from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../client/errors.js';
import { keyOf, splitKey, type SharedIndexInformer } from '../../client/informer.js';
import type { Stored } from '../../client/types.js';
import type { Controller, ControllerContext } from '../types.js';
import {
  HEADLESS_LABEL,
  LAST_CHANGE_TRIGGER_TIME,
  TriggerTimes,
  endpointAddress,
  findPort,
  isHeadless,
  isPodReady,
  podIPsOf,
  selectedPods,
  shouldPodBeInEndpoints,
  watchServicesAndPods,
} from './util.js';
import { compareStrings } from '../../machinery/order.js';

/** Upstream truncates Endpoints at 1000 addresses and says so in an annotation. */
export const MAX_CAPACITY = 1000;
export const OVER_CAPACITY = 'endpoints.kubernetes.io/over-capacity';

const addrKey = (a: EndpointAddress) => `${a.ip}|${a.targetRef?.uid ?? ''}`;
const portKey = (p: EndpointPort) => `${p.name ?? ''}|${p.port}|${p.protocol ?? 'TCP'}|${p.appProtocol ?? ''}`;

/**
 * Upstream RepackSubsets: ports offered by exactly the same set of addresses (with the same
 * readiness) share a subset; an address both ready and not ready for a port counts as ready;
 * addresses, ports and subsets are sorted so that equal content compares equal.
 */
/** One address of a pod with the ports it offers for one service port (or none, headless). */
export interface SubsetEntry {
  address: EndpointAddress;
  ready: boolean;
  ports: EndpointPort[];
}

export function repackSubsets(entries: SubsetEntry[]): EndpointSubset[] {
  const addrs = new Map<string, EndpointAddress>();
  // port key → (address key → ready)
  const portToAddrs = new Map<string, { port: EndpointPort | undefined; addrs: Map<string, boolean> }>();
  for (const e of entries) {
    const ak = addrKey(e.address);
    addrs.set(ak, e.address);
    const ports: (EndpointPort | undefined)[] = e.ports.length ? e.ports : [undefined];
    for (const p of ports) {
      const pk = p ? portKey(p) : '';
      let slot = portToAddrs.get(pk);
      if (!slot) portToAddrs.set(pk, (slot = { port: p, addrs: new Map() }));
      slot.addrs.set(ak, (slot.addrs.get(ak) ?? false) || e.ready);
    }
  }
  const bySet = new Map<string, { addrs: Map<string, boolean>; ports: EndpointPort[] }>();
  for (const { port, addrs: set } of portToAddrs.values()) {
    const k = [...set.entries()]
      .map(([a, r]) => `${a}=${r}`)
      .sort()
      .join(',');
    let g = bySet.get(k);
    if (!g) bySet.set(k, (g = { addrs: set, ports: [] }));
    if (port) g.ports.push(port);
  }
  const cmpAddr = (a: EndpointAddress, b: EndpointAddress) =>
    compareStrings(`${a.ip}|${a.targetRef?.uid ?? ''}`, `${b.ip}|${b.targetRef?.uid ?? ''}`);
  const subsets = [...bySet.values()].map((g) => {
    const out: EndpointSubset = {};
    const ready = [...g.addrs]
      .filter(([, r]) => r)
      .map(([a]) => addrs.get(a)!)
      .sort(cmpAddr);
    const notReady = [...g.addrs]
      .filter(([, r]) => !r)
      .map(([a]) => addrs.get(a)!)
      .sort(cmpAddr);
    if (ready.length) out.addresses = ready;
    if (notReady.length) out.notReadyAddresses = notReady;
    if (g.ports.length) out.ports = g.ports.sort((a, b) => compareStrings(portKey(a), portKey(b)));
    return out;
  });
  return subsets.sort((a, b) => compareStrings(JSON.stringify(a), JSON.stringify(b)));
}

/** The subsets a service's endpoints should have, given its pods. */
export function computeSubsets(
  svc: Service,
  pods: Pod[],
): { subsets: EndpointSubset[]; ready: number; notReady: number } {
  const tolerateUnready = !!svc.spec?.publishNotReadyAddresses;
  const entries: SubsetEntry[] = [];
  let ready = 0;
  let notReady = 0;
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, tolerateUnready)) continue;
    const ip = podIPsOf(pod)[0];
    const epa = endpointAddress(pod, svc, ip);
    const isReady = tolerateUnready || isPodReady(pod);
    const svcPorts: ServicePort[] = svc.spec?.ports ?? [];
    if (isHeadless(svc) && !svcPorts.length) {
      entries.push({ address: epa, ready: isReady, ports: [] });
      if (isReady) ready++;
      else notReady++;
      continue;
    }
    for (const sp of svcPorts) {
      const port = findPort(pod, sp);
      if (port === undefined) continue;
      const epp: EndpointPort = { port, protocol: sp.protocol ?? 'TCP' };
      if (sp.name) epp.name = sp.name;
      if (sp.appProtocol) epp.appProtocol = sp.appProtocol;
      entries.push({ address: epa, ready: isReady, ports: [epp] });
    }
    if (isReady) ready++;
    else notReady++;
  }
  return { subsets: repackSubsets(entries), ready, notReady };
}

/** Keep at most MAX_CAPACITY addresses (ready ones first), as upstream. */
function truncate(subsets: EndpointSubset[]): { subsets: EndpointSubset[]; truncated: boolean } {
  let total = 0;
  for (const s of subsets) total += (s.addresses?.length ?? 0) + (s.notReadyAddresses?.length ?? 0);
  if (total <= MAX_CAPACITY) return { subsets, truncated: false };
  let budget = MAX_CAPACITY;
  const out = subsets.map((s) => ({ ...s }));
  for (const field of ['addresses', 'notReadyAddresses'] as const) {
    for (const s of out) {
      const list: EndpointAddress[] = s[field] ?? [];
      const keep = list.slice(0, Math.max(0, budget));
      budget -= keep.length;
      if (keep.length) s[field] = keep;
      else delete s[field];
    }
  }
  return { subsets: out.filter((s) => s.addresses || s.notReadyAddresses), truncated: true };
}

export class EndpointsController implements Controller {
  readonly name = 'endpoint';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly services: SharedIndexInformer<Service>;
  private readonly pods: SharedIndexInformer<Pod>;
  private readonly endpoints: SharedIndexInformer<Endpoints>;
  private readonly runner: ControllerRunner;
  private readonly triggers = new TriggerTimes();

  constructor(ctx: ControllerContext, opts: { workers?: number } = {}) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'endpoint' });
    this.services = ctx.informers.forResource(R.services);
    this.pods = ctx.informers.forResource(R.pods);
    this.endpoints = ctx.informers.forResource(R.endpoints);
    this.runner = new ControllerRunner({
      name: 'endpoint',
      workers: opts.workers ?? 5,
      reconcile: (key) => this.syncService(key),
      logger: this.log,
    });
    watchServicesAndPods(this.services, this.pods, this.triggers, (key) => this.runner.enqueue(key));
    // Someone changed or deleted an Endpoints object we manage: put it right.
    const onEndpoints = (ep: Stored<Endpoints>) => {
      if (this.services.indexer.get(keyOf(ep))?.spec?.selector) this.runner.enqueue(keyOf(ep));
    };
    this.endpoints.addEventHandler({ update: (_o, n) => onEndpoints(n), delete: onEndpoints });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  async syncService(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const epClient = this.client.resource(R.endpoints).namespace(namespace);
    const svc = this.services.indexer.get(key);
    if (!svc) {
      this.triggers.forget(key);
      // The service is gone: so are its endpoints (the kubernetes service is never deleted).
      try {
        await epClient.delete(name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      return;
    }
    if (!svc.spec?.selector || !Object.keys(svc.spec.selector).length) return; // user-managed
    if (svc.metadata?.deletionTimestamp) return;

    const pods = selectedPods(this.pods.indexer, svc);
    const computed = computeSubsets(svc, pods);
    const { subsets, truncated } = truncate(computed.subsets);

    const current = this.endpoints.indexer.get(key);
    const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}) };
    if (isHeadless(svc)) labels[HEADLESS_LABEL] = '';
    else delete labels[HEADLESS_LABEL];

    const currentAnnotations = { ...(current?.metadata?.annotations ?? {}) };
    const sameSubsets = current && JSON.stringify(current.subsets ?? []) === JSON.stringify(subsets);
    const sameLabels = current && JSON.stringify(current.metadata?.labels ?? {}) === JSON.stringify(labels);
    const sameCapacity = current && (currentAnnotations[OVER_CAPACITY] === 'truncated') === truncated;
    if (current && sameSubsets && sameLabels && sameCapacity) {
      this.triggers.take(key);
      return;
    }
    const annotations: Record<string, string> = { ...currentAnnotations };
    const trigger = this.triggers.take(key);
    if (trigger) annotations[LAST_CHANGE_TRIGGER_TIME] = trigger;
    else delete annotations[LAST_CHANGE_TRIGGER_TIME];
    if (truncated) annotations[OVER_CAPACITY] = 'truncated';
    else delete annotations[OVER_CAPACITY];

    const body: Endpoints = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: {
        name,
        namespace,
        ...(Object.keys(labels).length ? { labels } : {}),
        ...(Object.keys(annotations).length ? { annotations } : {}),
      },
      subsets,
    };
    try {
      if (!current) {
        await epClient.create(body);
      } else {
        const metadata: ObjectMeta = { ...current.metadata, labels, annotations };
        if (!Object.keys(labels).length) delete metadata.labels;
        if (!Object.keys(annotations).length) delete metadata.annotations;
        body.metadata = metadata;
        await epClient.update(body);
      }
      this.log.debug({ service: key, ready: computed.ready, notReady: computed.notReady }, 'endpoints updated');
    } catch (err) {
      if (trigger) this.triggers.observe(key, trigger);
      // The cache was behind: try again once it caught up.
      if (isAlreadyExists(err) || isConflict(err)) throw err;
      if (isNotFound(err)) throw err; // namespace terminating or object gone: retried with backoff
      throw err;
    }
  }
}
