// Which nodes a DaemonSet's pods belong on (upstream pkg/controller/daemon: NodeShouldRunDaemonPod
// and the scheduler predicates it uses): spec.nodeName, nodeSelector, required node affinity and
// taints against the pod's tolerations, including the tolerations every daemon pod gets.
import type { DaemonSetSpec } from 'kubernetes-types/apps/v1.js';
import type { Affinity, Node, NodeSelectorTerm, PodSpec, Taint, Toleration } from 'kubernetes-types/core/v1.js';
import { podMatchesNodeSelectorAndAffinity as podMatches } from '../../api/helpers/nodeaffinity.js';
import { findUntoleratedTaint } from '../../api/helpers/taints.js';

export const DEFAULT_DAEMON_TOLERATIONS: Toleration[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];
const NETWORK_UNAVAILABLE: Toleration = {
  key: 'node.kubernetes.io/network-unavailable',
  operator: 'Exists',
  effect: 'NoSchedule',
};

/** upstream util.AddOrUpdateDaemonPodTolerations: the pod spec with the daemon tolerations added. */
export function addDaemonTolerations(spec: Pick<PodSpec, 'tolerations' | 'hostNetwork'> | undefined): Toleration[] {
  const tolerations: Toleration[] = [...(spec?.tolerations ?? [])];
  const wanted = [...DEFAULT_DAEMON_TOLERATIONS, ...(spec?.hostNetwork ? [NETWORK_UNAVAILABLE] : [])];
  for (const t of wanted) {
    const same = tolerations.findIndex((x) => x.key === t.key && (x.effect ?? '') === t.effect);
    if (same >= 0) tolerations[same] = { ...t };
    else tolerations.push({ ...t });
  }
  return tolerations;
}

export { toleratesTaint } from '../../api/helpers/taints.js';
export { nodeSelectorTermMatches } from '../../api/helpers/nodeaffinity.js';

export function untoleratedTaint(taints: Taint[], tolerations: Toleration[], effects: string[]): Taint | undefined {
  return findUntoleratedTaint(taints, tolerations, (t) => effects.includes(t.effect));
}

/** nodeSelector and required node affinity (terms ORed). */
export function podMatchesNodeSelectorAndAffinity(spec: PodSpec | undefined, node: Node): boolean {
  return podMatches({ spec }, node);
}

export interface NodeFit {
  /** A daemon pod should be created on the node. */
  shouldRun: boolean;
  /** An existing daemon pod may stay on the node. */
  shouldContinueRunning: boolean;
}

/** upstream NodeShouldRunDaemonPod. */
export function nodeShouldRunDaemonPod(node: Node, ds: { spec?: Partial<DaemonSetSpec> }): NodeFit {
  const spec = ds.spec?.template?.spec;
  if (spec?.nodeName && spec.nodeName !== node.metadata?.name)
    return { shouldRun: false, shouldContinueRunning: false };
  if (!podMatchesNodeSelectorAndAffinity(spec, node)) return { shouldRun: false, shouldContinueRunning: false };
  const tolerations = addDaemonTolerations(spec);
  const taints: Taint[] = node.spec?.taints ?? [];
  if (untoleratedTaint(taints, tolerations, ['NoExecute'])) return { shouldRun: false, shouldContinueRunning: false };
  if (untoleratedTaint(taints, tolerations, ['NoSchedule'])) return { shouldRun: false, shouldContinueRunning: true };
  return { shouldRun: true, shouldContinueRunning: true };
}

/** upstream ReplaceDaemonSetPodNodeNameNodeAffinity: required node affinity to exactly this node. */
export function withNodeAffinity(affinity: Affinity | undefined, nodeName: string): Affinity {
  const term: NodeSelectorTerm = { matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }] };
  const out = structuredClone(affinity ?? {});
  out.nodeAffinity = out.nodeAffinity ?? {};
  out.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms: [term] };
  return out;
}

/** The node a daemon pod is for: spec.nodeName, or its node-affinity matchField. */
export function targetNodeOf(pod: { spec?: Pick<PodSpec, 'nodeName' | 'affinity'> }): string | undefined {
  if (pod.spec?.nodeName) return pod.spec.nodeName;
  const terms: NodeSelectorTerm[] =
    pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  for (const t of terms) {
    for (const f of t.matchFields ?? []) {
      if (f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1) return f.values[0];
    }
  }
  return undefined;
}
