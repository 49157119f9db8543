// policy/v1 PodDisruptionBudget.
import type { ResourceDef } from '../../types.js';
import { type FieldError, type FieldPath, invalid, notSupported, path } from '../../../machinery/fielderrors.js';
import { validateLabelSelector, validateNonnegative } from '../../../machinery/validation.js';
import { podDisruptionBudgetColumns } from './tables.js';
import {
  clearStatus,
  isNotMoreThan100Percent,
  isObject,
  validatePositiveIntOrPercent,
} from '../../apps/v1/workload.js';

const EVICTION_POLICIES = ['AlwaysAllow', 'IfHealthyBudget'];
const isSet = (v: unknown): boolean => v !== undefined && v !== null;

export function validatePodDisruptionBudgetSpec(spec: any, p: FieldPath): FieldError[] {
  if (!isObject(spec)) return [];
  const errs: FieldError[] = [];
  if (isSet(spec.minAvailable) && isSet(spec.maxUnavailable)) {
    errs.push(invalid(p, spec, 'minAvailable and maxUnavailable cannot be both set'));
  }
  if (isSet(spec.minAvailable)) {
    errs.push(...validatePositiveIntOrPercent(spec.minAvailable, p.child('minAvailable')));
    errs.push(...isNotMoreThan100Percent(spec.minAvailable, p.child('minAvailable')));
  }
  if (isSet(spec.maxUnavailable)) {
    errs.push(...validatePositiveIntOrPercent(spec.maxUnavailable, p.child('maxUnavailable')));
    errs.push(...isNotMoreThan100Percent(spec.maxUnavailable, p.child('maxUnavailable')));
  }
  errs.push(...validateLabelSelector(spec.selector, p.child('selector')));
  if (isSet(spec.unhealthyPodEvictionPolicy) && !EVICTION_POLICIES.includes(spec.unhealthyPodEvictionPolicy)) {
    errs.push(notSupported(p.child('unhealthyPodEvictionPolicy'), spec.unhealthyPodEvictionPolicy, EVICTION_POLICIES));
  }
  return errs;
}

export function validatePodDisruptionBudgetStatus(status: any, p: FieldPath): FieldError[] {
  if (!isObject(status)) return [];
  const errs: FieldError[] = [];
  for (const f of ['disruptionsAllowed', 'currentHealthy', 'desiredHealthy', 'expectedPods'])
    errs.push(...validateNonnegative(status[f], p.child(f)));
  return errs;
}

export const podDisruptionBudgetResource: ResourceDef = {
  group: 'policy',
  versions: [{ name: 'v1' }],
  kind: 'PodDisruptionBudget',
  plural: 'poddisruptionbudgets',
  singular: 'poddisruptionbudget',
  shortNames: ['pdb'],
  namespaced: true,
  subresources: { status: true },
  generationTracksSpec: true,
  prepareForCreate: clearStatus,
  validate(obj, ctx) {
    if (ctx?.subresource === 'status') return validatePodDisruptionBudgetStatus(obj.status, path('status'));
    return validatePodDisruptionBudgetSpec(obj.spec, path('spec'));
  },
  table: podDisruptionBudgetColumns,
};
