// The watch cache keeps a version's managedFields member once for all versions that have the same
// text (sharedtext.ts): what GET, LIST and WATCH send must stay byte for byte what was stored, for
// objects that share the text and objects that do not.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { internedCount, joinText, shareMetadataParts, splitManagedFields } from '../../src/storage/sharedtext.js';
import { CachedObject, spliceResourceVersion, type StoredObject } from '../../src/storage/cacher.js';
import { rawClient, type RawClient } from '../e2e/rawclient.js';
import { defined, startTestApi, type TestApi } from './client-fixture.js';
import { prng } from '../support/prng.js';

test('splitManagedFields/joinText give back every text exactly; equal members are interned once', () => {
  const rand = prng(16);
  const alphabet = 'ab{}[]":,\\é€😀\n"managedFields":[';
  const word = () =>
    Array.from({ length: Math.floor(rand() * 12) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
  const entry = (manager: string) => ({
    manager,
    operation: 'Update',
    apiVersion: 'v1',
    time: '2026-12-07T20:00:00Z',
    fieldsType: 'FieldsV1',
    fieldsV1: { 'f:data': { '.': {}, [`f:${word()}`]: {} }, 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } } },
  });
  let split = 0;
  for (let round = 0; round < 400; round++) {
    const metadata: Record<string, unknown> = {};
    const fields: [string, unknown][] = [
      ['name', `n-${round}`],
      ['namespace', 'ns'],
      ['labels', { [word() || 'k']: word() }],
      ['annotations', { note: word(), other: '"managedFields":[{"x":"]"}]' }],
    ];
    const managedFields = [entry(word()), ...(rand() < 0.5 ? [entry(word())] : [])];
    // managedFields first, last, in between, or missing.
    const at = rand() < 0.1 ? -1 : Math.floor(rand() * (fields.length + 1));
    fields.forEach(([k, v], i) => {
      if (i === at) metadata.managedFields = managedFields;
      metadata[k] = v;
    });
    if (at === fields.length) metadata.managedFields = managedFields;
    const text = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata, data: { [word() || 'd']: word() } });
    const parts = splitManagedFields(text);
    if (at < 0) {
      assert.equal(parts, undefined, 'no managedFields: nothing to split');
      continue;
    }
    const p = defined(parts, `round ${round} splits`);
    split++;
    assert.equal(joinText(p.body, p.cut, p.member), text, `round ${round}`);
    assert.equal(p.body.includes('"managedFields":[{"manager"'), false, `round ${round}: the member is cut out`);
    assert.ok(p.member.includes(JSON.stringify(managedFields)), `round ${round}: the member is the array`);
    // The body is still JSON: the comma went with the member.
    assert.deepEqual(JSON.parse(p.body).metadata.name, `n-${round}`);
  }
  assert.ok(split > 300);
  // Texts with the same member are interned once, whatever else differs.
  const before = internedCount();
  const mf = [entry('same'), entry('same-too')];
  for (let i = 0; i < 50; i++) {
    const text = JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `same-${i}`, uid: String(i), managedFields: mf },
      data: { i: String(i) },
    });
    const p = defined(splitManagedFields(text));
    assert.equal(joinText(p.body, p.cut, p.member), text);
  }
  assert.equal(internedCount(), before + 1);
});

test('repeated metadata parts are shared, frozen and equal to what they replace', () => {
  const meta = (name: string) =>
    JSON.parse(
      JSON.stringify({
        name,
        namespace: 'a-namespace-longer-than-ten',
        uid: `uid-${name}`,
        creationTimestamp: '2026-12-07T20:00:00Z',
        labels: { app: 'web', 'pod-template-hash': '5d4f8c' },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d4f8c', uid: 'rs', controller: true },
        ],
      }),
    ) as Record<string, any>;
  const a = meta('a');
  const b = meta('b');
  const expected = structuredClone(a);
  shareMetadataParts(a);
  shareMetadataParts(b);
  assert.deepEqual(a, expected);
  assert.equal(a.labels, b.labels, 'one labels object');
  assert.equal(a.ownerReferences, b.ownerReferences, 'one ownerReferences array');
  assert.ok(Object.isFrozen(a.labels) && Object.isFrozen(a.ownerReferences[0]));
  assert.equal(b.name, 'b');
  // A key JSON.parse makes an own property stays one (not the prototype).
  const odd = JSON.parse('{"name":"o","annotations":{"__proto__":"x","k":"v"}}') as Record<string, any>;
  shareMetadataParts(odd);
  assert.equal(Object.getPrototypeOf(odd.annotations), Object.prototype);
  assert.deepEqual(Object.keys(odd.annotations), ['__proto__', 'k']);
  assert.equal(JSON.stringify(odd), '{"name":"o","annotations":{"__proto__":"x","k":"v"}}');
});

let t: TestApi;
let raw: RawClient;
const NS = 'sharedtext';
const CMS = `/api/v1/namespaces/${NS}/configmaps`;

before(async () => {
  t = await startTestApi();
  raw = rawClient(t.kubeconfig);
  const ns = await raw.json('POST', '/api/v1/namespaces', { metadata: { name: NS } });
  assert.equal(ns.status, 201);
});

after(async () => {
  raw?.agent.destroy();
  await t?.stop();
});

const configMaps = () => t.api.storeFor(defined(t.api.registry.lookup('', 'v1', 'configmaps'), 'configmaps').def);

/** The watch cache's entry of a ConfigMap, and its stored value (what the server answered before). */
async function entryOf(name: string): Promise<{ entry: StoredObject; expected: string }> {
  const store = configMaps();
  const entry = defined(store.tryGet(NS, name), `cached ${name}`);
  const kv = defined(await store.backend.get(entry.key), `stored ${name}`);
  // The watch cache's text of a version was this until managedFields were kept apart.
  return { entry, expected: defined(spliceResourceVersion(kv.value, kv.modRevision)) };
}

test('GET, LIST and WATCH send the stored text, managedFields included, shared or not', async () => {
  const list0 = await raw.json('GET', CMS);
  const from = String(list0.body.metadata.resourceVersion);
  // A live watch from now, and (below) one replaying the same events from the cache's history.
  const live = raw.request('GET', `${CMS}?watch=1&resourceVersion=${from}&timeoutSeconds=3`);
  // (Awaited below; a failure before then must not leave it unhandled.)
  live.catch(() => undefined);

  // One manager's burst: its objects share a managedFields text (one per second of `time`).
  const burst = Array.from({ length: 12 }, (_, i) => `burst-${i}`);
  await Promise.all(
    burst.map(async (name) => {
      const r = await raw.json('POST', `${CMS}?fieldManager=burst`, {
        metadata: { name, labels: { app: 'shared' } },
        data: { k: `v-${name}` },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }),
  );
  // Objects of their own: another manager, two managers after an update, odd text in fields.
  const own = ['solo', 'updated', 'odd'];
  assert.equal(
    (await raw.json('POST', `${CMS}?fieldManager=solo`, { metadata: { name: 'solo', labels: { own: 'yes' } } })).status,
    201,
  );
  const created = await raw.json('POST', `${CMS}?fieldManager=first`, {
    metadata: { name: 'updated' },
    data: { a: '1' },
  });
  assert.equal(created.status, 201);
  const updated = await raw.json('PUT', `${CMS}/updated?fieldManager=second`, {
    ...created.body,
    data: { a: '1', b: '2' },
  });
  assert.equal(updated.status, 200, JSON.stringify(updated.body));
  const odd = await raw.json('POST', `${CMS}?fieldManager=${encodeURIComponent('ödd "manager" ]}')}`, {
    metadata: { name: 'odd', annotations: { 'x/note': '"managedFields":[{"manager":"fake"}],}' } },
    data: { 'q.txt': 'é€😀 \\ " ] }', 'k-1': '"managedFields":[' },
  });
  assert.equal(odd.status, 201, JSON.stringify(odd.body));

  const names = [...burst, ...own].sort();
  const expected = new Map<string, string>();
  const members: (string | undefined)[] = [];
  for (const name of names) {
    const { entry, expected: text } = await entryOf(name);
    expected.set(name, text);
    assert.ok(text.includes('"managedFields":[{"manager":'), `${name} has managedFields`);
    assert.ok(entry instanceof CachedObject);
    assert.notEqual(entry.member, undefined, `${name}: kept apart`);
    // (The odd object's fields hold the words only escaped, as text in strings.)
    assert.equal(entry.body.includes('"managedFields"'), false, `${name}: the body has no managedFields`);
    if (burst.includes(name)) members.push(entry.member);
    // GET: the stored text, byte for byte.
    const got = await raw.request('GET', `${CMS}/${name}`);
    assert.equal(got.status, 200);
    assert.equal(got.body, text, `GET ${name}`);
  }
  // The burst fell in one or two seconds: its twelve objects hold one or two member texts.
  assert.ok(new Set(members).size <= 2, `burst members: ${new Set(members).size}`);
  const distinct = new Set(names.map((n) => (configMaps().tryGet(NS, n) as CachedObject).member));
  assert.ok(distinct.size >= 4, 'the other objects have members of their own');

  // LIST: the items are the stored texts, in key order.
  const list = await raw.request('GET', CMS);
  assert.equal(list.status, 200);
  const head = list.body.slice(0, list.body.indexOf('"items":[') + '"items":['.length);
  assert.equal(list.body, `${head}${names.map((n) => expected.get(n)).join(',')}]}`);

  // WATCH, live and replayed from history: the same lines; the last version of each object is
  // the stored text, the first version of the updated one (now a delta in history) as it was.
  const replayed = await raw.request('GET', `${CMS}?watch=1&resourceVersion=${from}&timeoutSeconds=1`);
  const liveLines = (await live).body.trim().split('\n');
  const replayedLines = replayed.body.trim().split('\n');
  assert.equal(liveLines.length, names.length + 1, (await live).body.slice(0, 500));
  assert.deepEqual(replayedLines, liveLines);
  const last = new Map<string, string>();
  for (const line of liveLines) last.set(JSON.parse(line).object.metadata.name, line);
  for (const name of names) {
    const type = name === 'updated' ? 'MODIFIED' : 'ADDED';
    assert.equal(last.get(name), `{"type":"${type}","object":${expected.get(name)}}`, `WATCH ${name}`);
  }
  const first = liveLines.find((l) => l.includes('"name":"updated"'));
  assert.deepEqual(JSON.parse(defined(first)).object, created.body);
});
