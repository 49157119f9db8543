// Rollout arithmetic (fenceposts, new-RS size, proportional scaling), revisions, hashing and the
// pod deletion ranking, checked against upstream's documented behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as u from '../../src/controllers/deployment/util.js';
import {
  comparePodsForDeletion,
  podsToDelete,
  slowStartBatch,
  Expectations,
} from '../../src/controllers/replicaset/podutil.js';
import { calculateStatus } from '../../src/controllers/replicaset/controller.js';

// Fixtures are partial objects (no selector, no template): typed loosely on purpose.
const dep = (replicas: number, surge: number | string, unavail: number | string, extra: any = {}): any => ({
  metadata: { name: 'web', generation: 1, ...(extra.metadata ?? {}) },
  spec: {
    replicas,
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: surge, maxUnavailable: unavail } },
    template: {},
    ...(extra.spec ?? {}),
  },
  status: extra.status ?? {},
});
let n = 0;
const rs = (name: string, replicas: number, extra: any = {}): any => ({
  metadata: {
    name,
    creationTimestamp: new Date(Date.UTC(2024, 0, 1, 0, 0, n++)).toISOString(),
    annotations: extra.annotations ?? {},
  },
  spec: { replicas },
  status: { replicas, availableReplicas: extra.available ?? replicas },
});

test('fenceposts: surge rounds up, unavailable rounds down, both zero means one unavailable', () => {
  assert.deepEqual(u.resolveFenceposts('25%', '25%', 10), { surge: 3, unavailable: 2 });
  assert.deepEqual(u.resolveFenceposts('25%', '25%', 1), { surge: 1, unavailable: 0 });
  assert.deepEqual(u.resolveFenceposts(0, '10%', 5), { surge: 0, unavailable: 1 });
  assert.deepEqual(u.resolveFenceposts(2, 1, 6), { surge: 2, unavailable: 1 });
  assert.deepEqual(u.resolveFenceposts('30%', '30%', 1000), { surge: 300, unavailable: 300 });
  assert.equal(u.maxUnavailable(dep(3, 0, '100%')), 3);
  assert.equal(u.maxUnavailable(dep(2, 0, 5)), 2); // capped at replicas
  assert.equal(u.maxUnavailable(dep(0, 1, 1)), 0);
  assert.equal(u.maxSurge(dep(3, 0, 0, { spec: { strategy: { type: 'Recreate' } } })), 0);
  assert.throws(() => u.scaledValue('abc', 10, true));
});

test('new ReplicaSet size in a rolling update respects maxSurge', () => {
  const d = dep(10, 3, 2);
  const old = rs('old', 10);
  const nw = rs('new', 0);
  assert.equal(u.newRSNewReplicas(d, [old, nw], nw), 3);
  const nw2 = rs('new2', 3);
  assert.equal(u.newRSNewReplicas(d, [rs('o', 10), nw2], nw2), 3); // already at 13
  const nw3 = rs('new3', 8);
  assert.equal(u.newRSNewReplicas(d, [rs('o', 2), nw3], nw3), 10);
  assert.equal(u.newRSNewReplicas(dep(4, 0, 0, { spec: { strategy: { type: 'Recreate' } } }), [], nw), 4);
  // Old sets may lose: total 13, min available 8, new unavailable 3 → 2
  assert.equal(u.maxScaledDown(d, [rs('o', 10), rs('n', 3, { available: 0 })], rs('n', 3, { available: 0 })), 2);
});

test('proportional scaling distributes new replicas by size, leftovers to the largest', () => {
  // Upstream example: 10 replicas, surge 3 → 13 running (8 old, 5 new); scale to 15 → +5 (allowed 18).
  const d = dep(15, 3, 2, { status: { replicas: 13 } });
  const a = rs('a', 8, { annotations: { [u.MAX_REPLICAS_ANNOTATION]: '13' } });
  const b = rs('b', 5, { annotations: { [u.MAX_REPLICAS_ANNOTATION]: '13' } });
  const { sizes, op } = u.proportionalSizes(d, [a, b]);
  assert.equal(op, 'up');
  assert.equal(sizes.get(a)! + sizes.get(b)!, 18);
  assert.equal(sizes.get(a), 11); // 8*18/13 = 11.07 → 11
  assert.equal(sizes.get(b), 7); // 5*18/13 = 6.92 → 7
  // Scale down to zero: every set goes to 0.
  const z = u.proportionalSizes(dep(0, 3, 2, { status: { replicas: 13 } }), [a, b]);
  assert.equal(z.op, 'down');
  assert.equal(z.sizes.get(a), 0);
  assert.equal(z.sizes.get(b), 0);
});

test('conditions keep lastTransitionTime for the same status and ignore identical reasons', () => {
  const st: any = {};
  u.setCondition(st, {
    type: 'Progressing',
    status: 'True',
    reason: 'A',
    lastTransitionTime: 't1',
    lastUpdateTime: 't1',
  });
  u.setCondition(st, {
    type: 'Progressing',
    status: 'True',
    reason: 'B',
    lastTransitionTime: 't2',
    lastUpdateTime: 't2',
  });
  assert.equal(st.conditions[0].reason, 'B');
  assert.equal(st.conditions[0].lastTransitionTime, 't1');
  u.setCondition(st, {
    type: 'Progressing',
    status: 'True',
    reason: 'B',
    lastTransitionTime: 't3',
    lastUpdateTime: 't3',
  });
  assert.equal(st.conditions[0].lastUpdateTime, 't2');
  const d = dep(3, 1, 1, { spec: { progressDeadlineSeconds: 1 } });
  const old = new Date(Date.now() - 5000).toISOString();
  assert.equal(
    u.deploymentTimedOut(d, {
      conditions: [{ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', lastUpdateTime: old }],
    }),
    true,
  );
  assert.equal(
    u.deploymentTimedOut(d, {
      conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', lastUpdateTime: old }],
    }),
    false,
  );
  const s = u.calculateStatus([rs('x', 3, { available: 1 })], undefined, dep(3, 1, 1));
  assert.equal(u.getCondition(s, 'Available')!.reason, 'MinimumReplicasUnavailable');
  assert.equal(s.unavailableReplicas, 2);
});

test('revision annotations: bump, history on rollback, replicas annotations on create', () => {
  const d: any = {
    metadata: { annotations: { 'kubernetes.io/change-cause': 'v2', [u.REVISION_ANNOTATION]: '9' } },
    spec: { replicas: 4, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } },
  };
  const r: any = { metadata: { annotations: { [u.REVISION_ANNOTATION]: '1' } } };
  assert.equal(u.setNewReplicaSetAnnotations(d, r, '3', true), true);
  assert.equal(r.metadata.annotations[u.REVISION_ANNOTATION], '3');
  assert.equal(r.metadata.annotations[u.REVISION_HISTORY_ANNOTATION], '1');
  assert.equal(r.metadata.annotations['kubernetes.io/change-cause'], 'v2');
  u.setNewReplicaSetAnnotations(d, r, '5', true);
  assert.equal(r.metadata.annotations[u.REVISION_HISTORY_ANNOTATION], '1,3');
  const fresh: any = { metadata: {} };
  u.setNewReplicaSetAnnotations(d, fresh, '1', false);
  assert.equal(fresh.metadata.annotations[u.DESIRED_REPLICAS_ANNOTATION], '4');
  assert.equal(fresh.metadata.annotations[u.MAX_REPLICAS_ANNOTATION], '5');
  assert.equal(fresh.metadata.annotations[u.REVISION_HISTORY_ANNOTATION], undefined);
  assert.equal(u.maxRevision([r, fresh]), 5);
});

test('pod-template hash: stable, safe alphabet, changes with template and collision count', () => {
  const t = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } };
  const h = u.computeHash(t);
  assert.equal(h, u.computeHash(structuredClone(t)));
  assert.match(h, /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
  assert.equal(u.computeHash({ spec: t.spec, metadata: t.metadata }), h); // key order does not matter
  assert.notEqual(u.computeHash({ ...t, spec: { containers: [{ name: 'c', image: 'nginx:2' }] } }), h);
  assert.notEqual(u.computeHash(t, 1), h);
  assert.notEqual(u.computeHash(t, 1), u.computeHash(t, 2));
  assert.equal(u.safeEncodeString('0123'), '4567');
  assert.equal(u.fnv32a(new TextEncoder().encode('a')), 0xe40c292c);
  const labelled = structuredClone(t) as any;
  labelled.metadata.labels['pod-template-hash'] = h;
  assert.equal(u.equalIgnoreHash(labelled, t), true);
  assert.equal(
    u.equalIgnoreHash({ metadata: { labels: {} }, spec: { containers: [] } }, { spec: { containers: [] } }),
    true,
  );
});

test('deletion ranking: unscheduled < pending < not ready < ready; newer first', () => {
  const now = Date.now();
  const at = (s: number) => new Date(now - s * 1000).toISOString();
  const pod = (name: string, o: any): any => ({
    metadata: { name, uid: name, creationTimestamp: at(o.age ?? 100) },
    spec: { nodeName: o.node },
    status: {
      phase: o.phase,
      conditions: o.ready ? [{ type: 'Ready', status: 'True', lastTransitionTime: at(o.readyFor ?? 50) }] : [],
    },
  });
  const pods = [
    pod('ready-old', { node: 'n1', phase: 'Running', ready: true, readyFor: 5000, age: 6000 }),
    pod('ready-new', { node: 'n2', phase: 'Running', ready: true, readyFor: 5, age: 10 }),
    pod('running-notready', { node: 'n1', phase: 'Running' }),
    pod('pending', { node: 'n1', phase: 'Pending' }),
    pod('unscheduled', { phase: 'Pending' }),
  ];
  const order = podsToDelete(pods, [], 4, now).map((p) => p.metadata.name);
  assert.deepEqual(order, ['unscheduled', 'pending', 'running-notready', 'ready-new']);
  // Doubled-up pods go before lone ones.
  const a = pod('a', { node: 'n1', phase: 'Running', ready: true, readyFor: 50 });
  const b = pod('b', { node: 'n2', phase: 'Running', ready: true, readyFor: 50 });
  assert.ok(comparePodsForDeletion(a, b, 2, 1, now) < 0);
  assert.equal(podsToDelete(pods, [], 10, now).length, 5);
});

test('slow start batches double and stop at the first failure; expectations', async () => {
  let calls = 0;
  const r = await slowStartBatch(10, 1, () => {
    calls++;
    return calls === 5 ? Promise.reject(new Error('quota')) : Promise.resolve();
  });
  // batches 1, 2, 4: the third batch (calls 4..7) contains the failure
  assert.equal(calls, 7);
  assert.equal(r.successes, 6);
  assert.equal((r.error as Error).message, 'quota');
  const e = new Expectations();
  assert.equal(e.satisfied('k'), true);
  e.expectCreations('k', 2);
  assert.equal(e.satisfied('k'), false);
  e.creationObserved('k');
  e.creationObserved('k');
  assert.equal(e.satisfied('k'), true);
  e.expectDeletions('k', ['ns/a']);
  assert.equal(e.satisfied('k'), false);
  e.deletionObserved('k', 'ns/a');
  assert.equal(e.satisfied('k'), true);
});

test('ReplicaSet status counts fully labelled, ready and available pods; ReplicaFailure on errors', () => {
  const set: any = {
    metadata: { generation: 2 },
    spec: { replicas: 3, minReadySeconds: 10, template: { metadata: { labels: { app: 'x', tier: 'y' } } } },
    status: {},
  };
  const old = new Date(Date.now() - 60_000).toISOString();
  const fresh = new Date().toISOString();
  const pods: any[] = [
    {
      metadata: { labels: { app: 'x', tier: 'y' } },
      status: { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: old }] },
    },
    {
      metadata: { labels: { app: 'x', tier: 'y' } },
      status: { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: fresh }] },
    },
    { metadata: { labels: { app: 'x' } }, status: {} },
  ];
  const st: any = calculateStatus(set, pods, new Error('exceeded quota'));
  assert.equal(st.replicas, 3);
  assert.equal(st.fullyLabeledReplicas, 2);
  assert.equal(st.readyReplicas, 2);
  assert.equal(st.availableReplicas, 1);
  assert.equal(st.conditions[0].type, 'ReplicaFailure');
  assert.equal(st.conditions[0].reason, '');
  const st2: any = calculateStatus(set, pods.slice(0, 1), new Error('exceeded quota'));
  assert.equal(st2.conditions[0].reason, 'FailedCreate');
  assert.equal(calculateStatus({ ...set, status: st2 }, pods, undefined).conditions, undefined);
});
