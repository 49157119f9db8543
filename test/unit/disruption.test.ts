import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildDisruptedPodMap,
  computeStatus,
  countHealthyPods,
  desiredHealthyFor,
  scaledValue,
  DELETION_TIMEOUT_MS,
} from '../../src/controllers/disruption/controller.js';

const ready = (name: string, extra: any = {}) => ({
  metadata: { name, ...extra },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
});

test('int-or-percent scaling rounds up', () => {
  assert.equal(scaledValue('30%', 4, true), 2);
  assert.equal(scaledValue('50%', 3, true), 2);
  assert.equal(scaledValue(2, 10, true), 2);
});

test('desired healthy from minAvailable and maxUnavailable', () => {
  assert.deepEqual(
    desiredHealthyFor({ minAvailable: 2 }, 3, () => 99),
    { expectedCount: 3, desiredHealthy: 2 },
  );
  assert.deepEqual(
    desiredHealthyFor({ minAvailable: '50%' }, 3, () => 5),
    { expectedCount: 5, desiredHealthy: 3 },
  );
  assert.deepEqual(
    desiredHealthyFor({ maxUnavailable: 1 }, 3, () => 4),
    { expectedCount: 4, desiredHealthy: 3 },
  );
  assert.deepEqual(
    desiredHealthyFor({ maxUnavailable: '100%' }, 3, () => 4),
    { expectedCount: 4, desiredHealthy: 0 },
  );
});

test('disrupted pods are not healthy until they expire; status and condition', () => {
  const now = Date.now();
  const recent = new Date(now - 1000).toISOString();
  const old = new Date(now - DELETION_TIMEOUT_MS - 1000).toISOString();
  const pods = [ready('a'), ready('b'), ready('c'), ready('d', { deletionTimestamp: recent })];
  const pdb = { metadata: { generation: 2 }, status: { disruptedPods: { a: recent, b: old, d: recent } } };
  const { disrupted, recheckAt, notDeleted } = buildDisruptedPodMap(pods, pdb, now);
  assert.deepEqual(disrupted, { a: recent });
  assert.deepEqual(notDeleted, ['b']);
  assert.equal(recheckAt, Date.parse(recent) + DELETION_TIMEOUT_MS);
  const healthy = countHealthyPods(pods, disrupted, now);
  assert.equal(healthy, 2);
  const st = computeStatus(pdb, healthy, 2, 3, disrupted);
  assert.equal(st.disruptionsAllowed, 0);
  assert.equal(st.observedGeneration, 2);
  assert.equal(st.conditions[0].reason, 'InsufficientPods');
  const ok = computeStatus(pdb, 3, 2, 3, {});
  assert.equal(ok.disruptionsAllowed, 1);
  assert.deepEqual([ok.conditions[0].status, ok.conditions[0].reason], ['True', 'SufficientPods']);
  assert.equal(computeStatus(pdb, 3, 0, 0, {}).disruptionsAllowed, 0);
});
