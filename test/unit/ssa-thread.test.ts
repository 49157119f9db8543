// Big objects' field management runs on a thread of its own (machinery/ssa/thread.ts): it must
// give exactly what the same work gives on the event loop, errors included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordUpdateOffThread, applyOffThread } from '../../src/machinery/ssa/thread.js';
import { applyOperation, recordUpdateOperation } from '../../src/machinery/ssa/manager.js';
import { manageFields, OFF_THREAD_BYTES } from '../../src/machinery/managedfields.js';
import { definitionForGVK, getDefinition } from '../../src/machinery/openapi/definitions.js';
import { ApiError } from '../../src/machinery/errors.js';
import { encodeStored, markUnshared, nextTurn, takeOrCopy } from '../../src/machinery/objects.js';
import { createServer, connect, type AddressInfo } from 'node:net';
import { once } from 'node:events';

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

test("the thread's answer to an Update is the object's storage form, seen by checkStored before it is parsed", async () => {
  const obj = pod('i');
  const stored = await recordUpdateOffThread(
    obj,
    undefined,
    { manager: 'm', apiVersion: 'v1', type: podType, now },
    { checkStored: (json) => assert.ok(json.length > OFF_THREAD_BYTES) },
  );
  assert.equal(stored, encodeStored(obj));
  // A refusal comes before the answer is applied: obj keeps no managedFields.
  const refused = pod('i');
  await assert.rejects(
    recordUpdateOffThread(
      refused,
      undefined,
      { manager: 'm', apiVersion: 'v1', type: podType, now },
      {
        checkStored: () => {
          throw new Error('too big');
        },
      },
    ),
    /too big/,
  );
  assert.equal(refused.metadata.managedFields, undefined);
});

test("an Apply's answer is parsed in pieces into an object nobody else holds; old text and config text are taken as given", async () => {
  const live = pod('i');
  recordUpdateOperation(live, undefined, { manager: 'creator', apiVersion: 'v1', type: podType, now });
  const config = pod('j');
  const opts = { manager: 'applier', apiVersion: 'v1', type: podType, force: true, now };
  const here = applyOperation(structuredClone(live), structuredClone(config), opts);
  const there = await applyOffThread(live, config, opts, {
    liveJson: JSON.stringify(live),
    configJson: JSON.stringify(config),
  });
  assert.deepEqual(there, here);
  assert.deepEqual(Object.keys(there.metadata), Object.keys(here.metadata), 'managedFields keeps its place');
  assert.equal(takeOrCopy(there), there, 'taken over, not copied');
  // YAML in flow style looks like JSON but isn't: the thread fails to parse it and the work is done here.
  const flow = '{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: default}}';
  const fallback = await applyOffThread(live, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } }, opts, {
    configJson: flow,
  });
  assert.equal(fallback.spec.containers.length, 2_000);
});

test('takeOrCopy takes a marked object once, and copies anything else', () => {
  const fresh = markUnshared({ a: { b: 1 } });
  assert.equal(takeOrCopy(fresh), fresh);
  const again = takeOrCopy(fresh);
  assert.notEqual(again, fresh);
  assert.deepEqual(again, fresh);
  const plain = { a: 1 };
  assert.notEqual(takeOrCopy(plain), plain);
});

test('nextTurn lets I/O that became ready during an I/O callback run first', async () => {
  // One setImmediate from an I/O callback would run before the next poll for I/O.
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const order: string[] = [];
  const done = new Promise<void>((resolve) => {
    server.on('connection', (s) => {
      s.on('data', (chunk: Buffer) => {
        const which = chunk.toString() === 'a' ? 'first' : 'second';
        order.push(which);
        if (which === 'first') {
          second.write('b'); // ready at the next poll
          void nextTurn().then(() => {
            order.push('after nextTurn');
            resolve();
          });
        }
      });
    });
  });
  const first = connect(port, '127.0.0.1');
  const second = connect(port, '127.0.0.1');
  try {
    await Promise.all([once(first, 'connect'), once(second, 'connect')]);
    await new Promise((r) => setTimeout(r, 50)); // both accepted
    first.write('a');
    await done;
    assert.deepEqual(order, ['first', 'second', 'after nextTurn']);
  } finally {
    first.destroy();
    second.destroy();
    server.close();
  }
});
