// Quota evaluators, as upstream pkg/quota/v1/evaluator/core and the generic object-count
// evaluator: what an object costs (its usage), which quota resource names each evaluator
// accounts for, whether a quota's scopes select an object, and the constraints a pod must meet
// when a quota limits cpu or memory. Shared by the ResourceQuota admission plugin (charging a
// request) and the resourcequota controller (recomputing status.used).
import { computeQOSClass } from '../api/core/v1/pod.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { podLimits, podRequests } from '../api/helpers/podresources.js';
import { Quantity } from '../machinery/quantity.js';
import { type ResourceList, add, count, fromObject, one } from './resources.js';

export type QuotaOperation = 'CREATE' | 'UPDATE';

export interface Evaluator {
  group: string;
  resource: string;
  /** The quota resource names (keys of spec.hard) this evaluator accounts for. */
  matchingResources(names: Iterable<string>): string[];
  /** What one object costs. */
  usage(obj: any, now?: number): ResourceList;
  /** Whether every scope requirement of the quota selects the object. */
  matchesScopes(quota: any, obj: any): boolean;
  /** An error message when the object can't be admitted under quotas limiting `required`. */
  constraints(required: string[], obj: any): string | undefined;
  handles(op: QuotaOperation): boolean;
}

/** count/<plural> for the core group, count/<plural>.<group> otherwise. */
export const objectCountName = (group: string, resource: string): string =>
  group ? `count/${resource}.${group}` : `count/${resource}`;

/** Resource names quota counted before count/* existed. */
const LEGACY_COUNT: Record<string, string> = {
  pods: 'pods',
  services: 'services',
  replicationcontrollers: 'replicationcontrollers',
  resourcequotas: 'resourcequotas',
  secrets: 'secrets',
  configmaps: 'configmaps',
  persistentvolumeclaims: 'persistentvolumeclaims',
};

// ---- scopes ------------------------------------------------------------------------------------

interface ScopeRequirement {
  scopeName: string;
  operator: string;
  values?: string[];
}

/** The quota's scopes and scopeSelector as one list of requirements. */
export function scopeRequirements(quota: any): ScopeRequirement[] {
  const out: ScopeRequirement[] = (quota?.spec?.scopes ?? []).map((s: string) => ({
    scopeName: s,
    operator: 'Exists',
  }));
  for (const e of quota?.spec?.scopeSelector?.matchExpressions ?? []) out.push(e);
  return out;
}

const isTerminating = (pod: any): boolean =>
  typeof pod?.spec?.activeDeadlineSeconds === 'number' && pod.spec.activeDeadlineSeconds >= 0;
const isBestEffort = (pod: any): boolean => computeQOSClass(pod) === 'BestEffort';

function crossNamespaceAffinity(pod: any): boolean {
  const a = pod?.spec?.affinity;
  const terms = [
    ...(a?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
    ...(a?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w: any) => w.podAffinityTerm),
    ...(a?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
    ...(a?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w: any) => w.podAffinityTerm),
  ];
  return terms.some((t: any) => t && (t.namespaceSelector || (t.namespaces ?? []).length > 0));
}

export function podMatchesScope(req: ScopeRequirement, pod: any): boolean {
  switch (req.scopeName) {
    case 'Terminating':
      return isTerminating(pod);
    case 'NotTerminating':
      return !isTerminating(pod);
    case 'BestEffort':
      return isBestEffort(pod);
    case 'NotBestEffort':
      return !isBestEffort(pod);
    case 'PriorityClass': {
      const pc: string = pod?.spec?.priorityClassName ?? '';
      switch (req.operator) {
        case 'Exists':
          return pc !== '';
        case 'DoesNotExist':
          return pc === '';
        case 'In':
          return (req.values ?? []).includes(pc);
        case 'NotIn':
          return !(req.values ?? []).includes(pc);
      }
      return false;
    }
    case 'CrossNamespacePodAffinity':
      return crossNamespaceAffinity(pod);
  }
  return false;
}

// ---- pods --------------------------------------------------------------------------------------

const POD_RESOURCES = new Set([
  'count/pods',
  'cpu',
  'memory',
  'ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.ephemeral-storage',
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
  'pods',
]);
const POD_PREFIXES = ['hugepages-', 'requests.hugepages-'];
/** Resources whose quota makes every container state them (upstream validationSet). */
const POD_VALIDATION = new Set(['cpu', 'memory', 'requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory']);

const isNativeName = (n: string): boolean => !n.includes('/') || n.includes('kubernetes.io/');
const isExtendedResource = (n: string): boolean => !isNativeName(n) && !n.startsWith('requests.');

/** upstream PodRequests/PodLimits (one implementation in api/helpers). */
export function podResources(pod: Pick<Pod, 'spec'>, which: 'requests' | 'limits'): ResourceList {
  return which === 'requests' ? podRequests(pod) : podLimits(pod);
}

function podComputeUsage(requests: ResourceList, limits: ResourceList): ResourceList {
  const out: ResourceList = new Map([['pods', one()]]);
  for (const r of ['cpu', 'memory', 'ephemeral-storage']) {
    const req = requests.get(r);
    if (req) {
      out.set(r, req);
      out.set(`requests.${r}`, req);
    }
    const lim = limits.get(r);
    if (lim) out.set(`limits.${r}`, lim);
  }
  for (const [k, v] of requests) {
    if (k.startsWith('hugepages-')) {
      out.set(k, v);
      out.set(`requests.${k}`, v);
    }
    if (isExtendedResource(k)) out.set(`requests.${k}`, v);
  }
  return out;
}

/** Whether a pod still counts against compute quota (upstream QuotaV1Pod). */
export function podCountsForQuota(pod: any, now = Date.now()): boolean {
  const phase = pod?.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  const m = pod?.metadata ?? {};
  if (m.deletionTimestamp && m.deletionGracePeriodSeconds !== undefined && m.deletionGracePeriodSeconds !== null) {
    const end = Date.parse(m.deletionTimestamp) + m.deletionGracePeriodSeconds * 1000;
    if (now > end) return false;
  }
  return true;
}

export const podEvaluator: Evaluator = {
  group: '',
  resource: 'pods',
  matchingResources(names) {
    return [...names].filter(
      (n) =>
        POD_RESOURCES.has(n) ||
        POD_PREFIXES.some((p) => n.startsWith(p)) ||
        (n.startsWith('requests.') && isExtendedResource(n.slice(9))),
    );
  },
  usage(pod, now) {
    const out: ResourceList = new Map([['count/pods', one()]]);
    if (!podCountsForQuota(pod, now)) return out;
    return add(out, podComputeUsage(podResources(pod, 'requests'), podResources(pod, 'limits')));
  },
  matchesScopes(quota, pod) {
    return scopeRequirements(quota).every((r) => podMatchesScope(r, pod));
  },
  constraints(required, pod) {
    const requiredSet = required.filter((r) => POD_VALIDATION.has(r));
    if (!requiredSet.length) return undefined;
    const missing = new Map<string, Set<string>>();
    const spec = pod?.spec ?? {};
    for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
      const have = podComputeUsage(fromObject(c.resources?.requests), fromObject(c.resources?.limits));
      for (const r of requiredSet) {
        if (have.has(r)) continue;
        if (!missing.has(r)) missing.set(r, new Set());
        missing.get(r)!.add(c.name);
      }
    }
    if (!missing.size) return undefined;
    const parts = [...missing.keys()].sort().map((r) => `${r} for: ${[...missing.get(r)!].sort().join(',')}`);
    return `must specify ${parts.join('; ')}`;
  },
  handles: (op) => op === 'CREATE',
};

// ---- services ----------------------------------------------------------------------------------

const SERVICE_RESOURCES = new Set(['count/services', 'services', 'services.nodeports', 'services.loadbalancers']);

export const serviceEvaluator: Evaluator = {
  group: '',
  resource: 'services',
  matchingResources: (names) => [...names].filter((n) => SERVICE_RESOURCES.has(n)),
  usage(svc) {
    const ports: any[] = svc?.spec?.ports ?? [];
    const out: ResourceList = new Map([
      ['count/services', one()],
      ['services', one()],
      ['services.loadbalancers', Quantity.zero()],
      ['services.nodeports', Quantity.zero()],
    ]);
    const type = svc?.spec?.type;
    if (type === 'NodePort') out.set('services.nodeports', count(ports.length));
    if (type === 'LoadBalancer') {
      const n =
        svc.spec.allocateLoadBalancerNodePorts === false ? ports.filter((p) => p.nodePort).length : ports.length;
      out.set('services.nodeports', count(n));
      out.set('services.loadbalancers', one());
    }
    return out;
  },
  matchesScopes: () => true,
  constraints: () => undefined,
  handles: (op) => op === 'CREATE' || op === 'UPDATE',
};

// ---- persistent volume claims ------------------------------------------------------------------

const PVC_RESOURCES = new Set(['count/persistentvolumeclaims', 'persistentvolumeclaims', 'requests.storage']);
const SC_SUFFIX = '.storageclass.storage.k8s.io/';

export const pvcEvaluator: Evaluator = {
  group: '',
  resource: 'persistentvolumeclaims',
  matchingResources: (names) =>
    [...names].filter(
      (n) => PVC_RESOURCES.has(n) || (n.includes(SC_SUFFIX) && /\/(persistentvolumeclaims|requests\.storage)$/.test(n)),
    ),
  usage(pvc) {
    const out: ResourceList = new Map([
      ['count/persistentvolumeclaims', one()],
      ['persistentvolumeclaims', one()],
    ]);
    const sc: string | undefined =
      pvc?.spec?.storageClassName ?? pvc?.metadata?.annotations?.['volume.beta.kubernetes.io/storage-class'];
    if (sc) out.set(`${sc}${SC_SUFFIX}persistentvolumeclaims`, one());
    let storage = fromObject(pvc?.spec?.resources?.requests).get('storage');
    const allocated = fromObject(pvc?.status?.allocatedResources).get('storage');
    if (allocated && (!storage || allocated.cmp(storage) > 0)) storage = allocated;
    if (storage) {
      out.set('requests.storage', storage);
      if (sc) out.set(`${sc}${SC_SUFFIX}requests.storage`, storage);
    }
    return out;
  },
  matchesScopes: () => true,
  constraints: () => undefined,
  handles: (op) => op === 'CREATE' || op === 'UPDATE',
};

// ---- any other resource: object counts ---------------------------------------------------------

const generic = new Map<string, Evaluator>();

export function objectCountEvaluator(group: string, resource: string): Evaluator {
  const key = `${resource}.${group}`;
  let e = generic.get(key);
  if (e) return e;
  const names = [objectCountName(group, resource)];
  if (!group && LEGACY_COUNT[resource]) names.push(LEGACY_COUNT[resource]);
  e = {
    group,
    resource,
    matchingResources: (input) => [...input].filter((n) => names.includes(n)),
    usage: () => new Map(names.map((n) => [n, one()])),
    matchesScopes: () => true,
    constraints: () => undefined,
    handles: (op) => op === 'CREATE',
  };
  generic.set(key, e);
  return e;
}

/** The evaluator for a resource. */
export function evaluatorFor(group: string, resource: string): Evaluator {
  if (!group && resource === 'pods') return podEvaluator;
  if (!group && resource === 'services') return serviceEvaluator;
  if (!group && resource === 'persistentvolumeclaims') return pvcEvaluator;
  return objectCountEvaluator(group, resource);
}

/**
 * The resources (group, plural) whose objects a quota's hard names account for: the three
 * compute evaluators, legacy count names and count/<plural>[.<group>].
 */
export function resourcesForQuota(hardNames: string[]): { group: string; resource: string }[] {
  const out = new Map<string, { group: string; resource: string }>();
  const put = (group: string, resource: string) => out.set(`${resource}.${group}`, { group, resource });
  for (const e of [podEvaluator, serviceEvaluator, pvcEvaluator])
    if (e.matchingResources(hardNames).length) put(e.group, e.resource);
  for (const n of hardNames) {
    if (LEGACY_COUNT[n]) put('', LEGACY_COUNT[n]);
    if (n.startsWith('count/')) {
      const rest = n.slice(6);
      const dot = rest.indexOf('.');
      if (dot < 0) put('', rest);
      else put(rest.slice(dot + 1), rest.slice(0, dot));
    }
  }
  return [...out.values()];
}

/** Whether the quota applies to the object at all (upstream quota.Matches). */
export function quotaMatches(e: Evaluator, quota: any, hardNames: string[], obj: any): boolean {
  return e.matchingResources(hardNames).length > 0 && e.matchesScopes(quota, obj);
}
