// matchConditions: CEL expressions that narrow which requests a webhook sees (src/cel). All true:
// the webhook is called; one false: it is skipped; one that cannot be evaluated (and none false):
// an error, which fails closed as Forbidden under failurePolicy Fail and skips under Ignore.
import type { MatchCondition } from 'kubernetes-types/admissionregistration/v1.js';
import { admissionActivation, compileMatchConditions, type CompiledMatchConditions } from '../../../cel/index.js';
import type { AdmissionRequest } from './review.js';

/** Decides whether a webhook is called: true to call it, false to skip it; throws when it cannot evaluate. */
export interface MatchConditionEvaluator {
  matches(conditions: readonly MatchCondition[], request: AdmissionRequest): boolean | Promise<boolean>;
}

/** Compiled once per configuration version: the cache's objects are replaced, never changed. */
const compiled = new WeakMap<readonly MatchCondition[], CompiledMatchConditions>();

export const celMatchConditions: MatchConditionEvaluator = {
  matches(conditions, request) {
    let programs = compiled.get(conditions);
    if (!programs) compiled.set(conditions, (programs = compileMatchConditions(conditions)));
    const result = programs.evaluate(
      admissionActivation({
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
  },
};
