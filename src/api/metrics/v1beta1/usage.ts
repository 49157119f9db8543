// The channel over which nodes report resource usage to the API server's metrics.k8s.io API.
//
// A node agent (real or simulated) puts its latest usage sample on its own Lease in
// kube-node-lease, as the annotation `metrics.k8ts.io/usage`, each time it renews the lease. The
// API server reads those leases to answer NodeMetrics and PodMetrics requests, so the channel
// works the same for the in-process simulator and for a `k8ts sim` or agent on another machine,
// and costs no write beyond the heartbeat the node makes anyway.
//
// The annotation value is compact JSON:
//   { "t": "<RFC 3339 time of the sample>", "w": <window in seconds>,
//     "n": [<node cpu, millicores>, <node memory, bytes>],
//     "p": { "<namespace>/<pod>": [["<container>", <cpu m>, <memory bytes>], ...], ... } }

export const USAGE_ANNOTATION = 'metrics.k8ts.io/usage';
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

export interface UsageSample {
  /** Time of the sample (RFC 3339). */
  t: string;
  /** Window the sample covers (seconds). */
  w: number;
  /** Node usage: cpu millicores, memory bytes. */
  n: [number, number];
  /** Pods: "namespace/name" → [container, cpu millicores, memory bytes][]. */
  p: Record<string, [string, number, number][]>;
}

export function encodeUsage(s: UsageSample): string {
  return JSON.stringify(s);
}

export function decodeUsage(v: string | undefined): UsageSample | undefined {
  if (!v) return undefined;
  try {
    const s = JSON.parse(v);
    if (typeof s?.t !== 'string' || !Array.isArray(s.n) || typeof s.p !== 'object' || s.p === null) return undefined;
    return { t: s.t, w: Number(s.w) || 10, n: [Number(s.n[0]) || 0, Number(s.n[1]) || 0], p: s.p };
  } catch {
    return undefined;
  }
}

/** Millicores as a Kubernetes quantity string (nanocores would be upstream's; millicores read better). */
export function cpuQuantity(milli: number): string {
  const m = Math.max(0, Math.round(milli));
  return `${m}m`;
}

/** Bytes as a Kubernetes quantity in Ki, as metrics-server reports them. */
export function memoryQuantity(bytes: number): string {
  return `${Math.max(0, Math.round(bytes / 1024))}Ki`;
}
