// pods/binding as upstream's BindingREST: the pod gets spec.nodeName and a PodScheduled=True
// condition in one storage write, its managedFields stay as they were (no manager owns what a
// binding sets), and a pod already bound, or bound under another UID, is a 409.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { Client, R } from '../../src/client/client.js';
import { isConflict } from '../../src/client/errors.js';
import { startTestApi, type TestApi } from './client-fixture.js';

let t: TestApi;
let creator: Client;
let scheduler: Client;
before(async () => {
  t = await startTestApi();
  creator = Client.fromKubeconfig(t.kubeconfig, { fieldManager: 'pod-creator' });
  scheduler = Client.fromKubeconfig(t.kubeconfig, { fieldManager: 'kube-scheduler' });
});
after(async () => {
  await t?.stop();
});

const pod = (name: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
});

test('a binding sets nodeName and PodScheduled, and leaves managedFields alone', async () => {
  const created = await creator.resource(R.pods).namespace('default').create(pod('bound-1'));
  await scheduler
    .resource(R.pods)
    .namespace('default')
    .createSubresource('bound-1', 'binding', {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: 'bound-1', uid: created.metadata.uid },
      target: { kind: 'Node', name: 'node-a' },
    });
  const bound = await creator.resource(R.pods).namespace('default').get('bound-1');
  assert.equal(bound.spec?.nodeName, 'node-a');
  const scheduled = bound.status?.conditions?.find((c) => c.type === 'PodScheduled');
  assert.equal(scheduled?.status, 'True');
  assert.ok(scheduled?.lastTransitionTime);
  assert.deepEqual(bound.metadata.managedFields, created.metadata.managedFields);
  assert.deepEqual(
    bound.metadata.managedFields?.map((m) => m.manager),
    ['pod-creator'],
  );
});

test('binding a bound pod, or under another UID, is a conflict', async () => {
  await creator.resource(R.pods).namespace('default').create(pod('bound-2'));
  const bind = (uid?: string) =>
    scheduler
      .resource(R.pods)
      .namespace('default')
      .createSubresource('bound-2', 'binding', {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: 'bound-2', ...(uid ? { uid } : {}) },
        target: { kind: 'Node', name: 'node-b' },
      });
  await assert.rejects(bind('not-its-uid'), (e) => isConflict(e) && /Precondition failed: UID/.test(String(e)));
  await bind();
  await assert.rejects(bind(), (e) => isConflict(e) && /already assigned to node "node-b"/.test(String(e)));
});
