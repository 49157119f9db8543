// Which nodes a DaemonSet's pods belong on (upstream pkg/controller/daemon: NodeShouldRunDaemonPod
// and the scheduler predicates it uses): spec.nodeName, nodeSelector, required node affinity and
// taints against the pod's tolerations, including the tolerations every daemon pod gets.

export const DEFAULT_DAEMON_TOLERATIONS: any[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];
const NETWORK_UNAVAILABLE = { key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' };

/** upstream util.AddOrUpdateDaemonPodTolerations: the pod spec with the daemon tolerations added. */
export function addDaemonTolerations(spec: any): any[] {
  const tolerations: any[] = [...(spec?.tolerations ?? [])];
  const wanted = [...DEFAULT_DAEMON_TOLERATIONS, ...(spec?.hostNetwork ? [NETWORK_UNAVAILABLE] : [])];
  for (const t of wanted) {
    const same = tolerations.findIndex((x) => x.key === t.key && (x.effect ?? '') === t.effect);
    if (same >= 0) tolerations[same] = { ...t };
    else tolerations.push({ ...t });
  }
  return tolerations;
}

/** v1 Toleration.ToleratesTaint. */
export function toleratesTaint(toleration: any, taint: any): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  const op = toleration.operator || 'Equal';
  if (op === 'Exists') return true;
  if (op === 'Equal') return (toleration.value ?? '') === (taint.value ?? '');
  return false;
}

export function untoleratedTaint(taints: any[], tolerations: any[], effects: string[]): any | undefined {
  return taints.find((t) => effects.includes(t.effect) && !tolerations.some((tol) => toleratesTaint(tol, t)));
}

function requirementMatches(req: any, value: string | undefined, has: boolean): boolean {
  const values: string[] = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return has && values.includes(value!);
    case 'NotIn':
      return !has || !values.includes(value!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (!has || values.length !== 1) return false;
      const a = Number.parseInt(value!, 10);
      const b = Number.parseInt(values[0], 10);
      if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
      return req.operator === 'Gt' ? a > b : a < b;
    }
    default:
      return false;
  }
}

/** A NodeSelectorTerm: every matchExpression (labels) and matchField (metadata.name) holds. */
export function nodeSelectorTermMatches(term: any, node: any): boolean {
  const exprs: any[] = term?.matchExpressions ?? [];
  const fields: any[] = term?.matchFields ?? [];
  if (!exprs.length && !fields.length) return false;
  const labels: Record<string, string> = node.metadata?.labels ?? {};
  for (const r of exprs) if (!requirementMatches(r, labels[r.key], r.key in labels)) return false;
  for (const r of fields) {
    if (r.key !== 'metadata.name') return false;
    if (!requirementMatches(r, node.metadata?.name, true)) return false;
  }
  return true;
}

/** nodeSelector and required node affinity (terms ORed). */
export function podMatchesNodeSelectorAndAffinity(spec: any, node: any): boolean {
  const labels: Record<string, string> = node.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(spec?.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const required = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required) {
    const terms: any[] = required.nodeSelectorTerms ?? [];
    if (!terms.some((t) => nodeSelectorTermMatches(t, node))) return false;
  }
  return true;
}

export interface NodeFit {
  /** A daemon pod should be created on the node. */
  shouldRun: boolean;
  /** An existing daemon pod may stay on the node. */
  shouldContinueRunning: boolean;
}

/** upstream NodeShouldRunDaemonPod. */
export function nodeShouldRunDaemonPod(node: any, ds: any): NodeFit {
  const spec = ds.spec?.template?.spec ?? {};
  if (spec.nodeName && spec.nodeName !== node.metadata?.name) return { shouldRun: false, shouldContinueRunning: false };
  if (!podMatchesNodeSelectorAndAffinity(spec, node)) return { shouldRun: false, shouldContinueRunning: false };
  const tolerations = addDaemonTolerations(spec);
  const taints: any[] = node.spec?.taints ?? [];
  if (untoleratedTaint(taints, tolerations, ['NoExecute'])) return { shouldRun: false, shouldContinueRunning: false };
  if (untoleratedTaint(taints, tolerations, ['NoSchedule'])) return { shouldRun: false, shouldContinueRunning: true };
  return { shouldRun: true, shouldContinueRunning: true };
}

/** upstream ReplaceDaemonSetPodNodeNameNodeAffinity: required node affinity to exactly this node. */
export function withNodeAffinity(affinity: any, nodeName: string): any {
  const term = { matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }] };
  const out = structuredClone(affinity ?? {});
  out.nodeAffinity = out.nodeAffinity ?? {};
  out.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms: [term] };
  return out;
}

/** The node a daemon pod is for: spec.nodeName, or its node-affinity matchField. */
export function targetNodeOf(pod: any): string | undefined {
  if (pod.spec?.nodeName) return pod.spec.nodeName;
  const terms: any[] = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  for (const t of terms) {
    for (const f of t.matchFields ?? []) {
      if (f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1) return f.values[0];
    }
  }
  return undefined;
}
