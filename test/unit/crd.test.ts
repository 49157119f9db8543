import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SchemaValidator, applyDefaults, publishedSchema } from '../../src/machinery/crdschema/schema.js';
import { buildResource, tableFor } from '../../src/apiserver/crd/builder.js';
import { calculateNames } from '../../src/apiserver/crd/controller.js';
import { pruneUnknown } from '../../src/apiserver/fieldschema.js';
import { formatFieldError } from '../../src/machinery/fielderrors.js';
import { toTable } from '../../src/apiserver/table.js';
import { validateCRD, defaultCRD } from '../../src/api/apiextensions/v1/customresourcedefinition.js';

const schema = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', minLength: 2, maxLength: 8, pattern: '^[a-z]+$' },
        replicas: { type: 'integer', minimum: 0, maximum: 10, default: 1 },
        size: { type: 'string', enum: ['a', 'b'], default: 'a' },
        port: { 'x-kubernetes-int-or-string': true },
        maybe: { type: 'string', nullable: true },
        tags: { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set', maxItems: 3 },
        ports: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: {
            type: 'object',
            required: ['name'],
            properties: { name: { type: 'string' }, port: { type: 'integer', default: 80 } },
          },
        },
        template: {
          type: 'object',
          'x-kubernetes-embedded-resource': true,
          'x-kubernetes-preserve-unknown-fields': true,
        },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        closed: { type: 'object' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        email: { type: 'string', format: 'email' },
      },
    },
    status: { type: 'object', properties: { replicas: { type: 'integer' }, selector: { type: 'string' } } },
  },
};

const messages = (obj: unknown) => new SchemaValidator(schema).validate(obj).map(formatFieldError);

test('valid objects pass', () => {
  assert.deepEqual(messages({ spec: { name: 'abc', replicas: 3, port: 'http', maybe: null, tags: ['x', 'y'] } }), []);
  assert.deepEqual(messages({ spec: { name: 'abc', port: 8080 } }), []);
});

test('validation messages and paths follow upstream', () => {
  assert.deepEqual(messages({ spec: { name: 'abc', replicas: 11 } }), [
    'spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10',
  ]);
  assert.deepEqual(messages({ spec: { name: 'abc', replicas: -1 } }), [
    'spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0',
  ]);
  assert.deepEqual(messages({ spec: { name: 'abc', size: 'x' } }), [
    'spec.size: Unsupported value: "x": supported values: "a", "b"',
  ]);
  assert.deepEqual(messages({ spec: {} }), ['spec.name: Required value']);
  assert.deepEqual(messages({ spec: { name: 'abc', replicas: 'three' } }), [
    'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"',
  ]);
  assert.deepEqual(messages({ spec: { name: 'a' } }), [
    'spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long',
  ]);
  assert.deepEqual(messages({ spec: { name: 'abcdefghij' } }), ['spec.name: Too long: may not be longer than 8']);
  assert.deepEqual(messages({ spec: { name: 'ABC' } }), [
    'spec.name: Invalid value: "ABC": spec.name in body should match \'^[a-z]+$\'',
  ]);
  assert.deepEqual(messages({ spec: { name: 'abc', port: true } }), [
    'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
  ]);
  assert.deepEqual(messages({ spec: { name: 'abc', tags: ['a', 'b', 'c', 'd'] } }), [
    'spec.tags: Too many: 4: must have at most 3 items',
  ]);
  assert.deepEqual(messages({ spec: { name: 'abc', tags: ['a', 'a'] } }), ['spec.tags[1]: Duplicate value: "a"']);
  assert.deepEqual(messages({ spec: { name: 'abc', ports: [{ name: 'x' }, { name: 'x', port: 2 }] } }), [
    'spec.ports[1]: Duplicate value: {"name":"x"}',
  ]);
  assert.deepEqual(messages({ spec: { name: 'abc', ports: [{ port: 1 }] } }), ['spec.ports[0].name: Required value']);
  assert.deepEqual(messages({ spec: { name: 'abc', template: { foo: 1 } } }), [
    'spec.template.apiVersion: Required value: must not be empty',
    'spec.template.kind: Required value: must not be empty',
  ]);
  assert.deepEqual(messages({ spec: { name: 'abc', email: 'nope' } }), [
    'spec.email: Invalid value: "nope": spec.email in body must be of type email: "nope"',
  ]);
  assert.deepEqual(messages({ spec: { name: 'abc', labels: { a: 1 } } }), [
    'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"',
  ]);
});

test('defaulting fills missing fields, list items and non-nullable nulls', () => {
  const obj: any = { spec: { name: 'abc', replicas: null, ports: [{ name: 'http' }] } };
  applyDefaults(obj, schema);
  assert.deepEqual(obj.spec, { name: 'abc', replicas: 1, size: 'a', ports: [{ name: 'http', port: 80 }] });
  const kept: any = { spec: { replicas: 5, size: 'b', maybe: null } };
  applyDefaults(kept, schema);
  assert.deepEqual(kept.spec, { replicas: 5, size: 'b', maybe: null });
});

test('pruning drops unknown fields except where preserved', () => {
  const pub = publishedSchema('stable.example.com', 'v1', 'Widget', 'WidgetList', schema);
  assert.equal(pub.definition, 'com.example.stable.v1.Widget');
  const obj: any = {
    apiVersion: 'stable.example.com/v1',
    kind: 'Widget',
    metadata: { name: 'w', bogus: 1 },
    spec: {
      name: 'abc',
      extra: 1,
      free: { anything: { goes: true } },
      closed: { gone: 1 },
      template: { apiVersion: 'v1', kind: 'Pod', x: 1 },
      labels: { a: 'b' },
    },
    status: { replicas: 1, nope: 2 },
    top: 1,
  };
  const found: string[] = [];
  pruneUnknown(obj, pub.definitions[pub.definition], '', found, pub.definitions);
  assert.deepEqual(found.sort(), ['metadata.bogus', 'spec.closed.gone', 'spec.extra', 'status.nope', 'top']);
  assert.deepEqual(obj.spec.free, { anything: { goes: true } });
  assert.deepEqual(obj.spec.template, { apiVersion: 'v1', kind: 'Pod', x: 1 });
  assert.deepEqual(obj.spec.closed, {});
});

function crd(extra: any = {}): any {
  const c: any = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.stable.example.com' },
    spec: {
      group: 'stable.example.com',
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', shortNames: ['wd'], categories: ['all'] },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: schema },
          subresources: {
            status: {},
            scale: {
              specReplicasPath: '.spec.replicas',
              statusReplicasPath: '.status.replicas',
              labelSelectorPath: '.status.selector',
            },
          },
          additionalPrinterColumns: [
            { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' },
            { name: 'Size', type: 'string', jsonPath: '.spec.size', priority: 1 },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
        },
        { name: 'v1beta1', served: true, storage: false, deprecated: true, schema: { openAPIV3Schema: schema } },
      ],
      ...extra,
    },
  };
  defaultCRD(c);
  return c;
}

test('a CRD builds a resource definition', async () => {
  const { def, schemas } = buildResource(crd());
  assert.equal(def.kind, 'Widget');
  assert.equal(def.listKind, 'WidgetList');
  assert.equal(def.namespaced, true);
  assert.equal(def.storageVersion, 'v1');
  assert.deepEqual(
    def.versions.map((v) => v.name),
    ['v1', 'v1beta1'],
  );
  assert.equal(def.versions[1].deprecated, true);
  assert.equal(def.versions[1].deprecationWarning, 'stable.example.com/v1beta1 Widget is deprecated');
  assert.deepEqual(def.shortNames, ['wd']);
  assert.deepEqual(def.categories, ['all']);
  assert.equal(def.subresources?.status, true);
  assert.equal(def.subresources?.scale?.labelSelectorPath, '.status.selector');
  assert.equal(def.generationTracksSpec, true);
  assert.deepEqual(
    schemas.map((s) => s.version),
    ['v1', 'v1beta1'],
  );
  // Conversion (None): only apiVersion changes; request-version defaults apply.
  const stored = await def.versions[1].toStorage!({
    apiVersion: 'stable.example.com/v1beta1',
    kind: 'Widget',
    metadata: { name: 'w' },
    spec: { name: 'abc' },
  });
  assert.equal(stored.apiVersion, 'stable.example.com/v1');
  assert.equal((stored as any).spec.replicas, 1);
  const served = await def.versions[1].fromStorage!({
    apiVersion: 'stable.example.com/v1',
    kind: 'Widget',
    metadata: { name: 'w' },
    spec: { name: 'abc' },
  });
  assert.equal(served.apiVersion, 'stable.example.com/v1beta1');
  assert.equal((served as any).spec.size, 'a');
  // Validation of the storage version through the strategy.
  const errs = def.validate!({ metadata: { name: 'w' }, spec: { name: 'abc', replicas: 11 } }, {} as any);
  assert.equal(errs.length, 1);
  assert.equal(errs[0].field, 'spec.replicas');
});

test('printer columns: jsonpath cells, priority and default AGE', () => {
  const { def } = buildResource(crd());
  const now = Date.parse('2025-01-01T00:10:00Z');
  const obj = {
    metadata: { name: 'w', creationTimestamp: '2025-01-01T00:00:00Z' },
    spec: { replicas: 3 },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  };
  const t = toTable(def.table, [obj], {}, { includeObject: 'None' });
  assert.deepEqual(
    t.columnDefinitions.map((c: any) => [c.name, c.type, c.priority]),
    [
      ['Name', 'string', 0],
      ['Replicas', 'integer', 0],
      ['Size', 'string', 1],
      ['Ready', 'string', 0],
      ['Age', 'date', 0],
    ],
  );
  assert.equal(t.columnDefinitions[0].format, 'name');
  const cells = def.table!.map((c) => c.cell(obj, now));
  assert.deepEqual(cells, ['w', 3, '<none>', 'True', '10m']);
  const plain = tableFor(undefined);
  assert.deepEqual(
    plain.map((c) => c.name),
    ['Name', 'Age'],
  );
});

test('structural schema rules reject non-structural CRDs with upstream paths', () => {
  const bad = crd();
  bad.spec.versions[0].schema.openAPIV3Schema = {
    type: 'object',
    properties: { spec: { properties: { x: { type: 'string' } } } },
  };
  const msgs = validateCRD(bad).map(formatFieldError);
  assert.ok(
    msgs.includes(
      'spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields',
    ),
    msgs.join('\n'),
  );
  const arr = crd();
  arr.spec.versions[0].schema.openAPIV3Schema = { type: 'object', properties: { list: { type: 'array' } } };
  assert.ok(
    validateCRD(arr)
      .map(formatFieldError)
      .includes('spec.versions[0].schema.openAPIV3Schema.properties[list].items: Required value: must be specified'),
  );
  const dflt = crd();
  dflt.spec.versions[0].schema.openAPIV3Schema = {
    type: 'object',
    properties: { spec: { type: 'object', properties: { n: { type: 'integer', default: 'x' } } } },
  };
  assert.ok(
    validateCRD(dflt)
      .map(formatFieldError)
      .includes(
        'spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[n].default: Invalid value: "string": spec.n in body must be of type integer: "string"',
      ),
    validateCRD(dflt).map(formatFieldError).join('\n'),
  );
  const col = crd();
  col.spec.versions[0].additionalPrinterColumns = [{ name: 'X', type: 'text', jsonPath: '.spec.x' }];
  assert.ok(
    validateCRD(col)
      .map(formatFieldError)
      .some((m) => m.startsWith('spec.versions[0].additionalPrinterColumns[0].type: Unsupported value: "text"')),
  );
  assert.deepEqual(validateCRD(crd()), []);
});

test('names: a kind conflict in the same group is reported, not served', () => {
  const first = crd();
  first.status = { acceptedNames: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' } };
  const second = crd();
  second.metadata.name = 'gadgets.stable.example.com';
  second.spec.names = { plural: 'gadgets', singular: 'gadget', kind: 'Widget', listKind: 'GadgetList' };
  const r = calculateNames(second, [first, second]);
  assert.equal(r.namesAccepted.status, 'False');
  assert.equal(r.namesAccepted.reason, 'KindConflict');
  assert.equal(r.namesAccepted.message, '"Widget" is already in use');
  assert.equal(r.established.status, 'False');
  assert.equal(r.established.reason, 'NotAccepted');
  const ok = calculateNames(first, [first, second]);
  assert.equal(ok.namesAccepted.status, 'True');
  assert.equal(ok.namesAccepted.reason, 'NoConflicts');
  assert.equal(ok.established.reason, 'InitialNamesAccepted');
});

test('webhook conversion posts one ConversionReview v1 per batch, asynchronously', async () => {
  const http = await import('node:http');
  // The webhook runs on this thread: conversion must not block the event loop.
  const reviews: any[] = [];
  const server = http.createServer((req, res) => {
    let b = '';
    req.on('data', (c) => (b += c));
    req.on('end', () => {
      const review = JSON.parse(b);
      reviews.push(review);
      const objs = review.request.objects.map((o: any) => ({
        ...o,
        apiVersion: review.request.desiredAPIVersion,
        spec: { ...o.spec, converted: review.apiVersion },
      }));
      res.setHeader('Content-Type', 'application/json');
      res.end(
        JSON.stringify({
          apiVersion: 'apiextensions.k8s.io/v1',
          kind: 'ConversionReview',
          response: { uid: review.request.uid, convertedObjects: objs, result: { status: 'Success' } },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as any).port;
  try {
    const { webhookConverter } = await import('../../src/apiserver/crd/conversion.js');
    const conv = webhookConverter('widgets.stable.example.com', 'Widget', {
      strategy: 'Webhook',
      webhook: { conversionReviewVersions: ['v1'], clientConfig: { url: `http://127.0.0.1:${port}/convert` } },
    });
    const same = { apiVersion: 'stable.example.com/v1', kind: 'Widget', metadata: { name: 'x' } };
    // Nothing to convert: no call, synchronous.
    assert.ok(Array.isArray(conv.convert([same], 'stable.example.com/v1')));
    const pending = conv.convert(
      [
        { apiVersion: 'stable.example.com/v1beta1', kind: 'Widget', metadata: { name: 'w' }, spec: { a: 1 } },
        same,
        { apiVersion: 'stable.example.com/v1beta1', kind: 'Widget', metadata: { name: 'z' }, spec: { a: 2 } },
      ],
      'stable.example.com/v1',
    );
    assert.ok(pending instanceof Promise);
    const out = await pending;
    assert.equal(reviews.length, 1);
    assert.equal(reviews[0].request.objects.length, 2);
    assert.deepEqual(
      out.map((o) => o.metadata.name),
      ['w', 'x', 'z'],
    );
    assert.equal(out[0].apiVersion, 'stable.example.com/v1');
    assert.deepEqual((out[0] as any).spec, { a: 1, converted: 'apiextensions.k8s.io/v1' });
    assert.equal(out[1], same);
    const svc = webhookConverter('widgets.stable.example.com', 'Widget', {
      strategy: 'Webhook',
      webhook: { conversionReviewVersions: ['v1'], clientConfig: { service: { namespace: 'default', name: 'conv' } } },
    });
    await assert.rejects(
      async () =>
        svc.convert(
          [{ apiVersion: 'stable.example.com/v1beta1', kind: 'Widget', metadata: { name: 'w' } }],
          'stable.example.com/v1',
        ),
      (err: any) =>
        err.code === 500 &&
        err.reason === 'InternalError' &&
        /conversion webhook for stable.example.com\/v1beta1, Kind=Widget failed: Post "https:\/\/conv\.default\.svc:443\/": /.test(
          err.message,
        ),
    );
    const down = webhookConverter('widgets.stable.example.com', 'Widget', {
      strategy: 'Webhook',
      webhook: { conversionReviewVersions: ['v1'], clientConfig: { url: 'http://127.0.0.1:1/convert' } },
    });
    await assert.rejects(
      async () =>
        down.convert(
          [{ apiVersion: 'stable.example.com/v1beta1', kind: 'Widget', metadata: { name: 'w' } }],
          'stable.example.com/v1',
        ),
      (err: any) =>
        err.code === 500 &&
        /^Internal error occurred: conversion webhook for stable.example.com\/v1beta1, Kind=Widget failed: Post "http:\/\/127.0.0.1:1\/convert": /.test(
          err.message,
        ),
    );
  } finally {
    server.close();
  }
});
