// Paged-LIST benchmark: a cluster-wide LIST of many pods in pages, as `kubectl get pods -A
// --chunk-size=500` reads it (upstream's SLO: a cluster-scoped LIST within 30 s at p99), without
// the half-hour scale run. It starts a control plane alone (no agent, scheduler or controllers),
// creates the pods (bodies like a Deployment's pods, bound to simulated node names), then reads
// every page in turn, several rounds, optionally while pods are being modified. Not a test: it
// prints a table and writes results.
//
//   npx tsc -p tsconfig.json && npm run bench:list           # 150,000 pods (~5-10 minutes on 2 cores)
//   BENCH_SCALE=small npm run bench:list                     # 10,000 pods (~1 minute)
//
// Environment (all optional):
//   BENCH_SCALE            small | full (default full): picks the defaults below
//   BENCH_PODS             pods to create (150000 / 10000)
//   BENCH_NAMESPACES       namespaces they are spread over (50 / 10)
//   BENCH_NODES            simulated node names they are bound to (5000 / 500)
//   BENCH_CONCURRENCY      creates in flight (64)
//   BENCH_LIMIT            page size (500)
//   BENCH_ROUNDS           full paged lists, one after the other (3)
//   BENCH_TABLE_ROUNDS     full paged lists as Tables (`Accept: application/json;as=Table;v=v1;
//                          g=meta.k8s.io`, what kubectl get asks for) after the JSON ones (2)
//   BENCH_CHURN            pod writes per second while the lists run (0): label patches of random
//                          pods, so later pages hold versions changed since the first
//   BENCH_KUBECTL=0        skip the round of the real kubectl (`get pods -A --chunk-size=500`)
//   BENCH_DIR              where the temporary data dir goes (os.tmpdir())
//   BENCH_OUT              where the JSON results go (bench/results/list-<scale>.json)
//   BENCH_SERVER_NODE_ARGS extra node flags for the server, e.g. "--perf-basic-prof"
//   BENCH_SERVER_ARGS      extra `k8ts server` flags
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import {
  clientTLS,
  cpuSecondsOf,
  k8tsServerArgs,
  launch,
  pct,
  pick,
  repo,
  rssOf,
  scale,
  sleep,
  waitAtMost,
} from './common.js';

const cfg = {
  pods: pick('BENCH_PODS', 150_000, 10_000),
  namespaces: pick('BENCH_NAMESPACES', 50, 10),
  nodes: pick('BENCH_NODES', 5000, 500),
  concurrency: pick('BENCH_CONCURRENCY', 64, 64),
  limit: pick('BENCH_LIMIT', 500, 500),
  rounds: pick('BENCH_ROUNDS', 3, 3),
  tableRounds: pick('BENCH_TABLE_ROUNDS', 2, 2),
  churn: pick('BENCH_CHURN', 0, 0),
  kubectl: process.env.BENCH_KUBECTL !== '0',
  dir: process.env.BENCH_DIR ?? os.tmpdir(),
  out: process.env.BENCH_OUT ?? join(repo, 'bench', 'results', `list-${scale}.json`),
  serverNodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  serverArgs: (process.env.BENCH_SERVER_ARGS ?? '').split(/\s+/).filter(Boolean),
};
const log = (msg: string) => process.stderr.write(`[bench] ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
const load = () => os.loadavg()[0].toFixed(1);

/** The i-th pod, as a Deployment's ReplicaSet creates it (ten ReplicaSets per namespace). */
function podBody(i: number): { ns: string; body: string } {
  const ns = `ns-${i % cfg.namespaces}`;
  const app = `app-${Math.floor(i / cfg.namespaces) % 10}`;
  const hash = '5d8f7c9b4f';
  const name = `${app}-${hash}-${i.toString(36).padStart(5, '0')}`;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: ns,
      generateName: `${app}-${hash}-`,
      labels: { app, 'pod-template-hash': hash, tier: 'backend' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-12-07T10:00:00Z' },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: `${app}-${hash}`,
          uid: `00000000-0000-4000-8000-${String(i % 1000).padStart(12, '0')}`,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      nodeName: `node-${i % cfg.nodes}`,
      containers: [
        {
          name: 'app',
          image: 'registry.example.com/team/app:1.27.3',
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          ],
          resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
          readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 10 },
          livenessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 20 },
        },
      ],
    },
  };
  return { ns, body: JSON.stringify(pod) };
}

async function request(
  pool: Pool,
  method: 'GET' | 'POST' | 'PATCH',
  path: string,
  body?: string,
  contentType = 'application/json',
  accept = 'application/json',
) {
  const res = await pool.request({
    method,
    path,
    headers: { 'content-type': contentType, accept },
    body,
    headersTimeout: 600_000,
    bodyTimeout: 600_000,
  });
  const text = await res.body.text();
  return { status: res.statusCode, text };
}

/** Runs `op(i)` for i in [0, n) with `concurrency` in flight. */
async function parallel(n: number, concurrency: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      while (next < n) await op(next++);
    }),
  );
}

interface Round {
  client: string;
  seconds: number;
  pages: number;
  items: number;
  mib: number;
  pageMs?: { p50: number; p99: number; max: number; first: number };
  serverCpuSeconds: number;
  /** Server CPU per listed object. */
  serverCpuUsPerItem: number;
  /** This process's CPU for the round (reading and parsing the pages). */
  clientCpuSeconds?: number;
  serverRssMiB: number;
  load1: number;
}

/** kubectl get's Accept (kubectl 1.33): a Table, else the plain list. */
const TABLE_ACCEPT =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

async function pagedList(pool: Pool, pid: number, table = false): Promise<Round> {
  const cpu0 = cpuSecondsOf(pid);
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  const pageMs: number[] = [];
  let cont = '';
  let items = 0;
  let bytes = 0;
  let rv = '';
  do {
    const p0 = performance.now();
    const q = `limit=${cfg.limit}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`;
    const res = await request(
      pool,
      'GET',
      `/api/v1/pods?${q}`,
      undefined,
      undefined,
      table ? TABLE_ACCEPT : 'application/json',
    );
    if (res.status !== 200) throw new Error(`page ${pageMs.length + 1}: ${res.status} ${res.text.slice(0, 300)}`);
    pageMs.push(performance.now() - p0);
    bytes += res.text.length;
    const body = JSON.parse(res.text);
    if (table && body.kind !== 'Table') throw new Error(`page ${pageMs.length}: a ${body.kind}, not a Table`);
    items += table ? body.rows.length : body.items.length;
    if (rv && body.metadata.resourceVersion !== rv)
      throw new Error(`page at ${body.metadata.resourceVersion}, not ${rv}`);
    rv = body.metadata.resourceVersion;
    cont = body.metadata.continue ?? '';
  } while (cont);
  const seconds = (performance.now() - t0) / 1000;
  const sorted = [...pageMs].sort((a, b) => a - b);
  const serverCpuSeconds = cpuSecondsOf(pid) - cpu0;
  return {
    client: `HTTP, ${table ? 'Table' : 'application/json'}, limit=${cfg.limit}`,
    seconds,
    pages: pageMs.length,
    items,
    mib: bytes / 2 ** 20,
    pageMs: { p50: pct(sorted, 0.5), p99: pct(sorted, 0.99), max: sorted[sorted.length - 1], first: pageMs[0] },
    serverCpuSeconds,
    serverCpuUsPerItem: (serverCpuSeconds * 1e6) / items,
    clientCpuSeconds: ((u) => (u.user + u.system) / 1e6)(process.cpuUsage(own0)),
    serverRssMiB: rssOf(pid).rssMiB,
    load1: os.loadavg()[0],
  };
}

/** The real kubectl, the whole command: discovery, then Table pages of --chunk-size. */
async function kubectlList(kubeconfig: string, pid: number): Promise<Round> {
  const cpu0 = cpuSecondsOf(pid);
  const t0 = performance.now();
  const out = await new Promise<string>((ok, fail) =>
    execFile(
      'kubectl',
      ['--kubeconfig', kubeconfig, 'get', 'pods', '-A', `--chunk-size=${cfg.limit}`, '--no-headers'],
      { maxBuffer: 1024 * 2 ** 20, timeout: 600_000 },
      (err, stdout, stderr) => (err ? fail(new Error(`kubectl: ${err.message} ${stderr}`)) : ok(stdout)),
    ),
  );
  const items = out.split('\n').filter(Boolean).length;
  const serverCpuSeconds = cpuSecondsOf(pid) - cpu0;
  return {
    client: `kubectl get pods -A --chunk-size=${cfg.limit}`,
    seconds: (performance.now() - t0) / 1000,
    pages: Math.ceil(cfg.pods / cfg.limit),
    items,
    mib: out.length / 2 ** 20,
    serverCpuSeconds,
    serverCpuUsPerItem: (serverCpuSeconds * 1e6) / items,
    serverRssMiB: rssOf(pid).rssMiB,
    load1: os.loadavg()[0],
  };
}

function logRound(what: string, round: Round): void {
  log(
    `${what}: ${round.seconds.toFixed(1)} s, ${round.pages} pages (p50 ${round.pageMs!.p50.toFixed(0)} ms, ` +
      `p99 ${round.pageMs!.p99.toFixed(0)} ms), server CPU ${round.serverCpuSeconds.toFixed(1)} s ` +
      `(${round.serverCpuUsPerItem.toFixed(0)} µs a pod), client CPU ${round.clientCpuSeconds!.toFixed(1)} s; load ${load()}`,
  );
}

/** Label patches of random pods at `perSecond` until stopped: the lists' later pages see them. */
function churn(pool: Pool, perSecond: number): { stop: () => Promise<number> } {
  let running = true;
  let writes = 0;
  const loop = (async () => {
    const start = performance.now();
    while (running) {
      const due = Math.floor(((performance.now() - start) / 1000) * perSecond);
      if (writes >= due) {
        await sleep(10);
        continue;
      }
      const { ns, body } = podBody(Math.floor(Math.random() * cfg.pods));
      const name = JSON.parse(body).metadata.name;
      const patch = JSON.stringify({ metadata: { labels: { churn: String(writes) } } });
      const res = await request(
        pool,
        'PATCH',
        `/api/v1/namespaces/${ns}/pods/${name}`,
        patch,
        'application/merge-patch+json',
      );
      if (res.status !== 200) throw new Error(`patch: ${res.status} ${res.text.slice(0, 300)}`);
      writes++;
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return writes;
    },
  };
}

async function main() {
  const dataDir = mkdtempSync(join(cfg.dir, 'k8ts-list-'));
  const args = k8tsServerArgs(
    dataDir,
    [
      '--disable-agent',
      '--disable-scheduler',
      '--disable-controller-manager',
      '--disable-helm-controller',
      '--log-level',
      'warn',
      ...cfg.serverArgs,
    ],
    cfg.serverNodeArgs,
  );
  const { child, match } = await launch(
    'k8ts server',
    args,
    /ready: (\S+) \(data .*, kubeconfig (\S+)\)/,
    120_000,
  ).catch((err: unknown) => {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  });
  const pid = child.pid!;
  const kubeconfig = match[2];
  const tls = clientTLS(kubeconfig);
  const pool = new Pool(match[1], {
    connections: 8,
    pipelining: 1,
    connect: { ...tls, servername: 'localhost', timeout: 120_000 },
  });
  const results: Record<string, unknown> = { cfg: { ...cfg, out: undefined }, rounds: [] as Round[] };
  try {
    log(`server pid ${pid}; ${cfg.pods} pods in ${cfg.namespaces} namespaces; load ${load()}`);
    for (let n = 0; n < cfg.namespaces; n++) {
      const ns = `ns-${n}`;
      const made = await request(pool, 'POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: ns } }));
      if (made.status !== 201) throw new Error(`namespace ${ns}: ${made.status} ${made.text.slice(0, 300)}`);
      // No controller manager: the default ServiceAccount pods are admitted with is made here.
      const sa = await request(
        pool,
        'POST',
        `/api/v1/namespaces/${ns}/serviceaccounts`,
        JSON.stringify({ metadata: { name: 'default' } }),
      );
      if (sa.status !== 201 && sa.status !== 409)
        throw new Error(`serviceaccount: ${sa.status} ${sa.text.slice(0, 300)}`);
    }
    const c0 = performance.now();
    const cpu0 = cpuSecondsOf(pid);
    let lastLog = c0;
    await parallel(cfg.pods, cfg.concurrency, async (i) => {
      const { ns, body } = podBody(i);
      const res = await request(pool, 'POST', `/api/v1/namespaces/${ns}/pods`, body);
      if (res.status !== 201) throw new Error(`pod ${i}: ${res.status} ${res.text.slice(0, 300)}`);
      if (performance.now() - lastLog > 15_000) {
        lastLog = performance.now();
        log(`  ${i} pods created; load ${load()}`);
      }
    });
    const createSeconds = (performance.now() - c0) / 1000;
    results.create = {
      seconds: createSeconds,
      perSecond: cfg.pods / createSeconds,
      serverCpuMsPerPod: ((cpuSecondsOf(pid) - cpu0) * 1000) / cfg.pods,
      serverRssMiB: rssOf(pid).rssMiB,
    };
    log(`created ${cfg.pods} pods in ${createSeconds.toFixed(0)} s; server RSS ${rssOf(pid).rssMiB.toFixed(0)} MiB`);
    await sleep(5000);

    const writer = cfg.churn > 0 ? churn(pool, cfg.churn) : undefined;
    const rounds = results.rounds as Round[];
    for (let r = 0; r < cfg.rounds; r++) {
      const round = await pagedList(pool, pid);
      if (round.items !== cfg.pods) throw new Error(`listed ${round.items} pods, not ${cfg.pods}`);
      rounds.push(round);
      logRound(`list ${r + 1}`, round);
    }
    for (let r = 0; r < cfg.tableRounds; r++) {
      const round = await pagedList(pool, pid, true);
      if (round.items !== cfg.pods) throw new Error(`listed ${round.items} Table rows, not ${cfg.pods}`);
      rounds.push(round);
      logRound(`Table list ${r + 1}`, round);
    }
    if (cfg.kubectl) {
      const round = await kubectlList(kubeconfig, pid);
      if (round.items !== cfg.pods) throw new Error(`kubectl listed ${round.items} pods, not ${cfg.pods}`);
      rounds.push(round);
      log(`kubectl: ${round.seconds.toFixed(1)} s, server CPU ${round.serverCpuSeconds.toFixed(1)} s; load ${load()}`);
    }
    if (writer) results.churnWrites = await writer.stop();

    console.log(
      `\n${cfg.pods} pods; creates ${(results.create as { perSecond: number }).perSecond.toFixed(0)}/s` +
        (cfg.churn ? `; ${cfg.churn} pod writes/s during the lists` : ''),
    );
    console.log(
      '| client | total s | pages | page p50 / p99 / max ms | MiB | server CPU s (µs per pod) | client CPU s | server RSS MiB | load |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of rounds) {
      const pm = r.pageMs ? `${r.pageMs.p50.toFixed(0)} / ${r.pageMs.p99.toFixed(0)} / ${r.pageMs.max.toFixed(0)}` : '';
      console.log(
        `| ${r.client} | ${r.seconds.toFixed(1)} | ${r.pages} | ${pm} | ${r.mib.toFixed(0)} | ` +
          `${r.serverCpuSeconds.toFixed(1)} (${r.serverCpuUsPerItem.toFixed(0)}) | ${r.clientCpuSeconds?.toFixed(1) ?? ''} | ` +
          `${r.serverRssMiB.toFixed(0)} | ${r.load1.toFixed(1)} |`,
      );
    }
    mkdirSync(dirname(cfg.out), { recursive: true });
    writeFileSync(cfg.out, JSON.stringify(results, null, 2));
  } finally {
    await pool.close();
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await waitAtMost(new Promise((r) => child.once('exit', r)), 30_000);
      child.kill('SIGKILL');
    }
    spawnSync(process.execPath, [join(repo, 'bin', 'k8ts'), 'killall', '--data-dir', dataDir], { stdio: 'ignore' });
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
