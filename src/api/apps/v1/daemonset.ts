// apps/v1 DaemonSet.
import type { ResourceDef } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  invalid,
  notSupported,
  path,
  required,
} from '../../../machinery/fielderrors.js';
import { validateNonnegative } from '../../../machinery/validation.js';
import { daemonSetColumns } from './tables.js';
import {
  clearStatus,
  defaultTemplate,
  ensure,
  forbiddenADS,
  immutable,
  intOrPercentValue,
  isNotMoreThan100Percent,
  isObject,
  validateAlwaysRestartingTemplate,
  validatePositiveIntOrPercent,
  validateSelectorAndTemplate,
} from './workload.js';

export function defaultDaemonSet(obj: any): void {
  const spec = ensure(obj, 'spec');
  const us = ensure(spec, 'updateStrategy');
  if (!us.type) us.type = 'RollingUpdate';
  if (us.type === 'RollingUpdate') {
    const ru = ensure(us, 'rollingUpdate');
    if (ru.maxUnavailable === undefined || ru.maxUnavailable === null) ru.maxUnavailable = 1;
    if (ru.maxSurge === undefined || ru.maxSurge === null) ru.maxSurge = 0;
  }
  if (spec.revisionHistoryLimit === undefined || spec.revisionHistoryLimit === null) spec.revisionHistoryLimit = 10;
  defaultTemplate(spec);
}

function validateRollingUpdateDaemonSet(ru: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  errs.push(...validatePositiveIntOrPercent(ru.maxUnavailable, p.child('maxUnavailable')));
  errs.push(...validatePositiveIntOrPercent(ru.maxSurge, p.child('maxSurge')));
  errs.push(...isNotMoreThan100Percent(ru.maxUnavailable, p.child('maxUnavailable')));
  errs.push(...isNotMoreThan100Percent(ru.maxSurge, p.child('maxSurge')));
  const hasUnavailable = (intOrPercentValue(ru.maxUnavailable) || 0) !== 0;
  const hasSurge = (intOrPercentValue(ru.maxSurge) || 0) !== 0;
  if (hasUnavailable && hasSurge)
    errs.push(invalid(p.child('maxSurge'), ru.maxSurge, 'may not be set when maxUnavailable is non-zero'));
  if (!hasUnavailable && !hasSurge) errs.push(required(p.child('maxUnavailable'), 'cannot be 0 when maxSurge is 0'));
  return errs;
}

export function validateDaemonSetSpec(spec: any, p: FieldPath): FieldError[] {
  if (!isObject(spec)) return [required(p)];
  const errs: FieldError[] = [];
  errs.push(...validateSelectorAndTemplate(spec, p, 'daemonset'));
  errs.push(...validateAlwaysRestartingTemplate(spec.template, p.child('template'), forbiddenADS('DaemonSet')));
  errs.push(...validateNonnegative(spec.minReadySeconds, p.child('minReadySeconds')));
  errs.push(...validateNonnegative(spec.templateGeneration, p.child('templateGeneration')));
  errs.push(...validateNonnegative(spec.revisionHistoryLimit, p.child('revisionHistoryLimit')));
  const us = spec.updateStrategy ?? {};
  const usp = p.child('updateStrategy');
  switch (us.type) {
    case 'OnDelete':
      break;
    case 'RollingUpdate':
      if (!isObject(us.rollingUpdate)) errs.push(required(usp.child('rollingUpdate')));
      else errs.push(...validateRollingUpdateDaemonSet(us.rollingUpdate, usp.child('rollingUpdate')));
      break;
    default:
      errs.push(notSupported(usp.child('type'), us.type ?? '', ['OnDelete', 'RollingUpdate']));
  }
  return errs;
}

export const daemonSetResource: ResourceDef = {
  group: 'apps',
  versions: [{ name: 'v1' }],
  kind: 'DaemonSet',
  plural: 'daemonsets',
  singular: 'daemonset',
  shortNames: ['ds'],
  categories: ['all'],
  namespaced: true,
  subresources: { status: true },
  generationTracksSpec: true,
  defaults: defaultDaemonSet,
  prepareForCreate: clearStatus,
  validate: (obj) => validateDaemonSetSpec(obj.spec, path('spec')),
  validateUpdate: (obj, old) => immutable(obj.spec?.selector, old.spec?.selector, path('spec', 'selector')),
  table: daemonSetColumns,
};
