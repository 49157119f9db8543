// Node selectors and node affinity (upstream component-helpers/scheduling/corev1/nodeaffinity):
// a NodeSelectorTerm's matchExpressions are a label selector over the node's labels (Gt/Lt compare
// int64 values, as labels.Requirement does), its matchFields a field selector over metadata.name;
// terms are ORed; an empty term, or one that does not parse, matches nothing.
import type {
  Node,
  NodeSelector,
  NodeSelectorRequirement,
  NodeSelectorTerm,
  Pod,
  PreferredSchedulingTerm,
} from 'kubernetes-types/core/v1.js';
import {
  newRequirement,
  requirementMatches,
  SelectorError,
  type Operator,
  type Requirement,
} from '../../machinery/labels.js';

export type NodeMatcher = (node: Node) => boolean;

const LABEL_OPERATORS: Record<string, Operator> = {
  In: 'In',
  NotIn: 'NotIn',
  Exists: 'Exists',
  DoesNotExist: 'DoesNotExist',
  Gt: 'GreaterThan',
  Lt: 'LessThan',
};

const matchNothing: NodeMatcher = () => false;

/** matchExpressions as label requirements; null when one does not parse (the term then matches nothing). */
function labelRequirements(exprs: readonly NodeSelectorRequirement[]): Requirement[] | null {
  const out: Requirement[] = [];
  for (const e of exprs) {
    const op = LABEL_OPERATORS[e.operator];
    if (!op) return null;
    try {
      out.push(newRequirement(e.key, op, e.values ?? []));
    } catch (err) {
      if (err instanceof SelectorError) return null;
      throw err;
    }
  }
  return out;
}

/** matchFields: only In and NotIn, each with exactly one value; the node's only field is metadata.name. */
function fieldMatcher(exprs: readonly NodeSelectorRequirement[]): ((node: Node) => boolean) | null {
  const tests: ((fields: Record<string, string>) => boolean)[] = [];
  for (const e of exprs) {
    if ((e.operator !== 'In' && e.operator !== 'NotIn') || e.values?.length !== 1) return null;
    const want = e.values[0];
    const equal = (fields: Record<string, string>) => (fields[e.key] ?? '') === want;
    tests.push(e.operator === 'In' ? equal : (f) => !equal(f));
  }
  return (node) => {
    const name = node.metadata?.name;
    // A node without a name has no fields; upstream then ignores matchFields.
    if (!name) return true;
    const fields = { 'metadata.name': name };
    return tests.every((t) => t(fields));
  };
}

/** One NodeSelectorTerm (expressions and fields ANDed). */
export function nodeSelectorTermMatcher(term: NodeSelectorTerm | undefined): NodeMatcher {
  const exprs = term?.matchExpressions ?? [];
  const fields = term?.matchFields ?? [];
  if (!exprs.length && !fields.length) return matchNothing;
  const requirements = exprs.length ? labelRequirements(exprs) : [];
  const fieldsMatch = fields.length ? fieldMatcher(fields) : () => true;
  if (!requirements || !fieldsMatch) return matchNothing;
  return (node) => {
    const labels = node.metadata?.labels ?? {};
    return requirements.every((r) => requirementMatches(r, labels)) && fieldsMatch(node);
  };
}

/** A NodeSelector: its terms ORed (none: matches nothing). */
export function nodeSelectorMatcher(selector: NodeSelector): NodeMatcher {
  const terms = selector.nodeSelectorTerms.map(nodeSelectorTermMatcher);
  return (node) => terms.some((m) => m(node));
}

export function nodeSelectorTermMatches(term: NodeSelectorTerm | undefined, node: Node): boolean {
  return nodeSelectorTermMatcher(term)(node);
}

/** spec.nodeSelector (every label equal) and required node affinity together (GetRequiredNodeAffinity). */
export function requiredNodeAffinityMatcher(pod: Pick<Pod, 'spec'>): NodeMatcher {
  const selector = Object.entries(pod.spec?.nodeSelector ?? {});
  const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  const affinity = required ? nodeSelectorMatcher(required) : null;
  return (node) => {
    const labels = node.metadata?.labels ?? {};
    for (const [k, v] of selector)
      if (!Object.prototype.hasOwnProperty.call(labels, k) || labels[k] !== v) return false;
    return affinity ? affinity(node) : true;
  };
}

/** Whether a pod constrains its node by selector or required affinity at all. */
export function hasRequiredNodeAffinity(pod: Pick<Pod, 'spec'>): boolean {
  return (
    Object.keys(pod.spec?.nodeSelector ?? {}).length > 0 ||
    !!pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
  );
}

export function podMatchesNodeSelectorAndAffinity(pod: Pick<Pod, 'spec'>, node: Node): boolean {
  return requiredNodeAffinityMatcher(pod)(node);
}

/** Preferred terms with a weight, as the NodeAffinity score uses them (zero weights and empty terms dropped). */
export function preferredTermMatchers(
  terms: readonly PreferredSchedulingTerm[] | undefined,
): { weight: number; match: NodeMatcher }[] {
  return (terms ?? [])
    .filter(
      (t) =>
        t.weight && ((t.preference.matchExpressions?.length ?? 0) > 0 || (t.preference.matchFields?.length ?? 0) > 0),
    )
    .map((t) => ({ weight: t.weight, match: nodeSelectorTermMatcher(t.preference) }));
}
