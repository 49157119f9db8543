import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getDefinition, type Definitions } from '../../src/machinery/openapi/definitions.js';
import { FieldSet, pathToString } from '../../src/machinery/ssa/fieldset.js';
import { compare, merge, toFieldSet, type TypeRef } from '../../src/machinery/ssa/typed.js';
import { applyOperation, recordUpdateOperation, LAST_APPLIED } from '../../src/machinery/ssa/manager.js';
import { ApiError } from '../../src/machinery/errors.js';

const DEPLOY: TypeRef = { schema: getDefinition('io.k8s.api.apps.v1.Deployment') };
const CM: TypeRef = { schema: getDefinition('io.k8s.api.core.v1.ConfigMap') };

const stub = (name = 'web') => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'default' },
});

function deployment(
  over: { replicas?: number; image?: string; containers?: any[]; labels?: Record<string, string> } = {},
): any {
  const spec: any = {
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: over.containers ?? [{ name: 'nginx', image: over.image ?? 'nginx:1.27' }] },
    },
  };
  if (over.replicas !== undefined) spec.replicas = over.replicas;
  const metadata: any = { name: 'web', namespace: 'default' };
  if (over.labels) metadata.labels = over.labels;
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata, spec };
}

const apply = (live: any, cfg: any, manager: string, force = false) =>
  applyOperation(live, cfg, { manager, force, apiVersion: 'apps/v1', type: DEPLOY, statusSubresource: true });

function conflictOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  assert.fail('expected a conflict');
}

// ---- field sets -----------------------------------------------------------------------------

test('FieldSet round-trips FieldsV1 and supports set algebra', () => {
  const v1 = { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } }, 'f:spec': { 'f:replicas': {} } };
  const s = FieldSet.fromFieldsV1(v1);
  assert.deepEqual(s.toFieldsV1(), v1);
  assert.ok(s.has(['f:spec', 'f:replicas']));
  assert.ok(s.has(['f:metadata', 'f:labels']));
  const other = FieldSet.of(['f:spec', 'f:replicas']);
  assert.deepEqual(s.difference(other).toFieldsV1(), { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } } });
  assert.deepEqual(s.intersection(other).toFieldsV1(), { 'f:spec': { 'f:replicas': {} } });
  assert.deepEqual(s.recursiveDifference(FieldSet.of(['f:metadata', 'f:labels'])).toFieldsV1(), {
    'f:spec': { 'f:replicas': {} },
  });
  assert.throws(() => FieldSet.fromFieldsV1({ 'x:bad': {} }));
  assert.equal(
    pathToString(['f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"nginx"}', 'f:image']),
    '.spec.template.spec.containers[name="nginx"].image',
  );
  assert.equal(pathToString(['f:metadata', 'f:finalizers', 'v:"a"']), '.metadata.finalizers[="a"]');
});

test('toFieldSet keys associative lists by their keys and treats atomic lists as leaves', () => {
  const d = deployment();
  d.spec.template.spec.containers[0].args = ['-v'];
  d.spec.template.spec.containers[0].ports = [{ containerPort: 80 }];
  d.metadata.finalizers = ['x'];
  const s = toFieldSet(d, DEPLOY).toFieldsV1() as any;
  const c = s['f:spec']['f:template']['f:spec']['f:containers']['k:{"name":"nginx"}'];
  assert.deepEqual(Object.keys(c), ['.', 'f:args', 'f:image', 'f:name', 'f:ports']);
  assert.deepEqual(c['f:args'], {});
  // protocol defaults to TCP in the key, as upstream's schema default.
  assert.deepEqual(c['f:ports'], { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } });
  assert.deepEqual(s['f:metadata']['f:finalizers'], { 'v:"x"': {} });
  // LabelSelector is an atomic struct: owned as a whole.
  assert.deepEqual(s['f:spec']['f:selector'], {});
});

// ---- merge ----------------------------------------------------------------------------------

test('merge: maps recursively, associative lists by key, sets by value, atomic lists replaced', () => {
  const live = deployment({
    containers: [
      { name: 'a', image: 'a:1', args: ['x', 'y'] },
      { name: 'b', image: 'b:1' },
    ],
  });
  live.metadata.finalizers = ['f1'];
  live.metadata.labels = { keep: 'yes' };
  const cfg = deployment({
    containers: [
      { name: 'b', image: 'b:2' },
      { name: 'c', image: 'c:1' },
      { name: 'a', args: ['z'] },
    ],
  });
  cfg.metadata.finalizers = ['f2'];
  cfg.metadata.labels = { add: 'yes' };
  const out = merge(live, cfg, DEPLOY) as any;
  assert.deepEqual(out.metadata.labels, { keep: 'yes', add: 'yes' });
  assert.deepEqual(out.metadata.finalizers, ['f1', 'f2']);
  const byName = Object.fromEntries(out.spec.template.spec.containers.map((c: any) => [c.name, c]));
  assert.deepEqual(Object.keys(byName).sort(), ['a', 'b', 'c']);
  assert.deepEqual(byName.a, { name: 'a', image: 'a:1', args: ['z'] }); // atomic list replaced, image kept
  assert.equal(byName.b.image, 'b:2');
  // The applied order wins for items both sides have.
  assert.deepEqual(
    out.spec.template.spec.containers.map((c: any) => c.name),
    ['b', 'c', 'a'],
  );
});

test('merge: x-kubernetes-map-type atomic replaces, CR list types come from the schema', () => {
  const extra: Definitions = {
    'com.example.v1.Widget': {
      type: 'object',
      properties: {
        spec: {
          type: 'object',
          properties: {
            ports: {
              type: 'array',
              'x-kubernetes-list-type': 'map',
              'x-kubernetes-list-map-keys': ['name'],
              items: { type: 'object', properties: { name: { type: 'string' }, port: { type: 'integer' } } },
            },
            tags: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
            plain: { type: 'array', items: { type: 'string' } },
            sel: { type: 'object', 'x-kubernetes-map-type': 'atomic', additionalProperties: { type: 'string' } },
          },
        },
      },
    },
  };
  const W: TypeRef = { schema: extra['com.example.v1.Widget'], extra };
  const live = { spec: { ports: [{ name: 'http', port: 80 }], tags: ['a'], plain: ['a'], sel: { a: '1' } } };
  const cfg = { spec: { ports: [{ name: 'https', port: 443 }], tags: ['b'], plain: ['b'], sel: { b: '2' } } };
  assert.deepEqual(merge(live, cfg, W), {
    spec: {
      ports: [
        { name: 'http', port: 80 },
        { name: 'https', port: 443 },
      ],
      tags: ['a', 'b'],
      plain: ['b'],
      sel: { b: '2' },
    },
  });
  const fs = toFieldSet(cfg, W).toFieldsV1() as any;
  assert.deepEqual(fs['f:spec']['f:ports'], { 'k:{"name":"https"}': { '.': {}, 'f:name': {}, 'f:port': {} } });
  assert.deepEqual(fs['f:spec']['f:tags'], { 'v:"b"': {} });
  assert.deepEqual(fs['f:spec']['f:plain'], {});
  assert.deepEqual(fs['f:spec']['f:sel'], {});
});

test('compare reports added, removed and modified leaves', () => {
  const a = { data: { x: '1', y: '2' } };
  const b = { data: { x: '1', y: '3', z: '4' } };
  const c = compare(a, b, CM);
  assert.deepEqual(c.modified.toFieldsV1(), { 'f:data': { 'f:y': {} } });
  assert.deepEqual(c.added.toFieldsV1(), { 'f:data': { 'f:z': {} } });
  assert.ok(c.removed.isEmpty());
});

// ---- apply ----------------------------------------------------------------------------------

test('apply on a missing object creates an Apply entry with the applied fields', () => {
  const out = apply(stub(), deployment({ replicas: 2 }), 'a');
  assert.equal(out.spec.replicas, 2);
  assert.equal(out.metadata.managedFields.length, 1);
  const e = out.metadata.managedFields[0];
  assert.equal(e.manager, 'a');
  assert.equal(e.operation, 'Apply');
  assert.equal(e.apiVersion, 'apps/v1');
  assert.equal(e.fieldsType, 'FieldsV1');
  assert.ok(e.time);
  assert.deepEqual(e.fieldsV1['f:spec']['f:replicas'], {});
  assert.equal(e.fieldsV1['f:metadata'], undefined, 'name and namespace are not owned');
});

test('apply conflicts with another manager, force takes the field', () => {
  const first = apply(stub(), deployment({ replicas: 2 }), 'a');
  const err = conflictOf(() => apply(first, deployment({ replicas: 3 }), 'b'));
  assert.equal(err.code, 409);
  assert.equal(err.reason, 'Conflict');
  assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "a": .spec.replicas');
  assert.deepEqual(err.details?.causes, [
    { reason: 'FieldManagerConflict', message: 'conflict with "a"', field: '.spec.replicas' },
  ]);
  const forced = apply(first, deployment({ replicas: 3 }), 'b', true);
  assert.equal(forced.spec.replicas, 3);
  const a = forced.metadata.managedFields.find((e: any) => e.manager === 'a');
  const b = forced.metadata.managedFields.find((e: any) => e.manager === 'b');
  assert.equal(a.fieldsV1['f:spec']['f:replicas'], undefined);
  assert.deepEqual(b.fieldsV1['f:spec']['f:replicas'], {});
  // a still co-owns the fields it applied with equal values.
  assert.ok(a.fieldsV1['f:spec']['f:template']);
});

test('applying an equal value shares ownership; an Update conflict names the version', () => {
  const first = apply(stub(), deployment({ replicas: 2 }), 'a');
  const shared = apply(first, deployment({ replicas: 2 }), 'b');
  assert.equal(shared.metadata.managedFields.length, 2);
  for (const e of shared.metadata.managedFields) assert.deepEqual(e.fieldsV1['f:spec']['f:replicas'], {});
  // An update by kubectl-edit takes replicas from both.
  const edited = structuredClone(shared);
  edited.spec.replicas = 5;
  recordUpdateOperation(edited, shared, {
    manager: 'kubectl-edit',
    apiVersion: 'apps/v1',
    type: DEPLOY,
    statusSubresource: true,
  });
  const upd = edited.metadata.managedFields.find((e: any) => e.manager === 'kubectl-edit');
  assert.equal(upd.operation, 'Update');
  assert.deepEqual(upd.fieldsV1, { 'f:spec': { 'f:replicas': {} } });
  for (const e of edited.metadata.managedFields.filter((e: any) => e.operation === 'Apply'))
    assert.equal(e.fieldsV1['f:spec']['f:replicas'], undefined);
  const err = conflictOf(() => apply(edited, deployment({ replicas: 7 }), 'a'));
  assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas');
});

test('a field a manager stops applying is removed unless someone else owns it', () => {
  const first = apply(stub(), deployment({ replicas: 2, labels: { a: '1', b: '2' } }), 'a');
  const second = apply(first, deployment({ labels: { a: '1' } }), 'a');
  assert.equal(second.spec.replicas, undefined);
  assert.deepEqual(second.metadata.labels, { a: '1' });
  // Removing the last label removes the map.
  const third = apply(second, deployment({}), 'a');
  assert.equal(third.metadata.labels, undefined);
  // Shared: b also applied replicas, so a dropping it keeps it.
  const s1 = apply(apply(stub(), deployment({ replicas: 2 }), 'a'), deployment({ replicas: 2 }), 'b');
  const s2 = apply(s1, deployment({}), 'a');
  assert.equal(s2.spec.replicas, 2);
  // Containers of an associative list go when no longer applied.
  const c1 = apply(
    stub(),
    deployment({
      containers: [
        { name: 'x', image: 'x' },
        { name: 'y', image: 'y' },
      ],
    }),
    'a',
  );
  const c2 = apply(c1, deployment({ containers: [{ name: 'x', image: 'x' }] }), 'a');
  assert.deepEqual(c2.spec.template.spec.containers, [{ name: 'x', image: 'x' }]);
});

test('multiple conflicts are listed per manager', () => {
  const first = apply(stub(), deployment({ replicas: 2, image: 'nginx:1' }), 'a');
  const err = conflictOf(() => apply(first, deployment({ replicas: 3, image: 'nginx:2' }), 'b'));
  assert.equal(
    err.message,
    'Apply failed with 2 conflicts: conflicts with "a":\n- .spec.replicas\n- .spec.template.spec.containers[name="nginx"].image',
  );
  assert.equal(err.details?.causes?.length, 2);
});

test('apply rejects managedFields in the configuration and a wrong apiVersion', () => {
  const cfg: any = deployment();
  cfg.metadata.managedFields = [];
  assert.throws(
    () => apply(stub(), cfg, 'a'),
    (e: any) => e.code === 400 && /managedFields must be nil/.test(e.message),
  );
  const wrong: any = deployment();
  wrong.apiVersion = 'apps/v1beta1';
  assert.throws(
    () => apply(stub(), wrong, 'a'),
    (e: any) => e.code === 400 && /Incorrect version/.test(e.message),
  );
  const dup: any = deployment({ containers: [{ name: 'x' }, { name: 'x' }] });
  assert.throws(
    () => apply(stub(), dup, 'a'),
    (e: any) => e.code === 400 && /duplicate entries/.test(e.message),
  );
});

test('status is not owned through the main resource when status is a subresource', () => {
  const cfg: any = deployment({ replicas: 1 });
  cfg.status = { replicas: 9 };
  const out = apply(stub(), cfg, 'a');
  assert.equal(out.metadata.managedFields[0].fieldsV1['f:status'], undefined);
});

// ---- update ---------------------------------------------------------------------------------

test('Update operations record changed fields; explicit managedFields are honoured or reset', () => {
  const created = deployment({ replicas: 1, labels: { app: 'web' } });
  recordUpdateOperation(created, undefined, { manager: 'kubectl-create', apiVersion: 'apps/v1', type: DEPLOY });
  const e = created.metadata.managedFields[0];
  assert.equal(e.operation, 'Update');
  assert.deepEqual(e.fieldsV1['f:metadata'], { 'f:labels': { '.': {}, 'f:app': {} } });
  // A no-op update leaves managedFields (and their times) untouched.
  const same = structuredClone(created);
  recordUpdateOperation(same, created, { manager: 'other', apiVersion: 'apps/v1', type: DEPLOY });
  assert.deepEqual(same.metadata.managedFields, created.metadata.managedFields);
  // Explicit valid managedFields replace them.
  const rewritten = structuredClone(created);
  rewritten.metadata.managedFields = [
    {
      manager: 'm',
      operation: 'Apply',
      apiVersion: 'apps/v1',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:spec': { 'f:replicas': {} } },
    },
  ];
  recordUpdateOperation(rewritten, created, { manager: 'kubectl', apiVersion: 'apps/v1', type: DEPLOY });
  assert.deepEqual(
    rewritten.metadata.managedFields.map((x: any) => x.manager),
    ['m'],
  );
  // Invalid ones are ignored in favour of the live object's.
  const invalid = structuredClone(created);
  invalid.metadata.managedFields = [
    { manager: 'm', operation: 'Bogus', apiVersion: 'apps/v1', fieldsType: 'FieldsV1', fieldsV1: {} },
  ];
  recordUpdateOperation(invalid, created, { manager: 'kubectl', apiVersion: 'apps/v1', type: DEPLOY });
  assert.deepEqual(invalid.metadata.managedFields, created.metadata.managedFields);
  // [{}] resets them: only this update's changes remain.
  const reset = structuredClone(created);
  reset.metadata.managedFields = [{}];
  recordUpdateOperation(reset, created, { manager: 'kubectl', apiVersion: 'apps/v1', type: DEPLOY });
  assert.equal(reset.metadata.managedFields, undefined);
});

test('kubectl server-side apply over client-side apply: no conflicts with kubectl-client-side-apply', () => {
  const cfg = deployment({ replicas: 2 });
  const created: any = structuredClone(cfg);
  created.metadata.annotations = { [LAST_APPLIED]: JSON.stringify(cfg) };
  recordUpdateOperation(created, undefined, {
    manager: 'kubectl-client-side-apply',
    apiVersion: 'apps/v1',
    type: DEPLOY,
  });
  const next = deployment({ replicas: 3 });
  // Another manager would conflict...
  assert.equal(conflictOf(() => apply(created, next, 'other')).code, 409);
  // ...kubectl does not, and keeps the annotation in step.
  const out = apply(created, next, 'kubectl');
  assert.equal(out.spec.replicas, 3);
  assert.equal(JSON.parse(out.metadata.annotations[LAST_APPLIED]).spec.replicas, 3);
  const kubectl = out.metadata.managedFields.find((e: any) => e.manager === 'kubectl');
  assert.equal(kubectl.operation, 'Apply');
});

test('apply: dropping the last label a manager set keeps the metadata nobody owns (name, uid)', () => {
  const live = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', namespace: 'ns', uid: 'u1', resourceVersion: '5' },
    spec: { replicas: 1 },
  };
  const first = apply(
    live,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', labels: { tier: 'web' } },
      spec: { replicas: 2 },
    },
    'm',
  );
  assert.equal(first.metadata.labels.tier, 'web');
  const second = apply(
    first,
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { replicas: 2 } },
    'm',
  );
  assert.equal(second.metadata.labels, undefined);
  assert.equal(second.metadata.name, 'd');
  assert.equal(second.metadata.namespace, 'ns');
  assert.equal(second.metadata.uid, 'u1');
});
