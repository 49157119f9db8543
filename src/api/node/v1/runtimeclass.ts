// node.k8s.io/v1 RuntimeClass (cluster-scoped): which container runtime configuration (a CRI
// handler) runs a pod, with the pod overhead and scheduling constraints that come with it.
// Validation follows upstream pkg/apis/node/validation; the RuntimeClass admission plugin applies
// a class to the pods that name it (apiserver/admission/runtimeclass.ts).
import type { RuntimeClass } from 'kubernetes-types/node/v1.js';
import type { ResourceDef } from '../../types.js';
import { type FieldError, type FieldPath, duplicate, invalid, path } from '../../../machinery/fielderrors.js';
import { isDNS1123Label, validateLabels } from '../../../machinery/validation.js';
import { validateContainerResourceName, validateResourceQuantityValue } from '../../core/v1/helpers.js';
import { validateTolerations } from '../../core/v1/podspec.js';
import { immutable } from '../../apps/v1/workload.js';
import { runtimeClassColumns } from './tables.js';

/** overhead.podFixed: resource names and amounts as a container's limits (upstream reuses that check). */
function validateOverhead(podFixed: Record<string, unknown> | undefined, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  for (const [name, q] of Object.entries(podFixed ?? {})) {
    const fp = p.child('limits').key(name);
    errs.push(...validateContainerResourceName(name, fp), ...validateResourceQuantityValue(name, q, fp));
  }
  return errs;
}

function validateScheduling(s: NonNullable<RuntimeClass['scheduling']>, p: FieldPath): FieldError[] {
  const errs = validateLabels(s.nodeSelector, p.child('nodeSelector'));
  const tp = p.child('tolerations');
  errs.push(...validateTolerations(s.tolerations, tp));
  // The same key, operator, value and effect twice is a duplicate (upstream keys on all four).
  const seen = new Set<string>();
  (s.tolerations ?? []).forEach((t, i) => {
    const k = JSON.stringify([t.key ?? '', t.operator ?? '', t.value ?? '', t.effect ?? '']);
    if (seen.has(k)) errs.push(duplicate(tp.index(i), t));
    seen.add(k);
  });
  return errs;
}

export function validateRuntimeClass(rc: RuntimeClass): FieldError[] {
  const errs: FieldError[] = [];
  const handler = rc.handler ?? '';
  for (const msg of isDNS1123Label(handler)) errs.push(invalid(path('handler'), handler, msg));
  if (rc.overhead) errs.push(...validateOverhead(rc.overhead.podFixed, path('overhead')));
  if (rc.scheduling) errs.push(...validateScheduling(rc.scheduling, path('scheduling')));
  return errs;
}

/** On update (after the whole object was validated again): the handler may not change. */
export function validateRuntimeClassUpdate(rc: RuntimeClass, old: RuntimeClass): FieldError[] {
  return immutable(rc.handler, old.handler, path('handler'));
}

export const runtimeClassResource: ResourceDef = {
  group: 'node.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'RuntimeClass',
  plural: 'runtimeclasses',
  singular: 'runtimeclass',
  namespaced: false,
  generationTracksSpec: false,
  validate: (obj) => validateRuntimeClass(obj as RuntimeClass),
  validateUpdate: (obj, old) => validateRuntimeClassUpdate(obj as RuntimeClass, old as RuntimeClass),
  table: runtimeClassColumns,
};
