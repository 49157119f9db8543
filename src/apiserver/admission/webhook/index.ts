// Admission webhooks (admissionregistration.k8s.io/v1): the two plugins the admission chain
// runs, reading their configurations from the API server's own stores.
import type { MutatingWebhook, ValidatingWebhook } from 'kubernetes-types/admissionregistration/v1.js';
import type { Namespace } from 'kubernetes-types/core/v1.js';
import type { WebhookDeps } from './call.js';
import { WebhookSource } from './config.js';
import { type MatchConditionEvaluator, celMatchConditions } from './matchconditions.js';
import { MutatingWebhookAdmission } from './mutating.js';
import type { StoreLookup } from './service.js';
import { ValidatingWebhookAdmission } from './validating.js';

export { MutatingWebhookAdmission } from './mutating.js';
export { ValidatingWebhookAdmission } from './validating.js';
export { type MatchConditionEvaluator, celMatchConditions, celMatchConditionsWith } from './matchconditions.js';
export { ruleMatches, anyRuleMatches, isExemptFromWebhooks, type RuleTarget } from './rules.js';

const GROUP = 'admissionregistration.k8s.io';

/** Both webhook plugins; `matchConditions` decides which requests a webhook with conditions sees. */
export function webhookAdmission(
  stores: StoreLookup,
  matchConditions: MatchConditionEvaluator = celMatchConditions,
): { mutating: MutatingWebhookAdmission; validating: ValidatingWebhookAdmission } {
  const deps: WebhookDeps = {
    stores,
    namespaceLabels: (name) => {
      const ns = stores('', 'namespaces')?.tryGet(undefined, name)?.obj as Namespace | undefined;
      return ns ? (ns.metadata?.labels ?? {}) : undefined;
    },
    matchConditions,
  };
  return {
    mutating: new MutatingWebhookAdmission(
      new WebhookSource<MutatingWebhook>(() => stores(GROUP, 'mutatingwebhookconfigurations')),
      deps,
    ),
    validating: new ValidatingWebhookAdmission(
      new WebhookSource<ValidatingWebhook>(() => stores(GROUP, 'validatingwebhookconfigurations')),
      deps,
    ),
  };
}
