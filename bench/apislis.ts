// Upstream's API call latency SLIs read from the server's own histogram, as sig-scalability's
// perf tests read them: apiserver_request_sli_duration_seconds between two /metrics readings, one
// series per verb, resource, subresource and scope, the 99th percentile interpolated within its
// bucket the way Prometheus' histogram_quantile does. The SLO is measured at the apiserver, so
// this is the figure to hold against it; a client's own timing adds its event loop and network.

/** One histogram series: calls, seconds in all, and calls at or under each bucket bound. */
interface Histogram {
  count: number;
  sum: number;
  buckets: Map<number, number>;
}

/** "VERB resource[/subresource] scope", e.g. "PUT leases namespace". */
export type SeriesKey = string;

const LABEL = /(\w+)="([^"]*)"/g;

/**
 * Every series of a request latency histogram in a /metrics text: by default the SLI's, which
 * leaves out time queued by priority and fairness and spent in admission webhooks (what
 * sig-scalability's perf tests hold against the SLOs); apiserver_request_duration_seconds has
 * the whole of each request.
 */
export function requestDurationsOf(
  metrics: string,
  metric:
    | 'apiserver_request_sli_duration_seconds'
    | 'apiserver_request_duration_seconds' = 'apiserver_request_sli_duration_seconds',
): Map<SeriesKey, Histogram> {
  const out = new Map<SeriesKey, Histogram>();
  const prefix = `${metric}_`;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const open = line.indexOf('{');
    const close = line.lastIndexOf('}');
    if (open < 0 || close < open) continue;
    const labels: Record<string, string> = {};
    for (const m of line.slice(open + 1, close).matchAll(LABEL)) labels[m[1]] = m[2];
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''} ${labels.scope}`;
    const h = out.get(key) ?? { count: 0, sum: 0, buckets: new Map<number, number>() };
    out.set(key, h);
    // Series that differ only in group or version add up.
    const value = Number(line.slice(close + 2));
    const part = line.slice(prefix.length, open);
    if (part === 'count') h.count += value;
    else if (part === 'sum') h.sum += value;
    else if (part === 'bucket') {
      const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
      h.buckets.set(le, (h.buckets.get(le) ?? 0) + value);
    }
  }
  return out;
}

/** The q-quantile of a cumulative histogram, linear within the bucket it falls in (histogram_quantile). */
export function histogramQuantile(q: number, h: Histogram): number {
  if (!h.count) return NaN;
  const bounds = [...h.buckets.keys()].sort((a, b) => a - b);
  const rank = q * h.count;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const le of bounds) {
    const n = h.buckets.get(le)!;
    if (n >= rank) {
      // In the last (unbounded) bucket: the highest finite bound, as Prometheus answers.
      if (le === Infinity) return lowerBound;
      return lowerBound + ((le - lowerBound) * (rank - lowerCount)) / Math.max(n - lowerCount, 1e-9);
    }
    lowerBound = le;
    lowerCount = n;
  }
  return lowerBound;
}

export interface CallLatency {
  series: SeriesKey;
  calls: number;
  meanMs: number;
  p99Ms: number;
}

/** Verbs the SLIs leave out: long-running requests. */
const LONG_RUNNING = new Set(['WATCH', 'WATCHLIST', 'CONNECT']);

/** Each series' calls, mean and p99 between two readings, the busiest first. */
export function callLatencySince(before: Map<SeriesKey, Histogram>, after: Map<SeriesKey, Histogram>): CallLatency[] {
  const out: CallLatency[] = [];
  for (const [series, h] of after) {
    if (LONG_RUNNING.has(series.slice(0, series.indexOf(' ')))) continue;
    const b = before.get(series);
    const diff: Histogram = {
      count: h.count - (b?.count ?? 0),
      sum: h.sum - (b?.sum ?? 0),
      buckets: new Map([...h.buckets].map(([le, n]) => [le, n - (b?.buckets.get(le) ?? 0)])),
    };
    if (diff.count <= 0) continue;
    out.push({
      series,
      calls: diff.count,
      meanMs: +((1000 * diff.sum) / diff.count).toFixed(1),
      p99Ms: +(1000 * histogramQuantile(0.99, diff)).toFixed(0),
    });
  }
  return out.sort((a, b) => b.calls - a.calls);
}

/** Upstream's SLO class of a series: mutating, single-object read, or a list at its scope. */
export function sloClass(series: SeriesKey): { what: string; limitMs: number } {
  const [verb, , scope] = series.split(' ');
  if (verb === 'LIST')
    return scope === 'cluster' ? { what: 'cluster list', limitMs: 30_000 } : { what: 'namespace list', limitMs: 5_000 };
  if (verb === 'GET') return { what: 'single-object read', limitMs: 1_000 };
  return { what: 'mutating', limitMs: 1_000 };
}
