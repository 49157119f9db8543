// Control plane at scale: `k8ts server` (API server + controllers + scheduler, one process) with
// thousands of simulated nodes run by a separate `k8ts sim` process, and tens of thousands of pods
// created the way a user's cluster gets them: Deployments. It reports how long the pods take to be
// scheduled and Running, the server's memory (VmRSS, JS heap) and CPU once everything has settled
// (only leases renewing and node status reports), API latency of representative calls at that
// scale, and the simulator's own memory. It is a measurement, not a test.
//
//   npm run build && npm run bench:scale                 # 5,000 nodes / 50,000 pods (~9 min on a quiet 2-core machine;
//                                                        #   the server runs with bin/k8ts' node flags: an 8 GiB heap limit)
//   BENCH_SCALE=small npm run bench:scale                # 1,000 nodes / 10,000 pods (~2 min)
//
// Environment (all optional):
//   BENCH_SCALE              small | full (default full): picks the defaults below
//   BENCH_NODES              simulated nodes (5000 / 1000)
//   BENCH_PODS               pods (50000 / 10000), as Deployments of BENCH_REPLICAS replicas
//   BENCH_REPLICAS           replicas per Deployment (100)
//   BENCH_DEPLOYMENTS_PER_NS Deployments per namespace (10: 1,000 pods per namespace)
//   BENCH_HEARTBEAT_SECONDS  the sim's --sim-heartbeat-seconds (10, the kubelet's default)
//   BENCH_STEADY_SECONDS     length of the steady-state CPU window (60)
//   BENCH_SAMPLES            requests per latency measurement (30)
//   BENCH_TIMEOUT_SECONDS    give up waiting for convergence after this long (900)
//   BENCH_DIR                where the server's temporary data dir goes (os.tmpdir())
//   BENCH_OUT                where the JSON results go (bench/results/scale-<scale>.json)
//   BENCH_SERVER_ARGS        extra `k8ts server` flags, e.g. --disable-agent when another server holds port 10250
//   BENCH_HEAP_SNAPSHOT      a directory: the server writes a heap snapshot there after the steady state
//   BENCH_SERVER_NODE_ARGS   extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
//                            (the profile is written when the server stops at the end)
//   BENCH_SIM_NODE_ARGS      extra node flags for the simulator process
//   BENCH_SIM_ARGS           extra `k8ts sim` flags, e.g. --sim-status-writers 16
//   BENCH_SIM_NICE           run the simulator at this niceness (0): the 5,000 machines it stands
//                            for would not take CPU from the server; here they share its 2 cores
//   BENCH_STARTUP_PODS       pods created one by one after the API samples, for the pod startup SLO (300; 0: skip)
//   BENCH_STARTUP_QPS        their arrival rate per second (10)
//   BENCH_STORE              sqlite (default) | etcd: the server runs on a managed etcd member of its own
//                            (`k8ts server --cluster-init`, docs/datastore.md: what a user outgrowing SQLite
//                            runs); etcd's RSS and CPU are reported beside the server's
import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, dirname } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import { Pool } from 'undici';
import { Client, R } from '../src/client/index.js';
import {
  CLK_TCK,
  clientTLS,
  cpuSecondsOf,
  heapSnapshotNodeArgs,
  heapSnapshotOf,
  k8tsServerArgs,
  launch,
  pct,
  pick,
  repo,
  rssOf,
  scale,
  sleep,
} from './common.js';
import { podStartupAtRate, startLatencyProbe, type LatencySummary } from './scaleprobes.js';
import { callLatencySince, requestDurationsOf, sloClass, type CallLatency } from './apislis.js';
import { etcdPidFile, findEtcdBinary } from '../src/etcd/managed.js';
import { freePort } from '../test/support/ports.js';

// ---- configuration ------------------------------------------------------------------------------

function storeOf(v: string | undefined): 'sqlite' | 'etcd' {
  if (v === undefined || v === '' || v === 'sqlite') return 'sqlite';
  if (v === 'etcd') return 'etcd';
  throw new Error(`BENCH_STORE: "${v}" is neither sqlite nor etcd`);
}

const cfg = {
  scale,
  nodes: pick('BENCH_NODES', 5000, 1000),
  pods: pick('BENCH_PODS', 50000, 10000),
  replicas: pick('BENCH_REPLICAS', 100, 100),
  deploymentsPerNs: pick('BENCH_DEPLOYMENTS_PER_NS', 10, 10),
  heartbeatSeconds: pick('BENCH_HEARTBEAT_SECONDS', 10, 10),
  steadySeconds: pick('BENCH_STEADY_SECONDS', 60, 60),
  samples: pick('BENCH_SAMPLES', 30, 30),
  timeoutSeconds: pick('BENCH_TIMEOUT_SECONDS', 900, 600),
  dir: process.env.BENCH_DIR ?? os.tmpdir(),
  out:
    process.env.BENCH_OUT ??
    join(repo, 'bench', 'results', `scale-${scale}${process.env.BENCH_STORE === 'etcd' ? '-etcd' : ''}.json`),
  serverNodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  serverArgs: (process.env.BENCH_SERVER_ARGS ?? '').split(/\s+/).filter(Boolean),
  startupPods: pick('BENCH_STARTUP_PODS', 300, 300),
  startupPerSecond: pick('BENCH_STARTUP_QPS', 10, 10),
  simNodeArgs: (process.env.BENCH_SIM_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  simArgs: (process.env.BENCH_SIM_ARGS ?? '').split(/\s+/).filter(Boolean),
  simNice: pick('BENCH_SIM_NICE', 0, 0),
  store: storeOf(process.env.BENCH_STORE),
};
const deployments = Math.ceil(cfg.pods / cfg.replicas);
const namespaces = Math.ceil(deployments / cfg.deploymentsPerNs);

// ---- small helpers (as in bench/api.ts) ---------------------------------------------------------

const t0 = performance.now();
const log = (msg: string) =>
  process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);
const f1 = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '—' : n.toFixed(1));
const f0 = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '—' : n.toFixed(0));

/** CPU seconds (user + system) each thread of a process has used so far, by task id. */
function threadCpuSeconds(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(Number(tid), (Number(f[11]) + Number(f[12])) / CLK_TCK);
      } catch {
        // the thread ended
      }
    }
  } catch {
    // no /proc
  }
  return out;
}

/** CPU seconds (user + system, all threads) a process has used so far. */

/**
 * Seconds a process's threads have spent running and waiting in the run queue for a CPU
 * (/proc/PID/task/TID/schedstat): on a shared machine, the second says how starved it was.
 */
function schedOf(pid: number): { run: number; wait: number } {
  let run = 0;
  let wait = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const [a, b] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
        run += a / 1e9;
        wait += b / 1e9;
      } catch {
        /* thread gone */
      }
    }
  } catch {
    return { run: NaN, wait: NaN };
  }
  return { run, wait };
}

/** Busy CPU seconds of the whole machine so far (from /proc/stat). */
function machineBusy(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (f.reduce((a, b) => a + b, 0) - f[3] - (f[4] ?? 0)) / CLK_TCK;
}

/**
 * Where a process's resident memory is, from /proc/PID/smaps: file-backed (code, the SQLite
 * files' page cache is not counted there: it is the kernel's), the brk heap (malloc's main
 * arena: SQLite's page caches, OpenSSL, Node's buffers), and anonymous mappings (V8's heaps,
 * the other threads' malloc arenas), with the biggest anonymous ones.
 */
function residentByKindOf(pid: number): Record<string, number | string> {
  try {
    const text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
    const sums: Record<string, number> = { fileMiB: 0, brkHeapMiB: 0, anonMiB: 0, anonMappings: 0 };
    const anon: { sizeKiB: number; rssKiB: number }[] = [];
    let kind = '';
    let size = 0;
    for (const line of text.split('\n')) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
      if (head) {
        const name = head[2];
        kind = name === '[heap]' ? 'brkHeapMiB' : name.startsWith('/') ? 'fileMiB' : name === '' ? 'anonMiB' : 'other';
        continue;
      }
      const m = /^(Size|Rss):\s+(\d+) kB/.exec(line);
      if (!m) continue;
      const kb = Number(m[2]);
      if (m[1] === 'Size') size = kb;
      else if (kind !== 'other') {
        sums[kind] += kb / 1024;
        if (kind === 'anonMiB' && kb > 0) {
          sums.anonMappings++;
          anon.push({ sizeKiB: size, rssKiB: kb });
        }
      }
    }
    anon.sort((a, b) => b.rssKiB - a.rssKiB);
    const out: Record<string, number | string> = {};
    for (const [k, v] of Object.entries(sums)) out[k] = +v.toFixed(1);
    out.biggestAnon = anon
      .slice(0, 8)
      .map((a) => `${(a.rssKiB / 1024).toFixed(1)}/${(a.sizeKiB / 1024).toFixed(0)}`)
      .join(' ');
    return out;
  } catch {
    return {};
  }
}

/**
 * The server's own node runs real containers: the workload's `nginx` image is not there, so pods
 * placed on it would never run. It is tainted NoSchedule, and its agent (pod network routes,
 * network policy, load-balancer announcer: each watching every Node or pod) takes part in the run
 * as in a real cluster.
 */
async function keepWorkloadOffRealNode(client: Client): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [node] = (await client.resource(R.nodes).list()).items;
    if (node) {
      const taints = [...(node.spec?.taints ?? []), { key: 'k8ts.io/scale-bench', effect: 'NoSchedule' }];
      await client.resource(R.nodes).patch(node.metadata.name, 'merge', { spec: { taints } });
      return;
    }
    if (Date.now() > deadline) throw new Error("the server's node did not register in 60 s (or pass --disable-agent)");
    await sleep(500);
  }
}

/** Stops what a stopped server leaves (containerd, the bridge), as every benchmark must. */
function killall(dataDir: string): void {
  spawnSync(process.execPath, [join(repo, 'bin', 'k8ts'), 'killall', '--data-dir', dataDir], { stdio: 'ignore' });
}

/**
 * BENCH_STORE=etcd: the server's managed etcd member, read from its PID file each time (the
 * server restarts a member that died, under a new PID); every PID seen is remembered, so that
 * none survives the run.
 */
class EtcdMember {
  readonly pids = new Set<number>();
  constructor(private readonly dataDir: string) {}
  get pid(): number | undefined {
    try {
      const pid = Number(readFileSync(etcdPidFile(this.dataDir), 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 0) return undefined;
      this.pids.add(pid);
      return pid;
    } catch {
      return undefined;
    }
  }
  /** CPU seconds so far of the member running now (NaN without one). */
  cpu(): number {
    const pid = this.pid;
    return pid ? cpuSecondsOf(pid) : NaN;
  }
  rss(): { rssMiB: number; hwmMiB: number } {
    const pid = this.pid;
    return pid ? rssOf(pid) : { rssMiB: NaN, hwmMiB: NaN };
  }
  /** Size of etcd's database file (MiB). */
  dbMiB(): number {
    try {
      return statSync(join(dirname(etcdPidFile(this.dataDir)), 'member', 'snap', 'db')).size / 2 ** 20;
    } catch {
      return NaN;
    }
  }
  /** After `k8ts killall`: any member PID still alive is an etcd this run started; stop it. */
  reap(): void {
    for (const pid of this.pids) {
      try {
        if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.dataDir)) continue;
        log(`etcd pid ${pid} still running after killall; killing it`);
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

async function stopProcess(child: ChildProcess, name: string, graceMs = 60_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const start = performance.now();
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    log(`${name} did not stop in ${graceMs} ms; killing pid ${child.pid}`);
    child.kill('SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
  log(`${name} stopped in ${((performance.now() - start) / 1000).toFixed(1)} s`);
}

/** The server's Prometheus /metrics text, read once for every figure taken from it at one moment ('' if unreachable). */
async function metricsOf(pool: Pool): Promise<string> {
  try {
    return await (await pool.request({ method: 'GET', path: '/metrics' })).body.text();
  } catch {
    return '';
  }
}

/** A gauge's value in a /metrics text (its first series; NaN when absent). */
const gaugeOf = (metrics: string, name: string): number =>
  Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);

/** The server's own view of its memory, from its /metrics (prom-client defaults). */
function heapOf(metrics: string): { heapUsedMiB?: number; heapTotalMiB?: number; externalMiB?: number } {
  if (!metrics) return {};
  const get = (name: string) => gaugeOf(metrics, name) / 2 ** 20;
  return {
    heapUsedMiB: get('nodejs_heap_size_used_bytes'),
    heapTotalMiB: get('nodejs_heap_size_total_bytes'),
    externalMiB: get('nodejs_external_memory_bytes'),
  };
}

async function request(
  pool: Pool,
  path: string,
  accept = 'application/json',
  method: 'GET' | 'POST' | 'DELETE' = 'GET',
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const res = await pool.request({
    method,
    path,
    headers: body !== undefined ? { accept, 'content-type': 'application/json' } : { accept },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
  return { status: res.statusCode, text };
}

interface Latency {
  what: string;
  samples: number;
  p50: number;
  p99: number;
  max: number;
  bytes?: number;
  items?: number;
}

/** Seconds the server's V8 has spent in garbage collection so far, by kind (prom-client's nodejs_gc_duration_seconds). */
function gcSecondsOf(metrics: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metrics.matchAll(/^nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} (\S+)$/gm))
    out[m[1]] = Number(m[2]);
  return out;
}

/** Per upstream SLO class, the kind of call with the highest p99 among those with at least 100 calls. */
function worstBySloClass(calls: CallLatency[]) {
  const byClass = new Map<string, { what: string; limitMs: number; seriesCount: number; worst: CallLatency }>();
  for (const c of calls) {
    if (c.calls < 100) continue;
    const { what, limitMs } = sloClass(c.series);
    const w = byClass.get(what);
    if (!w) byClass.set(what, { what, limitMs, seriesCount: 1, worst: c });
    else {
      w.seriesCount++;
      if (c.p99Ms > w.worst.p99Ms) w.worst = c;
    }
  }
  return [...byClass.values()];
}

/**
 * The server's event loop delay since the previous /metrics reading (prom-client's
 * nodejs_eventloop_lag_* gauges, reset at each scrape): how long work waited for the main thread.
 */
function loopDelayOf(metrics: string): { p50: number; p99: number; max: number } {
  const get = (name: string) => +(gaugeOf(metrics, name) * 1000).toFixed(0);
  return {
    p50: get('nodejs_eventloop_lag_p50_seconds'),
    p99: get('nodejs_eventloop_lag_p99_seconds'),
    max: get('nodejs_eventloop_lag_max_seconds'),
  };
}

/** GC seconds spent between two readings of gcSecondsOf, by kind, rounded. */
const gcSince = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, +(v - (before[k] ?? 0)).toFixed(1)]));

/** `n` sequential calls; latencies in ms. */
async function measure(
  what: string,
  n: number,
  op: (i: number) => Promise<{ bytes?: number; items?: number } | void>,
): Promise<Latency> {
  const lat: number[] = [];
  let extra: { bytes?: number; items?: number } | void = undefined;
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    extra = await op(i);
    lat.push(performance.now() - s);
  }
  lat.sort((a, b) => a - b);
  const r = { what, samples: n, p50: pct(lat, 0.5), p99: pct(lat, 0.99), max: lat[lat.length - 1], ...(extra ?? {}) };
  log(
    `  ${what}: p50 ${f1(r.p50)} ms, p99 ${f1(r.p99)} ms, max ${f1(r.max)} ms${r.items !== undefined ? ` (${r.items} items)` : ''}`,
  );
  return r;
}

function runKubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile('kubectl', args, { maxBuffer: 256 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      res({
        code: err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0,
        stdout: String(stdout),
        stderr: String(stderr),
      });
    });
  });
}

function etcdVersion(): string {
  const r = spawnSync(findEtcdBinary(), ['--version'], { encoding: 'utf8' });
  return /etcd Version: (\S+)/.exec(r.stdout ?? '')?.[1] ?? '';
}

// ---- the workload -------------------------------------------------------------------------------

const nsName = (i: number) => `scale-${i}`;
const deployment = (i: number, replicas: number): Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: `app-${i}`, namespace: nsName(Math.floor(i / cfg.deploymentsPerNs)), labels: { bench: 'scale' } },
  spec: {
    replicas,
    selector: { matchLabels: { app: `app-${i}` } },
    template: {
      metadata: { labels: { app: `app-${i}`, bench: 'scale' } },
      spec: {
        containers: [
          {
            name: 'web',
            image: 'nginx:1.27',
            ports: [{ containerPort: 80 }],
            resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
          },
        ],
      },
    },
  },
});

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const results: Record<string, any> = {
    when: new Date().toISOString(),
    store: cfg.store,
    config: { ...cfg, deployments, namespaces },
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
      node: process.version,
      kernel: os.release(),
    },
  };
  log(
    `${cfg.nodes} simulated nodes, ${cfg.pods} pods as ${deployments} Deployments × ${cfg.replicas} in ${namespaces} namespaces; heartbeat ${cfg.heartbeatSeconds} s`,
  );

  // The server: API server + controllers + scheduler, nothing simulated in it.
  const dataDir = mkdtempSync(join(cfg.dir, 'k8ts-scale-'));
  let server: ChildProcess | undefined;
  let sim: ChildProcess | undefined;
  let client: Client | undefined;
  let pool: Pool | undefined;
  let podWatch: { stop(): void } | undefined;
  const state = { watching: true };
  const etcd = cfg.store === 'etcd' ? new EtcdMember(dataDir) : undefined;
  // Interrupted (Ctrl-C, a timeout of the caller): nothing of the run may stay behind.
  const interrupted = (signal: NodeJS.Signals) => {
    for (const child of [sim, server]) child?.kill('SIGKILL');
    killall(dataDir);
    etcd?.reap();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    // On etcd: the managed member a user gets with one flag, on free ports (not 2379/2380, which
    // another etcd on the machine may hold).
    const storeArgs = etcd
      ? ['--cluster-init', '--etcd-client-port', String(await freePort()), '--etcd-peer-port', String(await freePort())]
      : [];
    const srv = await launch(
      'k8ts server',
      k8tsServerArgs(
        dataDir,
        ['--cluster-cidr', '10.64.0.0/10', '--log-level', 'warn', ...storeArgs, ...cfg.serverArgs],
        [...cfg.serverNodeArgs, ...heapSnapshotNodeArgs()],
      ),
      /k8ts server ready: (\S+) \(data .*, kubeconfig (\S+)\)/,
      120_000,
    );
    server = srv.child;
    const serverPid = server.pid!;
    const kubeconfig = srv.match[2];
    log(`server pid ${serverPid} at ${srv.match[1]}; RSS ${f0(rssOf(serverPid).rssMiB)} MiB`);
    if (etcd) {
      if (!etcd.pid) throw new Error(`BENCH_STORE=etcd: no etcd PID in ${etcdPidFile(dataDir)}`);
      results.etcd = { pid: etcd.pid, version: etcdVersion() };
      log(`store: managed etcd ${results.etcd.version}, pid ${etcd.pid}; RSS ${f0(etcd.rss().rssMiB)} MiB`);
    }
    const tls = clientTLS(kubeconfig);
    // A generous connect timeout: on a loaded machine (or right after a heap snapshot) the server may
    // take longer than undici's 10 s to accept, and the run should not end there.
    pool = new Pool(srv.match[1], {
      connections: 4,
      pipelining: 1,
      connect: { ...tls, servername: 'localhost', timeout: 120_000 },
    });
    client = Client.fromKubeconfig(kubeconfig, { fieldManager: 'bench', timeoutMs: 300_000 });
    if (!cfg.serverArgs.includes('--disable-agent')) await keepWorkloadOffRealNode(client);
    const idle = { ...rssOf(serverPid), ...heapOf(await metricsOf(pool)) };
    results.serverIdle = idle;
    if (etcd) results.etcdIdle = { ...etcd.rss(), dbMiB: +etcd.dbMiB().toFixed(1) };

    // The simulated nodes, in a process of their own.
    const simStart = performance.now();
    const s = await launch(
      'k8ts sim',
      [
        ...cfg.simNodeArgs,
        join(repo, 'bin', 'k8ts'),
        'sim',
        '--nodes',
        String(cfg.nodes),
        '--kubeconfig',
        kubeconfig,
        '--sim-heartbeat-seconds',
        String(cfg.heartbeatSeconds),
        '--log-level',
        'warn',
        ...cfg.simArgs,
      ],
      /k8ts sim ready/,
      cfg.timeoutSeconds * 1000,
      cfg.simNice,
    );
    sim = s.child;
    const simPid = sim.pid!;
    const deadline = Date.now() + cfg.timeoutSeconds * 1000;
    for (;;) {
      const list = await client.resource(R.nodes).listAll({}, 1000);
      const ready = list.items.filter(
        (n: any) =>
          n.spec?.podCIDR && (n.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'),
      ).length;
      if (ready >= cfg.nodes) break;
      if (Date.now() > deadline) throw new Error(`only ${ready}/${cfg.nodes} nodes Ready with a podCIDR`);
      await sleep(2000);
    }
    results.nodesReadyS = +((performance.now() - simStart) / 1000).toFixed(1);
    results.serverWithNodes = { ...rssOf(serverPid), ...heapOf(await metricsOf(pool)) };
    if (etcd) results.etcdWithNodes = { ...etcd.rss(), dbMiB: +etcd.dbMiB().toFixed(1) };
    log(
      `${cfg.nodes} nodes Ready in ${results.nodesReadyS} s; server RSS ${f0(results.serverWithNodes.rssMiB)} MiB, sim RSS ${f0(rssOf(simPid).rssMiB)} MiB${etcd ? `, etcd RSS ${f0(results.etcdWithNodes.rssMiB)} MiB` : ''}`,
    );

    // Namespaces first (each gets its ServiceAccount and root CA ConfigMap from controllers).
    for (let i = 0; i < namespaces; i++) await client.resource(R.namespaces).create({ metadata: { name: nsName(i) } });

    // Watch every pod from the bench (as a monitoring agent would) to time scheduling and start.
    const seen = new Map<string, { created: number; scheduled?: number; running?: number }>();
    let lastCreatedAt = 0;
    let scheduled = 0;
    let running = 0;
    let lastScheduledAt = 0;
    let lastRunningAt = 0;
    let rv = (await client.resource(R.pods).list({ limit: 1 })).metadata.resourceVersion;
    const onPod = (ev: { type: string; object: any }) => {
      const p = ev.object;
      if (ev.type === 'BOOKMARK') {
        rv = p?.metadata?.resourceVersion ?? rv;
        return;
      }
      if (ev.type === 'ERROR' || !p?.metadata?.uid) return;
      rv = p.metadata.resourceVersion ?? rv;
      if (p.metadata.labels?.bench !== 'scale') return;
      let st = seen.get(p.metadata.uid);
      const now = performance.now();
      if (!st) {
        seen.set(p.metadata.uid, (st = { created: now }));
        lastCreatedAt = now;
      }
      if (st.scheduled === undefined && p.spec?.nodeName) {
        st.scheduled = now;
        scheduled++;
        lastScheduledAt = now;
      }
      if (
        st.running === undefined &&
        p.status?.phase === 'Running' &&
        (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')
      ) {
        st.running = now;
        running++;
        lastRunningAt = now;
      }
    };
    const watchLoop = (async () => {
      while (state.watching) {
        const w = client.resource(R.pods).watch({ resourceVersion: rv, allowWatchBookmarks: true }, onPod);
        podWatch = w;
        const end = await w.done;
        if (end.error && state.watching) log(`pod watch ended: ${end.error.message}; reopening from ${rv}`);
      }
    })();

    // The workload: Deployments, 16 creates in flight; API calls sampled meanwhile.
    const probe = startLatencyProbe({ url: srv.match[1], kubeconfig, nodes: cfg.nodes, namespace: nsName(0) });
    const createStart = performance.now();
    // This process's own event loop: it follows every pod, which the probe (a process of its own) is spared.
    const benchLoop = monitorEventLoopDelay({ resolution: 20 });
    benchLoop.enable();
    const cpu0 = cpuSecondsOf(serverPid);
    const simCpu0 = cpuSecondsOf(simPid);
    const etcdCpu0 = etcd?.cpu() ?? 0;
    const busy0 = machineBusy();
    const sched0 = schedOf(serverPid);
    const threads0 = threadCpuSeconds(serverPid);
    const rolloutMetrics0 = await metricsOf(pool);
    const gc0 = gcSecondsOf(rolloutMetrics0);
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < deployments) {
          const i = next++;
          const replicas = Math.min(cfg.replicas, cfg.pods - i * cfg.replicas);
          await client!
            .resource(R.deployments)
            .namespace(nsName(Math.floor(i / cfg.deploymentsPerNs)))
            .create(deployment(i, replicas));
        }
      }),
    );
    const createdS = (performance.now() - createStart) / 1000;
    log(`${deployments} Deployments created in ${createdS.toFixed(1)} s`);

    let peakRss = 0;
    let etcdPeakRss = 0;
    let lastLog = 0;
    let lastProgress = { scheduled: -1, running: -1, at: performance.now() };
    for (;;) {
      const now = performance.now();
      const rss = rssOf(serverPid).rssMiB;
      peakRss = Math.max(peakRss, rss);
      const etcdRss = etcd?.rss().rssMiB ?? NaN;
      if (etcd) etcdPeakRss = Math.max(etcdPeakRss, etcdRss);
      if (running >= cfg.pods) break;
      if (scheduled !== lastProgress.scheduled || running !== lastProgress.running)
        lastProgress = { scheduled, running, at: now };
      if (now - lastLog > 10_000) {
        lastLog = now;
        const cores = (cpuSecondsOf(serverPid) - cpu0) / ((now - createStart) / 1000);
        const sc = schedOf(serverPid);
        log(
          `server waited for a CPU ${((sc.wait - sched0.wait) / ((now - createStart) / 1000)).toFixed(2)} cores-worth on average; machine load ${os.loadavg()[0].toFixed(1)}`,
        );
        log(
          `pods created ${seen.size}, scheduled ${scheduled}/${cfg.pods}, Running+Ready ${running}/${cfg.pods}; server RSS ${f0(rss)} MiB, avg ${cores.toFixed(2)} cores; sim RSS ${f0(rssOf(simPid).rssMiB)} MiB${etcd ? `; etcd RSS ${f0(etcdRss)} MiB, avg ${((etcd.cpu() - etcdCpu0) / ((now - createStart) / 1000)).toFixed(2)} cores` : ''}`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(
          `timed out: ${scheduled}/${cfg.pods} scheduled, ${running}/${cfg.pods} Running after ${cfg.timeoutSeconds} s`,
        );
      if (now - lastProgress.at > 180_000)
        throw new Error(
          `no progress for 3 minutes: ${scheduled}/${cfg.pods} scheduled, ${running}/${cfg.pods} Running`,
        );
      if (server.exitCode !== null)
        throw new Error(`server exited (${server.exitCode}):\n${srv.stderr().slice(-5000)}`);
      await sleep(500);
    }
    const convergeS = (performance.now() - createStart) / 1000;
    const rolloutMetrics = await metricsOf(pool);
    const convergeCpu = cpuSecondsOf(serverPid) - cpu0;
    const convergeEtcd = etcd ? etcd.cpu() - etcdCpu0 : 0;
    // Per thread: the main thread (the API server's event loop) and the busiest others (the
    // scheduler's worker thread, SQLite's writer, the collector's).
    const threads1 = threadCpuSeconds(serverPid);
    const threadCores = [...threads1]
      .map(([tid, cpu]) => ({ tid, cores: (cpu - (threads0.get(tid) ?? 0)) / convergeS }))
      .sort((a, b) => b.cores - a.cores);
    const mainThreadCores = threadCores.find((t) => t.tid === serverPid)?.cores ?? NaN;
    const otherThreadCores = threadCores.filter((t) => t.tid !== serverPid).slice(0, 3);
    const dist = (f: (x: { created: number; scheduled?: number; running?: number }) => number | undefined) => {
      const v = [...seen.values()]
        .map(f)
        .filter((x): x is number => x !== undefined)
        .sort((a, b) => a - b);
      return { p50: +pct(v, 0.5).toFixed(0), p99: +pct(v, 0.99).toFixed(0), max: +(v[v.length - 1] ?? NaN).toFixed(0) };
    };
    results.converge = {
      deploymentsCreatedS: +createdS.toFixed(1),
      allPodsCreatedS: +((lastCreatedAt - createStart) / 1000).toFixed(1),
      createToScheduledMs: dist((x) => (x.scheduled !== undefined ? x.scheduled - x.created : undefined)),
      scheduledToRunningMs: dist((x) =>
        x.scheduled !== undefined && x.running !== undefined ? x.running - x.scheduled : undefined,
      ),
      allScheduledS: +((lastScheduledAt - createStart) / 1000).toFixed(1),
      allRunningS: +((lastRunningAt - createStart) / 1000).toFixed(1),
      podsPerSecond: +(cfg.pods / convergeS).toFixed(0),
      serverCpuS: +convergeCpu.toFixed(1),
      serverCores: +(convergeCpu / convergeS).toFixed(2),
      serverRunQueueWaitCores: +((schedOf(serverPid).wait - sched0.wait) / convergeS).toFixed(2),
      serverMainThreadCores: +mainThreadCores.toFixed(2),
      serverMainThreadCpuS: +(mainThreadCores * convergeS).toFixed(2),
      serverBusiestOtherThreadsCores: otherThreadCores.map((t) => +t.cores.toFixed(2)),
      serverGcS: gcSince(gc0, gcSecondsOf(rolloutMetrics)),
      simCores: +((cpuSecondsOf(simPid) - simCpu0) / convergeS).toFixed(2),
      ...(etcd ? { etcdCores: +(convergeEtcd / convergeS).toFixed(2), etcdPeakRssMiB: +etcdPeakRss.toFixed(0) } : {}),
      otherCores: +(
        (machineBusy() - busy0 - convergeCpu - convergeEtcd - (cpuSecondsOf(simPid) - simCpu0)) /
        convergeS
      ).toFixed(2),
      serverPeakRssMiB: +peakRss.toFixed(0),
      serverLoopDelayMs: loopDelayOf(rolloutMetrics),
      benchLoopDelayMs: {
        p50: +(benchLoop.percentile(50) / 1e6).toFixed(0),
        p99: +(benchLoop.percentile(99) / 1e6).toFixed(0),
      },
    };
    benchLoop.disable();
    log(
      `pods: last created ${results.converge.allPodsCreatedS} s; create→scheduled ${JSON.stringify(results.converge.createToScheduledMs)} ms; scheduled→Running+Ready ${JSON.stringify(results.converge.scheduledToRunningMs)} ms`,
    );
    log(
      `all ${cfg.pods} pods scheduled after ${results.converge.allScheduledS} s, Running and Ready after ${results.converge.allRunningS} s (server ${results.converge.serverCores} cores)`,
    );
    log(
      `event loop delay while converging: the server's ${JSON.stringify(results.converge.serverLoopDelayMs)} ms, this process's ${JSON.stringify(results.converge.benchLoopDelayMs)} ms`,
    );
    log(
      `server threads while converging: main ${results.converge.serverMainThreadCores} cores, busiest others ${results.converge.serverBusiestOtherThreadsCores.join(' / ')} cores; GC seconds ${JSON.stringify(results.converge.serverGcS)}`,
    );

    results.latencyDuringRollout = await probe.stop();
    for (const l of results.latencyDuringRollout as LatencySummary[])
      log(
        `  during the rollout, ${l.what}: p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms (n=${l.samples}, ${l.errors} errors)`,
      );
    // The same window at the server, every kind of call the cluster made, as the SLOs count them.
    // (The SLI leaves out time queued by priority and fairness; the whole request's p99 beside it.)
    const rolloutCalls = callLatencySince(requestDurationsOf(rolloutMetrics0), requestDurationsOf(rolloutMetrics));
    const whole = 'apiserver_request_duration_seconds';
    const rolloutWhole = callLatencySince(
      requestDurationsOf(rolloutMetrics0, whole),
      requestDurationsOf(rolloutMetrics, whole),
    );
    results.apiCallsDuringRollout = rolloutCalls;
    results.apiCallsDuringRolloutWhole = rolloutWhole;
    for (const c of rolloutCalls.filter((c) => c.calls >= 100)) {
      const w = rolloutWhole.find((x) => x.series === c.series);
      log(
        `  during the rollout at the server, ${c.series}: ${c.calls} calls; SLI mean ${c.meanMs} ms, p99 ${c.p99Ms} ms; whole request mean ${w?.meanMs} ms, p99 ${w?.p99Ms} ms`,
      );
    }
    results.sloDuringRollout = worstBySloClass(rolloutCalls);

    // Deployments agree?
    const deps = await client.resource(R.deployments).listAll({ labelSelector: 'bench=scale' });
    const available = deps.items.reduce((n: number, d: any) => n + (d.status?.availableReplicas ?? 0), 0);
    log(`Deployments report ${available} available replicas`);
    results.deploymentsAvailable = available;

    // Steady state: let controllers finish status updates, then a minute of leases renewing.
    await sleep(15_000);
    state.watching = false;
    podWatch?.stop();
    await watchLoop;
    const steady0 = {
      cpu: cpuSecondsOf(serverPid),
      sim: cpuSecondsOf(simPid),
      etcd: etcd?.cpu() ?? 0,
      busy: machineBusy(),
      t: performance.now(),
      sched: schedOf(serverPid),
    };
    const rssSamples: number[] = [];
    while (performance.now() - steady0.t < cfg.steadySeconds * 1000) {
      await sleep(5000);
      rssSamples.push(rssOf(serverPid).rssMiB);
    }
    const steadyWall = (performance.now() - steady0.t) / 1000;
    const steadyCpu = cpuSecondsOf(serverPid) - steady0.cpu;
    const steadySim = cpuSecondsOf(simPid) - steady0.sim;
    const steadyEtcd = etcd ? etcd.cpu() - steady0.etcd : 0;
    results.steady = {
      seconds: +steadyWall.toFixed(1),
      serverCores: +(steadyCpu / steadyWall).toFixed(3),
      serverRunQueueWaitCores: +((schedOf(serverPid).wait - steady0.sched.wait) / steadyWall).toFixed(3),
      simCores: +(steadySim / steadyWall).toFixed(3),
      ...(etcd
        ? {
            etcdCores: +(steadyEtcd / steadyWall).toFixed(3),
            etcd: { ...etcd.rss(), dbMiB: +etcd.dbMiB().toFixed(1), restarts: etcd.pids.size - 1 },
          }
        : {}),
      otherCores: +((machineBusy() - steady0.busy - steadyCpu - steadySim - steadyEtcd) / steadyWall).toFixed(2),
      leaseRenewalsPerSecond: +(cfg.nodes / cfg.heartbeatSeconds).toFixed(0),
      server: {
        ...rssOf(serverPid),
        ...heapOf(await metricsOf(pool)),
        rssMinMiB: Math.min(...rssSamples),
        rssMaxMiB: Math.max(...rssSamples),
        resident: residentByKindOf(serverPid),
      },
      sim: rssOf(simPid),
    };
    await heapSnapshotOf(serverPid, log);
    log(
      `server resident memory by kind (MiB; biggest anonymous mappings rss/size): ${JSON.stringify(results.steady.server.resident)}`,
    );
    log(
      `steady state over ${f0(steadyWall)} s: server ${results.steady.serverCores} cores, RSS ${f0(results.steady.server.rssMiB)} MiB (heap used ${f0(results.steady.server.heapUsedMiB)} MiB); sim ${results.steady.simCores} cores, RSS ${f0(results.steady.sim.rssMiB)} MiB`,
    );

    // API latency at this scale (sequential calls, while leases keep renewing).
    const lat: Latency[] = [];
    const ns0 = nsName(0);
    const n = cfg.samples;
    lat.push(
      await measure(`GET /api/v1/nodes/NAME (random node)`, n, async () => {
        const r = await request(pool!, `/api/v1/nodes/sim-node-${Math.floor(Math.random() * cfg.nodes)}`);
        return { bytes: r.text.length };
      }),
    );
    const somePods = (
      JSON.parse((await request(pool, `/api/v1/namespaces/${ns0}/pods?limit=100`)).text) as {
        items: { metadata: { name: string } }[];
      }
    ).items.map((p) => p.metadata.name);
    lat.push(
      await measure(`GET a pod`, n, async (i) => {
        const r = await request(pool!, `/api/v1/namespaces/${ns0}/pods/${somePods[i % somePods.length]}`);
        return { bytes: r.text.length };
      }),
    );
    lat.push(
      await measure(`POST + DELETE a ConfigMap (create, delete)`, n, async (i) => {
        await request(pool!, `/api/v1/namespaces/${ns0}/configmaps`, 'application/json', 'POST', {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: `lat-${i}` },
          data: { k: 'v' },
        });
        await request(pool!, `/api/v1/namespaces/${ns0}/configmaps/lat-${i}`, 'application/json', 'DELETE');
      }),
    );
    lat.push(
      await measure(`LIST pods in one namespace (${cfg.deploymentsPerNs * cfg.replicas} pods)`, n, async () => {
        const r = await request(pool!, `/api/v1/namespaces/${ns0}/pods`);
        return { bytes: r.text.length, items: (JSON.parse(r.text).items ?? []).length };
      }),
    );
    lat.push(
      await measure(
        `LIST pods in one namespace, label selector (one Deployment, ${cfg.replicas} pods)`,
        n,
        async () => {
          const r = await request(pool!, `/api/v1/namespaces/${ns0}/pods?labelSelector=app%3Dapp-0`);
          return { bytes: r.text.length, items: (JSON.parse(r.text).items ?? []).length };
        },
      ),
    );
    const tableAccept =
      'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
    const chunked = async (path: string, accept: string) => {
      let cont = '';
      let items = 0;
      let bytes = 0;
      let pages = 0;
      do {
        const r = await request(
          pool!,
          `${path}${path.includes('?') ? '&' : '?'}limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`,
          accept,
        );
        const body = JSON.parse(r.text);
        items += (body.items ?? body.rows ?? []).length;
        bytes += r.text.length;
        pages++;
        cont = body.metadata?.continue ?? '';
      } while (cont);
      return { items, bytes, pages };
    };
    lat.push(
      await measure(`LIST nodes as kubectl get nodes does (Table, limit=500, all pages)`, Math.min(n, 10), () =>
        chunked('/api/v1/nodes', tableAccept),
      ),
    );
    lat.push(
      await measure(`LIST nodes, full objects (limit=500, all pages)`, Math.min(n, 10), () =>
        chunked('/api/v1/nodes', 'application/json'),
      ),
    );
    const listCpu0 = cpuSecondsOf(serverPid);
    const listMetrics0 = await metricsOf(pool);
    const listWall0 = performance.now();
    const listClient0 = process.cpuUsage();
    lat.push(
      await measure(`LIST all pods, all namespaces (limit=500, all pages)`, 3, () =>
        chunked('/api/v1/pods', 'application/json'),
      ),
    );
    const listClient = process.cpuUsage(listClient0);
    const listMetrics = await metricsOf(pool);
    results.listAllPodsServer = {
      wallS: +((performance.now() - listWall0) / 1000).toFixed(1),
      cpuS: +(cpuSecondsOf(serverPid) - listCpu0).toFixed(1),
      gcS: gcSince(gcSecondsOf(listMetrics0), gcSecondsOf(listMetrics)),
      benchCpuS: +((listClient.user + listClient.system) / 1e6).toFixed(1),
      serverPages: callLatencySince(requestDurationsOf(listMetrics0), requestDurationsOf(listMetrics)).find(
        (c) => c.series === 'LIST pods cluster',
      ),
    };
    log(
      `  the 3 LISTs of all pods: ${JSON.stringify(results.listAllPodsServer)} (wall, server CPU and GC, this process's CPU, the page calls as the server timed them)`,
    );
    // The real kubectl, wall time of the whole command (process start, discovery from cache, pages).
    const kubectlGet = await runKubectl(['--kubeconfig', kubeconfig, 'get', 'nodes', '--no-headers']);
    if (kubectlGet.code === 0) {
      lat.push(
        await measure(`kubectl get nodes (whole command, --chunk-size=500 default)`, 5, async () => {
          const r = await runKubectl(['--kubeconfig', kubeconfig, 'get', 'nodes', '--no-headers']);
          if (r.code !== 0) throw new Error(r.stderr);
          return { items: r.stdout.trim().split('\n').length };
        }),
      );
      lat.push(
        await measure(`kubectl get pods -n ${ns0} (whole command)`, 5, async () => {
          const r = await runKubectl(['--kubeconfig', kubeconfig, 'get', 'pods', '-n', ns0, '--no-headers']);
          if (r.code !== 0) throw new Error(r.stderr);
          return { items: r.stdout.trim().split('\n').length };
        }),
      );
    } else log(`kubectl not usable, skipped: ${kubectlGet.stderr.slice(0, 200)}`);
    results.latency = lat;
    if (cfg.startupPods > 0) {
      results.podStartup = await podStartupAtRate(client, {
        namespace: nsName(0),
        count: cfg.startupPods,
        perSecond: cfg.startupPerSecond,
        timeoutMs: 120_000,
      });
      const ps = results.podStartup as Awaited<ReturnType<typeof podStartupAtRate>>;
      log(
        `  ${ps.what}: p50 ${ps.p50} ms, p99 ${ps.p99} ms, max ${ps.max} ms (${ps.running}/${cfg.startupPods} Running)`,
      );
    }
    results.final = {
      server: { ...rssOf(serverPid), ...heapOf(await metricsOf(pool)) },
      sim: rssOf(simPid),
      ...(etcd ? { etcd: { ...etcd.rss(), dbMiB: +etcd.dbMiB().toFixed(1) } } : {}),
    };

    // Print the table.
    const st = results.steady;
    const rows: [string, string][] = [
      [
        'simulated nodes / pods (Deployments × replicas)',
        `${cfg.nodes} / ${cfg.pods} (${deployments} × ${cfg.replicas})`,
      ],
      ['nodes registered and Ready (sim start → all Ready)', `${results.nodesReadyS} s`],
      ['Deployments created (16 in flight)', `${results.converge.deploymentsCreatedS} s`],
      ['all pods created by the ReplicaSet controller (seen by a watch)', `${results.converge.allPodsCreatedS} s`],
      [
        'pod created → scheduled, p50 / p99',
        `${results.converge.createToScheduledMs.p50} / ${results.converge.createToScheduledMs.p99} ms`,
      ],
      [
        'pod scheduled → Running and Ready, p50 / p99',
        `${results.converge.scheduledToRunningMs.p50} / ${results.converge.scheduledToRunningMs.p99} ms`,
      ],
      ['all pods scheduled (from the first Deployment create)', `${results.converge.allScheduledS} s`],
      ['all pods Running and Ready', `${results.converge.allRunningS} s (${results.converge.podsPerSecond} pods/s)`],
      [
        'server CPU while converging (and time it waited for a CPU)',
        `${results.converge.serverCores} cores (waited ${results.converge.serverRunQueueWaitCores}); other processes ${results.converge.otherCores} cores`,
      ],
      [
        'server RSS: idle / with nodes / peak converging',
        `${f0(idle.rssMiB)} / ${f0(results.serverWithNodes.rssMiB)} / ${f0(results.converge.serverPeakRssMiB)} MiB`,
      ],
      [
        'server RSS, steady state (VmRSS)',
        `${f0(st.server.rssMiB)} MiB (${f0(st.server.rssMinMiB)}–${f0(st.server.rssMaxMiB)})`,
      ],
      [
        '  JS heap used / total, external',
        `${f0(st.server.heapUsedMiB)} / ${f0(st.server.heapTotalMiB)} MiB, ${f0(st.server.externalMiB)} MiB`,
      ],
      [
        `server CPU, steady state (${st.leaseRenewalsPerSecond} lease renewals/s)`,
        `${st.serverCores} cores (waited ${st.serverRunQueueWaitCores}); other processes ${st.otherCores} cores`,
      ],
      ['sim RSS / CPU steady state', `${f0(st.sim.rssMiB)} MiB / ${st.simCores} cores`],
      ...(etcd
        ? [
            ['store', `managed etcd ${results.etcd.version} (--cluster-init)`] as [string, string],
            ['etcd CPU while converging / steady state', `${results.converge.etcdCores} / ${st.etcdCores} cores`] as [
              string,
              string,
            ],
            [
              'etcd RSS: idle / with nodes / peak converging / steady; database file',
              `${f0(results.etcdIdle.rssMiB)} / ${f0(results.etcdWithNodes.rssMiB)} / ${f0(results.converge.etcdPeakRssMiB)} / ${f0(st.etcd.rssMiB)} MiB; ${f0(st.etcd.dbMiB)} MiB`,
            ] as [string, string],
          ]
        : [['store', 'SQLite (default)'] as [string, string]]),
      ...((results.latencyDuringRollout ?? []) as LatencySummary[]).map((l): [string, string] => [
        `during the rollout: ${l.what}`,
        `p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms (n=${l.samples}, ${l.errors} errors)`,
      ]),
      ...(results.sloDuringRollout as ReturnType<typeof worstBySloClass>).map((w): [string, string] => [
        `during the rollout, at the server: slowest ${w.what} p99 (of ${w.seriesCount} kinds of call)`,
        `${w.worst.p99Ms} ms, ${w.worst.series} (${w.worst.calls} calls, mean ${w.worst.meanMs} ms); SLO ${w.limitMs} ms ${w.worst.p99Ms <= w.limitMs ? '✔' : '✘'}`,
      ]),
      ...(results.podStartup
        ? [
            [
              results.podStartup.what,
              `p50 ${results.podStartup.p50} ms, p99 ${results.podStartup.p99} ms, max ${results.podStartup.max} ms (${results.podStartup.running}/${cfg.startupPods} Running)`,
            ] as [string, string],
          ]
        : []),
      ...lat.map((l): [string, string] => [
        l.what,
        `p50 ${f1(l.p50)} ms, p99 ${f1(l.p99)} ms, max ${f1(l.max)} ms (n=${l.samples}${l.items !== undefined ? `, ${l.items} items` : ''})`,
      ]),
    ];
    console.log('\n| measure | value |\n| --- | --- |');
    for (const [a, b] of rows) console.log(`| ${a} | ${b} |`);
  } finally {
    state.watching = false;
    podWatch?.stop();
    await client?.close().catch(() => undefined);
    await pool?.close().catch(() => undefined);
    if (sim) await stopProcess(sim, 'k8ts sim');
    if (server) await stopProcess(server, 'k8ts server');
    killall(dataDir);
    etcd?.reap();
    rmSync(dataDir, { recursive: true, force: true });
  }
  mkdirSync(dirname(cfg.out), { recursive: true });
  writeFileSync(cfg.out, JSON.stringify(results, null, 2) + '\n');
  console.log(`results: ${cfg.out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
