// audit.k8s.io/v1 Policy (kube-apiserver --audit-policy-file): which requests are recorded, at
// which level and stages. Rules are tried in order and the first that matches decides, as
// upstream's policy checker (k8s.io/apiserver/pkg/audit/policy); no match means level None.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { Attributes } from '../authz/types.js';

export type Level = 'None' | 'Metadata' | 'Request' | 'RequestResponse';
export type Stage = 'RequestReceived' | 'ResponseStarted' | 'ResponseComplete' | 'Panic';

export const LEVELS: readonly Level[] = ['None', 'Metadata', 'Request', 'RequestResponse'];
export const STAGES: readonly Stage[] = ['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'];

export interface GroupResources {
  group?: string;
  resources?: string[];
  resourceNames?: string[];
}

export interface PolicyRule {
  level: Level;
  users?: string[];
  userGroups?: string[];
  verbs?: string[];
  resources?: GroupResources[];
  namespaces?: string[];
  nonResourceURLs?: string[];
  omitStages?: Stage[];
  omitManagedFields?: boolean;
}

export interface Policy {
  apiVersion: 'audit.k8s.io/v1';
  kind: 'Policy';
  rules: PolicyRule[];
  omitStages?: Stage[];
  omitManagedFields?: boolean;
}

/** What the policy decides for one request. */
export interface RequestAuditConfig {
  level: Level;
  omitStages: ReadonlySet<Stage>;
  omitManagedFields: boolean;
}

const NONE: RequestAuditConfig = Object.freeze({
  level: 'None',
  omitStages: new Set<Stage>(),
  omitManagedFields: false,
});

/** Whether `level` records at least as much as `min` (upstream Level.Less, negated). */
export function atLeast(level: Level, min: Level): boolean {
  return LEVELS.indexOf(level) >= LEVELS.indexOf(min);
}

/** upstream pathMatches: `*` alone, the exact path, or a prefix ending in `*`. */
function pathMatches(path: string, spec: string): boolean {
  if (spec === '*' || spec === path) return true;
  return spec.endsWith('*') && path.startsWith(spec.replace(/\*+$/, ''));
}

function resourceMatches(rule: PolicyRule, a: Attributes): boolean {
  if (!a.resourceRequest) return false;
  if (rule.namespaces?.length && !rule.namespaces.includes(a.namespace)) return false;
  if (!rule.resources?.length) return true;
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  for (const gr of rule.resources) {
    if ((gr.group ?? '') !== a.apiGroup) continue;
    if (!gr.resources?.length) return true;
    if (gr.resourceNames?.length && !gr.resourceNames.includes(a.name)) continue;
    for (const res of gr.resources) {
      if (res === combined || res === '*') return true;
      // "*/scale": that subresource of any resource; "pods/*": pods and all of its subresources.
      if (a.subresource && res.startsWith('*/') && res.slice(2) === a.subresource) return true;
      if (res.endsWith('/*') && res.slice(0, -2) === a.resource) return true;
    }
  }
  return false;
}

/** upstream ruleMatches: every field the rule sets must match; unset fields match everything. */
export function ruleMatches(rule: PolicyRule, a: Attributes): boolean {
  if (rule.users?.length && !rule.users.includes(a.user.name)) return false;
  if (rule.userGroups?.length && !a.user.groups.some((g) => rule.userGroups!.includes(g))) return false;
  if (rule.verbs?.length && !rule.verbs.includes(a.verb)) return false;
  if (rule.namespaces?.length || rule.resources?.length) return resourceMatches(rule, a);
  if (rule.nonResourceURLs?.length)
    return !a.resourceRequest && rule.nonResourceURLs.some((u) => pathMatches(a.path, u));
  return true;
}

export class PolicyEvaluator {
  private readonly configs: RequestAuditConfig[];

  constructor(readonly policy: Policy) {
    const global = policy.omitStages ?? [];
    this.configs = policy.rules.map((r) => ({
      level: r.level,
      omitStages: new Set([...global, ...(r.omitStages ?? [])]),
      omitManagedFields: r.omitManagedFields ?? policy.omitManagedFields ?? false,
    }));
  }

  evaluate(a: Attributes): RequestAuditConfig {
    const rules = this.policy.rules;
    for (let i = 0; i < rules.length; i++) if (ruleMatches(rules[i], a)) return this.configs[i];
    return NONE;
  }
}

/** The problems of a policy as upstream's validation reports them (empty: valid). */
export function validatePolicy(p: Policy): string[] {
  const errs: string[] = [];
  const stages = (list: unknown, where: string) => {
    if (list === undefined) return;
    if (!Array.isArray(list)) return errs.push(`${where}: must be a list`);
    list.forEach((s, i) => {
      if (!STAGES.includes(s as Stage))
        errs.push(
          `${where}[${i}]: Unsupported value: ${JSON.stringify(s)}: supported values: ${STAGES.map((x) => `"${x}"`).join(', ')}`,
        );
    });
  };
  stages(p.omitStages, 'omitStages');
  if (!Array.isArray(p.rules)) {
    errs.push('rules: must be a list');
    return errs;
  }
  p.rules.forEach((r, i) => {
    const at = `rules[${i}]`;
    if (!LEVELS.includes(r?.level))
      errs.push(
        `${at}.level: ${r?.level ? `Unsupported value: ${JSON.stringify(r.level)}` : 'Required value'}: supported values: ${LEVELS.map((x) => `"${x}"`).join(', ')}`,
      );
    if (r?.nonResourceURLs?.length && (r.resources?.length || r.namespaces?.length))
      errs.push(
        `${at}.nonResourceURLs: Invalid value: rules cannot apply to both regular resources and non-resource URLs`,
      );
    r?.nonResourceURLs?.forEach((u, j) => {
      if (typeof u !== 'string' || !u) errs.push(`${at}.nonResourceURLs[${j}]: Required value`);
      else if (u.indexOf('*') >= 0 && u.indexOf('*') !== u.length - 1)
        errs.push(
          `${at}.nonResourceURLs[${j}]: Invalid value: ${JSON.stringify(u)}: non-resource URL wildcards may only be at the end`,
        );
      else if (!u.startsWith('/') && u !== '*')
        errs.push(
          `${at}.nonResourceURLs[${j}]: Invalid value: ${JSON.stringify(u)}: non-resource URLs must begin with '/'`,
        );
    });
    r?.resources?.forEach((gr, j) => {
      if (gr.resourceNames?.length && gr.resources?.length === 0)
        errs.push(
          `${at}.resources[${j}].resourceNames: Invalid value: using resourceNames requires at least one resource`,
        );
      gr.resources?.forEach((res, k) => {
        if (res.includes('/') && !/^(\*|[^/*]+)\/(\*|[^/*]+)$/.test(res))
          errs.push(
            `${at}.resources[${j}].resources[${k}]: Invalid value: ${JSON.stringify(res)}: resource is not a valid resource/subresource`,
          );
      });
    });
    stages(r?.omitStages, `${at}.omitStages`);
  });
  return errs;
}

/** Parse a policy file's text (YAML or JSON). Throws with upstream-style messages. */
export function parsePolicy(text: string): Policy {
  const docs = parseAllDocuments(text).filter((d) => d.contents !== null);
  if (docs.length !== 1) throw new Error('the file must hold exactly one Policy');
  if (docs[0].errors.length) throw new Error(docs[0].errors[0].message);
  const p = docs[0].toJS() as Policy;
  if (p?.kind !== 'Policy' || p.apiVersion !== 'audit.k8s.io/v1')
    throw new Error(`want apiVersion audit.k8s.io/v1 and kind Policy, got ${String(p?.apiVersion)} ${String(p?.kind)}`);
  const errs = validatePolicy(p);
  if (errs.length) throw new Error(`invalid audit policy: [${errs.join(', ')}]`);
  return p;
}

export function loadPolicy(file: string): Policy {
  return parsePolicy(readFileSync(file, 'utf8'));
}
