// kubectl auth whoami / can-i, answered by the review resources.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from './harness.js';

let cluster: Cluster;
before(async () => {
  cluster = await startCluster();
});
after(async () => {
  await cluster?.cleanup();
});

test('kubectl auth whoami names the admin identity from the client certificate', async () => {
  const out = await cluster.k(['auth', 'whoami', '-o', 'json']);
  const review = JSON.parse(out);
  assert.equal(review.kind, 'SelfSubjectReview');
  assert.equal(review.status.userInfo.username, 'system:admin');
  assert.ok(review.status.userInfo.groups.includes('system:masters'));
});

test('kubectl auth can-i answers yes for the admin', async () => {
  assert.equal((await cluster.k(['auth', 'can-i', 'create', 'deployments', '-n', 'default'])).trim(), 'yes');
  const list = await cluster.k(['auth', 'can-i', '--list']);
  assert.match(list, /\*\.\*/);
});

test('review resources are create-only', async () => {
  const r = await cluster.kubectl(['get', 'selfsubjectreviews']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /MethodNotAllowed|not supported|the server does not allow this method/i);
});
