// Bad input gets a clear 4xx naming what is wrong; nothing crashes the server or half-writes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from './harness.js';
import { rawClient, type RawClient } from './rawclient.js';

let cluster: Cluster;
let api: RawClient;
const CM = '/api/v1/namespaces/default/configmaps';

before(async () => {
  cluster = await startCluster();
  api = rawClient(cluster.kubeconfig);
});
after(async () => {
  api?.agent.destroy();
  await cluster?.cleanup();
});

test('requests without credentials are system:anonymous (403 on resources), a bad token 401, health and version public', async () => {
  const anon = rawClient(cluster.kubeconfig, { anonymous: true });
  try {
    const r = await anon.json('GET', CM);
    assert.equal(r.status, 403);
    assert.equal(r.body.reason, 'Forbidden');
    assert.match(r.body.message, /^configmaps is forbidden: User "system:anonymous" cannot list resource "configmaps"/);
    const bad = await anon.json('GET', CM, undefined, { Authorization: 'Bearer nope' });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.reason, 'Unauthorized');
    for (const p of ['/healthz', '/livez', '/readyz', '/version'])
      assert.equal((await anon.request('GET', p)).status, 200, p);
  } finally {
    anon.agent.destroy();
  }
});

test('malformed JSON and YAML bodies are 400 with a message', async () => {
  const r = await api.json('POST', CM, '{"metadata": {"name": "x"');
  assert.equal(r.status, 400);
  assert.equal(r.body.kind, 'Status');
  assert.match(r.body.message, /JSON/);
  const y = await api.request('POST', CM, 'metadata: [unclosed', { 'Content-Type': 'application/yaml' });
  assert.equal(y.status, 400);
  assert.match(JSON.parse(y.body).message, /YAML/);
  const arr = await api.json('POST', CM, '[1,2,3]');
  assert.equal(arr.status, 400);
});

test('a YAML body creates an object', async () => {
  const r = await api.request(
    'POST',
    CM,
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: "1"\n',
    { 'Content-Type': 'application/yaml' },
  );
  assert.equal(r.status, 201, r.body);
  assert.equal(JSON.parse(r.body).data.a, '1');
});

test('wrong kind or apiVersion for the URL is 400', async () => {
  const r = await api.json('POST', CM, { apiVersion: 'apps/v1', kind: 'ConfigMap', metadata: { name: 'x' } });
  assert.equal(r.status, 400);
  // Upstream decodes the type the body names first: apps/v1 has no ConfigMap.
  assert.equal(
    r.body.message,
    'ConfigMap in version "v1" cannot be handled as a ConfigMap: no kind "ConfigMap" is registered for version "apps/v1" in scheme "pkg/api/legacyscheme/scheme.go:30"',
  );
  const k = await api.json('POST', CM, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } });
  assert.equal(k.status, 400);
  assert.equal(
    k.body.message,
    'Secret in version "v1" cannot be handled as a ConfigMap: converting (v1.Secret) to (core.ConfigMap): unknown conversion',
  );
  // Another served version of the same kind decodes, and then its API version is refused.
  const hpa = { apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler', metadata: { name: 'h' } };
  const v = await api.json('POST', '/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers', hpa);
  assert.equal(v.status, 400);
  assert.match(
    v.body.message,
    /API version in the data \(autoscaling\/v1\) does not match the expected API version \(autoscaling\/v2\)/,
  );
});

test('a body over 3 MiB is 413 and nothing is stored', async () => {
  const big = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'huge' },
    data: { x: 'a'.repeat(3 * 1024 * 1024 + 10) },
  };
  const r = await api.json('POST', CM, big);
  assert.equal(r.status, 413);
  assert.equal(r.body.reason, 'RequestEntityTooLarge');
  assert.equal((await api.json('GET', `${CM}/huge`)).status, 404);
});

test('unknown resource is 404, unsupported verb is 405, unknown path is 404', async () => {
  const r = await api.json('GET', '/api/v1/namespaces/default/widgets');
  assert.equal(r.status, 404);
  assert.equal(r.body.reason, 'NotFound');
  const m = await api.json('PUT', CM, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } });
  assert.equal(m.status, 405);
  assert.equal(m.body.reason, 'MethodNotAllowed');
  assert.equal((await api.request('GET', '/no/such/path')).status, 404);
});

test('invalid objects are 422 listing each field error with its path', async () => {
  const r = await api.json('POST', CM, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'Bad_Name', labels: { 'a b': 'c' } },
    data: { 'bad key!': 'x' },
  });
  assert.equal(r.status, 422);
  assert.equal(r.body.reason, 'Invalid');
  const fields = r.body.details.causes.map((c: any) => c.field);
  assert.ok(fields.includes('metadata.name'), JSON.stringify(fields));
  assert.ok(fields.includes('metadata.labels'), JSON.stringify(fields));
  assert.ok(
    fields.some((f: string) => f.startsWith('data')),
    JSON.stringify(fields),
  );
  assert.match(r.body.message, /^ConfigMap "Bad_Name" is invalid: \[/);
});

test('conflicts: stale resourceVersion and existing name are 409', async () => {
  const created = await api.json('POST', CM, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'c1' },
    data: { v: '1' },
  });
  assert.equal(created.status, 201);
  const dup = await api.json('POST', CM, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1' } });
  assert.equal(dup.status, 409);
  assert.equal(dup.body.reason, 'AlreadyExists');
  assert.equal(dup.body.message, 'configmaps "c1" already exists');
  const obj = created.body;
  obj.data.v = '2';
  assert.equal((await api.json('PUT', `${CM}/c1`, obj)).status, 200);
  obj.data.v = '3';
  const stale = await api.json('PUT', `${CM}/c1`, obj);
  assert.equal(stale.status, 409);
  assert.equal(stale.body.reason, 'Conflict');
  assert.match(
    stale.body.message,
    /the object has been modified; please apply your changes to the latest version and try again/,
  );
});

test('bad query parameters are 400 (unparseable) or 422 (invalid options), as upstream', async () => {
  assert.equal((await api.json('GET', `${CM}?labelSelector=a%20in%20(`)).status, 400);
  assert.equal((await api.json('GET', `${CM}?fieldSelector=spec.nope%3Dx`)).status, 400);
  assert.equal((await api.json('GET', `${CM}?limit=abc`)).status, 400);
  assert.equal((await api.json('GET', `${CM}?continue=garbage`)).status, 400);
  // A negative limit means no limit upstream.
  assert.equal((await api.json('GET', `${CM}?limit=-3`)).status, 200);
  assert.equal(
    (await api.json('POST', `${CM}?dryRun=Some`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'q' } }))
      .status,
    422,
  );
  assert.equal(
    (
      await api.json('POST', `${CM}?fieldValidation=Loud`, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'q' },
      })
    ).status,
    422,
  );
});

test('strict field validation names unknown and duplicate fields', async () => {
  const r = await api.json(
    'POST',
    `${CM}?fieldValidation=Strict`,
    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"s1"},"dataa":{}}',
  );
  assert.equal(r.status, 400);
  assert.match(r.body.message, /unknown field "dataa"/);
  const d = await api.json(
    'POST',
    `${CM}?fieldValidation=Strict`,
    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"s2","name":"s3"}}',
  );
  assert.equal(d.status, 400);
  assert.match(d.body.message, /duplicate field "name"/);
  const w = await api.json(
    'POST',
    `${CM}?fieldValidation=Warn`,
    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"s4"},"dataa":{}}',
  );
  assert.equal(w.status, 201);
  assert.match(String(w.headers.warning), /unknown field \\?"dataa\\?"/);
  assert.equal(w.body.dataa, undefined);
});

test('a burst of garbage does not crash the server', async () => {
  const junk = [
    '',
    '{',
    'null',
    '"str"',
    '{"metadata":5}',
    '{"metadata":{"name":5}}',
    '{"metadata":{"labels":[1]}}',
    '\u0000\u0001',
    '{"apiVersion":1}',
  ];
  const methods = ['POST', 'PUT', 'PATCH', 'DELETE'];
  const results = await Promise.all(
    junk.flatMap((b) =>
      methods.map((m) =>
        api.request(m, `${CM}${m === 'POST' ? '' : '/c1'}`, b, {
          'Content-Type': m === 'PATCH' ? 'application/merge-patch+json' : 'application/json',
        }),
      ),
    ),
  );
  for (const r of results) assert.ok(r.status >= 200 && r.status < 500, `${r.status} ${r.body}`);
  const health = await api.request('GET', '/readyz');
  assert.equal(health.status, 200);
  const after = await api.json('POST', CM, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after-burst' } });
  assert.equal(after.status, 201);
});

test('concurrent patches without a resourceVersion all apply (retried on conflict, as upstream)', async () => {
  assert.equal(
    (await api.json('POST', CM, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'racy' }, data: {} })).status,
    201,
  );
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      api.json(
        'PATCH',
        `${CM}/racy`,
        { data: { [`k${i}`]: String(i) } },
        { 'Content-Type': 'application/merge-patch+json' },
      ),
    ),
  );
  for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body));
  const final = await api.json('GET', `${CM}/racy`);
  assert.equal(Object.keys(final.body.data).length, 20);
  // A patch that names a stale resourceVersion is a precondition: 409, not retried.
  const stale = await api.json(
    'PATCH',
    `${CM}/racy`,
    { metadata: { resourceVersion: '1' }, data: { x: 'y' } },
    { 'Content-Type': 'application/merge-patch+json' },
  );
  assert.equal(stale.status, 409);
});
