// HA benchmark: ConfigMap creates (1 KiB payload, BENCH_CONCURRENCY in flight) through one
// server on managed etcd, then with three servers (etcd of three members) through one server and
// spread over all three; then the failover: one server killed with -9, time until a create
// through another succeeds. Servers on 198.18.13.1-3 (test/e2e/haservers.ts; needs root).
import { Pool } from 'undici';
import { HaServers, addLocalAddresses, removeLocalAddresses } from '../test/e2e/haservers.js';
import type { Cluster } from '../test/e2e/harness.js';
import { clientTLS, pct, pick } from './common.js';

const IPS = ['198.18.13.1', '198.18.13.2', '198.18.13.3'];
const OPS = pick('BENCH_OPS', 3000, 600);
const INFLIGHT = pick('BENCH_CONCURRENCY', 32, 16);
const payload = 'x'.repeat(1024);

const pools = new Map<Cluster, Pool>();
function poolOf(c: Cluster): Pool {
  let p = pools.get(c);
  if (!p) {
    const tls = clientTLS(c.kubeconfig);
    p = new Pool(c.url, { connections: INFLIGHT, connect: { ...tls } });
    pools.set(c, p);
  }
  return p;
}

async function create(c: Cluster, name: string): Promise<number> {
  const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { payload } });
  const res = await poolOf(c).request({
    method: 'POST',
    path: '/api/v1/namespaces/default/configmaps',
    headers: { 'content-type': 'application/json' },
    body,
  });
  await res.body.text();
  return res.statusCode;
}

/** Creates OPS ConfigMaps, request i through servers[i % n]: ops/s and latency percentiles. */
async function phase(label: string, servers: Cluster[], ops = OPS) {
  const lat: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      for (let i = next++; i < ops; i = next++) {
        const t0 = performance.now();
        const code = await create(servers[i % servers.length], `${label}-${i}`);
        if (code !== 201) throw new Error(`${label}: create answered ${code}`);
        lat.push(performance.now() - t0);
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  const row = {
    phase: label,
    ops,
    opsPerSec: Math.round(ops / secs),
    p50ms: pct(lat, 0.5),
    p99ms: pct(lat, 0.99),
  };
  console.log(JSON.stringify({ ...row, p50ms: +row.p50ms.toFixed(1), p99ms: +row.p99ms.toFixed(1) }));
}

const why = await addLocalAddresses(IPS);
if (why) throw new Error(why);
const ha = new HaServers();
try {
  const a = await ha.start(IPS[0]);
  // A warm-up first (JIT, the controllers' start), so the first measured phase is not penalised.
  await phase('warm-up', [a], Math.ceil(OPS / 3));
  await phase('one-server', [a]);
  const b = await ha.start(IPS[1], a);
  const c = await ha.start(IPS[2], a);
  await phase('three-servers-via-one', [a]);
  await phase('three-servers-spread', [a, b, c]);
  // Failover: A killed; first create answered 201 through B (its etcd member keeps running, as
  // after a crash of the k8ts process; the agent side is measured by etcdha-failover.test.ts).
  await a.stop('SIGKILL');
  const killed = performance.now();
  for (let i = 0; ; i++) {
    const code = await create(b, `after-kill-${i}`).catch(() => 0);
    if (code === 201) break;
  }
  console.log(JSON.stringify({ phase: 'failover-first-write-via-B', ms: +(performance.now() - killed).toFixed(1) }));
} finally {
  for (const p of pools.values()) await p.close().catch(() => undefined);
  await ha.cleanup();
  await removeLocalAddresses(IPS);
}
