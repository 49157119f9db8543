// Protobuf against JSON on the same server in the same run: create and list throughput through
// the whole API path (HTTPS, admission, SQLite). Rounds alternate between the two encodings so
// drift (cache warmth, SQLite growth) falls on both. Bodies are encoded before the clock starts
// and responses are read as bytes, not parsed: the numbers are the server's.
//
//   npm run build && node dist/bench/protobuf.js
//   BENCH_SCALE=small node dist/bench/protobuf.js
//
// Environment: BENCH_CONCURRENCY (32), BENCH_CREATES per round (1500 / 500), BENCH_ROUNDS (8 / 4),
// BENCH_LISTS per round of a 100-object namespace (500 / 100), BENCH_BIG_LIST objects (5000 / 1000),
// BENCH_VALUE_BYTES payload per ConfigMap (1024), BENCH_OUT (bench/results/protobuf-<scale>.json).
import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { clientTLS, cpuSecondsOf, k8tsServerArgs, launch, pct, pick, repo, scale } from './common.js';
import { encodeEnvelope } from '../src/machinery/protobuf/index.js';

const PROTOBUF = 'application/vnd.kubernetes.protobuf';
const cfg = {
  concurrency: pick('BENCH_CONCURRENCY', 32, 32),
  creates: pick('BENCH_CREATES', 1500, 500),
  rounds: pick('BENCH_ROUNDS', 8, 4),
  lists: pick('BENCH_LISTS', 500, 100),
  bigList: pick('BENCH_BIG_LIST', 5000, 1000),
  valueBytes: pick('BENCH_VALUE_BYTES', 1024, 1024),
  out: process.env.BENCH_OUT ?? join(repo, 'bench', 'results', `protobuf-${scale}.json`),
};
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

type Format = 'json' | 'protobuf';
const FORMATS: Format[] = ['json', 'protobuf'];

interface Server {
  child: ChildProcess;
  pool: Pool;
  dataDir: string;
}

async function startServer(): Promise<Server> {
  const dataDir = mkdtempSync(join(os.tmpdir(), 'k8ts-pb-bench-'));
  const args = k8tsServerArgs(dataDir, ['--disable-agent', '--log-level', 'warn']);
  const { child, match } = await launch('k8ts server', args, /ready: (\S+) \(data .*, kubeconfig (\S+)\)/, 60_000);
  const pool = new Pool(match[1], {
    connections: cfg.concurrency,
    pipelining: 1,
    connect: { ...clientTLS(match[2]), servername: 'localhost' },
  });
  return { child, pool, dataDir };
}

const headers = (f: Format, body: boolean): Record<string, string> =>
  f === 'json'
    ? { accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) }
    : { accept: PROTOBUF, ...(body ? { 'content-type': PROTOBUF } : {}) };

async function request(
  pool: Pool,
  method: 'GET' | 'POST',
  path: string,
  f: Format,
  body?: Buffer | string,
): Promise<{ code: number; bytes: number }> {
  const res = await pool.request({ method, path, headers: headers(f, body !== undefined), body });
  const buf = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${buf.toString().slice(0, 300)}`);
  return { code: res.statusCode, bytes: buf.length };
}

interface Result {
  ops: number;
  seconds: number;
  opsPerSec: number;
  p50ms: number;
  p99ms: number;
  serverCpuUsPerOp: number;
  responseBytes: number;
}

/** Run `ops` operations with `concurrency` in flight; latency per op, server CPU per op. */
async function measure(server: Server, ops: number, op: (i: number) => Promise<{ bytes: number }>): Promise<Result> {
  const lat: number[] = [];
  let next = 0;
  let bytes = 0;
  const cpu0 = cpuSecondsOf(server.child.pid!);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(cfg.concurrency, ops) }, async () => {
      while (next < ops) {
        const i = next++;
        const s = performance.now();
        const r = await op(i);
        bytes += r.bytes;
        lat.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSecondsOf(server.child.pid!) - cpu0;
  lat.sort((a, b) => a - b);
  return {
    ops,
    seconds,
    opsPerSec: ops / seconds,
    p50ms: pct(lat, 0.5),
    p99ms: pct(lat, 0.99),
    serverCpuUsPerOp: (cpu * 1e6) / ops,
    responseBytes: Math.round(bytes / ops),
  };
}

const configMap = (ns: string, name: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: ns, labels: { app: 'bench', tier: 'protobuf' } },
  data: { payload: 'x'.repeat(cfg.valueBytes), other: 'value' },
});

const encode = (f: Format, obj: unknown): Buffer | string => (f === 'json' ? JSON.stringify(obj) : encodeEnvelope(obj));

async function createNamespace(server: Server, name: string): Promise<void> {
  await request(
    server.pool,
    'POST',
    '/api/v1/namespaces',
    'json',
    JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }),
  );
}

/** Merge the rounds of one format: total ops over total time, latencies averaged. */
function combine(results: Result[]): Result & { rounds: number[] } {
  const ops = results.reduce((a, r) => a + r.ops, 0);
  const seconds = results.reduce((a, r) => a + r.seconds, 0);
  const avg = (k: keyof Result) => results.reduce((a, r) => a + r[k], 0) / results.length;
  return {
    ops,
    seconds,
    opsPerSec: ops / seconds,
    p50ms: avg('p50ms'),
    p99ms: avg('p99ms'),
    serverCpuUsPerOp: avg('serverCpuUsPerOp'),
    responseBytes: avg('responseBytes'),
    rounds: results.map((r) => r.opsPerSec),
  };
}

async function main(): Promise<void> {
  log(`scale=${scale} ${JSON.stringify(cfg)}`);
  const server = await startServer();
  const out: Record<string, Record<Format, ReturnType<typeof combine>>> = {};
  try {
    // Warm up both paths (JIT, caches) before anything is timed.
    await createNamespace(server, 'warm');
    for (const f of FORMATS)
      await measure(server, 1000, (i) =>
        request(
          server.pool,
          'POST',
          '/api/v1/namespaces/warm/configmaps',
          f,
          encode(f, configMap('warm', `${f}-${i}`)),
        ),
      );

    const creates: Record<Format, Result[]> = { json: [], protobuf: [] };
    for (let round = 0; round < cfg.rounds; round++) {
      for (const f of round % 2 ? [...FORMATS].reverse() : FORMATS) {
        const ns = `create-${f}-${round}`;
        await createNamespace(server, ns);
        const bodies = Array.from({ length: cfg.creates }, (_, i) => encode(f, configMap(ns, `cm-${i}`)));
        const path = `/api/v1/namespaces/${ns}/configmaps`;
        const r = await measure(server, cfg.creates, (i) => request(server.pool, 'POST', path, f, bodies[i]));
        creates[f].push(r);
        log(
          `create ${f} round ${round}: ${Math.round(r.opsPerSec)}/s p50 ${r.p50ms.toFixed(1)} ms, server ${Math.round(r.serverCpuUsPerOp)} µs/op`,
        );
      }
    }
    out.create = { json: combine(creates.json), protobuf: combine(creates.protobuf) };

    // Lists: a 100-object namespace many times, and one big namespace a few times.
    await createNamespace(server, 'list100');
    await measure(server, 100, (i) =>
      request(
        server.pool,
        'POST',
        '/api/v1/namespaces/list100/configmaps',
        'json',
        JSON.stringify(configMap('list100', `cm-${i}`)),
      ),
    );
    await createNamespace(server, 'listbig');
    await measure(server, cfg.bigList, (i) =>
      request(
        server.pool,
        'POST',
        '/api/v1/namespaces/listbig/configmaps',
        'json',
        JSON.stringify(configMap('listbig', `cm-${i}`)),
      ),
    );
    const lists: Record<Format, Result[]> = { json: [], protobuf: [] };
    const bigLists: Record<Format, Result[]> = { json: [], protobuf: [] };
    for (const f of FORMATS) {
      const first = await measure(server, 1, () =>
        request(server.pool, 'GET', '/api/v1/namespaces/listbig/configmaps', f),
      );
      log(`first big list ${f} (${cfg.bigList} objects, encodings not yet kept): ${first.seconds * 1000} ms`);
    }
    for (let round = 0; round < cfg.rounds; round++) {
      for (const f of round % 2 ? [...FORMATS].reverse() : FORMATS) {
        const r = await measure(server, cfg.lists, () =>
          request(server.pool, 'GET', '/api/v1/namespaces/list100/configmaps', f),
        );
        lists[f].push(r);
        log(
          `list of 100 ${f} round ${round}: ${Math.round(r.opsPerSec)}/s p50 ${r.p50ms.toFixed(1)} ms, ${r.responseBytes} bytes`,
        );
        const big = await measure(server, 10, () =>
          request(server.pool, 'GET', '/api/v1/namespaces/listbig/configmaps', f),
        );
        bigLists[f].push(big);
        log(
          `list of ${cfg.bigList} ${f} round ${round}: ${big.opsPerSec.toFixed(1)}/s p50 ${big.p50ms.toFixed(1)} ms, ${big.responseBytes} bytes`,
        );
      }
    }
    out.list100 = { json: combine(lists.json), protobuf: combine(lists.protobuf) };
    out[`list${cfg.bigList}`] = { json: combine(bigLists.json), protobuf: combine(bigLists.protobuf) };
  } finally {
    await server.pool.close();
    server.child.kill('SIGKILL');
    rmSync(server.dataDir, { recursive: true, force: true });
  }

  // Neighbouring rounds ran under the same load: their ratio is the least noisy comparison.
  const medianRatio = (r: (typeof out)[string]) => {
    const ratios = r.protobuf.rounds.map((p, i) => p / r.json.rounds[i]).sort((a, b) => a - b);
    return ratios[Math.floor(ratios.length / 2)];
  };
  const rows = Object.entries(out).map(([phase, r]) => ({
    phase,
    'json ops/s': Math.round(r.json.opsPerSec),
    'protobuf ops/s': Math.round(r.protobuf.opsPerSec),
    'protobuf/json': (r.protobuf.opsPerSec / r.json.opsPerSec).toFixed(2),
    'median round ratio': medianRatio(r).toFixed(2),
    'json p50 ms': r.json.p50ms.toFixed(1),
    'protobuf p50 ms': r.protobuf.p50ms.toFixed(1),
    'json µs/op': Math.round(r.json.serverCpuUsPerOp),
    'protobuf µs/op': Math.round(r.protobuf.serverCpuUsPerOp),
    'json bytes': Math.round(r.json.responseBytes),
    'protobuf bytes': Math.round(r.protobuf.responseBytes),
  }));
  console.table(rows);
  mkdirSync(dirname(cfg.out), { recursive: true });
  writeFileSync(
    cfg.out,
    JSON.stringify({ date: new Date().toISOString(), scale, cfg, cpus: os.cpus().length, results: out }, null, 2) +
      '\n',
  );
  log(`results in ${cfg.out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
