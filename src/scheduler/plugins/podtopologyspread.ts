// PodTopologySpread: topologySpreadConstraints with maxSkew, topologyKey, whenUnsatisfiable
// (DoNotSchedule filters, ScheduleAnyway scores), labelSelector (+ matchLabelKeys), minDomains,
// nodeAffinityPolicy / nodeTaintsPolicy. Matching pods are counted per topology pair once per
// cycle through the cache's label index.
import {
  CycleState,
  type FilterPlugin,
  type Handle,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ScorePlugin,
} from '../framework.js';
import { selectorFromLabelSelectorRaw, type Selector } from '../../machinery/labels.js';
import { Code, MAX_NODE_SCORE, NodeInfo, PodInfo, Status } from '../types.js';
import { hasRequiredNodeAffinity, requiredNodeAffinityMatcher } from '../../api/helpers/nodeaffinity.js';
import { findUntoleratedTaint, isHardTaint } from '../../api/helpers/taints.js';

export const ERR_SPREAD = "node(s) didn't match pod topology spread constraints";
export const ERR_SPREAD_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)";

interface Constraint {
  maxSkew: number;
  topologyKey: string;
  selector: Selector;
  requiredPairs: string[];
  minDomains: number;
  honorAffinity: boolean;
  honorTaints: boolean;
}

function parseConstraints(pod: PodInfo, when: string): Constraint[] {
  const out: Constraint[] = [];
  for (const c of pod.pod.spec?.topologySpreadConstraints ?? []) {
    if ((c.whenUnsatisfiable ?? 'DoNotSchedule') !== when) continue;
    const ls = structuredClone(c.labelSelector ?? null);
    const requiredPairs: string[] = [];
    if (ls && c.matchLabelKeys?.length) {
      ls.matchExpressions ??= [];
      for (const k of c.matchLabelKeys)
        if (k in pod.labels) ls.matchExpressions.push({ key: k, operator: 'In', values: [pod.labels[k]] });
    }
    let selector: Selector;
    try {
      selector = selectorFromLabelSelectorRaw(ls);
    } catch {
      continue;
    }
    for (const [k, v] of Object.entries(ls?.matchLabels ?? {})) requiredPairs.push(`${k}=${v}`);
    for (const e of ls?.matchExpressions ?? [])
      if (e.operator === 'In' && e.values?.length === 1) requiredPairs.push(`${e.key}=${e.values[0]}`);
    out.push({
      maxSkew: c.maxSkew ?? 1,
      topologyKey: c.topologyKey,
      selector,
      requiredPairs,
      minDomains: c.minDomains ?? 1,
      honorAffinity: (c.nodeAffinityPolicy ?? 'Honor') === 'Honor',
      honorTaints: c.nodeTaintsPolicy === 'Honor',
    });
  }
  return out;
}

class SpreadState {
  constructor(
    readonly constraints: Constraint[],
    /** Per constraint: topology value → matching pods. */
    readonly counts: Map<string, number>[],
  ) {}
  clone(): SpreadState {
    return new SpreadState(
      this.constraints,
      this.counts.map((m) => new Map(m)),
    );
  }
  minMatch(i: number): number {
    const m = this.counts[i];
    if (m.size < this.constraints[i].minDomains) return 0;
    let min = Infinity;
    for (const v of m.values()) if (v < min) min = v;
    return min === Infinity ? 0 : min;
  }
}

export class PodTopologySpread implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin {
  readonly name = 'PodTopologySpread';
  constructor(private readonly h: Handle) {}

  /** Matching pods per topology value over eligible nodes, for each constraint. */
  private count(pod: PodInfo, constraints: Constraint[], nodes: NodeInfo[]): Map<string, number>[] {
    const affinity = hasRequiredNodeAffinity(pod.pod) ? requiredNodeAffinityMatcher(pod.pod) : null;
    const tolerations = pod.pod.spec?.tolerations;
    return constraints.map((c) => {
      const perNode = new Map<string, number>();
      for (const p of this.h.cache.candidatePods(c.requiredPairs)) {
        if (p.namespace !== pod.namespace || p.uid === pod.uid || p.pod.metadata?.deletionTimestamp) continue;
        if (!c.selector.matches(p.labels)) continue;
        perNode.set(p.nodeName, (perNode.get(p.nodeName) ?? 0) + 1);
      }
      const counts = new Map<string, number>();
      for (const ni of nodes) {
        if (!ni.node) continue;
        const v = ni.labels[c.topologyKey];
        if (v === undefined) continue;
        if (!constraints.every((o) => ni.labels[o.topologyKey] !== undefined)) continue;
        if (c.honorAffinity && affinity && !affinity(ni.node)) continue;
        if (c.honorTaints && findUntoleratedTaint(ni.node.spec?.taints, tolerations, isHardTaint)) continue;
        counts.set(v, (counts.get(v) ?? 0) + (perNode.get(ni.name) ?? 0));
      }
      return counts;
    });
  }

  preFilter(state: CycleState, pod: PodInfo, nodes: NodeInfo[]): Status | null {
    const constraints = parseConstraints(pod, 'DoNotSchedule');
    if (!constraints.length) return new Status(Code.Skip);
    state.write(this.name, new SpreadState(constraints, this.count(pod, constraints, nodes)));
    return null;
  }

  private update(state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, by: number): void {
    const s = state.read<SpreadState>(this.name);
    if (!s || other.namespace !== pod.namespace) return;
    s.constraints.forEach((c, i) => {
      const v = node.labels[c.topologyKey];
      if (v === undefined || !s.counts[i].has(v) || !c.selector.matches(other.labels)) return;
      s.counts[i].set(v, s.counts[i].get(v)! + by);
    });
  }

  addPod(state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo): void {
    this.update(state, pod, added, node, 1);
  }

  removePod(state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo): void {
    this.update(state, pod, removed, node, -1);
  }

  filter(state: CycleState, pod: PodInfo, node: NodeInfo): Status | null {
    const s = state.read<SpreadState>(this.name);
    if (!s) return null;
    for (let i = 0; i < s.constraints.length; i++) {
      const c = s.constraints[i];
      const v = node.labels[c.topologyKey];
      if (v === undefined) return Status.unresolvable(ERR_SPREAD_LABEL);
      const self = c.selector.matches(pod.labels) ? 1 : 0;
      const skew = (s.counts[i].get(v) ?? 0) + self - s.minMatch(i);
      if (skew > c.maxSkew) return Status.unschedulable(ERR_SPREAD);
    }
    return null;
  }

  preScore(state: CycleState, pod: PodInfo, nodes: NodeInfo[]): Status | null {
    const constraints = parseConstraints(pod, 'ScheduleAnyway');
    if (!constraints.length) return new Status(Code.Skip);
    const counts = this.count(pod, constraints, this.h.cache.nodes());
    const weights = constraints.map((c) => {
      const domains = new Set<string>();
      for (const n of nodes) if (n.labels[c.topologyKey] !== undefined) domains.add(n.labels[c.topologyKey]);
      return Math.log(domains.size + 2);
    });
    state.write(`${this.name}/score`, { constraints, counts, weights });
    return null;
  }

  score(state: CycleState, _pod: PodInfo, node: NodeInfo): number {
    const s = state.read<{ constraints: Constraint[]; counts: Map<string, number>[]; weights: number[] }>(
      `${this.name}/score`,
    );
    if (!s) return 0;
    let score = 0;
    for (let i = 0; i < s.constraints.length; i++) {
      const v = node.labels[s.constraints[i].topologyKey];
      if (v === undefined) return -1; // ignored node
      score += (s.counts[i].get(v) ?? 0) * s.weights[i] + (s.constraints[i].maxSkew - 1);
    }
    return Math.round(score);
  }

  normalizeScore(_s: CycleState, _p: PodInfo, scores: number[]): void {
    let min = Infinity;
    let max = 0;
    for (const s of scores) {
      if (s < 0) continue;
      if (s < min) min = s;
      if (s > max) max = s;
    }
    for (let i = 0; i < scores.length; i++) {
      if (scores[i] < 0) scores[i] = 0;
      else if (max === 0) scores[i] = MAX_NODE_SCORE;
      else scores[i] = Math.trunc((MAX_NODE_SCORE * (max + min - scores[i])) / max);
    }
  }
}
