// The EndpointSlice controller (upstream pkg/controller/endpointslice and
// staging/src/k8s.io/endpointslice): for every Service with a selector, EndpointSlices labelled
// kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by, owned by the Service,
// holding at most 100 endpoints each, one group of slices per port set, with the
// ready/serving/terminating conditions. Existing slices are kept and updated in place where
// possible (endpoints that did not change stay where they are); a Service with no endpoints
// gets one empty placeholder slice, as upstream.
import type { Node, Pod, Service } from 'kubernetes-types/core/v1.js';
import type { Endpoint, EndpointPort, EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { isNotFound } from '../../client/errors.js';
import { splitKey, type SharedIndexInformer } from '../../client/informer.js';
import type { Stored } from '../../client/types.js';
import type { Controller, ControllerContext } from '../types.js';
import {
  HEADLESS_LABEL,
  LAST_CHANGE_TRIGGER_TIME,
  TriggerTimes,
  findPort,
  isHeadless,
  isPodReady,
  podIPsOf,
  selectedPods,
  shouldPodBeInEndpoints,
  watchServicesAndPods,
} from './util.js';
import { compareStrings, byKey } from '../../machinery/order.js';

export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
export const CONTROLLER_NAME = 'endpointslice-controller.k8s.io';
export const DEFAULT_MAX_ENDPOINTS_PER_SLICE = 100;

export const ENDPOINTSLICES = R.endpointslices;

const SERVICE_INDEX = 'service';

/** A slice this controller wrote (null: deleted) and the resourceVersion the write produced. */
interface OwnWrite {
  obj: Stored<EndpointSlice> | null;
  rv: number;
}

const portKey = (p: EndpointPort) => `${p.name ?? ''}|${p.port}|${p.protocol ?? 'TCP'}|${p.appProtocol ?? ''}`;
const portsKey = (ports: EndpointPort[]) => ports.map(portKey).sort().join(',');
const endpointKey = (e: Endpoint) => e.targetRef?.uid ?? e.addresses?.[0] ?? '';

export interface DesiredEndpoint {
  endpoint: Endpoint;
  ports: EndpointPort[];
}

/** Upstream podToEndpoint plus the ports this pod serves. */
export function desiredEndpoints(
  svc: Service,
  pods: Pod[],
  nodeZone?: (node: string) => string | undefined,
): DesiredEndpoint[] {
  const out: DesiredEndpoint[] = [];
  const publish = !!svc.spec?.publishNotReadyAddresses;
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, true)) continue;
    const ip = podIPsOf(pod).find((x) => !x.includes(':'));
    if (!ip) continue;
    const serving = isPodReady(pod);
    const terminating = !!pod.metadata?.deletionTimestamp;
    let ready = publish || serving;
    if (terminating && !publish) ready = false;
    const endpoint: Endpoint = { addresses: [ip], conditions: { ready, serving, terminating } };
    const meta = pod.metadata ?? {};
    if (pod.spec?.hostname && pod.spec?.subdomain === svc.metadata?.name && meta.namespace === svc.metadata?.namespace)
      endpoint.hostname = pod.spec.hostname;
    endpoint.targetRef = { kind: 'Pod', namespace: meta.namespace, name: meta.name, uid: meta.uid };
    if (pod.spec?.nodeName) {
      endpoint.nodeName = pod.spec.nodeName;
      const zone = nodeZone?.(pod.spec.nodeName);
      if (zone) endpoint.zone = zone;
    }
    const ports: EndpointPort[] = [];
    for (const sp of svc.spec?.ports ?? []) {
      const port = findPort(pod, sp);
      if (port === undefined) continue;
      const p: EndpointPort = { name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP' };
      if (sp.appProtocol) p.appProtocol = sp.appProtocol;
      ports.push(p);
    }
    out.push({ endpoint, ports });
  }
  return out;
}

/** `S`: the existing slices' type (stored ones in the controller); updates and deletes come from them. */
export interface SlicePlan<S extends EndpointSlice = EndpointSlice> {
  create: EndpointSlice[];
  update: S[];
  delete: S[];
}

/**
 * Reconcile a service's slices against the desired endpoints: keep endpoints in the slice they
 * are in, fill slices with room before creating new ones, delete slices left empty (keeping one
 * empty placeholder when there are no endpoints at all).
 */
export function planSlices<S extends EndpointSlice>(
  svc: Service,
  desired: DesiredEndpoint[],
  existing: S[],
  maxPerSlice = DEFAULT_MAX_ENDPOINTS_PER_SLICE,
): SlicePlan<S> {
  const plan: SlicePlan<S> = { create: [], update: [], delete: [] };
  const groups = new Map<string, { ports: EndpointPort[]; endpoints: Map<string, Endpoint> }>();
  for (const d of desired) {
    const k = portsKey(d.ports);
    let g = groups.get(k);
    if (!g)
      groups.set(
        k,
        (g = { ports: [...d.ports].sort((a, b) => compareStrings(portKey(a), portKey(b))), endpoints: new Map() }),
      );
    g.endpoints.set(endpointKey(d.endpoint), d.endpoint);
  }
  const byGroup = new Map<string, S[]>();
  const placeholders: S[] = [];
  for (const s of existing) {
    if (s.addressType !== 'IPv4') {
      plan.delete.push(s);
      continue;
    }
    if (!(s.endpoints ?? []).length && !(s.ports ?? []).length) {
      placeholders.push(s);
      continue;
    }
    const k = portsKey(s.ports ?? []);
    if (!groups.has(k)) {
      plan.delete.push(s);
      continue;
    }
    let list = byGroup.get(k);
    if (!list) byGroup.set(k, (list = []));
    list.push(s);
  }
  const meta = sliceMeta(svc);
  for (const [k, g] of groups) {
    const remaining = new Map(g.endpoints);
    const slices = byGroup.get(k) ?? [];
    const kept: { slice: S; endpoints: Endpoint[]; changed: boolean }[] = [];
    for (const s of slices) {
      const eps: Endpoint[] = [];
      let changed = false;
      for (const e of s.endpoints ?? []) {
        const key = endpointKey(e);
        const want = remaining.get(key);
        if (!want || eps.length >= maxPerSlice) {
          changed = true;
          continue;
        }
        remaining.delete(key);
        if (JSON.stringify(want) !== JSON.stringify(e)) changed = true;
        eps.push(want);
      }
      kept.push({ slice: s, endpoints: eps, changed });
    }
    // Fill slices with room (the fullest first, as upstream packs them), then create new ones.
    kept.sort((a, b) => b.endpoints.length - a.endpoints.length);
    for (const k2 of kept) {
      while (remaining.size && k2.endpoints.length < maxPerSlice) {
        const [key, e] = remaining.entries().next().value!;
        remaining.delete(key);
        k2.endpoints.push(e);
        k2.changed = true;
      }
    }
    for (const k2 of kept) {
      if (!k2.endpoints.length) plan.delete.push(k2.slice);
      else if (k2.changed || labelsDiffer(k2.slice, meta.labels))
        plan.update.push({
          ...k2.slice,
          metadata: { ...k2.slice.metadata, labels: meta.labels },
          endpoints: k2.endpoints,
          ports: g.ports,
        });
    }
    const rest = [...remaining.values()];
    for (let i = 0; i < rest.length; i += maxPerSlice)
      plan.create.push(newSlice(svc, g.ports, rest.slice(i, i + maxPerSlice)));
  }
  const hasEndpoints = groups.size > 0;
  if (hasEndpoints) plan.delete.push(...placeholders);
  else {
    // No endpoints: exactly one placeholder.
    const [keep, ...extra] = placeholders;
    plan.delete.push(...extra);
    if (!keep) plan.create.push(newSlice(svc, [], []));
    else if (labelsDiffer(keep, meta.labels))
      plan.update.push({ ...keep, metadata: { ...keep.metadata, labels: meta.labels } });
  }
  return plan;
}

function labelsDiffer(slice: EndpointSlice, labels: Record<string, string>): boolean {
  return JSON.stringify(sorted(slice.metadata?.labels ?? {})) !== JSON.stringify(sorted(labels));
}

const sorted = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).sort(byKey));

function sliceMeta(svc: Service): { labels: Record<string, string> } {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(svc.metadata?.labels ?? {})) {
    if (k === LABEL_SERVICE_NAME || k === LABEL_MANAGED_BY) continue;
    labels[k] = v;
  }
  if (isHeadless(svc)) labels[HEADLESS_LABEL] = '';
  else delete labels[HEADLESS_LABEL];
  labels[LABEL_SERVICE_NAME] = svc.metadata?.name ?? '';
  labels[LABEL_MANAGED_BY] = CONTROLLER_NAME;
  return { labels };
}

function newSlice(svc: Service, ports: EndpointPort[], endpoints: Endpoint[]): EndpointSlice {
  const name = svc.metadata?.name ?? '';
  const prefix = name.length > 57 ? name.slice(0, 57) : name;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      generateName: `${prefix}-`,
      namespace: svc.metadata?.namespace,
      labels: sliceMeta(svc).labels,
      ownerReferences: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          name,
          uid: svc.metadata?.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    addressType: 'IPv4',
    endpoints,
    ports,
  };
}

export class EndpointSliceController implements Controller {
  readonly name = 'endpointslice';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly services: SharedIndexInformer<Service>;
  private readonly pods: SharedIndexInformer<Pod>;
  private readonly slices: SharedIndexInformer<EndpointSlice>;
  private readonly nodes: SharedIndexInformer<Node>;
  private readonly runner: ControllerRunner;
  private readonly triggers = new TriggerTimes();
  private readonly maxPerSlice: number;
  /** Our own recent writes, by service key and slice name (null: deleted), until the cache has them. */
  private readonly written = new Map<string, Map<string, OwnWrite>>();

  constructor(ctx: ControllerContext, opts: { workers?: number; maxEndpointsPerSlice?: number } = {}) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'endpointslice' });
    this.maxPerSlice = opts.maxEndpointsPerSlice ?? DEFAULT_MAX_ENDPOINTS_PER_SLICE;
    this.services = ctx.informers.forResource(R.services);
    this.pods = ctx.informers.forResource(R.pods);
    this.nodes = ctx.informers.forResource(R.nodes);
    this.slices = ctx.informers.forResource(ENDPOINTSLICES);
    try {
      this.slices.addIndexers({
        [SERVICE_INDEX]: (s: EndpointSlice) => {
          const l = s.metadata?.labels ?? {};
          return l[LABEL_MANAGED_BY] === CONTROLLER_NAME && l[LABEL_SERVICE_NAME]
            ? [`${s.metadata?.namespace}/${l[LABEL_SERVICE_NAME]}`]
            : [];
        },
      });
    } catch {
      // Another instance registered it on the shared informer already.
    }
    this.runner = new ControllerRunner({
      name: 'endpointslice',
      workers: opts.workers ?? 5,
      reconcile: (key) => this.syncService(key),
      logger: this.log,
    });
    watchServicesAndPods(this.services, this.pods, this.triggers, (key) => this.runner.enqueue(key));
    const onSlice = (s: Stored<EndpointSlice>) => {
      const l = s.metadata?.labels ?? {};
      if (l[LABEL_MANAGED_BY] === CONTROLLER_NAME && l[LABEL_SERVICE_NAME])
        this.runner.enqueue(`${s.metadata.namespace}/${l[LABEL_SERVICE_NAME]}`);
    };
    this.slices.addEventHandler({ update: (_o, n) => onSlice(n), delete: onSlice });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  private remember(
    key: string,
    obj: Stored<EndpointSlice> | null,
    name = obj?.metadata?.name ?? '',
    rv = Number(obj?.metadata?.resourceVersion ?? 0),
  ): void {
    let m = this.written.get(key);
    if (!m) this.written.set(key, (m = new Map<string, OwnWrite>()));
    m.set(name, { obj, rv });
  }

  /** The cached slices, corrected by writes the cache has not caught up with yet. */
  private withOwnWrites(key: string, cached: Stored<EndpointSlice>[]): Stored<EndpointSlice>[] {
    const m = this.written.get(key);
    if (!m) return cached;
    const byName = new Map(cached.map((s) => [s.metadata.name, s]));
    for (const [name, w] of m) {
      const c = byName.get(name);
      if (w.obj === null) {
        if (c && Number(c.metadata.resourceVersion) <= w.rv) byName.delete(name);
        else m.delete(name);
      } else if (c && Number(c.metadata.resourceVersion) >= w.rv) {
        m.delete(name);
      } else {
        byName.set(name, w.obj);
      }
    }
    if (!m.size) this.written.delete(key);
    return [...byName.values()];
  }

  async syncService(key: string): Promise<void> {
    const { namespace } = splitKey(key);
    const svc = this.services.indexer.get(key);
    // A deleted service's slices go with it through the garbage collector (ownerReferences).
    if (!svc || svc.metadata?.deletionTimestamp) {
      this.triggers.forget(key);
      this.written.delete(key);
      return;
    }
    if (!svc.spec?.selector || !Object.keys(svc.spec.selector).length) return;
    const pods = selectedPods(this.pods.indexer, svc);
    const desired = desiredEndpoints(
      svc,
      pods,
      (node) => this.nodes.indexer.get(node)?.metadata?.labels?.['topology.kubernetes.io/zone'],
    );
    const existing = this.withOwnWrites(key, this.slices.indexer.byIndex(SERVICE_INDEX, key)).filter((s) => {
      const owner = (s.metadata?.ownerReferences ?? []).find((o) => o.controller);
      return !owner || owner.uid === svc.metadata.uid;
    });
    const plan = planSlices(svc, desired, existing, this.maxPerSlice);
    if (!plan.create.length && !plan.update.length && !plan.delete.length) {
      this.triggers.take(key);
      return;
    }
    const trigger = this.triggers.take(key);
    const annotate = (s: EndpointSlice) => {
      const annotations = { ...(s.metadata?.annotations ?? {}) };
      if (trigger) annotations[LAST_CHANGE_TRIGGER_TIME] = trigger;
      else delete annotations[LAST_CHANGE_TRIGGER_TIME];
      const metadata: ObjectMeta = { ...s.metadata, annotations };
      if (!Object.keys(annotations).length) delete metadata.annotations;
      s.metadata = metadata;
      return s;
    };
    const rc = this.client.resource(ENDPOINTSLICES).namespace(namespace);
    try {
      // Create before delete, so readers never see fewer endpoints than there are.
      for (const s of plan.create) this.remember(key, await rc.create(annotate(s)));
      for (const s of plan.update) this.remember(key, await rc.update(annotate(s)));
      for (const s of plan.delete) {
        try {
          await rc.delete(s.metadata.name, { preconditions: { uid: s.metadata.uid } });
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        this.remember(key, null, s.metadata.name, Number(s.metadata.resourceVersion));
      }
    } catch (err) {
      if (trigger) this.triggers.observe(key, trigger);
      this.written.delete(key);
      throw err;
    }
    this.log.debug(
      { service: key, created: plan.create.length, updated: plan.update.length, deleted: plan.delete.length },
      'endpointslices reconciled',
    );
  }
}
