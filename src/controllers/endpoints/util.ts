// Helpers shared by the Endpoints and EndpointSlice controllers (upstream
// pkg/controller/util/endpoint and pkg/api/v1/pod): which pods belong in a service's endpoints,
// target-port resolution, readiness, and the pod → services mapping.
import type { EndpointAddress, Pod, Service, ServicePort } from 'kubernetes-types/core/v1.js';
import { keyOf, type Indexer, type SharedIndexInformer } from '../../client/informer.js';
import type { Stored } from '../../client/types.js';
import { rfc3339 } from '../../machinery/time.js';

export const LAST_CHANGE_TRIGGER_TIME = 'endpoints.kubernetes.io/last-change-trigger-time';
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';

import { isPodReady } from '../../api/helpers/podready.js';

export { isPodReady };

export function isPodTerminal(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Failed' || phase === 'Succeeded';
}

export function podIPsOf(pod: Pod): string[] {
  const ips: string[] = (pod.status?.podIPs ?? []).map((x) => x?.ip).filter((ip): ip is string => !!ip);
  if (!ips.length && pod.status?.podIP) ips.push(pod.status.podIP);
  return ips;
}

/** Upstream ShouldPodBeInEndpoints. */
export function shouldPodBeInEndpoints(pod: Pod, includeTerminating: boolean): boolean {
  if (isPodTerminal(pod)) return false;
  if (!podIPsOf(pod).length) return false;
  if (!includeTerminating && pod.metadata?.deletionTimestamp) return false;
  return true;
}

export const isHeadless = (svc: Service) => svc.spec?.clusterIP === 'None';

/** The container port a service port targets on this pod (named ports resolved per pod). */
export function findPort(pod: Pod, svcPort: ServicePort): number | undefined {
  const target = svcPort.targetPort;
  const protocol = svcPort.protocol ?? 'TCP';
  if (target === undefined || target === null || target === '' || target === 0) return svcPort.port;
  if (typeof target === 'number') return target;
  const containers = [
    ...(pod.spec?.containers ?? []),
    ...(pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always'),
  ];
  for (const c of containers) {
    for (const p of c.ports ?? []) if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  }
  return undefined;
}

/** Does the service's selector select this pod? (A service without a selector selects nothing.) */
export function serviceSelects(svc: Service, pod: Pod): boolean {
  const sel = svc.spec?.selector;
  if (!sel || !Object.keys(sel).length) return false;
  if (svc.metadata?.namespace !== pod.metadata?.namespace) return false;
  const labels: Record<string, string> = pod.metadata?.labels ?? {};
  return Object.entries(sel).every(([k, v]) => labels[k] === v);
}

export function selectorString(sel: Record<string, string>): string {
  return Object.entries(sel)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** Pods of a namespace selected by the service (from the pod cache). */
export function selectedPods(pods: Indexer<Stored<Pod>>, svc: Stored<Service>): Stored<Pod>[] {
  return pods.listByNamespace(svc.metadata.namespace ?? '').filter((p) => serviceSelects(svc, p));
}

/** Keys of the services selecting a pod (in its old and new states). */
export function servicesForPod(services: Indexer<Stored<Service>>, ...pods: (Stored<Pod> | undefined)[]): Set<string> {
  const keys = new Set<string>();
  for (const pod of pods) {
    if (!pod) continue;
    for (const svc of services.listByNamespace(pod.metadata.namespace ?? '')) {
      if (serviceSelects(svc, pod)) keys.add(`${svc.metadata.namespace ?? ''}/${svc.metadata.name}`);
    }
  }
  return keys;
}

/** Does a pod change matter to endpoints? (upstream podEndpointsChanged / GetPodServiceMemberships) */
export function podChanged(oldPod: Pod, pod: Pod): { labelsChanged: boolean; changed: boolean } {
  const labelsChanged = JSON.stringify(oldPod.metadata?.labels ?? {}) !== JSON.stringify(pod.metadata?.labels ?? {});
  const relevant = (p: Pod) =>
    JSON.stringify([
      podIPsOf(p),
      isPodReady(p),
      p.metadata?.deletionTimestamp ?? null,
      p.status?.phase,
      p.spec?.nodeName,
      p.spec?.hostname,
      p.spec?.subdomain,
      (p.spec?.containers ?? []).map((c) => c.ports ?? []),
    ]);
  return { labelsChanged, changed: labelsChanged || relevant(oldPod) !== relevant(pod) };
}

/**
 * The time of the last pod or service change that triggered a sync of a service, as upstream's
 * TriggerTimeTracker reports it in the last-change-trigger-time annotation.
 */
export class TriggerTimes {
  private readonly times = new Map<string, string>();
  observe(key: string, at = rfc3339()): void {
    const prev = this.times.get(key);
    if (!prev || prev < at) this.times.set(key, at);
  }
  take(key: string): string | undefined {
    const t = this.times.get(key);
    this.times.delete(key);
    return t;
  }
  peek(key: string): string | undefined {
    return this.times.get(key);
  }
  forget(key: string): void {
    this.times.delete(key);
  }
}

/**
 * What both endpoint controllers react to: a Service changing (sync it) and a pod changing in a
 * way that matters to the Services selecting it (its labels, readiness, IPs, deletion). Each
 * such change is stamped in `triggers` for the last-change-trigger-time annotation.
 */
export function watchServicesAndPods(
  services: SharedIndexInformer<Service>,
  pods: SharedIndexInformer<Pod>,
  triggers: TriggerTimes,
  enqueue: (key: string) => void,
): void {
  const touch = (key: string) => {
    triggers.observe(key);
    enqueue(key);
  };
  const enqueueSvc = (svc: Stored<Service>) => touch(keyOf(svc));
  services.addEventHandler({ add: enqueueSvc, update: (_o, n) => enqueueSvc(n), delete: enqueueSvc });
  const onPod = (oldPod: Stored<Pod> | undefined, pod: Stored<Pod>) => {
    for (const key of servicesForPod(services.indexer, oldPod, pod)) touch(key);
  };
  pods.addEventHandler({
    add: (pod) => onPod(undefined, pod),
    update: (oldPod, pod) => {
      if (oldPod.metadata?.resourceVersion === pod.metadata?.resourceVersion) return;
      const { labelsChanged, changed } = podChanged(oldPod, pod);
      if (changed) onPod(labelsChanged ? oldPod : undefined, pod);
    },
    delete: (pod) => onPod(undefined, pod),
  });
}

/** The endpoint address upstream builds for a pod (ip, nodeName, targetRef, hostname). */
export function endpointAddress(pod: Pod, svc: Service, ip: string): EndpointAddress {
  const epa: EndpointAddress = { ip };
  if (pod.spec?.nodeName) epa.nodeName = pod.spec.nodeName;
  const meta = pod.metadata ?? {};
  epa.targetRef = { kind: 'Pod', namespace: meta.namespace, name: meta.name, uid: meta.uid };
  if (pod.spec?.hostname && pod.spec?.subdomain === svc.metadata?.name && svc.metadata?.namespace === meta.namespace)
    epa.hostname = pod.spec.hostname;
  return epa;
}
