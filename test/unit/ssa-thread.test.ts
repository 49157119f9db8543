// Big objects' field management runs on a thread of its own (machinery/ssa/thread.ts): it must
// give exactly what the same work gives on the event loop, errors included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordUpdateOffThread, applyOffThread } from '../../src/machinery/ssa/thread.js';
import { applyOperation, recordUpdateOperation } from '../../src/machinery/ssa/manager.js';
import { manageFields, OFF_THREAD_BYTES } from '../../src/machinery/managedfields.js';
import { definitionForGVK, getDefinition } from '../../src/machinery/openapi/definitions.js';
import { ApiError } from '../../src/machinery/errors.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const podType = { schema: getDefinition(definitionForGVK('', 'v1', 'Pod')!) };
const now = () => '2026-12-06T00:00:00Z';
const pod = (image: string, n = 2_000): any => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'default', labels: { a: 'b' } },
  spec: { containers: range(n).map((i) => ({ name: `c${i}`, image, ports: [{ containerPort: 80 + (i % 100) }] })) },
});

test('an Update recorded on the thread equals one recorded here (create, then an update by another manager)', async () => {
  const created = pod('i');
  const here = structuredClone(created);
  recordUpdateOperation(here, undefined, { manager: 'first', apiVersion: 'v1', type: podType, now });
  const there = structuredClone(created);
  await recordUpdateOffThread(there, undefined, { manager: 'first', apiVersion: 'v1', type: podType, now });
  assert.deepEqual(there.metadata, here.metadata);

  const changed = { ...pod('j'), metadata: { ...here.metadata } };
  const hereU = structuredClone(changed);
  recordUpdateOperation(hereU, here, { manager: 'second', apiVersion: 'v1', type: podType, now });
  const thereU = structuredClone(changed);
  await recordUpdateOffThread(thereU, here, { manager: 'second', apiVersion: 'v1', type: podType, now });
  assert.deepEqual(thereU.metadata.managedFields, hereU.metadata.managedFields);
  assert.deepEqual(thereU.metadata.managedFields.map((m: any) => m.manager).sort(), ['first', 'second']);
});

test('the store hook sends big objects to the thread and keeps small ones here; results are the same', async () => {
  const big = pod('i', 5_000);
  assert.ok(JSON.stringify(big).length > OFF_THREAD_BYTES);
  const r = manageFields(big, undefined, { fieldManager: 'm' }, 'v1', podType, true);
  assert.ok(r instanceof Promise, 'a big object goes to the thread');
  await r;
  const small = pod('i', 3);
  assert.equal(manageFields(small, undefined, { fieldManager: 'm' }, 'v1', podType, true), undefined);
  assert.equal(big.metadata.managedFields[0].manager, 'm');
  assert.ok(small.metadata.managedFields);
});

test('an Apply on the thread equals one here, and its conflicts are the same 409', async () => {
  const live = pod('i');
  recordUpdateOperation(live, undefined, { manager: 'creator', apiVersion: 'v1', type: podType, now });
  const config = pod('j');
  const opts = { manager: 'applier', apiVersion: 'v1', type: podType, force: false, now };
  let hereErr: unknown;
  try {
    applyOperation(structuredClone(live), structuredClone(config), opts);
  } catch (e) {
    hereErr = e;
  }
  await assert.rejects(applyOffThread(live, config, opts), (e: unknown) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.code, 409);
    assert.equal(e.message, (hereErr as ApiError).message);
    assert.deepEqual(e.details, (hereErr as ApiError).details);
    return true;
  });
  const forced = { ...opts, force: true };
  const here = applyOperation(structuredClone(live), structuredClone(config), forced);
  const there = await applyOffThread(live, config, forced);
  assert.deepEqual(there, here);
  assert.equal(there.spec.containers[1999].image, 'j');
});
