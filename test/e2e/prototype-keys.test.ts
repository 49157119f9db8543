// Keys named like Object.prototype members (`__proto__`, `constructor`, `toString`...) in request
// bodies, through the real server with every patch type: they are ordinary keys (unknown fields
// where the schema doesn't declare them, data keys where it does), answered exactly as a key like
// `zzz` is, and nothing reaches the server's Object.prototype (which used to kill it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCluster, type Cluster } from './harness.js';
import { rawClient, type RawClient } from './rawclient.js';

let cluster: Cluster;
let api: RawClient;
const CM = '/api/v1/namespaces/default/configmaps';
const MEDIA = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;
/** When the first hostile request was sent: the old crash came about 17 s after it. */
let firstHostile = 0;

before(async () => {
  cluster = await startCluster();
  api = rawClient(cluster.kubeconfig);
});
after(async () => {
  api?.agent.destroy();
  await cluster?.cleanup();
});

async function create(name: string, extra: Record<string, unknown> = { data: { a: 'b' } }) {
  const r = await api.json('POST', CM, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, ...extra });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

function patch(name: string, type: keyof typeof MEDIA, body: string, query = '') {
  firstHostile ||= Date.now();
  return api.json('PATCH', `${CM}/${name}?fieldManager=tester${query}`, body, { 'Content-Type': MEDIA[type] });
}

const get = async (name: string) => (await api.json('GET', `${CM}/${name}`)).body;
const warnings = (r: { headers: Record<string, unknown> }) =>
  String((r.headers.warning as string | string[] | undefined) ?? '');
/** Every path element in an object's managedFields, flattened. */
const managedKeys = (obj: any): string => JSON.stringify(obj.metadata.managedFields ?? []);

/**
 * The server is alive, its Object.prototype has no `polluted` (a JSON patch test of a member the
 * object lacks would see an inherited one), a new object has only what it was given, and
 * server-side apply works.
 */
async function assertHealthy(probe: string): Promise<void> {
  assert.equal((await api.request('GET', '/healthz')).status, 200);
  const made = await create(probe);
  const inherited = await patch(probe, 'json', '[{"op":"test","path":"/metadata/polluted","value":"yes"}]');
  assert.equal(inherited.status, 422, JSON.stringify(inherited.body));
  assert.deepEqual(Object.keys(made).sort(), ['apiVersion', 'data', 'kind', 'metadata']);
  assert.deepEqual(Object.keys(made.metadata).sort(), [
    'creationTimestamp',
    'managedFields',
    'name',
    'namespace',
    'resourceVersion',
    'uid',
  ]);
  const applied = await patch(
    probe,
    'apply',
    `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${probe}}\ndata: {x: y}\n`,
    '&force=true',
  );
  assert.equal(applied.status, 200, JSON.stringify(applied.body));
  assert.deepEqual(applied.body.data, { a: 'b', x: 'y' });
}

test('strategic merge patch of metadata.__proto__ (the reproduction): an unknown field, pruned and reported', async () => {
  await create('target');
  const r = await patch('target', 'strategic', '{"metadata":{"__proto__":{"polluted":"yes"}}}');
  const plain = await patch('target', 'strategic', '{"metadata":{"zzz":{"polluted":"yes"}}}');
  assert.equal(r.status, plain.status);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.match(warnings(r), /unknown field \\?"metadata\.__proto__\\?"/);
  assert.equal(Object.hasOwn(r.body.metadata, '__proto__'), false);
  const strict = await patch(
    'target',
    'strategic',
    '{"metadata":{"__proto__":{"polluted":"yes"}}}',
    '&fieldValidation=Strict',
  );
  assert.equal(strict.status, 400);
  assert.equal(strict.body.message, 'strict decoding error: unknown field "metadata.__proto__"');
  assert.doesNotMatch(managedKeys(await get('target')), /__proto__|polluted/);
  await assertHealthy('probe-strategic');
});

test('merge patch with a constructor key (the reproduction): pruned, not tracked, later applies work', async () => {
  await create('v');
  const r = await patch(
    'v',
    'merge',
    '{"constructor":{"x":"y"},"metadata":{"__proto__":{"polluted":"yes"},"labels":{"constructor":"l"}}}',
  );
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.match(warnings(r), /unknown field \\?"constructor\\?"/);
  assert.match(warnings(r), /unknown field \\?"metadata\.__proto__\\?"/);
  const stored = await get('v');
  assert.equal(Object.hasOwn(stored, 'constructor'), false);
  assert.equal(Object.hasOwn(stored.metadata, '__proto__'), false);
  assert.deepEqual(stored.metadata.labels, { constructor: 'l' });
  // Only the label is tracked: no entry for the pruned top-level constructor or metadata.__proto__.
  for (const e of stored.metadata.managedFields) {
    assert.equal(Object.hasOwn(e.fieldsV1, 'f:constructor'), false);
    assert.equal(Object.hasOwn(e.fieldsV1['f:metadata'] ?? {}, 'f:__proto__'), false);
  }
  assert.match(managedKeys(stored), /"f:labels":\{"\.":\{\},"f:constructor":\{\}\}/);
  const applied = await patch('v', 'apply', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: v}\ndata: {c: d}\n');
  assert.equal(applied.status, 200, JSON.stringify(applied.body));
  assert.deepEqual(applied.body.data, { a: 'b', c: 'd' });
  await assertHealthy('probe-merge');
});

test('json patch: /metadata/__proto__/x is a missing path, /metadata/__proto__ an unknown field', async () => {
  await create('jp');
  const nested = await patch('jp', 'json', '[{"op":"add","path":"/metadata/__proto__/polluted","value":"yes"}]');
  const plain = await patch('jp', 'json', '[{"op":"add","path":"/metadata/zzz/polluted","value":"yes"}]');
  assert.equal(nested.status, plain.status);
  assert.ok(nested.status >= 400 && nested.status < 500, String(nested.status));
  assert.equal(
    nested.body.message,
    'add operation does not apply: doc is missing path: "/metadata/__proto__/polluted": missing value',
  );
  const ctor = await patch(
    'jp',
    'json',
    '[{"op":"add","path":"/metadata/constructor/prototype/polluted","value":"yes"}]',
  );
  assert.equal(ctor.status, plain.status);
  const remove = await patch('jp', 'json', '[{"op":"remove","path":"/data/toString"}]');
  assert.equal(remove.status, plain.status);
  assert.match(remove.body.message, /Unable to remove nonexistent key: toString/);
  const member = await patch(
    'jp',
    'json',
    '[{"op":"add","path":"/metadata/__proto__","value":{"polluted":"yes"}},{"op":"add","path":"/data/__proto__","value":"p"}]',
  );
  assert.equal(member.status, 200, JSON.stringify(member.body));
  assert.match(warnings(member), /unknown field \\?"metadata\.__proto__\\?"/);
  assert.equal(Object.hasOwn(member.body.metadata, '__proto__'), false);
  assert.deepEqual(member.body.data, JSON.parse('{"a":"b","__proto__":"p"}'));
  assert.doesNotMatch(managedKeys(member.body), /polluted|"f:metadata":\{[^]*__proto__/);
  await assertHealthy('probe-json');
});

test('server-side apply with __proto__/constructor fields: refused as any undeclared field, nothing recorded', async () => {
  await create('sa');
  for (const validation of ['', '&fieldValidation=Ignore', '&fieldValidation=Strict']) {
    const hostile = await patch(
      'sa',
      'apply',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sa\n  __proto__: {polluted: "yes"}\n  constructor: {x: y}\n',
      validation,
    );
    const plain = await patch(
      'sa',
      'apply',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sa\n  zzz: {polluted: "yes"}\n',
      validation,
    );
    assert.equal(hostile.status, plain.status);
    // Upstream's typed conversion error, whatever fieldValidation says (a 400 here; upstream's is a 500).
    assert.equal(hostile.status, 400);
    assert.equal(
      hostile.body.message,
      'failed to create typed patch object (/sa; /v1, Kind=ConfigMap): errors:\n  .metadata.__proto__: field not declared in schema\n  .metadata.constructor: field not declared in schema',
    );
  }
  const stored = await get('sa');
  assert.doesNotMatch(managedKeys(stored), /__proto__|constructor|zzz|polluted/);
  // Declared maps take such keys as data: they round-trip, are owned and can be removed again.
  const data = await patch(
    'sa',
    'apply',
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sa\n  labels: {constructor: c}\n  annotations: {toString: t}\ndata: {__proto__: p, constructor: c, hasOwnProperty: h}\n',
  );
  assert.equal(data.status, 200, JSON.stringify(data.body));
  assert.equal(JSON.stringify(data.body.data), '{"a":"b","__proto__":"p","constructor":"c","hasOwnProperty":"h"}');
  assert.deepEqual(data.body.metadata.labels, { constructor: 'c' });
  assert.deepEqual(data.body.metadata.annotations, { toString: 't' });
  const fetched = await get('sa');
  assert.equal(JSON.stringify(fetched.data), JSON.stringify(data.body.data));
  const mine = fetched.metadata.managedFields.find((e: any) => e.manager === 'tester' && e.operation === 'Apply');
  assert.deepEqual(Object.keys(mine.fieldsV1['f:data']).sort(), ['f:__proto__', 'f:constructor', 'f:hasOwnProperty']);
  const dropped = await patch(
    'sa',
    'apply',
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sa}\ndata: {constructor: c}\n',
  );
  assert.equal(dropped.status, 200, JSON.stringify(dropped.body));
  assert.deepEqual(dropped.body.data, { a: 'b', constructor: 'c' });
  assert.equal(dropped.body.metadata.labels, undefined);
  await assertHealthy('probe-apply');
});

test('a label selector on a constructor label selects only objects that have it', async () => {
  const r = await api.json('GET', `${CM}?labelSelector=constructor`);
  assert.equal(r.status, 200);
  assert.deepEqual(
    r.body.items.map((i: any) => i.metadata.name),
    ['v'],
  );
  const absent = await api.json('GET', `${CM}?labelSelector=toString`);
  assert.deepEqual(absent.body.items, []);
});

test('the server is still healthy well after the hostile requests', async () => {
  // The polluted prototype used to bring the process down about 17 s later.
  const wait = firstHostile + 20_000 - Date.now();
  if (wait > 0) await sleep(wait);
  assert.equal(cluster.proc.exitCode, null);
  await assertHealthy('probe-late');
});
