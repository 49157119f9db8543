// admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding:
// defaulting and validation (upstream pkg/apis/admissionregistration/validation), including
// that every CEL expression compiles. The admission plugin that enforces them lives in
// src/apiserver/admission/validatingpolicy.
import type {
  MatchResources,
  NamedRuleWithOperations,
  ParamRef,
  ValidatingAdmissionPolicy,
  ValidatingAdmissionPolicyBinding,
} from 'kubernetes-types/admissionregistration/v1.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import type { ResourceDef } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  duplicate,
  invalid,
  notSupported,
  path,
  required,
} from '../../../machinery/fielderrors.js';
import { isQualifiedName, validateLabelSelector } from '../../../machinery/validation.js';
import {
  ADMISSION_VARIABLES as POLICY_VARIABLES,
  CelCompileError,
  compile,
  compileMatchConditions,
  type VariableTypes,
} from '../../../cel/index.js';
import { isObject } from '../../apps/v1/workload.js';
import { validatingAdmissionPolicyBindingColumns, validatingAdmissionPolicyColumns } from './tables.js';

const FAILURE_POLICIES = ['Fail', 'Ignore'];
const ACTIONS = ['Deny', 'Warn', 'Audit'];
const NOT_FOUND_ACTIONS = ['Allow', 'Deny'];
const OPERATIONS = ['*', 'CONNECT', 'CREATE', 'DELETE', 'UPDATE'];
const SCOPES = ['*', 'Cluster', 'Namespaced'];
const MATCH_POLICIES = ['Equivalent', 'Exact'];
const isSet = <T>(v: T): v is NonNullable<T> => v !== undefined && v !== null;

/** kubernetes-types lacks the two fields a rule inlines from RuleWithOperations. */
export type AdmissionRule = NamedRuleWithOperations & { resources?: string[]; scope?: string };

// Objects arrive decoded but unchecked: every field is tested before use (isObject, listOf).
const listOf = <T>(v: T[] | undefined): T[] => (Array.isArray(v) ? v : []);

export function defaultMatchResources(m: MatchResources | undefined): void {
  if (!isObject(m)) return;
  if (!m.matchPolicy) m.matchPolicy = 'Equivalent';
  if (!isObject(m.namespaceSelector)) m.namespaceSelector = {};
  if (!isObject(m.objectSelector)) m.objectSelector = {};
  const rules: AdmissionRule[] = [...listOf(m.resourceRules), ...listOf(m.excludeResourceRules)];
  for (const rule of rules) if (isObject(rule) && !rule.scope) rule.scope = '*';
}

export function defaultPolicy(obj: ValidatingAdmissionPolicy): void {
  const spec = obj.spec;
  if (!isObject(spec)) return;
  if (!spec.failurePolicy) spec.failurePolicy = 'Fail';
  defaultMatchResources(spec.matchConstraints);
}

export function defaultBinding(obj: ValidatingAdmissionPolicyBinding): void {
  const spec = obj.spec;
  if (!isObject(spec)) return;
  defaultMatchResources(spec.matchResources);
  if (isObject(spec.paramRef) && !spec.paramRef.parameterNotFoundAction) spec.paramRef.parameterNotFoundAction = 'Deny';
}

/** A compile error of one expression, as upstream reports it (Invalid with cel-go's text). */
function expressionErrors(expr: unknown, p: FieldPath, want: 'bool' | 'string' | 'any'): FieldError[] {
  if (typeof expr !== 'string' || !expr.trim()) return [required(p, 'expression is not specified')];
  try {
    const prog = compile(expr, POLICY_VARIABLES);
    if (want !== 'any' && !['dyn', want].includes(prog.resultType))
      return [invalid(p, expr, `must evaluate to ${want}`)];
    return [];
  } catch (err) {
    return [invalid(p, expr, err instanceof CelCompileError ? err.detail : String(err))];
  }
}

function validateRules(rules: AdmissionRule[] | undefined, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  listOf(rules).forEach((r, i) => {
    const rp = p.index(i);
    const ops: unknown[] = listOf(r?.operations);
    if (ops.length === 0) errs.push(required(rp.child('operations')));
    ops.forEach((op, j) => {
      if (!OPERATIONS.includes(op as string)) errs.push(notSupported(rp.child('operations').index(j), op, OPERATIONS));
    });
    if (!Array.isArray(r?.apiGroups) || r.apiGroups.length === 0) errs.push(required(rp.child('apiGroups')));
    if (!Array.isArray(r?.apiVersions) || r.apiVersions.length === 0) errs.push(required(rp.child('apiVersions')));
    if (!Array.isArray(r?.resources) || r.resources.length === 0) errs.push(required(rp.child('resources')));
    if (isSet(r?.scope) && !SCOPES.includes(r.scope)) errs.push(notSupported(rp.child('scope'), r.scope, SCOPES));
  });
  return errs;
}

export function validateMatchResources(m: MatchResources | undefined, p: FieldPath, policy: boolean): FieldError[] {
  const errs: FieldError[] = [];
  if (!isObject(m)) return policy ? [required(p)] : [];
  if (isSet(m.matchPolicy) && !MATCH_POLICIES.includes(m.matchPolicy))
    errs.push(notSupported(p.child('matchPolicy'), m.matchPolicy, MATCH_POLICIES));
  const selectors: [string, LabelSelector | undefined][] = [
    ['namespaceSelector', m.namespaceSelector],
    ['objectSelector', m.objectSelector],
  ];
  for (const [name, sel] of selectors) if (isSet(sel)) errs.push(...validateLabelSelector(sel, p.child(name)));
  if (policy && (!Array.isArray(m.resourceRules) || m.resourceRules.length === 0))
    errs.push(required(p.child('resourceRules')));
  errs.push(...validateRules(m.resourceRules, p.child('resourceRules')));
  errs.push(...validateRules(m.excludeResourceRules, p.child('excludeResourceRules')));
  return errs;
}

export function validateNamed<T extends { name?: string }>(
  list: T[] | undefined,
  p: FieldPath,
  check: (item: T, ip: FieldPath) => FieldError[],
): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  listOf(list).forEach((item, i) => {
    const ip = p.index(i);
    const name: unknown = item?.name;
    if (typeof name !== 'string' || !name) errs.push(required(ip.child('name')));
    else {
      for (const m of isQualifiedName(name)) errs.push(invalid(ip.child('name'), name, m));
      if (names.has(name)) errs.push(duplicate(ip.child('name'), name));
      names.add(name);
    }
    errs.push(...check(item, ip));
  });
  return errs;
}

export function validatePolicy(obj: ValidatingAdmissionPolicy): FieldError[] {
  const spec = obj?.spec;
  const p = path('spec');
  if (!isObject(spec)) return [required(p)];
  const errs: FieldError[] = [];
  errs.push(...validatePolicyMatching(spec, p));
  const validations = listOf(spec.validations);
  const audits = listOf(spec.auditAnnotations);
  if (validations.length === 0 && audits.length === 0)
    errs.push(required(p.child('validations'), 'validations or auditAnnotations must contain at least one item'));
  validations.forEach((v, i) => {
    const vp = p.child('validations').index(i);
    errs.push(...expressionErrors(v?.expression, vp.child('expression'), 'bool'));
    if (isSet(v?.messageExpression))
      errs.push(...expressionErrors(v.messageExpression, vp.child('messageExpression'), 'string'));
    if (typeof v?.message === 'string' && /[\n\r]/.test(v.message))
      errs.push(invalid(vp.child('message'), v.message, 'message must not contain line breaks'));
  });
  audits.forEach((a, i) => {
    errs.push(
      ...expressionErrors(a?.valueExpression, p.child('auditAnnotations').index(i).child('valueExpression'), 'any'),
    );
  });
  errs.push(...validatePolicyVariables(spec, p, (e, ep) => expressionErrors(e, ep, 'any'), POLICY_VARIABLES));
  return errs;
}

/** The spec fields ValidatingAdmissionPolicy and MutatingAdmissionPolicy have in common. */
type PolicySpecCommon = Pick<
  NonNullable<ValidatingAdmissionPolicy['spec']>,
  'failurePolicy' | 'paramKind' | 'matchConstraints' | 'variables' | 'matchConditions'
>;

/** failurePolicy, paramKind and matchConstraints, checked alike for both kinds of policy. */
export function validatePolicyMatching(spec: PolicySpecCommon, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (isSet(spec.failurePolicy) && !FAILURE_POLICIES.includes(spec.failurePolicy))
    errs.push(notSupported(p.child('failurePolicy'), spec.failurePolicy, FAILURE_POLICIES));
  if (isSet(spec.paramKind)) {
    if (!spec.paramKind.apiVersion) errs.push(required(p.child('paramKind', 'apiVersion')));
    if (!spec.paramKind.kind) errs.push(required(p.child('paramKind', 'kind')));
  }
  errs.push(...validateMatchResources(spec.matchConstraints, p.child('matchConstraints'), true));
  return errs;
}

/**
 * A policy's variables (each expression checked by `variableErrors`) and matchConditions
 * (compiled against `vars`, the variables the policy kind offers).
 */
export function validatePolicyVariables(
  spec: PolicySpecCommon,
  p: FieldPath,
  variableErrors: (expression: unknown, p: FieldPath) => FieldError[],
  vars: VariableTypes,
): FieldError[] {
  const conds = listOf(spec.matchConditions);
  return [
    ...validateNamed(spec.variables, p.child('variables'), (v, vp) =>
      variableErrors(v?.expression, vp.child('expression')),
    ),
    ...validateNamed(conds, p.child('matchConditions'), () => []),
    ...compileMatchConditions(conds, p.child('matchConditions'), vars).errors,
  ];
}

export function validateBinding(obj: ValidatingAdmissionPolicyBinding): FieldError[] {
  const spec = obj?.spec;
  const p = path('spec');
  if (!isObject(spec)) return [required(p)];
  const errs: FieldError[] = [];
  if (!spec.policyName) errs.push(required(p.child('policyName')));
  const actions = listOf(spec.validationActions);
  if (actions.length === 0) errs.push(required(p.child('validationActions')));
  const seen = new Set<unknown>();
  actions.forEach((a, i) => {
    if (!ACTIONS.includes(a)) errs.push(notSupported(p.child('validationActions').index(i), a, ACTIONS));
    if (seen.has(a)) errs.push(duplicate(p.child('validationActions').index(i), a));
    seen.add(a);
  });
  if (actions.includes('Deny') && actions.includes('Warn'))
    errs.push(
      invalid(
        p.child('validationActions'),
        actions,
        'must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)',
      ),
    );
  errs.push(...validateParamRef(spec.paramRef, p.child('paramRef')));
  errs.push(...validateMatchResources(spec.matchResources, p.child('matchResources'), false));
  return errs;
}

/** A binding's paramRef (ValidatingAdmissionPolicyBinding and MutatingAdmissionPolicyBinding). */
export function validateParamRef(ref: ParamRef | undefined, rp: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!isSet(ref)) return errs;
  if (ref.name && ref.selector)
    errs.push(invalid(rp.child('name'), ref.name, 'name and selector are mutually exclusive'));
  if (!ref.name && !ref.selector) errs.push(required(rp, 'one of name or selector must be specified'));
  if (ref.selector) errs.push(...validateLabelSelector(ref.selector, rp.child('selector')));
  if (isSet(ref.parameterNotFoundAction) && !NOT_FOUND_ACTIONS.includes(ref.parameterNotFoundAction))
    errs.push(notSupported(rp.child('parameterNotFoundAction'), ref.parameterNotFoundAction, NOT_FOUND_ACTIONS));
  return errs;
}

export const validatingAdmissionPolicyResource: ResourceDef = {
  group: 'admissionregistration.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'ValidatingAdmissionPolicy',
  plural: 'validatingadmissionpolicies',
  singular: 'validatingadmissionpolicy',
  categories: ['api-extensions'],
  namespaced: false,
  generationTracksSpec: true,
  subresources: { status: true },
  defaults: defaultPolicy,
  validate: validatePolicy,
  table: validatingAdmissionPolicyColumns,
};

export const validatingAdmissionPolicyBindingResource: ResourceDef = {
  group: 'admissionregistration.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'ValidatingAdmissionPolicyBinding',
  plural: 'validatingadmissionpolicybindings',
  singular: 'validatingadmissionpolicybinding',
  categories: ['api-extensions'],
  namespaced: false,
  generationTracksSpec: true,
  defaults: defaultBinding,
  validate: validateBinding,
  table: validatingAdmissionPolicyBindingColumns,
};
