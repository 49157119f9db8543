// LimitRanger (upstream plugin/pkg/admission/limitranger): on pod creation, containers without
// requests/limits get the defaults of the namespace's LimitRanges (Container items' defaultRequest
// and default), recorded in the kubernetes.io/limit-ranger annotation; then pods, containers and
// PersistentVolumeClaims are checked against min, max and maxLimitRequestRatio with upstream's
// messages (`maximum cpu usage per Container is 1, but limit is 2`).
import type { Quantity } from '../../machinery/quantity.js';
import { podResources } from '../../quota/evaluators.js';
import { type ResourceList, fromObject } from '../../quota/resources.js';
import { type AdmissionAttributes, type MutatingPlugin, type ValidatingPlugin, forbiddenFor } from './interfaces.js';
import { setOwn } from '../../machinery/objects.js';

export const LIMIT_RANGER_ANNOTATION = 'kubernetes.io/limit-ranger';

/** Largest value whose milli-value fits an int64 (upstream resource.MaxMilliValue). */
const MAX_MILLI_VALUE = 9223372036854775807n / 1000n;

function observed(req: Quantity | undefined, lim: Quantity | undefined, enforced: Quantity): [bigint, bigint, bigint] {
  const useMilli = [req, lim, enforced].every((q) => !q || q.valueBig() <= MAX_MILLI_VALUE);
  const v = (q: Quantity | undefined) => (q ? (useMilli ? q.milliValueBig() : q.valueBig()) : 0n);
  return [v(req), v(lim), v(enforced)];
}

export function minConstraint(
  type: string,
  name: string,
  enforced: Quantity,
  request: ResourceList,
  limit: ResourceList,
): string | undefined {
  const req = request.get(name);
  const lim = limit.get(name);
  const [r, l, e] = observed(req, lim, enforced);
  if (!req) return `minimum ${name} usage per ${type} is ${String(enforced)}.  No request is specified`;
  if (r < e) return `minimum ${name} usage per ${type} is ${String(enforced)}, but request is ${String(req)}`;
  if (lim && l < e) return `minimum ${name} usage per ${type} is ${String(enforced)}, but limit is ${String(lim)}`;
  return undefined;
}

export function maxConstraint(
  type: string,
  name: string,
  enforced: Quantity,
  request: ResourceList,
  limit: ResourceList,
): string | undefined {
  const req = request.get(name);
  const lim = limit.get(name);
  const [r, l, e] = observed(req, lim, enforced);
  if (!lim) return `maximum ${name} usage per ${type} is ${String(enforced)}.  No limit is specified`;
  if (l > e) return `maximum ${name} usage per ${type} is ${String(enforced)}, but limit is ${String(lim)}`;
  if (req && r > e) return `maximum ${name} usage per ${type} is ${String(enforced)}, but request is ${String(req)}`;
  return undefined;
}

/** PersistentVolumeClaims have requests only. */
function maxRequestConstraint(
  type: string,
  name: string,
  enforced: Quantity,
  request: ResourceList,
): string | undefined {
  const req = request.get(name);
  const [r, , e] = observed(req, undefined, enforced);
  if (!req) return `maximum ${name} usage per ${type} is ${String(enforced)}.  No request is specified`;
  if (r > e) return `maximum ${name} usage per ${type} is ${String(enforced)}, but request is ${String(req)}`;
  return undefined;
}

/** Go's %f: six decimals. */
const goFloat = (f: number): string => f.toFixed(6);

export function limitRequestRatioConstraint(
  type: string,
  name: string,
  enforced: Quantity,
  request: ResourceList,
  limit: ResourceList,
): string | undefined {
  const req = request.get(name);
  const lim = limit.get(name);
  const [r, l] = observed(req, lim, enforced);
  if (!req || r === 0n)
    return `${name} max limit to request ratio per ${type} is ${String(enforced)}, but no request is specified or request is 0`;
  if (!lim || l === 0n)
    return `${name} max limit to request ratio per ${type} is ${String(enforced)}, but no limit is specified or limit is 0`;
  let ratio = Number(l) / Number(r);
  const display = ratio;
  let max = Number(enforced.valueBig());
  if (enforced.valueBig() <= MAX_MILLI_VALUE) {
    ratio *= 1000;
    max = Number(enforced.milliValueBig());
  }
  if (ratio > max)
    return `${name} max limit to request ratio per ${type} is ${String(enforced)}, but provided ratio is ${goFloat(display)}`;
  return undefined;
}

/** Set missing requests/limits from the LimitRange's Container defaults; upstream's annotation text. */
export function applyDefaults(pod: any, limitRange: any): string[] {
  const item = (limitRange?.spec?.limits ?? []).find((l: any) => l.type === 'Container');
  if (!item) return [];
  const defLimits: Record<string, string> = item.default ?? {};
  const defRequests: Record<string, string> = item.defaultRequest ?? {};
  const notes: string[] = [];
  const merge = (c: any, prefix: string) => {
    const res = (c.resources ??= {});
    const setLimits: string[] = [];
    const setRequests: string[] = [];
    for (const [k, v] of Object.entries(defLimits)) {
      if (res.limits && Object.hasOwn(res.limits, k)) continue;
      setOwn((res.limits ??= {}), k, v);
      setLimits.push(k);
    }
    for (const [k, v] of Object.entries(defRequests)) {
      if (res.requests && Object.hasOwn(res.requests, k)) continue;
      setOwn((res.requests ??= {}), k, v);
      setRequests.push(k);
    }
    if (setRequests.length) notes.push(`${setRequests.sort().join(', ')} request for ${prefix} ${c.name}`);
    if (setLimits.length) notes.push(`${setLimits.sort().join(', ')} limit for ${prefix} ${c.name}`);
  };
  for (const c of pod.spec?.containers ?? []) merge(c, 'container');
  for (const c of pod.spec?.initContainers ?? []) merge(c, 'init container');
  return notes;
}

/** Every violation of one LimitRange by a pod (upstream PodValidateLimitFunc). */
export function validatePod(pod: any, limitRange: any): string[] {
  const errs: string[] = [];
  const check = (type: string, item: any, request: ResourceList, limit: ResourceList) => {
    for (const [k, v] of fromObject(item.min)) {
      const e = minConstraint(type, k, v, request, limit);
      if (e) errs.push(e);
    }
    for (const [k, v] of fromObject(item.max)) {
      const e = maxConstraint(type, k, v, request, limit);
      if (e) errs.push(e);
    }
    for (const [k, v] of fromObject(item.maxLimitRequestRatio)) {
      const e = limitRequestRatioConstraint(type, k, v, request, limit);
      if (e) errs.push(e);
    }
  };
  for (const item of limitRange?.spec?.limits ?? []) {
    if (item.type === 'Container') {
      for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
        check('Container', item, fromObject(c.resources?.requests), fromObject(c.resources?.limits));
      }
    } else if (item.type === 'Pod') {
      check('Pod', item, podResources(pod, 'requests'), podResources(pod, 'limits'));
    }
  }
  return errs;
}

/** Upstream PersistentVolumeClaimValidateLimitFunc. */
export function validatePVC(pvc: any, limitRange: any): string[] {
  const errs: string[] = [];
  for (const item of limitRange?.spec?.limits ?? []) {
    if (item.type !== 'PersistentVolumeClaim') continue;
    const request = fromObject(pvc.spec?.resources?.requests);
    for (const [k, v] of fromObject(item.min)) {
      const e = minConstraint('PersistentVolumeClaim', k, v, request, new Map());
      if (e) errs.push(e);
    }
    for (const [k, v] of fromObject(item.max)) {
      const e = maxRequestConstraint('PersistentVolumeClaim', k, v, request);
      if (e) errs.push(e);
    }
  }
  return errs;
}

/** utilerrors.NewAggregate(...).Error(): one message alone, several in brackets. */
const aggregate = (msgs: string[]): string => (msgs.length === 1 ? msgs[0] : `[${msgs.join(', ')}]`);

export class LimitRanger implements MutatingPlugin, ValidatingPlugin {
  readonly name = 'LimitRanger';

  /** `limitRanges(ns)` lists the namespace's LimitRanges (from the watch cache). */
  constructor(private readonly limitRanges: (namespace: string) => any[]) {}

  handles(a: AdmissionAttributes): boolean {
    if (a.subresource || a.group !== '') return false;
    if (a.resource === 'pods') return a.operation === 'CREATE';
    return a.resource === 'persistentvolumeclaims' && (a.operation === 'CREATE' || a.operation === 'UPDATE');
  }

  admit(a: AdmissionAttributes): void {
    if (a.resource !== 'pods') return;
    const ranges = this.limitRanges(a.namespace);
    if (!ranges.length) return;
    const notes: string[] = [];
    for (const lr of ranges) notes.push(...applyDefaults(a.object, lr));
    if (notes.length) {
      const meta = a.object.metadata;
      meta.annotations = {
        ...(meta.annotations ?? {}),
        [LIMIT_RANGER_ANNOTATION]: `LimitRanger plugin set: ${notes.join('; ')}`,
      };
    }
  }

  validate(a: AdmissionAttributes): void {
    const errs: string[] = [];
    for (const lr of this.limitRanges(a.namespace)) {
      errs.push(...(a.resource === 'pods' ? validatePod(a.object, lr) : validatePVC(a.object, lr)));
    }
    if (errs.length) throw forbiddenFor(a, aggregate(errs));
  }
}
