// The service proxy with real containers: a Deployment exposed as a Service answers on its
// ClusterIP from the host and from pods, spreads over its pods, rejects once scaled to zero,
// answers on its NodePort, pins clients with sessionAffinity ClientIP; `k8ts killall` removes
// the nftables table.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  importTestImages,
  run,
  startCluster,
  until,
  K8TS_BIN,
  type Cluster,
  waitForReadyNode,
  createWebDeployment,
  serviceNetworkingUnavailable,
  getOnFreshConnection,
} from './harness.js';
import { proxyTableName } from '../../src/proxy/index.js';

const skip = serviceNetworkingUnavailable();
let c: Cluster;

const get = getOnFreshConnection;

async function failure(url: string): Promise<string> {
  try {
    return `answered: ${await get(url, 3_000)}`;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

const svcJSON = async (name: string) => JSON.parse(await c.k(['get', 'svc', name, '-o', 'json']));

async function readyEndpoints(name: string): Promise<number> {
  const slices = JSON.parse(
    await c.k(['get', 'endpointslices', '-l', `kubernetes.io/service-name=${name}`, '-o', 'json']),
  ).items;
  return slices.flatMap((s: any) => s.endpoints ?? []).filter((e: any) => e.conditions?.ready !== false).length;
}

before(async () => {
  if (skip) return;
  c = await startCluster({ agent: true });
  await waitForReadyNode(c);
  await importTestImages(c, ['busybox', 'httpd']);
  // (busybox wget's -T crashes the static busybox of Debian 12: no timeouts given.)
  // Each pod serves its own name, so answers show which endpoint was chosen.
  await createWebDeployment(c, 3, 'hostname');
  await c.k(['expose', 'deploy', 'web', '--port', '80', '--target-port', '8080']);
  await c.k(['run', 'client', '--image=k8ts.local/busybox:1.35', '--restart=Never', '--', 'sleep', '3600']);
  await until('3 ready endpoints', async () => (await readyEndpoints('web')) === 3, 120_000, 500);
  await c.k(['wait', '--for=condition=Ready', 'pod/client', '--timeout=120s']);
});

after(async () => {
  if (c) await c.cleanup();
});

test(
  'the ClusterIP answers from the host and from a pod, spread over the three pods',
  { skip, timeout: 120_000 },
  async () => {
    const ip = (await svcJSON('web')).spec.clusterIP;
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++)
      seen.add(await until('an answer from the ClusterIP', () => get(`http://${ip}/`), 20_000));
    assert.equal(seen.size, 3, `answers came from ${[...seen].join(', ')}`);
    for (const name of seen) assert.match(name, /^web-/);
    const fromPod = new Set<string>();
    for (let i = 0; i < 12; i++)
      fromPod.add((await c.k(['exec', 'client', '--', 'wget', '-qO-', `http://${ip}/`])).trim());
    assert.ok(fromPod.size >= 2, `a pod reaches the service and sees several endpoints: ${[...fromPod].join(', ')}`);
  },
);

test('a pod reaches itself through its service (hairpin)', { skip, timeout: 60_000 }, async () => {
  const ip = (await svcJSON('web')).spec.clusterIP;
  const pod = JSON.parse(await c.k(['get', 'pods', '-l', 'app=web', '-o', 'json'])).items[0].metadata.name;
  // With three endpoints some requests land on the pod itself; all must be answered.
  for (let i = 0; i < 9; i++) assert.match(await c.k(['exec', pod, '--', 'wget', '-qO-', `http://${ip}/`]), /^web-/);
});

test(
  'a NodePort answers on the node address; sessionAffinity ClientIP pins the client',
  { skip, timeout: 120_000 },
  async () => {
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
    await c.k([
      'expose',
      'deploy',
      'web',
      '--name',
      'web-sticky',
      '--port',
      '80',
      '--target-port',
      '8080',
      '--session-affinity',
      'ClientIP',
    ]);
    const node = JSON.parse(await c.k(['get', 'nodes', '-o', 'json'])).items[0];
    const nodeIP = node.status.addresses.find((a: any) => a.type === 'InternalIP').address;
    const nodePort = (await svcJSON('web-np')).spec.ports[0].nodePort;
    const seen = new Set<string>();
    for (let i = 0; i < 15; i++)
      seen.add(await until('an answer on the NodePort', () => get(`http://${nodeIP}:${nodePort}/`), 20_000));
    assert.ok(seen.size >= 2, `the NodePort spreads: ${[...seen].join(', ')}`);
    const sticky = (await svcJSON('web-sticky')).spec.clusterIP;
    const pinned = new Set<string>();
    for (let i = 0; i < 15; i++)
      pinned.add(await until('an answer from the sticky service', () => get(`http://${sticky}/`), 20_000));
    assert.equal(pinned.size, 1, `one client, one endpoint: ${[...pinned].join(', ')}`);
  },
);

test('scaled to zero, the service rejects at once instead of hanging', { skip, timeout: 120_000 }, async () => {
  const ip = (await svcJSON('web')).spec.clusterIP;
  const nodePort = (await svcJSON('web-np')).spec.ports[0].nodePort;
  const node = JSON.parse(await c.k(['get', 'nodes', '-o', 'json'])).items[0];
  const nodeIP = node.status.addresses.find((a: any) => a.type === 'InternalIP').address;
  await c.k(['scale', 'deploy', 'web', '--replicas=0']);
  await until('no endpoints', async () => (await readyEndpoints('web')) === 0, 60_000, 500);
  const started = Date.now();
  await until('the ClusterIP refuses', async () => (await failure(`http://${ip}/`)) === 'ECONNREFUSED', 10_000, 100);
  assert.ok(Date.now() - started < 5_000);
  assert.equal(await failure(`http://${nodeIP}:${nodePort}/`), 'ECONNREFUSED');
  const fromPod = await c.kubectl(['exec', 'client', '--', 'wget', '-qO-', `http://${ip}/`]);
  assert.notEqual(fromPod.code, 0);
  assert.match(fromPod.stderr + fromPod.stdout, /refused/i);
});

test('k8ts killall removes the service proxy table', { skip, timeout: 120_000 }, async () => {
  const table = proxyTableName(join(c.dataDir, 'agent'), false);
  assert.match(spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout, new RegExp(`table ip ${table}\\b`));
  await c.stop();
  // Rules outlive the agent (pods keep serving), as with k3s; killall removes them.
  assert.match(spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout, new RegExp(`table ip ${table}\\b`));
  const r = await run(process.execPath, [K8TS_BIN, 'killall', '--data-dir', c.dataDir], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(
    spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout,
    new RegExp(`table ip ${table}\\b`),
  );
});
