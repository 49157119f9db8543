// Which requests a policy (matchConstraints) or binding (matchResources) applies to, as
// upstream's admission/plugin/policy/matching: resource rules with operations, groups, versions,
// resources/subresources, scope and resource names; exclusions; namespace and object selectors.
import type { MatchResources } from 'kubernetes-types/admissionregistration/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { AdmissionAttributes } from '../interfaces.js';
import type { AdmissionRule } from '../../../api/admissionregistration/v1/validatingadmissionpolicy.js';
import { labelSelectorMatches } from '../../../machinery/labels.js';

const has = (list: unknown, v: string): boolean => Array.isArray(list) && (list.includes('*') || list.includes(v));

function resourceMatches(resources: unknown, resource: string, subresource: string): boolean {
  if (!Array.isArray(resources)) return false;
  const full = subresource ? `${resource}/${subresource}` : resource;
  return resources.some((r: string) => {
    if (r === '*/*' || r === full) return true;
    if (r === '*') return !subresource;
    const [res, sub] = r.split('/', 2);
    if (sub === undefined) return false;
    return (res === '*' || res === resource) && (sub === '*' ? !!subresource : sub === subresource);
  });
}

function ruleMatches(rule: AdmissionRule, a: AdmissionAttributes): boolean {
  if (!has(rule?.operations, a.operation)) return false;
  if (!has(rule?.apiGroups, a.group)) return false;
  if (!has(rule?.apiVersions, a.version)) return false;
  if (!resourceMatches(rule?.resources, a.resource, a.subresource)) return false;
  const scope = rule?.scope ?? '*';
  if (scope === 'Cluster' && a.namespace) return false;
  if (scope === 'Namespaced' && !a.namespace) return false;
  const names = rule?.resourceNames;
  if (Array.isArray(names) && names.length > 0 && !names.includes(a.name)) return false;
  return true;
}

const labelsOf = (o: unknown): Record<string, string> | undefined =>
  (o as { metadata?: ObjectMeta } | undefined)?.metadata?.labels;

/** Upstream: a Namespace matches on its own labels, other cluster-scoped objects always match. */
function namespaceMatches(m: MatchResources, a: AdmissionAttributes, namespaceObject: unknown): boolean {
  const sel = m.namespaceSelector;
  if (!sel || Object.keys(sel).length === 0) return true;
  if (a.group === '' && a.resource === 'namespaces') {
    return labelSelectorMatches(sel, labelsOf(a.object ?? a.oldObject) ?? {});
  }
  if (!a.namespace) return true;
  return labelSelectorMatches(sel, labelsOf(namespaceObject) ?? {});
}

function objectMatches(m: MatchResources, a: AdmissionAttributes): boolean {
  const sel = m.objectSelector;
  if (!sel || Object.keys(sel).length === 0) return true;
  return (
    (a.object !== undefined && labelSelectorMatches(sel, labelsOf(a.object) ?? {})) ||
    (a.oldObject !== undefined && labelSelectorMatches(sel, labelsOf(a.oldObject) ?? {}))
  );
}

/**
 * Whether the request falls under `m`. `requireRules`: a policy's constraints must list
 * resourceRules; a binding without any (only selectors) matches every resource the policy does.
 */
export function matchesResources(
  m: MatchResources | undefined,
  a: AdmissionAttributes,
  namespaceObject: unknown,
  requireRules: boolean,
): boolean {
  if (!m) return !requireRules;
  const rules: AdmissionRule[] = Array.isArray(m.resourceRules) ? m.resourceRules : [];
  if (rules.length === 0 ? requireRules : !rules.some((r) => ruleMatches(r, a))) return false;
  const excluded: AdmissionRule[] = Array.isArray(m.excludeResourceRules) ? m.excludeResourceRules : [];
  if (excluded.some((r) => ruleMatches(r, a))) return false;
  return namespaceMatches(m, a, namespaceObject) && objectMatches(m, a);
}
