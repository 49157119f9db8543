// DefaultPreemption (PostFilter): when no node fits, find nodes where evicting lower-priority
// pods makes room, keeping as many of them as possible (reprieve, PodDisruptionBudget-protected
// ones first), pick the best candidate as upstream does (fewest PDB violations, lowest highest
// victim priority, lowest priority sum, fewest victims, latest start), nominate the node and
// delete the victims.
import type { CycleState, Handle, PostFilterPlugin, PostFilterResult } from '../framework.js';
import { fitErrorMessage } from '../framework.js';
import { selectorFromLabelSelectorRaw } from '../../machinery/labels.js';
import { Code, NodeInfo, PodInfo, Status } from '../types.js';

export const MSG_NOT_HELPFUL = 'Preemption is not helpful for scheduling';
export const MSG_NO_VICTIMS = 'No preemption victims found for incoming pod';

interface Candidate {
  node: string;
  victims: PodInfo[];
  pdbViolations: number;
}

interface Budget {
  namespace: string;
  matches(labels: Record<string, string>): boolean;
  allowed: number;
}

export class DefaultPreemption implements PostFilterPlugin {
  readonly name = 'DefaultPreemption';

  constructor(
    private readonly h: Handle,
    /** Share of nodes (%) and minimum number of candidates to find before choosing. */
    private readonly minCandidateNodesPercentage = 10,
    private readonly minCandidateNodesAbsolute = 100,
  ) {}

  private eligible(pod: PodInfo): string | null {
    if ((pod.pod.spec?.preemptionPolicy ?? 'PreemptLowerPriority') === 'Never')
      return 'not eligible due to preemptionPolicy=Never.';
    const nominated = pod.pod.status?.nominatedNodeName;
    if (nominated) {
      const ni = this.h.cache.node(nominated);
      if (ni) {
        for (const p of ni.pods.values())
          if (p.pod.metadata?.deletionTimestamp && p.priority < pod.priority)
            return 'not eligible due to a terminating pod on the nominated node.';
      }
    }
    return null;
  }

  private budgets(): Budget[] {
    const out: Budget[] = [];
    for (const pdb of this.h.pdbs()) {
      try {
        const sel = selectorFromLabelSelectorRaw(pdb.spec?.selector);
        out.push({
          namespace: pdb.metadata.namespace ?? '',
          matches: (l) => sel.matches(l),
          allowed: pdb.status?.disruptionsAllowed ?? 0,
        });
      } catch {
        /* an invalid selector protects nothing */
      }
    }
    return out;
  }

  async postFilter(
    state: CycleState,
    pod: PodInfo,
    statuses: Map<string, Status>,
  ): Promise<{ result?: PostFilterResult; status: Status | null }> {
    const notEligible = this.eligible(pod);
    if (notEligible) return { status: Status.unschedulable(`preemption: ${notEligible}`) };
    const all = this.h.cache.nodes();
    const nodeStatuses = new Map<string, Status>();
    const potential: NodeInfo[] = [];
    for (const n of all) {
      const st = statuses.get(n.name);
      if (!st || st.code === Code.UnschedulableAndUnresolvable)
        nodeStatuses.set(n.name, Status.unresolvable(MSG_NOT_HELPFUL));
      else potential.push(n);
    }
    const candidates: Candidate[] = [];
    if (potential.length) {
      const want = Math.min(
        potential.length,
        Math.max(
          Math.trunc((potential.length * this.minCandidateNodesPercentage) / 100),
          this.minCandidateNodesAbsolute,
        ),
      );
      const budgets = this.budgets();
      const offset = Math.floor(Math.random() * potential.length);
      for (let i = 0; i < potential.length && candidates.length < want; i++) {
        const ni = potential[(offset + i) % potential.length];
        const r = this.selectVictimsOnNode(state.clone(), pod, ni, budgets);
        if ('status' in r) nodeStatuses.set(ni.name, r.status);
        else candidates.push(r);
      }
    }
    if (!candidates.length) {
      const msg = fitErrorMessage(nodeStatuses.size, nodeStatuses).replace(/\.$/, '');
      return { status: Status.unschedulable(`preemption: ${msg}`) };
    }
    const best = pickOne(candidates);
    await this.prepare(best, pod);
    return { result: { nominatedNodeName: best.node }, status: null };
  }

  selectVictimsOnNode(
    state: CycleState,
    pod: PodInfo,
    node: NodeInfo,
    budgets: Budget[],
  ): Candidate | { status: Status } {
    const fw = this.h;
    const copy = node.clone();
    const potential: PodInfo[] = [];
    for (const p of node.pods.values()) {
      if (p.priority < pod.priority) {
        potential.push(p);
        copy.removePod(p);
        fw.runRemovePod(state, pod, p, copy);
      }
    }
    if (!potential.length) return { status: Status.unresolvable(MSG_NO_VICTIMS) };
    const st = fw.runFilters(state, pod, copy);
    if (st) return { status: st };
    // Most important first: higher priority, then started earlier.
    potential.sort((a, b) => b.priority - a.priority || a.startTime - b.startTime);
    const allowed = budgets.map((b) => b.allowed);
    const violating: PodInfo[] = [];
    const nonViolating: PodInfo[] = [];
    for (const p of potential) {
      let violates = false;
      budgets.forEach((b, i) => {
        if (b.namespace !== p.namespace || !b.matches(p.labels)) return;
        allowed[i]--;
        if (allowed[i] < 0) violates = true;
      });
      (violates ? violating : nonViolating).push(p);
    }
    const victims: PodInfo[] = [];
    let pdbViolations = 0;
    const reprieve = (p: PodInfo): boolean => {
      copy.addPod(p);
      fw.runAddPod(state, pod, p, copy);
      if (!fw.runFilters(state, pod, copy)) return true;
      copy.removePod(p);
      fw.runRemovePod(state, pod, p, copy);
      victims.push(p);
      return false;
    };
    for (const p of violating) if (!reprieve(p)) pdbViolations++;
    for (const p of nonViolating) reprieve(p);
    if (!victims.length) return { status: Status.unresolvable(MSG_NO_VICTIMS) };
    return { node: node.name, victims, pdbViolations };
  }

  private async prepare(c: Candidate, pod: PodInfo): Promise<void> {
    await this.h.setNominatedNode(pod, c.node);
    await Promise.all(c.victims.map((v) => this.h.deletePod(v.pod, pod, c.node)));
  }
}

/** pickOneNodeForPreemption's criteria, in order. */
export function pickOne(cs: Candidate[]): Candidate {
  const key = (c: Candidate) => {
    let highest = -Infinity;
    let sum = 0;
    let earliestOfHighest = Infinity;
    for (const v of c.victims) {
      sum += v.priority + 2147483648; // as upstream: shift so negative priorities count
      if (v.priority > highest) {
        highest = v.priority;
        earliestOfHighest = v.startTime;
      } else if (v.priority === highest && v.startTime < earliestOfHighest) earliestOfHighest = v.startTime;
    }
    return [c.pdbViolations, highest, sum, c.victims.length, -earliestOfHighest];
  };
  let best = cs[0];
  let bestKey = key(best);
  for (const c of cs.slice(1)) {
    const k = key(c);
    for (let i = 0; i < k.length; i++) {
      if (k[i] < bestKey[i]) {
        best = c;
        bestKey = k;
        break;
      }
      if (k[i] > bestKey[i]) break;
    }
  }
  return best;
}
