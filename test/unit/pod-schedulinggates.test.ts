// Pod scheduling gates as the API server handles them (upstream pod strategy and validation): a
// gated pod is created with PodScheduled=False/SchedulingGated, gates can only be removed, and a
// pod cannot name its node while gated.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { ApiError, Client, R } from '../../src/client/index.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';
import { defined, startTestApi, type TestApi } from './client-fixture.js';

let t: TestApi;
let client: Client;

before(async () => {
  t = await startTestApi();
  client = inProcessClient(t.api, { fieldManager: 'gates-test' });
  await client.resource(R.namespaces).create({ metadata: { name: 'gates' } });
});

after(async () => {
  await client.close();
  await t.stop();
});

const pod = (name: string, gates: string[], nodeName?: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: {
    schedulingGates: gates.map((g) => ({ name: g })),
    containers: [{ name: 'c', image: 'busybox' }],
    ...(nodeName ? { nodeName } : {}),
  },
});

const rejection = (code: number, message: RegExp) => (err: unknown) => {
  const e = ApiError.from(err);
  assert.equal(e.code, code, e.message);
  assert.match(e.message, message);
  return true;
};

test('a gated pod is created with PodScheduled False, reason SchedulingGated; an ungated one without', async () => {
  const pods = client.resource(R.pods).namespace('gates');
  const gated = await pods.create(pod('gated', ['example.com/quota', 'example.com/net']));
  const cond = defined(
    gated.status?.conditions?.find((c) => c.type === 'PodScheduled'),
    'PodScheduled',
  );
  assert.equal(cond.status, 'False');
  assert.equal(cond.reason, 'SchedulingGated');
  assert.equal(cond.message, 'Scheduling is blocked due to non-empty scheduling gates');
  assert.ok(cond.lastTransitionTime);
  assert.equal(gated.status?.phase, 'Pending');

  const plain = await pods.create(pod('plain', []));
  assert.equal(plain.status?.conditions, undefined);
  // Status set by the client on create is replaced, as upstream.
  const created = await pods.create({
    ...pod('claimed', ['example.com/a']),
    status: { conditions: [{ type: 'PodScheduled', status: 'True' }] },
  });
  assert.equal(created.status?.conditions?.[0]?.reason, 'SchedulingGated');
});

test('scheduling gates can only be removed, and a gated pod cannot name its node', async () => {
  const pods = client.resource(R.pods).namespace('gates');
  await pods.create(pod('shrink', ['example.com/a', 'example.com/b']));
  await assert.rejects(
    pods.patch('shrink', 'merge', {
      spec: { schedulingGates: [{ name: 'example.com/a' }, { name: 'example.com/c' }] },
    }),
    rejection(
      422,
      /spec\.schedulingGates\[1\]: Forbidden: only deletion is allowed, but found new scheduling gate 'example.com\/c'/,
    ),
  );
  const one = await pods.patch('shrink', 'merge', { spec: { schedulingGates: [{ name: 'example.com/b' }] } });
  assert.deepEqual(one.spec?.schedulingGates, [{ name: 'example.com/b' }]);
  const none = await pods.patch('shrink', 'merge', { spec: { schedulingGates: [] } });
  assert.equal(none.spec?.schedulingGates?.length ?? 0, 0);
  await assert.rejects(
    pods.patch('shrink', 'merge', { spec: { schedulingGates: [{ name: 'example.com/a' }] } }),
    rejection(422, /only deletion is allowed/),
  );

  await assert.rejects(
    pods.create(pod('pinned', ['example.com/a'], 'node-1')),
    rejection(422, /spec\.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared/),
  );
  await assert.rejects(
    pods.create(pod('bad-name', ['Not A Qualified Name!'])),
    rejection(422, /spec\.schedulingGates\[0\]: Invalid value: "Not A Qualified Name!"/),
  );
});
