// Service proxy benchmarks (npm run bench:proxy; root, with nft, iptables-restore and wrk):
//  1. Rule programming: PROXY_SERVICES Services × PROXY_ENDPOINTS endpoints (default 10,000 × 10)
//     programmed from scratch, then PROXY_CHANGES EndpointSlice changes (one endpoint of one
//     Service replaced), each timed from the changed objects to `nft -f`/`iptables-restore`
//     returning (the rules are then live in the kernel). The path measured is the proxier's own:
//     the changed slice given to the ModelTracker, model, render, diff, program; the watch
//     delivering the change to the agent is not included. Addresses are from 198.18.0.0/15 (benchmarking range).
//  2. Data path (PROXY_DATAPATH=0 skips it, PROXY_PROGRAMMING=0 skips part 1): a k8ts server with its agent per mode,
//     two backends each behind a Service (PROXY_BACKENDS, default both): `keepalive`, a node
//     HTTP server that keeps connections open (wrk's requests reuse its 64 connections), and
//     `close`, busybox httpd, which closes every connection (each request a new TCP connection);
//     wrk -c64 against the pod IP directly and against the ClusterIP:
//     a warm-up of each (PROXY_WARMUP_SECONDS), then PROXY_ROUNDS rounds of one run each way
//     (PROXY_WRK_SECONDS), the order alternating; the ratio is the median of the rounds' ratios.
//     CPU per request (wrk's, the server's) is reported too: it holds on a loaded machine.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { loadavg, tmpdir } from 'node:os';
import { cpuSecondsOf, pick, pct } from './common.js';
import { buildModel, ModelTracker } from '../src/proxy/model.js';
import { UserspaceBackend } from '../src/proxy/userspace.js';
import { NftablesBackend } from '../src/proxy/nftbackend.js';
import { IptablesBackend, cleanUpIptables } from '../src/proxy/iptables.js';
import type { ProxyBackend } from '../src/proxy/proxier.js';

const SERVICES = pick('PROXY_SERVICES', 10_000, 1_000);
const ENDPOINTS = pick('PROXY_ENDPOINTS', 10, 10);
const CHANGES = pick('PROXY_CHANGES', 50, 20);
const WRK_SECONDS = pick('PROXY_WRK_SECONDS', 10, 5);
const ROUNDS = pick('PROXY_ROUNDS', 5, 3);
const WARMUP_SECONDS = pick('PROXY_WARMUP_SECONDS', 3, 2);

const ip = (n: number) => `198.${18 + ((n >> 16) & 1)}.${(n >> 8) & 255}.${n & 255}`;

function objects(): { services: Service[]; slices: EndpointSlice[] } {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const name = `svc-${i}`;
    services.push({
      metadata: { name, namespace: 'bench' },
      spec: { clusterIP: ip(i), ports: [{ name: 'http', port: 80 }] },
    });
    slices.push(slice(name, i, 0));
  }
  return { services, slices };
}

/** The slice of Service `i`; `generation` shifts its endpoint addresses (a rollout). */
function slice(name: string, i: number, generation: number): EndpointSlice {
  const endpoints = Array.from({ length: ENDPOINTS }, (_, j) => ({
    addresses: [ip(65_536 + ((i * ENDPOINTS + j + generation) % 65_536))],
    conditions: { ready: true },
    nodeName: 'bench',
  }));
  return {
    metadata: { name: `${name}-x`, namespace: 'bench', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080 }],
    endpoints,
  };
}

async function programming(
  mode: string,
  backend: ProxyBackend,
  cleanup: () => Promise<void> | void,
): Promise<Record<string, number>> {
  const { services, slices } = objects();
  const model = new ModelTracker({ nodeName: 'bench', defaultScheduler: 'rr' });
  try {
    let t = performance.now();
    for (const s of services) model.setService(s);
    for (const s of slices) model.setSlice(s);
    await backend.sync(model.ports());
    const full = performance.now() - t;
    const delays: number[] = [];
    for (let c = 1; c <= CHANGES; c++) {
      const i = Math.floor(Math.random() * SERVICES);
      const changed = slice(`svc-${i}`, i, c);
      t = performance.now();
      model.setSlice(changed);
      await backend.sync(model.ports());
      delays.push(performance.now() - t);
    }
    delays.sort((a, b) => a - b);
    const r = { fullMs: Math.round(full), p50Ms: Math.round(pct(delays, 0.5)), p99Ms: Math.round(pct(delays, 0.99)) };
    console.log(
      `${mode}: ${SERVICES} services x ${ENDPOINTS} endpoints programmed in ${r.fullMs} ms; EndpointSlice change -> live p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms (${CHANGES} changes)`,
    );
    return r;
  } finally {
    await cleanup();
  }
}

interface WrkRun {
  rps: number;
  requests: number;
  p99Ms: number;
  /** wrk's own CPU (user + system), which includes the kernel's work on its connections. */
  wrkCpuS: number;
  /** The k8ts server's CPU meanwhile (its agent runs the userspace proxy in that process). */
  serverCpuS: number;
  /** wrk's socket errors (connect, read, write, timeout), summed. */
  errors: number;
}

const toMs = (v: string, unit: string) => Number(v) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? NaN);

/** One wrk run; bash's `times` gives wrk's CPU (the children's line). */
function wrk(url: string, seconds: number, serverPid: number): WrkRun {
  const cpu0 = cpuSecondsOf(serverPid);
  const r = spawnSync('bash', ['-c', `wrk -t2 -c64 -d${seconds}s --latency "$1"; times`, 'wrk', url], {
    encoding: 'utf8',
  });
  const serverCpuS = cpuSecondsOf(serverPid) - cpu0;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? NaN);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s|m)\b/.exec(r.stdout);
  const times = [...r.stdout.matchAll(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/g)].at(-1);
  const wrkCpuS = times ? Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4]) : NaN;
  const e = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(r.stdout);
  const errors = e ? e.slice(1).reduce((a, n) => a + Number(n), 0) : 0;
  return { rps, requests, p99Ms: p99 ? toMs(p99[1], p99[2]) : NaN, wrkCpuS, serverCpuS, errors };
}

const median = (xs: number[]) =>
  pct(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
const us = (seconds: number, requests: number) => ((seconds / requests) * 1e6).toFixed(0);

/**
 * ROUNDS paired runs, direct and through the ClusterIP back to back, the order alternating
 * (ABBA...) so a drift in the machine's load falls on both; after a warm-up of each. The ratio
 * reported is the median of the rounds' ratios, with their range and the direct runs' spread.
 */
function compare(mode: string, direct: string, service: string, serverPid: number): void {
  wrk(direct, WARMUP_SECONDS, serverPid);
  wrk(service, WARMUP_SECONDS, serverPid);
  const rounds: { d: WrkRun; s: WrkRun }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    let d: WrkRun, sv: WrkRun;
    if (i % 2 === 0) {
      d = wrk(direct, WRK_SECONDS, serverPid);
      sv = wrk(service, WRK_SECONDS, serverPid);
    } else {
      sv = wrk(service, WRK_SECONDS, serverPid);
      d = wrk(direct, WRK_SECONDS, serverPid);
    }
    rounds.push({ d, s: sv });
    console.log(
      `${mode}: round ${i + 1}: pod IP ${d.rps.toFixed(0)} req/s (p99 ${d.p99Ms.toFixed(1)} ms, wrk CPU ${us(d.wrkCpuS, d.requests)} µs/req, ${d.errors} socket errors); ClusterIP ${sv.rps.toFixed(0)} req/s (p99 ${sv.p99Ms.toFixed(1)} ms, wrk CPU ${us(sv.wrkCpuS, sv.requests)} µs/req, server CPU ${us(sv.serverCpuS, sv.requests)} µs/req, ${sv.errors} socket errors); ratio ${(sv.rps / d.rps).toFixed(2)}`,
    );
  }
  const ratios = rounds.map((r) => r.s.rps / r.d.rps);
  const directRps = rounds.map((r) => r.d.rps);
  const spread = (Math.max(...directRps) - Math.min(...directRps)) / median(directRps);
  const sum = (f: (r: { d: WrkRun; s: WrkRun }) => number) => rounds.reduce((a, r) => a + f(r), 0);
  console.log(
    `${mode}: wrk c=64, ${ROUNDS} rounds × ${WRK_SECONDS}s each way: pod IP median ${median(directRps).toFixed(0)} req/s (p99 ${median(rounds.map((r) => r.d.p99Ms)).toFixed(1)} ms; spread of the direct runs ${(spread * 100).toFixed(0)}%), ClusterIP median ${median(rounds.map((r) => r.s.rps)).toFixed(0)} req/s (p99 ${median(rounds.map((r) => r.s.p99Ms)).toFixed(1)} ms); ratio median ${median(ratios).toFixed(2)} (rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
  );
  console.log(
    `${mode}: CPU per request: wrk ${us(
      sum((r) => r.d.wrkCpuS),
      sum((r) => r.d.requests),
    )} µs direct vs ${us(
      sum((r) => r.s.wrkCpuS),
      sum((r) => r.s.requests),
    )} µs via the ClusterIP; k8ts server ${us(
      sum((r) => r.d.serverCpuS),
      sum((r) => r.d.requests),
    )} µs direct vs ${us(
      sum((r) => r.s.serverCpuS),
      sum((r) => r.s.requests),
    )} µs via the ClusterIP; load average ${loadavg()[0].toFixed(1)}`,
  );
}

/** The keep-alive backend: node's HTTP server (keep-alive by default), exiting on SIGTERM as PID 1. */
const KEEPALIVE_SERVER =
  "process.on('SIGTERM', () => process.exit(0)); require('http').createServer((q, s) => s.end('ok\\n')).listen(8080)";
const BACKENDS = (process.env.PROXY_BACKENDS ?? 'keepalive,close').split(',');

async function dataPath(mode: string): Promise<void> {
  const { startCluster, importTestImages, until, createWebDeployment, waitForReadyNode } =
    await import('../test/e2e/harness.js');
  const c = await startCluster({ agent: true, args: ['--proxy-mode', mode] });
  try {
    await waitForReadyNode(c);
    await importTestImages(c, ['httpd', 'node']);
    // Deployment `web` (busybox httpd, closes) and `echo` (node, keep-alive), each with a Service.
    await createWebDeployment(c, 1, 'echo ok');
    const echo = ['create', 'deployment', 'echo', '--image=k8ts.local/node:20', '--port=8080', '--'];
    await c.k([...echo, 'node', '-e', KEEPALIVE_SERVER]);
    for (const name of ['web', 'echo']) {
      await c.k(['expose', 'deploy', name, '--port', '80', '--target-port', '8080']);
      await c.k(['rollout', 'status', `deploy/${name}`, '--timeout=120s']);
    }
    const addresses = async (name: string) => {
      const clusterIP = (await c.k(['get', 'svc', name, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
      const podIP = (await c.k(['get', 'pods', '-l', `app=${name}`, '-o', 'jsonpath={.items[0].status.podIP}'])).trim();
      await until(
        `the ClusterIP of ${name} answers`,
        () => spawnSync('wget', ['-qO/dev/null', '-T', '2', `http://${clusterIP}/`]).status === 0,
        30_000,
        500,
      );
      return { direct: `http://${podIP}:8080/`, service: `http://${clusterIP}/` };
    };
    for (const [backend, name, label] of [
      ['keepalive', 'echo', 'keep-alive'],
      ['close', 'web', 'a connection per request'],
    ] as const) {
      if (!BACKENDS.includes(backend)) continue;
      const { direct, service } = await addresses(name);
      compare(`${mode}, ${label}`, direct, service, c.proc.pid!);
    }
  } finally {
    await c.cleanup();
  }
}

/**
 * The userspace proxy alone, in this process, without a cluster: `busybox httpd` on 127.0.0.1 as
 * the one backend (it closes every connection, like the pod's), wrk through the proxy's listener,
 * and this process's CPU time per proxied connection (user + system: the proxy's JavaScript and
 * the kernel work of its accept, connect, reads and writes). CPU per connection holds on a loaded
 * machine where requests/s do not.
 */
async function userspaceAlone(): Promise<void> {
  const { freePort } = await import('../test/support/ports.js');
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-bench-httpd-'));
  writeFileSync(join(dir, 'index.html'), 'ok\n');
  const port = await freePort();
  const httpd = spawn('busybox', ['httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', dir], { stdio: 'ignore' });
  const backend = new UserspaceBackend('unused', pino({ level: 'silent' }), false);
  try {
    await backend.sync(
      buildModel(
        [{ metadata: { name: 'web', namespace: 'bench' }, spec: { clusterIP: '10.43.0.99', ports: [{ port: 80 }] } }],
        [
          {
            metadata: { name: 'web-x', namespace: 'bench', labels: { 'kubernetes.io/service-name': 'web' } },
            addressType: 'IPv4',
            ports: [{ port }],
            endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
          },
        ],
        { nodeName: 'bench', defaultScheduler: 'rr' },
      ),
    );
    const listener = backend.listenerPort('bench/web:')!;
    await new Promise((r) => setTimeout(r, 300));
    const run = async (url: string, seconds: number) => {
      const cpu0 = process.cpuUsage();
      const child = spawn('wrk', ['-t2', '-c64', `-d${seconds}s`, url], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.on('data', (d) => (out += String(d)));
      await new Promise((r) => child.on('close', r));
      const cpu = process.cpuUsage(cpu0);
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
      return { requests, rps, cpuUs: (cpu.user + cpu.system) / requests };
    };
    await run(`http://127.0.0.1:${listener}/`, WARMUP_SECONDS);
    const perConn: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const direct = await run(`http://127.0.0.1:${port}/`, WRK_SECONDS);
      const proxied = await run(`http://127.0.0.1:${listener}/`, WRK_SECONDS);
      perConn.push(proxied.cpuUs);
      console.log(
        `userspace alone: round ${i + 1}: httpd directly ${direct.rps.toFixed(0)} req/s; through the proxy ${proxied.rps.toFixed(0)} req/s, proxy CPU ${proxied.cpuUs.toFixed(1)} µs per connection`,
      );
    }
    console.log(
      `userspace alone: proxy CPU per proxied connection, median of ${ROUNDS} rounds: ${median(perConn).toFixed(1)} µs (rounds ${Math.min(...perConn).toFixed(1)}–${Math.max(...perConn).toFixed(1)}); load average ${loadavg()[0].toFixed(1)}`,
    );
  } finally {
    await backend.stop();
    httpd.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  // PROXY_ALONE=1: only the userspace proxy alone (CPU per proxied connection; no root, no cluster).
  if (process.env.PROXY_ALONE === '1') return userspaceAlone();
  if (process.getuid?.() !== 0) throw new Error('bench:proxy programs kernel rules: run it as root');
  // PROXY_MODES=nftables (for example) measures the modes named only.
  const modes = (process.env.PROXY_MODES ?? 'nftables,iptables,userspace').split(',');
  if (process.env.PROXY_PROGRAMMING !== '0') {
    if (modes.includes('nftables')) {
      const table = `k8tsbench${process.pid % 10000}`;
      const nftBackend = new NftablesBackend({ table, clusterCIDR: '10.42.0.0/16' });
      await programming('nftables', nftBackend, () => nftBackend.cleanup());
    }
    if (modes.includes('iptables')) {
      const prefix = `K8TSB${process.pid % 10000}`;
      await programming('iptables', new IptablesBackend({ prefix, clusterCIDR: '10.42.0.0/16' }), () =>
        cleanUpIptables(prefix),
      );
    }
  }
  if (process.env.PROXY_DATAPATH !== '0' && modes.includes('userspace')) await userspaceAlone();
  if (process.env.PROXY_DATAPATH !== '0')
    for (const mode of ['nftables', 'iptables', 'userspace']) if (modes.includes(mode)) await dataPath(mode);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
