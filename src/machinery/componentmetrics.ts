// Metrics of the shared client machinery (work queues, the REST client) and of the scheduler,
// with the names and labels client-go and kube-scheduler export, so dashboards and alerts built
// for those components read k8ts too. They live in one process-wide registry: whichever
// component serves /metrics in this process (the API server, `k8ts scheduler`,
// `k8ts controller-manager`) renders it alongside its own.
import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from 'prom-client';

export const componentRegistry = new Registry();

// client-go's workqueue buckets: 10^-8 s to 10^1 s, one per decade.
const WORKQUEUE_BUCKETS = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10];

const adds = new Counter({
  name: 'workqueue_adds_total',
  help: 'Total number of adds handled by workqueue',
  labelNames: ['name'],
  registers: [componentRegistry],
});
const depth = new Gauge({
  name: 'workqueue_depth',
  help: 'Current depth of workqueue',
  labelNames: ['name'],
  registers: [componentRegistry],
});
const retries = new Counter({
  name: 'workqueue_retries_total',
  help: 'Total number of retries handled by workqueue',
  labelNames: ['name'],
  registers: [componentRegistry],
});
const queueDuration = new Histogram({
  name: 'workqueue_queue_duration_seconds',
  help: 'How long in seconds an item stays in workqueue before being requested.',
  labelNames: ['name'],
  buckets: WORKQUEUE_BUCKETS,
  registers: [componentRegistry],
});
const workDuration = new Histogram({
  name: 'workqueue_work_duration_seconds',
  help: 'How long in seconds processing an item from workqueue takes.',
  labelNames: ['name'],
  buckets: WORKQUEUE_BUCKETS,
  registers: [componentRegistry],
});
// Items being processed, per queue, for the two "stuck worker" gauges (computed on scrape).
const processingSince = new Map<string, Map<unknown, number>>();
new Gauge({
  name: 'workqueue_unfinished_work_seconds',
  help: "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
  labelNames: ['name'],
  registers: [componentRegistry],
  collect() {
    const now = performance.now();
    for (const [name, items] of processingSince) {
      let total = 0;
      for (const at of items.values()) total += now - at;
      this.set({ name }, total / 1000);
    }
  },
});
new Gauge({
  name: 'workqueue_longest_running_processor_seconds',
  help: 'How many seconds has the longest running processor for workqueue been running.',
  labelNames: ['name'],
  registers: [componentRegistry],
  collect() {
    const now = performance.now();
    for (const [name, items] of processingSince) {
      let oldest = now;
      for (const at of items.values()) oldest = Math.min(oldest, at);
      this.set({ name }, (now - oldest) / 1000);
    }
  },
});

/** What a named work queue reports (client-go's queueMetrics); unnamed queues report nothing. */
export class WorkqueueMetrics<T> {
  private readonly added = new Map<T, number>();
  private readonly processing: Map<unknown, number>;
  private readonly adds;
  private readonly depth;
  private readonly retries;
  private readonly queueDuration;
  private readonly workDuration;

  constructor(name: string) {
    this.adds = adds.labels({ name });
    this.depth = depth.labels({ name });
    this.retries = retries.labels({ name });
    this.queueDuration = queueDuration.labels({ name });
    this.workDuration = workDuration.labels({ name });
    this.depth.set(0);
    let processing = processingSince.get(name);
    if (!processing) processingSince.set(name, (processing = new Map()));
    this.processing = processing;
  }

  add(item: T): void {
    this.adds.inc();
    this.depth.inc();
    if (!this.added.has(item)) this.added.set(item, performance.now());
  }

  get(item: T): void {
    this.depth.dec();
    const now = performance.now();
    const at = this.added.get(item);
    if (at !== undefined) this.queueDuration.observe((now - at) / 1000);
    this.added.delete(item);
    this.processing.set(item, now);
  }

  done(item: T): void {
    const at = this.processing.get(item);
    if (at !== undefined) this.workDuration.observe((performance.now() - at) / 1000);
    this.processing.delete(item);
  }

  retry(): void {
    this.retries.inc();
  }
}

const restRequests = new Counter({
  name: 'rest_client_requests_total',
  help: 'Number of HTTP requests, partitioned by status code, method, and host.',
  labelNames: ['code', 'method', 'host'],
  registers: [componentRegistry],
});

// Bound children by "code method server": a request costs one Map lookup, not a label hash.
const restChildren = new Map<string, { inc(): void }>();

/**
 * One REST client request answered (code) or failed before an answer ('<error>', as client-go
 * says); `server` is the base URL, '' for the in-process transport (host label empty).
 */
export function restClientRequest(method: string, server: string, code: number | undefined): void {
  const key = `${code ?? ''} ${method} ${server}`;
  let child = restChildren.get(key);
  if (!child) {
    let host = '';
    try {
      if (server) host = new URL(server).host;
    } catch {
      // not a URL: the host label stays empty
    }
    child = restRequests.labels({ code: code === undefined ? '<error>' : String(code), method, host });
    restChildren.set(key, child);
  }
  child.inc();
}

const ATTEMPT_BUCKETS = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096];

const scheduleAttempts = new Counter({
  name: 'scheduler_schedule_attempts_total',
  help: "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem.",
  labelNames: ['result', 'profile'],
  registers: [componentRegistry],
});
const attemptDuration = new Histogram({
  name: 'scheduler_scheduling_attempt_duration_seconds',
  help: 'Scheduling attempt latency in seconds (scheduling algorithm + binding)',
  labelNames: ['result', 'profile'],
  buckets: ATTEMPT_BUCKETS,
  registers: [componentRegistry],
});
let pendingPodsSource: (() => Record<string, number>) | undefined;
new Gauge({
  name: 'scheduler_pending_pods',
  help: "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated.",
  labelNames: ['queue'],
  registers: [componentRegistry],
  collect() {
    if (!pendingPodsSource) return;
    for (const [queue, n] of Object.entries(pendingPodsSource())) this.set({ queue }, n);
  },
});

export type ScheduleResult = 'scheduled' | 'unschedulable' | 'error';

/** One scheduling cycle's outcome and duration (seconds). */
export function schedulingAttempt(result: ScheduleResult, seconds: number, profile = 'default-scheduler'): void {
  scheduleAttempts.inc({ result, profile });
  attemptDuration.observe({ result, profile }, seconds);
}

/** The scheduling queue's sizes, read on scrape. */
export function reportPendingPods(sizes: () => Record<'active' | 'backoff' | 'unschedulable' | 'gated', number>): void {
  pendingPodsSource = sizes;
}

/** The metrics of this registry kept by other threads of the process (a worker has a registry of its own). */
export type MetricsSource = () => Promise<MetricObjectWithValues<MetricValue<string>>[]>;
const sources = new Set<MetricsSource>();

/**
 * Add a thread's copy of these metrics (its componentRegistry.getMetricsAsJSON()) to what
 * renderWith shows: each series is the sum over the threads. Returns the removal.
 */
export function addMetricsSource(source: MetricsSource): () => void {
  sources.add(source);
  return () => sources.delete(source);
}

/** This thread's registry, or the sum of it and the other threads' copies. */
async function combined(): Promise<Registry> {
  if (!sources.size) return componentRegistry;
  const others = await Promise.all([...sources].map((s) => s().catch(() => [])));
  return AggregatorRegistry.aggregate([await componentRegistry.getMetricsAsJSON(), ...others]);
}

/** The registry in the text format, after a component's own metrics (no family appears twice). */
export async function renderWith(own: string): Promise<string> {
  const names = new Set<string>();
  for (const m of own.matchAll(/^# TYPE (\S+)/gm)) names.add(m[1]);
  const registry = await combined();
  const shared = await registry.getMetricsAsJSON();
  if (!shared.some((m) => names.has(m.name))) return own + (await registry.metrics());
  const extra = new Registry();
  for (const name of shared.map((m) => m.name)) {
    if (names.has(name)) continue;
    const metric = registry.getSingleMetric(name);
    if (metric) extra.registerMetric(metric);
  }
  return own + (await extra.metrics());
}
