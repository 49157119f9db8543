// `k8ts server --datastore-endpoint http://…` on an etcd this test starts: kubectl creates, reads
// and deletes a ConfigMap and a Deployment (its pods stay Pending: no agent), etcdctl finds the
// objects where kube-apiserver would have put them, a list at a compacted resourceVersion gets
// 410 Gone, and everything is still there after the server restarts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, run, until, type Cluster } from './harness.js';
import { startEtcd, type TestEtcd } from '../support/etcd.js';

let etcd: TestEtcd;
let cluster: Cluster;

async function etcdKeys(prefix: string): Promise<string[]> {
  const r = await run('etcdctl', ['--endpoints', etcd.endpoint, 'get', '--prefix', prefix, '--keys-only'], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

before(async () => {
  etcd = await startEtcd();
  // A short compaction interval, so the 410 test below need not wait five minutes.
  cluster = await startCluster({
    args: ['--datastore-endpoint', etcd.endpoint, '--etcd-compaction-interval', '2s'],
  });
});

after(async () => {
  await cluster?.cleanup();
  await etcd?.stop();
});

test('a ConfigMap is stored at /registry/configmaps/<namespace>/<name>, resourceVersion = mod revision', async () => {
  await cluster.k(['create', 'configmap', 'settings', '--from-literal=color=blue']);
  const cm = JSON.parse(await cluster.k(['get', 'configmap', 'settings', '-o', 'json'])) as {
    data: Record<string, string>;
    metadata: { resourceVersion: string };
  };
  assert.equal(cm.data.color, 'blue');
  assert.ok((await etcdKeys('/registry/configmaps/')).includes('/registry/configmaps/default/settings'));
  const r = await run(
    'etcdctl',
    ['--endpoints', etcd.endpoint, 'get', '/registry/configmaps/default/settings', '-w', 'json'],
    { env: { ...process.env, ETCDCTL_API: '3' } },
  );
  const got = JSON.parse(r.stdout) as { kvs: { mod_revision: number; value: string }[] };
  assert.equal(String(got.kvs[0].mod_revision), cm.metadata.resourceVersion);
  // Values are the object's JSON (upstream stores protobuf).
  assert.equal((JSON.parse(Buffer.from(got.kvs[0].value, 'base64').toString()) as typeof cm).data.color, 'blue');
});

test('a Deployment gets its ReplicaSet and pods, all under /registry', async () => {
  await cluster.k(['create', 'deployment', 'web', '--image=registry.k8s.io/pause:3.9', '--replicas=2']);
  await until(
    'two pods of the Deployment',
    async () => (await cluster.k(['get', 'pods', '-l', 'app=web', '-o', 'name'])).trim().split('\n').length === 2,
    30_000,
  );
  const keys = await etcdKeys('/registry/');
  assert.ok(keys.includes('/registry/deployments/default/web'), keys.join('\n'));
  assert.equal(keys.filter((k) => k.startsWith('/registry/replicasets/default/web-')).length, 1);
  assert.equal(keys.filter((k) => k.startsWith('/registry/pods/default/web-')).length, 2);
  assert.ok(keys.includes('/registry/namespaces/default'));
  assert.ok(keys.includes('/registry/services/specs/default/kubernetes'));
});

test('a list at a resourceVersion from before the last compaction gets 410 Gone', async () => {
  await cluster.k(['create', 'configmap', 'p1', '-n', 'kube-public']);
  const list = JSON.parse(await cluster.k(['get', '--raw', '/api/v1/namespaces/kube-public/configmaps'])) as {
    metadata: { resourceVersion: string };
  };
  const old = list.metadata.resourceVersion;
  await cluster.k(['create', 'configmap', 'p2', '-n', 'kube-public']);
  const exact = (rv: string) =>
    cluster.kubectl([
      'get',
      '--raw',
      `/api/v1/namespaces/kube-public/configmaps?resourceVersion=${rv}&resourceVersionMatch=Exact`,
    ]);
  // Before compaction: read from etcd at that revision.
  const before = await exact(old);
  assert.equal(before.code, 0, before.stderr);
  const names = (JSON.parse(before.stdout) as { items: { metadata: { name: string } }[] }).items.map(
    (i) => i.metadata.name,
  );
  assert.ok(names.includes('p1') && !names.includes('p2'), names.join());
  // Compaction runs every 2 s down to the revision seen 2 s before.
  await until(
    'etcd compacted past the list',
    async () => {
      const r = await run('etcdctl', ['--endpoints', etcd.endpoint, 'get', 'compact_rev_key', '--print-value-only'], {
        env: { ...process.env, ETCDCTL_API: '3' },
      });
      return Number(r.stdout.trim()) > Number(old);
    },
    20_000,
  );
  const after = await exact(old);
  assert.notEqual(after.code, 0);
  assert.match(after.stderr, /too old resource version/);
});

test('objects survive a restart of the server; deletes remove the keys', async () => {
  await cluster.restart();
  assert.equal((await cluster.k(['get', 'configmap', 'settings', '-o', 'jsonpath={.data.color}'])).trim(), 'blue');
  assert.equal((await cluster.k(['get', 'deployment', 'web', '-o', 'jsonpath={.spec.replicas}'])).trim(), '2');
  await cluster.k(['delete', 'configmap', 'settings']);
  await cluster.k(['delete', 'deployment', 'web']);
  assert.deepEqual(await etcdKeys('/registry/configmaps/default/settings'), []);
  await until(
    'the Deployment, its ReplicaSet and pods are gone from etcd',
    async () =>
      (await etcdKeys('/registry/')).filter((k) => /^\/registry\/(deployments|replicasets|pods)\/default\/web/.test(k))
        .length === 0,
    30_000,
  );
});
