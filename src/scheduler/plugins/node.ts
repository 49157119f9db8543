// Node-only plugins: NodeName, NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts.
import {
  CycleState,
  defaultNormalizeScore,
  type FilterPlugin,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ScorePlugin,
} from '../framework.js';
import { Code, NodeInfo, PodInfo, Status } from '../types.js';
import type { NodeSelectorTerm, Taint, Toleration } from 'kubernetes-types/core/v1.js';
import {
  hasRequiredNodeAffinity,
  preferredTermMatchers,
  requiredNodeAffinityMatcher,
  type NodeMatcher,
} from '../../api/helpers/nodeaffinity.js';
import { findUntoleratedTaint, isHardTaint, tolerationsTolerateTaint } from '../../api/helpers/taints.js';

export const ERR_NODE_NAME = "node(s) didn't match the requested node name";
export const ERR_UNSCHEDULABLE = 'node(s) were unschedulable';
export const ERR_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";
export const ERR_NODE_PORTS = "node(s) didn't have free ports for the requested pod ports";

export class NodeName implements FilterPlugin {
  readonly name = 'NodeName';
  filter(_s: CycleState, pod: PodInfo, node: NodeInfo): Status | null {
    const want = pod.pod.spec?.nodeName;
    if (want && want !== node.name) return Status.unresolvable(ERR_NODE_NAME);
    return null;
  }
}

const UNSCHEDULABLE_TAINT: Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

export class NodeUnschedulable implements FilterPlugin {
  readonly name = 'NodeUnschedulable';
  filter(_s: CycleState, pod: PodInfo, node: NodeInfo): Status | null {
    if (!node.node?.spec?.unschedulable) return null;
    if (tolerationsTolerateTaint(pod.pod.spec?.tolerations, UNSCHEDULABLE_TAINT)) return null;
    return Status.unresolvable(ERR_UNSCHEDULABLE);
  }
}

export class TaintToleration implements FilterPlugin, PreScorePlugin, ScorePlugin {
  readonly name = 'TaintToleration';

  filter(_s: CycleState, pod: PodInfo, node: NodeInfo): Status | null {
    const taint = findUntoleratedTaint(node.node?.spec?.taints, pod.pod.spec?.tolerations, isHardTaint);
    if (!taint) return null;
    return Status.unresolvable(`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`);
  }

  preScore(state: CycleState, pod: PodInfo): Status | null {
    const tols = (pod.pod.spec?.tolerations ?? []).filter(
      (t: Toleration) => !t.effect || t.effect === 'PreferNoSchedule',
    );
    state.write(this.name, tols);
    return null;
  }

  score(state: CycleState, _pod: PodInfo, node: NodeInfo): number {
    const tols = state.read<Toleration[]>(this.name) ?? [];
    let n = 0;
    for (const taint of node.node?.spec?.taints ?? [])
      if (taint.effect === 'PreferNoSchedule' && !tolerationsTolerateTaint(tols, taint)) n++;
    return n;
  }

  normalizeScore(_s: CycleState, _p: PodInfo, scores: number[]): void {
    defaultNormalizeScore(scores, true);
  }
}

interface NodeAffinityState {
  required: NodeMatcher | null;
  preferred: { weight: number; match: NodeMatcher }[];
}

export class NodeAffinity implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin {
  readonly name = 'NodeAffinity';

  preFilter(state: CycleState, pod: PodInfo): Status | null {
    const terms =
      pod.pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
    if (
      terms &&
      terms.length &&
      terms.every((t: NodeSelectorTerm) => !(t.matchExpressions?.length || t.matchFields?.length))
    ) {
      return Status.unresolvable(ERR_NODE_AFFINITY);
    }
    if (!hasRequiredNodeAffinity(pod.pod)) return new Status(Code.Skip);
    state.write(this.name, {
      required: requiredNodeAffinityMatcher(pod.pod),
      preferred: [],
    } satisfies NodeAffinityState);
    return null;
  }

  filter(state: CycleState, _pod: PodInfo, node: NodeInfo): Status | null {
    const s = state.read<NodeAffinityState>(this.name);
    if (s?.required && !(node.node && s.required(node.node))) return Status.unresolvable(ERR_NODE_AFFINITY);
    return null;
  }

  preScore(state: CycleState, pod: PodInfo): Status | null {
    const pref = pod.pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    if (!pref.length) return new Status(Code.Skip);
    state.write(`${this.name}/score`, preferredTermMatchers(pref));
    return null;
  }

  score(state: CycleState, _pod: PodInfo, node: NodeInfo): number {
    const pref = state.read<{ weight: number; match: NodeMatcher }[]>(`${this.name}/score`) ?? [];
    let s = 0;
    for (const p of pref) if (node.node && p.match(node.node)) s += p.weight;
    return s;
  }

  normalizeScore(_s: CycleState, _p: PodInfo, scores: number[]): void {
    defaultNormalizeScore(scores, false);
  }
}

export class NodePorts implements PreFilterPlugin, FilterPlugin {
  readonly name = 'NodePorts';

  preFilter(_state: CycleState, pod: PodInfo): Status | null {
    return pod.hostPorts.length ? null : new Status(Code.Skip);
  }

  filter(_s: CycleState, pod: PodInfo, node: NodeInfo): Status | null {
    for (const hp of pod.hostPorts) {
      const used = node.usedPorts.get(`${hp.protocol}/${hp.port}`);
      if (!used) continue;
      for (const ip of used)
        if (ip === hp.ip || ip === '0.0.0.0' || hp.ip === '0.0.0.0') return Status.unschedulable(ERR_NODE_PORTS);
    }
    return null;
  }
}
