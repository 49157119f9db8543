// A huge but valid ReplicaSet on a server with a small heap: the controller creates pods until the
// heap guard refuses new objects with a 429, and the server stays up and usable (reads, updates,
// deletes); scaled back down, its pods go and creates are accepted again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, until, type Cluster } from './harness.js';
import { rawClient } from './rawclient.js';

let c: Cluster | undefined;
after(async () => c?.cleanup());

const replicaSet = (replicas: number) => ({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: { name: 'huge', namespace: 'default' },
  spec: {
    replicas,
    selector: { matchLabels: { app: 'huge' } },
    template: {
      metadata: { labels: { app: 'huge' } },
      // Some bulk per pod, so the small heap fills in seconds.
      spec: { containers: [{ name: 'c', image: 'busybox', env: envOf(40) }] },
    },
  },
});

function envOf(n: number) {
  return Array.from({ length: n }, (_, i) => ({ name: `VARIABLE_${i}`, value: 'x'.repeat(200) }));
}

test('replicas 2147483647 fills the heap to the guard, not past it; the server stays usable', async () => {
  c = await startCluster({ nodeArgs: ['--max-old-space-size=512'] });
  const raw = rawClient(c.kubeconfig);
  const rs = await raw.json('POST', '/apis/apps/v1/namespaces/default/replicasets', replicaSet(2147483647));
  assert.equal(rs.status, 201, JSON.stringify(rs.body));

  const configMap = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } });
  let refused: Awaited<ReturnType<typeof raw.json>> | undefined;
  let i = 0;
  await until(
    'a create refused for memory',
    async () => {
      const r = await raw.json('POST', '/api/v1/namespaces/default/configmaps', configMap(`probe-${i++}`));
      if (r.status === 429) refused = r;
      return !!refused;
    },
    150_000,
    500,
  );
  assert.match(refused!.body.message, /low on memory/);
  assert.equal(refused!.body.reason, 'TooManyRequests');
  assert.equal(refused!.headers['retry-after'], '5');
  assert.equal(c.proc.exitCode, null, 'the server is running');

  // Reads and updates go on under pressure.
  assert.equal((await raw.request('GET', '/readyz')).status, 200);
  const pods = await raw.json('GET', '/api/v1/namespaces/default/pods?limit=1');
  assert.equal(pods.status, 200);
  const created = Number(pods.body.metadata.remainingItemCount ?? 0) + pods.body.items.length;
  assert.ok(created > 100, `pods were created before the guard stopped them (${created})`);
  const scaled = await raw.json(
    'PATCH',
    '/apis/apps/v1/namespaces/default/replicasets/huge/scale',
    { spec: { replicas: 0 } },
    { 'content-type': 'application/merge-patch+json' },
  );
  assert.equal(scaled.status, 200, JSON.stringify(scaled.body));

  // The pods go (thousands of deletions: minutes on a loaded machine)...
  await until(
    'every pod deleted',
    async () => {
      const left = await raw.json('GET', '/api/v1/namespaces/default/pods?limit=1');
      return left.status === 200 && left.body.items.length === 0;
    },
    300_000,
    2000,
  );
  // ...and with them the pressure, once the history they left behind has aged out (half a minute
  // while the guard is engaged) and a full collection has run.
  await until(
    'creates accepted again',
    async () => {
      const r = await raw.json('POST', '/api/v1/namespaces/default/configmaps', configMap(`after-${i++}`));
      return r.status === 201;
    },
    120_000,
    1000,
  );
  assert.equal(c.proc.exitCode, null, 'the server is running');
});
