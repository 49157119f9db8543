// metrics.k8s.io/v1beta1: NodeMetrics and PodMetrics, read-only and computed on request from the
// usage samples nodes attach to their Leases in kube-node-lease (see usage.ts), as metrics-server
// computes them from kubelets' summaries. `kubectl top nodes|pods` and the HPA read these.
import type { ResourceDef, TableColumn, VirtualReader } from '../../types.js';
import {
  NODE_LEASE_NAMESPACE,
  USAGE_ANNOTATION,
  type UsageSample,
  cpuQuantity,
  decodeUsage,
  memoryQuantity,
} from './usage.js';
import { rfc3339 } from '../../../machinery/time.js';

/** A sample older than this is not served (the node stopped reporting), as metrics-server drops unreachable nodes. */
export function maxSampleAgeMs(windowSeconds: number): number {
  return Math.max(30_000, 3 * windowSeconds * 1000 + 5_000);
}

function samples(read: VirtualReader, now: number): Map<string, UsageSample> {
  const out = new Map<string, UsageSample>();
  for (const lease of read.list('coordination.k8s.io', 'leases', NODE_LEASE_NAMESPACE)) {
    const s = decodeUsage(lease.metadata?.annotations?.[USAGE_ANNOTATION]);
    if (!s) continue;
    const t = Date.parse(s.t);
    if (!Number.isFinite(t) || now - t > maxSampleAgeMs(s.w)) continue;
    out.set(lease.metadata.name, s);
  }
  return out;
}

const ageColumn = (name: string, cell: (o: any) => unknown): TableColumn => ({ name, type: 'string', cell });

export const nodeMetrics: ResourceDef = {
  group: 'metrics.k8s.io',
  versions: [{ name: 'v1beta1' }],
  kind: 'NodeMetrics',
  listKind: 'NodeMetricsList',
  plural: 'nodes',
  singular: '',
  namespaced: false,
  verbs: ['get', 'list'],
  table: [
    { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata?.name },
    ageColumn('CPU', (o) => o.usage?.cpu),
    ageColumn('Memory', (o) => o.usage?.memory),
    ageColumn('Window', (o) => o.window),
  ],
  virtualList(read) {
    const now = Date.now();
    const out: any[] = [];
    for (const [name, s] of samples(read, now)) {
      const node = read.get('', 'nodes', undefined, name);
      if (!node) continue;
      out.push({
        metadata: { name, creationTimestamp: rfc3339(now), labels: node.metadata?.labels ?? {} },
        timestamp: s.t,
        window: `${s.w}s`,
        usage: { cpu: cpuQuantity(s.n[0]), memory: memoryQuantity(s.n[1]) },
      });
    }
    return out;
  },
};

export const podMetrics: ResourceDef = {
  group: 'metrics.k8s.io',
  versions: [{ name: 'v1beta1' }],
  kind: 'PodMetrics',
  listKind: 'PodMetricsList',
  plural: 'pods',
  singular: '',
  namespaced: true,
  verbs: ['get', 'list'],
  table: [
    { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata?.name },
    ageColumn('Window', (o) => o.window),
  ],
  virtualList(read, namespace) {
    const now = Date.now();
    const out: any[] = [];
    const created = rfc3339(now);
    for (const s of samples(read, now).values()) {
      for (const [key, containers] of Object.entries(s.p)) {
        const i = key.indexOf('/');
        const ns = key.slice(0, i);
        const name = key.slice(i + 1);
        if (namespace && ns !== namespace) continue;
        const pod = read.get('', 'pods', ns, name);
        if (!pod || pod.metadata?.deletionTimestamp) continue;
        out.push({
          metadata: { name, namespace: ns, creationTimestamp: created, labels: pod.metadata?.labels ?? {} },
          timestamp: s.t,
          window: `${s.w}s`,
          containers: (containers ?? []).map(([c, cpu, mem]) => ({
            name: c,
            usage: { cpu: cpuQuantity(cpu), memory: memoryQuantity(mem) },
          })),
        });
      }
    }
    return out;
  },
};

export const resources: ResourceDef[] = [nodeMetrics, podMetrics];
