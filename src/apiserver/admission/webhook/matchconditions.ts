// matchConditions (CEL expressions that narrow which requests a webhook sees). Evaluating them
// needs a CEL evaluator, which is being added separately: until one is plugged in here, a webhook
// with matchConditions is treated as upstream treats a condition that fails to evaluate, so it
// fails closed under failurePolicy Fail and is skipped under Ignore. Never silently called.
import type { MatchCondition } from 'kubernetes-types/admissionregistration/v1.js';
import type { AdmissionRequest } from './review.js';

/** What a CEL evaluator provides: true to call the webhook, false to skip it; throws when it cannot evaluate. */
export interface MatchConditionEvaluator {
  matches(conditions: readonly MatchCondition[], request: AdmissionRequest): boolean | Promise<boolean>;
}

/** The message of a webhook whose matchConditions cannot be evaluated yet. */
export const MATCH_CONDITIONS_PENDING = 'matchConditions are not supported yet: the CEL evaluator is pending';

/** The placeholder until the CEL evaluator lands: every evaluation is an error. */
export const pendingMatchConditions: MatchConditionEvaluator = {
  matches() {
    throw new Error(MATCH_CONDITIONS_PENDING);
  },
};
