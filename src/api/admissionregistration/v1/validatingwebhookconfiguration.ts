// admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration, and the webhook checks the
// mutating kind shares. Stored only here; calling the webhooks is the admission chain's job.
import type { ResourceDef } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  duplicate,
  invalid,
  notSupported,
  path,
  required,
  tooMany,
} from '../../../machinery/fielderrors.js';
import {
  isDNS1035Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidPortNum,
  validateLabelSelector,
} from '../../../machinery/validation.js';
import { validatingWebhookConfigurationColumns } from './tables.js';
import { isObject } from '../../apps/v1/workload.js';

const FAILURE_POLICIES = ['Fail', 'Ignore'];
const MATCH_POLICIES = ['Equivalent', 'Exact'];
const SIDE_EFFECTS = ['None', 'NoneOnDryRun'];
const OPERATIONS = ['*', 'CONNECT', 'CREATE', 'DELETE', 'UPDATE'];
const SCOPES = ['*', 'Cluster', 'Namespaced'];
const ADMISSION_REVIEW_VERSIONS = ['v1', 'v1beta1'];
const MAX_MATCH_CONDITIONS = 64;
const isSet = (v: unknown): boolean => v !== undefined && v !== null;

/** SetDefaults for one webhook (mutating adds reinvocationPolicy). */
export function defaultWebhook(hook: any, mutating: boolean): void {
  if (!isObject(hook)) return;
  if (!hook.failurePolicy) hook.failurePolicy = 'Fail';
  if (!hook.matchPolicy) hook.matchPolicy = 'Equivalent';
  if (!isObject(hook.namespaceSelector)) hook.namespaceSelector = {};
  if (!isObject(hook.objectSelector)) hook.objectSelector = {};
  if (!isSet(hook.timeoutSeconds)) hook.timeoutSeconds = 10;
  if (mutating && !hook.reinvocationPolicy) hook.reinvocationPolicy = 'Never';
  for (const rule of hook.rules ?? []) if (isObject(rule) && !rule.scope) rule.scope = '*';
  const svc = hook.clientConfig?.service;
  if (isObject(svc) && !isSet(svc.port)) svc.port = 443;
}

export function defaultWebhookConfiguration(obj: any, mutating: boolean): void {
  for (const hook of obj.webhooks ?? []) defaultWebhook(hook, mutating);
}

/** Upstream IsFullyQualifiedName. */
function validateFullyQualifiedName(name: string, p: FieldPath): FieldError[] {
  if (!name) return [required(p)];
  const msgs = isDNS1123Subdomain(name);
  if (msgs.length > 0) return [invalid(p, name, msgs.join(','))];
  if (name.split('.').length < 3)
    return [invalid(p, name, 'should be a domain with at least three segments separated by dots')];
  return [];
}

function validateResources(resources: string[], p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (resources.length === 0) errs.push(required(p));
  const withWildcardSub = new Set<string>();
  const subWithWildcardRes = new Set<string>();
  let doubleWildcard = false;
  let singleWildcard = false;
  let withoutSub = false;
  resources.forEach((rs, i) => {
    if (rs === '') {
      errs.push(required(p.index(i)));
      return;
    }
    if (rs === '*/*') doubleWildcard = true;
    if (rs === '*') singleWildcard = true;
    const slash = rs.indexOf('/');
    if (slash < 0) {
      withoutSub = rs !== '*';
      return;
    }
    const res = rs.slice(0, slash);
    const sub = rs.slice(slash + 1);
    if (withWildcardSub.has(res))
      errs.push(invalid(p.index(i), rs, `if '${res}/*' is present, must not specify ${rs}`));
    if (subWithWildcardRes.has(sub))
      errs.push(invalid(p.index(i), rs, `if '*/${sub}' is present, must not specify ${rs}`));
    if (sub === '*') withWildcardSub.add(res);
    if (res === '*') subWithWildcardRes.add(sub);
  });
  if (resources.length > 1 && doubleWildcard)
    errs.push(invalid(p, resources, "if '*/*' is present, must not specify other resources"));
  if (singleWildcard && withoutSub)
    errs.push(invalid(p, resources, "if '*' is present, must not specify other resources without subresources"));
  return errs;
}

function validateRuleWithOperations(rule: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const ops: string[] = rule?.operations ?? [];
  if (ops.length === 0) errs.push(required(p.child('operations')));
  if (ops.length > 1 && ops.includes('*'))
    errs.push(invalid(p.child('operations'), ops, "if '*' is present, must not specify other operations"));
  ops.forEach((op, i) => {
    if (!OPERATIONS.includes(op)) errs.push(notSupported(p.child('operations').index(i), op, OPERATIONS));
  });
  const groups: string[] = rule?.apiGroups ?? [];
  if (groups.length === 0) errs.push(required(p.child('apiGroups')));
  if (groups.length > 1 && groups.includes('*'))
    errs.push(invalid(p.child('apiGroups'), groups, "if '*' is present, must not specify other API groups"));
  const versions: string[] = rule?.apiVersions ?? [];
  if (versions.length === 0) errs.push(required(p.child('apiVersions')));
  if (versions.length > 1 && versions.includes('*'))
    errs.push(invalid(p.child('apiVersions'), versions, "if '*' is present, must not specify other API versions"));
  versions.forEach((v, i) => {
    if (!v) errs.push(required(p.child('apiVersions').index(i)));
  });
  errs.push(...validateResources(rule?.resources ?? [], p.child('resources')));
  if (isSet(rule?.scope) && !SCOPES.includes(rule.scope)) errs.push(notSupported(p.child('scope'), rule.scope, SCOPES));
  return errs;
}

const URL_FORM = '; desired format: https://host[/path]';

/** Upstream ValidateWebhookURL (https only). */
export function validateWebhookURL(u: string, p: FieldPath): FieldError[] {
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch (e) {
    return [required(p, `url must be a valid URL: ${(e as Error).message}${URL_FORM}`)];
  }
  const errs: FieldError[] = [];
  const scheme = parsed.protocol.replace(/:$/, '');
  if (scheme !== 'https') errs.push(invalid(p, scheme, `'https' is the only allowed URL scheme${URL_FORM}`));
  if (!parsed.host) errs.push(invalid(p, parsed.host, `host must be specified${URL_FORM}`));
  if (parsed.username || parsed.password) {
    errs.push(
      invalid(
        p,
        parsed.password ? `${parsed.username}:${parsed.password}` : parsed.username,
        'user information is not permitted in the URL',
      ),
    );
  }
  if (parsed.hash.length > 1) errs.push(invalid(p, parsed.hash.slice(1), 'fragments are not permitted in the URL'));
  if (parsed.search.length > 1)
    errs.push(invalid(p, parsed.search.slice(1), 'query parameters are not permitted in the URL'));
  return errs;
}

/** Upstream ValidateWebhookService. */
export function validateWebhookService(svc: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!svc?.name) errs.push(required(p.child('name'), 'service name is required'));
  if (!svc?.namespace) errs.push(required(p.child('namespace'), 'service namespace is required'));
  const port = svc?.port ?? 443;
  const pm = isValidPortNum(port);
  if (pm.length > 0) errs.push(invalid(p.child('port'), port, `port is not valid: ${pm.join(', ')}`));
  const urlPath = svc?.path;
  if (!isSet(urlPath) || urlPath === '/' || urlPath === '') return errs;
  if (urlPath === '//') return [...errs, invalid(p.child('path'), urlPath, 'segment[0] may not be empty')];
  if (!urlPath.startsWith('/')) errs.push(invalid(p.child('path'), urlPath, "must start with a '/'"));
  let check: string = urlPath.slice(1);
  if (check.endsWith('/')) check = check.slice(0, -1);
  check.split('/').forEach((step, i) => {
    if (step.length === 0) {
      errs.push(invalid(p.child('path'), urlPath, `segment[${i}] may not be empty`));
      return;
    }
    for (const m of isDNS1123Subdomain(step)) errs.push(invalid(p.child('path'), urlPath, `segment[${i}]: ${m}`));
  });
  return errs;
}

function validateAdmissionReviewVersions(versions: unknown, p: FieldPath): FieldError[] {
  const list: string[] = Array.isArray(versions) ? versions : [];
  if (list.length < 1) return [required(p, `must specify one of ${ADMISSION_REVIEW_VERSIONS.join(', ')}`)];
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  let accepted = false;
  list.forEach((v, i) => {
    if (seen.has(v)) {
      errs.push(invalid(p.index(i), v, 'duplicate version'));
      return;
    }
    seen.add(v);
    for (const m of isDNS1035Label(v)) errs.push(invalid(p.index(i), v, m));
    if (ADMISSION_REVIEW_VERSIONS.includes(v)) accepted = true;
  });
  if (!accepted) errs.push(invalid(p, list, `must include at least one of ${ADMISSION_REVIEW_VERSIONS.join(', ')}`));
  return errs;
}

function validateMatchConditions(conds: unknown, p: FieldPath): FieldError[] {
  const list: any[] = Array.isArray(conds) ? conds : [];
  const errs: FieldError[] = [];
  if (list.length > MAX_MATCH_CONDITIONS) errs.push(tooMany(p, list.length, MAX_MATCH_CONDITIONS));
  const names = new Set<string>();
  list.forEach((c, i) => {
    const cp = p.index(i);
    const name: string = c?.name ?? '';
    if (!name) errs.push(required(cp.child('name')));
    else for (const m of isQualifiedName(name)) errs.push(invalid(cp.child('name'), name, m));
    if (names.has(name)) errs.push(duplicate(cp.child('name'), name));
    names.add(name);
    if (!c?.expression) errs.push(required(cp.child('expression')));
  });
  return errs;
}

export function validateWebhook(hook: any, p: FieldPath, mutating: boolean): FieldError[] {
  const errs = validateFullyQualifiedName(hook?.name ?? '', p.child('name'));
  (hook?.rules ?? []).forEach((r: any, i: number) =>
    errs.push(...validateRuleWithOperations(r, p.child('rules').index(i))),
  );
  if (isSet(hook?.failurePolicy) && !FAILURE_POLICIES.includes(hook.failurePolicy))
    errs.push(notSupported(p.child('failurePolicy'), hook.failurePolicy, FAILURE_POLICIES));
  if (isSet(hook?.matchPolicy) && !MATCH_POLICIES.includes(hook.matchPolicy))
    errs.push(notSupported(p.child('matchPolicy'), hook.matchPolicy, MATCH_POLICIES));
  if (!isSet(hook?.sideEffects))
    errs.push(required(p.child('sideEffects'), `must specify one of ${SIDE_EFFECTS.join(', ')}`));
  else if (!SIDE_EFFECTS.includes(hook.sideEffects))
    errs.push(notSupported(p.child('sideEffects'), hook.sideEffects, SIDE_EFFECTS));
  const ts = hook?.timeoutSeconds;
  if (isSet(ts) && (ts > 30 || ts < 1))
    errs.push(invalid(p.child('timeoutSeconds'), ts, 'the timeout value must be between 1 and 30 seconds'));
  if (isSet(hook?.namespaceSelector))
    errs.push(...validateLabelSelector(hook.namespaceSelector, p.child('namespaceSelector')));
  if (isSet(hook?.objectSelector)) errs.push(...validateLabelSelector(hook.objectSelector, p.child('objectSelector')));
  if (mutating && isSet(hook?.reinvocationPolicy) && !['IfNeeded', 'Never'].includes(hook.reinvocationPolicy)) {
    errs.push(notSupported(p.child('reinvocationPolicy'), hook.reinvocationPolicy, ['IfNeeded', 'Never']));
  }
  const cc = hook?.clientConfig ?? {};
  const hasURL = isSet(cc.url);
  const hasService = isSet(cc.service);
  if (hasURL === hasService) errs.push(required(p.child('clientConfig'), 'exactly one of url or service is required'));
  else if (hasURL) errs.push(...validateWebhookURL(String(cc.url), p.child('clientConfig', 'url')));
  else errs.push(...validateWebhookService(cc.service, p.child('clientConfig', 'service')));
  errs.push(...validateAdmissionReviewVersions(hook?.admissionReviewVersions, p.child('admissionReviewVersions')));
  errs.push(...validateMatchConditions(hook?.matchConditions, p.child('matchConditions')));
  return errs;
}

export function validateWebhookConfiguration(obj: any, mutating: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  (obj.webhooks ?? []).forEach((hook: any, i: number) => {
    const p = path('webhooks').index(i);
    errs.push(...validateWebhook(hook, p, mutating));
    const name = hook?.name;
    if (typeof name === 'string' && name.length > 0) {
      if (names.has(name)) errs.push(duplicate(p.child('name'), name));
      names.add(name);
    }
  });
  return errs;
}

export const validatingWebhookConfigurationResource: ResourceDef = {
  group: 'admissionregistration.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'ValidatingWebhookConfiguration',
  plural: 'validatingwebhookconfigurations',
  singular: 'validatingwebhookconfiguration',
  categories: ['api-extensions'],
  namespaced: false,
  generationTracksSpec: true,
  defaults: (obj) => defaultWebhookConfiguration(obj, false),
  validate: (obj) => validateWebhookConfiguration(obj, false),
  table: validatingWebhookConfigurationColumns,
};
