// Queueing hints (upstream framework.EnqueueExtensions / QueueingHintFn): a pod a plugin rejected
// is moved back to be tried again only when a cluster event could make that plugin accept it.
// The coarse filter (which plugins an event kind concerns at all) is EVENTS in queue.ts; the hints
// here look at the object the event carries: a new node that is too small for the pod, a deleted
// pod that held no port the pod wants, a label change on a pod no term selects — none of these
// can help, and at thousands of nodes reporting status and thousands of pods coming and going,
// requeueing every parked pod on each of them costs a scheduling attempt per pod per event.
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { podMatchesNodeSelectorAndAffinity } from '../api/helpers/nodeaffinity.js';
import { findUntoleratedTaint, isHardTaint, tolerationsTolerateTaint } from '../api/helpers/taints.js';
import { selectorFromLabelSelectorRaw, type Selector } from '../machinery/labels.js';
import { PODS, podHostPorts, podRequests, resourceList, type ParsedTerm, type PodInfo } from './types.js';

export type QueueingHint = 'Queue' | 'QueueSkip';

/** The object an event is about: old is undefined for an add, new undefined for a delete. */
export interface EventObjects {
  oldObj?: unknown;
  newObj?: unknown;
}

/** Upstream QueueingHintFn: can this change make `pod` pass the plugin that rejected it? */
export type QueueingHintFn = (pod: PodInfo, ev: EventObjects) => QueueingHint;

/** Hints by plugin, then by event label; a plugin an event concerns but with no hint: Queue. */
export type QueueingHints = ReadonlyMap<string, ReadonlyMap<string, QueueingHintFn>>;

const asNode = (o: unknown) => o as Node | undefined;
const asPod = (o: unknown) => o as Pod | undefined;

// ---- nodes

/** The pod's requests fit an empty node of this allocatable (upstream noderesources isFit). */
function fitsEmptyNode(pod: PodInfo, node: Node): boolean {
  const alloc = resourceList(node.status?.allocatable);
  if ((alloc.get(PODS) ?? 0) < 1) return false;
  for (const [name, want] of pod.requests) {
    if (want <= 0 || name === PODS) continue;
    if (want > (alloc.get(name) ?? 0)) return false;
  }
  return true;
}

function allocatableGrew(pod: PodInfo, oldNode: Node, newNode: Node): boolean {
  const before = resourceList(oldNode.status?.allocatable);
  const after = resourceList(newNode.status?.allocatable);
  if ((after.get(PODS) ?? 0) > (before.get(PODS) ?? 0)) return true;
  for (const [name, want] of pod.requests)
    if (want > 0 && (after.get(name) ?? 0) > (before.get(name) ?? 0)) return true;
  return false;
}

/** NodeResourcesFit, node added or changed: only a node the pod fits, with more room than before. */
const fitAfterNodeChange: QueueingHintFn = (pod, { oldObj, newObj }) => {
  const n = asNode(newObj);
  if (!n || !fitsEmptyNode(pod, n)) return 'QueueSkip';
  const o = asNode(oldObj);
  return !o || allocatableGrew(pod, o, n) ? 'Queue' : 'QueueSkip';
};

/** A node-only predicate as a hint: Queue when the new node passes and the old one did not. */
const becamePassing =
  (passes: (pod: PodInfo, node: Node) => boolean): QueueingHintFn =>
  (pod, { oldObj, newObj }) => {
    const n = asNode(newObj);
    if (!n || !passes(pod, n)) return 'QueueSkip';
    const o = asNode(oldObj);
    return o && passes(pod, o) ? 'QueueSkip' : 'Queue';
  };

const matchesAffinity = (pod: PodInfo, node: Node) => podMatchesNodeSelectorAndAffinity(pod.pod, node);
const toleratesTaints = (pod: PodInfo, node: Node) =>
  !findUntoleratedTaint(node.spec?.taints, pod.pod.spec?.tolerations, isHardTaint);
const UNSCHEDULABLE_TAINT = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' as const };
const schedulableNode = (pod: PodInfo, node: Node) =>
  !node.spec?.unschedulable || tolerationsTolerateTaint(pod.pod.spec?.tolerations, UNSCHEDULABLE_TAINT);

// ---- assigned pods

/** NodeResourcesFit: a deleted assigned pod frees room; an updated one only if its requests shrank. */
const fitAfterPodDelete: QueueingHintFn = (_pod, { oldObj }) => (asPod(oldObj)?.spec?.nodeName ? 'Queue' : 'QueueSkip');

const fitAfterPodUpdate: QueueingHintFn = (_pod, { oldObj, newObj }) => {
  const o = asPod(oldObj);
  const n = asPod(newObj);
  if (!o || !n) return 'Queue';
  const before = podRequests(o);
  const after = podRequests(n);
  for (const [name, v] of before) if ((after.get(name) ?? 0) < v) return 'Queue';
  return 'QueueSkip';
};

/** NodePorts: a deleted pod helps only if it held a host port the pod asks for. */
const portsAfterPodDelete: QueueingHintFn = (pod, { oldObj }) => {
  const gone = asPod(oldObj);
  if (!gone?.spec?.nodeName) return 'QueueSkip';
  for (const hp of podHostPorts(gone))
    for (const want of pod.hostPorts)
      if (
        hp.port === want.port &&
        hp.protocol === want.protocol &&
        (hp.ip === want.ip || hp.ip === '0.0.0.0' || want.ip === '0.0.0.0')
      )
        return 'Queue';
  return 'QueueSkip';
};

/** Does a term of `pod` select `other` (its namespace and labels)? Namespace selectors: assume yes. */
function termSelects(term: ParsedTerm, other: Pod): boolean {
  const ns = other.metadata?.namespace ?? '';
  if (!term.namespaceSelector && !term.namespaces.has(ns)) return false;
  return term.selector.matches(other.metadata?.labels);
}

function anyTermSelects(terms: readonly ParsedTerm[], other: Pod | undefined): boolean {
  return !!other && terms.some((t) => termSelects(t, other));
}

/**
 * InterPodAffinity: an assigned pod's change matters if the pod's terms select it before or after
 * (its affinity may now be met, its anti-affinity no longer violated), or — for the symmetric
 * check — if the other pod has required anti-affinity terms at all (it may have blocked the pod).
 */
const affinityAfterPodChange: QueueingHintFn = (pod, { oldObj, newObj }) => {
  const terms = [
    ...pod.requiredAffinity,
    ...pod.requiredAntiAffinity,
    ...pod.preferredAffinity,
    ...pod.preferredAntiAffinity,
  ];
  const o = asPod(oldObj);
  const n = asPod(newObj);
  if (anyTermSelects(terms, o) || anyTermSelects(terms, n)) return 'Queue';
  const hasAnti = (p: Pod | undefined) =>
    !!p?.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length;
  return hasAnti(o) || hasAnti(n) ? 'Queue' : 'QueueSkip';
};

/** The constraints' selectors (without matchLabelKeys, which only narrow them), parsed once per pod. */
const spreadSelectorsOf = new WeakMap<PodInfo, Selector[]>();
function spreadSelectors(pod: PodInfo): Selector[] {
  let out = spreadSelectorsOf.get(pod);
  if (!out) {
    out = [];
    for (const c of pod.pod.spec?.topologySpreadConstraints ?? []) {
      try {
        out.push(selectorFromLabelSelectorRaw(c.labelSelector));
      } catch {
        /* an invalid selector matches nothing */
      }
    }
    spreadSelectorsOf.set(pod, out);
  }
  return out;
}

/** PodTopologySpread: only pods in the pod's namespace that a constraint's selector matches count. */
const spreadAfterPodChange: QueueingHintFn = (pod, { oldObj, newObj }) => {
  const selectors = spreadSelectors(pod);
  const counts = (p: Pod | undefined) => {
    if (!p || (p.metadata?.namespace ?? '') !== pod.namespace) return false;
    return selectors.some((s) => s.matches(p.metadata?.labels));
  };
  return counts(asPod(oldObj)) || counts(asPod(newObj)) ? 'Queue' : 'QueueSkip';
};

/** The default plugins' hints (what upstream's in-tree plugins register). */
export function defaultQueueingHints(): QueueingHints {
  const nodeEvents = (fn: QueueingHintFn) =>
    new Map([
      ['NodeAdd', fn],
      ['NodeUpdate', fn],
    ]);
  const podEvents = (fn: QueueingHintFn) =>
    new Map([
      ['AssignedPodAdd', fn],
      ['AssignedPodUpdate', fn],
      ['AssignedPodDelete', fn],
    ]);
  return new Map<string, Map<string, QueueingHintFn>>([
    [
      'NodeResourcesFit',
      new Map([
        ...nodeEvents(fitAfterNodeChange),
        ['AssignedPodDelete', fitAfterPodDelete],
        ['AssignedPodUpdate', fitAfterPodUpdate],
      ]),
    ],
    ['NodeAffinity', nodeEvents(becamePassing(matchesAffinity))],
    ['TaintToleration', nodeEvents(becamePassing(toleratesTaints))],
    ['NodeUnschedulable', nodeEvents(becamePassing(schedulableNode))],
    ['NodePorts', new Map([['AssignedPodDelete', portsAfterPodDelete]])],
    ['InterPodAffinity', podEvents(affinityAfterPodChange)],
    ['PodTopologySpread', podEvents(spreadAfterPodChange)],
  ]);
}
