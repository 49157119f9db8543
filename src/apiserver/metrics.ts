// Prometheus metrics with upstream's names, so dashboards built for kube-apiserver work.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { renderWith } from '../machinery/componentmetrics.js';
import type { RequestInfo, ResourceRequest } from './requestinfo.js';
import type { ExcludedLatency } from './excludedlatency.js';
import {
  type FlowControl,
  type LevelView,
  type PairStats as FlowPairStats,
  WAIT_BUCKETS as FLOW_WAIT_BUCKETS,
} from './flowcontrol/index.js';

type FlowControlStats = Pick<FlowControl, 'pairStats' | 'levelStats'>;

function verbOf(method: string, info: RequestInfo | undefined, watching: boolean): string {
  if (watching) return 'WATCH';
  if (!info || info.kind !== 'resource') return method;
  if (method === 'GET') return info.name ? 'GET' : 'LIST';
  if (method === 'DELETE' && !info.name) return 'DELETECOLLECTION';
  return method === 'POST' ? 'POST' : method;
}

const DURATION_BUCKETS = [
  0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60,
];
/** apiserver_request_sli_duration_seconds' buckets, as upstream's (it has none under 50 ms). */
const SLI_BUCKETS = [0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60];

type RequestLabels = Record<'verb' | 'group' | 'version' | 'resource' | 'subresource' | 'scope' | 'component', string>;

interface Series {
  labels: RequestLabels;
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  buckets: Float64Array;
  sum: number;
  count: number;
  /** Requests by response code. */
  codes: Map<number, number>;
  /** The same requests' latency as upstream's SLIs count it (see ApiMetrics.observeCall). */
  sli: HistogramSeries;
}

/**
 * apiserver_request_duration_seconds and apiserver_request_total, kept per label set in plain
 * arrays: prom-client validates and hashes the label object on every observe() (≈ 8 µs per
 * request); here a request costs one Map lookup. The histogram renders itself in prom-client's
 * format (it is registered as a metric object); the counter is a prom-client Counter brought up
 * to date when /metrics is scraped.
 */
/**
 * Past this many series, new label sets share one series whose resource is "other": label
 * values come from request paths, and a client must not be able to grow the server's memory
 * by asking for made-up subresources.
 */
const MAX_SERIES = 5_000;

class RequestSeries {
  readonly series = new Map<string, Series>();

  get(verb: string, r: ResourceRequest | undefined): Series {
    const s = this.find(verb, r);
    if (s) return s;
    if (this.series.size >= MAX_SERIES)
      return this.find(verb, { kind: 'resource', group: '', version: '', resource: 'other' }, true)!;
    return this.find(verb, r, true)!;
  }

  private find(verb: string, r: ResourceRequest | undefined, create = false): Series | undefined {
    const group = r?.group ?? '';
    const version = r?.version ?? '';
    const resource = r?.resource ?? '';
    const subresource = r?.subresource ?? '';
    const scope = r ? (r.name ? 'resource' : r.namespace ? 'namespace' : 'cluster') : '';
    const key = `${verb}\u0000${group}\u0000${version}\u0000${resource}\u0000${subresource}\u0000${scope}`;
    let s = this.series.get(key);
    if (!s && create) {
      const labels: RequestLabels = { verb, group, version, resource, subresource, scope, component: 'apiserver' };
      s = {
        labels,
        buckets: new Float64Array(DURATION_BUCKETS.length + 1),
        sum: 0,
        count: 0,
        codes: new Map(),
        sli: { labels, buckets: new Float64Array(SLI_BUCKETS.length + 1), sum: 0, count: 0 },
      };
      this.series.set(key, s);
    }
    return s;
  }
}

/** A histogram over RequestSeries, exported exactly as a prom-client Histogram would be. */
/** One labelled series of a histogram kept by hand: counts per bucket (not cumulative, the last slot above every bound). */
interface HistogramSeries {
  labels: Record<string, string>;
  buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * A histogram whose series are kept elsewhere in plain arrays (observing costs an array
 * increment, not prom-client's label hashing), registered as a prom-client metric object that
 * renders them in its format.
 */
class BucketHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    private readonly series: () => Iterable<HistogramSeries>,
  ) {}

  static observe(s: { buckets: Float64Array; sum: number; count: number }, bounds: readonly number[], v: number): void {
    let i = 0;
    while (i < bounds.length && v > bounds[i]) i++;
    s.buckets[i]++;
    s.sum += v;
    s.count++;
  }

  getForPromString() {
    const values: {
      labels: Record<string, string | number>;
      value: number;
      metricName: string;
      exemplar?: null;
      sharedLabels: Record<string, string>;
    }[] = [];
    for (const s of this.series()) {
      if (!s.count) continue;
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.buckets[i];
        values.push({
          labels: { le },
          value: acc,
          metricName: `${this.name}_bucket`,
          exemplar: null,
          sharedLabels: s.labels,
        });
      });
      values.push({
        labels: { le: '+Inf' },
        value: s.count,
        metricName: `${this.name}_bucket`,
        exemplar: null,
        sharedLabels: s.labels,
      });
      values.push({ labels: {}, value: s.sum, metricName: `${this.name}_sum`, sharedLabels: s.labels });
      values.push({ labels: {}, value: s.count, metricName: `${this.name}_count`, sharedLabels: s.labels });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  get() {
    const m = this.getForPromString();
    return {
      ...m,
      values: m.values.map(({ sharedLabels, labels, ...v }) => ({ ...v, labels: { ...labels, ...sharedLabels } })),
    };
  }

  reset(): void {
    for (const s of this.series()) {
      s.buckets.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

function registered<T>(registry: Registry, metric: T): T {
  registry.registerMetric(metric as never);
  return metric;
}

export class ApiMetrics {
  private readonly registry = new Registry();
  private readonly requests = new RequestSeries();
  // Registered before the counter, where the prom-client histogram it replaces was.
  readonly duration = registered(
    this.registry,
    new BucketHistogram(
      'apiserver_request_duration_seconds',
      'Response latency distribution in seconds for each verb, group, version, resource, subresource and scope.',
      DURATION_BUCKETS,
      () => this.requests.series.values(),
    ),
  );
  readonly sliDuration = registered(
    this.registry,
    new BucketHistogram(
      'apiserver_request_sli_duration_seconds',
      'Response latency distribution (not counting webhook duration and priority & fairness queue wait times) in seconds for each verb, group, version, resource, subresource, scope and component.',
      SLI_BUCKETS,
      () => [...this.requests.series.values()].map((s) => s.sli),
    ),
  );
  /** Counts already handed to the prom-client counter, per series and code. */
  private readonly counted = new Map<Series, Map<number, number>>();
  private readonly total = new Counter({
    name: 'apiserver_request_total',
    help: 'Counter of apiserver requests broken out for each verb, group, version, resource, scope, component, and HTTP response code.',
    labelNames: ['verb', 'group', 'version', 'resource', 'subresource', 'scope', 'component', 'code'],
    registers: [this.registry],
    collect: () => this.syncTotals(),
  });
  private readonly watchers = new Gauge({
    name: 'apiserver_longrunning_requests',
    help: 'Gauge of all active long-running apiserver requests.',
    labelNames: ['verb'],
    registers: [this.registry],
  });

  /** Objects stored per resource ("pods", "deployments.apps"), read on scrape. */
  storageObjects?: () => Iterable<[string, number]>;
  /** API Priority and Fairness' counters (apiserver_flowcontrol_*), read on scrape. */
  flowControl?: () => FlowControlStats | undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.registerFlowControl();
    const objects = () => this.storageObjects?.() ?? [];
    new Gauge({
      name: 'apiserver_storage_objects',
      help: 'Number of stored objects at the time of last check split by kind. In case of a fetching error, the value will be -1.',
      labelNames: ['resource'],
      registers: [this.registry],
      collect() {
        for (const [resource, n] of objects()) this.set({ resource }, n);
      },
    });
  }

  /** apiserver_flowcontrol_*: what each priority level and flow schema runs, queues, dispatched and rejected. */
  private registerFlowControl(): void {
    const pairs = () => this.flowControl?.()?.pairStats() ?? [];
    const levels = () => this.flowControl?.()?.levelStats() ?? [];
    const pairLabels = (p: FlowPairStats) => ({ priority_level: p.level, flow_schema: p.schema });
    const registers = [this.registry];
    const labelNames = ['priority_level', 'flow_schema'];
    new Gauge({
      name: 'apiserver_flowcontrol_current_inqueue_requests',
      help: 'Number of requests currently pending in queues of the API Priority and Fairness subsystem',
      labelNames,
      registers,
      collect() {
        for (const p of pairs()) this.set(pairLabels(p), p.waiting);
      },
    });
    new Gauge({
      name: 'apiserver_flowcontrol_current_executing_requests',
      help: 'Number of requests in initial (for a WATCH) or any (for a non-WATCH) execution stage in the API Priority and Fairness subsystem',
      labelNames,
      registers,
      collect() {
        for (const p of pairs()) this.set(pairLabels(p), p.executing);
      },
    });
    new Gauge({
      name: 'apiserver_flowcontrol_current_executing_seats',
      help: 'Concurrency (number of seats) occupied by the currently executing (initial stage for a WATCH, any stage otherwise) requests in the API Priority and Fairness subsystem',
      labelNames,
      registers,
      collect() {
        for (const p of pairs()) this.set(pairLabels(p), p.executingSeats);
      },
    });
    new Counter({
      name: 'apiserver_flowcontrol_dispatched_requests_total',
      help: 'Number of requests executed by API Priority and Fairness subsystem',
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const p of pairs()) if (p.dispatched) this.inc(pairLabels(p), p.dispatched);
      },
    });
    new Counter({
      name: 'apiserver_flowcontrol_rejected_requests_total',
      help: 'Number of requests rejected by API Priority and Fairness subsystem',
      labelNames: [...labelNames, 'reason'],
      registers,
      collect() {
        this.reset();
        for (const p of pairs()) for (const [reason, n] of p.rejected) this.inc({ ...pairLabels(p), reason }, n);
      },
    });
    new Gauge({
      name: 'apiserver_flowcontrol_nominal_limit_seats',
      help: 'Nominal number of execution seats configured for each priority level',
      labelNames: ['priority_level'],
      registers,
      collect() {
        for (const l of levels()) this.set({ priority_level: l.level }, l.nominal);
      },
    });
    for (const [name, help, value] of [
      [
        'current',
        'Current number of execution seats of each priority level, after lending and borrowing',
        (l) => l.current,
      ],
      ['lower', 'Lower bound of the current seats of each priority level (nominal less lendable)', (l) => l.lower],
      [
        'upper',
        'Upper bound of the current seats of each priority level (nominal plus borrowing limit)',
        (l) => l.upper,
      ],
    ] as [string, string, (l: LevelView) => number][])
      new Gauge({
        name: `apiserver_flowcontrol_${name}_limit_seats`,
        help,
        labelNames: ['priority_level'],
        registers,
        collect() {
          for (const l of levels()) this.set({ priority_level: l.level }, value(l));
        },
      });
    registered(
      this.registry,
      new BucketHistogram(
        'apiserver_flowcontrol_request_wait_duration_seconds',
        'Length of time a request spent waiting in its queue',
        FLOW_WAIT_BUCKETS,
        function* () {
          for (const p of pairs())
            yield {
              labels: { ...pairLabels(p), execute: 'true' },
              buckets: p.waitBuckets,
              get sum() {
                return p.waitSum;
              },
              get count() {
                return p.waitCount;
              },
              set sum(v: number) {
                p.waitSum = v;
              },
              set count(v: number) {
                p.waitCount = v;
              },
            };
        },
      ),
    );
  }

  /** Bring the prom-client counter up to date (on scrape). */
  private syncTotals(): void {
    for (const s of this.requests.series.values()) {
      let done = this.counted.get(s);
      if (!done) this.counted.set(s, (done = new Map()));
      for (const [code, n] of s.codes) {
        const delta = n - (done.get(code) ?? 0);
        if (delta > 0) this.total.inc({ ...s.labels, code: String(code) }, delta);
        done.set(code, n);
      }
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Its own metrics, then the shared client and scheduler metrics of this process. */
  async render(): Promise<string> {
    return renderWith(await this.registry.metrics());
  }

  observe(
    req: IncomingMessage,
    res: ServerResponse,
    info: RequestInfo | undefined,
    started: bigint,
    watching: boolean,
    excluded?: ExcludedLatency,
  ): void {
    const verb = verbOf(req.method ?? 'GET', info, watching);
    if (watching) {
      this.watchers.inc({ verb });
      res.once('close', () => this.watchers.dec({ verb }));
      return;
    }
    this.observeCall(
      req.method ?? 'GET',
      info?.kind === 'resource' ? info : undefined,
      res.statusCode,
      started,
      excluded,
    );
  }

  /**
   * One finished call (not a watch) by its HTTP method and address, named as the metrics name it
   * (LIST, DELETECOLLECTION...): an HTTP request's, or an in-process component's, which upstream's
   * controllers would have made over HTTP and which the latency SLIs count alike. The SLI
   * histogram leaves out the time `excluded` holds: waiting in priority-and-fairness queues and
   * in admission webhooks.
   */
  observeCall(
    method: string,
    info: ResourceRequest | undefined,
    code: number,
    started: bigint,
    excluded?: ExcludedLatency,
  ): void {
    const s = this.requests.get(verbOf(method, info, false), info);
    const ns = process.hrtime.bigint() - started;
    BucketHistogram.observe(s, DURATION_BUCKETS, Number(ns) / 1e9);
    BucketHistogram.observe(s.sli, SLI_BUCKETS, Number(ns - (excluded?.ns ?? 0n)) / 1e9);
    s.codes.set(code, (s.codes.get(code) ?? 0) + 1);
  }
}
