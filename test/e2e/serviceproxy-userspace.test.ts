// The userspace proxy mode with real containers: ClusterIPs redirected to the agent's listeners
// answer from the host and from pods; the sh scheduler pins a client, rr spreads; a NodePort is
// bound by the agent itself; `k8ts killall` removes the redirect table.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  importTestImages,
  startCluster,
  until,
  type Cluster,
  waitForReadyNode,
  createWebDeployment,
  serviceNetworkingUnavailable,
} from './harness.js';
import { proxyTableName } from '../../src/proxy/index.js';

const skip = serviceNetworkingUnavailable();
let c: Cluster;

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

const svcJSON = async (name: string) => JSON.parse(await c.k(['get', 'svc', name, '-o', 'json']));

before(async () => {
  if (skip) return;
  c = await startCluster({ agent: true, args: ['--proxy-mode', 'userspace'] });
  await waitForReadyNode(c);
  await importTestImages(c, ['busybox', 'httpd']);
  await createWebDeployment(c, 3, 'hostname');
  await c.k(['expose', 'deploy', 'web', '--port', '80', '--target-port', '8080', '--type', 'NodePort']);
  await c.k(['expose', 'deploy', 'web', '--name', 'web-sh', '--port', '80', '--target-port', '8080']);
  await c.k(['annotate', 'svc', 'web-sh', 'k8ts.io/lb-scheduler=sh']);
  await c.k(['run', 'client', '--image=k8ts.local/busybox:1.35', '--restart=Never', '--', 'sleep', '3600']);
  await c.k(['rollout', 'status', 'deploy/web', '--timeout=120s']);
  await c.k(['wait', '--for=condition=Ready', 'pod/client', '--timeout=120s']);
});

after(async () => {
  if (c) await c.cleanup();
});

test(
  'userspace: the ClusterIP answers from the host (rr spreads) and from a pod',
  { skip, timeout: 120_000 },
  async () => {
    const ip = (await svcJSON('web')).spec.clusterIP;
    const seen = new Set<string>();
    for (let i = 0; i < 9; i++)
      seen.add(await until('an answer from the ClusterIP', () => get(`http://${ip}/`), 30_000));
    assert.equal(seen.size, 3, [...seen].join(', '));
    assert.match(await c.k(['exec', 'client', '--', 'wget', '-qO-', `http://${ip}/`]), /^web-/);
  },
);

test(
  'userspace: the sh scheduler pins a client; the NodePort answers on the node address',
  { skip, timeout: 120_000 },
  async () => {
    const ip = (await svcJSON('web-sh')).spec.clusterIP;
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++)
      seen.add(await until('an answer from the sh service', () => get(`http://${ip}/`), 30_000));
    assert.equal(seen.size, 1, [...seen].join(', '));
    const node = JSON.parse(await c.k(['get', 'nodes', '-o', 'json'])).items[0];
    const nodeIP = node.status.addresses.find((a: any) => a.type === 'InternalIP').address;
    const nodePort = (await svcJSON('web')).spec.ports[0].nodePort;
    assert.match(await until('an answer on the NodePort', () => get(`http://${nodeIP}:${nodePort}/`), 30_000), /^web-/);
  },
);

test('userspace: killall removes the redirect table', { skip, timeout: 120_000 }, async () => {
  const table = proxyTableName(join(c.dataDir, 'agent'), false);
  assert.match(spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout, new RegExp(`table ip ${table}\\b`));
  await c.cleanup();
  assert.doesNotMatch(
    spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout,
    new RegExp(`table ip ${table}\\b`),
  );
  c = undefined as unknown as Cluster;
});
