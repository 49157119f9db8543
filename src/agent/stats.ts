// Resource usage of the node and its pods, sampled from the runtime's container stats (cgroups)
// and /proc, as rates over the interval between two samples — what metrics-server computes from
// the kubelet's summary. The encoded sample rides on the node Lease (usage.ts).
import { encodeUsage, type UsageSample } from '../api/metrics/v1beta1/usage.js';
import type { Runtime } from './runtime/types.js';
import { LABEL } from './runtime/types.js';
import { hostCpuNanos, meminfo } from './hostinfo.js';
import { rfc3339 } from '../machinery/time.js';

interface CpuPoint {
  at: number;
  nanos: number;
}

export class StatsCollector {
  private prevNode?: CpuPoint;
  private prevContainers = new Map<string, CpuPoint>();
  private latest?: UsageSample;

  constructor(private runtime: Runtime) {}

  /** Takes a sample; the first one only sets the baseline for CPU rates. */
  async sample(): Promise<void> {
    const now = Date.now();
    const nodeNanos = hostCpuNanos();
    const mem = meminfo();
    const prev = this.prevNode;
    this.prevNode = { at: now, nanos: nodeNanos };
    const nodeCpuMilli = prev && now > prev.at ? ((nodeNanos - prev.nanos) / 1e6 / (now - prev.at)) * 1000 : 0;
    const pods: UsageSample['p'] = {};
    const seen = new Set<string>();
    for (const s of await this.runtime.listContainerStats()) {
      const labels = s.attributes?.labels ?? {};
      const ns = labels[LABEL.podNamespace];
      const pod = labels[LABEL.podName];
      const name = labels[LABEL.containerName] ?? s.attributes?.metadata?.name;
      if (!ns || !pod || !name) continue;
      const id = s.attributes.id;
      seen.add(id);
      const cpuNanos = Number(s.cpu?.usageCoreNanoSeconds?.value ?? 0);
      const at = s.cpu?.timestamp ? Math.floor(Number(s.cpu.timestamp) / 1e6) : now;
      const before = this.prevContainers.get(id);
      this.prevContainers.set(id, { at, nanos: cpuNanos });
      const cpuMilli =
        before && at > before.at ? Math.max(0, ((cpuNanos - before.nanos) / 1e6 / (at - before.at)) * 1000) : 0;
      const memory = Number(s.memory?.workingSetBytes?.value ?? 0);
      (pods[`${ns}/${pod}`] ??= []).push([name, Math.round(cpuMilli), memory]);
    }
    for (const id of this.prevContainers.keys()) if (!seen.has(id)) this.prevContainers.delete(id);
    const windowSeconds = prev ? Math.max(1, Math.round((now - prev.at) / 1000)) : 10;
    this.latest = {
      t: rfc3339(now),
      w: windowSeconds,
      n: [Math.round(nodeCpuMilli), mem.totalBytes - mem.availableBytes],
      p: prev ? pods : {},
    };
  }

  /** Memory working set of a pod ("namespace/name") in the latest sample (bytes). */
  podMemory(key: string): number {
    return (this.latest?.p[key] ?? []).reduce((sum, [, , mem]) => sum + mem, 0);
  }

  encoded(): string | undefined {
    return this.latest ? encodeUsage(this.latest) : undefined;
  }
}
