// A pod's resource requests and limits (upstream component-helpers/resource PodRequests and
// PodLimits) and its QoS class (qos.ComputePodQOS), with exact Quantity arithmetic. Used by the
// scheduler (fit and scoring), resource quota, and pod admission/status (QoS).
import type { Container, Pod, PodSpec, ResourceRequirements } from 'kubernetes-types/core/v1.js';
import { Quantity, parseQuantityOrNull } from '../../machinery/quantity.js';

/** Resource name → quantity. */
export type ResourceAmounts = Map<string, Quantity>;

export interface PodResourcesOptions {
  /**
   * Amounts to assume for a container that states no request for a resource (upstream
   * NonMissingContainerRequests; the scheduler's scoring uses cpu 100m, memory 200Mi).
   */
  nonMissingContainerRequests?: ReadonlyMap<string, Quantity>;
}

type PodSpecLike = Pick<Pod, 'spec'>;

function amounts(list: Record<string, unknown> | undefined): ResourceAmounts {
  const out: ResourceAmounts = new Map();
  for (const [k, v] of Object.entries(list ?? {})) {
    const q = parseQuantityOrNull(v);
    if (q) out.set(k, q);
  }
  return out;
}

function addInto(dst: ResourceAmounts, src: ResourceAmounts): void {
  for (const [k, v] of src) dst.set(k, dst.has(k) ? dst.get(k)!.add(v) : v);
}

function maxInto(dst: ResourceAmounts, src: ResourceAmounts): void {
  for (const [k, v] of src) if (!dst.has(k) || dst.get(k)!.cmp(v) < 0) dst.set(k, v);
}

const isSidecar = (c: Container): boolean => c.restartPolicy === 'Always';

/**
 * Sum of the containers and the sidecars (restartable init containers), and at least what any
 * regular init container needs together with the sidecars started before it.
 */
function aggregate(pod: PodSpecLike, of: (c: Container) => ResourceAmounts): ResourceAmounts {
  const total: ResourceAmounts = new Map();
  for (const c of pod.spec?.containers ?? []) addInto(total, of(c));
  const sidecars: ResourceAmounts = new Map();
  const initPeak: ResourceAmounts = new Map();
  for (const c of pod.spec?.initContainers ?? []) {
    const own = of(c);
    if (isSidecar(c)) {
      addInto(total, own);
      addInto(sidecars, own);
      maxInto(initPeak, sidecars);
    } else {
      const during = new Map(own);
      addInto(during, sidecars);
      maxInto(initPeak, during);
    }
  }
  maxInto(total, initPeak);
  return total;
}

/** What the pod requests, overhead included. */
export function podRequests(pod: PodSpecLike, opts: PodResourcesOptions = {}): ResourceAmounts {
  const defaults = opts.nonMissingContainerRequests;
  const total = aggregate(pod, (c) => {
    const own = amounts(c.resources?.requests);
    if (defaults) for (const [k, v] of defaults) if (!own.has(k)) own.set(k, v);
    return own;
  });
  addInto(total, amounts(pod.spec?.overhead));
  return total;
}

/** The pod's limits; overhead is added only to resources that have a limit (PodLimits). */
export function podLimits(pod: PodSpecLike): ResourceAmounts {
  const total = aggregate(pod, (c) => amounts(c.resources?.limits));
  for (const [k, v] of amounts(pod.spec?.overhead)) if (total.has(k)) total.set(k, total.get(k)!.add(v));
  return total;
}

export type QOSClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

const QOS_RESOURCES = new Set(['cpu', 'memory']);

/** spec.resources (pod-level resources, newer than the kubernetes-types release we use). */
type PodSpecWithPodLevelResources = PodSpec & { resources?: ResourceRequirements };

/** Non-zero cpu and memory amounts of a list (ComputePodQOS ignores the rest and zeros). */
function qosAmounts(list: Record<string, unknown> | undefined): ResourceAmounts {
  const out: ResourceAmounts = new Map();
  for (const [k, q] of amounts(list)) if (QOS_RESOURCES.has(k) && !q.isZero()) out.set(k, q);
  return out;
}

/**
 * ComputePodQOS: BestEffort without any cpu/memory request or limit; Guaranteed when every
 * container (init containers included) limits both and requests equal limits; else Burstable.
 * Pod-level resources decide when the pod sets them.
 */
export function podQOSClass(pod: PodSpecLike): QOSClass {
  const requests: ResourceAmounts = new Map();
  const limits: ResourceAmounts = new Map();
  let guaranteed = true;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc needs it: PodSpec lacks resources
  const podLevel = (pod.spec as PodSpecWithPodLevelResources | undefined)?.resources;
  if (podLevel && (podLevel.requests || podLevel.limits)) {
    for (const [k, v] of qosAmounts(podLevel.requests)) requests.set(k, v);
    for (const [k, v] of qosAmounts(podLevel.limits)) limits.set(k, v);
    if (!limits.has('cpu') || !limits.has('memory')) guaranteed = false;
  } else {
    for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
      addInto(requests, qosAmounts(c.resources?.requests));
      const own = qosAmounts(c.resources?.limits);
      addInto(limits, own);
      if (!own.has('cpu') || !own.has('memory')) guaranteed = false;
    }
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [k, req] of requests) {
      const lim = limits.get(k);
      if (!lim || lim.cmp(req) !== 0) return 'Burstable';
    }
    if (requests.size === limits.size) return 'Guaranteed';
  }
  return 'Burstable';
}
