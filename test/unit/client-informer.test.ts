import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiError,
  Client,
  R,
  SharedIndexInformer,
  SharedInformerFactory,
  type Transport,
  type WatchEvent,
} from '../../src/client/index.js';
import { defined, eventually, startTestApi, type TestApi } from './client-fixture.js';
import { InProcessTransport, inProcessClient } from '../../src/apiserver/inprocess.js';

let t: TestApi;
let client: Client;

before(async () => {
  t = await startTestApi();
  client = inProcessClient(t.api, { fieldManager: 'informer-test' });
  for (const ns of ['inf-a', 'inf-b']) await client.resource(R.namespaces).create({ metadata: { name: ns } });
});

after(async () => {
  await client.close();
  await t.stop();
});

const cm = (ns: string, name: string, labels: Record<string, string> = {}) => ({
  metadata: { name, namespace: ns, labels },
  data: { v: '1' },
});

test('list+watch into an indexed cache; add/update/delete handlers; hasSynced', async () => {
  await client.resource(R.configmaps).create(cm('inf-a', 'pre'));
  const factory = new SharedInformerFactory(client);
  const inf = factory.forResource(R.configmaps);
  assert.equal(factory.forResource(R.configmaps), inf, 'one shared informer per resource');
  inf.addIndexers({ byApp: (o) => (o.metadata.labels?.app ? [o.metadata.labels.app] : []) });
  const seen: string[] = [];
  inf.addEventHandler({
    add: (o, initial) => seen.push(`add ${o.metadata.namespace}/${o.metadata.name}${initial ? ' (initial)' : ''}`),
    update: (_old, o) => seen.push(`update ${o.metadata.name} ${o.data?.v}`),
    delete: (o, unknown) => seen.push(`delete ${o.metadata.name}${unknown ? ' (unknown)' : ''}`),
  });
  assert.equal(inf.hasSynced(), false);
  factory.start();
  assert.equal(await factory.waitForCacheSync(5000), true);
  assert.ok(inf.hasSynced());
  assert.ok(seen.includes('add inf-a/pre (initial)'));
  const cms = client.resource(R.configmaps);
  await cms.create(cm('inf-a', 'x', { app: 'web' }));
  await cms.create(cm('inf-b', 'y', { app: 'web' }));
  await cms.namespace('inf-a').patch('x', 'merge', { data: { v: '2' } });
  await cms.namespace('inf-b').delete('y');
  await eventually(() => seen.includes('delete y'), 3000);
  assert.deepEqual(seen.filter((s) => !s.includes('kube-root')).slice(-4), [
    'add inf-a/x',
    'add inf-b/y',
    'update x 2',
    'delete y',
  ]);
  assert.equal(inf.store.getByName('inf-a', 'x')?.data?.v, '2');
  assert.deepEqual(
    inf.store
      .listByNamespace('inf-a')
      .map((o) => o.metadata.name)
      .sort(),
    ['pre', 'x'],
  );
  assert.deepEqual(
    inf.store.byIndex('byApp', 'web').map((o) => o.metadata.name),
    ['x'],
  );
  // A handler added late hears about everything already cached.
  const late: string[] = [];
  inf.addEventHandler({ add: (o) => late.push(o.metadata.name) });
  assert.ok(late.includes('x') && late.includes('pre'));
  await factory.shutdown();
});

test('resync calls update(obj, obj) periodically', async () => {
  const inf = new SharedIndexInformer(client, R.namespaces, { resyncPeriodMs: 50 });
  let resyncs = 0;
  inf.addEventHandler({ update: (a, b) => void (a === b && resyncs++) });
  inf.start();
  await eventually(() => resyncs >= 4, 2000);
  await inf.stop();
});

/** A transport wrapper whose watches fail on demand, to drive the informer's recovery paths. */
function flaky(inner: Transport) {
  const state = { failNext: 0 as number | 'gone' | 'error', lists: 0, watches: 0 };
  const transport: Transport = Object.create(inner);
  transport.list = (tg, opts) => (state.lists++, inner.list(tg, opts));
  transport.watch = (tg, opts, onEvent) => {
    state.watches++;
    const mode = state.failNext;
    state.failNext = 0;
    if (mode === 'gone') {
      const err = new ApiError(410, 'Expired', `too old resource version: ${opts.resourceVersion} (999)`);
      queueMicrotask(() => onEvent({ type: 'ERROR', object: err.toStatus() } as WatchEvent));
      return { stop() {}, done: Promise.resolve({ error: err }) };
    }
    if (mode === 'error')
      return {
        stop() {},
        done: Promise.resolve({ error: new ApiError(503, 'ServiceUnavailable', 'connection refused') }),
      };
    return inner.watch(tg, opts, onEvent);
  };
  return { transport, state };
}

test('relist on 410 Gone (deletions seen as final-state-unknown) and after watch errors with backoff', async () => {
  const { transport, state } = flaky(new InProcessTransport(t.api, { fieldManager: 'informer-test' }));
  const c = new Client(transport);
  const inf = new SharedIndexInformer(c, R.configmaps, {
    namespace: 'inf-b',
    backoffInitialMs: 20,
    backoffMaxMs: 100,
    watchTimeoutSeconds: 1,
  });
  const deleted: string[] = [];
  inf.addEventHandler({ delete: (o, unknown) => deleted.push(`${o.metadata.name}${unknown ? ' unknown' : ''}`) });
  await client.resource(R.configmaps).create(cm('inf-b', 'gone-1'));
  inf.start();
  assert.ok(await inf.waitForSync(3000));
  assert.ok(inf.store.getByName('inf-b', 'gone-1'));
  assert.equal(state.lists, 1);

  // The next watch reports 410: the informer lists again, and learns of a deletion it missed.
  state.failNext = 'gone';
  await client.resource(R.configmaps).namespace('inf-b').delete('gone-1');
  // Make the current watch end (server-side timeout is 1-2 s); wait for the relist.
  await eventually(() => state.lists >= 2, 5000);
  await eventually(() => deleted.length > 0, 3000);
  assert.ok(deleted[0] === 'gone-1' || deleted[0] === 'gone-1 unknown');
  assert.equal(inf.store.getByName('inf-b', 'gone-1'), undefined);

  // A failed watch: backoff, then relist; the cache keeps working.
  state.failNext = 'error';
  const lists = state.lists;
  await eventually(() => state.lists > lists, 5000);
  await client.resource(R.configmaps).create(cm('inf-b', 'after'));
  await eventually(() => inf.store.getByName('inf-b', 'after'), 3000);
  await inf.stop();
});

test('the informer resumes watching from its last resourceVersion after a clean timeout', async () => {
  const { transport, state } = flaky(new InProcessTransport(t.api, { fieldManager: 'informer-test' }));
  const inf = new SharedIndexInformer(new Client(transport), R.configmaps, {
    namespace: 'inf-a',
    // Whole seconds: a timeout of 0 asks for the server's default (as over HTTPS), not for none.
    watchTimeoutSeconds: 1,
  });
  inf.start();
  await inf.waitForSync(3000);
  await eventually(() => state.watches >= 2, 4000);
  assert.equal(state.lists, 1, 'no relist after a clean watch end');
  await client.resource(R.configmaps).create(cm('inf-a', 'later'));
  await eventually(() => inf.store.getByName('inf-a', 'later'), 3000);
  await inf.stop();
});

test('an informer over HTTPS behaves the same', async () => {
  const https = Client.fromKubeconfig(t.kubeconfig, { fieldManager: 'informer-test' });
  const inf = new SharedIndexInformer(https, R.configmaps, { namespace: 'inf-a', pageSize: 1 });
  const adds: string[] = [];
  inf.addEventHandler({ add: (o) => adds.push(o.metadata.name) });
  inf.start();
  assert.ok(await inf.waitForSync(5000));
  await client.resource(R.configmaps).create(cm('inf-a', 'via-https'));
  await eventually(() => adds.includes('via-https'), 3000);
  assert.ok(adds.includes('pre') && adds.includes('x'));
  await inf.stop();
  await https.close();
});

for (const kind of ['in-process', 'https'] as const) {
  test(`dropManagedFields (${kind}): cached objects (full and metadata-only) carry no managedFields; writes keep the stored ones`, async () => {
    const c = kind === 'https' ? Client.fromKubeconfig(t.kubeconfig, { fieldManager: 'informer-test' }) : client;
    const ns = `mf-${kind}`;
    await client.resource(R.namespaces).create({ metadata: { name: ns } });
    const cms = c.resource(R.configmaps);
    await cms.create(cm(ns, 'listed'));
    const full = new SharedIndexInformer(c, R.configmaps, { namespace: ns, dropManagedFields: true });
    const meta = new SharedInformerFactory(c, { namespace: ns, dropManagedFields: true }).forResource(R.configmaps, {
      metadataOnly: true,
    });
    full.start();
    meta.start();
    assert.ok((await full.waitForSync(5000)) && (await meta.waitForSync(5000)));
    await cms.create(cm(ns, 'watched'));
    await eventually(() => !!full.store.getByName(ns, 'watched') && !!meta.store.getByName(ns, 'watched'), 3000);
    for (const inf of [full, meta]) {
      for (const name of ['listed', 'watched']) {
        const o = defined(inf.store.getByName(ns, name), name);
        assert.equal(o.metadata.managedFields, undefined, `${name} without managedFields`);
        assert.ok(o.metadata.uid && o.metadata.resourceVersion);
      }
    }
    // The server still has them, and an update of a cached copy does not remove them.
    const cached = structuredClone(defined(full.store.getByName(ns, 'listed'), 'listed'));
    cached.data = { ...cached.data, v: '2' };
    const updated = await cms.namespace(ns).update(cached);
    assert.deepEqual(
      updated.metadata.managedFields?.map((m) => m.manager),
      ['informer-test'],
    );
    await full.stop();
    await meta.stop();
    if (c !== client) await c.close();
  });
}

test('releaseIfUnused: an informer is stopped and forgotten only when no handler listens', async () => {
  const factory = new SharedInformerFactory(client);
  factory.start();
  const meta = factory.forResource(R.configmaps, { metadataOnly: true });
  assert.equal(factory.forResource(R.configmaps, { metadataOnly: true }), meta, 'one shared metadata informer');
  assert.notEqual(factory.forResource(R.configmaps), meta, 'full and metadata-only informers are distinct');
  const first = meta.addEventHandler({});
  const second = meta.addEventHandler({});
  assert.ok(await meta.waitForSync(5000));
  first();
  await factory.releaseIfUnused(R.configmaps, { metadataOnly: true });
  assert.equal(factory.forResource(R.configmaps, { metadataOnly: true }), meta, 'kept while a handler listens');
  second();
  await factory.releaseIfUnused(R.configmaps, { metadataOnly: true });
  const again = factory.forResource(R.configmaps, { metadataOnly: true });
  assert.notEqual(again, meta, 'released: a new informer on the next use');
  assert.ok(await again.waitForSync(5000));
  await factory.shutdown();
});
