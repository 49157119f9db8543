// Events are correlated as client-go correlates them before they reach the server: repeats are
// counted into one Event, the tenth distinct message for the same reason starts a "combined from
// similar events" Event, and a source may send 25 events about one object, then one per five
// minutes. The first half drives the correlator on a fake clock; the second records through
// EventRecorder against a real API server and reads back what was stored.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Event } from 'kubernetes-types/core/v1.js';
import { EventCorrelator, type EventFacts } from '../../src/client/eventcorrelator.js';
import { EventRecorder, MAX_QUEUED_EVENTS } from '../../src/client/events.js';
import { Client, R } from '../../src/client/client.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';
import { eventually, startTestApi, type TestApi } from './client-fixture.js';

const facts = (message: string, over: Partial<EventFacts> = {}): EventFacts => ({
  component: 'replicaset-controller',
  host: '',
  kind: 'ReplicaSet',
  namespace: 'default',
  name: 'web-1',
  uid: 'u-1',
  apiVersion: 'apps/v1',
  fieldPath: '',
  type: 'Normal',
  reason: 'SuccessfulCreate',
  message,
  ...over,
});

/** Runs `n` events through `c`, acting as the recorder does on the server's behalf. */
function drive(c: EventCorrelator, messages: string[]) {
  const actions: string[] = [];
  let serial = 0;
  for (const m of messages) {
    const v = c.correlate(facts(m));
    actions.push(v.action === 'create' && v.aggregate ? 'aggregate' : v.action);
    if (v.action === 'create') c.sentAs(v.key, `e${serial++}`, 1, 't0');
  }
  return actions;
}

test('correlator: a repeated event is one Event whose count grows', () => {
  const c = new EventCorrelator(() => 0);
  const first = c.correlate(facts('Back-off restarting'));
  assert.equal(first.action, 'create');
  if (first.action !== 'create') return;
  c.sentAs(first.key, 'pod.1', 1, 't0');
  for (const want of [2, 3]) {
    const v = c.correlate(facts('Back-off restarting'));
    assert.deepEqual(v, {
      action: 'bump',
      message: 'Back-off restarting',
      key: first.key,
      name: 'pod.1',
      count: want,
      firstTimestamp: 't0',
    });
  }
});

test('correlator: from the tenth distinct message, one aggregate Event; after 25, spam is dropped', () => {
  const c = new EventCorrelator(() => 0);
  const actions = drive(
    c,
    Array.from({ length: 100 }, (_, i) => `Created pod: web-1-${i}`),
  );
  assert.deepEqual(actions.slice(0, 9), Array(9).fill('create'));
  assert.equal(actions[9], 'aggregate');
  assert.deepEqual(actions.slice(10, 25), Array(15).fill('bump'));
  assert.deepEqual(actions.slice(25), Array(75).fill('drop'));
  // Another object, or another source, has its own budget.
  assert.equal(c.correlate(facts('Created pod: x', { name: 'web-2', uid: 'u-2' })).action, 'create');
  assert.equal(c.correlate(facts('Created pod: web-1-0', { component: 'other' })).action, 'create');
});

test('correlator: the aggregate message names the latest event and its count covers dropped ones', () => {
  let now = 0;
  const c = new EventCorrelator(() => now);
  drive(
    c,
    Array.from({ length: 30 }, (_, i) => `Created pod: p-${i}`),
  );
  // Five minutes refill one token: the next event bumps the aggregate to count 1 + 20 + 1.
  now = 300_000;
  const v = c.correlate(facts('Created pod: p-30'));
  assert.equal(v.action, 'bump');
  if (v.action !== 'bump') return;
  assert.equal(v.message, '(combined from similar events): Created pod: p-30');
  assert.equal(v.count, 22);
  assert.equal(c.correlate(facts('Created pod: p-31')).action, 'drop');
});

test('correlator: ten minutes without a similar event start a fresh group', () => {
  let now = 0;
  const c = new EventCorrelator(() => now);
  drive(
    c,
    Array.from({ length: 9 }, (_, i) => `Created pod: p-${i}`),
  );
  now = 600_001;
  const v = c.correlate(facts('Created pod: q'));
  assert.equal(v.action === 'create' && !v.aggregate, true);
});

let t: TestApi;
let client: Client;
before(async () => {
  t = await startTestApi();
  client = inProcessClient(t.api, { fieldManager: 'test' });
});
after(async () => {
  await t?.stop();
});

test('EventRecorder stores what upstream would for a ReplicaSet creating 40 pods', async () => {
  const recorder = new EventRecorder(client, { component: 'replicaset-controller' });
  const rs = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web-1', namespace: 'default', uid: 'rs-uid' },
  };
  // All at once, as a controller's sync loop records them: the recorder sends them in order.
  for (let i = 0; i < 40; i++) recorder.event(rs, 'Normal', 'SuccessfulCreate', `Created pod: web-1-${i}`);
  const stored = await eventually(async () => {
    const list = (await client.resource(R.events).namespace('default').list()).items as Event[];
    const mine = list.filter((e) => e.involvedObject?.uid === 'rs-uid');
    const combined = mine.find((e) => e.message?.startsWith('(combined from similar events): '));
    assert.ok(combined && combined.count === 16, `aggregate count ${combined?.count}`);
    return mine;
  });
  assert.equal(stored.length, 10);
  const plain = stored.filter((e) => !e.message?.startsWith('(combined'));
  assert.deepEqual(
    plain.map((e) => e.message).sort(),
    Array.from({ length: 9 }, (_, i) => `Created pod: web-1-${i}`).sort(),
  );
  const combined = stored.find((e) => e.message?.startsWith('(combined'))!;
  assert.equal(combined.message, '(combined from similar events): Created pod: web-1-24');
  assert.equal(combined.reason, 'SuccessfulCreate');
  assert.equal(combined.source?.component, 'replicaset-controller');
});

test('EventRecorder queues at most MAX_QUEUED_EVENTS and drops the rest, as client-go', async () => {
  const recorder = new EventRecorder(client, { component: 'queue-test' });
  const burst = MAX_QUEUED_EVENTS + 500;
  // Distinct objects: neither the spam filter nor aggregation holds any back.
  for (let i = 0; i < burst; i++)
    recorder.event(
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, namespace: 'default', uid: `uid-${i}` } },
      'Normal',
      'Burst',
      'one of many',
    );
  // The first was taken off the queue to be sent at once: the queue held the next 1,000.
  assert.equal(recorder.dropped, burst - MAX_QUEUED_EVENTS - 1);
  await eventually(async () => {
    const list = (await client.resource(R.events).namespace('default').list()).items as Event[];
    assert.equal(list.filter((e) => e.reason === 'Burst').length, MAX_QUEUED_EVENTS + 1);
    return true;
  }, 30_000);
  // Once the queue has room again, events are taken.
  recorder.event(
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late', namespace: 'default', uid: 'late' } },
    'Normal',
    'Late',
    'after the burst',
  );
  await eventually(async () => {
    const list = (await client.resource(R.events).namespace('default').list()).items as Event[];
    return list.some((e) => e.reason === 'Late');
  });
});

test('with 8 workers (as the scheduler records), repeats still bump the Event their first created', async () => {
  const recorder = new EventRecorder(client, { component: 'workers-test' }, undefined, { workers: 8 });
  const pod = (name: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: name },
  });
  for (let i = 0; i < 5; i++) {
    recorder.event(pod('stuck'), 'Warning', 'FailedScheduling', '0/3 nodes are available');
    for (let j = 0; j < 4; j++) recorder.event(pod(`bound-${i}-${j}`), 'Normal', 'Scheduled', `assigned to node-${j}`);
  }
  await eventually(async () => {
    const list = (await client.resource(R.events).namespace('default').list()).items as Event[];
    const mine = list.filter((e) => e.source?.component === 'workers-test');
    const failed = mine.filter((e) => e.reason === 'FailedScheduling');
    assert.equal(failed.length, 1, 'one Event for the repeated message');
    assert.equal(failed[0].count, 5);
    assert.equal(mine.filter((e) => e.reason === 'Scheduled').length, 20);
    return true;
  });
});
