// apps/v1 Deployment: defaults, validation and update rules as upstream's deployment strategy.
import type { ResourceDef } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  forbidden,
  invalid,
  notSupported,
  path,
  required,
} from '../../../machinery/fielderrors.js';
import { validateNonnegative } from '../../../machinery/validation.js';
import { deploymentColumns } from './tables.js';
import {
  clearStatus,
  defaultTemplate,
  ensure,
  forbiddenADS,
  immutable,
  intOrPercentValue,
  isNotMoreThan100Percent,
  isObject,
  scaleSelector,
  validateAlwaysRestartingTemplate,
  validatePositiveIntOrPercent,
  validateSelectorAndTemplate,
} from './workload.js';

export function defaultDeployment(obj: any): void {
  const spec = ensure(obj, 'spec');
  if (spec.replicas === undefined || spec.replicas === null) spec.replicas = 1;
  const strategy = ensure(spec, 'strategy');
  if (!strategy.type) strategy.type = 'RollingUpdate';
  if (strategy.type === 'RollingUpdate') {
    const ru = ensure(strategy, 'rollingUpdate');
    if (ru.maxUnavailable === undefined || ru.maxUnavailable === null) ru.maxUnavailable = '25%';
    if (ru.maxSurge === undefined || ru.maxSurge === null) ru.maxSurge = '25%';
  }
  if (spec.revisionHistoryLimit === undefined || spec.revisionHistoryLimit === null) spec.revisionHistoryLimit = 10;
  if (spec.progressDeadlineSeconds === undefined || spec.progressDeadlineSeconds === null)
    spec.progressDeadlineSeconds = 600;
  defaultTemplate(spec);
}

function validateRollingUpdateDeployment(ru: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  errs.push(...validatePositiveIntOrPercent(ru.maxUnavailable, p.child('maxUnavailable')));
  errs.push(...validatePositiveIntOrPercent(ru.maxSurge, p.child('maxSurge')));
  if (intOrPercentValue(ru.maxUnavailable) === 0 && intOrPercentValue(ru.maxSurge) === 0) {
    errs.push(invalid(p.child('maxUnavailable'), ru.maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
  }
  errs.push(...isNotMoreThan100Percent(ru.maxUnavailable, p.child('maxUnavailable')));
  return errs;
}

function validateDeploymentStrategy(strategy: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  switch (strategy?.type) {
    case 'Recreate':
      if (strategy.rollingUpdate != null)
        errs.push(forbidden(p.child('rollingUpdate'), "may not be specified when strategy `type` is 'Recreate'"));
      break;
    case 'RollingUpdate':
      if (!isObject(strategy.rollingUpdate))
        errs.push(required(p.child('rollingUpdate'), 'this should be defaulted and never be nil'));
      else errs.push(...validateRollingUpdateDeployment(strategy.rollingUpdate, p.child('rollingUpdate')));
      break;
    default:
      errs.push(notSupported(p.child('Type'), strategy?.type ?? '', ['Recreate', 'RollingUpdate']));
  }
  return errs;
}

export function validateDeploymentSpec(spec: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!isObject(spec)) return [required(p)];
  errs.push(...validateNonnegative(spec.replicas, p.child('replicas')));
  errs.push(...validateSelectorAndTemplate(spec, p, 'deployment'));
  errs.push(...validateAlwaysRestartingTemplate(spec.template, p.child('template'), forbiddenADS('ReplicaSet')));
  errs.push(...validateDeploymentStrategy(spec.strategy, p.child('strategy')));
  errs.push(...validateNonnegative(spec.minReadySeconds, p.child('minReadySeconds')));
  errs.push(...validateNonnegative(spec.revisionHistoryLimit, p.child('revisionHistoryLimit')));
  if (spec.progressDeadlineSeconds !== undefined && spec.progressDeadlineSeconds !== null) {
    errs.push(...validateNonnegative(spec.progressDeadlineSeconds, p.child('progressDeadlineSeconds')));
    if (spec.progressDeadlineSeconds <= (spec.minReadySeconds ?? 0)) {
      errs.push(
        invalid(
          p.child('progressDeadlineSeconds'),
          spec.progressDeadlineSeconds,
          'must be greater than minReadySeconds',
        ),
      );
    }
  }
  return errs;
}

export const deploymentResource: ResourceDef = {
  group: 'apps',
  versions: [{ name: 'v1' }],
  kind: 'Deployment',
  plural: 'deployments',
  singular: 'deployment',
  shortNames: ['deploy'],
  categories: ['all'],
  namespaced: true,
  subresources: {
    status: true,
    scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', selector: scaleSelector },
  },
  generationTracksSpec: true,
  defaults: defaultDeployment,
  prepareForCreate: clearStatus,
  validate: (obj) => validateDeploymentSpec(obj.spec, path('spec')),
  validateUpdate: (obj, old) => immutable(obj.spec?.selector, old.spec?.selector, path('spec', 'selector')),
  table: deploymentColumns,
};
