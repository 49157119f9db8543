// The same client API over both transports: in-process (the ApiServer's stores) and HTTPS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigMap } from 'kubernetes-types/core/v1.js';
import { ApiError, Client, R, type WatchEvent } from '../../src/client/index.js';
import { defined, eventually, startTestApi, type TestApi } from './client-fixture.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';

let t: TestApi;
const clients: Record<string, Client> = {};

before(async () => {
  t = await startTestApi();
  clients['in-process'] = inProcessClient(t.api, { fieldManager: 'test-controller' });
  clients.https = Client.fromKubeconfig(t.kubeconfig, { fieldManager: 'test-controller' });
});

after(async () => {
  for (const c of Object.values(clients)) await c.close();
  await t.stop();
});

const cm = (name: string, data: Record<string, string> = { a: '1' }, labels?: Record<string, string>): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, ...(labels ? { labels } : {}) },
  data,
});

for (const kind of ['in-process', 'https']) {
  describe(`${kind} transport`, () => {
    const ns = `t-${kind}`;
    const client = () => clients[kind];
    const cms = () => client().resource(R.configmaps).namespace(ns);

    test('create, get, update, conflict, patch, delete with typed errors', async () => {
      await client()
        .resource(R.namespaces)
        .create({ metadata: { name: ns } });
      const created = await cms().create(cm('one'));
      assert.equal(created.metadata.namespace, ns);
      assert.ok(created.metadata.resourceVersion);
      assert.equal(created.metadata.managedFields?.[0]?.manager, 'test-controller');
      await assert.rejects(
        cms().create(cm('one')),
        (e: any) => e instanceof ApiError && e.isAlreadyExists() && e.code === 409,
      );
      await assert.rejects(
        cms().get('missing'),
        (e: any) => e instanceof ApiError && e.isNotFound() && e.code === 404 && e.reason === 'NotFound',
      );
      const got = await cms().get('one');
      got.data = { ...got.data, a: '2' };
      const updated = await cms().update(got);
      assert.equal(updated.data?.a, '2');
      got.data = { ...got.data, a: '3' }; // stale resourceVersion
      await assert.rejects(
        cms().update(got),
        (e: any) => e instanceof ApiError && e.isConflict() && /has been modified/.test(e.message),
      );
      const patched = await cms().patch('one', 'merge', { data: { b: 'x' } });
      assert.deepEqual(patched.data, { a: '2', b: 'x' });
      const sp = await cms().patch('one', 'strategic', { metadata: { labels: { l: 'v' } } });
      assert.equal(sp.metadata.labels?.l, 'v');
      const jp = await cms().patch('one', 'json', [{ op: 'remove', path: '/data/b' }]);
      assert.deepEqual(jp.data, { a: '2' });
      const del = await cms().delete('one');
      assert.equal(del.kind, 'Status');
      assert.equal(del.status, 'Success');
      await assert.rejects(cms().delete('one'), (e: any) => e.isNotFound());
      await assert.rejects(
        client().resource(R.namespaces).delete('kube-system'),
        (e: any) =>
          e instanceof ApiError &&
          e.code === 403 &&
          e.reason === 'Forbidden' &&
          e.message === 'namespaces "kube-system" is forbidden: this namespace may not be deleted',
      );
    });

    test('objects handed out are copies', async () => {
      const a = await cms().create(cm('copy'));
      defined(a.data).a = 'mutated';
      const b = await cms().get('copy');
      assert.equal(b.data?.a, '1');
      defined(b.data).a = 'mutated again';
      const list = await cms().list();
      assert.equal(list.items.find((i) => i.metadata.name === 'copy')?.data?.a, '1');
    });

    test('list with selectors and pagination', async () => {
      for (let i = 0; i < 5; i++) await cms().create(cm(`p${i}`, { i: String(i) }, { tier: i % 2 ? 'odd' : 'even' }));
      const odd = await cms().list({ labelSelector: 'tier=odd' });
      assert.deepEqual(
        odd.items.map((x: any) => x.metadata.name),
        ['p1', 'p3'],
      );
      const byName = await cms().list({ fieldSelector: 'metadata.name=p2' });
      assert.deepEqual(
        byName.items.map((x: any) => x.metadata.name),
        ['p2'],
      );
      await assert.rejects(cms().list({ labelSelector: 'tier in (' }), (e: any) => e.code === 400);
      const page1 = await cms().list({ limit: 2, labelSelector: 'tier' });
      assert.equal(page1.items.length, 2);
      assert.ok(page1.metadata.continue);
      const page2 = await cms().list({ limit: 2, labelSelector: 'tier', continue: page1.metadata.continue });
      const page3 = await cms().list({ limit: 2, labelSelector: 'tier', continue: page2.metadata.continue });
      assert.deepEqual(
        [...page1.items, ...page2.items, ...page3.items].map((x: any) => x.metadata.name),
        ['p0', 'p1', 'p2', 'p3', 'p4'],
      );
      assert.equal(page3.metadata.continue, undefined);
      const all = await cms().listAll({ labelSelector: 'tier' }, 2);
      assert.equal(all.items.length, 5);
    });

    test('watch from a resourceVersion: ADDED, MODIFIED, DELETED in order; selector transitions', async () => {
      const list = await cms().list();
      const events: WatchEvent[] = [];
      const w = cms().watch({ resourceVersion: list.metadata.resourceVersion, labelSelector: 'w=yes' }, (ev) =>
        events.push(ev),
      );
      await cms().create(cm('w1', { a: '1' }, { w: 'yes' }));
      await cms().patch('w1', 'merge', { data: { a: '2' } });
      await cms().patch('w1', 'merge', { metadata: { labels: { w: 'no' } } });
      await cms().create(cm('w2', { a: '1' }, { w: 'yes' }));
      await cms().delete('w2');
      await eventually(() => events.length >= 5, 3000);
      assert.deepEqual(
        events.map((e) => `${e.type} ${e.object.metadata.name}`),
        ['ADDED w1', 'MODIFIED w1', 'DELETED w1', 'ADDED w2', 'DELETED w2'],
      );
      assert.equal(events[1].object.data.a, '2');
      w.stop();
      assert.deepEqual(await w.done, {});
    });

    test('watch from a compacted resourceVersion ends with 410 Gone; bad input with 400', async () => {
      const cache = t.api.store('', 'configmaps').cache as any;
      const saved = cache.oldestResumable;
      cache.oldestResumable = cache.revision; // as if the history before now were compacted
      try {
        const events: WatchEvent[] = [];
        const w = cms().watch({ resourceVersion: '1' }, (ev) => events.push(ev));
        const end = await w.done;
        assert.ok(
          end.error instanceof ApiError && end.error.isGone() && end.error.code === 410,
          `ended with ${end.error?.message}`,
        );
        assert.match(end.error.message, /too old resource version: 1/);
        assert.equal(events.at(-1)?.type, 'ERROR');
      } finally {
        cache.oldestResumable = saved;
      }
      if (kind === 'in-process') {
        // (Over HTTPS the server currently sends 200 headers before validating a watch.)
        const bad = await cms().watch({ resourceVersion: 'abc' }, () => undefined).done;
        assert.equal(bad.error?.code, 400);
      }
    });

    test('status subresource and discovery', async () => {
      const found = await client().discover();
      const deploy = found.find((r) => r.plural === 'deployments');
      assert.deepEqual(deploy && { g: deploy.group, v: deploy.version, n: deploy.namespaced }, {
        g: 'apps',
        v: 'v1',
        n: true,
      });
      assert.ok(found.find((r) => r.plural === 'namespaces' && !r.namespaced));
      const deps = client().resource(R.deployments).namespace(ns);
      const d = await deps.create({
        metadata: { name: 'web' },
        spec: {
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
        },
      });
      const withStatus = await deps.updateStatus({ ...d, status: { replicas: 0, observedGeneration: 1 } });
      assert.equal(withStatus.status?.observedGeneration, 1);
      const ignored = await deps.update({ ...withStatus, status: { observedGeneration: 7 } });
      assert.equal(ignored.status?.observedGeneration, 1, 'a main-resource write never changes status');
    });
  });
}
