// CEL for the API server: compile and evaluate expressions with Kubernetes' libraries, cost
// limits and JSON → CEL value conversion.
export {
  CelCompileError,
  CelEvaluationError,
  compile,
  optionalOf,
  type EvalResult,
  type Program,
  type VariableTypes,
} from './environment.js';
export { COST_EXCEEDED_MESSAGE, PER_CALL_LIMIT, RUNTIME_COST_BUDGET } from './cost.js';
export { fromCel, toCel, type ValueSchema } from './values.js';
export {
  ADMISSION_VARIABLES,
  compileMatchConditions,
  type CompiledMatchConditions,
  type MatchCondition,
  type MatchResult,
} from './matchconditions.js';
export { admissionActivation, type AdmissionRequestInfo } from './activation.js';
export { compileMutation, JSONPATCH_LIBRARY, MUTATION_VARIABLES } from './mutation.js';
export { desugarObjectConstruction, objectTypeErrors, objectTypeName } from './objectconstruction.js';
export { AUTHZ_CHECK_COST, type AuthorizeFn, type AuthzAttributes } from './libraries/authz.js';
