// The scheduling framework (upstream pkg/scheduler/framework): plugins at extension points
// PreFilter → Filter → PostFilter (preemption) → PreScore → Score → NormalizeScore → Reserve →
// PreBind → Bind, a CycleState per attempt, and the algorithm of one scheduling cycle: find feasible
// nodes (sampling a share of them in large clusters, as percentageOfNodesToScore), score them,
// pick the best (ties broken at random).
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import type { Stored } from '../client/types.js';
import type { SchedulerCache } from './cache.js';
import { Code, MAX_NODE_SCORE, NodeInfo, PodInfo, Status } from './types.js';

export class CycleState {
  private readonly data = new Map<string, unknown>();
  /** Plugins whose PreFilter returned Skip (their Filter is not run). */
  readonly skipFilter = new Set<string>();
  readonly skipScore = new Set<string>();
  /** The Filter plugins not skipped, worked out once per cycle: Filter runs for hundreds of nodes. */
  filters?: readonly FilterPlugin[];

  read<T>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  write(key: string, v: unknown): void {
    this.data.set(key, v);
  }

  /** A copy for preemption dry runs (plugin states that change must be cloned by their plugin). */
  clone(): CycleState {
    const c = new CycleState();
    for (const [k, v] of this.data) c.data.set(k, isCloneable(v) ? v.clone() : v);
    for (const s of this.skipFilter) c.skipFilter.add(s);
    for (const s of this.skipScore) c.skipScore.add(s);
    return c;
  }
}

/** What plugins may use besides the pod and node they are given. */
export interface Handle {
  cache: SchedulerCache;
  /** Labels of a namespace (for namespaceSelector), undefined if unknown. */
  namespaceLabels(ns: string): Record<string, string> | undefined;
  /** PodDisruptionBudgets (policy/v1 objects). */
  pdbs(): Stored<PodDisruptionBudget>[];
  /** Pods nominated to run on a node (preemptors waiting for victims to go). */
  nominatedPods(node: string): PodInfo[];
  hasNominated(): boolean;
  /** Run the Filter plugins on one node (preemption). */
  runFilters(state: CycleState, pod: PodInfo, node: NodeInfo): Status | null;
  /** Remove/add a pod from the PreFilter states (preemption what-ifs). */
  runRemovePod(state: CycleState, pod: PodInfo, victim: PodInfo, node: NodeInfo): void;
  runAddPod(state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo): void;
  deletePod(pod: Pod, preemptor: PodInfo, node: string): Promise<void>;
  setNominatedNode(pod: PodInfo, node: string): Promise<void>;
  schedulerName: string;
}

export interface Plugin {
  readonly name: string;
}

export interface PreFilterPlugin extends Plugin {
  /** May return Code.Skip (Filter is then not run for this pod) or a rejection for every node. */
  preFilter(state: CycleState, pod: PodInfo, nodes: NodeInfo[]): Status | null;
  /** PreFilterExtensions: keep the PreFilter state right when a pod is added/removed (preemption). */
  addPod?(state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo): void;
  removePod?(state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo): void;
}

export interface FilterPlugin extends Plugin {
  filter(state: CycleState, pod: PodInfo, node: NodeInfo): Status | null;
}

export interface PostFilterResult {
  nominatedNodeName?: string;
}

export interface PostFilterPlugin extends Plugin {
  postFilter(
    state: CycleState,
    pod: PodInfo,
    statuses: Map<string, Status>,
  ): Promise<{ result?: PostFilterResult; status: Status | null }>;
}

export interface PreScorePlugin extends Plugin {
  preScore(state: CycleState, pod: PodInfo, nodes: NodeInfo[]): Status | null;
}

export interface ScorePlugin extends Plugin {
  score(state: CycleState, pod: PodInfo, node: NodeInfo): number;
  /** Scale raw scores to [0, 100] in place. */
  normalizeScore?(state: CycleState, pod: PodInfo, scores: number[], nodes: NodeInfo[]): void;
}

export interface ReservePlugin extends Plugin {
  reserve(state: CycleState, pod: PodInfo, node: string): Status | null;
  unreserve(state: CycleState, pod: PodInfo, node: string): void;
}

/** Work before the binding that may take time (volume binding); runs off the scheduling loop. */
export interface PreBindPlugin extends Plugin {
  preBind(state: CycleState, pod: PodInfo, node: string): Promise<Status | null>;
}

export interface BindPlugin extends Plugin {
  bind(state: CycleState, pod: PodInfo, node: string): Promise<Status | null>;
}

export interface PluginSet {
  preFilter: PreFilterPlugin[];
  filter: FilterPlugin[];
  postFilter: PostFilterPlugin[];
  preScore: PreScorePlugin[];
  score: { plugin: ScorePlugin; weight: number }[];
  reserve: ReservePlugin[];
  preBind?: PreBindPlugin[];
  bind: BindPlugin[];
}

/** Why a pod did not fit: per-node statuses, or one PreFilter rejection for all nodes. */
export class FitError extends Error {
  constructor(
    readonly pod: PodInfo,
    readonly numAllNodes: number,
    readonly statuses: Map<string, Status>,
    readonly preFilterMsg = '',
    public postFilterMsg = '',
    readonly unschedulablePlugins = new Set<string>(),
  ) {
    super();
  }

  override get message(): string {
    return fitErrorMessage(this.numAllNodes, this.statuses, this.preFilterMsg, this.postFilterMsg);
  }
}

/** Upstream FitError.Error(): "0/N nodes are available: <histogram of reasons>. <postfilter>." */
export function fitErrorMessage(
  numAllNodes: number,
  statuses: Map<string, Status>,
  preFilterMsg = '',
  postFilterMsg = '',
): string {
  let msg = `0/${numAllNodes} nodes are available:`;
  if (preFilterMsg) msg += ` ${preFilterMsg}.`;
  else {
    const hist = new Map<string, number>();
    for (const st of statuses.values()) for (const r of st.reasons) hist.set(r, (hist.get(r) ?? 0) + 1);
    const parts = [...hist].map(([r, n]) => `${n} ${r}`).sort();
    if (parts.length) msg += ` ${parts.join(', ')}.`;
  }
  if (postFilterMsg) msg += ` ${postFilterMsg}.`;
  return msg;
}

export interface ScheduleResult {
  node: string;
  evaluatedNodes: number;
  feasibleNodes: number;
}

const MIN_FEASIBLE_NODES_TO_FIND = 100;
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5;

/** numFeasibleNodesToFind: all nodes below 100, else an adaptive share (50% − n/125, ≥ 5%). */
export function numFeasibleNodesToFind(numAllNodes: number, percentageOfNodesToScore = 0): number {
  if (numAllNodes < MIN_FEASIBLE_NODES_TO_FIND) return numAllNodes;
  let pct = percentageOfNodesToScore;
  if (pct <= 0) {
    pct = 50 - Math.trunc(numAllNodes / 125);
    if (pct < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND) pct = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND;
  }
  if (pct >= 100) return numAllNodes;
  const n = Math.trunc((numAllNodes * pct) / 100);
  return n < MIN_FEASIBLE_NODES_TO_FIND ? MIN_FEASIBLE_NODES_TO_FIND : n;
}

export class Framework {
  private nextStartNodeIndex = 0;

  constructor(
    readonly plugins: PluginSet,
    readonly handle: Handle,
    readonly percentageOfNodesToScore = 0,
  ) {}

  runPreFilter(state: CycleState, pod: PodInfo, nodes: NodeInfo[]): Status | null {
    for (const p of this.plugins.preFilter) {
      const st = p.preFilter(state, pod, nodes);
      if (!st) continue;
      if (st.code === Code.Skip) {
        state.skipFilter.add(p.name);
        state.filters = undefined;
        continue;
      }
      return st.withPlugin(p.name);
    }
    return null;
  }

  runFilters(state: CycleState, pod: PodInfo, node: NodeInfo): Status | null {
    const filters = (state.filters ??= this.plugins.filter.filter((p) => !state.skipFilter.has(p.name)));
    for (const p of filters) {
      const st = p.filter(state, pod, node);
      if (st && !st.isSuccess()) return st.withPlugin(p.name);
    }
    return null;
  }

  /**
   * Filters with the nominated pods of equal or higher priority on the node counted in (upstream
   * RunFilterPluginsWithNominatedPods, simplified to one pass with them added).
   */
  runFiltersWithNominated(state: CycleState, pod: PodInfo, node: NodeInfo): Status | null {
    const nominated = this.handle
      .nominatedPods(node.name)
      .filter((n) => n.uid !== pod.uid && n.priority >= pod.priority);
    if (!nominated.length) return this.runFilters(state, pod, node);
    const copy = node.clone();
    const st2 = state.clone();
    for (const n of nominated) {
      copy.addPod(n);
      this.runAddPod(st2, pod, n, copy);
    }
    const st = this.runFilters(st2, pod, copy);
    if (st) return st;
    return this.runFilters(state, pod, node);
  }

  runRemovePod(state: CycleState, pod: PodInfo, victim: PodInfo, node: NodeInfo): void {
    for (const p of this.plugins.preFilter) if (!state.skipFilter.has(p.name)) p.removePod?.(state, pod, victim, node);
  }

  runAddPod(state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo): void {
    for (const p of this.plugins.preFilter) if (!state.skipFilter.has(p.name)) p.addPod?.(state, pod, added, node);
  }

  async runPostFilter(
    state: CycleState,
    pod: PodInfo,
    statuses: Map<string, Status>,
  ): Promise<{ result?: PostFilterResult; status: Status | null }> {
    let last: { result?: PostFilterResult; status: Status | null } = { status: Status.unschedulable() };
    for (const p of this.plugins.postFilter) {
      const r = await p.postFilter(state, pod, statuses);
      if (!r.status || r.status.isSuccess()) return r;
      last = r;
    }
    return last;
  }

  /** One scheduling cycle's algorithm: a node for the pod, or a FitError. */
  schedulePod(state: CycleState, pod: PodInfo): ScheduleResult {
    const cache = this.handle.cache;
    const all = cache.nodes();
    if (all.length === 0) throw new FitError(pod, 0, new Map(), 'no nodes available to schedule pods');
    const statuses = new Map<string, Status>();
    const unschedulablePlugins = new Set<string>();

    const pre = this.runPreFilter(state, pod, all);
    if (pre) {
      if (pre.code === Code.Error) throw new Error(pre.message);
      for (const n of all) statuses.set(n.name, pre);
      unschedulablePlugins.add(pre.plugin);
      throw new FitError(pod, all.length, statuses, pre.message, '', unschedulablePlugins);
    }

    // A pod nominated to a node (after preemption) tries that node first.
    const nominatedName = pod.pod.status?.nominatedNodeName;
    let feasible: NodeInfo[] = [];
    if (nominatedName) {
      const ni = cache.node(nominatedName);
      if (ni && !this.runFiltersWithNominated(state, pod, ni)) feasible = [ni];
    }
    let evaluated = feasible.length;
    if (!feasible.length) {
      const toFind = numFeasibleNodesToFind(all.length, this.percentageOfNodesToScore);
      const n = all.length;
      const start = this.nextStartNodeIndex % n;
      const useNominated = this.handle.hasNominated();
      for (let i = 0; i < n && feasible.length < toFind; i++) {
        const ni = all[(start + i) % n];
        evaluated++;
        const st = useNominated ? this.runFiltersWithNominated(state, pod, ni) : this.runFilters(state, pod, ni);
        if (!st) feasible.push(ni);
        else {
          if (st.code === Code.Error) throw new Error(st.message);
          statuses.set(ni.name, st);
          unschedulablePlugins.add(st.plugin);
        }
      }
      this.nextStartNodeIndex = (start + evaluated) % n;
    }
    if (!feasible.length) throw new FitError(pod, all.length, statuses, '', '', unschedulablePlugins);
    if (feasible.length === 1) return { node: feasible[0].name, evaluatedNodes: evaluated, feasibleNodes: 1 };

    const totals = this.prioritize(state, pod, feasible);
    let best = -1;
    let bestScore = -Infinity;
    let ties = 0;
    for (let i = 0; i < feasible.length; i++) {
      const s = totals[i];
      if (s > bestScore) {
        bestScore = s;
        best = i;
        ties = 1;
      } else if (s === bestScore) {
        ties++;
        if (Math.random() * ties < 1) best = i; // reservoir sampling among ties
      }
    }
    return { node: feasible[best].name, evaluatedNodes: evaluated, feasibleNodes: feasible.length };
  }

  /** PreScore, Score, NormalizeScore and weights: a total per feasible node. */
  prioritize(state: CycleState, pod: PodInfo, nodes: NodeInfo[]): number[] {
    const totals = new Array<number>(nodes.length).fill(0);
    for (const p of this.plugins.preScore) {
      const st = p.preScore(state, pod, nodes);
      if (st?.code === Code.Skip) state.skipScore.add(p.name);
      else if (st && !st.isSuccess()) throw new Error(st.message);
    }
    const scores = new Array<number>(nodes.length);
    for (const { plugin, weight } of this.plugins.score) {
      if (state.skipScore.has(plugin.name)) continue;
      for (let i = 0; i < nodes.length; i++) scores[i] = plugin.score(state, pod, nodes[i]);
      plugin.normalizeScore?.(state, pod, scores, nodes);
      for (let i = 0; i < nodes.length; i++) totals[i] += Math.min(MAX_NODE_SCORE, Math.max(0, scores[i])) * weight;
    }
    return totals;
  }

  runReserve(state: CycleState, pod: PodInfo, node: string): Status | null {
    for (let i = 0; i < this.plugins.reserve.length; i++) {
      const st = this.plugins.reserve[i].reserve(state, pod, node);
      if (st && !st.isSuccess()) {
        for (let j = i; j >= 0; j--) this.plugins.reserve[j].unreserve(state, pod, node);
        return st.withPlugin(this.plugins.reserve[i].name);
      }
    }
    return null;
  }

  runUnreserve(state: CycleState, pod: PodInfo, node: string): void {
    for (let j = this.plugins.reserve.length - 1; j >= 0; j--) this.plugins.reserve[j].unreserve(state, pod, node);
  }

  async runPreBind(state: CycleState, pod: PodInfo, node: string): Promise<Status | null> {
    for (const p of this.plugins.preBind ?? []) {
      const st = await p.preBind(state, pod, node);
      if (st && !st.isSuccess()) return st.withPlugin(p.name);
    }
    return null;
  }

  async runBind(state: CycleState, pod: PodInfo, node: string): Promise<Status | null> {
    for (const p of this.plugins.bind) {
      const st = await p.bind(state, pod, node);
      if (st && st.code === Code.Skip) continue;
      return st;
    }
    return Status.error('no bind plugin bound the pod');
  }
}

/** helper.DefaultNormalizeScore: scale to [0, max], optionally reversed. */
export function defaultNormalizeScore(scores: number[], reverse: boolean, max = MAX_NODE_SCORE): void {
  let top = 0;
  for (const s of scores) if (s > top) top = s;
  if (top === 0) {
    if (reverse) for (let i = 0; i < scores.length; i++) scores[i] = max;
    return;
  }
  for (let i = 0; i < scores.length; i++) {
    let s = Math.trunc((max * scores[i]) / top);
    if (reverse) s = max - s;
    scores[i] = s;
  }
}

const isCloneable = (v: unknown): v is { clone(): unknown } =>
  typeof (v as { clone?: unknown } | null)?.clone === 'function';
