// The MutatingAdmissionPolicy admission plugin (upstream
// k8s.io/apiserver/pkg/admission/plugin/policy/mutating): for every binding whose policy matches
// a request, and every params object it selects, the policy's mutations run in order, each on
// the object the previous one left: ApplyConfiguration merges the CEL-built object into the
// request's with structured-merge semantics (as server-side apply merges), JSONPatch applies the
// CEL-built operations. Evaluation failures refuse the request under failurePolicy Fail.
//
// It runs before the mutating webhooks, as upstream orders the plugins; `reinvocation` is the
// second pass after them: policies with reinvocationPolicy IfNeeded run once more when a later
// mutation (another policy's or a webhook's) changed the object since they ran.
import type { AdmissionAttributes, MutatingPlugin } from '../interfaces.js';
import { checkStorableSize } from '../../store.js';
import type {
  MutatingAdmissionPolicy,
  MutatingAdmissionPolicyBinding,
  Mutation,
} from '../../../api/admissionregistration/v1/mutatingadmissionpolicy.js';
import * as errors from '../../../machinery/errors.js';
import { deepCopy, deepEqual, isPlainObject } from '../../../machinery/objects.js';
import { jsonPatch } from '../../../machinery/patch/json.js';
import { atomicFields, merge, type TypeRef } from '../../../machinery/ssa/typed.js';
import {
  type CompiledMatchConditions,
  JSONPATCH_LIBRARY,
  MUTATION_VARIABLES,
  type Program,
  compileMatchConditions,
  compileMutation,
  fromCel,
  objectTypeErrors,
  objectTypeName,
} from '../../../cel/index.js';
import type { PolicyDeps } from '../validatingpolicy/index.js';
import { matchesResources } from '../validatingpolicy/matching.js';
import { EvaluationFailure, authorizeFn, collectParams, policyActivation } from '../validatingpolicy/params.js';
import { replaceContents } from '../webhook/patch.js';

const GROUP = 'admissionregistration.k8s.io';

export interface MutatingPolicyDeps extends PolicyDeps {
  /** The schema of a kind (ApplyConfiguration merges by it); undefined: merged as free-form JSON. */
  typeFor?(group: string, version: string, kind: string): TypeRef | undefined;
}

interface CompiledExpression {
  source: string;
  program?: Program;
  error?: string;
}

interface CompiledMutation {
  patchType: Mutation['patchType'];
  expression: CompiledExpression;
}

interface CompiledPolicy {
  key: string;
  policy: MutatingAdmissionPolicy;
  name: string;
  failurePolicy: 'Fail' | 'Ignore';
  reinvoke: boolean;
  matchConditions: CompiledMatchConditions;
  variables: { name: string; expression: CompiledExpression }[];
  mutations: CompiledMutation[];
}

/** A failure the policy's failurePolicy decides about. */
interface PolicyError {
  policy: CompiledPolicy;
  binding: string;
  message: string;
  /** Upstream sets Invalid for evaluation failures, nothing for configuration ones. */
  reason?: string;
}

/** Upstream's policyReinvokeContext: which invocations run again in the second pass. */
interface ReinvocationState {
  /** IfNeeded invocations that ran since the object last changed. */
  previouslyInvoked: Set<string>;
  /** Invocations to run in the reinvocation pass. */
  toReinvoke: Set<string>;
  /** The object as the last pass of this plugin left it. */
  lastOutput: unknown;
}

function compileExpression(source: unknown): CompiledExpression {
  const text = typeof source === 'string' ? source : '';
  try {
    return { source: text, program: compileMutation(text) };
  } catch (err) {
    return { source: text, error: (err as Error).message };
  }
}

function compilePolicy(p: MutatingAdmissionPolicy): CompiledPolicy {
  const spec = p.spec ?? {};
  return {
    key: `${p.metadata?.uid}/${p.metadata?.generation}`,
    policy: p,
    name: p.metadata?.name ?? '',
    failurePolicy: spec.failurePolicy === 'Ignore' ? 'Ignore' : 'Fail',
    reinvoke: spec.reinvocationPolicy === 'IfNeeded',
    matchConditions: compileMatchConditions(spec.matchConditions ?? [], undefined, MUTATION_VARIABLES),
    variables: (spec.variables ?? []).map((v) => ({ name: v.name, expression: compileExpression(v.expression) })),
    mutations: (spec.mutations ?? []).map((m) => ({
      patchType: m.patchType,
      expression: compileExpression(
        m.patchType === 'JSONPatch' ? m.jsonPatch?.expression : m.applyConfiguration?.expression,
      ),
    })),
  };
}

/** The expression's value as CEL left it (constructed objects keep their type names). */
function run(expr: CompiledExpression, vars: Record<string, unknown>): unknown {
  if (!expr.program) throw new EvaluationFailure(`compilation error: ${expr.error}`);
  try {
    return expr.program.evaluate(vars).value;
  } catch (err) {
    throw new EvaluationFailure(`expression '${expr.source}' resulted in error: ${(err as Error).message}`);
  }
}

const byName = (a: { metadata?: { name?: string } }, b: { metadata?: { name?: string } }): number =>
  (a.metadata?.name ?? '') < (b.metadata?.name ?? '')
    ? -1
    : (a.metadata?.name ?? '') > (b.metadata?.name ?? '')
      ? 1
      : 0;

export class MutatingAdmissionPolicyPlugin implements MutatingPlugin {
  readonly name = 'MutatingAdmissionPolicy';
  private readonly compiled = new Map<string, CompiledPolicy>();
  private readonly reinvocations = new WeakMap<AdmissionAttributes, ReinvocationState>();

  /** The second pass, placed after the mutating webhooks. */
  readonly reinvocation: MutatingPlugin = {
    name: 'MutatingAdmissionPolicy/reinvocation',
    handles: (a) => this.reinvocations.get(a)?.toReinvoke !== undefined && this.handles(a),
    admit: (a) => this.dispatch(a, true),
  };

  constructor(private readonly deps: MutatingPolicyDeps) {}

  private list<T>(plural: string): T[] {
    const s = this.deps.tryStore(GROUP, plural);
    return s ? s.cache.list(s.keyPrefix()).map((x) => x.obj as T) : [];
  }

  handles(a: AdmissionAttributes): boolean {
    // Never for admission configuration itself (no lock-out), nor without an object to mutate.
    if (a.group === GROUP || a.object === undefined || a.object === null) return false;
    if (a.operation !== 'CREATE' && a.operation !== 'UPDATE' && a.operation !== 'CONNECT') return false;
    const s = this.deps.tryStore(GROUP, 'mutatingadmissionpolicybindings');
    return !!s && s.cache.list(s.keyPrefix()).length > 0;
  }

  admit(a: AdmissionAttributes): void {
    this.dispatch(a, false);
  }

  private policy(obj: MutatingAdmissionPolicy): CompiledPolicy {
    const name = obj.metadata?.name ?? '';
    const key = `${obj.metadata?.uid}/${obj.metadata?.generation}`;
    let c = this.compiled.get(name);
    if (!c || c.key !== key) {
      c = compilePolicy(obj);
      this.compiled.set(name, c);
    }
    return c;
  }

  private dispatch(a: AdmissionAttributes, reinvoke: boolean): void {
    let state = this.reinvocations.get(a);
    if (!state) {
      state = { previouslyInvoked: new Set(), toReinvoke: new Set(), lastOutput: undefined };
      this.reinvocations.set(a, state);
    }
    if (reinvoke && !deepEqual(state.lastOutput, a.object)) {
      // Something after this plugin changed the object: every IfNeeded invocation runs again.
      for (const k of state.previouslyInvoked) state.toReinvoke.add(k);
    }
    if (reinvoke && state.toReinvoke.size === 0) return;
    const policyObjects = this.list<MutatingAdmissionPolicy>('mutatingadmissionpolicies').sort(byName);
    for (const name of this.compiled.keys())
      if (!policyObjects.some((p) => p.metadata?.name === name)) this.compiled.delete(name);
    const bindings = this.list<MutatingAdmissionPolicyBinding>('mutatingadmissionpolicybindings').sort(byName);
    const namespaceObject: unknown =
      a.namespace && !(a.group === '' && a.resource === 'namespaces')
        ? this.deps.tryStore('', 'namespaces')?.tryGet(undefined, a.namespace)?.obj
        : undefined;
    const failures: PolicyError[] = [];
    for (const policyObj of policyObjects) {
      const policy = this.policy(policyObj);
      if (!matchesResources(policyObj.spec?.matchConstraints, a, namespaceObject, true)) continue;
      for (const binding of bindings) {
        if (binding.spec?.policyName !== policy.name) continue;
        if (!matchesResources(binding.spec?.matchResources, a, namespaceObject, false)) continue;
        const bindingName = binding.metadata?.name ?? '';
        let paramsList: unknown[] | undefined;
        try {
          paramsList = collectParams(
            (g, k) => this.deps.storeForKind?.(g, k),
            policyObj.spec?.paramKind,
            binding.spec?.paramRef,
            a.namespace,
          );
          if (paramsList?.length === 0 && binding.spec?.paramRef?.parameterNotFoundAction !== 'Allow')
            throw new EvaluationFailure(
              'failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction',
            );
        } catch (err) {
          if (!(err instanceof EvaluationFailure)) throw err;
          failures.push({ policy, binding: bindingName, message: err.message });
          continue;
        }
        for (const params of paramsList ?? [undefined]) {
          const meta = (params as { metadata?: { namespace?: string; name?: string } } | undefined)?.metadata;
          const key = `${policy.name}/${bindingName}/${meta?.namespace ?? ''}/${meta?.name ?? ''}`;
          this.invoke(a, policy, bindingName, params, namespaceObject, key, reinvoke, state, failures);
        }
      }
    }
    state.lastOutput = deepCopy(a.object);
    this.refuse(a, failures);
  }

  /** One policy × binding × params: its match conditions, then its mutations in order. */
  private invoke(
    a: AdmissionAttributes,
    policy: CompiledPolicy,
    binding: string,
    params: unknown,
    namespaceObject: unknown,
    key: string,
    reinvoke: boolean,
    state: ReinvocationState,
    failures: PolicyError[],
  ): void {
    const fail = (err: unknown) => {
      if (!(err instanceof EvaluationFailure || err instanceof errors.ApiError)) throw err;
      failures.push({ policy, binding, message: err.message, reason: 'Invalid' });
    };
    const match = policy.matchConditions.evaluate(this.activation(a, params, namespaceObject, policy, () => undefined));
    if (!match.matches) {
      if ('error' in match)
        fail(new EvaluationFailure(`failed to evaluate match condition '${match.failedCondition}': ${match.error}`));
      return;
    }
    if (reinvoke && !state.toReinvoke.has(key)) return;
    const before: unknown = deepCopy(a.object);
    for (const mutation of policy.mutations) {
      try {
        const vars = this.activation(a, params, namespaceObject, policy, fail);
        this.adopt(a, this.mutate(a, mutation, vars));
      } catch (err) {
        fail(err);
      }
    }
    if (!deepEqual(before, a.object)) {
      // upstream RequireReinvokingPreviouslyInvokedPlugins
      for (const k of state.previouslyInvoked) state.toReinvoke.add(k);
      state.previouslyInvoked.clear();
    }
    if (policy.reinvoke) state.previouslyInvoked.add(key);
  }

  /** The variables with the policy's own `variables` evaluated (failures reported through fail). */
  private activation(
    a: AdmissionAttributes,
    params: unknown,
    namespaceObject: unknown,
    policy: CompiledPolicy,
    fail: (err: unknown) => void,
  ): Record<string, unknown> {
    const vars = policyActivation(a, params, namespaceObject, authorizeFn(this.deps));
    vars.jsonpatch = JSONPATCH_LIBRARY;
    const variables = Object.create(null) as Record<string, unknown>;
    vars.variables = variables;
    for (const v of policy.variables) {
      try {
        const program = v.expression.program;
        if (!program) throw new EvaluationFailure(`compilation error: ${v.expression.error}`);
        variables[v.name] = program.evaluate(vars).value;
      } catch (err) {
        fail(
          err instanceof EvaluationFailure
            ? err
            : new EvaluationFailure(`expression '${v.expression.source}' resulted in error: ${(err as Error).message}`),
        );
      }
    }
    return vars;
  }

  /** The object after one mutation (the request's object itself when unchanged). */
  private mutate(a: AdmissionAttributes, mutation: CompiledMutation, vars: Record<string, unknown>): unknown {
    const value = run(mutation.expression, vars);
    if (mutation.patchType === 'JSONPatch') {
      const result = fromCel(value);
      if (!Array.isArray(result))
        throw new EvaluationFailure('type mismatch: JSONPatchType.expression should evaluate to array');
      try {
        return jsonPatch(a.object, result);
      } catch (err) {
        // A failed `test` operation leaves the object as it was (upstream: ErrTestFailed).
        if (/test failed$/.test((err as Error).message)) return a.object;
        throw new EvaluationFailure(`JSONPath: ${(err as Error).message}`);
      }
    }
    // Upstream's compiler lets only an `Object{...}` construction through; then its type names
    // must follow the field paths (`Object.spec{selector: Object.spec.selector{...}}`).
    const typeName = objectTypeName(value);
    if (typeName !== 'Object')
      throw new EvaluationFailure(
        `unsupported return type from ApplyConfiguration expression: ${typeName ?? (Array.isArray(value) ? 'list' : typeof value)}`,
      );
    const mismatches = objectTypeErrors(value);
    if (mismatches.length) throw new EvaluationFailure(`type mismatch: ${mismatches.join('\n')}`);
    const result = fromCel(value);
    const type = this.deps.typeFor?.(a.group, a.version, a.kind) ?? { schema: undefined };
    // Setting an atomic list, map or struct would replace it whole (upstream's validatePatch).
    const atomics = atomicFields(result, type);
    if (atomics.length)
      throw new EvaluationFailure(
        `error applying patch: invalid ApplyConfiguration: may not mutate atomic arrays, maps or structs: ${atomics.join(', ')}`,
      );
    try {
      return merge(a.object, result, type);
    } catch (err) {
      throw new EvaluationFailure(`error applying patch: failed to merge patch: ${(err as Error).message}`);
    }
  }

  /** Take a mutation's result as the request's object, defaulted like any object. */
  private adopt(a: AdmissionAttributes, patched: unknown): void {
    if (patched === a.object) return;
    if (!isPlainObject(patched)) throw new EvaluationFailure('mutation did not produce an object');
    const namespace = (patched.metadata as { namespace?: string } | undefined)?.namespace ?? '';
    if (a.def.namespaced && a.namespace && namespace !== a.namespace)
      throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    a.def.defaults?.(patched);
    checkStorableSize(patched);
    if (!deepEqual(patched, a.object)) replaceContents(a.object as Record<string, unknown>, patched);
  }

  /** Upstream's generic policy dispatcher: Fail-policy errors refuse the request, the first one names it. */
  private refuse(a: AdmissionAttributes, failures: PolicyError[]): void {
    const counted = failures.filter((f) => f.policy.failurePolicy === 'Fail');
    if (counted.length === 0) return;
    const messages = counted.map(
      (f) => `policy '${f.policy.name}' with binding '${f.binding}' denied request: ${f.message}`,
    );
    const base = errors.forbidden(
      { group: a.group, resource: a.resource },
      a.name,
      'admission request denied by policy',
    );
    throw new errors.ApiError(403, counted[0].reason ?? 'Forbidden', messages[0], {
      ...base.details,
      causes: messages.map((message) => ({ message })),
    });
  }
}
