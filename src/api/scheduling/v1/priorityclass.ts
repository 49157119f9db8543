// scheduling.k8s.io/v1 PriorityClass (cluster-scoped).
import type { ResourceDef } from '../../types.js';
import { type FieldError, forbidden, notSupported, path, required } from '../../../machinery/fielderrors.js';
import { priorityClassColumns } from './tables.js';
import { immutable } from '../../apps/v1/workload.js';

export const SYSTEM_PRIORITY_CLASS_PREFIX = 'system-';
export const HIGHEST_USER_DEFINABLE_PRIORITY = 1000000000;
export const SYSTEM_CRITICAL_PRIORITY = 2 * HIGHEST_USER_DEFINABLE_PRIORITY;
/** The built-in classes every cluster has (created by the API server at start). */
export const SYSTEM_PRIORITY_CLASSES: Record<string, number> = {
  'system-node-critical': SYSTEM_CRITICAL_PRIORITY + 1000,
  'system-cluster-critical': SYSTEM_CRITICAL_PRIORITY,
};
const PREEMPTION_POLICIES = ['Never', 'PreemptLowerPriority'];

export function defaultPriorityClass(obj: any): void {
  if (!obj.preemptionPolicy) obj.preemptionPolicy = 'PreemptLowerPriority';
}

/** Upstream IsKnownSystemPriorityClass: returns the error text, or undefined. */
function knownSystemClassError(name: string, value: unknown, globalDefault: unknown): string | undefined {
  const v = SYSTEM_PRIORITY_CLASSES[name];
  if (v === undefined) return `${name} is not a known system priority class`;
  if (value !== v) return `value of ${name} PriorityClass must be ${v}`;
  if ((globalDefault ?? false) !== false) return `globalDefault of ${name} PriorityClass must be false`;
  return undefined;
}

export function validatePriorityClass(obj: any): FieldError[] {
  const errs: FieldError[] = [];
  const name: string = obj.metadata?.name ?? '';
  if (obj.value === undefined || obj.value === null) errs.push(required(path('value')));
  if (name.startsWith(SYSTEM_PRIORITY_CLASS_PREFIX)) {
    const err = knownSystemClassError(name, obj.value, obj.globalDefault);
    if (err) {
      errs.push(
        forbidden(
          path('metadata', 'name'),
          `priority class names with '${SYSTEM_PRIORITY_CLASS_PREFIX}' prefix are reserved for system use only. error: ${err}`,
        ),
      );
    }
  } else if (typeof obj.value === 'number' && obj.value > HIGHEST_USER_DEFINABLE_PRIORITY) {
    errs.push(
      forbidden(
        path('value'),
        `maximum allowed value of a user defined priority is ${HIGHEST_USER_DEFINABLE_PRIORITY}`,
      ),
    );
  }
  if (
    obj.preemptionPolicy !== undefined &&
    obj.preemptionPolicy !== null &&
    !PREEMPTION_POLICIES.includes(obj.preemptionPolicy)
  ) {
    errs.push(notSupported(path('preemptionPolicy'), obj.preemptionPolicy, PREEMPTION_POLICIES));
  }
  return errs;
}

export function validatePriorityClassUpdate(obj: any, old: any): FieldError[] {
  const errs: FieldError[] = [];
  if (obj.value !== old.value) errs.push(forbidden(path('value'), 'may not be changed in an update.'));
  errs.push(...immutable(obj.preemptionPolicy, old.preemptionPolicy, path('preemptionPolicy')));
  return errs;
}

export const priorityClassResource: ResourceDef = {
  group: 'scheduling.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'PriorityClass',
  plural: 'priorityclasses',
  singular: 'priorityclass',
  shortNames: ['pc'],
  namespaced: false,
  generationTracksSpec: false,
  defaults: defaultPriorityClass,
  validate: validatePriorityClass,
  validateUpdate: validatePriorityClassUpdate,
  table: priorityClassColumns,
};
