// Which requests a webhook's rules select (upstream predicates/rules): scope, operation, group,
// version and resource/subresource, each an exact value or "*". Pure functions of the request's
// coordinates, so the matching is unit-tested without a server.
import type { RuleWithOperations as TypesRule } from 'kubernetes-types/admissionregistration/v1.js';

/** kubernetes-types leaves out the fields Go inlines from Rule (resources, scope). */
export interface RuleWithOperations extends TypesRule {
  resources?: string[];
  scope?: string;
}

/** The coordinates of one request as a rule sees them (the resource possibly an equivalent one). */
export interface RuleTarget {
  operation: string;
  group: string;
  version: string;
  resource: string;
  /** '' for the main resource. */
  subresource: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
}

const exactOrWildcard = (items: readonly string[] | undefined, value: string): boolean =>
  (items ?? []).some((item) => item === '*' || item === value);

/** Namespaces are cluster-scoped objects that a `Namespaced` rule never selects. */
const isNamespaceResource = (t: RuleTarget) => t.group === '' && t.version === 'v1' && t.resource === 'namespaces';

function scopeMatches(scope: string | undefined, t: RuleTarget): boolean {
  if (!scope || scope === '*') return true;
  if (scope === 'Namespaced') return !isNamespaceResource(t) && t.namespace !== '';
  if (scope === 'Cluster') return isNamespaceResource(t) || t.namespace === '';
  return false;
}

/** "pods/status" → ["pods", "status"]; "pods" → ["pods", ""]. */
function splitResource(entry: string): [string, string] {
  const slash = entry.indexOf('/');
  return slash < 0 ? [entry, ''] : [entry.slice(0, slash), entry.slice(slash + 1)];
}

function resourceMatches(resources: readonly string[] | undefined, t: RuleTarget): boolean {
  return (resources ?? []).some((entry) => {
    const [res, sub] = splitResource(entry);
    return (res === '*' || res === t.resource) && (sub === '*' || sub === t.subresource);
  });
}

/** One rule against one request. */
export function ruleMatches(rule: RuleWithOperations, t: RuleTarget): boolean {
  return (
    scopeMatches(rule.scope, t) &&
    exactOrWildcard(rule.operations, t.operation) &&
    exactOrWildcard(rule.apiGroups, t.group) &&
    exactOrWildcard(rule.apiVersions, t.version) &&
    resourceMatches(rule.resources, t)
  );
}

/** Whether any of a webhook's rules selects the request. */
export const anyRuleMatches = (rules: readonly RuleWithOperations[] | undefined, t: RuleTarget): boolean =>
  (rules ?? []).some((r) => ruleMatches(r, t));

const ADMISSION_CONFIGURATION_KINDS = new Set([
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'MutatingAdmissionPolicy',
  'MutatingAdmissionPolicyBinding',
]);

/**
 * Admission configuration objects never go to webhooks: a broken webhook could otherwise make
 * itself impossible to remove (upstream IsExemptAdmissionConfigurationResource).
 */
export const isExemptFromWebhooks = (group: string, kind: string): boolean =>
  group === 'admissionregistration.k8s.io' && ADMISSION_CONFIGURATION_KINDS.has(kind);
