// Service proxy benchmarks (npm run bench:proxy; root, with nft, iptables-restore and wrk):
//  1. Rule programming: PROXY_SERVICES Services × PROXY_ENDPOINTS endpoints (default 10,000 × 10)
//     programmed from scratch, then PROXY_CHANGES EndpointSlice changes (one endpoint of one
//     Service replaced), each timed from the changed objects to `nft -f`/`iptables-restore`
//     returning (the rules are then live in the kernel). The path measured is the proxier's own:
//     the changed slice given to the ModelTracker, model, render, diff, program; the watch
//     delivering the change to the agent is not included. Addresses are from 198.18.0.0/15 (benchmarking range).
//  2. Data path (PROXY_DATAPATH=0 skips it, PROXY_PROGRAMMING=0 skips part 1): a k8ts server with its agent per mode, one busybox
//     httpd pod behind a Service, wrk -c64 for PROXY_WRK_SECONDS against the ClusterIP and
//     against the pod IP directly.
import { spawnSync } from 'node:child_process';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { pick, pct } from './common.js';
import { ModelTracker } from '../src/proxy/model.js';
import { NftablesBackend } from '../src/proxy/nftbackend.js';
import { IptablesBackend, cleanUpIptables } from '../src/proxy/iptables.js';
import type { ProxyBackend } from '../src/proxy/proxier.js';

const SERVICES = pick('PROXY_SERVICES', 10_000, 1_000);
const ENDPOINTS = pick('PROXY_ENDPOINTS', 10, 10);
const CHANGES = pick('PROXY_CHANGES', 50, 20);
const WRK_SECONDS = pick('PROXY_WRK_SECONDS', 10, 5);

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

function wrk(url: string): { rps: number; p99: string } {
  const r = spawnSync('wrk', ['-t2', '-c64', `-d${WRK_SECONDS}s`, '--latency', url], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN);
  const p99 = /\s99%\s+(\S+)/.exec(r.stdout)?.[1] ?? '?';
  return { rps, p99 };
}

async function dataPath(mode: string): Promise<void> {
  const { startCluster, importTestImages, until, createWebDeployment, waitForReadyNode } =
    await import('../test/e2e/harness.js');
  const c = await startCluster({ agent: true, args: ['--proxy-mode', mode] });
  try {
    await waitForReadyNode(c);
    await importTestImages(c, ['httpd']);
    await createWebDeployment(c, 1, 'echo ok');
    await c.k(['expose', 'deploy', 'web', '--port', '80', '--target-port', '8080']);
    await c.k(['rollout', 'status', 'deploy/web', '--timeout=120s']);
    const clusterIP = (await c.k(['get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const podIP = (await c.k(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].status.podIP}'])).trim();
    await until(
      'the ClusterIP answers',
      () => spawnSync('wget', ['-qO/dev/null', '-T', '2', `http://${clusterIP}/`]).status === 0,
      30_000,
      500,
    );
    const direct = wrk(`http://${podIP}:8080/`);
    const viaService = wrk(`http://${clusterIP}/`);
    console.log(
      `${mode}: wrk c=64 ${WRK_SECONDS}s: pod IP ${direct.rps.toFixed(0)} req/s (p99 ${direct.p99}); ClusterIP ${viaService.rps.toFixed(0)} req/s (p99 ${viaService.p99}); ratio ${(viaService.rps / direct.rps).toFixed(2)}`,
    );
  } finally {
    await c.cleanup();
  }
}

async function main(): Promise<void> {
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
