// Issue 3: webhook conversion of custom resources, end to end. A real HTTPS conversion webhook
// runs in this test process (certificate from a CA made here, caBundle in the CRD); v1 stores
// `spec.size`, v2 serves it as `spec.dimensions.size`. The server converts asynchronously: the
// webhook answering slowly must not stall other requests, lists go out as one ConversionReview,
// and watch events at the non-storage version arrive converted and in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, until, type Cluster } from './harness.js';
import { rawClient, type RawClient } from './rawclient.js';
import { streamKubectl } from './streams.js';
import { issue, loadOrCreateCA } from '../../src/machinery/pki.js';

const GROUP = 'conv.example.com';

let cluster: Cluster;
let raw: RawClient;
let webhook: https.Server;
let port = 0;
let caDir = '';
/** Every ConversionReview request the webhook received. */
const reviews: { desired: string; objects: any[] }[] = [];
/** Per-object delay (ms) by spec size: makes later events finish converting first. */
let delayFor: (size: number) => number = () => 0;
let failing = false;

function convert(obj: any, desired: string): any {
  const out = structuredClone(obj);
  const from = obj.apiVersion;
  out.apiVersion = desired;
  if (from === `${GROUP}/v1` && desired === `${GROUP}/v2`) {
    const { size, ...rest } = obj.spec ?? {};
    out.spec = { ...rest, dimensions: { size } };
  } else if (from === `${GROUP}/v2` && desired === `${GROUP}/v1`) {
    const { dimensions, ...rest } = obj.spec ?? {};
    out.spec = { ...rest, size: dimensions?.size };
  }
  return out;
}

const sizeOf = (o: any) => o.spec?.size ?? o.spec?.dimensions?.size ?? 0;

function crd(caBundle: string): string {
  const column = (path: string) => [{ name: 'Size', type: 'integer', jsonPath: path }];
  return JSON.stringify({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `cubes.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { plural: 'cubes', singular: 'cube', kind: 'Cube', shortNames: ['cb'] },
      conversion: {
        strategy: 'Webhook',
        webhook: {
          conversionReviewVersions: ['v1'],
          clientConfig: { url: `https://127.0.0.1:${port}/convert`, caBundle },
        },
      },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: column('.spec.size'),
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  properties: {
                    size: { type: 'integer', description: 'Edge length (v1).' },
                    color: { type: 'string' },
                  },
                },
                status: { type: 'object', properties: { phase: { type: 'string' } } },
              },
            },
          },
        },
        {
          name: 'v2',
          served: true,
          storage: false,
          subresources: { status: {} },
          additionalPrinterColumns: column('.spec.dimensions.size'),
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  properties: {
                    color: { type: 'string' },
                    dimensions: {
                      type: 'object',
                      description: 'Dimensions of the cube (v2).',
                      properties: { size: { type: 'integer', minimum: 0, description: 'Edge length (v2).' } },
                    },
                  },
                },
                status: { type: 'object', properties: { phase: { type: 'string' } } },
              },
            },
          },
        },
      ],
    },
  });
}

const cube = (name: string, apiVersion: string, spec: Record<string, unknown>) =>
  JSON.stringify({ apiVersion: `${GROUP}/${apiVersion}`, kind: 'Cube', metadata: { name }, spec });
const k = (args: string[], input?: string) => cluster.k(args, input);
const path = (version: string, name = '') =>
  `/apis/${GROUP}/${version}/namespaces/default/cubes${name ? `/${name}` : ''}`;

before(async () => {
  caDir = mkdtempSync(join(tmpdir(), 'k8ts-webhook-ca-'));
  const ca = await loadOrCreateCA(caDir, 'conversion-webhook-ca');
  const pair = await issue(ca, {
    commonName: 'conversion-webhook',
    sans: ['127.0.0.1', 'conv-svc.default.svc'],
    server: true,
  });
  webhook = https.createServer({ cert: pair.certPem, key: pair.keyPem }, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const review = JSON.parse(body);
      const { uid, desiredAPIVersion, objects } = review.request;
      reviews.push({ desired: desiredAPIVersion, objects });
      const delay = Math.max(0, ...objects.map((o: any) => delayFor(sizeOf(o))));
      setTimeout(() => {
        const response = failing
          ? { uid, result: { status: 'Failure', message: 'the webhook refuses' } }
          : {
              uid,
              convertedObjects: objects.map((o: any) => convert(o, desiredAPIVersion)),
              result: { status: 'Success' },
            };
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'ConversionReview', response }));
      }, delay);
    });
  });
  await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
  port = (webhook.address() as any).port;
  cluster = await startCluster();
  raw = rawClient(cluster.kubeconfig);
  await k(['apply', '-f', '-'], crd(Buffer.from(ca.certPem).toString('base64')));
  await k(['wait', '--for=condition=Established', '--timeout=10s', `crd/cubes.${GROUP}`]);
  for (let i = 0; ; i++) {
    if ((await cluster.kubectl(['get', 'cubes'])).code === 0) break;
    if (i > 50) throw new Error('cubes not served');
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  raw?.agent.destroy();
  await cluster?.cleanup();
  webhook?.closeAllConnections();
  webhook?.close();
  if (caDir) rmSync(caDir, { recursive: true, force: true });
});

test('an object created at the storage version is served at both versions', async () => {
  await k(['create', '-f', '-'], cube('small', 'v1', { size: 3, color: 'red' }));
  const v1 = JSON.parse(await k(['get', `cubes.v1.${GROUP}`, 'small', '-o', 'json']));
  assert.equal(v1.apiVersion, `${GROUP}/v1`);
  assert.equal(v1.spec.size, 3);
  const before = reviews.length;
  const v2 = JSON.parse(await k(['get', `cubes.v2.${GROUP}`, 'small', '-o', 'json']));
  assert.equal(v2.apiVersion, `${GROUP}/v2`);
  assert.deepEqual(v2.spec, { color: 'red', dimensions: { size: 3 } });
  assert.equal(v2.metadata.name, 'small');
  assert.ok(reviews.length > before, 'the webhook converted the object');
  assert.equal(reviews.at(-1)!.desired, `${GROUP}/v2`);
});

test('an object created at the non-storage version is stored converted', async () => {
  const created = JSON.parse(
    await k(['create', '-o', 'json', '-f', '-'], cube('big', 'v2', { dimensions: { size: 9 }, color: 'blue' })),
  );
  assert.equal(created.apiVersion, `${GROUP}/v2`);
  assert.deepEqual(created.spec, { color: 'blue', dimensions: { size: 9 } });
  const v1 = JSON.parse(await k(['get', `cubes.v1.${GROUP}`, 'big', '-o', 'json']));
  assert.deepEqual(v1.spec, { color: 'blue', size: 9 });
  // Validation runs against the request version's schema before conversion.
  const bad = await cluster.kubectl(['create', '-f', '-'], { input: cube('neg', 'v2', { dimensions: { size: -1 } }) });
  assert.notEqual(bad.code, 0);
  assert.match(
    bad.stderr,
    /spec\.dimensions\.size: Invalid value: -1: spec\.dimensions\.size in body should be greater than or equal to 0/,
  );
  // Updates and patches at v2 go through the webhook both ways.
  await k(['patch', `cubes.v2.${GROUP}`, 'big', '--type=merge', '-p', '{"spec":{"dimensions":{"size":10}}}']);
  assert.equal(JSON.parse(await k(['get', `cubes.v1.${GROUP}`, 'big', '-o', 'json'])).spec.size, 10);
  const sub = await raw.json(
    'PATCH',
    `${path('v2', 'big')}/status`,
    { status: { phase: 'Ready' } },
    { 'Content-Type': 'application/merge-patch+json' },
  );
  assert.equal(sub.status, 200, JSON.stringify(sub.body));
  assert.equal(sub.body.apiVersion, `${GROUP}/v2`);
  assert.equal(sub.body.status.phase, 'Ready');
  assert.deepEqual(sub.body.spec.dimensions, { size: 10 });
});

test('kubectl get at both versions; a list is one ConversionReview', async () => {
  await k(['create', '-f', '-'], cube('medium', 'v1', { size: 5 }));
  const v1 = await k(['get', `cubes.v1.${GROUP}`]);
  assert.match(v1, /^NAME\s+SIZE\s*$/m);
  assert.match(v1, /^big\s+10\s*$/m);
  const before = reviews.length;
  const v2 = await k(['get', `cubes.v2.${GROUP}`]);
  assert.match(v2, /^big\s+10\s*$/m);
  assert.match(v2, /^medium\s+5\s*$/m);
  assert.match(v2, /^small\s+3\s*$/m);
  const listed = reviews.slice(before);
  assert.equal(listed.length, 1, `one ConversionReview for the list, got ${listed.length}`);
  assert.equal(listed[0].objects.length, 3);
  const list = await raw.json('GET', path('v2'));
  assert.equal(list.status, 200);
  assert.equal(list.body.apiVersion, `${GROUP}/v2`);
  assert.deepEqual(
    list.body.items.map((o: any) => [o.apiVersion, o.metadata.name, o.spec.dimensions.size]),
    [
      [`${GROUP}/v2`, 'big', 10],
      [`${GROUP}/v2`, 'medium', 5],
      [`${GROUP}/v2`, 'small', 3],
    ],
  );
});

test('a slow webhook does not block the API server', async () => {
  delayFor = () => 1500;
  try {
    const started = Date.now();
    const slow = raw.json('GET', path('v2', 'small'));
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const other = await raw.json('GET', '/api/v1/namespaces/default');
    assert.equal(other.status, 200);
    assert.ok(Date.now() - t0 < 700, `an unrelated request took ${Date.now() - t0} ms while the webhook was slow`);
    const v1 = await raw.json('GET', path('v1', 'small'));
    assert.equal(v1.status, 200);
    const res = await slow;
    assert.equal(res.status, 200);
    assert.equal(res.body.spec.dimensions.size, 3);
    assert.ok(Date.now() - started >= 1400);
  } finally {
    delayFor = () => 0;
  }
});

test('a watch at the non-storage version gets converted events in order', async () => {
  const list = await raw.json('GET', path('v2'));
  const rv = list.body.metadata.resourceVersion;
  const w = streamKubectl(cluster, ['get', '--raw', `${path('v2')}?watch=true&resourceVersion=${rv}`], {
    maxMs: 30_000,
  });
  // Even sizes convert slowly: without per-watcher ordering the odd ones would overtake them.
  delayFor = (size) => (size % 2 === 0 ? 300 : 0);
  try {
    // The watch is established once the server answered the request; give kubectl a moment.
    await new Promise((r) => setTimeout(r, 500));
    for (const size of [20, 21, 22, 23]) {
      const r = await raw.json(
        'PATCH',
        path('v1', 'medium'),
        { spec: { size } },
        { 'Content-Type': 'application/merge-patch+json' },
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    await raw.json('POST', path('v2'), JSON.parse(cube('late', 'v2', { dimensions: { size: 24 } })));
    await raw.json('DELETE', path('v1', 'late'));
    await w.waitFor(/"DELETED"/, 10_000);
    const events = w.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      events.map((e) => [e.type, e.object.apiVersion, e.object.metadata.name, e.object.spec.dimensions?.size]),
      [
        ['MODIFIED', `${GROUP}/v2`, 'medium', 20],
        ['MODIFIED', `${GROUP}/v2`, 'medium', 21],
        ['MODIFIED', `${GROUP}/v2`, 'medium', 22],
        ['MODIFIED', `${GROUP}/v2`, 'medium', 23],
        ['ADDED', `${GROUP}/v2`, 'late', 24],
        ['DELETED', `${GROUP}/v2`, 'late', 24],
      ],
    );
    const rvs = events.map((e) => Number(e.object.metadata.resourceVersion));
    assert.deepEqual(
      [...rvs].sort((a, b) => a - b),
      rvs,
    );
    for (const e of events) assert.equal(e.object.spec.size, undefined);
  } finally {
    delayFor = () => 0;
    await w.stop();
  }
});

test('kubectl get -w at the non-storage version prints converted rows', async () => {
  const w = streamKubectl(cluster, ['get', `cubes.v2.${GROUP}`, '-w'], { maxMs: 30_000 });
  try {
    await w.waitFor(/^small\s+3\s/m);
    await k(['patch', `cubes.v1.${GROUP}`, 'small', '--type=merge', '-p', '{"spec":{"size":4}}']);
    await w.waitFor(/^small\s+4\s/m);
  } finally {
    await w.stop();
  }
});

test('a failing webhook gives a 500 InternalError naming the conversion', async () => {
  failing = true;
  try {
    const r = await raw.json('GET', path('v2', 'small'));
    assert.equal(r.status, 500);
    assert.equal(r.body.kind, 'Status');
    assert.equal(r.body.reason, 'InternalError');
    assert.match(
      r.body.message,
      new RegExp(`conversion webhook for ${GROUP}/v1, Kind=Cube failed: the webhook refuses`),
    );
    const out = await cluster.kubectl(['get', `cubes.v2.${GROUP}`]);
    assert.notEqual(out.code, 0);
    assert.match(
      out.stderr,
      /Error from server \(InternalError\).*conversion webhook for conv\.example\.com\/v1, Kind=Cube failed/,
    );
    // Storage-version reads need no conversion and keep working.
    assert.equal((await raw.json('GET', path('v1', 'small'))).status, 200);
  } finally {
    failing = false;
  }
  assert.equal((await raw.json('GET', path('v2', 'small'))).status, 200);
});

test('kubectl explain shows each version of the custom resource (OpenAPI v3 and v2)', async () => {
  const v2 = await k(['explain', 'cubes.spec.dimensions', `--api-version=${GROUP}/v2`]);
  assert.match(v2, /VERSION:\s+v2/);
  assert.match(v2, /Dimensions of the cube \(v2\)/);
  assert.match(v2, /size\s+<integer>/);
  const v1 = await k(['explain', 'cubes.spec.size', `--api-version=${GROUP}/v1`]);
  assert.match(v1, /Edge length \(v1\)/);
  const openapiV2 = await k([
    'explain',
    'cubes.spec.dimensions.size',
    `--api-version=${GROUP}/v2`,
    '--output=plaintext-openapiv2',
  ]);
  assert.match(openapiV2, /Edge length \(v2\)/);
});

test("a clientConfig.service reaches the webhook at the Service's endpoint, checked as <svc>.<ns>.svc", async () => {
  // A selector-less Service whose EndpointSlice points at the webhook, as a Service in front of an
  // out-of-cluster webhook would be; the certificate names only conv-svc.default.svc (and the IP).
  await k(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'conv-svc', namespace: 'default' },
          spec: { ports: [{ name: 'https', port: 8443, targetPort: port }] },
        },
        {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: 'conv-svc-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'conv-svc' } },
          addressType: 'IPv4',
          ports: [{ name: 'https', port }],
          endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
        },
      ],
    }),
  );
  const caBundle = Buffer.from(readFileSync(join(caDir, 'ca.crt'), 'utf8')).toString('base64');
  await k([
    'patch',
    'crd',
    `cubes.${GROUP}`,
    '--type=json',
    '-p',
    JSON.stringify([
      {
        op: 'replace',
        path: '/spec/conversion/webhook/clientConfig',
        value: { service: { namespace: 'default', name: 'conv-svc', port: 8443, path: '/convert' }, caBundle },
      },
    ]),
  ]);
  const before = reviews.length;
  await until('converted through the service', async () => {
    const r = await raw.json('GET', path('v2', 'small'));
    return r.status === 200 && reviews.length > before;
  });
  const got = await raw.json('GET', path('v2', 'small'));
  assert.equal(got.body.apiVersion, `${GROUP}/v2`);
  assert.ok(got.body.spec.dimensions);
});
