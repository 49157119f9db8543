// Policy-rule matching as upstream's rbac authorizer (RuleAllows and the rbacv1helpers matchers),
// and rule coverage for escalation checks (upstream validation.Covers).
import type { Attributes, PolicyRule } from './types.js';

const ALL = '*';

export function verbMatches(rule: PolicyRule, verb: string): boolean {
  for (const v of rule.verbs) if (v === ALL || v === verb) return true;
  return false;
}

export function apiGroupMatches(rule: PolicyRule, group: string): boolean {
  for (const g of rule.apiGroups ?? []) if (g === ALL || g === group) return true;
  return false;
}

/**
 * `combined` is resource or resource/subresource. A rule resource `*` matches everything,
 * `pods/log` exactly that subresource, and `*\/scale` that subresource of any resource.
 */
export function resourceMatches(rule: PolicyRule, combined: string, subresource: string): boolean {
  for (const r of rule.resources ?? []) {
    if (r === ALL || r === combined) return true;
    if (subresource && r.length === subresource.length + 2 && r.startsWith('*/') && r.endsWith(subresource))
      return true;
  }
  return false;
}

export function resourceNameMatches(rule: PolicyRule, name: string): boolean {
  const names = rule.resourceNames;
  if (!names || names.length === 0) return true;
  return names.includes(name);
}

/** `*` matches every path; a URL ending in `*` matches every path it prefixes. */
export function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  for (const u of rule.nonResourceURLs ?? []) {
    if (u === ALL || u === path) return true;
    if (u.endsWith('*') && path.startsWith(u.slice(0, -1))) return true;
  }
  return false;
}

export function ruleAllows(a: Attributes, rule: PolicyRule): boolean {
  if (!verbMatches(rule, a.verb)) return false;
  if (!a.resourceRequest) return nonResourceURLMatches(rule, a.path);
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  return (
    apiGroupMatches(rule, a.apiGroup) &&
    resourceMatches(rule, combined, a.subresource) &&
    resourceNameMatches(rule, a.name)
  );
}

/**
 * A rule split into rules of one verb, one group, one resource (or URL) each, resourceNames kept
 * whole per name: the unit escalation checks compare (upstream BreakdownRule).
 */
export function breakdownRule(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const verb of rule.verbs) {
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        const names = rule.resourceNames ?? [];
        if (names.length === 0) out.push({ verbs: [verb], apiGroups: [group], resources: [resource] });
        for (const name of names)
          out.push({ verbs: [verb], apiGroups: [group], resources: [resource], resourceNames: [name] });
      }
    }
    for (const url of rule.nonResourceURLs ?? []) out.push({ verbs: [verb], nonResourceURLs: [url] });
  }
  return out;
}

/** Whether `owner` grants everything the single-unit rule `sub` (from breakdownRule) grants. */
function ruleCovers(owner: PolicyRule, sub: PolicyRule): boolean {
  if (!owner.verbs.includes(ALL) && !owner.verbs.includes(sub.verbs[0])) return false;
  if (sub.nonResourceURLs?.length) {
    const url = sub.nonResourceURLs[0];
    return (owner.nonResourceURLs ?? []).some(
      (u) => u === ALL || u === url || (u.endsWith('*') && url.startsWith(u.slice(0, -1))),
    );
  }
  const group = sub.apiGroups![0];
  if (!(owner.apiGroups ?? []).some((g) => g === ALL || g === group)) return false;
  const resource = sub.resources![0];
  const slash = resource.indexOf('/');
  const ownsResource = (owner.resources ?? []).some((r) => {
    if (r === ALL || r === resource) return true;
    // pods/* covers every subresource of pods; */scale covers scale of everything.
    if (slash < 0) return false;
    if (r === `${resource.slice(0, slash)}/*`) return true;
    return r.startsWith('*/') && r.slice(1) === resource.slice(slash);
  });
  if (!ownsResource) return false;
  const ownerNames = owner.resourceNames ?? [];
  if (ownerNames.length === 0) return true;
  const subNames = sub.resourceNames ?? [];
  return subNames.length > 0 && subNames.every((n) => ownerNames.includes(n));
}

/** The parts of `servant` none of `owner` grants (empty: covered). */
export function uncovered(owner: PolicyRule[], servant: PolicyRule[]): PolicyRule[] {
  const missing: PolicyRule[] = [];
  for (const rule of servant)
    for (const unit of breakdownRule(rule)) if (!owner.some((o) => ruleCovers(o, unit))) missing.push(unit);
  return missing;
}

/** Go's %q of a []string: ["a" "b"]. */
export const quoteList = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(' ')}]`;

/** upstream PolicyRule.CompactString: {APIGroups:[""], Resources:["pods"], Verbs:["get"]}. */
export function compactString(rule: PolicyRule): string {
  const parts: string[] = [];
  if (rule.apiGroups?.length) parts.push(`APIGroups:${quoteList(rule.apiGroups)}`);
  if (rule.resources?.length) parts.push(`Resources:${quoteList(rule.resources)}`);
  if (rule.nonResourceURLs?.length) parts.push(`NonResourceURLs:${quoteList(rule.nonResourceURLs)}`);
  if (rule.resourceNames?.length) parts.push(`ResourceNames:${quoteList(rule.resourceNames)}`);
  if (rule.verbs.length) parts.push(`Verbs:${quoteList(rule.verbs)}`);
  return `{${parts.join(', ')}}`;
}

/** Single-unit rules differing only in verb merged into one (upstream CompactRules). */
export function compactRules(rules: PolicyRule[]): PolicyRule[] {
  const byTarget = new Map<string, PolicyRule>();
  const out: PolicyRule[] = [];
  for (const r of rules) {
    const key = JSON.stringify([r.apiGroups, r.resources, r.resourceNames, r.nonResourceURLs]);
    const seen = byTarget.get(key);
    if (seen) {
      for (const v of r.verbs) if (!seen.verbs.includes(v)) seen.verbs.push(v);
      continue;
    }
    const copy = { ...r, verbs: [...r.verbs] };
    byTarget.set(key, copy);
    out.push(copy);
  }
  return out;
}
