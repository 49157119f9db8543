// The ValidatingAdmissionPolicy admission plugin (upstream
// k8s.io/apiserver/pkg/admission/plugin/policy/validating): every binding whose policy matches a
// request evaluates the policy's CEL validations with object, oldObject, request, params,
// namespaceObject and variables bound, and Denies, Warns or Audits on failure. Policies are
// compiled once per generation and cached.
import type {
  MatchResources,
  ParamKind,
  ValidatingAdmissionPolicy,
  ValidatingAdmissionPolicyBinding,
} from 'kubernetes-types/admissionregistration/v1.js';
import type { AdmissionAttributes, ValidatingPlugin } from '../interfaces.js';
import type { Store } from '../../store.js';
import * as errors from '../../../machinery/errors.js';
import {
  ADMISSION_VARIABLES,
  type AuthzAttributes,
  type CompiledMatchConditions,
  type Program,
  compile,
  compileMatchConditions,
} from '../../../cel/index.js';
import { matchesResources } from './matching.js';
import { EvaluationFailure, authorizeFn, collectParams, policyActivation } from './params.js';

const GROUP = 'admissionregistration.k8s.io';

export interface PolicyDeps {
  tryStore(group: string, plural: string): Store | undefined;
  /** The store of a served kind (for paramKind), or undefined. */
  storeForKind?(group: string, kind: string): Store | undefined;
  /** The server's authorizer (the CEL `authorizer` variable checks the request's user with it). */
  authorizer?(): { authorize(a: AuthzAttributes): { decision: string; reason: string } } | undefined;
}

interface CompiledExpression {
  source: string;
  program?: Program;
  error?: string;
}

interface CompiledValidation {
  expression: CompiledExpression;
  message?: string;
  messageExpression?: CompiledExpression;
  reason?: string;
}

interface CompiledPolicy {
  key: string;
  name: string;
  failurePolicy: 'Fail' | 'Ignore';
  paramKind?: ParamKind;
  matchConstraints?: MatchResources;
  matchConditions: CompiledMatchConditions;
  variables: { name: string; expression: CompiledExpression }[];
  validations: CompiledValidation[];
}

/** One failed validation (or evaluation error under failurePolicy Fail). */
interface Failure {
  message: string;
  reason: string;
}

function compileExpression(source: unknown): CompiledExpression {
  const text = typeof source === 'string' ? source : '';
  try {
    return { source: text, program: compile(text, ADMISSION_VARIABLES) };
  } catch (err) {
    return { source: text, error: (err as Error).message };
  }
}

function compilePolicy(p: ValidatingAdmissionPolicy): CompiledPolicy {
  const spec = p.spec ?? {};
  return {
    key: `${p.metadata?.uid}/${p.metadata?.generation}`,
    name: p.metadata?.name ?? '',
    failurePolicy: spec.failurePolicy === 'Ignore' ? 'Ignore' : 'Fail',
    paramKind: spec.paramKind,
    matchConstraints: spec.matchConstraints,
    matchConditions: compileMatchConditions(spec.matchConditions ?? []),
    variables: (spec.variables ?? []).map((v) => ({ name: v.name, expression: compileExpression(v.expression) })),
    validations: (spec.validations ?? []).map((v) => ({
      expression: compileExpression(v.expression),
      message: typeof v.message === 'string' ? v.message : undefined,
      messageExpression: v.messageExpression ? compileExpression(v.messageExpression) : undefined,
      reason: v.reason,
    })),
  };
}

/** Upstream reasonToCode. */
function codeOf(reason: string): number {
  switch (reason) {
    case 'Forbidden':
      return 403;
    case 'Unauthorized':
      return 401;
    case 'RequestEntityTooLarge':
      return 413;
    default:
      return 422;
  }
}

function run(expr: CompiledExpression, vars: Record<string, unknown>): unknown {
  if (!expr.program) throw new EvaluationFailure(`compilation error: ${expr.error}`);
  try {
    return expr.program.evaluate(vars).value;
  } catch (err) {
    throw new EvaluationFailure(`expression '${expr.source}' resulted in error: ${(err as Error).message}`);
  }
}

export class ValidatingAdmissionPolicyPlugin implements ValidatingPlugin {
  readonly name = 'ValidatingAdmissionPolicy';
  private readonly compiled = new Map<string, CompiledPolicy>();

  constructor(private readonly deps: PolicyDeps) {}

  private list<T>(plural: string): T[] {
    const s = this.deps.tryStore(GROUP, plural);
    return s ? s.cache.list(s.keyPrefix()).map((x) => x.obj as T) : [];
  }

  handles(a: AdmissionAttributes): boolean {
    // Like upstream, policies never apply to admission configuration itself (no lock-out).
    if (a.group === GROUP) return false;
    const s = this.deps.tryStore(GROUP, 'validatingadmissionpolicybindings');
    return !!s && s.cache.list(s.keyPrefix()).length > 0;
  }

  private policy(obj: ValidatingAdmissionPolicy): CompiledPolicy {
    const name = obj.metadata?.name ?? '';
    const key = `${obj.metadata?.uid}/${obj.metadata?.generation}`;
    let c = this.compiled.get(name);
    if (!c || c.key !== key) {
      c = compilePolicy(obj);
      this.compiled.set(name, c);
    }
    return c;
  }

  validate(a: AdmissionAttributes): void {
    const policies = new Map(
      this.list<ValidatingAdmissionPolicy>('validatingadmissionpolicies').map((p) => [p.metadata?.name, p]),
    );
    // Forget compiled policies that were deleted.
    for (const name of this.compiled.keys()) if (!policies.has(name)) this.compiled.delete(name);
    const namespaceObject: unknown = a.namespace
      ? this.deps.tryStore('', 'namespaces')?.tryGet(undefined, a.namespace)?.obj
      : undefined;
    for (const binding of this.list<ValidatingAdmissionPolicyBinding>('validatingadmissionpolicybindings')) {
      const policyObj = policies.get(binding.spec?.policyName);
      if (!policyObj) continue;
      const policy = this.policy(policyObj);
      if (!matchesResources(policy.matchConstraints, a, namespaceObject, true)) continue;
      if (!matchesResources(binding.spec?.matchResources, a, namespaceObject, false)) continue;
      const failures = this.evaluateBinding(policy, binding, a, namespaceObject);
      this.enforce(policy, binding, a, failures);
    }
  }

  private evaluateBinding(
    policy: CompiledPolicy,
    binding: ValidatingAdmissionPolicyBinding,
    a: AdmissionAttributes,
    namespaceObject: unknown,
  ): Failure[] {
    const failures: Failure[] = [];
    const fail = (err: unknown) => {
      if (!(err instanceof EvaluationFailure)) throw err;
      if (policy.failurePolicy === 'Fail') failures.push({ message: err.message, reason: 'Invalid' });
    };
    let paramsList: unknown[] | undefined;
    try {
      paramsList = collectParams(
        (g, k) => this.deps.storeForKind?.(g, k),
        policy.paramKind,
        binding.spec?.paramRef,
        a.namespace,
      );
    } catch (err) {
      fail(err);
      return failures;
    }
    if (paramsList && paramsList.length === 0) {
      if (binding.spec?.paramRef?.parameterNotFoundAction === 'Allow') return failures;
      fail(new EvaluationFailure('no params found for policy binding with `Deny` parameterNotFoundAction'));
      return failures;
    }
    for (const params of paramsList ?? [undefined]) {
      const vars = policyActivation(a, params, namespaceObject, authorizeFn(this.deps));
      const match = policy.matchConditions.evaluate(vars);
      if (!match.matches) {
        if ('error' in match)
          fail(new EvaluationFailure(`failed to evaluate match condition '${match.failedCondition}': ${match.error}`));
        continue;
      }
      try {
        const variables = Object.create(null) as Record<string, unknown>;
        vars.variables = variables;
        for (const v of policy.variables) variables[v.name] = run(v.expression, vars);
        for (const v of policy.validations) {
          let ok: unknown;
          try {
            ok = run(v.expression, vars);
          } catch (err) {
            fail(err);
            continue;
          }
          if (ok === true) continue;
          failures.push({ message: this.messageOf(v, vars), reason: v.reason ?? 'Invalid' });
        }
      } catch (err) {
        fail(err);
      }
    }
    return failures;
  }

  /** messageExpression's text when it yields a usable string, else message, else the expression. */
  private messageOf(v: CompiledValidation, vars: Record<string, unknown>): string {
    if (v.messageExpression) {
      try {
        const text = run(v.messageExpression, vars);
        if (typeof text === 'string' && text.trim() && !/\n/.test(text.trim())) return text.trim();
      } catch {
        // Upstream falls back to the static message when messageExpression fails.
      }
    }
    if (v.message?.trim()) return v.message.trim();
    return `failed expression: ${v.expression.source.trim()}`;
  }

  private enforce(
    policy: CompiledPolicy,
    binding: ValidatingAdmissionPolicyBinding,
    a: AdmissionAttributes,
    failures: Failure[],
  ): void {
    if (failures.length === 0) return;
    const actions = binding.spec?.validationActions ?? [];
    const bindingName = binding.metadata?.name ?? '';
    if (actions.includes('Warn') && a.warnings) {
      for (const f of failures) {
        a.warnings.push(
          `Validation failed for ValidatingAdmissionPolicy '${policy.name}' with binding '${bindingName}': ${f.message}`,
        );
      }
    }
    // Audit: annotations go to the audit log, which this server does not write.
    if (!actions.includes('Deny')) return;
    const first = failures[0];
    const message = `ValidatingAdmissionPolicy '${policy.name}' with binding '${bindingName}' denied request: ${first.message}`;
    // Upstream builds admission.NewForbidden, then swaps in the validation's reason and code.
    const base = errors.forbidden({ group: a.group, resource: a.resource }, a.name, message);
    throw new errors.ApiError(codeOf(first.reason), first.reason, base.message, {
      ...base.details,
      causes: [...(base.details?.causes ?? []), { message }],
    });
  }
}
