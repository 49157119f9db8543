// `k8ts server`'s scheduler on a worker thread of its own (--scheduler-thread, the default), as
// upstream runs kube-scheduler as a process of its own: scheduling cycles then never wait for
// the API server's requests on the main thread, nor those for them. The thread's scheduler
// talks to the API through a MessagePort (client/port.ts), served here by the in-process
// transport under the scheduler's identity, so it is authorized, admitted and audited as before.
// Its log lines are written by the server's logger and its metrics (scheduler_*) are added to
// /metrics. A thread that dies is logged and started again, after a backoff that doubles up to a
// minute; the server goes on meanwhile.
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { serveTransport, type LineWatcher, type ServedPort } from '../client/port.js';
import type { Transport } from '../client/types.js';
import { addMetricsSource } from '../machinery/componentmetrics.js';
import type { SchedulerRunnerOptions } from '../scheduler/runner.js';

type Metrics = MetricObjectWithValues<MetricValue<string>>[];

/** What the worker is started with. */
export interface SchedulerWorkerData {
  port: MessagePort;
  fieldManager: string;
  logLevel: string;
  /** The runner's options that can cross to a thread (no functions). */
  options: Pick<
    SchedulerRunnerOptions,
    | 'leaderElection'
    | 'schedulerName'
    | 'percentageOfNodesToScore'
    | 'initialBackoffMs'
    | 'maxBackoffMs'
    | 'maxInFlightBindings'
  >;
}

export type ToWorker = { t: 'metrics'; id: number } | { t: 'stop' };
export type ToMain =
  | { t: 'started'; identity: string; tid?: number }
  | { t: 'log'; line: string }
  | { t: 'metrics'; id: number; metrics: Metrics }
  | { t: 'stopped' };

export interface SchedulerThreadOptions {
  /** A new transport to the API for each thread started (the in-process one, as the scheduler's user). */
  transport: () => Transport & Partial<LineWatcher>;
  logger: Logger;
  options?: SchedulerWorkerData['options'];
  /** First delay before starting a dead thread again (default 1 s; doubles up to maxRestartDelayMs). */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
}

/** A thread that ran this long before dying is restarted after the first delay again. */
const HEALTHY_MS = 60_000;
/** How long a stopping thread gets to give its lease back before it is terminated. */
const STOP_GRACE_MS = 10_000;
/** A scrape does not wait longer than this for the thread's metrics. */
const METRICS_TIMEOUT_MS = 2_000;

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

interface Running {
  worker: Worker;
  served: ServedPort;
  port: MessagePort;
  startedAt: number;
  exited: Promise<number>;
}

export class SchedulerThread {
  private readonly log: Logger;
  private running?: Running;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;
  private delay: number;
  private nextMetricsId = 1;
  private readonly metricsWaiters = new Map<number, (m: Metrics) => void>();
  private readonly removeMetrics: () => void;
  /** Threads started so far (restarts included). */
  starts = 0;
  /** The identity (lease holder) of the running thread's scheduler. */
  identity?: string;
  /** The running thread's task id (Linux: /proc/self/task/TID holds its CPU time). */
  tid?: number;

  constructor(private readonly opts: SchedulerThreadOptions) {
    this.log = opts.logger.child({ component: 'kube-scheduler', thread: 'scheduler' });
    this.delay = opts.restartDelayMs ?? 1000;
    this.removeMetrics = addMetricsSource(() => this.metrics());
  }

  /** The running thread (tests). */
  get worker(): Worker | undefined {
    return this.running?.worker;
  }

  start(): void {
    if (this.running || this.stopping) return;
    this.starts++;
    const { port1, port2 } = new MessageChannel();
    const served = serveTransport(port1, this.opts.transport());
    const data: SchedulerWorkerData = {
      port: port2,
      fieldManager: 'kube-scheduler',
      logLevel: this.opts.logger.level,
      options: this.opts.options ?? {},
    };
    const worker = new Worker(new URL('./schedulerworker.js', import.meta.url), {
      workerData: data,
      transferList: [port2],
    });
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const run: Running = { worker, served, port: port1, startedAt: Date.now(), exited };
    this.running = run;
    worker.on('message', (m: ToMain) => this.onMessage(run, m));
    worker.on('error', (err) => this.log.error({ err }, 'scheduler thread failed'));
    void exited.then((code) => this.onExit(run, code));
  }

  private onMessage(run: Running, m: ToMain): void {
    if (m.t === 'log') this.relog(m.line);
    else if (m.t === 'metrics') {
      this.metricsWaiters.get(m.id)?.(m.metrics);
      this.metricsWaiters.delete(m.id);
    } else if (m.t === 'started') {
      this.identity = m.identity;
      this.tid = m.tid;
    } else if (m.t === 'stopped') void run.worker.terminate();
  }

  /** A line of the thread's logger, written by ours. */
  private relog(line: string): void {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const { level, time: _time, msg, pid: _pid, hostname: _host, ...fields } = rec;
    const name = LEVELS[level as number] ?? 'info';
    (this.opts.logger as unknown as Record<string, (o: object, m?: string) => void>)[name](fields, msg as string);
  }

  private onExit(run: Running, code: number): void {
    run.served.close();
    run.port.close();
    if (this.running === run) this.running = undefined;
    for (const done of this.metricsWaiters.values()) done([]);
    this.metricsWaiters.clear();
    if (this.stopping) return;
    if (Date.now() - run.startedAt > HEALTHY_MS) this.delay = this.opts.restartDelayMs ?? 1000;
    const delay = this.delay;
    this.delay = Math.min(this.delay * 2, this.opts.maxRestartDelayMs ?? 60_000);
    this.log.error({ exitCode: code, restartInMs: delay }, 'scheduler thread exited; starting it again');
    this.restartTimer = setTimeout(() => this.start(), delay);
  }

  /** The thread's copy of the component metrics (scheduler_*), as /metrics adds them. */
  metrics(): Promise<Metrics> {
    const run = this.running;
    if (!run) return Promise.resolve([]);
    const id = this.nextMetricsId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.metricsWaiters.delete(id);
        resolve([]);
      }, METRICS_TIMEOUT_MS);
      this.metricsWaiters.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      run.worker.postMessage({ t: 'metrics', id } satisfies ToWorker);
    });
  }

  /** Stop scheduling and give the lease back (the thread is terminated if it takes too long). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.removeMetrics();
    const run = this.running;
    if (!run) return;
    run.worker.postMessage({ t: 'stop' } satisfies ToWorker);
    const timer = setTimeout(() => void run.worker.terminate(), STOP_GRACE_MS);
    await run.exited;
    clearTimeout(timer);
  }
}
