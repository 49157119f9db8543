// The iptables proxy mode with real containers: traffic from the host and from a pod reaches a
// Deployment through its ClusterIP and its NodePort; the rr scheduler (the default) takes turns
// over the endpoints (the `statistic --mode nth` cascade), sh pins a client (`recent`); after
// `k8ts killall` no chain or jump of the cluster is left in the nat and filter tables.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  importTestImages,
  realContainersUnavailable,
  run,
  startCluster,
  until,
  K8TS_BIN,
  type Cluster,
  waitForReadyNode,
  createWebDeployment,
  getOnFreshConnection,
} from './harness.js';
import type { NodeList, Service } from 'kubernetes-types/core/v1.js';
import { proxyTableName } from '../../src/proxy/index.js';
import { chainPrefix } from '../../src/proxy/iptables.js';

const skip =
  realContainersUnavailable() ??
  (spawnSync('sh', ['-c', 'command -v iptables-restore'], { stdio: 'ignore' }).status !== 0
    ? 'iptables is not installed'
    : undefined);
let c: Cluster;

const get = (url: string, timeoutMs = 20_000) => getOnFreshConnection(url, timeoutMs);

const svcJSON = async (name: string) => JSON.parse(await c.k(['get', 'svc', name, '-o', 'json'])) as Service;
const fromPod = async (url: string) => (await c.k(['exec', 'client', '--', 'wget', '-qO-', url])).trim();

async function nodeAddress(): Promise<string> {
  const nodes = JSON.parse(await c.k(['get', 'nodes', '-o', 'json'])) as NodeList;
  return nodes.items[0].status!.addresses!.find((a) => a.type === 'InternalIP')!.address;
}

/** How many answers came from each endpoint. */
function tally(answers: string[]): number[] {
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
  return [...counts.values()].sort();
}

/** The nat and filter rules that name the cluster's chains. */
function ourRules(prefix: string): string[] {
  return ['nat', 'filter'].flatMap((table) =>
    spawnSync('iptables', ['-w', '5', '-t', table, '-S'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((l) => l.includes(`${prefix}-`)),
  );
}

before(async () => {
  if (skip) return;
  c = await startCluster({ agent: true, args: ['--proxy-mode', 'iptables'] });
  await waitForReadyNode(c);
  await importTestImages(c, ['busybox', 'httpd']);
  // Each pod serves its own name, so answers show which endpoint was chosen.
  await createWebDeployment(c, 3, 'hostname');
  await c.k(['expose', 'deploy', 'web', '--port', '80', '--target-port', '8080']);
  await c.k([
    'expose',
    'deploy',
    'web',
    '--name',
    'web-np',
    '--type',
    'NodePort',
    '--port',
    '80',
    '--target-port',
    '8080',
  ]);
  await c.k(['expose', 'deploy', 'web', '--name', 'web-sh', '--port', '80', '--target-port', '8080']);
  await c.k(['annotate', 'svc', 'web-sh', 'k8ts.io/lb-scheduler=sh']);
  await c.k(['run', 'client', '--image=k8ts.local/busybox:1.35', '--restart=Never', '--', 'sleep', '3600']);
  await c.k(['rollout', 'status', 'deploy/web', '--timeout=180s']);
  await c.k(['wait', '--for=condition=Ready', 'pod/client', '--timeout=180s']);
});

after(async () => {
  if (c) await c.cleanup();
});

test(
  'iptables: the ClusterIP answers from the host and from a pod, rr taking turns over the three pods',
  { skip, timeout: 240_000 },
  async () => {
    const ip = (await svcJSON('web')).spec!.clusterIP!;
    // Until the three endpoints are in the chain (the first answers may come while it has fewer).
    await until(
      'answers from the three pods',
      async () => new Set(await Promise.all([0, 1, 2].map(() => get(`http://${ip}/`)))).size === 3,
      120_000,
      500,
    );
    // Connections one after another: the nth cascade sends them to the endpoints in turn, so nine
    // land three on each (at random that happens one time in twelve).
    const answers: string[] = [];
    for (let i = 0; i < 9; i++) answers.push(await get(`http://${ip}/`));
    for (const a of answers) assert.match(a, /^web-/);
    assert.deepEqual(tally(answers), [3, 3, 3], answers.join(', '));
    const podAnswers: string[] = [];
    for (let i = 0; i < 6; i++) podAnswers.push(await fromPod(`http://${ip}/`));
    assert.deepEqual(tally(podAnswers), [2, 2, 2], `from the pod: ${podAnswers.join(', ')}`);
  },
);

test(
  'iptables: the NodePort answers on the node address, from the host and from a pod',
  { skip, timeout: 240_000 },
  async () => {
    const nodeIP = await nodeAddress();
    const nodePort = (await svcJSON('web-np')).spec!.ports![0].nodePort!;
    const url = `http://${nodeIP}:${nodePort}/`;
    const seen = new Set<string>();
    await until(
      'the NodePort to answer from all three pods',
      async () => {
        seen.add(await get(url));
        return seen.size === 3;
      },
      120_000,
      200,
    );
    assert.match(await fromPod(url), /^web-/);
  },
);

test('iptables: the sh scheduler pins a client to one endpoint', { skip, timeout: 240_000 }, async () => {
  const ip = (await svcJSON('web-sh')).spec!.clusterIP!;
  const first = await until('an answer from the sh service', () => get(`http://${ip}/`), 120_000, 500);
  for (let i = 0; i < 10; i++) assert.equal(await get(`http://${ip}/`), first);
});

test('iptables: k8ts killall removes every chain and jump of the cluster', { skip, timeout: 240_000 }, async () => {
  const prefix = chainPrefix(proxyTableName(join(c.dataDir, 'agent'), false));
  assert.ok(ourRules(prefix).some((l) => l.startsWith(`-A PREROUTING -j ${prefix}-SERVICES`)));
  await c.stop();
  const r = await run(process.execPath, [K8TS_BIN, 'killall', '--data-dir', c.dataDir], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(ourRules(prefix), []);
});
