import { test } from 'node:test';
import assert from 'node:assert/strict';
import { microTime, nowRFC3339, rfc3339 } from '../../src/machinery/time.js';

test('metav1.Time: whole seconds, fraction truncated; MicroTime: six digits', () => {
  assert.equal(rfc3339(Date.UTC(2026, 10, 22, 16, 40, 5, 999)), '2026-11-22T16:40:05Z');
  assert.equal(rfc3339(0), '1970-01-01T00:00:00Z');
  assert.equal(microTime(Date.UTC(2026, 10, 22, 16, 40, 5, 7)), '2026-11-22T16:40:05.007000Z');
  const before = Math.floor(Date.now() / 1000) * 1000;
  const now = Date.parse(nowRFC3339());
  assert.ok(now >= before && now <= Date.now(), 'nowRFC3339 is this second');
  assert.match(rfc3339(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});
