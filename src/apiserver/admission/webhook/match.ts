// Whether a webhook is called for a request and at which version (upstream generic.ShouldCallHook):
// its namespaceSelector and objectSelector, then its rules against the version the client used,
// then, under matchPolicy Equivalent, against the resource's other served versions.
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import * as errors from '../../../machinery/errors.js';
import { selectorFromLabelSelectorRaw } from '../../../machinery/labels.js';
import type { AdmissionAttributes } from '../interfaces.js';
import type { AnyWebhook } from './config.js';
import type { Invocation } from './review.js';
import { type RuleTarget, anyRuleMatches } from './rules.js';

/** A namespace's labels; undefined when there is no such namespace. */
export type NamespaceLabels = (name: string) => Record<string, string> | undefined;

const labelsOf = (obj: unknown): Record<string, string> | undefined =>
  (obj as { metadata?: { labels?: Record<string, string> } } | undefined)?.metadata?.labels;

const isNamespaceObject = (a: AdmissionAttributes) => a.group === '' && a.resource === 'namespaces';

/** An empty selector (or none: defaulting makes it {}) selects everything. */
function selectorMatches(ls: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!ls) return true;
  try {
    return selectorFromLabelSelectorRaw(ls).matches(labels ?? {});
  } catch (err) {
    throw errors.internalError(err);
  }
}

const isEmptySelector = (ls: LabelSelector | undefined) =>
  !ls || (!Object.keys(ls.matchLabels ?? {}).length && !(ls.matchExpressions ?? []).length);

/**
 * namespaceSelector: cluster-scoped objects other than namespaces always pass; a Namespace being
 * created or updated is judged by its own labels, anything else by its namespace's.
 */
function namespaceMatches(hook: AnyWebhook, a: AdmissionAttributes, namespaceLabels: NamespaceLabels): boolean {
  if (!a.namespace && !isNamespaceObject(a)) return true;
  if (isEmptySelector(hook.namespaceSelector)) return true;
  let labels: Record<string, string> | undefined;
  if (isNamespaceObject(a) && !a.subresource && (a.operation === 'CREATE' || a.operation === 'UPDATE'))
    labels = labelsOf(a.object);
  else {
    const name = isNamespaceObject(a) ? a.name : a.namespace;
    labels = namespaceLabels(name);
    if (labels === undefined) throw errors.notFound({ group: '', resource: 'namespaces' }, name);
  }
  return selectorMatches(hook.namespaceSelector, labels);
}

/** objectSelector: the new or the old object's labels (labels are the same in every version). */
function objectMatches(hook: AnyWebhook, a: AdmissionAttributes): boolean {
  if (isEmptySelector(hook.objectSelector)) return true;
  const matches = (obj: unknown) =>
    obj !== undefined && obj !== null && selectorMatches(hook.objectSelector, labelsOf(obj));
  return matches(a.object) || matches(a.oldObject);
}

const targetOf = (a: AdmissionAttributes, version: string): RuleTarget => ({
  operation: a.operation,
  group: a.group,
  version,
  resource: a.resource,
  subresource: a.subresource,
  namespace: isNamespaceObject(a) ? '' : a.namespace,
});

/**
 * The version this webhook sees the request at, or undefined when it is not called. Versions
 * of one resource are k8ts's equivalent resources: they share one store.
 */
export function matchWebhook(
  hook: AnyWebhook,
  a: AdmissionAttributes,
  namespaceLabels: NamespaceLabels,
): Invocation | undefined {
  // Upstream reports a selector's error only once the rules select the request.
  let selectorError: Error | undefined;
  let selected = true;
  try {
    selected = namespaceMatches(hook, a, namespaceLabels) && objectMatches(hook, a);
  } catch (err) {
    selectorError = err as Error;
  }
  if (!selected) return undefined;
  const requested = a.requestVersion ?? a.version;
  let version: string | undefined;
  if (anyRuleMatches(hook.rules, targetOf(a, requested))) version = requested;
  else if ((hook.matchPolicy ?? 'Equivalent') === 'Equivalent') {
    version = a.def.versions
      .filter((v) => v.served !== false && v.name !== requested)
      .map((v) => v.name)
      .find((v) => anyRuleMatches(hook.rules, targetOf(a, v)));
  }
  if (version === undefined) return undefined;
  if (selectorError) throw selectorError;
  return { version, kind: a.kind };
}
