// The ingress data path against NGINX (npm run bench:ingress): requests/s and p99 latency of
// k8ts' ingress and of Debian's NGINX as a reverse proxy, in front of the same backend, measured
// with the same load generator (wrk, keep-alive, INGRESS_CONNECTIONS connections, default 64) in
// the same run, over plain HTTP and HTTPS. One worker each: the ingress runs in the server's
// event loop (one thread), NGINX with `worker_processes 1`. The backend is a second NGINX (one
// worker, `return 200`), so neither proxy waits on a slow upstream. Runs alternate between the
// two proxies INGRESS_ROUNDS times (default 3) and the median of each is reported, so load from
// other programs on the machine falls on both alike. Needs /usr/sbin/nginx (nginx-light) and wrk.
// Each target first gets an unmeasured run of INGRESS_WARMUP_SECONDS (default 3). Beside
// requests/s the CPU time each proxy process spent per request is reported (cpuUsPerReq): it
// depends far less on other load on the machine than throughput does. Knobs for profiling:
// INGRESS_TARGETS (comma-separated names, e.g. `k8ts https`) runs only those targets;
// INGRESS_CPU_PROF=DIR starts the server with --cpu-prof into DIR (written when it stops).
// "k8ts" is k8ts' default data plane (NGINX in front of the JS proxy, src/ingress/nginx/): its
// CPU per request is that of the k8ts process and its NGINX (master and workers) together.
// "builtin" is a second server with --ingress-data-plane=builtin (the JS proxy alone).
// INGRESS_NGINX_TLS=relay starts "k8ts" with --ingress-nginx-tls=relay (the HTTPS port through
// NGINX's stream relay, as before direct TLS) to compare the two.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { get as httpGet } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pick } from './common.js';
import { selfSignedCertificate } from '../src/ingress/tls.js';
import { freePort } from '../test/support/ports.js';

const ROUNDS = pick('INGRESS_ROUNDS', 3, 1);
const SECONDS = pick('INGRESS_SECONDS', 10, 5);
const WARMUP_SECONDS = pick('INGRESS_WARMUP_SECONDS', 3, 2);
const CONNECTIONS = pick('INGRESS_CONNECTIONS', 64, 64);
const NGINX = process.env.NGINX ?? '/usr/sbin/nginx';
const HOST = 'bench.example';
const TARGETS = process.env.INGRESS_TARGETS?.split(',').map((t) => t.trim());
const CPU_PROF = process.env.INGRESS_CPU_PROF;

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** An NGINX in the foreground with this http{} body, one worker, its files in `dir`. */
function nginx(dir: string, name: string, http: string): ChildProcess {
  const conf = join(dir, `${name}.conf`);
  writeFileSync(
    conf,
    `daemon off;
master_process on;
worker_processes 1;
pid ${join(dir, `${name}.pid`)};
error_log ${join(dir, `${name}.error.log`)} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/${name}-body;
  proxy_temp_path ${dir}/${name}-proxy;
  fastcgi_temp_path ${dir}/${name}-fastcgi;
  uwsgi_temp_path ${dir}/${name}-uwsgi;
  scgi_temp_path ${dir}/${name}-scgi;
  keepalive_requests 1000000;
${http}
}
`,
  );
  return spawn(NGINX, ['-c', conf, '-e', join(dir, `${name}.error.log`)], { stdio: 'inherit' });
}

interface Result {
  rps: number;
  p99Ms: number;
  /** CPU time the proxy process spent per request (user + system), robust to other load on the machine. */
  cpuUsPerReq: number;
}

/** User + system CPU seconds a process has used so far (/proc/PID/stat, in clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The worker of an NGINX master (its only child). */
function nginxWorker(master: number): number {
  return Number(readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/)[0]);
}

/** The processes of a k8ts server's ingress: the server and the NGINX it runs (when it does). */
function k8tsProcesses(serverPid: number, dataDir: string): number[] {
  let master: number;
  try {
    master = Number(readFileSync(join(dataDir, 'ingress-nginx', 'nginx.pid'), 'utf8').trim());
  } catch {
    return [serverPid];
  }
  const children = readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  return [serverPid, master, ...children.map(Number)];
}

const cpuOf = (pids: number[]) => pids.reduce((n, pid) => n + cpuSeconds(pid), 0);

/** wrk's Requests/sec and 99th percentile latency (--latency); CPU per request of `pids` together. */
function wrk(url: string, pids: number[], seconds = SECONDS): Result {
  const cpu0 = cpuOf(pids);
  const out = execFileSync(
    'wrk',
    ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', `Host: ${HOST}`, url],
    { encoding: 'utf8' },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const m = /\s99%\s+([\d.]+)(us|ms|s)\b/.exec(out);
  const unit = { us: 0.001, ms: 1, s: 1000 } as const;
  const p99Ms = m ? Number(m[1]) * unit[m[2] as keyof typeof unit] : NaN;
  if (/Non-2xx or 3xx responses/.test(out) || !rps) throw new Error(`wrk ${url}: bad run\n${out}`);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const cpuUsPerReq = Number((((cpuOf(pids) - cpu0) * 1e6) / requests).toFixed(1));
  return { rps, p99Ms, cpuUsPerReq };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const { startCluster, until } = await import('../test/e2e/harness.js');
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-bench-ingress-'));
  const cert = await selfSignedCertificate(HOST);
  writeFileSync(join(dir, 'tls.crt'), cert.cert);
  writeFileSync(join(dir, 'tls.key'), cert.key);
  const [backendPort, nginxHttp, nginxHttps, ingHttp, ingHttps, jsHttp, jsHttps] = await Promise.all(
    Array.from({ length: 7 }, () => freePort()),
  );
  const procs: ChildProcess[] = [];
  procs.push(
    nginx(dir, 'backend', `  server { listen 127.0.0.1:${backendPort}; location / { return 200 "ok\\n"; } }`),
    nginx(
      dir,
      'proxy',
      `  upstream backend { server 127.0.0.1:${backendPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${nginxHttp};
    listen 127.0.0.1:${nginxHttps} ssl http2;
    server_name ${HOST};
    ssl_certificate ${dir}/tls.crt;
    ssl_certificate_key ${dir}/tls.key;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Real-IP $remote_addr;
    }
  }`,
    ),
  );
  const ingressArgs = (http: number, https: number) => [
    '--ingress-http-port',
    String(http),
    '--ingress-https-port',
    String(https),
    '--ingress-bind-address',
    '127.0.0.1',
  ];
  const nodeArgs = CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : [];
  const tlsArgs = process.env.INGRESS_NGINX_TLS ? ['--ingress-nginx-tls', process.env.INGRESS_NGINX_TLS] : [];
  const c = await startCluster({ nodeArgs, args: [...ingressArgs(ingHttp, ingHttps), ...tlsArgs] });
  const wantBuiltin = !TARGETS || TARGETS.some((t) => t.startsWith('builtin'));
  const builtin = wantBuiltin
    ? await startCluster({ nodeArgs, args: [...ingressArgs(jsHttp, jsHttps), '--ingress-data-plane', 'builtin'] })
    : undefined;
  try {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    for (const cluster of builtin ? [c, builtin] : [c])
      await cluster.k(
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'List',
          items: [
            {
              apiVersion: 'v1',
              kind: 'Service',
              metadata: { name: 'backend' },
              spec: { ports: [{ name: 'http', port: 80, targetPort: backendPort }] },
            },
            {
              apiVersion: 'discovery.k8s.io/v1',
              kind: 'EndpointSlice',
              metadata: { name: 'backend-1', labels: { 'kubernetes.io/service-name': 'backend' } },
              addressType: 'IPv4',
              endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
              ports: [{ name: 'http', port: backendPort, protocol: 'TCP' }],
            },
            {
              apiVersion: 'v1',
              kind: 'Secret',
              metadata: { name: 'bench-tls' },
              type: 'kubernetes.io/tls',
              data: { 'tls.crt': b64(cert.cert), 'tls.key': b64(cert.key) },
            },
            {
              apiVersion: 'networking.k8s.io/v1',
              kind: 'Ingress',
              metadata: { name: 'bench', annotations: { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' } },
              spec: {
                tls: [{ hosts: [HOST], secretName: 'bench-tls' }],
                rules: [
                  {
                    host: HOST,
                    http: {
                      paths: [
                        {
                          path: '/',
                          pathType: 'Prefix',
                          backend: { service: { name: 'backend', port: { number: 80 } } },
                        },
                      ],
                    },
                  },
                ],
              },
            },
          ],
        }),
      );
    const answers = (url: string) =>
      new Promise<boolean>((resolve) => {
        const req = httpGet(url, { headers: { host: HOST }, timeout: 2000 }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        req.on('timeout', () => req.destroy());
        req.on('error', () => resolve(false));
      });
    await until('NGINX listens', async () => (await portOpen(nginxHttp)) && (await portOpen(nginxHttps)), 30_000);
    await until('the ingress serves the route', () => answers(`http://127.0.0.1:${ingHttp}/`), 60_000);
    if (builtin)
      await until('the builtin ingress serves the route', () => answers(`http://127.0.0.1:${jsHttp}/`), 60_000);
    const targets: Record<string, string> = {
      'nginx http': `http://127.0.0.1:${nginxHttp}/`,
      'k8ts http': `http://127.0.0.1:${ingHttp}/`,
      'builtin http': `http://127.0.0.1:${jsHttp}/`,
      'nginx https': `https://127.0.0.1:${nginxHttps}/`,
      'k8ts https': `https://127.0.0.1:${ingHttps}/`,
      'builtin https': `https://127.0.0.1:${jsHttps}/`,
    };
    if (!builtin) for (const k of Object.keys(targets)) if (k.startsWith('builtin')) delete targets[k];
    const pidsOf = (name: string): number[] =>
      name.startsWith('nginx')
        ? [nginxWorker(procs[1].pid ?? 0)]
        : name.startsWith('k8ts')
          ? k8tsProcesses(c.proc.pid ?? 0, c.dataDir)
          : [builtin?.proc.pid ?? 0];
    // Unmeasured first: the server's JIT warms up and its own start-up work (controllers syncing)
    // is over, else the first round measures them rather than the proxy.
    for (const [name, url] of Object.entries(targets)) {
      if (TARGETS && !TARGETS.includes(name)) continue;
      wrk(url, pidsOf(name), WARMUP_SECONDS);
    }
    const runs = new Map<string, Result[]>();
    const load = loadavg()[0];
    for (let round = 0; round < ROUNDS; round++)
      for (const [name, url] of Object.entries(targets)) {
        if (TARGETS && !TARGETS.includes(name)) continue;
        const r = wrk(url, pidsOf(name));
        runs.set(name, [...(runs.get(name) ?? []), r]);
        console.error(
          `round ${round + 1} ${name}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99Ms.toFixed(2)} ms, ${r.cpuUsPerReq} µs CPU/req`,
        );
      }
    const summary: Record<string, Result> = {};
    for (const [name, rs] of runs)
      summary[name] = {
        rps: Math.round(median(rs.map((r) => r.rps))),
        p99Ms: median(rs.map((r) => r.p99Ms)),
        cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq)),
      };
    const ratio = (proto: string, who = 'k8ts') =>
      summary[`${who} ${proto}`] &&
      summary[`nginx ${proto}`] && {
        rpsRatio: Number((summary[`${who} ${proto}`].rps / summary[`nginx ${proto}`].rps).toFixed(2)),
        p99Ratio: Number((summary[`${who} ${proto}`].p99Ms / summary[`nginx ${proto}`].p99Ms).toFixed(2)),
        cpuRatio: Number((summary[`${who} ${proto}`].cpuUsPerReq / summary[`nginx ${proto}`].cpuUsPerReq).toFixed(2)),
      };
    console.log(
      JSON.stringify({
        connections: CONNECTIONS,
        seconds: SECONDS,
        rounds: ROUNDS,
        loadAvgAtStart: load.toFixed(1),
        loadAvgAtEnd: loadavg()[0].toFixed(1),
        ...summary,
        http: ratio('http'),
        https: ratio('https'),
        builtinHttp: ratio('http', 'builtin'),
        builtinHttps: ratio('https', 'builtin'),
      }),
    );
  } finally {
    for (const p of procs) p.kill('SIGQUIT');
    // --cpu-prof writes its profile on a clean exit only.
    if (CPU_PROF) await c.stop('SIGTERM');
    await c.cleanup();
    await builtin?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
