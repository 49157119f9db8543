// What the in-process transport copies and what it may take or share: a body its caller handed
// over (markUnshared) is written into instead of copied, unless an audit record keeps the request;
// a caller that never changes its answer (`shared`) gets the watch cache's own object, frozen; a
// status write shares the unchanged parts of the version it replaces instead of copying them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { Client, R } from '../../src/client/index.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';
import { Auditor, parsePolicy } from '../../src/apiserver/audit/index.js';
import { deepFreeze, markUnshared } from '../../src/machinery/objects.js';
import { fillNilFields } from '../../src/machinery/protobuf/nilfields.js';
import { defined, startTestApi, type TestApi } from './client-fixture.js';

let t: TestApi;
let client: Client;
const NS = 'owned';

before(async () => {
  t = await startTestApi();
  client = inProcessClient(t.api, { fieldManager: 'ownership-test' });
  await client.resource(R.namespaces).create({ metadata: { name: NS } });
});

after(async () => {
  await client.close();
  await t.stop();
});

/** The watch cache's current entry of a pod. */
function cached(name: string) {
  const served = defined(t.api.registry.lookup('', 'v1', 'pods'), 'pods');
  return defined(t.api.storeFor(served.def).tryGet(NS, name), `cached ${name}`);
}

const podBody = (generateName: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName, labels: { app: 'web' } },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
});

test("a caller's body is copied unless handed over; a handed-over one is written into", async () => {
  const pods = client.resource(R.pods).namespace(NS);
  const kept = podBody('kept-');
  const keptText = JSON.stringify(kept);
  const created = await pods.create(kept);
  assert.equal(JSON.stringify(kept), keptText, 'the caller keeps its body as it was');
  assert.match(created.metadata.name, /^kept-/);

  const handed = markUnshared(podBody('handed-'));
  const answer = await pods.create(handed);
  // The store named, defaulted and stamped the body itself: it took it instead of a copy.
  assert.equal(handed.metadata?.name, answer.metadata.name);
  assert.equal(handed.metadata?.uid, answer.metadata.uid);
  assert.equal(handed.spec?.containers[0].terminationMessagePath, '/dev/termination-log');
  // The answer is still a private copy (no `shared`): changing it changes nothing stored.
  assert.equal(Object.isFrozen(answer), false);
  answer.metadata.labels!.app = 'changed';
  assert.equal(cached(answer.metadata.name).obj.metadata.labels.app, 'web');
  assert.equal((await pods.get(answer.metadata.name)).metadata.labels?.app, 'web');
});

test('an audited call copies even a handed-over body: the audit event has the request as sent', async () => {
  const lines: string[] = [];
  const sink = { write: (l: string) => void lines.push(l), flush() {}, close() {} };
  t.api.audit = new Auditor(parsePolicy('apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Request\n'), sink);
  try {
    const body = markUnshared(podBody('audited-'));
    const sent = JSON.parse(JSON.stringify(body)) as Pod;
    await client.resource(R.pods).namespace(NS).create(body);
    assert.deepEqual(body, sent, 'the body was not written into');
    const complete = lines.map((l) => JSON.parse(l) as Record<string, any>).find((e) => e.stage === 'ResponseComplete');
    assert.deepEqual(defined(complete, 'ResponseComplete event').requestObject, sent);
  } finally {
    t.api.audit = undefined;
  }
});

test("a shared answer is the watch cache's own object, frozen; others are private copies", async () => {
  const pods = client.resource(R.pods).namespace(NS);
  const created = await pods.create(podBody('shared-'), { shared: true });
  const entry = cached(created.metadata.name);
  assert.equal(created, entry.obj);
  assert.equal(Object.isFrozen(created), true);
  assert.equal(Object.isFrozen(created.spec?.containers[0]), true);
  assert.throws(() => {
    created.metadata.labels!.app = 'changed';
  }, TypeError);

  const body = { ...created, status: { ...created.status, phase: 'Running' } };
  const updated = await pods.updateStatus(body, { shared: true });
  assert.equal(updated, cached(created.metadata.name).obj);
  assert.equal(updated.status?.phase, 'Running');
  const patched = await pods.patch(created.metadata.name, 'merge', { metadata: { labels: { tier: 'x' } } });
  assert.equal(Object.isFrozen(patched), false);
  assert.equal(patched.metadata.labels?.tier, 'x');
});

test('a status write shares the unchanged spec with the version it replaces, which stays as it was', async () => {
  const rsClient = client.resource(R.replicasets).namespace(NS);
  const rs = await rsClient.create({
    metadata: { name: 'web', labels: { app: 'web' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    },
  });
  const served = defined(t.api.registry.lookup('apps', 'v1', 'replicasets'), 'replicasets');
  const store = t.api.storeFor(served.def);
  const before = defined(store.tryGet(NS, 'web'));
  // As an informer holds it: frozen (a write into it would throw).
  const old = deepFreeze(before.obj);
  const oldJson = before.json;
  const oldStatus = JSON.stringify(old.status);
  const updated = await rsClient.updateStatus({ ...rs, status: { replicas: 2, observedGeneration: 1 } });
  assert.equal(updated.status?.replicas, 2);
  assert.equal(updated.metadata.generation, 1);
  const after = defined(store.tryGet(NS, 'web'));
  assert.notEqual(after.rev, before.rev);
  assert.equal(after.obj.spec, old.spec, 'the spec is shared between the versions');
  assert.notEqual(after.obj.metadata, old.metadata);
  assert.equal(before.json, oldJson);
  assert.equal(JSON.stringify(old.status), oldStatus);
  // The stored text is what a full copy would have given.
  assert.deepEqual(JSON.parse(after.json), {
    ...JSON.parse(oldJson),
    metadata: after.obj.metadata,
    status: after.obj.status,
  });

  // A namespace's status write writes a label into metadata: the old version's stays untouched.
  const nsStore = t.api.storeFor(defined(t.api.registry.lookup('', 'v1', 'namespaces')).def);
  const nsOld = deepFreeze(defined(nsStore.tryGet(undefined, NS)).obj);
  const nsLabels = JSON.stringify(nsOld.metadata.labels);
  await client.resource(R.namespaces).updateStatus({ ...nsOld, status: { phase: 'Active' } });
  assert.equal(JSON.stringify(nsOld.metadata.labels), nsLabels);
});

test("filling upstream's nulls skips frozen parts (a stored object's, filled when written)", () => {
  const spec = deepFreeze({ nodeName: 'n1' });
  const pod: any = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec };
  fillNilFields(pod); // would throw (strict mode) if it wrote into the frozen spec
  assert.equal(pod.spec, spec);
  assert.equal(pod.spec.containers, undefined);
  const open: any = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { nodeName: 'n1' } };
  fillNilFields(open);
  assert.equal(open.spec.containers, null, 'an unfrozen part is filled as before');
});
