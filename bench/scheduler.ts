// Scheduling benchmark: N pods onto M nodes (Node objects created directly; no simulated
// kubelets), with and without required pod anti-affinity, through the whole path of `k8ts
// server` (in-process API server on SQLite, informers, the scheduler, pods/binding, events).
// Reports pods/s and scheduling latency (pod creation → bound) percentiles.
//
//   npm run build && npm run bench:scheduler
//
// Environment (all optional):
//   BENCH_PODS             pods per scenario (5000)
//   BENCH_NODES            nodes (1000)
//   BENCH_APP_SIZE         pods per app in the anti-affinity scenario (5)
//   BENCH_CREATE_QPS       pod creation rate limit (0: as fast as possible, 100 in flight)
//   BENCH_ONLY             plain,antiaffinity (both)
//   BENCH_OUT              JSON results (bench/results/scheduler.json)
//   BENCH_SCHEDULER_THREAD 1 (default): the scheduler on its worker thread, as `k8ts server` runs
//                          it (server/schedulerthread.ts); 0: on the bench's main thread
//
// Besides wall-clock figures it reports the process's CPU time (user + system, all threads) per
// pod from the first create to the last binding: unlike pods/s, it holds on a shared machine.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import pino from 'pino';
import os from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { startCluster } from '../src/embed/cluster.js';
import { R } from '../src/client/index.js';
import { Scheduler } from '../src/scheduler/scheduler.js';
import { InProcessTransport, inProcessClient } from '../src/apiserver/inprocess.js';
import type { ApiServer } from '../src/apiserver/server.js';
import { SchedulerThread } from '../src/server/schedulerthread.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const num = (name: string, d: number) => (process.env[name] ? Number(process.env[name]) : d);
const cfg = {
  pods: num('BENCH_PODS', 5000),
  nodes: num('BENCH_NODES', 1000),
  appSize: num('BENCH_APP_SIZE', 5),
  createQps: num('BENCH_CREATE_QPS', 0),
  only: (process.env.BENCH_ONLY ?? 'plain,antiaffinity').split(','),
  out: process.env.BENCH_OUT ?? join(repo, 'bench', 'results', 'scheduler.json'),
  thread: process.env.BENCH_SCHEDULER_THREAD !== '0',
};

interface Result {
  scenario: string;
  pods: number;
  nodes: number;
  seconds: number;
  podsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  createPerSecond: number;
  attempts: number;
  distinctNodes: number;
  maxPodsPerNode: number;
  rssMiB: number;
  /** Process CPU (user + system) from the first create to the last binding, per pod. */
  cpuMsPerPod: number;
  /** The same, for the creation phase alone (first to last create), per pod. */
  createCpuMsPerPod: number;
  /** The main thread's CPU from the first create to the last binding, per pod. */
  mainCpuMsPerPod: number;
  /** The scheduler thread's CPU over the same span, per pod (on its worker thread only). */
  schedulerThreadCpuMsPerPod?: number;
}

/**
 * CPU time (user + system) of the main thread so far, in ms (Linux: /proc/self/task/PID/stat;
 * NaN elsewhere): the event loop is where scheduling happens, without the collector's and
 * SQLite's threads.
 */
function mainThreadCpuMs(tid = process.pid): number {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

/** CPU time (user + system) used by the process since `since` (process.cpuUsage), in ms. */
const cpuMsSince = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function inParallel<T>(items: T[], limit: number, fn: (t: T) => Promise<void>, qps = 0): Promise<void> {
  let i = 0;
  const start = performance.now();
  const worker = async () => {
    while (i < items.length) {
      const idx = i++;
      if (qps > 0) {
        const due = start + (idx / qps) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      await fn(items[idx]);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

function podFor(i: number, antiAffinity: boolean, appSize: number): any {
  const app = `app-${Math.floor(i / appSize)}`;
  const spec: any = {
    containers: [
      { name: 'c', image: 'registry.k8s.io/pause:3.9', resources: { requests: { cpu: '100m', memory: '128Mi' } } },
    ],
  };
  if (antiAffinity) {
    spec.affinity = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { labelSelector: { matchLabels: { app } }, topologyKey: 'kubernetes.io/hostname' },
        ],
      },
    };
  }
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: `pod-${i}`, namespace: 'bench', labels: { app } }, spec };
}

/** The scheduler under test, on either thread. */
interface BenchScheduler {
  /** The scheduler thread's task id (thread mode). */
  tid?: number;
  pending(): unknown;
  attempts(): Promise<number>;
  stop(): Promise<void>;
}

/** The scheduler on the main thread, reporting each binding itself. */
async function mainThreadScheduler(
  api: ApiServer,
  onBound: (key: string, node: string) => void,
): Promise<BenchScheduler> {
  const sched = new Scheduler({
    client: inProcessClient(api, { fieldManager: 'kube-scheduler' }),
    logger: pino({ level: 'warn' }),
    onBound: (key, _lat, node) => onBound(key, node),
  });
  await sched.start();
  return {
    pending: () => sched.queue.pending(),
    attempts: () => Promise.resolve(sched.stats.attempts),
    stop: () => sched.stop(),
  } satisfies BenchScheduler;
}

/**
 * The scheduler on its worker thread, as `k8ts server` runs it; bindings are seen by a watch of
 * the pods (shared cache objects: what it costs the main thread is part of the figure).
 */
async function threadScheduler(api: ApiServer, onBound: (key: string, node: string) => void): Promise<BenchScheduler> {
  const thread = new SchedulerThread({
    transport: () => new InProcessTransport(api, { fieldManager: 'kube-scheduler' }),
    logger: pino({ level: 'warn' }),
    options: { leaderElection: false },
  });
  const watch = inProcessClient(api, { fieldManager: 'bench' })
    .resource(R.pods)
    .namespace('bench')
    .watch({ shared: true, omitManagedFields: true }, (ev) => {
      const node = ev.object.spec?.nodeName;
      if (node) onBound(`bench/${ev.object.metadata.name}`, node);
    });
  thread.start();
  while (!thread.tid && !thread.identity) await new Promise((r) => setTimeout(r, 10));
  const attempts = async () => {
    const family = (await thread.metrics()).find((m) => m.name === 'scheduler_schedule_attempts_total');
    return (family?.values ?? []).reduce((n, v) => n + v.value, 0);
  };
  return {
    tid: thread.tid,
    pending: () => 'on the scheduler thread',
    attempts,
    stop: async () => {
      watch.stop();
      await thread.stop();
    },
  } satisfies BenchScheduler;
}

async function scenario(name: string, antiAffinity: boolean): Promise<Result> {
  const embedded = await startCluster({ controllers: false, scheduler: false });
  const api = embedded.api;
  const client = inProcessClient(api, { fieldManager: 'bench' });
  try {
    await client.resource(R.namespaces).create({ metadata: { name: 'bench' } });
    const nodes = Array.from({ length: cfg.nodes }, (_, i) => i);
    await inParallel(nodes, 50, async (i) => {
      const alloc = { cpu: '32', memory: '128Gi', pods: '110' };
      await client.resource(R.nodes).create({
        metadata: {
          name: `node-${i}`,
          labels: { 'kubernetes.io/hostname': `node-${i}`, 'topology.kubernetes.io/zone': `zone-${i % 3}` },
        },
        status: { capacity: alloc, allocatable: alloc, conditions: [{ type: 'Ready', status: 'True' }] },
      });
    });
    const created = new Map<string, number>();
    const bound = new Map<string, number>();
    const perNode = new Map<string, number>();
    let resolveAll!: () => void;
    const allBound = new Promise<void>((r) => (resolveAll = r));
    const onBound = (key: string, node: string) => {
      if (bound.has(key)) return;
      bound.set(key, performance.now());
      perNode.set(node, (perNode.get(node) ?? 0) + 1);
      if (bound.size === cfg.pods) resolveAll();
    };
    const sched = cfg.thread ? await threadScheduler(api, onBound) : await mainThreadScheduler(api, onBound);
    const pods = client.resource(R.pods).namespace('bench');
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const main0 = mainThreadCpuMs();
    const thread0 = sched.tid ? mainThreadCpuMs(sched.tid) : NaN;
    await inParallel(
      Array.from({ length: cfg.pods }, (_, i) => i),
      cfg.createQps > 0 ? 200 : 100,
      async (i) => {
        created.set(`bench/pod-${i}`, performance.now());
        await pods.create(podFor(i, antiAffinity, cfg.appSize));
      },
      cfg.createQps,
    );
    const tCreated = performance.now();
    const createCpuMs = cpuMsSince(cpu0);
    const timeout = new Promise<void>((_, rej) =>
      setTimeout(
        () =>
          rej(new Error(`only ${bound.size}/${cfg.pods} pods bound within 300 s (${JSON.stringify(sched.pending())})`)),
        300_000,
      ).unref(),
    );
    await Promise.race([allBound, timeout]);
    const t1 = performance.now();
    const cpuMs = cpuMsSince(cpu0);
    const mainMs = mainThreadCpuMs() - main0;
    const threadMs = sched.tid ? mainThreadCpuMs(sched.tid) - thread0 : NaN;
    const lat = [...bound].map(([k, t]) => t - created.get(k)!).sort((a, b) => a - b);
    const rssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
    const attempts = await sched.attempts();
    await sched.stop();
    const seconds = (t1 - t0) / 1000;
    return {
      scenario: name,
      pods: cfg.pods,
      nodes: cfg.nodes,
      seconds: +seconds.toFixed(2),
      podsPerSecond: Math.round(cfg.pods / seconds),
      latencyMs: {
        p50: Math.round(pct(lat, 50)),
        p90: Math.round(pct(lat, 90)),
        p99: Math.round(pct(lat, 99)),
        max: Math.round(lat[lat.length - 1]),
      },
      createPerSecond: Math.round(cfg.pods / ((tCreated - t0) / 1000)),
      attempts,
      distinctNodes: perNode.size,
      maxPodsPerNode: Math.max(...perNode.values()),
      rssMiB,
      cpuMsPerPod: +(cpuMs / cfg.pods).toFixed(3),
      createCpuMsPerPod: +(createCpuMs / cfg.pods).toFixed(3),
      mainCpuMsPerPod: +(mainMs / cfg.pods).toFixed(3),
      ...(sched.tid && { schedulerThreadCpuMsPerPod: +(threadMs / cfg.pods).toFixed(3) }),
    };
  } finally {
    await client.close().catch(() => undefined);
    await embedded.stop();
  }
}

async function main(): Promise<void> {
  const results: Result[] = [];
  console.log(
    `scheduling ${cfg.pods} pods on ${cfg.nodes} nodes, scheduler on ${cfg.thread ? 'its worker thread' : 'the main thread'} (node ${process.version}, ${os.cpus().length} cores, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')})`,
  );
  if (cfg.only.includes('plain')) results.push(await scenario('plain', false));
  if (cfg.only.includes('antiaffinity'))
    results.push(await scenario(`required anti-affinity (apps of ${cfg.appSize})`, true));
  console.log(
    '\n| scenario | pods/s | p50 ms | p90 ms | p99 ms | max ms | create/s | attempts | nodes used | max pods/node | CPU ms/pod | of it creating | main thread | scheduler thread |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    console.log(
      `| ${r.scenario} | ${r.podsPerSecond} | ${r.latencyMs.p50} | ${r.latencyMs.p90} | ${r.latencyMs.p99} | ${r.latencyMs.max} | ${r.createPerSecond} | ${r.attempts} | ${r.distinctNodes} | ${r.maxPodsPerNode} | ${r.cpuMsPerPod} | ${r.createCpuMsPerPod} | ${r.mainCpuMsPerPod} | ${r.schedulerThreadCpuMsPerPod ?? '-'} |`,
    );
  }
  console.log(
    '\nupstream reference: kube-scheduler schedules ~100–300 pods/s on such loads (scheduler_perf SchedulingBasic / SchedulingPodAntiAffinity, 5000 nodes)',
  );
  mkdirSync(dirname(cfg.out), { recursive: true });
  writeFileSync(
    cfg.out,
    JSON.stringify({ config: cfg, node: process.version, cores: os.cpus().length, results }, null, 2),
  );
  console.log(`results written to ${cfg.out}`);
  process.exit(0);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
