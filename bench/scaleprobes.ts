// Measurements bench/scale.ts takes besides its rollout, against upstream's scalability SLOs
// (kubernetes/community sig-scalability/slos): API call latency while the cluster is busy, and
// pod startup latency at an arrival rate the cluster sustains.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Pool } from 'undici';
import { R, type Client } from '../src/client/index.js';
import { pct, sleep, waitAtMost } from './common.js';

export interface LatencySummary {
  what: string;
  samples: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
}

type Call = (pool: Pool, i: number) => Promise<unknown>;

function summarize(what: string, ms: number[], errors: number): LatencySummary {
  const sorted = [...ms].sort((a, b) => a - b);
  const r = (x: number) => +x.toFixed(1);
  return {
    what,
    samples: sorted.length,
    p50: r(pct(sorted, 0.5)),
    p99: r(pct(sorted, 0.99)),
    max: r(sorted[sorted.length - 1] ?? NaN),
    errors,
  };
}

async function call(pool: Pool, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<void> {
  const res = await pool.request({
    method,
    path,
    headers: body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  await res.body.text();
  if (res.statusCode >= 400 && !(method === 'DELETE' && res.statusCode === 404))
    throw new Error(`${method} ${path}: ${res.statusCode}`);
}

/** Where the latency probe sends its calls, and what it asks about. */
export interface ProbeTarget {
  url: string;
  kubeconfig: string;
  nodes: number;
  namespace: string;
  gapMs?: number;
}

/**
 * Calls of the SLO's three kinds, one after another with `gapMs` between them, until stopped: a
 * single-object read, a create and its delete, a namespace-scoped list. Started with the rollout, it
 * samples the latency clients see while the cluster converges (the SLO holds over the whole run,
 * not only once it is quiet). It runs in a process of its own (bench/latencyprobe.ts), as a user's
 * kubectl would: this one's event loop is busy following every pod of the rollout.
 */
export function startLatencyProbe(o: ProbeTarget): { stop(): Promise<LatencySummary[]> } {
  const child = fork(fileURLToPath(new URL('./latencyprobe.js', import.meta.url)), [JSON.stringify(o)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const results = new Promise<LatencySummary[]>((resolve, reject) => {
    child.once('message', (m) => resolve(m as LatencySummary[]));
    child.once('exit', (code) => reject(new Error(`the latency probe exited (${code}) without results`)));
  });
  results.catch(() => undefined); // (read by stop(); an early exit is reported there)
  return {
    async stop() {
      child.send('stop');
      return results;
    },
  };
}

/** The probe's loop (in its own process): runs until `running()` turns false, then summarises. */
export async function probeLatency(pool: Pool, o: ProbeTarget, running: () => boolean): Promise<LatencySummary[]> {
  const cms = `/api/v1/namespaces/${o.namespace}/configmaps`;
  const calls: [string, Call][] = [
    [
      'GET a node (single object)',
      (p) => call(p, 'GET', `/api/v1/nodes/sim-node-${Math.floor(Math.random() * o.nodes)}`),
    ],
    // Each mutating call is a sample of its own, as the SLO counts calls: a create, then its delete.
    [
      'POST a ConfigMap (mutating)',
      (p, i) => call(p, 'POST', cms, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `probe-${i}` } }),
    ],
    ['DELETE a ConfigMap (mutating)', (p, i) => call(p, 'DELETE', `${cms}/probe-${i - 1}`)],
    ['LIST pods of a namespace (namespace scope)', (p) => call(p, 'GET', `/api/v1/namespaces/${o.namespace}/pods`)],
  ];
  const ms = calls.map(() => [] as number[]);
  const errors = calls.map(() => 0);
  for (let i = 0; running(); i++) {
    const k = i % calls.length;
    const t = performance.now();
    try {
      await calls[k][1](pool, i);
      ms[k].push(performance.now() - t);
    } catch {
      errors[k]++;
    }
    await sleep(o.gapMs ?? 250);
  }
  return calls.map(([what], k) => summarize(what, ms[k], errors[k]));
}

/**
 * Upstream's pod startup SLI: from a pod's creation to its being seen Running and Ready by a
 * watch, image present (the simulated kubelets pull nothing). `count` bare pods are created at
 * `perSecond`, each timed from just before its create call.
 */
export async function podStartupAtRate(
  client: Client,
  o: { namespace: string; count: number; perSecond: number; timeoutMs: number },
): Promise<LatencySummary & { perSecond: number; running: number }> {
  const pods = client.resource(R.pods).namespace(o.namespace);
  const createdAt = new Map<string, number>();
  const startup: number[] = [];
  const done = new Set<string>();
  const rv = (await pods.list({ limit: 1 })).metadata.resourceVersion;
  let allRunning!: () => void;
  const finished = new Promise<void>((r) => (allRunning = r));
  const watch = pods.watch(
    { labelSelector: 'bench=startup', resourceVersion: rv, allowWatchBookmarks: true },
    (ev: { type: string; object: Pod }) => {
      const p = ev.object;
      const name = p?.metadata?.name ?? '';
      const at = createdAt.get(name);
      if (ev.type === 'BOOKMARK' || at === undefined || done.has(name)) return;
      const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      if (p.status?.phase !== 'Running' || !ready) return;
      done.add(name);
      startup.push(performance.now() - at);
      if (done.size === o.count) allRunning();
    },
  );
  const t0 = performance.now();
  const creates: Promise<unknown>[] = [];
  let errors = 0;
  for (let i = 0; i < o.count; i++) {
    const due = t0 + (i * 1000) / o.perSecond;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const name = `startup-${i}`;
    createdAt.set(name, performance.now());
    creates.push(
      pods
        .create({
          metadata: { name, labels: { bench: 'startup' } },
          spec: {
            containers: [{ name: 'web', image: 'nginx:1.27', resources: { requests: { cpu: '10m', memory: '16Mi' } } }],
          },
        })
        .catch(() => errors++),
    );
  }
  await Promise.all(creates);
  await waitAtMost(finished, o.timeoutMs);
  watch.stop();
  const s = summarize(`pod startup at ${o.perSecond}/s (created → Running and Ready)`, startup, errors);
  return { ...s, perSecond: o.perSecond, running: done.size };
}
