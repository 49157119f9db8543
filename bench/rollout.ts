// Rollout benchmark: a 1,000-replica Deployment on simulated nodes — time from create to all
// replicas available, and of a full rolling update (25% surge / 25% unavailable) — against a
// reference measured in the same run: the same number of bare pods created straight through the
// API (no controllers), scheduled and made Ready by the same scheduler and simulated nodes.
//
//   npm run build && npm run bench:rollout
//
// Environment (all optional):
//   BENCH_REPLICAS        replicas / bare pods (1000)
//   BENCH_NODES           simulated nodes (50)
//   BENCH_PODS_PER_NODE   pod capacity of each node (40: room for surge and terminating pods)
//   BENCH_CONCURRENCY     creates in flight for the bare-pod reference (50)
//   BENCH_OUT             where the JSON results go (bench/results/rollout.json)
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Client, R } from '../src/client/index.js';
import { startCluster } from '../test/e2e/harness.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 1000);
const NODES = Number(process.env.BENCH_NODES ?? 50);
const PODS_PER_NODE = Number(process.env.BENCH_PODS_PER_NODE ?? 40);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const OUT = process.env.BENCH_OUT ?? resolve(ROOT, 'bench/results/rollout.json');
const PHASE_TIMEOUT_MS = 10 * 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ready = (p: any) => (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');

async function until(what: string, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + PHASE_TIMEOUT_MS;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

async function main(): Promise<void> {
  const cluster = await startCluster({
    args: ['--simulated-nodes', String(NODES), '--sim-pods', String(PODS_PER_NODE)],
  });
  const client = Client.fromKubeconfig(cluster.kubeconfig, { fieldManager: 'bench', timeoutMs: 120_000 });
  const results: Record<string, unknown> = {
    replicas: REPLICAS,
    nodes: NODES,
    podsPerNode: PODS_PER_NODE,
    when: new Date().toISOString(),
  };
  try {
    await until('nodes ready', async () => (await client.resource(R.nodes).list()).items.length >= NODES);

    // Reference: bare pods through the API, scheduled and readied by the same components.
    const ns = 'bench';
    await client.resource(R.namespaces).create({ metadata: { name: ns } });
    const pods = client.resource(R.pods).namespace(ns);
    let t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REPLICAS) {
          const i = next++;
          await pods.create({
            metadata: { name: `bare-${i}`, labels: { app: 'bare' } },
            spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] },
          });
        }
      }),
    );
    await until(
      'bare pods ready',
      async () => (await pods.list({ labelSelector: 'app=bare' })).items.filter(ready).length >= REPLICAS,
    );
    const refMs = performance.now() - t0;
    results.barePodsReadyMs = Math.round(refMs);
    console.log(`reference: ${REPLICAS} bare pods created and Ready in ${(refMs / 1000).toFixed(1)} s`);
    await pods.deleteCollection({ labelSelector: 'app=bare' });
    await until('bare pods gone', async () => (await pods.list({ labelSelector: 'app=bare' })).items.length === 0);

    // A Deployment of REPLICAS: create → all available.
    const deployments = client.resource(R.deployments).namespace(ns);
    const replicasets = client.resource(R.replicasets).namespace(ns);
    const complete = async (image: string) => {
      const d = await deployments.get('web');
      const s = d.status ?? {};
      return (
        s.observedGeneration === d.metadata?.generation &&
        s.updatedReplicas === REPLICAS &&
        s.availableReplicas === REPLICAS &&
        s.replicas === REPLICAS &&
        d.spec?.template.spec?.containers[0].image === image
      );
    };
    t0 = performance.now();
    await deployments.create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: REPLICAS,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] },
        },
      },
    });
    await until('deployment available', () => complete('nginx:1.27'));
    const createMs = performance.now() - t0;
    results.createToAvailableMs = Math.round(createMs);
    console.log(
      `deployment: ${REPLICAS} replicas available ${(createMs / 1000).toFixed(1)} s after create (${(createMs / refMs).toFixed(2)}× bare pods)`,
    );

    // A full rolling update (defaults: maxSurge 25%, maxUnavailable 25%).
    let maxWanted = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const rss = (await replicasets.list()).items;
        maxWanted = Math.max(
          maxWanted,
          rss.reduce((n: number, r: any) => n + (r.spec.replicas ?? 0), 0),
        );
        await sleep(200);
      }
    })();
    t0 = performance.now();
    await deployments.patch('web', 'strategic', {
      spec: { template: { spec: { containers: [{ name: 'nginx', image: 'nginx:1.28' }] } } },
    });
    await until('rolling update complete', () => complete('nginx:1.28'));
    const rollMs = performance.now() - t0;
    polling = false;
    await poller;
    results.rollingUpdateMs = Math.round(rollMs);
    results.maxPodsWantedDuringRollout = maxWanted;
    results.ratioCreateToReference = +(createMs / refMs).toFixed(2);
    results.ratioRolloutToReference = +(rollMs / refMs).toFixed(2);
    console.log(
      `rolling update: ${REPLICAS} replicas replaced in ${(rollMs / 1000).toFixed(1)} s (${(rollMs / refMs).toFixed(2)}× bare pods); at most ${maxWanted} pods wanted (limit ${REPLICAS + Math.ceil(REPLICAS / 4)})`,
    );
  } finally {
    await client.close();
    await cluster.cleanup();
  }
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n');
  console.log(`results: ${OUT}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
