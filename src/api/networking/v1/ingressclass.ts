// networking.k8s.io/v1 IngressClass (cluster-scoped).
import type { ResourceDef } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  forbidden,
  invalid,
  notSupported,
  path,
  required,
  tooLong,
} from '../../../machinery/fielderrors.js';
import { isDNS1123Subdomain, isDomainPrefixedPath, isPathSegmentName } from '../../../machinery/validation.js';
import { ingressClassColumns } from './tables.js';
import { ensure, immutable, isObject } from '../../apps/v1/workload.js';

const MAX_CONTROLLER_LEN = 250;

export function defaultIngressClass(obj: any): void {
  const spec = ensure(obj, 'spec');
  if (isObject(spec.parameters) && !spec.parameters.scope) spec.parameters.scope = 'Cluster';
}

function validateParameters(params: any, p: FieldPath): FieldError[] {
  if (!isObject(params)) return [];
  const errs: FieldError[] = [];
  if (typeof params.apiGroup === 'string' && params.apiGroup.length > 0) {
    for (const m of isDNS1123Subdomain(params.apiGroup)) errs.push(invalid(p.child('apiGroup'), params.apiGroup, m));
  }
  for (const k of ['kind', 'name']) {
    if (!params[k]) errs.push(required(p.child(k)));
    else for (const m of isPathSegmentName(params[k])) errs.push(invalid(p.child(k), params[k], m));
  }
  const scope = params.scope;
  if (!scope) {
    errs.push(required(p.child('scope')));
  } else if (scope === 'Namespace') {
    if (!params.namespace) errs.push(required(p.child('namespace'), "`parameters.scope` is set to 'Namespace'"));
    else
      for (const m of isDNS1123Subdomain(params.namespace))
        errs.push(invalid(p.child('namespace'), params.namespace, m));
  } else if (scope === 'Cluster') {
    if (params.namespace) errs.push(forbidden(p.child('namespace'), "`parameters.scope` is set to 'Cluster'"));
  } else {
    errs.push(notSupported(p.child('scope'), scope, ['Cluster', 'Namespace']));
  }
  return errs;
}

export function validateIngressClass(obj: any): FieldError[] {
  const spec = obj.spec ?? {};
  const errs: FieldError[] = [];
  const cp = path('spec', 'controller');
  const controller: string = spec.controller ?? '';
  if (controller.length > MAX_CONTROLLER_LEN) errs.push(tooLong(cp, MAX_CONTROLLER_LEN));
  errs.push(...isDomainPrefixedPath(cp, controller));
  errs.push(...validateParameters(spec.parameters, path('spec', 'parameters')));
  return errs;
}

export const ingressClassResource: ResourceDef = {
  group: 'networking.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'IngressClass',
  plural: 'ingressclasses',
  singular: 'ingressclass',
  namespaced: false,
  generationTracksSpec: true,
  defaults: defaultIngressClass,
  validate: validateIngressClass,
  validateUpdate: (obj, old) => immutable(obj.spec?.controller, old.spec?.controller, path('spec', 'controller')),
  table: ingressClassColumns,
};
