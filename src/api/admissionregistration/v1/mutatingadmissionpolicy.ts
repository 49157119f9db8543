// admissionregistration.k8s.io MutatingAdmissionPolicy and MutatingAdmissionPolicyBinding
// (v1beta1, and v1alpha1 of the same shape, as upstream 1.32–1.34 serve them): defaulting and
// validation, including that every CEL expression compiles. The admission plugin that applies
// them lives in src/apiserver/admission/mutatingpolicy.
import type {
  MatchCondition,
  MatchResources,
  ParamKind,
  ParamRef,
  Variable,
} from 'kubernetes-types/admissionregistration/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { ResourceDef, TableColumn } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  invalid,
  notSupported,
  path,
  required,
} from '../../../machinery/fielderrors.js';
import { CelCompileError, MUTATION_VARIABLES, compileMutation } from '../../../cel/index.js';
import { isObject } from '../../apps/v1/workload.js';
import {
  defaultMatchResources,
  validateMatchResources,
  validateParamRef,
  validatePolicyMatching,
  validatePolicyVariables,
} from './validatingadmissionpolicy.js';
import { validatingAdmissionPolicyBindingColumns } from './tables.js';
import { ageColumn, nameColumn } from '../../printing.js';

// kubernetes-types has no MutatingAdmissionPolicy yet: the shapes, as upstream's v1beta1 types.
export interface Mutation {
  patchType?: 'ApplyConfiguration' | 'JSONPatch';
  applyConfiguration?: { expression?: string };
  jsonPatch?: { expression?: string };
}

export interface MutatingAdmissionPolicySpec {
  paramKind?: ParamKind;
  matchConstraints?: MatchResources;
  variables?: Variable[];
  mutations?: Mutation[];
  failurePolicy?: 'Fail' | 'Ignore';
  matchConditions?: MatchCondition[];
  reinvocationPolicy?: 'Never' | 'IfNeeded';
}

export interface MutatingAdmissionPolicy {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: MutatingAdmissionPolicySpec;
}

export interface MutatingAdmissionPolicyBinding {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: { policyName?: string; paramRef?: ParamRef; matchResources?: MatchResources };
}

const REINVOCATION_POLICIES = ['Never', 'IfNeeded'];
const PATCH_TYPES = ['ApplyConfiguration', 'JSONPatch'];
const isSet = <T>(v: T): v is NonNullable<T> => v !== undefined && v !== null;
const listOf = <T>(v: T[] | undefined): T[] => (Array.isArray(v) ? v : []);

export function defaultMutatingPolicy(obj: MutatingAdmissionPolicy): void {
  const spec = obj.spec;
  if (!isObject(spec)) return;
  if (!spec.failurePolicy) spec.failurePolicy = 'Fail';
  if (!spec.reinvocationPolicy) spec.reinvocationPolicy = 'Never';
  defaultMatchResources(spec.matchConstraints);
}

export function defaultMutatingBinding(obj: MutatingAdmissionPolicyBinding): void {
  const spec = obj.spec;
  if (!isObject(spec)) return;
  defaultMatchResources(spec.matchResources);
  if (isObject(spec.paramRef) && !spec.paramRef.parameterNotFoundAction) spec.paramRef.parameterNotFoundAction = 'Deny';
}

/** Compile errors of a mutation's (or variable's) expression; `want` checks the result type. */
function mutationExpressionErrors(expr: unknown, p: FieldPath, want: 'Object' | 'list' | 'any'): FieldError[] {
  if (typeof expr !== 'string' || !expr.trim()) return [required(p, 'expression is not specified')];
  try {
    const type = compileMutation(expr).resultType;
    if (want === 'Object' && !(type === 'dyn' || type.startsWith('map<')))
      return [invalid(p, expr, `must evaluate to Object but got ${type}`)];
    if (want === 'list' && !(type === 'dyn' || type.startsWith('list<')))
      return [invalid(p, expr, `must evaluate to list(JSONPatch) but got ${type}`)];
    return [];
  } catch (err) {
    return [invalid(p, expr, err instanceof CelCompileError ? err.detail : String(err))];
  }
}

function validateMutation(m: Mutation, p: FieldPath): FieldError[] {
  if (!isObject(m)) return [required(p)];
  const errs: FieldError[] = [];
  if (!isSet(m.patchType)) errs.push(required(p.child('patchType')));
  else if (!PATCH_TYPES.includes(m.patchType)) errs.push(notSupported(p.child('patchType'), m.patchType, PATCH_TYPES));
  if (m.patchType === 'ApplyConfiguration') {
    if (!isObject(m.applyConfiguration))
      errs.push(required(p.child('applyConfiguration'), 'must be specified when patchType is ApplyConfiguration'));
    else
      errs.push(
        ...mutationExpressionErrors(
          m.applyConfiguration.expression,
          p.child('applyConfiguration', 'expression'),
          'Object',
        ),
      );
    if (isSet(m.jsonPatch))
      errs.push(invalid(p.child('jsonPatch'), '{}', 'must not be specified when patchType is ApplyConfiguration'));
  }
  if (m.patchType === 'JSONPatch') {
    if (!isObject(m.jsonPatch))
      errs.push(required(p.child('jsonPatch'), 'must be specified when patchType is JSONPatch'));
    else errs.push(...mutationExpressionErrors(m.jsonPatch.expression, p.child('jsonPatch', 'expression'), 'list'));
    if (isSet(m.applyConfiguration))
      errs.push(invalid(p.child('applyConfiguration'), '{}', 'must not be specified when patchType is JSONPatch'));
  }
  return errs;
}

export function validateMutatingPolicy(obj: MutatingAdmissionPolicy): FieldError[] {
  const spec = obj?.spec;
  const p = path('spec');
  if (!isObject(spec)) return [required(p)];
  const errs: FieldError[] = [];
  errs.push(...validatePolicyMatching(spec, p));
  if (isSet(spec.reinvocationPolicy) && !REINVOCATION_POLICIES.includes(spec.reinvocationPolicy))
    errs.push(notSupported(p.child('reinvocationPolicy'), spec.reinvocationPolicy, REINVOCATION_POLICIES));
  const mutations = listOf(spec.mutations);
  if (mutations.length === 0) errs.push(required(p.child('mutations'), 'mutations must contain at least one item'));
  mutations.forEach((m, i) => errs.push(...validateMutation(m, p.child('mutations').index(i))));
  errs.push(...validatePolicyVariables(spec, p, (e, ep) => mutationExpressionErrors(e, ep, 'any'), MUTATION_VARIABLES));
  return errs;
}

export function validateMutatingBinding(obj: MutatingAdmissionPolicyBinding): FieldError[] {
  const spec = obj?.spec;
  const p = path('spec');
  if (!isObject(spec)) return [required(p)];
  const errs: FieldError[] = [];
  if (!spec.policyName) errs.push(required(p.child('policyName')));
  errs.push(...validateParamRef(spec.paramRef, p.child('paramRef')));
  errs.push(...validateMatchResources(spec.matchResources, p.child('matchResources'), false));
  return errs;
}

/** Upstream printMutatingAdmissionPolicy: NAME, MUTATIONS, PARAMKIND, AGE. */
const mutatingAdmissionPolicyColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Mutations',
    type: 'integer',
    description: 'Mutations indicates the number of mutations rules defined in this configuration',
    cell: (o: MutatingAdmissionPolicy) => (o.spec?.mutations ?? []).length,
  },
  {
    name: 'ParamKind',
    type: 'string',
    description: 'ParamKind specifies the kind of resources used to parameterize this policy',
    cell: (o: MutatingAdmissionPolicy) =>
      o.spec?.paramKind ? `${o.spec.paramKind.apiVersion}/${o.spec.paramKind.kind}` : '<unset>',
  },
  ageColumn(),
];

// v1beta1 is stored and preferred; v1alpha1 (1.32–1.33) has the same shape.
const VERSIONS = [{ name: 'v1beta1' }, { name: 'v1alpha1' }];

export const mutatingAdmissionPolicyResource: ResourceDef = {
  group: 'admissionregistration.k8s.io',
  versions: VERSIONS,
  kind: 'MutatingAdmissionPolicy',
  plural: 'mutatingadmissionpolicies',
  singular: 'mutatingadmissionpolicy',
  categories: ['api-extensions'],
  namespaced: false,
  generationTracksSpec: true,
  defaults: defaultMutatingPolicy,
  validate: validateMutatingPolicy,
  table: mutatingAdmissionPolicyColumns,
};

export const mutatingAdmissionPolicyBindingResource: ResourceDef = {
  group: 'admissionregistration.k8s.io',
  versions: VERSIONS,
  kind: 'MutatingAdmissionPolicyBinding',
  plural: 'mutatingadmissionpolicybindings',
  singular: 'mutatingadmissionpolicybinding',
  categories: ['api-extensions'],
  namespaced: false,
  generationTracksSpec: true,
  defaults: defaultMutatingBinding,
  validate: validateMutatingBinding,
  // The binding's columns are the validating binding's (same policyName and paramRef).
  table: validatingAdmissionPolicyBindingColumns,
};
