// managedFields sets decoded from stored (frozen) objects are shared between writes: a write that
// only changes fields its manager owns keeps that manager's set, and its FieldsV1 encoding, as the
// previous version had them. These tests check that sharing changes no result, that the encoding
// really is reused, and that a shared set cannot be changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordUpdateOperation, type UpdateOptions } from '../../src/machinery/ssa/manager.js';
import { FieldSet } from '../../src/machinery/ssa/fieldset.js';
import { BuiltinFieldSchema } from '../../src/apiserver/fieldschema.js';

const schemas = new BuiltinFieldSchema();
const leaseType = schemas.typeFor('coordination.k8s.io', 'v1', 'Lease')!;
const podType = schemas.typeFor('', 'v1', 'Pod')!;

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

const lease = (renew: string, holder = 'n1') => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name: 'n1', namespace: 'kube-node-lease', labels: { a: 'b' } },
  spec: { holderIdentity: holder, leaseDurationSeconds: 40, renewTime: renew },
});

/** One write: `next` recorded over `old` as the store does it, with a fixed clock. */
function write(next: any, old: any, opts: Omit<UpdateOptions, 'now'>, time: string): any {
  recordUpdateOperation(next, old, { ...opts, now: () => time });
  return next;
}

/**
 * A chain of writes replayed twice: once over frozen stored objects (as the watch cache holds
 * them), once over plain copies. Each step's body carries the managedFields it read, as a PUT of
 * a fetched object does, unless `fresh` says the writer sent none (an in-process controller).
 */
function replay(frozen: boolean) {
  const kubelet = { manager: 'kubelet', apiVersion: 'coordination.k8s.io/v1', type: leaseType };
  const other = { manager: 'operator', apiVersion: 'coordination.k8s.io/v1', type: leaseType };
  const steps: { body: (prev: any) => any; opts: typeof kubelet }[] = [
    { body: () => lease('2026-12-07T10:00:00.000000Z'), opts: kubelet },
    ...[1, 2, 3].map((i) => ({
      body: (prev: any) => ({ ...lease(`2026-12-07T10:00:0${i}.000000Z`), metadata: { ...prev.metadata } }),
      opts: kubelet,
    })),
    // Another manager takes the holder: the kubelet's set shrinks, a second entry appears.
    {
      body: (prev: any) => ({ ...lease('2026-12-07T10:00:05.000000Z', 'n2'), metadata: { ...prev.metadata } }),
      opts: other,
    },
    {
      body: (prev: any) => ({ ...lease('2026-12-07T10:00:06.000000Z', 'n2'), metadata: { ...prev.metadata } }),
      opts: kubelet,
    },
    // No managedFields in the body (an in-process writer): the stored ones are taken.
    {
      body: (prev: any) => {
        const { managedFields: _m, ...meta } = prev.metadata;
        return { ...lease('2026-12-07T10:00:07.000000Z', 'n2'), metadata: meta };
      },
      opts: kubelet,
    },
  ];
  const out: any[] = [];
  let stored: any;
  steps.forEach((s, i) => {
    const body = structuredClone(s.body(stored ?? {}));
    const old = stored === undefined ? undefined : frozen ? stored : structuredClone(stored);
    const next = write(body, old, s.opts, `2026-12-07T10:00:0${i}Z`);
    out.push(structuredClone(next));
    stored = frozen ? deepFreeze(next) : next;
  });
  return { out, stored };
}

test('sharing sets between frozen versions changes no recorded managedFields', () => {
  const shared = replay(true).out;
  const plain = replay(false).out;
  assert.deepEqual(shared, plain);
  // The chain did what it says: two managers at the end, the kubelet without the holder.
  const last = plain[plain.length - 1].metadata.managedFields;
  assert.deepEqual(
    last.map((e: any) => e.manager),
    ['operator', 'kubelet'],
  );
  assert.deepEqual(last[1].fieldsV1, {
    'f:metadata': { 'f:labels': { '.': {}, 'f:a': {} } },
    'f:spec': { 'f:leaseDurationSeconds': {}, 'f:renewTime': {} },
  });
});

test('a write that changes only owned fields reuses the stored FieldsV1 object', () => {
  const kubelet = { manager: 'kubelet', apiVersion: 'coordination.k8s.io/v1', type: leaseType };
  const first = deepFreeze(write(lease('2026-12-07T10:00:00.000000Z'), undefined, kubelet, '2026-12-07T10:00:00Z'));
  const body = (renew: string, prev: any) => ({ ...lease(renew), metadata: structuredClone(prev.metadata) });
  const second = deepFreeze(write(body('2026-12-07T10:00:10.000000Z', first), first, kubelet, '2026-12-07T10:00:10Z'));
  const third = write(body('2026-12-07T10:00:20.000000Z', second), second, kubelet, '2026-12-07T10:00:20Z');
  // The second write found the first version's set and kept it; its encoding, made once, is
  // what the third write finds again instead of building another.
  assert.equal(third.metadata.managedFields[0].fieldsV1, second.metadata.managedFields[0].fieldsV1);
  assert.ok(Object.isFrozen(third.metadata.managedFields[0].fieldsV1));
  assert.equal(third.metadata.managedFields[0].time, '2026-12-07T10:00:20Z');
});

test('a status write over a frozen pod keeps the spec manager and adds its own', () => {
  const user = { manager: 'kubectl', apiVersion: 'v1', type: podType, statusSubresource: true };
  const kubelet = { ...user, manager: 'kubelet', subresource: 'status' };
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'd' },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
  };
  const created = deepFreeze(write(structuredClone(pod), undefined, user, '2026-12-07T10:00:00Z'));
  const running = write(
    { ...structuredClone(created), status: { phase: 'Running' } },
    created,
    kubelet,
    '2026-12-07T10:00:01Z',
  );
  const [spec, status] = running.metadata.managedFields;
  assert.equal(spec.manager, 'kubectl');
  assert.deepEqual(spec.fieldsV1, created.metadata.managedFields[0].fieldsV1);
  assert.deepEqual(status.fieldsV1, { 'f:status': { '.': {}, 'f:phase': {} } });
  // The next status write keeps both sets and their encodings as they are.
  deepFreeze(running);
  const again = write(
    { ...structuredClone(running), status: { phase: 'Running', podIP: '10.0.0.1' } },
    running,
    kubelet,
    '2026-12-07T10:00:02Z',
  );
  assert.equal(again.metadata.managedFields[0].fieldsV1, spec.fieldsV1);
  assert.deepEqual(again.metadata.managedFields[1].fieldsV1, {
    'f:status': { '.': {}, 'f:phase': {}, 'f:podIP': {} },
  });
});

test('a decoded set is shared by equal FieldsV1 texts and cannot be changed', () => {
  const v = deepFreeze({ 'f:spec': { 'f:a': {}, 'f:b': { '.': {}, 'f:c': {} } } });
  const s = FieldSet.fromFieldsV1(v);
  assert.equal(FieldSet.fromFieldsV1(v), s);
  // The same text parsed again (another object's managedFields, a PUT body) finds the same set.
  assert.equal(FieldSet.fromFieldsV1(JSON.parse(JSON.stringify(v))), s);
  assert.notEqual(FieldSet.fromFieldsV1({ 'f:spec': { 'f:a': {} } }), s);
  assert.throws(() => s.insert(['f:x']), /shared set/);
  assert.throws(() => s.subtract(FieldSet.of(['f:spec', 'f:a'])), /shared set/);
  // Copies are the caller's own.
  const copy = s.difference(FieldSet.of(['f:spec', 'f:a']));
  copy.insert(['f:x']);
  assert.deepEqual(copy.toFieldsV1(), { 'f:spec': { 'f:b': { '.': {}, 'f:c': {} } }, 'f:x': {} });
  assert.deepEqual(s.toFieldsV1(), { 'f:spec': { 'f:a': {}, 'f:b': { '.': {}, 'f:c': {} } } });
  assert.ok(FieldSet.of(['f:spec', 'f:a']).isSubsetOf(s));
  assert.ok(!FieldSet.of(['f:spec', 'f:d']).isSubsetOf(s));
  // Invalid FieldsV1 is refused each time, never remembered.
  assert.throws(() => FieldSet.fromFieldsV1({ 'x:y': {} }), /unknown path element/);
  assert.throws(() => FieldSet.fromFieldsV1({ 'x:y': {} }), /unknown path element/);
});
