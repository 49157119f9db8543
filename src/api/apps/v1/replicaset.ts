// apps/v1 ReplicaSet.
import type { ResourceDef } from '../../types.js';
import { type FieldError, type FieldPath, path, required } from '../../../machinery/fielderrors.js';
import { validateNonnegative } from '../../../machinery/validation.js';
import { replicaSetColumns } from './tables.js';
import {
  clearStatus,
  defaultTemplate,
  ensure,
  forbiddenADS,
  immutable,
  isObject,
  scaleSelector,
  validateAlwaysRestartingTemplate,
  validateSelectorAndTemplate,
} from './workload.js';

export function defaultReplicaSet(obj: any): void {
  const spec = ensure(obj, 'spec');
  if (spec.replicas === undefined || spec.replicas === null) spec.replicas = 1;
  defaultTemplate(spec);
}

export function validateReplicaSetSpec(spec: any, p: FieldPath): FieldError[] {
  if (!isObject(spec)) return [required(p)];
  const errs: FieldError[] = [];
  errs.push(...validateNonnegative(spec.replicas, p.child('replicas')));
  errs.push(...validateNonnegative(spec.minReadySeconds, p.child('minReadySeconds')));
  // Upstream's message says "deployment" here too.
  errs.push(...validateSelectorAndTemplate(spec, p, 'deployment'));
  errs.push(...validateAlwaysRestartingTemplate(spec.template, p.child('template'), forbiddenADS('ReplicaSet')));
  return errs;
}

export const replicaSetResource: ResourceDef = {
  group: 'apps',
  versions: [{ name: 'v1' }],
  kind: 'ReplicaSet',
  plural: 'replicasets',
  singular: 'replicaset',
  shortNames: ['rs'],
  categories: ['all'],
  namespaced: true,
  subresources: {
    status: true,
    scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', selector: scaleSelector },
  },
  generationTracksSpec: true,
  defaults: defaultReplicaSet,
  prepareForCreate: clearStatus,
  validate: (obj) => validateReplicaSetSpec(obj.spec, path('spec')),
  validateUpdate: (obj, old) => immutable(obj.spec?.selector, old.spec?.selector, path('spec', 'selector')),
  fieldSelectors: {
    'status.replicas': (obj) => String(obj.status?.replicas ?? 0),
  },
  table: replicaSetColumns,
};
