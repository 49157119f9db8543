// NodeResourcesFit (requests vs allocatable, pods count, extended resources; LeastAllocated or
// MostAllocated scoring) and NodeResourcesBalancedAllocation.
import { CycleState, type FilterPlugin, type PreFilterPlugin, type ScorePlugin } from '../framework.js';
import { CPU, MAX_NODE_SCORE, MEMORY, NodeInfo, PodInfo, Status } from '../types.js';

export type ScoringStrategy = 'LeastAllocated' | 'MostAllocated';

export class NodeResourcesFit implements PreFilterPlugin, FilterPlugin, ScorePlugin {
  readonly name = 'NodeResourcesFit';
  constructor(private readonly strategy: ScoringStrategy = 'LeastAllocated') {}

  preFilter(): Status | null {
    return null;
  }

  filter(_s: CycleState, pod: PodInfo, node: NodeInfo): Status | null {
    // Runs for hundreds of nodes per pod: nothing is allocated unless the pod does not fit.
    let reasons: string[] | undefined;
    if (node.pods.size + 1 > node.allowedPods) reasons = ['Too many pods'];
    const wants = pod.fitRequests;
    for (let i = 0; i < wants.length; i++) {
      const [name, want] = wants[i];
      const free = (node.allocatable.get(name) ?? 0) - (node.requested.get(name) ?? 0);
      if (want > free) (reasons ??= []).push(`Insufficient ${name}`);
    }
    return reasons ? Status.unschedulable(...reasons) : null;
  }

  score(_s: CycleState, pod: PodInfo, node: NodeInfo): number {
    const cpuAlloc = node.allocatable.get(CPU) ?? 0;
    const memAlloc = node.allocatable.get(MEMORY) ?? 0;
    const cpuReq = node.nonZeroCpu + pod.nonZeroCpu;
    const memReq = node.nonZeroMem + pod.nonZeroMem;
    const one = (req: number, alloc: number) => {
      if (alloc === 0 || req > alloc) return this.strategy === 'LeastAllocated' ? 0 : 0;
      return this.strategy === 'LeastAllocated'
        ? Math.trunc(((alloc - req) * MAX_NODE_SCORE) / alloc)
        : Math.trunc((req * MAX_NODE_SCORE) / alloc);
    };
    return Math.trunc((one(cpuReq, cpuAlloc) + one(memReq, memAlloc)) / 2);
  }
}

export class NodeResourcesBalancedAllocation implements ScorePlugin {
  readonly name = 'NodeResourcesBalancedAllocation';

  score(_s: CycleState, pod: PodInfo, node: NodeInfo): number {
    const cpuAlloc = node.allocatable.get(CPU) ?? 0;
    const memAlloc = node.allocatable.get(MEMORY) ?? 0;
    const fr: number[] = [];
    if (cpuAlloc > 0) fr.push(Math.min(1, (node.nonZeroCpu + pod.nonZeroCpu) / cpuAlloc));
    if (memAlloc > 0) fr.push(Math.min(1, (node.nonZeroMem + pod.nonZeroMem) / memAlloc));
    let std = 0;
    if (fr.length === 2) std = Math.abs(fr[0] - fr[1]) / 2;
    return Math.trunc((1 - std) * MAX_NODE_SCORE);
  }
}
