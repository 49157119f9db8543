// Argo Rollouts' analysis (argoproj.io/v1alpha1 AnalysisTemplate, ClusterAnalysisTemplate,
// AnalysisRun) with the web, job and prometheus metric providers. An AnalysisRun's metrics are
// measured every `interval` (once without one) until `count` measurements (forever without one,
// for background analysis, until the run is terminated); each measurement's result is judged by
// successCondition/failureCondition (expr.ts); a metric is Failed once more than failureLimit
// measurements failed, Inconclusive past inconclusiveLimit, Error past consecutiveErrorLimit
// (default 4) errors in a row, Successful when its count is reached; the run takes the worst
// phase of its metrics (analysis/analysis.go). The Rollout controller creates runs from templates
// (runFromTemplates) and reads their phase; this controller only measures and assesses.
import type { Job, JobSpec } from 'kubernetes-types/batch/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { Logger } from 'pino';
import { R, spec, type Client } from '../client/client.js';
import { ControllerRunner, type ReconcileResult } from '../client/controller.js';
import { isAlreadyExists, isConflict, isNotFound } from '../client/errors.js';
import { EventRecorder } from '../client/events.js';
import { keyOf, splitKey, SharedIndexInformer } from '../client/informer.js';
import type { Stored } from '../client/types.js';
import { evalCondition } from './expr.js';
import { pauseSeconds } from './plan.js';
import { ROLLOUT_GROUP } from './types.js';

export type AnalysisPhase = 'Pending' | 'Running' | 'Successful' | 'Failed' | 'Error' | 'Inconclusive';

export interface Argument {
  name: string;
  value?: string;
  valueFrom?: {
    podTemplateHashValue?: 'Stable' | 'Latest';
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string };
  };
}

export interface Metric {
  name: string;
  interval?: string;
  initialDelay?: string;
  count?: number | string;
  successCondition?: string;
  failureCondition?: string;
  failureLimit?: number | string;
  inconclusiveLimit?: number | string;
  consecutiveErrorLimit?: number | string;
  provider: {
    web?: {
      url: string;
      method?: string;
      headers?: { key: string; value: string }[];
      body?: string;
      jsonBody?: unknown;
      timeoutSeconds?: number;
      jsonPath?: string;
    };
    job?: { metadata?: ObjectMeta; spec: JobSpec };
    prometheus?: { address?: string; query: string; timeout?: number };
  };
}

export interface AnalysisTemplate {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: { metrics: Metric[]; args?: Argument[] };
}

export interface Measurement {
  phase: AnalysisPhase;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
  value?: string;
  metadata?: Record<string, string>;
}

export interface MetricResult {
  name: string;
  phase: AnalysisPhase;
  measurements?: Measurement[];
  message?: string;
  count?: number;
  successful?: number;
  failed?: number;
  inconclusive?: number;
  error?: number;
  consecutiveError?: number;
}

export interface AnalysisRun {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: { metrics: Metric[]; args?: Argument[]; terminate?: boolean };
  status?: {
    phase?: AnalysisPhase;
    message?: string;
    startedAt?: string;
    metricResults?: MetricResult[];
    runSummary?: { count: number; successful: number; failed: number; inconclusive: number; error: number };
  };
}

export const ANALYSIS_TEMPLATES = spec<AnalysisTemplate>({
  group: ROLLOUT_GROUP,
  version: 'v1alpha1',
  plural: 'analysistemplates',
  namespaced: true,
  kind: 'AnalysisTemplate',
});
export const CLUSTER_ANALYSIS_TEMPLATES = spec<AnalysisTemplate>({
  group: ROLLOUT_GROUP,
  version: 'v1alpha1',
  plural: 'clusteranalysistemplates',
  namespaced: false,
  kind: 'ClusterAnalysisTemplate',
});
export const ANALYSIS_RUNS = spec<AnalysisRun>({
  group: ROLLOUT_GROUP,
  version: 'v1alpha1',
  plural: 'analysisruns',
  namespaced: true,
  kind: 'AnalysisRun',
});

const DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4;
const COMPLETED = new Set<AnalysisPhase>(['Successful', 'Failed', 'Error', 'Inconclusive']);
export const isCompleted = (p: AnalysisPhase | undefined) => !!p && COMPLETED.has(p);
/** Best to worst (utils/analysis/helpers.go analysisStatusOrder). */
const ORDER: AnalysisPhase[] = ['Successful', 'Running', 'Pending', 'Inconclusive', 'Error', 'Failed'];
const worse = (a: AnalysisPhase, b: AnalysisPhase) => ORDER.indexOf(b) > ORDER.indexOf(a);

const int = (v: number | string | undefined, dflt: number) => {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : dflt;
};
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Argo's Metric.EffectiveCount: count, else 1 without an interval, else unbounded. */
export function effectiveCount(m: Metric): number | undefined {
  const c = int(m.count, 0);
  if (c === 0) return m.interval ? undefined : 1;
  return c;
}

/** evaluate.EvaluateResult: the phase a measured value gets from the metric's conditions. */
export function evaluateResult(result: unknown, m: Metric): AnalysisPhase {
  if (!m.successCondition && !m.failureCondition) return 'Successful';
  let success = m.successCondition ? evalCondition(m.successCondition, result) : false;
  let fail = m.failureCondition ? evalCondition(m.failureCondition, result) : false;
  if (m.successCondition && !m.failureCondition) fail = !success;
  if (!m.successCondition && m.failureCondition) success = !fail;
  if (fail) return 'Failed';
  return success ? 'Successful' : 'Inconclusive';
}

function failureInconclusiveOrError(m: Metric, r: MetricResult): { phase?: AnalysisPhase; message?: string } {
  let out: { phase?: AnalysisPhase; message?: string } = {};
  const failureLimit = int(m.failureLimit, 0);
  if (failureLimit >= 0 && (r.failed ?? 0) > failureLimit)
    out = { phase: 'Failed', message: `failed (${r.failed}) > failureLimit (${failureLimit})` };
  const inconclusiveLimit = int(m.inconclusiveLimit, 0);
  if ((r.inconclusive ?? 0) > inconclusiveLimit)
    out = {
      phase: 'Inconclusive',
      message: `inconclusive (${r.inconclusive}) > inconclusiveLimit (${inconclusiveLimit})`,
    };
  const errorLimit = int(m.consecutiveErrorLimit, DEFAULT_CONSECUTIVE_ERROR_LIMIT);
  if ((r.consecutiveError ?? 0) > errorLimit)
    out = {
      phase: 'Error',
      message: `consecutiveErrors (${r.consecutiveError}) > consecutiveErrorLimit (${errorLimit})`,
    };
  return out;
}

/** assessMetricStatus. */
export function assessMetric(m: Metric, r: MetricResult, terminating: boolean): AnalysisPhase {
  if (isCompleted(r.phase)) return r.phase;
  const last = r.measurements?.at(-1);
  if (!last) return terminating ? 'Successful' : 'Pending';
  if (!isCompleted(last.phase)) return 'Running';
  const bad = failureInconclusiveOrError(m, r).phase;
  if (bad) return bad;
  const count = effectiveCount(m);
  if (count !== undefined && (r.count ?? 0) >= count) return 'Successful';
  return terminating ? 'Successful' : 'Running';
}

/** assessRunStatus: each metric's phase, and the run's (the worst of completed metrics). */
export function assessRun(run: AnalysisRun): { phase: AnalysisPhase; message?: string } {
  const results = run.status?.metricResults ?? [];
  const terminating =
    !!run.spec.terminate ||
    results.some((r) => r.phase === 'Failed' || r.phase === 'Error' || r.phase === 'Inconclusive');
  let worst: AnalysisPhase | undefined;
  let message: string | undefined = run.spec.terminate ? 'Run Terminated' : undefined;
  let done = true;
  const summary = { count: 0, successful: 0, failed: 0, inconclusive: 0, error: 0 };
  for (const m of run.spec.metrics) {
    summary.count++;
    const r = results.find((x) => x.name === m.name);
    if (!r) {
      done = false;
      continue;
    }
    const phase = assessMetric(m, r, terminating);
    if (phase !== r.phase) {
      r.message = r.measurements?.at(-1)?.message;
      r.phase = phase;
    }
    if (!isCompleted(phase)) {
      done = false;
      continue;
    }
    const why = failureInconclusiveOrError(m, r);
    if (!worst || worse(worst, phase)) {
      worst = phase;
      if (why.message) {
        message = `Metric "${m.name}" assessed ${phase} due to ${why.message}`;
        if (r.message) message += `: "Error Message: ${r.message}"`;
      }
    }
    if (why.phase === 'Error') summary.error++;
    else if (why.phase === 'Failed') summary.failed++;
    else if (why.phase === 'Inconclusive') summary.inconclusive++;
    else summary.successful++;
  }
  if (run.status) run.status.runSummary = summary;
  if (terminating) return { phase: worst ?? 'Successful', message };
  if (!done || !worst) return { phase: 'Running' };
  return { phase: worst, message };
}

/** Records a finished measurement in the metric's result (analysis.go's counters). */
export function recordMeasurement(r: MetricResult, m: Measurement): void {
  const list = (r.measurements ??= []);
  if (list.length && !isCompleted(list.at(-1)!.phase)) list[list.length - 1] = m;
  else list.push(m);
  if (!isCompleted(m.phase)) return;
  r.count = (r.count ?? 0) + 1;
  if (m.phase === 'Error') {
    r.error = (r.error ?? 0) + 1;
    r.consecutiveError = (r.consecutiveError ?? 0) + 1;
    return;
  }
  r.consecutiveError = 0;
  if (m.phase === 'Successful') r.successful = (r.successful ?? 0) + 1;
  else if (m.phase === 'Failed') r.failed = (r.failed ?? 0) + 1;
  else if (m.phase === 'Inconclusive') r.inconclusive = (r.inconclusive ?? 0) + 1;
  // Argo keeps the last 10 measurements per metric.
  if (list.length > 10) list.splice(0, list.length - 10);
}

/** `{$.a.b[0]}` or `$.a.b[0]` over parsed JSON (the JSONPath subset web metrics use). */
export function jsonPath(value: unknown, path: string | undefined): unknown {
  const p = (path ?? '{$}').replace(/^\{(.*)\}$/, '$1').trim();
  if (!p.startsWith('$')) throw new Error(`jsonPath ${path}: must start with $`);
  let v = value;
  const re = /\.([A-Za-z_][\w-]*)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/gy;
  re.lastIndex = 1;
  let m: RegExpExecArray | null;
  let end = 1;
  while ((m = re.exec(p))) {
    const key = m[1] ?? m[3] ?? m[4];
    if (key !== undefined) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
    else v = Array.isArray(v) ? (v[Number(m[2])] as unknown) : undefined;
    end = re.lastIndex;
  }
  if (end !== p.length) throw new Error(`jsonPath ${path}: only .field, [index] and ['field'] steps are supported`);
  if (v === undefined) throw new Error(`jsonPath ${path}: no such field in the response`);
  return v;
}

/** Substitutes `{{args.NAME}}` in every string of the metrics (an unresolved one is an error). */
export function resolveMetrics(metrics: Metric[], args: Argument[]): Metric[] {
  const values = new Map(args.map((a) => [a.name, a.value]));
  const sub = (v: unknown): unknown => {
    if (typeof v === 'string')
      return v.replace(/\{\{\s*args\.([\w-]+)\s*\}\}/g, (_m, name: string) => {
        const got = values.get(name);
        if (got === undefined) throw new Error(`failed to resolve {{args.${name}}}`);
        return got;
      });
    if (Array.isArray(v)) return v.map(sub);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sub(x)]));
    return v;
  };
  return sub(metrics) as Metric[];
}

/** One measurement of a web metric: the response's JSON at jsonPath, judged by the conditions. */
async function measureWeb(m: Metric): Promise<Measurement> {
  const w = m.provider.web!;
  const method = w.method ?? 'GET';
  if (w.body !== undefined && w.jsonBody !== undefined)
    throw new Error('use either Body or JSONBody; both cannot exists for WebMetric payload');
  if ((w.body !== undefined || w.jsonBody !== undefined) && method === 'GET')
    throw new Error('Body/JSONBody can only be used with POST or PUT WebMetric Method types');
  const headers: Record<string, string> = {};
  for (const h of w.headers ?? []) headers[h.key] = h.value;
  if (w.jsonBody !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(w.url, {
    method,
    headers,
    body: w.jsonBody !== undefined ? JSON.stringify(w.jsonBody) : w.body,
    signal: AbortSignal.timeout((w.timeoutSeconds ?? 10) * 1000),
  });
  const text = await res.text();
  if (res.status < 200 || res.status >= 300) throw new Error(`received non 2xx response code: ${res.status}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  const result = jsonPath(body, w.jsonPath);
  const value = typeof result === 'string' ? result : JSON.stringify(result);
  return { phase: evaluateResult(result, m), value };
}

/** One measurement of a prometheus metric: an instant query; a vector gives a list of values. */
async function measurePrometheus(m: Metric): Promise<Measurement> {
  const p = m.provider.prometheus!;
  if (!p.address) throw new Error('prometheus: address is required');
  const url = `${p.address.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(p.query)}`;
  const res = await fetch(url, { signal: AbortSignal.timeout((p.timeout ?? 30) * 1000) });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: unknown };
  };
  if (body.status !== 'success') throw new Error(body.error ?? `prometheus answered ${res.status}`);
  const data = body.data!;
  let result: unknown;
  if (data.resultType === 'vector')
    result = (data.result as { value: [number, string] }[]).map((s) => Number(s.value[1]));
  else if (data.resultType === 'scalar') result = Number((data.result as [number, string])[1]);
  else throw new Error(`prometheus: result type ${data.resultType} is not supported`);
  return { phase: evaluateResult(result, m), value: JSON.stringify(result) };
}

export class AnalysisRunController {
  private readonly runs: SharedIndexInformer<AnalysisRun>;
  private readonly runner: ControllerRunner;
  private readonly events: EventRecorder;
  /** In-flight web/prometheus measurements by run uid and metric. */
  private readonly inflight = new Set<string>();

  constructor(
    private readonly client: Client,
    log: Logger,
  ) {
    this.events = new EventRecorder(client, { component: 'rollouts-controller' }, log);
    this.runs = new SharedIndexInformer(client, ANALYSIS_RUNS, { logger: log, backoffMaxMs: 2000 });
    this.runner = new ControllerRunner({
      name: 'analysisruns',
      workers: 2,
      reconcile: (k) => this.sync(k),
      logger: log,
    });
    const enqueue = (r: AnalysisRun) => this.runner.enqueue(keyOf(r));
    this.runs.addEventHandler({ add: enqueue, update: (_o, n) => enqueue(n) });
  }

  /** The informer's store, for the Rollout controller to read runs' phases. */
  get informer(): SharedIndexInformer<AnalysisRun> {
    return this.runs;
  }

  async start(): Promise<void> {
    this.runs.start();
    await this.runs.waitForSync();
    this.runner.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.runs.stop(), this.runner.stop()]);
  }

  enqueue(key: string): void {
    this.runner.enqueue(key);
  }

  async sync(key: string): Promise<ReconcileResult | void> {
    const { namespace = '', name } = splitKey(key);
    const stored = this.runs.store.getByName(namespace, name);
    if (!stored || stored.metadata.deletionTimestamp) return;
    if (isCompleted(stored.status?.phase)) return;
    const run = structuredClone<Stored<AnalysisRun>>(stored);
    const now = Date.now();
    const status = (run.status ??= {});
    status.startedAt ??= iso(now);
    status.metricResults ??= [];
    let wakeMs: number | undefined;
    const wake = (ms: number) => (wakeMs = Math.max(200, Math.min(wakeMs ?? Infinity, ms)));

    const unresolved = (run.spec.args ?? []).find((a) => a.value === undefined);
    if (unresolved) {
      status.phase = 'Error';
      status.message = `args.${unresolved.name} was not resolved`;
      return this.write(stored, run, now);
    }
    let metrics: Metric[];
    try {
      metrics = resolveMetrics(run.spec.metrics, run.spec.args ?? []);
    } catch (err) {
      status.phase = 'Error';
      status.message = (err as Error).message;
      return this.write(stored, run, now);
    }
    const terminating =
      !!run.spec.terminate ||
      status.metricResults.some((r) => r.phase === 'Failed' || r.phase === 'Error' || r.phase === 'Inconclusive');
    if (!terminating) {
      for (const m of metrics) {
        let r = status.metricResults.find((x) => x.name === m.name);
        if (!r) status.metricResults.push((r = { name: m.name, phase: 'Pending' }));
        if (isCompleted(r.phase)) continue;
        const last = r.measurements?.at(-1);
        if (last && !isCompleted(last.phase)) {
          // A Job measurement in flight: poll it.
          if (m.provider.job) recordMeasurement(r, await this.pollJob(run, m, r, last));
          if (!isCompleted(r.measurements!.at(-1)!.phase)) wake(2000);
          continue;
        }
        const count = effectiveCount(m);
        if (count !== undefined && (r.count ?? 0) >= count) continue;
        const delay = last ? (pauseSeconds(m.interval) ?? 0) * 1000 : (pauseSeconds(m.initialDelay) ?? 0) * 1000;
        const due = (last ? Date.parse(last.finishedAt ?? status.startedAt) : Date.parse(status.startedAt)) + delay;
        if (due > now) {
          wake(due - now);
          continue;
        }
        recordMeasurement(r, await this.measure(run, m, r));
        if (!isCompleted(r.measurements!.at(-1)!.phase)) wake(2000);
        else if (m.interval) wake((pauseSeconds(m.interval) ?? 0) * 1000);
      }
    }
    const before = status.phase;
    const { phase, message } = assessRun({ ...run, spec: { ...run.spec, metrics } });
    status.phase = phase;
    status.message = message;
    if (phase !== before && isCompleted(phase))
      this.events.event(
        { ...run, apiVersion: `${ROLLOUT_GROUP}/v1alpha1`, kind: 'AnalysisRun' },
        phase === 'Successful' ? 'Normal' : 'Warning',
        `AnalysisRun${phase}`,
        `Analysis Run ${phase}${message ? `: ${message}` : ''}`,
      );
    await this.write(stored, run, now);
    if (!isCompleted(phase) && wakeMs !== undefined) return { requeueAfterMs: wakeMs };
  }

  private async write(stored: Stored<AnalysisRun>, run: Stored<AnalysisRun>, _now: number): Promise<void> {
    if (JSON.stringify(stored.status) === JSON.stringify(run.status)) return;
    try {
      await this.client.resource(ANALYSIS_RUNS).namespace(run.metadata.namespace).updateStatus(run);
    } catch (err) {
      if (!isConflict(err) && !isNotFound(err)) throw err;
    }
  }

  private async measure(run: Stored<AnalysisRun>, m: Metric, r: MetricResult): Promise<Measurement> {
    const startedAt = iso(Date.now());
    const key = `${run.metadata.uid}/${m.name}`;
    if (this.inflight.has(key)) return { phase: 'Running', startedAt };
    this.inflight.add(key);
    try {
      let got: Measurement;
      if (m.provider.web) got = await measureWeb(m);
      else if (m.provider.prometheus) got = await measurePrometheus(m);
      else if (m.provider.job) got = await this.startJob(run, m, r);
      else throw new Error(`metric ${m.name}: no supported provider (web, job, prometheus)`);
      return { ...got, startedAt, finishedAt: isCompleted(got.phase) ? iso(Date.now()) : undefined };
    } catch (err) {
      return { phase: 'Error', message: (err as Error).message, startedAt, finishedAt: iso(Date.now()) };
    } finally {
      this.inflight.delete(key);
    }
  }

  private jobName(run: AnalysisRun, m: Metric, n: number): string {
    const base = `${run.metadata.name}-${m.name}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    return `${base.slice(0, 55).replace(/-+$/, '')}-${n}`;
  }

  private async startJob(run: Stored<AnalysisRun>, m: Metric, r: MetricResult): Promise<Measurement> {
    const name = this.jobName(run, m, (r.count ?? 0) + 1);
    const job: Job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        ...m.provider.job!.metadata,
        name,
        namespace: run.metadata.namespace,
        ownerReferences: [
          {
            apiVersion: `${ROLLOUT_GROUP}/v1alpha1`,
            kind: 'AnalysisRun',
            name: run.metadata.name,
            uid: run.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: m.provider.job!.spec,
    };
    try {
      await this.client.resource(R.jobs).namespace(run.metadata.namespace).create(job);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    return { phase: 'Running', metadata: { 'job-name': name } };
  }

  private async pollJob(run: Stored<AnalysisRun>, m: Metric, r: MetricResult, last: Measurement): Promise<Measurement> {
    const name = last.metadata?.['job-name'] ?? this.jobName(run, m, (r.count ?? 0) + 1);
    let job: Job;
    try {
      job = await this.client.resource(R.jobs).namespace(run.metadata.namespace).get(name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return { ...last, phase: 'Error', message: `job ${name} not found`, finishedAt: iso(Date.now()) };
    }
    const cond = (t: string) => job.status?.conditions?.some((c) => c.type === t && c.status === 'True');
    if (cond('Complete')) return { ...last, phase: 'Successful', finishedAt: iso(Date.now()) };
    if (cond('Failed')) return { ...last, phase: 'Failed', message: `job ${name} failed`, finishedAt: iso(Date.now()) };
    return last;
  }
}
