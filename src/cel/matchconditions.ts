// matchConditions of admission webhooks and ValidatingAdmissionPolicies: CEL expressions over
// the request that decide whether the webhook or policy applies (upstream
// k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions). All must be true to match; a
// false one wins over errors; otherwise an error is returned for the caller's failurePolicy.
import { AUTHORIZER_TYPE } from './libraries/authz.js';
import { CelCompileError, type Program, type VariableTypes, compile } from './environment.js';
import type { FieldError } from '../machinery/fielderrors.js';
import { invalid, path as fieldPath, type FieldPath } from '../machinery/fielderrors.js';

/** The variables admission expressions see (object, oldObject, request, params, …). */
export const ADMISSION_VARIABLES: VariableTypes = {
  object: 'dyn',
  oldObject: 'dyn',
  request: 'dyn',
  params: 'dyn',
  namespaceObject: 'dyn',
  authorizer: AUTHORIZER_TYPE,
  variables: 'dyn',
};

export interface MatchCondition {
  name: string;
  expression: string;
}

export type MatchResult =
  | { matches: true }
  | { matches: false; failedCondition: string }
  | { matches: false; error: string; failedCondition: string };

export interface CompiledMatchConditions {
  /** Compile errors as field errors under `<root>[i].expression` (empty when all compiled). */
  errors: FieldError[];
  /** Evaluates all conditions with the given variables (bind them with admissionActivation). */
  evaluate(vars: Record<string, unknown>): MatchResult;
}

/**
 * Compiles a list of matchConditions once; the result is evaluated per request. Expressions
 * that do not compile are reported in `errors` and evaluate as errors.
 */
export function compileMatchConditions(
  conditions: readonly MatchCondition[],
  root: FieldPath = fieldPath('matchConditions'),
  vars: VariableTypes = ADMISSION_VARIABLES,
): CompiledMatchConditions {
  const errors: FieldError[] = [];
  const programs: { name: string; program?: Program; error?: string }[] = conditions.map((c, i) => {
    try {
      const program = compile(c.expression, vars);
      if (!['bool', 'dyn'].includes(program.resultType)) {
        const detail = `must evaluate to bool`;
        errors.push(invalid(root.index(i).child('expression'), c.expression, detail));
        return { name: c.name, error: detail };
      }
      return { name: c.name, program };
    } catch (err) {
      const detail = err instanceof CelCompileError ? err.detail : String(err);
      errors.push(invalid(root.index(i).child('expression'), c.expression, detail));
      return { name: c.name, error: detail };
    }
  });
  return {
    errors,
    evaluate(bindings) {
      let firstError: { name: string; error: string } | undefined;
      for (const p of programs) {
        if (!p.program) {
          firstError ??= { name: p.name, error: p.error! };
          continue;
        }
        try {
          const v = p.program.evaluate(bindings).value;
          if (v === false) return { matches: false, failedCondition: p.name };
          if (v !== true) firstError ??= { name: p.name, error: 'expression must evaluate to bool' };
        } catch (err) {
          firstError ??= { name: p.name, error: (err as Error).message };
        }
      }
      if (firstError) return { matches: false, error: firstError.error, failedCondition: firstError.name };
      return { matches: true };
    },
  };
}
