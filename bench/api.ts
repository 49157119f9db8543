// API benchmark: k8ts (the whole API path over HTTPS, SQLite behind it) against a real etcd
// measured in the same run on the same machine. Not a test: it prints a table and writes results.
//
//   npm run build && npm run bench:api                 # full run (~3-6 minutes on 2 cores)
//   BENCH_SCALE=small npm run bench:api                # quick run (~30 s)
//
// Environment (all optional):
//   BENCH_SCALE            small | full (default full): picks the defaults below
//   BENCH_CONCURRENCY      requests in flight for the throughput phases (64)
//   BENCH_OPS              creates, gets, updates (and etcd puts/gets) per phase (20000 / 2000)
//   BENCH_CREATE_ROUNDS    creates and etcd puts alternate in this many rounds (5 / 3)
//   BENCH_LIST_OPS         lists of a 100-object namespace (2000 / 300)
//   BENCH_SEQ_WRITES       one-at-a-time creates for the single-object write latency (1000 / 200)
//   BENCH_LIST_OBJECTS     objects in the big list (10000 / 2000)
//   BENCH_WATCHERS         concurrent watchers (1000 / 100)
//   BENCH_WATCH_WRITES     writes observed by the watchers (300 / 100)
//   BENCH_WATCH_RATE       writes per second during the watch phase (25)
//   BENCH_RSS_OBJECTS      stored objects when RSS is read (100000 / 10000)
//   BENCH_RSS_SETTLE_SECONDS idle time before RSS is read again, settled (30 / 10)
//   BENCH_VALUE_BYTES      payload bytes in each ConfigMap (1024)
//   BENCH_ETCD=0           skip the etcd reference
//   BENCH_DATASTORE=etcd   k8ts stores in an etcd of its own (started like the reference) instead of SQLite
//   BENCH_ETCD_BIN         etcd binary (/usr/bin/etcd)
//   BENCH_DIR              where temporary data dirs go (os.tmpdir())
//   BENCH_OUT              where the JSON results go (bench/results/api-<scale>.json)
//   BENCH_SERVER_NODE_ARGS extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
//   BENCH_SERVER_ARGS      extra `k8ts server` flags, e.g. "--audit-policy-file p.yaml --audit-log-path /tmp/a.log"
//   BENCH_ONLY             comma-separated phases to run: crud,seq,list,watch,rss (all)
//   BENCH_HEAP_SNAPSHOT    a directory: the server writes a heap snapshot there once RSS is read
//                          (where the memory goes: node dist/bench/heapowners.js FILE)
//   BENCH_VERBS            verbs of the crud phase: create,get,update,list (all; get/update need create)
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import { join, dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import YAML from 'yaml';
import { Etcd3 } from 'etcd3';
import {
  CLK_TCK,
  clientTLS,
  cpuSecondsOf,
  heapSnapshotNodeArgs,
  heapSnapshotOf,
  k8tsServerArgs,
  pct,
  pick,
  repo,
  rssOf,
  scale,
  sleep,
} from './common.js';
import { freePort } from '../test/support/ports.js';

// ---- configuration ------------------------------------------------------------------------------

const cfg = {
  scale,
  concurrency: pick('BENCH_CONCURRENCY', 64, 64),
  ops: pick('BENCH_OPS', 20000, 2000),
  createRounds: pick('BENCH_CREATE_ROUNDS', 5, 3),
  listOps: pick('BENCH_LIST_OPS', 2000, 300),
  listSize: 100,
  seqWrites: pick('BENCH_SEQ_WRITES', 1000, 200),
  listObjects: pick('BENCH_LIST_OBJECTS', 10000, 2000),
  pageLimit: 500,
  watchers: pick('BENCH_WATCHERS', 1000, 100),
  watchWrites: pick('BENCH_WATCH_WRITES', 300, 100),
  watchRate: pick('BENCH_WATCH_RATE', 25, 25),
  rssObjects: pick('BENCH_RSS_OBJECTS', 100000, 10000),
  rssSettleSeconds: pick('BENCH_RSS_SETTLE_SECONDS', 30, 10),
  valueBytes: pick('BENCH_VALUE_BYTES', 1024, 1024),
  etcd: process.env.BENCH_ETCD !== '0',
  datastore: process.env.BENCH_DATASTORE === 'etcd' ? 'etcd' : 'sqlite',
  etcdBin: process.env.BENCH_ETCD_BIN ?? '/usr/bin/etcd',
  dir: process.env.BENCH_DIR ?? os.tmpdir(),
  out: process.env.BENCH_OUT ?? join(repo, 'bench', 'results', `api-${scale}.json`),
  serverNodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  serverArgs: (process.env.BENCH_SERVER_ARGS ?? '').split(/\s+/).filter(Boolean),
  only: new Set((process.env.BENCH_ONLY ?? 'crud,seq,list,watch,rss').split(',').map((s) => s.trim())),
  verbs: new Set((process.env.BENCH_VERBS ?? 'create,get,update,list').split(',').map((s) => s.trim())),
};

// ---- small helpers ------------------------------------------------------------------------------

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

interface Stats {
  ops: number;
  seconds: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  /** CPU time the process under test spent per operation (µs), and its average cores in use. */
  serverCpuUsPerOp?: number;
  serverCores?: number;
  /** Cores the benchmark client itself used meanwhile (it shares the machine). */
  clientCores?: number;
  /** Cores used by everything else on the machine meanwhile. */
  otherCores?: number;
}

function stats(lat: number[], seconds: number, errors = 0): Stats {
  const s = Float64Array.from(lat).sort();
  const a = Array.from(s);
  return {
    ops: lat.length,
    seconds,
    opsPerSec: lat.length / seconds,
    p50: pct(a, 0.5),
    p99: pct(a, 0.99),
    max: a[a.length - 1] ?? NaN,
    errors,
  };
}

/** CPU seconds (user + system, all threads) a process has used so far. */

/** Busy and total CPU seconds of the whole machine so far (from /proc/stat). */
function machineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = f[3] + (f[4] ?? 0);
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

/** Processes whose CPU time each load phase reports (the server under test, etcd). */
const watched: { server?: number } = {};

/** One load run as measured: latencies (ms) and the CPU seconds spent meanwhile. */
interface Run {
  lat: number[];
  seconds: number;
  errors: number;
  serverCpu: number;
  clientCpu: number;
  otherCpu: number;
}

/** Run `n` operations with `concurrency` in flight. */
async function run(
  n: number,
  concurrency: number,
  op: (i: number) => Promise<void>,
  serverPid = watched.server,
): Promise<Run> {
  const lat: number[] = new Array(n);
  let next = 0;
  let errors = 0;
  let firstError: unknown;
  const t0 = performance.now();
  const cpu0 = serverPid ? cpuSecondsOf(serverPid) : NaN;
  const m0 = machineCpu();
  const self0 = process.cpuUsage();
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      const s = performance.now();
      try {
        await op(i);
      } catch (err) {
        errors++;
        firstError ??= err;
      }
      lat[i] = performance.now() - s;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const serverCpu = serverPid ? cpuSecondsOf(serverPid) - cpu0 : NaN;
  const self = process.cpuUsage(self0);
  const clientCpu = (self.user + self.system) / 1e6;
  const m1 = machineCpu();
  if (errors)
    log(`  ${errors} errors, first: ${firstError instanceof Error ? firstError.message : String(firstError)}`);
  return { lat, seconds, errors, serverCpu, clientCpu, otherCpu: m1.busy - m0.busy - serverCpu - clientCpu };
}

/** The statistics of one or more runs of the same operation taken together. */
function summarize(runs: Run[]): Stats {
  const sum = (f: (r: Run) => number) => runs.reduce((a, r) => a + f(r), 0);
  const seconds = sum((r) => r.seconds);
  const ops = sum((r) => r.lat.length);
  const serverCpu = sum((r) => r.serverCpu);
  const clientCpu = sum((r) => r.clientCpu);
  return {
    ...stats(
      runs.flatMap((r) => r.lat),
      seconds,
      sum((r) => r.errors),
    ),
    serverCpuUsPerOp: (serverCpu * 1e6) / ops,
    serverCores: serverCpu / seconds,
    clientCores: clientCpu / seconds,
    // Cores busy with anything else on the machine meanwhile (other workloads skew the results).
    otherCores: sum((r) => r.otherCpu) / seconds,
  };
}

async function load(
  n: number,
  concurrency: number,
  op: (i: number) => Promise<void>,
  serverPid = watched.server,
): Promise<Stats> {
  return summarize([await run(n, concurrency, op, serverPid)]);
}

/**
 * Where a process's resident memory is, from /proc/PID/smaps: malloc's main heap (`[heap]`), other
 * anonymous mappings (V8's heap pages, threads' malloc arenas and stacks), and mapped files (code).
 */
function residentByKind(pid: number): { mallocHeapMiB: number; anonMiB: number; filesMiB: number } {
  const kib = { heap: 0, anon: 0, files: 0 };
  let kind: keyof typeof kib = 'anon';
  try {
    for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
      const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (m) kind = m[1] === '[heap]' ? 'heap' : m[1] === '' || m[1].startsWith('[') ? 'anon' : 'files';
      else if (line.startsWith('Rss:')) kib[kind] += Number(line.split(/\s+/)[1]);
    }
  } catch {
    // (gone, or not Linux)
  }
  return { mallocHeapMiB: kib.heap / 1024, anonMiB: kib.anon / 1024, filesMiB: kib.files / 1024 };
}

async function stopProcess(child: ChildProcess, name: string, graceMs = 30_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    log(`${name} did not stop in ${graceMs} ms; killing pid ${child.pid}`);
    child.kill('SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

// ---- the payload --------------------------------------------------------------------------------

const payload = (i: number) => {
  const tag = `v${i}-`;
  return tag + 'x'.repeat(Math.max(0, cfg.valueBytes - tag.length));
};
const configMap = (ns: string, name: string, i: number) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: ns, labels: { app: 'bench' } },
  data: { payload: payload(i) },
});

// ---- k8ts ---------------------------------------------------------------------------------------

interface K8ts {
  child: ChildProcess;
  pid: number;
  url: string;
  dataDir: string;
  tls: { ca: string; cert: string; key: string };
  pool: Pool;
}

async function startK8ts(serverArgs: string[]): Promise<K8ts> {
  const dataDir = mkdtempSync(join(cfg.dir, 'k8ts-bench-'));
  const args = k8tsServerArgs(
    dataDir,
    ['--disable-agent', ...serverArgs, ...cfg.serverArgs],
    [...cfg.serverNodeArgs, ...heapSnapshotNodeArgs()],
  );
  const child = spawn(process.execPath, args, { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  const line = await new Promise<string>((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`k8ts server did not start in 60 s:\n${stderr}`)), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /k8ts server ready: .*\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[0]);
      }
    });
    child.once('exit', (code) => fail(new Error(`k8ts server exited (${code}) before it was ready:\n${stderr}`)));
  });
  const m = /ready: (\S+) \(data .*, kubeconfig (.*)\)/.exec(line);
  if (!m) throw new Error(`unexpected ready line: ${line}`);
  const kc = YAML.parse(readFileSync(m[2], 'utf8'));
  const tls = clientTLS(m[2]);
  const url = kc.clusters[0].cluster.server as string;
  const pool = new Pool(url, {
    connections: cfg.concurrency,
    pipelining: 1,
    connect: { ...tls, servername: 'localhost' },
  });
  return { child, pid: child.pid!, url, dataDir, tls, pool };
}

async function k8tsRequest(
  pool: Pool,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
  expect?: number[],
): Promise<string> {
  const res = await pool.request({
    method,
    path,
    headers:
      body !== undefined
        ? { 'content-type': 'application/json', accept: 'application/json' }
        : { accept: 'application/json' },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.body.text();
  if (expect ? !expect.includes(res.statusCode) : res.statusCode >= 300)
    throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
  return text;
}

const cmPath = (ns: string, name?: string) => `/api/v1/namespaces/${ns}/configmaps${name ? `/${name}` : ''}`;

async function createNamespace(pool: Pool, name: string) {
  await k8tsRequest(
    pool,
    'POST',
    '/api/v1/namespaces',
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
    [201, 409],
  );
}

// ---- etcd ---------------------------------------------------------------------------------------

interface Etcd {
  child: ChildProcess;
  pid: number;
  dataDir: string;
  client: Etcd3;
  endpoint: string;
  version: string;
}

async function startEtcd(): Promise<Etcd> {
  const dataDir = mkdtempSync(join(cfg.dir, 'etcd-bench-'));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    cfg.etcdBin,
    [
      '--name',
      'bench',
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      endpoint,
      '--advertise-client-urls',
      endpoint,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `bench=${peer}`,
      '--initial-cluster-state',
      'new',
      '--quota-backend-bytes',
      String(8 * 1024 * 1024 * 1024),
      '--log-level',
      'warn',
      '--logger',
      'zap',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  const client = new Etcd3({
    hosts: endpoint,
    dialTimeout: 2000,
    grpcOptions: { 'grpc.max_receive_message_length': 512 * 1024 * 1024 },
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`etcd exited before it was ready:\n${stderr}`);
    try {
      await client.put('bench/ready').value('1');
      break;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`etcd not ready in 30 s: ${(err as Error).message}\n${stderr}`, { cause: err });
      await sleep(200);
    }
  }
  let version = '';
  try {
    version = /etcd Version: (\S+)/.exec(execFileSync(cfg.etcdBin, ['--version'], { encoding: 'utf8' }))?.[1] ?? '';
  } catch {
    /* only for the report */
  }
  return { child, pid: child.pid!, dataDir, client, endpoint, version };
}

// ---- phases -------------------------------------------------------------------------------------

interface Results {
  config: typeof cfg;
  machine: Record<string, unknown>;
  k8ts: Record<string, any>;
  etcd: Record<string, any>;
  /** Throughput of each interleaved round of creates (k8ts) and puts (etcd), ops/s. */
  createRounds?: { k8ts: number; etcd: number }[];
}

const storedPerNs = new Map<string, number>();
const k8tsStored = () => [...storedPerNs.values()].reduce((a, b) => a + b, 0);
let etcdStored = 0;

async function crudPhase(k: K8ts, e: Etcd | undefined, r: Results) {
  const ns = 'bench';
  await createNamespace(k.pool, ns);
  const n = cfg.ops;
  const c = cfg.concurrency;
  // Warm-up: JIT, TLS sessions, SQLite pages (not measured).
  await createNamespace(k.pool, 'bench-warm');
  const warm = Math.min(2000, n);
  await load(warm, c, (i) =>
    k8tsRequest(k.pool, 'POST', cmPath('bench-warm'), configMap('bench-warm', `warm-${i}`, i)).then(() => {}),
  );
  await load(warm, c, (i) => k8tsRequest(k.pool, 'GET', cmPath('bench-warm', `warm-${i}`)).then(() => {}));
  storedPerNs.set('bench-warm', warm);
  const value = (i: number) => JSON.stringify(configMap(ns, `cm-${i}`, i));
  if (e) {
    r.etcd.valueBytes = Buffer.byteLength(value(0));
    await load(
      Math.min(2000, n),
      c,
      (i) =>
        e.client
          .put(`/warm/${i}`)
          .value(value(i))
          .then(() => {}),
      e.pid,
    );
    await e.client.delete().prefix('/warm/');
  }
  // Creates and etcd puts alternate in rounds, the order flipped every round: a change in the
  // machine's load during the run (it may be shared) hits both sides alike.
  const rounds = e ? Math.max(1, Math.min(cfg.createRounds, n)) : 1;
  log(`k8ts: ${n} creates${e ? ` and etcd: ${n} puts, in ${rounds} alternating rounds` : ''}, ${c} in flight`);
  const creates: Run[] = [];
  const puts: Run[] = [];
  r.createRounds = [];
  for (let round = 0, from = 0; round < rounds; round++) {
    const size = Math.floor(n / rounds) + (round < n % rounds ? 1 : 0);
    const at = from;
    const create = () =>
      run(size, c, (i) =>
        k8tsRequest(k.pool, 'POST', cmPath(ns), configMap(ns, `cm-${at + i}`, at + i)).then(() => {}),
      );
    const put = () =>
      run(
        size,
        c,
        (i) =>
          e!.client
            .put(`/registry/configmaps/${ns}/cm-${at + i}`)
            .value(value(at + i))
            .then(() => {}),
        e!.pid,
      );
    if (round % 2 === 0 || !e) creates.push(await create());
    if (e) puts.push(await put());
    if (round % 2 === 1 && e) creates.push(await create());
    if (e) r.createRounds.push({ k8ts: size / creates[round].seconds, etcd: size / puts[round].seconds });
    from += size;
  }
  r.k8ts.create = summarize(creates);
  if (e) {
    r.etcd.put = summarize(puts);
    etcdStored += n;
  }
  storedPerNs.set(ns, n);
  if (cfg.verbs.has('get')) {
    log(`k8ts: ${n} gets`);
    r.k8ts.get = await load(n, c, (i) => k8tsRequest(k.pool, 'GET', cmPath(ns, `cm-${(i * 7919) % n}`)).then(() => {}));
  }
  if (cfg.verbs.has('update')) {
    log(`k8ts: ${n} updates`);
    r.k8ts.update = await load(n, c, (i) =>
      k8tsRequest(k.pool, 'PUT', cmPath(ns, `cm-${i}`), configMap(ns, `cm-${i}`, i + n)).then(() => {}),
    );
  }
  const lns = 'bench-list100';
  await createNamespace(k.pool, lns);
  await load(cfg.listSize, c, (i) =>
    k8tsRequest(k.pool, 'POST', cmPath(lns), configMap(lns, `cm-${i}`, i)).then(() => {}),
  );
  storedPerNs.set(lns, cfg.listSize);
  if (cfg.verbs.has('list')) {
    log(`k8ts: ${cfg.listOps} lists of ${cfg.listSize} objects`);
    r.k8ts.list = await load(cfg.listOps, c, () => k8tsRequest(k.pool, 'GET', cmPath(lns)).then(() => {}));
  }

  if (!e) return;
  log(`etcd: ${n} gets`);
  r.etcd.get = await load(
    n,
    c,
    (i) =>
      e.client
        .get(`/registry/configmaps/${ns}/cm-${(i * 7919) % n}`)
        .buffer()
        .then(() => {}),
    e.pid,
  );
  log(`etcd: ${n} puts over existing keys (update reference)`);
  r.etcd.update = await load(
    n,
    c,
    (i) =>
      e.client
        .put(`/registry/configmaps/${ns}/cm-${i}`)
        .value(value(i + n))
        .then(() => {}),
    e.pid,
  );
  await load(
    cfg.listSize,
    c,
    (i) =>
      e.client
        .put(`/registry/configmaps/${lns}/cm-${i}`)
        .value(value(i))
        .then(() => {}),
    e.pid,
  );
  etcdStored += cfg.listSize;
  log(`etcd: ${cfg.listOps} prefix ranges of ${cfg.listSize} keys`);
  r.etcd.list = await load(
    cfg.listOps,
    c,
    () =>
      e.client
        .getAll()
        .prefix(`/registry/configmaps/${lns}/`)
        .exec()
        .then(() => {}),
    e.pid,
  );
}

async function seqPhase(k: K8ts, e: Etcd | undefined, r: Results) {
  const ns = 'bench-seq';
  await createNamespace(k.pool, ns);
  log(`k8ts: ${cfg.seqWrites} creates, one at a time`);
  r.k8ts.seqCreate = await load(cfg.seqWrites, 1, (i) =>
    k8tsRequest(k.pool, 'POST', cmPath(ns), configMap(ns, `cm-${i}`, i)).then(() => {}),
  );
  storedPerNs.set(ns, cfg.seqWrites);
  if (!e) return;
  log(`etcd: ${cfg.seqWrites} puts, one at a time`);
  r.etcd.seqPut = await load(
    cfg.seqWrites,
    1,
    (i) =>
      e.client
        .put(`/registry/configmaps/${ns}/cm-${i}`)
        .value(JSON.stringify(configMap(ns, `cm-${i}`, i)))
        .then(() => {}),
    e.pid,
  );
  etcdStored += cfg.seqWrites;
}

async function timeIt<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const v = await f();
  return [performance.now() - t, v];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function listPhase(k: K8ts, e: Etcd | undefined, r: Results) {
  const ns = 'bench-list';
  const n = cfg.listObjects;
  await createNamespace(k.pool, ns);
  log(`k8ts: filling ${n} objects for the big list`);
  await load(n, cfg.concurrency, (i) =>
    k8tsRequest(k.pool, 'POST', cmPath(ns), configMap(ns, `cm-${String(i).padStart(6, '0')}`, i)).then(() => {}),
  );
  storedPerNs.set(ns, n);
  const reps = 5;
  const full: number[] = [];
  let bytes = 0;
  for (let i = 0; i < reps; i++) {
    const [ms, text] = await timeIt(() => k8tsRequest(k.pool, 'GET', cmPath(ns)));
    const items = (JSON.parse(text).items as unknown[]).length;
    if (items !== n) log(`  full list returned ${items} items, expected ${n}`);
    bytes = Buffer.byteLength(text);
    full.push(ms);
  }
  const paged: number[] = [];
  let pages = 0;
  for (let i = 0; i < reps; i++) {
    const [ms, count] = await timeIt(async () => {
      let cont = '';
      let got = 0;
      pages = 0;
      do {
        const q = new URLSearchParams({ limit: String(cfg.pageLimit) });
        if (cont) q.set('continue', cont);
        const page = JSON.parse(await k8tsRequest(k.pool, 'GET', `${cmPath(ns)}?${q.toString()}`));
        got += page.items.length;
        cont = page.metadata.continue ?? '';
        pages++;
      } while (cont);
      return got;
    });
    if (count !== n) log(`  paged list returned ${count} items, expected ${n}`);
    paged.push(ms);
  }
  r.k8ts.bigList = {
    objects: n,
    bytes,
    fullMs: median(full),
    fullMsAll: full,
    pagedMs: median(paged),
    pagedMsAll: paged,
    pages,
    pageLimit: cfg.pageLimit,
  };
  log(`k8ts: list of ${n}: full ${median(full).toFixed(1)} ms, paged ${median(paged).toFixed(1)} ms`);

  if (!e) return;
  const prefix = `/registry/configmaps/${ns}/`;
  await load(
    n,
    cfg.concurrency,
    (i) =>
      e.client
        .put(`${prefix}cm-${String(i).padStart(6, '0')}`)
        .value(JSON.stringify(configMap(ns, `cm-${i}`, i)))
        .then(() => {}),
    e.pid,
  );
  etcdStored += n;
  const efull: number[] = [];
  for (let i = 0; i < reps; i++) efull.push((await timeIt(() => e.client.getAll().prefix(prefix).exec()))[0]);
  const epaged: number[] = [];
  for (let i = 0; i < reps; i++) {
    const [ms] = await timeIt(async () => {
      // As the kube-apiserver pages etcd: a range with a limit, the next one starting after the last key.
      let from = prefix;
      const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
      for (;;) {
        const res = await e.client.kv.range({
          key: Buffer.from(from),
          range_end: Buffer.from(end),
          limit: cfg.pageLimit,
        });
        if (!res.more || !res.kvs.length) break;
        from = res.kvs[res.kvs.length - 1].key.toString() + '\x00';
      }
    });
    epaged.push(ms);
  }
  r.etcd.bigList = { objects: n, fullMs: median(efull), fullMsAll: efull, pagedMs: median(epaged), pagedMsAll: epaged };
  log(`etcd: range of ${n}: full ${median(efull).toFixed(1)} ms, paged ${median(epaged).toFixed(1)} ms`);
}

interface WatchResult {
  watchers: number;
  writes: number;
  established: number;
  delivered: number;
  expected: number;
  complete: number;
  /** ms from the write's acknowledgement to receipt (negative: delivered before the ack). */
  ackP50: number;
  ackP99: number;
  ackMax: number;
  /** ms from sending the write to receipt. */
  sendP50: number;
  sendP99: number;
  sendMax: number;
  writeP50: number;
  writeP99: number;
  setupMs: number;
  serverCpuUsPerEvent?: number;
  serverCores?: number;
  clientCores?: number;
  otherCores?: number;
}

function summarizeWatch(
  W: number,
  N: number,
  recv: Float64Array,
  sendT: Float64Array,
  ackT: Float64Array,
  established: number,
  setupMs: number,
  writeLat: number[],
): WatchResult {
  const fromAck: number[] = [];
  const fromSend: number[] = [];
  let complete = 0;
  for (let w = 0; w < W; w++) {
    let all = true;
    for (let i = 0; i < N; i++) {
      const t = recv[w * N + i];
      if (!t) {
        all = false;
        continue;
      }
      fromAck.push(t - ackT[i]);
      fromSend.push(t - sendT[i]);
    }
    if (all) complete++;
  }
  const a = fromAck.sort((x, y) => x - y);
  const s = fromSend.sort((x, y) => x - y);
  const wl = [...writeLat].sort((x, y) => x - y);
  return {
    watchers: W,
    writes: N,
    established,
    delivered: a.length,
    expected: W * N,
    complete,
    ackP50: pct(a, 0.5),
    ackP99: pct(a, 0.99),
    ackMax: a[a.length - 1] ?? NaN,
    sendP50: pct(s, 0.5),
    sendP99: pct(s, 0.99),
    sendMax: s[s.length - 1] ?? NaN,
    writeP50: pct(wl, 0.5),
    writeP99: pct(wl, 0.99),
    setupMs,
  };
}

/** Paced writes (open loop at `rate`/s); returns send and ack times. */
async function pacedWrites(N: number, rate: number, write: (i: number) => Promise<void>) {
  const sendT = new Float64Array(N);
  const ackT = new Float64Array(N);
  const lat: number[] = [];
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < N; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    sendT[i] = performance.now();
    pending.push(
      write(i).then(
        () => {
          ackT[i] = performance.now();
          lat.push(ackT[i] - sendT[i]);
        },
        (err) => {
          ackT[i] = performance.now();
          log(`  write ${i} failed: ${(err as Error).message}`);
        },
      ),
    );
  }
  await Promise.all(pending);
  return { sendT, ackT, lat };
}

/** CPU used by the server, this client and everything else from now until stop(). */
function startAccounting(pid: number) {
  const t0 = performance.now();
  const s0 = cpuSecondsOf(pid);
  const c0 = process.cpuUsage();
  const m0 = machineCpu();
  return {
    stop(events: number) {
      const seconds = (performance.now() - t0) / 1000;
      const server = cpuSecondsOf(pid) - s0;
      const c = process.cpuUsage(c0);
      const client = (c.user + c.system) / 1e6;
      const m1 = machineCpu();
      return {
        serverCpuUsPerEvent: (server * 1e6) / Math.max(1, events),
        serverCores: server / seconds,
        clientCores: client / seconds,
        otherCores: (m1.busy - m0.busy - server - client) / seconds,
      };
    },
  };
}

async function waitDelivered(recv: Float64Array, total: () => number, expected: number, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  while (total() < expected && performance.now() < deadline) await sleep(50);
}

async function watchPhase(k: K8ts, e: Etcd | undefined, r: Results) {
  const ns = 'bench-watch';
  await createNamespace(k.pool, ns);
  const W = cfg.watchers;
  const N = cfg.watchWrites;
  const recv = new Float64Array(W * N);
  let delivered = 0;
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: Infinity,
    ca: k.tls.ca,
    cert: k.tls.cert,
    key: k.tls.key,
    servername: 'localhost',
  });
  const { hostname, port } = new URL(k.url);
  const nameRe = /"name":"w-(\d+)"/;
  const requests: ReturnType<typeof https.request>[] = [];
  log(`k8ts: opening ${W} watches (one connection each)`);
  const tSetup = performance.now();
  const open = (w: number) =>
    new Promise<void>((ok, fail) => {
      const req = https.request(
        {
          agent,
          hostname,
          port,
          method: 'GET',
          path: `${cmPath(ns)}?watch=true&timeoutSeconds=3600`,
          headers: { accept: 'application/json' },
        },
        (res) => {
          if (res.statusCode !== 200) return fail(new Error(`watch ${w}: HTTP ${res.statusCode}`));
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            const now = performance.now();
            buf += chunk;
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              const m = nameRe.exec(line);
              if (!m) continue;
              const i = Number(m[1]);
              if (i < N && !recv[w * N + i]) {
                recv[w * N + i] = now;
                delivered++;
              }
            }
          });
          res.on('error', () => {});
          // The server registers the watch before it sends the headers: it is live now.
          ok();
        },
      );
      req.on('error', (err) => fail(err));
      req.end();
      requests.push(req);
    });
  let established = 0;
  for (let b = 0; b < W; b += 50) {
    const batch = [];
    for (let w = b; w < Math.min(W, b + 50); w++) batch.push(open(w).then(() => void established++));
    await Promise.allSettled(batch);
  }
  const setupMs = performance.now() - tSetup;
  log(`k8ts: ${established}/${W} watches open in ${setupMs.toFixed(0)} ms; ${N} creates at ${cfg.watchRate}/s`);
  const writer = new Pool(k.url, { connections: 4, connect: { ...k.tls, servername: 'localhost' } });
  const acct = startAccounting(k.pid);
  const { sendT, ackT, lat } = await pacedWrites(N, cfg.watchRate, (i) =>
    k8tsRequest(writer, 'POST', cmPath(ns), configMap(ns, `w-${i}`, i)).then(() => {}),
  );
  storedPerNs.set(ns, N);
  await waitDelivered(recv, () => delivered, established * N, 30_000);
  r.k8ts.watch = { ...summarizeWatch(W, N, recv, sendT, ackT, established, setupMs, lat), ...acct.stop(delivered) };
  for (const req of requests) req.destroy();
  agent.destroy();
  await writer.close();
  log(`k8ts: delivered ${delivered}/${W * N}; ack->receipt p99 ${r.k8ts.watch.ackP99.toFixed(1)} ms`);

  if (!e) return;
  const erecv = new Float64Array(W * N);
  let edelivered = 0;
  const prefix = '/registry/configmaps/bench-watch/';
  log(`etcd: opening ${W} watchers`);
  const te = performance.now();
  const watchers = [];
  for (let w = 0; w < W; w++) {
    const watcher = await e.client.watch().prefix(prefix).create();
    watcher.on('put', (kv) => {
      const now = performance.now();
      const i = Number(kv.key.toString().slice(prefix.length + 2));
      if (i < N && !erecv[w * N + i]) {
        erecv[w * N + i] = now;
        edelivered++;
      }
    });
    watchers.push(watcher);
  }
  const esetup = performance.now() - te;
  const eacct = startAccounting(e.pid);
  const ew = await pacedWrites(N, cfg.watchRate, (i) =>
    e.client
      .put(`${prefix}w-${i}`)
      .value(JSON.stringify(configMap(ns, `w-${i}`, i)))
      .then(() => {}),
  );
  etcdStored += N;
  await waitDelivered(erecv, () => edelivered, W * N, 30_000);
  r.etcd.watch = { ...summarizeWatch(W, N, erecv, ew.sendT, ew.ackT, W, esetup, ew.lat), ...eacct.stop(edelivered) };
  await Promise.all(watchers.map((w) => w.cancel().catch(() => {})));
  log(`etcd: delivered ${edelivered}/${W * N}; ack->receipt p99 ${r.etcd.watch.ackP99.toFixed(1)} ms`);
}

/** The server's own view of its memory, from its Prometheus /metrics (prom-client defaults). */
async function heapOf(pool: Pool): Promise<Record<string, number>> {
  try {
    const text = await k8tsRequest(pool, 'GET', '/metrics');
    const get = (name: string) =>
      Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
    return {
      heapUsedMiB: get('nodejs_heap_size_used_bytes'),
      heapTotalMiB: get('nodejs_heap_size_total_bytes'),
      externalMiB: get('nodejs_external_memory_bytes'),
    };
  } catch {
    return {};
  }
}

async function rssPhase(k: K8ts, e: Etcd | undefined, r: Results) {
  const ns = 'bench-fill';
  await createNamespace(k.pool, ns);
  const have = k8tsStored();
  const more = Math.max(0, cfg.rssObjects - have);
  log(`k8ts: filling ${more} more objects to ${cfg.rssObjects}`);
  r.k8ts.fill = await load(more, cfg.concurrency, (i) =>
    k8tsRequest(k.pool, 'POST', cmPath(ns), configMap(ns, `cm-${i}`, i)).then(() => {}),
  );
  storedPerNs.set(ns, more);
  await sleep(2000);
  r.k8ts.rss = { objects: k8tsStored(), ...rssOf(k.pid), ...(await heapOf(k.pool)) };
  log(`k8ts: RSS ${r.k8ts.rss.rssMiB.toFixed(0)} MiB with ${r.k8ts.rss.objects} objects`);
  await heapSnapshotOf(k.pid, log);
  if (!e) {
    await sleep(cfg.rssSettleSeconds * 1000);
    r.k8ts.rssSettled = { ...rssOf(k.pid), ...(await heapOf(k.pool)), ...residentByKind(k.pid) };
    log(
      `after ${cfg.rssSettleSeconds} s idle: k8ts RSS ${f0(r.k8ts.rssSettled.rssMiB)} MiB (heap used ${f0(r.k8ts.rssSettled.heapUsedMiB)})`,
    );
    return;
  }
  const emore = Math.max(0, cfg.rssObjects - etcdStored);
  r.etcd.fill = await load(
    emore,
    cfg.concurrency,
    (i) =>
      e.client
        .put(`/registry/configmaps/${ns}/cm-${i}`)
        .value(JSON.stringify(configMap(ns, `cm-${i}`, i)))
        .then(() => {}),
    e.pid,
  );
  etcdStored += emore;
  await sleep(2000);
  r.etcd.rss = { objects: etcdStored, ...rssOf(e.pid) };
  log(`etcd: RSS ${r.etcd.rss.rssMiB.toFixed(0)} MiB with ${r.etcd.rss.objects} keys`);
  // Read 2 s after a burst of creates, RSS still holds the burst's garbage (V8's and Go's collectors
  // give memory back over time): both are read again once idle, the memory a cluster holding these
  // objects keeps.
  await sleep(cfg.rssSettleSeconds * 1000);
  r.k8ts.rssSettled = { ...rssOf(k.pid), ...(await heapOf(k.pool)), ...residentByKind(k.pid) };
  r.etcd.rssSettled = rssOf(e.pid);
  log(
    `after ${cfg.rssSettleSeconds} s idle: k8ts RSS ${f0(r.k8ts.rssSettled.rssMiB)} MiB (heap used ${f0(r.k8ts.rssSettled.heapUsedMiB)}), etcd RSS ${f0(r.etcd.rssSettled.rssMiB)} MiB`,
  );
}

// ---- report -------------------------------------------------------------------------------------

const f0 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(0));
const f1 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(1));
const f2 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(2));
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !b ? '-' : `${(a / b).toFixed(2)}×`;

function table(r: Results): string {
  const k = r.k8ts;
  const e = r.etcd;
  const rows: string[][] = [['measure', 'k8ts', 'etcd (reference)', 'k8ts ÷ etcd', 'target']];
  const verb = (label: string, ks: Stats | undefined, es: Stats | undefined, target = '') => {
    if (!ks) return;
    rows.push([`${label} ops/s`, f0(ks.opsPerSec), f0(es?.opsPerSec), ratio(ks.opsPerSec, es?.opsPerSec), target]);
    rows.push([
      `${label} p50 / p99 ms`,
      `${f1(ks.p50)} / ${f1(ks.p99)}`,
      es ? `${f1(es.p50)} / ${f1(es.p99)}` : '-',
      '',
      '',
    ]);
    rows.push([
      `${label} server CPU µs/op`,
      f0(ks.serverCpuUsPerOp),
      f0(es?.serverCpuUsPerOp),
      ratio(ks.serverCpuUsPerOp, es?.serverCpuUsPerOp),
      '',
    ]);
  };
  verb(`create (${cfg.concurrency} in flight; etcd: put)`, k.create, e.put, '≥ 1.0× etcd puts');
  if (r.createRounds && r.createRounds.length > 1) {
    const ratios = r.createRounds.map((x) => x.k8ts / x.etcd).sort((a, b) => a - b);
    const cell = `${ratios.length} rounds: median ${ratios[Math.floor((ratios.length - 1) / 2)].toFixed(2)}× (${ratios[0].toFixed(2)}–${ratios[ratios.length - 1].toFixed(2)}×)`;
    rows.push(['create ÷ put, per interleaved round', '', '', cell, '']);
  }
  verb('get (etcd: get)', k.get, e.get);
  verb('update (etcd: put over existing key)', k.update, e.update);
  verb(`list of ${cfg.listSize} (etcd: prefix range)`, k.list, e.list);
  if (k.seqCreate) {
    rows.push([
      'single write, 1 in flight: p50 / p99 ms',
      `${f1(k.seqCreate.p50)} / ${f1(k.seqCreate.p99)}`,
      e.seqPut ? `${f1(e.seqPut.p50)} / ${f1(e.seqPut.p99)}` : '-',
      ratio(k.seqCreate.p99, e.seqPut?.p99),
      'p99 < 50 ms',
    ]);
  }
  if (k.bigList) {
    rows.push([
      `list ${k.bigList.objects} objects, one request (ms)`,
      f1(k.bigList.fullMs),
      f1(e.bigList?.fullMs),
      ratio(k.bigList.fullMs, e.bigList?.fullMs),
      '< 1000 ms',
    ]);
    rows.push([
      `list ${k.bigList.objects} objects, limit=${cfg.pageLimit} pages (ms)`,
      f1(k.bigList.pagedMs),
      f1(e.bigList?.pagedMs),
      ratio(k.bigList.pagedMs, e.bigList?.pagedMs),
      '< 1000 ms',
    ]);
  }
  if (k.watch) {
    const w: WatchResult = k.watch;
    const ew: WatchResult | undefined = e.watch;
    rows.push([
      `watchers: events delivered / expected`,
      `${w.delivered} / ${w.expected}`,
      ew ? `${ew.delivered} / ${ew.expected}` : '-',
      '',
      'all',
    ]);
    rows.push([
      `watch delivery, ack → receipt p50 / p99 ms`,
      `${f1(w.ackP50)} / ${f1(w.ackP99)}`,
      ew ? `${f1(ew.ackP50)} / ${f1(ew.ackP99)}` : '-',
      '',
      'p99 < 100 ms',
    ]);
    rows.push([
      `watch delivery, send → receipt p50 / p99 ms`,
      `${f1(w.sendP50)} / ${f1(w.sendP99)}`,
      ew ? `${f1(ew.sendP50)} / ${f1(ew.sendP99)}` : '-',
      ratio(w.sendP99, ew?.sendP99),
      '',
    ]);
    rows.push([
      `writes during the watch: p50 / p99 ms`,
      `${f1(w.writeP50)} / ${f1(w.writeP99)}`,
      ew ? `${f1(ew.writeP50)} / ${f1(ew.writeP99)}` : '-',
      '',
      '',
    ]);
    rows.push([
      `watch: server CPU µs per delivered event`,
      f1(w.serverCpuUsPerEvent),
      f1(ew?.serverCpuUsPerEvent),
      ratio(w.serverCpuUsPerEvent, ew?.serverCpuUsPerEvent),
      '',
    ]);
    rows.push([
      `watch: cores used by server / bench client`,
      `${f2(w.serverCores)} / ${f2(w.clientCores)}`,
      ew ? `${f2(ew.serverCores)} / ${f2(ew.clientCores)}` : '-',
      '',
      '',
    ]);
  }
  if (k.rss) {
    rows.push([
      `RSS with ${k.rss.objects} objects (MiB)`,
      f0(k.rss.rssMiB),
      e.rss ? `${f0(e.rss.rssMiB)} (${e.rss.objects} keys)` : '-',
      ratio(k.rss.rssMiB, e.rss?.rssMiB),
      '',
    ]);
    if (k.rssSettled)
      rows.push([
        `RSS with ${k.rss.objects} objects, ${cfg.rssSettleSeconds} s idle after the fills (MiB)`,
        f0(k.rssSettled.rssMiB),
        e.rssSettled ? f0(e.rssSettled.rssMiB) : '-',
        ratio(k.rssSettled.rssMiB, e.rssSettled?.rssMiB),
        '',
      ]);
    const settled = k.rssSettled;
    if (settled?.heapUsedMiB !== undefined)
      rows.push([
        '  idle: JS heap used / committed; malloc heap / other anonymous / files (MiB)',
        `${f0(settled.heapUsedMiB)} / ${f0(settled.heapTotalMiB)}; ${f0(settled.mallocHeapMiB)} / ${f0(settled.anonMiB)} / ${f0(settled.filesMiB)}`,
        '',
        '',
        '',
      ]);
    if (k.rss.heapUsedMiB !== undefined)
      rows.push([
        '  2 s after the fill: JS heap used / external (MiB)',
        `${f0(k.rss.heapUsedMiB)} / ${f0(k.rss.externalMiB)}`,
        '',
        '',
        '',
      ]);
  }
  if (k.fill)
    rows.push([
      `bulk create during fill ops/s`,
      f0(k.fill.opsPerSec),
      f0(e.fill?.opsPerSec),
      ratio(k.fill.opsPerSec, e.fill?.opsPerSec),
      '',
    ]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) => `| ${row.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
  return [line(rows[0]), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.slice(1).map(line)].join('\n');
}

// ---- main ---------------------------------------------------------------------------------------

async function main() {
  const machine: Record<string, any> = {
    cpu: os.cpus()[0]?.model,
    cpus: os.cpus().length,
    memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    kernel: os.release(),
    node: process.version,
    date: new Date().toISOString(),
  };
  const r: Results = { config: cfg, machine, k8ts: {}, etcd: {} };
  log(`scale ${cfg.scale}: ${JSON.stringify({ ...cfg, only: [...cfg.only], verbs: [...cfg.verbs] })}`);
  let k: K8ts | undefined;
  let e: Etcd | undefined;
  /** k8ts's own etcd (BENCH_DATASTORE=etcd); its CPU is not counted as the server's. */
  let store: Etcd | undefined;
  const cleanup = async () => {
    await k?.pool.close().catch(() => {});
    if (k) await stopProcess(k.child, 'k8ts server');
    for (const x of [e, store]) {
      x?.client.close();
      if (x) await stopProcess(x.child, 'etcd');
    }
    for (const d of [k?.dataDir, e?.dataDir, store?.dataDir]) if (d) rmSync(d, { recursive: true, force: true });
  };
  try {
    if (cfg.datastore === 'etcd') {
      store = await startEtcd();
      log(`k8ts datastore: etcd ${store.version} pid ${store.pid} at ${store.endpoint}`);
    }
    k = await startK8ts(store ? ['--datastore-endpoint', store.endpoint] : []);
    watched.server = k.pid;
    log(`k8ts server pid ${k.pid} at ${k.url} (data ${k.dataDir})`);
    if (cfg.etcd) {
      e = await startEtcd();
      machine.etcd = e.version;
      log(`etcd ${e.version} pid ${e.pid} at ${e.endpoint} (data ${e.dataDir})`);
    }
    if (cfg.only.has('crud')) await crudPhase(k, e, r);
    if (cfg.only.has('seq')) await seqPhase(k, e, r);
    if (cfg.only.has('list')) await listPhase(k, e, r);
    if (cfg.only.has('watch')) await watchPhase(k, e, r);
    if (cfg.only.has('rss')) await rssPhase(k, e, r);
  } finally {
    await cleanup();
  }
  const phases = [...Object.values(r.k8ts), ...Object.values(r.etcd)].filter(
    (x): x is Stats => typeof x?.otherCores === 'number',
  );
  const other = phases.map((p) => p.otherCores!).filter((x) => Number.isFinite(x));
  machine.otherCoresAvg = other.length ? +(other.reduce((a, b) => a + b, 0) / other.length).toFixed(2) : undefined;
  machine.otherCoresMax = other.length ? +Math.max(...other).toFixed(2) : undefined;
  const out =
    table(r) +
    (other.length
      ? `\n\nother processes on the machine used ${machine.otherCoresAvg} cores on average (max ${machine.otherCoresMax}) during the load phases`
      : '');
  process.stdout.write(
    `\nk8ts API benchmark (scale ${cfg.scale}; ${machine.cpus}× ${machine.cpu}, node ${machine.node}${e ? `, etcd ${e.version}` : ''})\n\n${out}\n\n`,
  );
  mkdirSync(dirname(cfg.out), { recursive: true });
  writeFileSync(
    cfg.out,
    JSON.stringify({ ...r, config: { ...cfg, only: [...cfg.only], verbs: [...cfg.verbs] }, table: out }, null, 2) +
      '\n',
  );
  process.stdout.write(`results written to ${cfg.out}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
