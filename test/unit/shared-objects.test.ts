// One copy of each object version in the server process: frozen informers over the in-process
// transport hold the watch cache's own objects, and mutating what a lister hands out cannot change
// the cache (client-go's "never mutate cache objects", enforced by freezing).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigMap } from 'kubernetes-types/core/v1.js';
import { Client, R, SharedInformerFactory } from '../../src/client/index.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';
import { copyWith, deepFreeze } from '../../src/machinery/objects.js';
import { metadataOf, selectableMetadataOf, sharedObject } from '../../src/storage/cacher.js';
import { defined, eventually, startTestApi, type TestApi } from './client-fixture.js';

let t: TestApi;
let client: Client;

before(async () => {
  t = await startTestApi();
  client = inProcessClient(t.api, { fieldManager: 'shared-objects-test' });
  await client.resource(R.namespaces).create({ metadata: { name: 'shared' } });
});

after(async () => {
  await client.close();
  await t.stop();
});

/** The watch cache's entry of a ConfigMap (what gets, lists and watches are served from). */
function cached(name: string) {
  const served = defined(t.api.registry.lookup('', 'v1', 'configmaps'), 'configmaps');
  return defined(t.api.storeFor(served.def).tryGet('shared', name), `cached ${name}`);
}

const frozenFactory = () => new SharedInformerFactory(client, { dropManagedFields: true, frozen: true });

test('mutating an object handed out by a lister cannot change the cache', async () => {
  const cms = client.resource(R.configmaps).namespace('shared');
  await cms.create({ metadata: { name: 'cfg', labels: { app: 'web' } }, data: { mode: 'a' } });
  const factory = frozenFactory();
  const inf = factory.forResource(R.configmaps);
  factory.start();
  assert.equal(await factory.waitForCacheSync(5000), true);
  const listed = defined(inf.store.getByName('shared', 'cfg'), 'listed');
  const before = cached('cfg').json;

  // Every way of changing it throws (strict mode): fields, nested maps, arrays, deletes.
  assert.throws(() => {
    (listed.data as Record<string, string>).mode = 'b';
  }, TypeError);
  assert.throws(() => {
    defined(listed.metadata.labels).app = 'db';
  }, TypeError);
  assert.throws(() => {
    delete (listed.metadata as { labels?: unknown }).labels;
  }, TypeError);
  assert.throws(() => {
    (listed as { data?: unknown }).data = {};
  }, TypeError);
  assert.equal(cached('cfg').json, before);
  assert.equal(cached('cfg').obj.data.mode, 'a');
  assert.equal((await cms.get('cfg')).data?.mode, 'a');

  // Copy on write, as controllers do: the copy is theirs, and the update goes through the API.
  const copy = structuredClone(listed) as ConfigMap;
  copy.data = { mode: 'b' };
  await cms.update(copy);
  await eventually(() => inf.store.getByName('shared', 'cfg')?.data?.mode === 'b');
  assert.equal(listed.data?.mode, 'a', 'the old version the lister handed out stays as it was');
  await factory.shutdown();
});

test('informers in one process share one object per version, without managedFields', async () => {
  const cms = client.resource(R.configmaps).namespace('shared');
  await cms.create({ metadata: { name: 'one' }, data: { k: 'v' } });
  const a = frozenFactory();
  const b = frozenFactory();
  const infA = a.forResource(R.configmaps);
  const infB = b.forResource(R.configmaps);
  a.start();
  b.start();
  assert.equal(await a.waitForCacheSync(5000), true);
  assert.equal(await b.waitForCacheSync(5000), true);
  const fromA = defined(infA.store.getByName('shared', 'one'));
  assert.equal(fromA, infB.store.getByName('shared', 'one'), 'listed: the same object in both informers');
  assert.equal(fromA.metadata.managedFields, undefined);
  assert.ok(cached('one').obj.metadata.managedFields?.length, 'the cache keeps them');
  assert.equal(fromA, sharedObject(cached('one'), true), 'the view the cache keeps and hands out');

  await cms.patch('one', 'merge', { data: { k: 'w' } });
  await eventually(
    () =>
      infA.store.getByName('shared', 'one')?.data?.k === 'w' && infB.store.getByName('shared', 'one')?.data?.k === 'w',
  );
  assert.equal(infA.store.getByName('shared', 'one'), infB.store.getByName('shared', 'one'), 'watched: the same too');
  assert.ok(Object.isFrozen(cached('one').obj.data));
  await a.shutdown();
  await b.shutdown();
});

test('metadata-only frozen informers share the cache metadata; plain informers still get private copies', async () => {
  const cms = client.resource(R.configmaps).namespace('shared');
  await cms.create({
    metadata: {
      name: 'owned',
      ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'one', uid: 'u-1' }],
    },
  });
  const frozen = frozenFactory();
  const meta = frozen.forResource(R.configmaps, { metadataOnly: true });
  const plain = new SharedInformerFactory(client, { dropManagedFields: true });
  const mutable = plain.forResource(R.configmaps);
  frozen.start();
  plain.start();
  assert.equal(await frozen.waitForCacheSync(5000), true);
  assert.equal(await plain.waitForCacheSync(5000), true);
  const m = defined(meta.store.getByName('shared', 'owned'));
  assert.ok(Object.isFrozen(m) && Object.isFrozen(m.metadata));
  assert.equal(m.metadata.ownerReferences, selectableMetadataOf(cached('owned')).ownerReferences);
  // The metadata object itself is the cache's: no cut-down copy per object.
  assert.equal(m.metadata, selectableMetadataOf(cached('owned')));
  assert.equal(m.metadata.managedFields, undefined);
  assert.throws(() => defined(m.metadata.ownerReferences).pop(), TypeError);

  // An informer without `frozen` keeps today's contract: its own copies, free to change.
  const own = defined(mutable.store.getByName('shared', 'owned'));
  assert.equal(Object.isFrozen(own), false);
  own.metadata.labels = { changed: 'yes' };
  assert.equal(cached('owned').obj.metadata.labels, undefined);
  await frozen.shutdown();
  await plain.shutdown();
});

test('deepFreeze freezes every level and skips parts already frozen', () => {
  const shared = deepFreeze({ a: [1, { b: 2 }] });
  const obj = deepFreeze({ x: { y: [{ z: 1 }] }, shared });
  assert.ok(Object.isFrozen(obj.x.y[0]) && Object.isFrozen(obj.x.y) && Object.isFrozen(obj.shared.a[1]));
  const own = { __proto__: { evil: true } } as Record<string, unknown>;
  Object.defineProperty(own, '__proto__', { value: { k: 1 }, enumerable: true, writable: true, configurable: true });
  deepFreeze(own);
  assert.ok(Object.isFrozen(own['__proto__']), 'an own __proto__ key is data like any other');
});

test('a version no informer shares is kept as JSON and metadata, and parsed again alike when read', async () => {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const cms = client.resource(R.configmaps).namespace('shared');
  await cms.create({ metadata: { name: 'cold', labels: { tier: 'cold' } }, data: { big: 'x'.repeat(4096) } });
  const entry = cached('cold');
  const metadata = selectableMetadataOf(entry);
  const expected = JSON.parse(entry.json);
  // Delivered to every watcher, then left to the collector (a WeakRef is kept for one job at least).
  await new Promise((r) => setTimeout(r, 50));
  gc();
  await new Promise((r) => setTimeout(r, 0));
  gc();
  assert.equal((entry as unknown as { held?: unknown }).held, undefined, 'not held once delivered');
  const again = entry.obj;
  assert.deepEqual(again, expected);
  assert.equal(selectableMetadataOf(entry), metadata, 'the metadata object is kept');
  assert.deepEqual(metadataOf(entry), expected.metadata, 'managedFields included, read from the JSON text');
  assert.equal(metadata.managedFields, undefined, 'kept without managedFields');
  // Reads and label selections answer as before.
  assert.equal((await cms.get('cold')).data?.big.length, 4096);
  const listed = await cms.list({ labelSelector: 'tier=cold' });
  assert.deepEqual(
    listed.items.map((o) => o.metadata.name),
    ['cold'],
  );
});

test('a superseded version kept elsewhere (a pagination snapshot) no longer keeps the shared object alive', async () => {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const cms = client.resource(R.configmaps).namespace('shared');
  await cms.create({ metadata: { name: 'gone-soon' }, data: { big: 'y'.repeat(4096) } });
  const factory = frozenFactory();
  try {
    const inf = factory.forResource(R.configmaps);
    factory.start();
    assert.equal(await factory.waitForCacheSync(5000), true);
    // What a list with a limit keeps for its continue token: the cache entry of the version.
    const old = cached('gone-soon');
    const json = old.json;
    const objectOf = () => old.obj as ConfigMap;
    const data = new WeakRef(defined(inf.store.getByName('shared', 'gone-soon')?.data));
    assert.equal(data.deref(), objectOf().data, 'the informer shares the cache object');

    await cms.delete('gone-soon');
    await eventually(() => inf.store.getByName('shared', 'gone-soon') === undefined);
    for (let i = 0; i < 5 && data.deref() !== undefined; i++) {
      await new Promise((r) => setTimeout(r, 20));
      gc();
    }
    assert.equal(data.deref(), undefined, 'the deleted version is not kept parsed by its old cache entry');
    // The old entry still reads as it was (parsed again from its JSON).
    assert.equal(old.json, json);
    assert.equal(objectOf().data?.big.length, 4096);
    assert.equal((metadataOf(old) as ConfigMap['metadata'])?.name, 'gone-soon');
  } finally {
    await factory.shutdown();
  }
});

test('informers leaving managedFields out share a view of each version; the cache does not keep the parsed managedFields', async () => {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const cms = client.resource(R.configmaps).namespace('shared');
  await cms.create({ metadata: { name: 'lean', labels: { app: 'x' } }, data: { k: 'v' } });
  const factory = frozenFactory();
  try {
    const inf = factory.forResource(R.configmaps);
    factory.start();
    assert.equal(await factory.waitForCacheSync(5000), true);
    const entry = cached('lean');
    const listed = defined(inf.store.getByName('shared', 'lean'));
    const managedFields = new WeakRef(defined(entry.obj.metadata.managedFields));
    for (let i = 0; i < 5 && managedFields.deref() !== undefined; i++) {
      await new Promise((r) => setTimeout(r, 20));
      gc();
    }
    assert.equal(managedFields.deref(), undefined, 'parsed managedFields are not kept');
    assert.equal(sharedObject(entry, true), listed, 'the shared view is kept');
    assert.equal(listed.metadata, selectableMetadataOf(entry), 'with the cache entry metadata');
    // Readers of the whole object still get it, managedFields included.
    assert.equal(entry.obj.metadata.managedFields?.[0]?.manager, 'shared-objects-test');
    assert.equal((await cms.get('lean')).metadata?.managedFields?.[0]?.manager, 'shared-objects-test');
    assert.deepEqual(
      (await cms.list({ labelSelector: 'app=x' })).items.map((o) => o.metadata.name),
      ['lean'],
    );
  } finally {
    await factory.shutdown();
  }
});

test('shared views of objects of one shape share their hidden classes (no frozen spreads)', async () => {
  // V8 gives every object made by a spread its own hidden class once frozen: code reading
  // thousands of such objects (the scheduler's filters over nodes) goes megamorphic, 20-40 times
  // slower. %HaveSameMap tells whether two objects share one.
  const { setFlagsFromString } = await import('node:v8');
  setFlagsFromString('--allow-natives-syntax');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- natives syntax only parses in a Function made after the flag
  const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
  const a = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a' }, spec: {} };
  const b = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'b' }, spec: {} };
  assert.equal(
    sameMap(deepFreeze(copyWith(a, 'metadata', { name: 'x' })), deepFreeze(copyWith(b, 'metadata', { name: 'y' }))),
    true,
  );

  const cms = client.resource(R.configmaps).namespace('shared');
  for (const name of ['shape-a', 'shape-b'])
    await cms.create({ metadata: { name, labels: { app: 'shape' } }, data: { k: name } });
  const factory = frozenFactory();
  try {
    const inf = factory.forResource(R.configmaps);
    factory.start();
    assert.equal(await factory.waitForCacheSync(5000), true);
    // Listed, then changed: the new versions come through the watch (the writer's parsed object).
    for (const name of ['shape-a', 'shape-b']) await cms.patch(name, 'merge', { data: { k: `${name}2` } });
    await eventually(() => inf.store.getByName('shared', 'shape-b')?.data?.k === 'shape-b2');
    const [x, y] = ['shape-a', 'shape-b'].map((n) => defined(inf.store.getByName('shared', n)));
    assert.ok(Object.isFrozen(x) && Object.isFrozen(x.metadata));
    assert.equal(sameMap(x, y), true, 'objects');
    assert.equal(sameMap(x.metadata, y.metadata), true, 'metadata');
    assert.equal(sameMap(defined(x.data), defined(y.data)), true, 'data');
  } finally {
    await factory.shutdown();
  }
});
