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

/**
 * Matching pods per topology pair, as topology key → value → count: Filter looks a node up for
 * each pod and each of hundreds of nodes, and a lookup builds no `key=value` string.
 */
class PairCounts {
  private readonly byKey = new Map<string, Map<string, number>>();
  /** Pairs with a count. */
  size = 0;

  get(key: string, value: string): number {
    return this.byKey.get(key)?.get(value) ?? 0;
  }

  /** Add `by` to the pair of `topologyKey` on `node` (none without that label). */
  bump(node: NodeInfo, topologyKey: string, by: number): void {
    const v = node.labels[topologyKey];
    if (v === undefined) return;
    let values = this.byKey.get(topologyKey);
    if (!values) this.byKey.set(topologyKey, (values = new Map<string, number>()));
    const had = values.get(v);
    const n = (had ?? 0) + by;
    if (n === 0) {
      if (had !== undefined) this.size--;
      values.delete(v);
      if (!values.size) this.byKey.delete(topologyKey);
    } else {
      if (had === undefined) this.size++;
      values.set(v, n);
    }
  }

  /** Whether the node is in a domain with a positive count (for any key). */
  anyOn(labels: Record<string, string>): boolean {
    for (const [key, values] of this.byKey) {
      const v = labels[key];
      if (v !== undefined && (values.get(v) ?? 0) > 0) return true;
    }
    return false;
  }

  clone(): PairCounts {
    const c = new PairCounts();
    for (const [key, values] of this.byKey) c.byKey.set(key, new Map(values));
    c.size = this.size;
    return c;
  }
}

class PreFilterState {
  constructor(
    readonly existingAnti: PairCounts,
    readonly affinity: PairCounts,
    readonly anti: PairCounts,
  ) {}
  clone(): PreFilterState {
    return new PreFilterState(this.existingAnti.clone(), this.affinity.clone(), this.anti.clone());
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
    const existingAnti = new PairCounts();
    for (const { pi: p, term: t } of cache.antiAffinityTermsFor(pod.labels)) {
      if (p.uid === pod.uid || !termMatches(t, pod, this.nsLabels)) continue;
      const ni = cache.node(p.nodeName);
      if (ni) existingAnti.bump(ni, t.topologyKey, 1);
    }
    if (!hasOwn && existingAnti.size === 0) return new Status(Code.Skip);
    const affinity = new PairCounts();
    const anti = new PairCounts();
    if (pod.requiredAffinity.length) {
      const pairs = pod.requiredAffinity.flatMap((t) => t.requiredPairs);
      for (const p of cache.candidatePods(pairs)) {
        if (p.uid === pod.uid || !this.matchesAll(pod.requiredAffinity, p)) continue;
        const ni = cache.node(p.nodeName);
        if (!ni) continue;
        for (const t of pod.requiredAffinity) affinity.bump(ni, t.topologyKey, 1);
      }
    }
    for (const t of pod.requiredAntiAffinity) {
      for (const p of cache.candidatePods(t.requiredPairs)) {
        if (p.uid === pod.uid || !termMatches(t, p, this.nsLabels)) continue;
        const ni = cache.node(p.nodeName);
        if (ni) anti.bump(ni, t.topologyKey, 1);
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
      if (termMatches(t, pod, this.nsLabels)) s.existingAnti.bump(node, t.topologyKey, by);
    if (this.matchesAll(pod.requiredAffinity, other))
      for (const t of pod.requiredAffinity) s.affinity.bump(node, t.topologyKey, by);
    for (const t of pod.requiredAntiAffinity)
      if (termMatches(t, other, this.nsLabels)) s.anti.bump(node, t.topologyKey, by);
  }

  filter(state: CycleState, pod: PodInfo, node: NodeInfo): Status | null {
    const s = state.read<PreFilterState>(this.name);
    if (!s) return null;
    // Required affinity: every term's topology domain on this node holds a matching pod.
    if (pod.requiredAffinity.length) {
      let podsExist = true;
      for (const t of pod.requiredAffinity) {
        const v = node.labels[t.topologyKey];
        if (v === undefined || !s.affinity.get(t.topologyKey, v)) {
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
    if (s.anti.size) {
      for (const t of pod.requiredAntiAffinity) {
        const v = node.labels[t.topologyKey];
        if (v !== undefined && s.anti.get(t.topologyKey, v) > 0) return Status.unschedulable(ERR_ANTI_AFFINITY);
      }
    }
    if (s.existingAnti.size && s.existingAnti.anyOn(node.labels))
      return Status.unschedulable(ERR_EXISTING_ANTI_AFFINITY);
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
