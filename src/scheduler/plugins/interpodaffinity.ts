// InterPodAffinity: required and preferred pod affinity / anti-affinity of the incoming pod, and
// the required anti-affinity of pods already placed (symmetry). PreFilter counts matching pods
// per topology pair (key=value) once — through the cache's label index when a selector names
// labels, and only over nodes holding anti-affinity pods for the symmetric check — so Filter is
// a few map lookups per node.
import {
  CycleState,
  type FilterPlugin,
  type Handle,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ScorePlugin,
} from '../framework.js';
import { Code, MAX_NODE_SCORE, NodeInfo, ParsedTerm, PodInfo, Status, termMatches } from '../types.js';

export const ERR_AFFINITY = "node(s) didn't match pod affinity rules";
export const ERR_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";
export const ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules";

type Counts = Map<string, number>;
const pairKey = (k: string, v: string) => `${k}\u0000${v}`;

function bump(m: Counts, node: NodeInfo, topologyKey: string, by: number): void {
  const v = node.labels[topologyKey];
  if (v === undefined) return;
  const k = pairKey(topologyKey, v);
  const n = (m.get(k) ?? 0) + by;
  if (n === 0) m.delete(k);
  else m.set(k, n);
}

class PreFilterState {
  constructor(
    readonly existingAnti: Counts,
    readonly affinity: Counts,
    readonly anti: Counts,
  ) {}
  clone(): PreFilterState {
    return new PreFilterState(new Map(this.existingAnti), new Map(this.affinity), new Map(this.anti));
  }
}

export class InterPodAffinity implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin {
  readonly name = 'InterPodAffinity';
  /** Weight of existing pods' required affinity terms in scoring (hardPodAffinityWeight). */
  constructor(
    private readonly h: Handle,
    private readonly hardPodAffinityWeight = 1,
  ) {}

  private nsLabels = (ns: string) => this.h.namespaceLabels(ns);

  private matchesAll(terms: ParsedTerm[], p: PodInfo): boolean {
    for (const t of terms) if (!termMatches(t, p, this.nsLabels)) return false;
    return terms.length > 0;
  }

  preFilter(state: CycleState, pod: PodInfo): Status | null {
    const cache = this.h.cache;
    const hasOwn = pod.requiredAffinity.length > 0 || pod.requiredAntiAffinity.length > 0;
    const existingAnti: Counts = new Map();
    for (const { pi: p, term: t } of cache.antiAffinityTermsFor(pod.labels)) {
      if (p.uid === pod.uid || !termMatches(t, pod, this.nsLabels)) continue;
      const ni = cache.node(p.nodeName);
      if (ni) bump(existingAnti, ni, t.topologyKey, 1);
    }
    if (!hasOwn && existingAnti.size === 0) return new Status(Code.Skip);
    const affinity: Counts = new Map();
    const anti: Counts = new Map();
    if (pod.requiredAffinity.length) {
      const pairs = pod.requiredAffinity.flatMap((t) => t.requiredPairs);
      for (const p of cache.candidatePods(pairs)) {
        if (p.uid === pod.uid || !this.matchesAll(pod.requiredAffinity, p)) continue;
        const ni = cache.node(p.nodeName);
        if (!ni) continue;
        for (const t of pod.requiredAffinity) bump(affinity, ni, t.topologyKey, 1);
      }
    }
    for (const t of pod.requiredAntiAffinity) {
      for (const p of cache.candidatePods(t.requiredPairs)) {
        if (p.uid === pod.uid || !termMatches(t, p, this.nsLabels)) continue;
        const ni = cache.node(p.nodeName);
        if (ni) bump(anti, ni, t.topologyKey, 1);
      }
    }
    state.write(this.name, new PreFilterState(existingAnti, affinity, anti));
    return null;
  }

  addPod(state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo): void {
    this.update(state, pod, added, node, 1);
  }

  removePod(state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo): void {
    this.update(state, pod, removed, node, -1);
  }

  private update(state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, by: number): void {
    const s = state.read<PreFilterState>(this.name);
    if (!s) return;
    for (const t of other.requiredAntiAffinity)
      if (termMatches(t, pod, this.nsLabels)) bump(s.existingAnti, node, t.topologyKey, by);
    if (this.matchesAll(pod.requiredAffinity, other))
      for (const t of pod.requiredAffinity) bump(s.affinity, node, t.topologyKey, by);
    for (const t of pod.requiredAntiAffinity)
      if (termMatches(t, other, this.nsLabels)) bump(s.anti, node, t.topologyKey, by);
  }

  filter(state: CycleState, pod: PodInfo, node: NodeInfo): Status | null {
    const s = state.read<PreFilterState>(this.name);
    if (!s) return null;
    // Required affinity: every term's topology domain on this node holds a matching pod.
    if (pod.requiredAffinity.length) {
      let podsExist = true;
      for (const t of pod.requiredAffinity) {
        const v = node.labels[t.topologyKey];
        if (v === undefined || !(s.affinity.get(pairKey(t.topologyKey, v)) ?? 0)) {
          podsExist = false;
          break;
        }
      }
      if (!podsExist) {
        // The first pod of a group that matches its own affinity may go anywhere with the keys.
        const hasKeys = pod.requiredAffinity.every((t) => node.labels[t.topologyKey] !== undefined);
        if (!(s.affinity.size === 0 && hasKeys && this.matchesAll(pod.requiredAffinity, pod)))
          return Status.unresolvable(ERR_AFFINITY);
      }
    }
    for (const t of pod.requiredAntiAffinity) {
      const v = node.labels[t.topologyKey];
      if (v !== undefined && (s.anti.get(pairKey(t.topologyKey, v)) ?? 0) > 0)
        return Status.unschedulable(ERR_ANTI_AFFINITY);
    }
    if (s.existingAnti.size) {
      for (const [pair, n] of s.existingAnti) {
        if (n <= 0) continue;
        const i = pair.indexOf('\u0000');
        if (node.labels[pair.slice(0, i)] === pair.slice(i + 1))
          return Status.unschedulable(ERR_EXISTING_ANTI_AFFINITY);
      }
    }
    return null;
  }

  preScore(state: CycleState, pod: PodInfo): Status | null {
    const cache = this.h.cache;
    const hasPreferred = pod.preferredAffinity.length + pod.preferredAntiAffinity.length > 0;
    let anyExisting = false;
    for (const _ of cache.nodesWithAffinity()) {
      anyExisting = true;
      break;
    }
    if (!hasPreferred && !anyExisting) return new Status(Code.Skip);
    const scores: Counts = new Map();
    const add = (ni: NodeInfo, key: string, w: number) => {
      const v = ni.labels[key];
      if (v === undefined || !w) return;
      const k = pairKey(key, v);
      scores.set(k, (scores.get(k) ?? 0) + w);
    };
    // The incoming pod's preferred terms against placed pods.
    for (const t of pod.preferredAffinity) {
      for (const p of cache.candidatePods(t.requiredPairs)) {
        const ni = cache.node(p.nodeName);
        if (ni && termMatches(t, p, this.nsLabels)) add(ni, t.topologyKey, t.weight);
      }
    }
    for (const t of pod.preferredAntiAffinity) {
      for (const p of cache.candidatePods(t.requiredPairs)) {
        const ni = cache.node(p.nodeName);
        if (ni && termMatches(t, p, this.nsLabels)) add(ni, t.topologyKey, -t.weight);
      }
    }
    // Placed pods' terms against the incoming pod (symmetry).
    for (const ni of cache.nodesWithAffinity()) {
      if (!ni.node) continue;
      for (const p of ni.pods.values()) {
        if (!p.hasScoringAffinity) continue;
        if (this.hardPodAffinityWeight > 0)
          for (const t of p.requiredAffinity)
            if (termMatches(t, pod, this.nsLabels)) add(ni, t.topologyKey, this.hardPodAffinityWeight);
        for (const t of p.preferredAffinity) if (termMatches(t, pod, this.nsLabels)) add(ni, t.topologyKey, t.weight);
        for (const t of p.preferredAntiAffinity)
          if (termMatches(t, pod, this.nsLabels)) add(ni, t.topologyKey, -t.weight);
      }
    }
    if (!scores.size) return new Status(Code.Skip);
    const keys = new Set<string>();
    for (const k of scores.keys()) keys.add(k.slice(0, k.indexOf('\u0000')));
    state.write(`${this.name}/score`, { scores, keys: [...keys] });
    return null;
  }

  score(state: CycleState, _pod: PodInfo, node: NodeInfo): number {
    const s = state.read<{ scores: Counts; keys: string[] }>(`${this.name}/score`);
    if (!s) return 0;
    let total = 0;
    for (const k of s.keys) {
      const v = node.labels[k];
      if (v !== undefined) total += s.scores.get(pairKey(k, v)) ?? 0;
    }
    return total;
  }

  normalizeScore(_s: CycleState, _p: PodInfo, scores: number[]): void {
    let min = Infinity;
    let max = -Infinity;
    for (const s of scores) {
      if (s < min) min = s;
      if (s > max) max = s;
    }
    const diff = max - min;
    for (let i = 0; i < scores.length; i++)
      scores[i] = diff > 0 ? Math.trunc((MAX_NODE_SCORE * (scores[i] - min)) / diff) : 0;
  }
}
