// Keys that name members of Object.prototype (`__proto__`, `constructor`, `toString`,
// `hasOwnProperty`...) are ordinary keys when they come from request data: every walker below
// gets them at several levels and must give the result it gives for any other key, without
// ever reaching Object.prototype (which would change every object in the server).
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { jsonPatch, mergePatch, strategicMergePatch, PatchError } from '../../src/machinery/patch/index.js';
import { applyOperation, recordUpdateOperation } from '../../src/machinery/ssa/manager.js';
import { undeclaredFields } from '../../src/machinery/ssa/typed.js';
import { deepEqual, getPath, setPath, setOwn } from '../../src/machinery/objects.js';
import { childSchema, getDefinition } from '../../src/machinery/openapi/definitions.js';
import { BuiltinFieldSchema } from '../../src/apiserver/fieldschema.js';
import { decodeBody } from '../../src/apiserver/http.js';
import { toTable } from '../../src/apiserver/table.js';
import { parseSelector, selectorFromSet, labelSelectorMatches } from '../../src/machinery/labels.js';
import { parseFieldSelector } from '../../src/machinery/fields.js';
import { evaluate } from '../../src/machinery/jsonpath.js';
import { isConfigMapKey, validateLabels } from '../../src/machinery/validation.js';
import { path } from '../../src/machinery/fielderrors.js';
import { Indexer } from '../../src/client/informer.js';
import { defaultSecret } from '../../src/api/core/v1/secret.js';
import { defaultLimitRange } from '../../src/api/core/v1/limitrange.js';
import * as errors from '../../src/machinery/errors.js';
import { applyDefaults, publishedSchema } from '../../src/machinery/crdschema/schema.js';

const PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();
const OBJECT_NAMES = Object.getOwnPropertyNames(Object).sort();

/** Object.prototype and Object are as they were, and a fresh object has nothing inherited. */
function assertUnpolluted(): void {
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTO_NAMES);
  assert.deepEqual(Object.getOwnPropertyNames(Object).sort(), OBJECT_NAMES);
  assert.equal(({} as any).polluted, undefined);
  assert.equal((Object as any).polluted, undefined);
}
afterEach(assertUnpolluted);

/** A request body as the server gets it: JSON.parse makes `__proto__` an own property. */
const body = (json: string): any => JSON.parse(json);
const hasOwn = (o: unknown, k: string) => Object.hasOwn(o as object, k);

const CM = 'io.k8s.api.core.v1.ConfigMap';
const CM_TYPE = { schema: getDefinition(CM) };
const cm = (extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'c', namespace: 'd' },
  ...extra,
});

// ---- objects.ts ------------------------------------------------------------------------------

test('objects: getPath/setPath follow own members; setOwn and deepEqual treat the names as keys', () => {
  const o: any = body('{"a":{"__proto__":{"x":1}}}');
  assert.equal(getPath(o, 'a.__proto__.x'), 1);
  assert.equal(getPath({}, 'constructor'), undefined);
  assert.equal(getPath({}, '__proto__.polluted'), undefined);
  assert.equal(getPath({ a: {} }, 'a.toString'), undefined);
  const t: any = {};
  setPath(t, '__proto__.polluted', 'yes');
  setPath(t, 'constructor.prototype.polluted', 'yes');
  assert.ok(hasOwn(t, '__proto__') && hasOwn(t, 'constructor'));
  assert.equal(Object.getPrototypeOf(t), Object.prototype);
  assert.equal(JSON.stringify(t), '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}');
  const s: any = {};
  setOwn(s, '__proto__', 'v');
  assert.equal(JSON.stringify(s), '{"__proto__":"v"}');
  // A key missing on one side is missing, not the inherited member.
  assert.equal(deepEqual({}, { constructor: {} }), false);
  assert.equal(deepEqual({ constructor: {} }, {}), false);
  assert.equal(deepEqual(body('{"__proto__":{}}'), {}), false);
  assert.equal(deepEqual(body('{"__proto__":{"a":1}}'), body('{"__proto__":{"a":1}}')), true);
});

// ---- patches ---------------------------------------------------------------------------------

test('merge patch: __proto__/constructor are members to add, merge and delete', () => {
  const target = body('{"metadata":{"name":"a","labels":{"constructor":"c"}}}');
  const out: any = mergePatch(
    target,
    body('{"metadata":{"__proto__":{"polluted":"yes"},"constructor":{"x":"y"},"labels":{"toString":"t"}}}'),
  );
  assert.ok(hasOwn(out.metadata, '__proto__'));
  assert.equal(Object.getPrototypeOf(out.metadata), Object.prototype);
  assert.equal(
    JSON.stringify(out),
    '{"metadata":{"name":"a","labels":{"constructor":"c","toString":"t"},"__proto__":{"polluted":"yes"},"constructor":{"x":"y"}}}',
  );
  // Merging into an existing own __proto__ member, and deleting members.
  const merged: any = mergePatch(
    out,
    body('{"metadata":{"__proto__":{"more":1},"labels":{"constructor":null,"hasOwnProperty":null}}}'),
  );
  assert.equal(JSON.stringify(merged.metadata.__proto__), '{"polluted":"yes","more":1}');
  assert.deepEqual(merged.metadata.labels, { toString: 't' });
  const removed: any = mergePatch(merged, body('{"metadata":{"__proto__":null,"constructor":null}}'));
  assert.equal(hasOwn(removed.metadata, '__proto__') || hasOwn(removed.metadata, 'constructor'), false);
});

test('strategic merge patch: the reproduction and hostile keys in typed and free-form maps', () => {
  const target = cm({ data: { a: 'b' } });
  const out: any = strategicMergePatch(target, body('{"metadata":{"__proto__":{"polluted":"yes"}}}'), CM);
  assert.ok(hasOwn(out.metadata, '__proto__'));
  assertUnpolluted();
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', labels: { constructor: 'x' } },
    spec: { containers: [{ name: 'a', image: 'i' }] },
  };
  const patched: any = strategicMergePatch(
    pod,
    body(
      '{"metadata":{"labels":{"constructor":null,"toString":"t"},"annotations":{"__proto__":"p"}},"spec":{"constructor":{"prototype":{"polluted":"yes"}},"containers":[{"name":"a","__proto__":{"polluted":"yes"}}]}}',
    ),
    'io.k8s.api.core.v1.Pod',
  );
  assert.deepEqual(patched.metadata.labels, { toString: 't' });
  assert.ok(hasOwn(patched.metadata.annotations, '__proto__'));
  assert.ok(hasOwn(patched.spec, 'constructor'));
  assert.ok(hasOwn(patched.spec.containers[0], '__proto__'));
  // $setElementOrder and $deleteFromPrimitiveList for such keys are plain (missing) lists.
  const ordered: any = strategicMergePatch(
    { a: 1 },
    body('{"$setElementOrder/constructor":[],"$deleteFromPrimitiveList/toString":["x"]}'),
  );
  assert.deepEqual(ordered, { a: 1 });
});

test('json patch: pointers follow own members only, with upstream messages', () => {
  const doc = () => body('{"metadata":{"name":"a","labels":{"constructor":"c"}},"data":{}}');
  const fails = (ops: unknown[], message: string) =>
    assert.throws(
      () => jsonPatch(doc(), ops),
      (err: unknown) => err instanceof PatchError && err.message === message,
    );
  fails(
    [{ op: 'add', path: '/metadata/__proto__/polluted', value: 'yes' }],
    'add operation does not apply: doc is missing path: "/metadata/__proto__/polluted": missing value',
  );
  fails(
    [{ op: 'add', path: '/metadata/constructor/prototype/polluted', value: 'yes' }],
    'add operation does not apply: doc is missing path: "/metadata/constructor/prototype/polluted": missing value',
  );
  fails(
    [{ op: 'remove', path: '/data/toString' }],
    "error in remove for path: '/data/toString': Unable to remove nonexistent key: toString: missing value",
  );
  fails(
    [{ op: 'move', from: '/data/hasOwnProperty', path: '/data/x' }],
    "error in move for path: 'hasOwnProperty': Unable to remove nonexistent key: hasOwnProperty: missing value",
  );
  fails([{ op: 'test', path: '/data/valueOf', value: 'x' }], 'testing value /data/valueOf failed: test failed');
  // __proto__ is a key like any other: added, read, replaced, copied, removed as an own member.
  const out: any = jsonPatch(doc(), [
    { op: 'add', path: '/metadata/__proto__', value: { polluted: 'yes' } },
    { op: 'add', path: '/metadata/__proto__/more', value: 1 },
    { op: 'test', path: '/metadata/__proto__/polluted', value: 'yes' },
    { op: 'copy', from: '/metadata/__proto__', path: '/data/__proto__' },
    { op: 'replace', path: '/metadata/labels/constructor', value: 'd' },
    { op: 'add', path: '/data/constructor', value: 'v' },
    { op: 'remove', path: '/metadata/__proto__' },
    { op: 'test', path: '/data/toString', value: null },
  ]);
  assert.equal(
    JSON.stringify(out),
    '{"metadata":{"name":"a","labels":{"constructor":"d"}},"data":{"__proto__":{"polluted":"yes","more":1},"constructor":"v"}}',
  );
  assert.equal(Object.getPrototypeOf(out.data), Object.prototype);
  // Upstream's other rules hold too: replace of a missing member adds it, negative indexes count from the end.
  assert.deepEqual(
    jsonPatch({ a: [1, 2] }, [
      { op: 'replace', path: '/b', value: 1 },
      { op: 'remove', path: '/a/-1' },
      { op: 'add', path: '/a/-', value: 3 },
    ]),
    { a: [1, 3], b: 1 },
  );
});

// ---- server-side apply and managedFields -----------------------------------------------------

test('managedFields: Update operations record hostile keys like any other and compare them as own members', () => {
  const opts = (manager: string) => ({ manager, apiVersion: 'v1', type: CM_TYPE, now: () => '2024-01-01T00:00:00Z' });
  const created: any = body(
    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"constructor":"x"}},"data":{"__proto__":"p","toString":"t"}}',
  );
  recordUpdateOperation(created, undefined, opts('m'));
  assert.deepEqual(created.metadata.managedFields[0].fieldsV1, {
    'f:data': { 'f:__proto__': {}, 'f:toString': {} },
    'f:metadata': { 'f:labels': { '.': {}, 'f:constructor': {} } },
  });
  // Another manager removes them: a removal, which takes them from m.
  const next: any = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'c', labels: {}, managedFields: created.metadata.managedFields },
    data: {},
  };
  recordUpdateOperation(next, created, opts('n'));
  assert.deepEqual(
    next.metadata.managedFields.map((e: any) => [e.manager, e.fieldsV1]),
    [['m', { 'f:metadata': { 'f:labels': {} } }]],
  );
});

test('server-side apply: the reproduction (constructor tracked, then apply) and hostile data keys', () => {
  const opts = (manager: string, force = false) => ({
    manager,
    force,
    apiVersion: 'v1',
    type: CM_TYPE,
    now: () => '2024-01-01T00:00:00Z',
  });
  const live: any = body(
    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"d","labels":{"constructor":"x"}},"data":{"a":"b"}}',
  );
  recordUpdateOperation(live, undefined, { manager: 'patcher', apiVersion: 'v1', type: CM_TYPE });
  const applied = applyOperation(
    live,
    body(
      '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"d"},"data":{"__proto__":"p","constructor":"c","c":"d"}}',
    ),
    opts('applier'),
  );
  assert.equal(JSON.stringify(applied.data), '{"a":"b","__proto__":"p","constructor":"c","c":"d"}');
  assert.deepEqual(applied.metadata.labels, { constructor: 'x' });
  const mine = applied.metadata.managedFields.find((e: any) => e.manager === 'applier');
  assert.deepEqual(mine.fieldsV1, { 'f:data': { 'f:__proto__': {}, 'f:c': {}, 'f:constructor': {} } });
  // Applying again without them removes them (they are owned by nobody else).
  const again = applyOperation(
    applied,
    body('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"d"},"data":{"c":"d"}}'),
    opts('applier'),
  );
  assert.equal(JSON.stringify(again.data), '{"a":"b","c":"d"}');
  // A conflicting value for a key another manager owns is a conflict, named as upstream names it.
  assert.throws(
    () =>
      applyOperation(
        again,
        body(
          '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"d","labels":{"constructor":"y"}}}',
        ),
        opts('other'),
      ),
    (err: unknown) =>
      err instanceof errors.ApiError && err.code === 409 && /\.metadata\.labels\.constructor/.test(err.message),
  );
});

test('server-side apply: undeclared fields (hostile or not) are refused before anything is merged or recorded', () => {
  const config = body(
    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"d","__proto__":{"polluted":"yes"},"constructor":{"x":"y"}},"zzz":1}',
  );
  assert.deepEqual(undeclaredFields(config, CM_TYPE), [
    '.metadata.__proto__: field not declared in schema',
    '.metadata.constructor: field not declared in schema',
    '.zzz: field not declared in schema',
  ]);
  assert.throws(
    () => applyOperation(cm(), config, { manager: 'm', force: false, apiVersion: 'v1', type: CM_TYPE }),
    (err: unknown) =>
      err instanceof errors.ApiError &&
      err.code === 400 &&
      err.message ===
        'failed to create typed patch object (d/c; /v1, Kind=ConfigMap): errors:\n  .metadata.__proto__: field not declared in schema\n  .metadata.constructor: field not declared in schema\n  .zzz: field not declared in schema',
  );
  // Free-form maps (data, labels) and schemaless objects take any key.
  assert.deepEqual(
    undeclaredFields(body('{"metadata":{"labels":{"constructor":"x"}},"data":{"__proto__":"p"}}'), CM_TYPE),
    [],
  );
  assert.deepEqual(undeclaredFields(body('{"spec":{"__proto__":{"polluted":"yes"}}}'), { schema: undefined }), []);
});

// ---- schemas, pruning, decoding --------------------------------------------------------------

test('schemas: declared properties are own properties only; the pruner drops and reports hostile keys', () => {
  const meta = getDefinition('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta');
  assert.equal(childSchema(meta, 'constructor'), undefined);
  assert.equal(childSchema(meta, '__proto__'), undefined);
  assert.equal(childSchema({ type: 'object', properties: { a: { type: 'string' } } }, 'toString'), undefined);
  assert.equal(getDefinition('constructor'), undefined);
  const obj = body(
    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","__proto__":{"polluted":"yes"},"constructor":{"x":"y"}},"toString":"t","data":{"__proto__":"p","constructor":"c"}}',
  );
  assert.deepEqual(new BuiltinFieldSchema().prune('', 'v1', 'ConfigMap', obj), [
    'metadata.__proto__',
    'metadata.constructor',
    'toString',
  ]);
  assert.equal(
    JSON.stringify(obj),
    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"__proto__":"p","constructor":"c"}}',
  );
});

test('decoding: JSON and YAML bodies keep __proto__ as an own key', async () => {
  const json: any = await decodeBody('{"metadata":{"__proto__":{"polluted":"yes"}}}', 'application/json');
  const yaml: any = await decodeBody(
    'metadata:\n  __proto__: {polluted: "yes"}\n  constructor: {prototype: {polluted: "yes"}}\n',
    'application/yaml',
  );
  for (const o of [json, yaml]) {
    assert.ok(hasOwn(o.metadata, '__proto__'));
    assert.equal(Object.getPrototypeOf(o.metadata), Object.prototype);
  }
  assert.ok(hasOwn(yaml.metadata, 'constructor'));
});

// ---- selectors, JSONPath, tables, validation, defaulting, informers --------------------------

test('selectors: constructor/toString labels match as labels, and only when present', () => {
  assert.equal(parseSelector('constructor').matches({}), false);
  assert.equal(parseSelector('!toString').matches({}), true);
  assert.equal(parseSelector('constructor=x').matches({ constructor: 'x' }), true);
  assert.equal(parseSelector('constructor in (x)').matches({}), false);
  assert.equal(selectorFromSet({ constructor: 'x' }).matches({ app: 'a' }), false);
  assert.equal(labelSelectorMatches({ matchExpressions: [{ key: 'valueOf', operator: 'Exists' }] }, {}), false);
  assert.equal(labelSelectorMatches({ matchLabels: { hasOwnProperty: 'x' } }, { hasOwnProperty: 'x' }), true);
  const fields = parseFieldSelector('constructor=x');
  assert.equal(fields.matchesSet({}), false);
  assert.equal(parseFieldSelector('toString!=x').matchesSet({}), true);
});

test('JSONPath and tables read own members only', () => {
  const o = body('{"metadata":{"name":"n","__proto__":{"x":1}},"data":{}}');
  assert.deepEqual(evaluate('{.data.constructor}', o), []);
  assert.deepEqual(evaluate('{.metadata.__proto__.x}', o), [1]);
  assert.deepEqual(evaluate('{..toString}', o), []);
  const table = toTable(undefined, [o], {}, { includeObject: 'Object' });
  assert.equal(table.rows[0].cells[0], 'n');
  assert.equal(table.rows[0].object, o);
});

test('validation: constructor is a valid label and ConfigMap key, __proto__ a valid ConfigMap key only (as upstream)', () => {
  assert.deepEqual(validateLabels({ constructor: 'x', toString: 'y' }, path('metadata', 'labels')), []);
  const bad = validateLabels(body('{"__proto__":"x"}'), path('metadata', 'labels'));
  assert.equal(bad.length, 1);
  assert.match(bad[0].field, /metadata\.labels/);
  assert.deepEqual(isConfigMapKey('__proto__'), []);
  assert.deepEqual(isConfigMapKey('constructor'), []);
});

test('defaulting: Secret stringData and LimitRange defaults keep hostile keys as members', () => {
  const secret: any = body('{"stringData":{"__proto__":"a","constructor":"b"},"data":{"toString":"Yw=="}}');
  defaultSecret(secret);
  assert.equal(JSON.stringify(secret.data), '{"toString":"Yw==","__proto__":"YQ==","constructor":"Yg=="}');
  const lr: any = body(
    '{"spec":{"limits":[{"type":"Container","max":{"constructor":"1","__proto__":"2"},"default":{}}]}}',
  );
  defaultLimitRange(lr);
  assert.equal(JSON.stringify(lr.spec.limits[0].default), '{"constructor":"1","__proto__":"2"}');
  assert.equal(JSON.stringify(lr.spec.limits[0].defaultRequest), '{"constructor":"1","__proto__":"2"}');
});

test('informer indexer: index values named like Object.prototype members are ordinary values', () => {
  const byLabel = (o: any) => Object.keys(o.metadata.labels ?? {});
  const idx = new Indexer({ label: byLabel });
  idx.set('n/a', body('{"metadata":{"name":"a","namespace":"n","labels":{"constructor":"x","__proto__":"y"}}}'));
  idx.set('n/b', { metadata: { name: 'b', namespace: 'n', labels: {} } });
  assert.deepEqual(idx.indexKeys('label', 'constructor'), ['n/a']);
  assert.deepEqual(idx.indexKeys('label', '__proto__'), ['n/a']);
  assert.deepEqual(idx.indexKeys('label', 'toString'), []);
});

test('custom resources: schema properties named __proto__/constructor default, prune and publish as ordinary names', () => {
  const crdSchema = body(
    '{"type":"object","properties":{"spec":{"type":"object","properties":{"__proto__":{"type":"object","default":{},"properties":{"polluted":{"type":"string","default":"yes"}}},"constructor":{"type":"string","default":"c"},"size":{"type":"integer"}}}}}',
  );
  const value: any = { spec: {} };
  applyDefaults(value, crdSchema);
  assert.equal(JSON.stringify(value), '{"spec":{"__proto__":{"polluted":"yes"},"constructor":"c"}}');
  assert.equal(Object.getPrototypeOf(value.spec), Object.prototype);

  const published = publishedSchema('example.com', 'v1', 'Gadget', 'GadgetList', crdSchema);
  const root = published.definitions[published.definition];
  assert.deepEqual(Object.keys(root.properties!.spec.properties!), ['__proto__', 'constructor', 'size']);
  const schemas = new BuiltinFieldSchema();
  schemas.register('example.com', 'v1', 'Gadget', published.definition, published.definitions);
  const cr = body(
    '{"apiVersion":"example.com/v1","kind":"Gadget","metadata":{"name":"g","constructor":{}},"spec":{"__proto__":{"polluted":"yes","toString":"t"},"size":1,"hasOwnProperty":"h"},"valueOf":1}',
  );
  assert.deepEqual(schemas.prune('example.com', 'v1', 'Gadget', cr), [
    'metadata.constructor',
    'spec.__proto__.toString',
    'spec.hasOwnProperty',
    'valueOf',
  ]);
  assert.equal(
    JSON.stringify(cr),
    '{"apiVersion":"example.com/v1","kind":"Gadget","metadata":{"name":"g"},"spec":{"__proto__":{"polluted":"yes"},"size":1}}',
  );
  const type = schemas.typeFor('example.com', 'v1', 'Gadget')!;
  assert.deepEqual(
    undeclaredFields(body('{"spec":{"__proto__":{"polluted":"yes"},"constructor":"x","toString":1}}'), type),
    ['.spec.toString: field not declared in schema'],
  );
});
