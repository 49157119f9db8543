// The scheduler cache (upstream internal/cache): NodeInfo per node, updated incrementally from
// the informers, plus pods the scheduler has assumed onto a node while their binding is in
// flight (assume → finishBinding → confirmed by the informer, or forget on failure). A label
// index over the cached pods lets affinity and spread plugins find matching pods without
// walking every pod.
import type { Node } from 'kubernetes-types/core/v1.js';
import type { Stored } from '../client/types.js';
import { NodeInfo, PodInfo, type ParsedTerm } from './types.js';
import { byName } from '../machinery/order.js';

export interface AntiTerm {
  pi: PodInfo;
  term: ParsedTerm;
}

interface PodState {
  pi: PodInfo;
  assumed: boolean;
  bindingFinished: boolean;
}

export class SchedulerCache {
  private readonly nodeInfos = new Map<string, NodeInfo>();
  private readonly podStates = new Map<string, PodState>();
  /** `key=value` → pods carrying that label. */
  private readonly labelIndex = new Map<string, Set<PodInfo>>();
  private readonly antiAffinityNodes = new Set<NodeInfo>();
  /** Required anti-affinity terms of placed pods, by the first label pair they require (or ''). */
  private readonly antiTerms = new Map<string, Set<AntiTerm>>();
  private readonly antiTermsOf = new Map<PodInfo, AntiTerm[]>();
  private readonly affinityNodes = new Set<NodeInfo>();
  private list: NodeInfo[] | null = null;
  /** Bumped on every node add/remove (the ordered list is rebuilt then). */
  nodeSetGeneration = 0;

  // ---- nodes

  addNode(node: Stored<Node>): NodeInfo {
    const name = node.metadata.name;
    let ni = this.nodeInfos.get(name);
    if (!ni) {
      ni = new NodeInfo(name);
      this.nodeInfos.set(name, ni);
    }
    const wasPresent = !!ni.node;
    ni.setNode(node);
    if (!wasPresent) this.nodeSetChanged();
    return ni;
  }

  updateNode(node: Stored<Node>): NodeInfo {
    return this.addNode(node);
  }

  removeNode(name: string): void {
    const ni = this.nodeInfos.get(name);
    if (!ni) return;
    ni.node = null;
    ni.generation++;
    // Pods still on it stay accounted (a ghost node) until they are deleted, as upstream.
    if (ni.pods.size === 0) this.nodeInfos.delete(name);
    this.nodeSetChanged();
  }

  private nodeSetChanged(): void {
    this.list = null;
    this.nodeSetGeneration++;
  }

  /** Nodes that exist (ordered by name, stable between cycles). */
  nodes(): NodeInfo[] {
    if (!this.list) {
      this.list = [...this.nodeInfos.values()].filter((n) => n.node).sort(byName);
    }
    return this.list;
  }

  node(name: string): NodeInfo | undefined {
    const ni = this.nodeInfos.get(name);
    return ni?.node ? ni : undefined;
  }

  get nodeCount(): number {
    return this.nodes().length;
  }

  /** NodeInfos holding at least one pod with required anti-affinity. */
  nodesWithRequiredAntiAffinity(): Iterable<NodeInfo> {
    return this.antiAffinityNodes;
  }

  /** NodeInfos holding at least one pod with any (anti-)affinity. */
  nodesWithAffinity(): Iterable<NodeInfo> {
    return this.affinityNodes;
  }

  // ---- pods

  private nodeInfoFor(name: string): NodeInfo {
    let ni = this.nodeInfos.get(name);
    if (!ni) {
      ni = new NodeInfo(name);
      this.nodeInfos.set(name, ni);
    }
    return ni;
  }

  private place(pi: PodInfo): void {
    const ni = this.nodeInfoFor(pi.nodeName);
    ni.addPod(pi);
    for (const [k, v] of Object.entries(pi.labels)) {
      const lk = `${k}=${v}`;
      let set = this.labelIndex.get(lk);
      if (!set) this.labelIndex.set(lk, (set = new Set()));
      set.add(pi);
    }
    this.trackAffinity(ni);
    if (pi.requiredAntiAffinity.length) {
      const terms = pi.requiredAntiAffinity.map((term) => ({ pi, term }));
      this.antiTermsOf.set(pi, terms);
      for (const at of terms) {
        const k = at.term.requiredPairs[0] ?? '';
        let set = this.antiTerms.get(k);
        if (!set) this.antiTerms.set(k, (set = new Set()));
        set.add(at);
      }
    }
  }

  /** Required anti-affinity terms of placed pods that may match a pod with these labels. */
  *antiAffinityTermsFor(labels: Record<string, string>): Iterable<AntiTerm> {
    const any = this.antiTerms.get('');
    if (any) yield* any;
    if (this.antiTerms.size <= (any ? 1 : 0)) return;
    for (const [k, v] of Object.entries(labels)) {
      const set = this.antiTerms.get(`${k}=${v}`);
      if (set) yield* set;
    }
  }

  private unplace(pi: PodInfo): void {
    const ni = this.nodeInfos.get(pi.nodeName);
    if (ni) {
      ni.removePod(pi);
      this.trackAffinity(ni);
      if (!ni.node && ni.pods.size === 0) this.nodeInfos.delete(ni.name);
    }
    const terms = this.antiTermsOf.get(pi);
    if (terms) {
      this.antiTermsOf.delete(pi);
      for (const at of terms) {
        const k = at.term.requiredPairs[0] ?? '';
        const set = this.antiTerms.get(k);
        if (!set) continue;
        set.delete(at);
        if (!set.size) this.antiTerms.delete(k);
      }
    }
    for (const [k, v] of Object.entries(pi.labels)) {
      const lk = `${k}=${v}`;
      const set = this.labelIndex.get(lk);
      if (!set) continue;
      set.delete(pi);
      if (!set.size) this.labelIndex.delete(lk);
    }
  }

  private trackAffinity(ni: NodeInfo): void {
    if (ni.podsWithRequiredAntiAffinity > 0) this.antiAffinityNodes.add(ni);
    else this.antiAffinityNodes.delete(ni);
    if (ni.podsWithAffinity > 0) this.affinityNodes.add(ni);
    else this.affinityNodes.delete(ni);
  }

  /** The pod (with spec.nodeName set) is on its way to its node: account for it now. */
  assumePod(pi: PodInfo): void {
    if (this.podStates.has(pi.uid)) throw new Error(`pod ${pi.key} is in the cache, so can't be assumed`);
    this.place(pi);
    this.podStates.set(pi.uid, { pi, assumed: true, bindingFinished: false });
  }

  finishBinding(pi: PodInfo): void {
    const st = this.podStates.get(pi.uid);
    if (st?.assumed) st.bindingFinished = true;
  }

  /** The binding failed: undo the assumption. */
  forgetPod(pi: PodInfo): void {
    const st = this.podStates.get(pi.uid);
    if (!st || !st.assumed) return;
    this.unplace(st.pi);
    this.podStates.delete(pi.uid);
  }

  isAssumed(uid: string): boolean {
    return !!this.podStates.get(uid)?.assumed;
  }

  hasPod(uid: string): boolean {
    return this.podStates.has(uid);
  }

  /** An assigned pod seen by the informer (confirms an assumed one). */
  addPod(pi: PodInfo): void {
    const st = this.podStates.get(pi.uid);
    if (st) this.unplace(st.pi);
    this.place(pi);
    this.podStates.set(pi.uid, { pi, assumed: false, bindingFinished: true });
  }

  updatePod(pi: PodInfo): void {
    this.addPod(pi);
  }

  removePod(uid: string): PodInfo | undefined {
    const st = this.podStates.get(uid);
    if (!st) return undefined;
    this.unplace(st.pi);
    this.podStates.delete(uid);
    return st.pi;
  }

  /**
   * Cached pods that may match a selector requiring all `pairs` (`key=value`): the smallest
   * indexed set, or every pod when no pair is given.
   */
  candidatePods(pairs: string[]): Iterable<PodInfo> {
    if (!pairs.length) return this.allPods();
    let best: Set<PodInfo> | undefined;
    for (const p of pairs) {
      const s = this.labelIndex.get(p);
      if (!s) return [];
      if (!best || s.size < best.size) best = s;
    }
    return best!;
  }

  *allPods(): Iterable<PodInfo> {
    for (const st of this.podStates.values()) yield st.pi;
  }

  get podCount(): number {
    return this.podStates.size;
  }
}
