// k8ts as a library: startCluster() in the test process, several at once, reached both in process
// and over HTTPS with the kubeconfig it returns, and gone without a trace after stop().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startCluster } from '../../src/index.js';
import { Client, R } from '../../src/client/index.js';
import { eventually } from './client-fixture.js';

test('two clusters in one process are independent, and stop() removes their data', async () => {
  const [a, b] = await Promise.all([startCluster(), startCluster({ inMemory: true })]);
  try {
    assert.notEqual(a.url, b.url);
    await a
      .client()
      .resource(R.configmaps)
      .namespace('default')
      .create({ metadata: { name: 'only-in-a' }, data: { k: 'v' } });
    const overHttps = Client.fromKubeconfig(a.kubeconfigPath, { fieldManager: 'test' });
    try {
      assert.equal((await overHttps.resource(R.configmaps).namespace('default').get('only-in-a')).data?.k, 'v');
    } finally {
      await overHttps.close();
    }
    await assert.rejects(b.client().resource(R.configmaps).namespace('default').get('only-in-a'), /not found/);
    assert.match(a.kubeconfig, /server: https:\/\/127\.0\.0\.1:\d+/);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
  assert.equal(existsSync(a.dataDir), false);
  assert.equal(existsSync(b.dataDir), false);
});

test('controllers, scheduler and simulated nodes run a Deployment to availability', async () => {
  const c = await startCluster({ nodes: 2 });
  try {
    const deployments = c.client().resource(R.deployments).namespace('default');
    await deployments.create({
      metadata: { name: 'web' },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
      },
    });
    await eventually(async () => (await deployments.get('web')).status?.availableReplicas === 3, 20_000, 100);
    const pods = await c.client().resource(R.pods).namespace('default').list();
    assert.deepEqual(
      new Set(
        pods.items
          .map((p: any) => p.spec.nodeName)
          .filter(Boolean)
          .map((n: string) => n.startsWith('sim-node-')),
      ),
      new Set([true]),
    );
  } finally {
    await c.stop();
  }
});

test('kubeConfig() gives a ready @kubernetes/client-node configuration', async () => {
  const c = await startCluster({ controllers: false });
  try {
    const { CoreV1Api } = await import('@kubernetes/client-node');
    const kc = await c.kubeConfig();
    const ns = await kc.makeApiClient(CoreV1Api).listNamespace();
    assert.ok(ns.items.some((n) => n.metadata?.name === 'default'));
  } finally {
    await c.stop();
  }
});

test('the library runs the server k8ts server runs: Secrets encrypted at rest, service-account tokens', async () => {
  const c = await startCluster();
  try {
    const client = c.client();
    await client
      .resource(R.secrets)
      .namespace('default')
      .create({ metadata: { name: 'pw' }, stringData: { password: 'hunter2' } });
    const { items } = await c.api.config.backend.list('/');
    const stored = items.find((kv) => kv.key.includes('secrets') && kv.key.endsWith('/default/pw'));
    assert.match(String(stored?.value), /^k8s:enc:aescbc:v1:/);
    await client
      .resource(R.serviceaccounts)
      .namespace('default')
      .create({ metadata: { name: 'robot' } });
    const review = await client
      .resource(R.serviceaccounts)
      .namespace('default')
      .createSubresource('robot', 'token', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: [] },
      });
    // A signed JWT (header.payload.signature) naming the ServiceAccount.
    const token = String(review.status?.token);
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { sub?: string };
    assert.equal(claims.sub, 'system:serviceaccount:default:robot');
  } finally {
    await c.stop();
  }
});
