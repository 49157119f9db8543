// matchConditions: CEL expressions that narrow which requests a webhook sees (src/cel). All true:
// the webhook is called; one false: it is skipped; one that cannot be evaluated (and none false):
// an error, which fails closed as Forbidden under failurePolicy Fail and skips under Ignore.
import type { MatchCondition } from 'kubernetes-types/admissionregistration/v1.js';
import {
  type AuthorizeFn,
  admissionActivation,
  compileMatchConditions,
  type CompiledMatchConditions,
} from '../../../cel/index.js';
import type { AdmissionRequest } from './review.js';

/** Decides whether a webhook is called: true to call it, false to skip it; throws when it cannot evaluate. */
export interface MatchConditionEvaluator {
  matches(conditions: readonly MatchCondition[], request: AdmissionRequest): boolean | Promise<boolean>;
}

/** Compiled once per configuration version: the cache's objects are replaced, never changed. */
const compiled = new WeakMap<readonly MatchCondition[], CompiledMatchConditions>();

/** matchConditions evaluated with CEL; `authorize` binds the `authorizer` variable (null without it). */
export function celMatchConditionsWith(authorize: () => AuthorizeFn | undefined): MatchConditionEvaluator {
  return {
    matches: (conditions, request) => evaluate(conditions, request, authorize()),
  };
}

/** matchConditions evaluated with CEL, no authorizer bound. */
export const celMatchConditions: MatchConditionEvaluator = celMatchConditionsWith(() => undefined);

function evaluate(
  conditions: readonly MatchCondition[],
  request: AdmissionRequest,
  authorize: AuthorizeFn | undefined,
): boolean {
  let programs = compiled.get(conditions);
  if (!programs) compiled.set(conditions, (programs = compileMatchConditions(conditions)));
  const result = programs.evaluate(
    admissionActivation({
      authorize,
      object: request.object ?? undefined,
      oldObject: request.oldObject ?? undefined,
      request: { ...request, name: request.name ?? '', namespace: request.namespace ?? '' },
    }),
  );
  if (result.matches) return true;
  if ('error' in result && result.error !== undefined)
    throw new Error(
      `failed evaluating match conditions, failing closed: matchCondition '${result.failedCondition}': ${result.error}`,
    );
  return false;
}
