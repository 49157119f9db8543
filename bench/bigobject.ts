// Big-object benchmark: how long one worst-case request body (up to the 3 MiB limit) takes, and how
// much it delays other clients. While each big request runs, a second connection GETs a small
// object every 10 ms; the delay of a GET is its latency beyond the idle baseline. Not a test: it
// prints a table and writes results.
//
//   npm run build && npm run bench:bigobject
//
// Environment (all optional):
//   BENCH_SHAPES           comma-separated shape names to run (all); see `shapes` below
//   BENCH_PROBE_MS         interval between probe GETs (10)
//   BENCH_SETTLE_MS        how long probing goes on after the big response (2000)
//   BENCH_DIR              where the temporary data dir goes (os.tmpdir())
//   BENCH_OUT              where the JSON results go (bench/results/bigobject.json)
//   BENCH_SERVER_NODE_ARGS extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
//   BENCH_SERVER_ARGS      extra server flags, e.g. "--disable-scheduler --disable-controller-manager"
//                          to measure the API server alone (upstream runs those as other processes)
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { clientTLS, cpuSecondsOf, k8tsServerArgs, launch, pct, repo, sleep } from './common.js';

const MAX_BODY = 3 * 1024 * 1024;
const cfg = {
  shapes: process.env.BENCH_SHAPES ? new Set(process.env.BENCH_SHAPES.split(',').map((s) => s.trim())) : undefined,
  probeMs: Number(process.env.BENCH_PROBE_MS ?? 10),
  settleMs: Number(process.env.BENCH_SETTLE_MS ?? 2000),
  dir: process.env.BENCH_DIR ?? os.tmpdir(),
  out: process.env.BENCH_OUT ?? join(repo, 'bench', 'results', 'bigobject.json'),
  serverNodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  serverArgs: (process.env.BENCH_SERVER_ARGS ?? '').split(/\s+/).filter(Boolean),
};
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const NS = 'big';

// ---- request shapes -----------------------------------------------------------------------------

interface BigRequest {
  method: 'POST' | 'PUT' | 'PATCH';
  path: string;
  contentType: string;
  body: string;
}

interface Shape {
  name: string;
  what: string;
  /** A request to send first (unmeasured), e.g. creating the object a big update replaces. */
  setup?: () => BigRequest;
  /** The measured request; `prior` is the object the setup request returned. */
  request: (prior?: any) => BigRequest;
}

/**
 * The largest n for which `build(n)` serializes within the body limit (minus `slack` bytes), found
 * by doubling then bisecting: shapes fill the limit whatever their per-item size is.
 */
function fill(build: (n: number) => unknown, slack = 0): string {
  const fits = (n: number) => JSON.stringify(build(n)).length <= MAX_BODY - slack;
  let lo = 1;
  let hi = 2;
  while (fits(hi)) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return JSON.stringify(build(lo));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const pod = (name: string, spec: object) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: NS },
  spec,
});
const container = (name: string, extra: object = {}) => ({ name, image: 'i', ...extra });
const podsPath = `/api/v1/namespaces/${NS}/pods`;
const cmPath = `/api/v1/namespaces/${NS}/configmaps`;
const crPath = `/apis/bench.k8ts.io/v1/namespaces/${NS}/blobs`;
const post = (path: string, body: string): BigRequest => ({
  method: 'POST',
  path,
  contentType: 'application/json',
  body,
});

/** A ConfigMap whose data stays within upstream's 1 MiB total (core.MaxSecretSize). */
const configMap = (name: string, keys: number, value: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: NS },
  data: Object.fromEntries(range(keys).map((i) => [`k${i}`, value])),
});
const CM_KEYS = 100_000;
/**
 * The biggest objects of these shapes the store keeps (1.5 MiB as JSON: etcd's limit): a
 * defaulted container with its managedFields entry is ~590 bytes, a ConfigMap key with its
 * entry ~27.
 */
const STORABLE_CONTAINERS = 2_500;
const STORABLE_CM_KEYS = 50_000;

const blob = (name: string, spec: unknown) => ({
  apiVersion: 'bench.k8ts.io/v1',
  kind: 'Blob',
  metadata: { name, namespace: NS },
  spec,
});

const shapes: Shape[] = [
  {
    name: 'pod-50k-containers',
    what: 'the reported case: a Pod with 50,000 containers (1.7 MB)',
    request: () =>
      post(podsPath, JSON.stringify(pod('c50k', { containers: range(50_000).map((i) => container(`c${i}`)) }))),
  },
  {
    name: 'pod-containers',
    what: 'a Pod with as many containers as 3 MiB holds',
    request: () =>
      post(
        podsPath,
        fill((n) => pod('cmax', { containers: range(n).map((i) => container(`c${i}`)) })),
      ),
  },
  {
    name: 'pod-env',
    what: 'one container with as many env vars as 3 MiB holds',
    request: () =>
      post(
        podsPath,
        fill((n) =>
          pod('env', { containers: [container('c', { env: range(n).map((i) => ({ name: `E${i}`, value: 'v' })) })] }),
        ),
      ),
  },
  {
    name: 'pod-ports',
    what: 'one container with as many ports as 3 MiB holds',
    request: () =>
      post(
        podsPath,
        fill((n) =>
          pod('ports', {
            containers: [
              container('c', {
                ports: range(n).map((i) => ({
                  containerPort: (i % 65535) + 1,
                  protocol: ['TCP', 'UDP', 'SCTP'][Math.floor(i / 65535) % 3],
                })),
              }),
            ],
          }),
        ),
      ),
  },
  {
    name: 'pod-volumes',
    what: 'a Pod with as many emptyDir volumes (all mounted) as 3 MiB holds',
    request: () =>
      post(
        podsPath,
        fill((n) =>
          pod('vols', {
            volumes: range(n).map((i) => ({ name: `v${i}`, emptyDir: {} })),
            containers: [
              container('c', { volumeMounts: range(n).map((i) => ({ name: `v${i}`, mountPath: `/m/${i}` })) }),
            ],
          }),
        ),
      ),
  },
  {
    name: 'configmap-keys',
    what: 'a ConfigMap with 100,000 keys',
    request: () => post(cmPath, JSON.stringify(configMap('keys', CM_KEYS, 'v'))),
  },
  {
    name: 'configmap-labels',
    what: 'a ConfigMap with as many labels as 3 MiB holds',
    request: () =>
      post(
        cmPath,
        fill((n) => ({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'labels', namespace: NS, labels: Object.fromEntries(range(n).map((i) => [`l${i}`, 'v'])) },
        })),
      ),
  },
  {
    name: 'configmap-update',
    what: `a PUT replacing every value of a ${STORABLE_CM_KEYS.toLocaleString('en')}-key ConfigMap (as big as the store keeps)`,
    setup: () => post(cmPath, JSON.stringify(configMap('upd', STORABLE_CM_KEYS, 'v'))),
    request: () => ({
      method: 'PUT',
      path: `${cmPath}/upd`,
      contentType: 'application/json',
      body: JSON.stringify(configMap('upd', STORABLE_CM_KEYS, 'w')),
    }),
  },
  {
    name: 'configmap-apply',
    what: `server-side apply of a ${STORABLE_CM_KEYS.toLocaleString('en')}-key ConfigMap by a second manager (force)`,
    setup: () => post(cmPath, JSON.stringify(configMap('apl', STORABLE_CM_KEYS, 'v'))),
    request: () => ({
      method: 'PATCH',
      path: `${cmPath}/apl?fieldManager=bench&force=true`,
      contentType: 'application/apply-patch+yaml',
      body: JSON.stringify(configMap('apl', STORABLE_CM_KEYS, 'w')),
    }),
  },
  {
    name: 'pod-apply',
    what: 'server-side apply creating a Pod with as many containers as 3 MiB holds (a list-map)',
    request: () => ({
      method: 'PATCH',
      path: `${podsPath}/apply?fieldManager=bench`,
      contentType: 'application/apply-patch+yaml',
      body: fill((n) => pod('apply', { containers: range(n).map((i) => container(`c${i}`)) })),
    }),
  },
  {
    name: 'pod-storable',
    what: `a Pod with ${STORABLE_CONTAINERS.toLocaleString('en')} containers: about as big as the store keeps (1.5 MiB with defaults and managedFields)`,
    request: () =>
      post(
        podsPath,
        JSON.stringify(pod('storable', { containers: range(STORABLE_CONTAINERS).map((i) => container(`c${i}`)) })),
      ),
  },
  {
    name: 'configmap-storable',
    what: `a ConfigMap with ${STORABLE_CM_KEYS.toLocaleString('en')} keys: about as big as the store keeps`,
    request: () => post(cmPath, JSON.stringify(configMap('storable', STORABLE_CM_KEYS, 'v'))),
  },
  {
    name: 'pod-update',
    what: `a PUT of a ${STORABLE_CONTAINERS.toLocaleString('en')}-container Pod changing every image (old and new both near the store's limit)`,
    setup: () =>
      post(
        podsPath,
        JSON.stringify(pod('upd', { containers: range(STORABLE_CONTAINERS).map((i) => container(`c${i}`)) })),
      ),
    request: (prior) => {
      delete prior.metadata.managedFields; // a client may send them back, but they would not fit
      delete prior.metadata.resourceVersion; // unconditional: controllers may have written the pod meanwhile
      for (const c of prior.spec.containers) c.image = 'j';
      return { method: 'PUT', path: `${podsPath}/upd`, contentType: 'application/json', body: JSON.stringify(prior) };
    },
  },
  {
    name: 'cr-wide',
    what: 'a custom resource with free-form (preserve-unknown-fields) data as wide as 3 MiB holds',
    request: () =>
      post(
        crPath,
        fill((n) => blob('wide', Object.fromEntries(range(n).map((i) => [`f${i}`, { x: i }])))),
      ),
  },
  {
    name: 'cr-deep',
    what: 'a custom resource with free-form data nested 10,000 levels deep',
    // Built as text: JSON.stringify itself recurses too deep for this.
    request: () =>
      post(
        crPath,
        JSON.stringify(blob('deep', 0)).replace('"spec":0', `"spec":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`),
      ),
  },
];

const blobCRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'blobs.bench.k8ts.io' },
  spec: {
    group: 'bench.k8ts.io',
    scope: 'Namespaced',
    names: { plural: 'blobs', singular: 'blob', kind: 'Blob' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        },
      },
    ],
  },
};

// ---- server and client --------------------------------------------------------------------------

async function startServer() {
  const dataDir = mkdtempSync(join(cfg.dir, 'k8ts-bigobject-'));
  const args = k8tsServerArgs(
    dataDir,
    ['--disable-agent', '--log-level', 'warn', ...cfg.serverArgs],
    cfg.serverNodeArgs,
  );
  const { child, match } = await launch('k8ts server', args, /ready: (\S+) \(data .*, kubeconfig (\S+)\)/, 60_000);
  const tls = clientTLS(match[2]);
  const pool = () =>
    new Pool(match[1], { connections: 1, pipelining: 1, connect: { ...tls, servername: 'localhost' } });
  return { child, dataDir, big: pool(), probe: pool() };
}

async function send(pool: Pool, r: BigRequest): Promise<{ status: number; text: string }> {
  const res = await pool.request({
    method: r.method,
    path: r.path,
    headers: { 'content-type': r.contentType, accept: 'application/json' },
    body: r.body,
    headersTimeout: 600_000,
    bodyTimeout: 600_000,
  });
  return { status: res.statusCode, text: await res.body.text() };
}

async function get(pool: Pool, path: string): Promise<number> {
  const t0 = performance.now();
  const res = await pool.request({ method: 'GET', path, headers: { accept: 'application/json' } });
  await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode}`);
  return performance.now() - t0;
}

/**
 * Probe GET latencies while `work` runs and for settleMs after (what the write sets off: watch
 * fan-out, controllers, the scheduler): one GET every probeMs, sequentially on its own connection.
 * A GET counts for the phase in which it was sent.
 */
async function probeAround<T>(pool: Pool, work: Promise<T>): Promise<{ result: T; during: number[]; after: number[] }> {
  let stopAt = Infinity;
  let doneAt = Infinity;
  const during: number[] = [];
  const after: number[] = [];
  const loop = (async () => {
    while (performance.now() < stopAt) {
      const t0 = performance.now();
      const ms = await get(pool, `/api/v1/namespaces/${NS}`);
      (t0 < doneAt ? during : after).push(ms);
      const wait = cfg.probeMs - (performance.now() - t0);
      if (wait > 0) await sleep(wait);
    }
  })();
  const result = await work.finally(() => {
    doneAt = performance.now();
    stopAt = doneAt + cfg.settleMs;
  });
  await loop;
  return { result, during: during.sort((a, b) => a - b), after: after.sort((a, b) => a - b) };
}

// ---- main ---------------------------------------------------------------------------------------

interface Row {
  shape: string;
  what: string;
  bodyBytes: number;
  status: number;
  requestMs: number;
  /** CPU time the server used while the request ran: the work, whatever else the machine ran. */
  serverCpuMs: number;
  probeBaselineMs: number;
  /** GETs sent while the big request ran: their count and delays beyond the idle baseline. */
  probes: number;
  maxDelayMs: number;
  p99DelayMs: number;
  /** The same for GETs sent in the settle window after the response. */
  afterMaxDelayMs: number;
  afterP99DelayMs: number;
  error?: string;
}

async function main() {
  const server = await startServer();
  const rows: Row[] = [];
  try {
    const created = (s: { status: number; text: string }) => {
      if (s.status >= 300 && s.status !== 409) throw new Error(`setup failed: ${s.status} ${s.text.slice(0, 300)}`);
    };
    created(
      await send(
        server.big,
        post('/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } })),
      ),
    );
    // Made by the controller manager, which BENCH_SERVER_ARGS may leave out; pods need it.
    created(
      await send(
        server.big,
        post(
          `/api/v1/namespaces/${NS}/serviceaccounts`,
          JSON.stringify({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: NS } }),
        ),
      ),
    );
    created(
      await send(server.big, post('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', JSON.stringify(blobCRD))),
    );
    // The CRD is served once established; wait until its resource answers.
    for (let i = 0; ; i++) {
      const res = await server.probe.request({ method: 'GET', path: crPath });
      await res.body.text();
      if (res.statusCode === 200) break;
      if (i > 100) throw new Error(`the Blob CRD was not served: ${res.statusCode}`);
      await sleep(100);
    }
    // Idle baseline of the probe GET.
    const idle: number[] = [];
    for (let i = 0; i < 50; i++) idle.push(await get(server.probe, `/api/v1/namespaces/${NS}`));
    idle.sort((a, b) => a - b);
    const baseline = pct(idle, 0.5);
    log(`probe GET idle: p50 ${baseline.toFixed(2)} ms, max ${idle[idle.length - 1].toFixed(2)} ms`);

    for (const shape of shapes) {
      if (cfg.shapes && !cfg.shapes.has(shape.name)) continue;
      let prior: any;
      const setup = shape.setup?.();
      if (setup) {
        const res = await send(server.big, setup);
        created(res);
        prior = JSON.parse(res.text);
        await sleep(1000); // what the setup write sets off (watchers, controllers) settles first
      }
      const req = shape.request(prior);
      log(`${shape.name}: ${shape.what} (${(req.body.length / 1e6).toFixed(2)} MB)`);
      await sleep(200);
      const t0 = performance.now();
      let cpu1 = NaN;
      const cpu0 = cpuSecondsOf(server.child.pid!);
      const work = send(server.big, req).finally(() => (cpu1 = cpuSecondsOf(server.child.pid!)));
      const { result, during, after } = await probeAround(server.probe, work);
      const requestMs = performance.now() - t0;
      const delay = (ms: number | undefined) => Math.round(Math.max(0, (ms || 0) - baseline));
      const row: Row = {
        shape: shape.name,
        what: shape.what,
        bodyBytes: req.body.length,
        status: result.status,
        requestMs: Math.round(requestMs),
        serverCpuMs: Math.round((cpu1 - cpu0) * 1000),
        probeBaselineMs: Number(baseline.toFixed(2)),
        probes: during.length,
        maxDelayMs: delay(during[during.length - 1]),
        p99DelayMs: delay(pct(during, 0.99)),
        afterMaxDelayMs: delay(after[after.length - 1]),
        afterP99DelayMs: delay(pct(after, 0.99)),
      };
      if (result.status >= 300) row.error = result.text.slice(0, 200);
      rows.push(row);
      log(
        `  -> ${row.status} in ${row.requestMs} ms (server CPU ${row.serverCpuMs} ms); probe GET delay max ${row.maxDelayMs} ms, p99 ${row.p99DelayMs} ms over ${row.probes} GETs; after: max ${row.afterMaxDelayMs} ms${row.error ? `; ${row.error}` : ''}`,
      );
    }
  } finally {
    await server.big.close();
    await server.probe.close();
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    rmSync(server.dataDir, { recursive: true, force: true });
  }

  const pad = (s: string | number, n: number) => String(s).padStart(n);
  console.log(
    `\nGET delay: a probe GET's latency beyond its idle p50, while the big request ran / in the ${cfg.settleMs} ms after`,
  );
  console.log(
    `${'shape'.padEnd(20)} ${pad('body MB', 8)} ${pad('status', 6)} ${pad('request ms', 10)} ${pad('server CPU', 10)} ${pad('delay max', 9)} ${pad('p99', 6)} ${pad('GETs', 5)} ${pad('after max', 9)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.shape.padEnd(20)} ${pad((r.bodyBytes / 1e6).toFixed(2), 8)} ${pad(r.status, 6)} ${pad(r.requestMs, 10)} ${pad(r.serverCpuMs, 10)} ${pad(r.maxDelayMs, 9)} ${pad(r.p99DelayMs, 6)} ${pad(r.probes, 5)} ${pad(r.afterMaxDelayMs, 9)}`,
    );
  }
  mkdirSync(dirname(cfg.out), { recursive: true });
  writeFileSync(
    cfg.out,
    JSON.stringify(
      { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, probeMs: cfg.probeMs, rows },
      null,
      2,
    ) + '\n',
  );
  log(`results written to ${cfg.out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
