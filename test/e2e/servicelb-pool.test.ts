// LoadBalancer addresses from --lb-address-pool (MetalLB layer 2), real containers: a Service gets
// the pool's first address as EXTERNAL-IP, the node (the only candidate, it has the endpoint) adds
// it to its interface and the service proxy answers HTTP there from the host; the next Service gets
// the next address; deleting a Service frees its address (withdrawn from the host, handed out again);
// an exhausted pool leaves a Service pending with a Warning AllocationFailed; after cleanup
// (`k8ts killall`) no pool address is left on the host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { spawnSync } from 'node:child_process';
import {
  importTestImages,
  realContainersUnavailable,
  startCluster,
  until,
  type Cluster,
  waitForReadyNode,
  createWebDeployment,
} from './harness.js';

const skip =
  realContainersUnavailable() ??
  (spawnSync('sh', ['-c', 'command -v nft && command -v ip'], { stdio: 'ignore' }).status !== 0
    ? 'nft or ip is not installed'
    : undefined);
// A random /29 so concurrent clusters on this host never share addresses: .1 to .6 are handed out.
const X = 1 + Math.floor(Math.random() * 250);
const pool = (n: number) => `10.250.${X}.${n}`;
let c: Cluster;

function get(url: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** The host's addresses in the pool. */
const hostPoolAddresses = () =>
  (spawnSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' }).stdout ?? '')
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[3]?.split('/')[0] ?? '')
    .filter((a) => a.startsWith(`10.250.${X}.`))
    .sort();

const externalIP = async (name: string) => {
  const row = (await c.k(['get', 'svc', name, '--no-headers'])).trim().split(/\s+/);
  return row[3] !== '<pending>' && row[3];
};

const lb = (name: string) =>
  c.k(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name },
      spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
    }),
  );

before(async () => {
  if (skip) return;
  c = await startCluster({ agent: true, args: ['--lb-address-pool', `10.250.${X}.0/29`] });
  await waitForReadyNode(c);
  await importTestImages(c, ['httpd']);
  await createWebDeployment(c, 1, 'echo pool-ok');
  await c.k(['rollout', 'status', 'deploy/web', '--timeout=120s']);
});

after(async () => {
  if (!c) return;
  await c.cleanup();
  assert.deepEqual(hostPoolAddresses(), [], 'killall removes the announced addresses');
});

test(
  'pool addresses: allocated in order, announced and answering, freed on delete, exhaustion reported',
  {
    skip,
    timeout: 180_000,
  },
  async () => {
    await lb('lb1');
    assert.equal(await until('an EXTERNAL-IP for lb1', () => externalIP('lb1'), 30_000, 300), pool(1));
    await until('the address on the host', () => hostPoolAddresses().includes(pool(1)), 20_000, 300);
    assert.equal(await until('an answer on the pool address', () => get(`http://${pool(1)}/`), 20_000), 'pool-ok');

    await lb('lb2');
    assert.equal(await until('an EXTERNAL-IP for lb2', () => externalIP('lb2'), 30_000, 300), pool(2));
    assert.equal(await until('an answer on the second address', () => get(`http://${pool(2)}/`), 20_000), 'pool-ok');

    // Deleting lb1 withdraws its address and frees it for the next Service.
    await c.k(['delete', 'svc', 'lb1']);
    await until('the address withdrawn', () => !hostPoolAddresses().includes(pool(1)), 20_000, 300);
    await lb('lb3');
    assert.equal(await until('an EXTERNAL-IP for lb3', () => externalIP('lb3'), 30_000, 300), pool(1));

    // .3 to .6 are the last four; the next Service finds none.
    for (const n of [4, 5, 6, 7]) await lb(`lb${n}`);
    for (const n of [4, 5, 6, 7]) await until(`an EXTERNAL-IP for lb${n}`, () => externalIP(`lb${n}`), 30_000, 300);
    await lb('lb8');
    const message = await until(
      'an AllocationFailed event',
      async () =>
        (
          await c.k([
            'get',
            'events',
            '--field-selector',
            'involvedObject.name=lb8,reason=AllocationFailed,type=Warning',
            '-o',
            'jsonpath={.items[*].message}',
          ])
        ).trim(),
      30_000,
      300,
    );
    assert.equal(message, 'Failed to allocate IP for "default/lb8": no available IPs');
    assert.equal(await externalIP('lb8'), false, 'lb8 stays pending');
    assert.deepEqual(hostPoolAddresses(), [1, 2, 3, 4, 5, 6].map(pool).sort());
  },
);

test(
  'a restart keeps every address; after a crash, killall removes what the agent added',
  {
    skip,
    timeout: 180_000,
  },
  async () => {
    const before = new Map<string, string | false>();
    for (const n of ['lb2', 'lb3', 'lb7']) before.set(n, await externalIP(n));
    await c.restart();
    await until('the API back', async () => (await c.kubectl(['get', 'svc', 'lb2'])).code === 0, 60_000, 500);
    // Give the controller time to act on every Service again; nothing may move.
    await until('the address announced again', () => hostPoolAddresses().includes(pool(2)), 60_000, 300);
    await new Promise((r) => setTimeout(r, 3_000));
    for (const [n, ip] of before) assert.equal(await externalIP(n), ip, n);
    assert.equal(await until('lb2 answering again', () => get(`http://${pool(2)}/`), 30_000), 'pool-ok');
    // SIGKILL: the agent cannot withdraw; the after hook's killall must.
    await c.stop('SIGKILL');
    assert.ok(hostPoolAddresses().length > 0, 'the addresses outlive a crashed agent');
  },
);
