// Garbage collection with the real kubectl: `kubectl delete --cascade=background|foreground|orphan`
// on an owner ConfigMap with dependent ConfigMaps and Secrets (ownerReferences), blockOwnerDeletion
// holding a foreground owner, dangling references, and custom resources as owners and dependents.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from './harness.js';
import { sleep, until } from '../support/until.js';

let cluster: Cluster;

before(async () => {
  cluster = await startCluster();
});
after(async () => {
  await cluster?.cleanup();
});

async function exists(kind: string, name: string, ns: string): Promise<boolean> {
  const r = await cluster.kubectl(['get', kind, name, '-n', ns, '-o', 'name']);
  return r.code === 0;
}

async function uidOf(kind: string, name: string, ns: string): Promise<string> {
  return (await cluster.k(['get', kind, name, '-n', ns, '-o', 'jsonpath={.metadata.uid}'])).trim();
}

/** An owner ConfigMap with a dependent ConfigMap and Secret. */
async function family(ns: string, opts: { block?: boolean; finalizer?: string } = {}): Promise<string> {
  await cluster.k(['create', 'configmap', 'owner', '-n', ns, '--from-literal=a=b']);
  const uid = await uidOf('configmap', 'owner', ns);
  const ref = `[{apiVersion: v1, kind: ConfigMap, name: owner, uid: ${uid}${opts.block ? ', blockOwnerDeletion: true' : ''}}]`;
  const fin = opts.finalizer ? `\n  finalizers: [${opts.finalizer}]` : '';
  await cluster.k(
    ['apply', '-f', '-'],
    `apiVersion: v1
kind: ConfigMap
metadata:
  name: dep-cm
  namespace: ${ns}
  ownerReferences: ${ref}${fin}
data: {x: "one"}
---
apiVersion: v1
kind: Secret
metadata:
  name: dep-secret
  namespace: ${ns}
  ownerReferences: ${ref}${fin}
stringData: {x: "one"}
`,
  );
  return uid;
}

test('background: dependents are deleted after the owner is gone', async () => {
  await cluster.k(['create', 'namespace', 'gc-bg']);
  await family('gc-bg');
  await cluster.k(['delete', 'configmap', 'owner', '-n', 'gc-bg', '--cascade=background']);
  assert.equal(await exists('configmap', 'owner', 'gc-bg'), false);
  await until(
    'dependents gone',
    async () => !(await exists('configmap', 'dep-cm', 'gc-bg')) && !(await exists('secret', 'dep-secret', 'gc-bg')),
  );
});

test('foreground: the owner waits for dependents with blockOwnerDeletion', async () => {
  await cluster.k(['create', 'namespace', 'gc-fg']);
  // A finalizer on the dependents keeps them (and therefore the owner) around for a while.
  await family('gc-fg', { block: true, finalizer: 'example.com/hold' });
  const del = cluster.kubectl(
    ['delete', 'configmap', 'owner', '-n', 'gc-fg', '--cascade=foreground', '--timeout=30s'],
    { timeoutMs: 40_000 },
  );
  await until('dependents being deleted', async () => {
    const out = await cluster.k([
      'get',
      'configmap',
      'dep-cm',
      '-n',
      'gc-fg',
      '-o',
      'jsonpath={.metadata.deletionTimestamp}',
    ]);
    return out.trim() !== '';
  });
  // The owner is still there, marked, with the foregroundDeletion finalizer.
  const owner = JSON.parse(await cluster.k(['get', 'configmap', 'owner', '-n', 'gc-fg', '-o', 'json']));
  assert.ok(owner.metadata.deletionTimestamp);
  assert.deepEqual(owner.metadata.finalizers, ['foregroundDeletion']);
  await sleep(500);
  assert.equal(await exists('configmap', 'owner', 'gc-fg'), true, 'owner must wait for its blocking dependents');
  // Release the dependents: they go, then the owner; kubectl returns.
  for (const kind of ['configmap/dep-cm', 'secret/dep-secret']) {
    await cluster.k(['patch', kind, '-n', 'gc-fg', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  }
  const r = await del;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await exists('configmap', 'owner', 'gc-fg'), false);
  assert.equal(await exists('configmap', 'dep-cm', 'gc-fg'), false);
});

test('foreground without blockOwnerDeletion: the owner goes at once, dependents follow', async () => {
  await cluster.k(['create', 'namespace', 'gc-fg2']);
  await family('gc-fg2');
  await cluster.k(['delete', 'configmap', 'owner', '-n', 'gc-fg2', '--cascade=foreground', '--timeout=20s']);
  await until(
    'dependents gone',
    async () => !(await exists('configmap', 'dep-cm', 'gc-fg2')) && !(await exists('secret', 'dep-secret', 'gc-fg2')),
  );
});

test('orphan: dependents stay, their ownerReferences are removed', async () => {
  await cluster.k(['create', 'namespace', 'gc-orphan']);
  await family('gc-orphan', { block: true });
  await cluster.k(['delete', 'configmap', 'owner', '-n', 'gc-orphan', '--cascade=orphan', '--timeout=20s']);
  assert.equal(await exists('configmap', 'owner', 'gc-orphan'), false);
  await sleep(500);
  for (const kind of ['configmap/dep-cm', 'secret/dep-secret']) {
    const obj = JSON.parse(await cluster.k(['get', kind, '-n', 'gc-orphan', '-o', 'json']));
    assert.equal(obj.metadata.deletionTimestamp, undefined);
    assert.equal(obj.metadata.ownerReferences, undefined, `${kind} keeps no reference to the deleted owner`);
  }
});

test('only an owner with the referenced uid counts; other owners keep a dependent alive', async () => {
  await cluster.k(['create', 'namespace', 'gc-uid']);
  await cluster.k(['create', 'configmap', 'live', '-n', 'gc-uid']);
  const live = await uidOf('configmap', 'live', 'gc-uid');
  await cluster.k(['create', 'configmap', 'owner', '-n', 'gc-uid']); // same name as the reference, other uid
  await cluster.k(
    ['apply', '-f', '-'],
    `apiVersion: v1
kind: ConfigMap
metadata:
  name: stale
  namespace: gc-uid
  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: owner, uid: 00000000-0000-0000-0000-000000000001}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: two-owners
  namespace: gc-uid
  ownerReferences:
  - {apiVersion: v1, kind: ConfigMap, name: owner, uid: 00000000-0000-0000-0000-000000000001}
  - {apiVersion: v1, kind: ConfigMap, name: live, uid: ${live}}
`,
  );
  await until('dangling dependent collected', async () => !(await exists('configmap', 'stale', 'gc-uid')));
  // The one with a live owner stays; its dangling reference is dropped.
  await until('dangling reference removed', async () => {
    const obj = JSON.parse(await cluster.k(['get', 'configmap', 'two-owners', '-n', 'gc-uid', '-o', 'json']));
    return obj.metadata.ownerReferences?.length === 1 && obj.metadata.ownerReferences[0].uid === live;
  });
  assert.equal(await exists('configmap', 'owner', 'gc-uid'), true);
});

test('an owner in another namespace is invalid: OwnerRefInvalidNamespace, dependent collected', async () => {
  await cluster.k(['create', 'namespace', 'gc-nsa']);
  await cluster.k(['create', 'namespace', 'gc-nsb']);
  await cluster.k(['create', 'configmap', 'owner', '-n', 'gc-nsa']);
  const uid = await uidOf('configmap', 'owner', 'gc-nsa');
  await cluster.k(
    ['apply', '-f', '-'],
    `apiVersion: v1
kind: ConfigMap
metadata:
  name: wrong-ns
  namespace: gc-nsb
  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: owner, uid: ${uid}}]
`,
  );
  await until('dependent collected', async () => !(await exists('configmap', 'wrong-ns', 'gc-nsb')));
  await until('event recorded', async () => {
    const out = await cluster.k(['get', 'events', '-n', 'gc-nsb', '-o', 'json']);
    return JSON.parse(out).items.some(
      (e: any) =>
        e.reason === 'OwnerRefInvalidNamespace' && e.involvedObject.name === 'wrong-ns' && e.type === 'Warning',
    );
  });
  assert.equal(await exists('configmap', 'owner', 'gc-nsa'), true);
});

test('custom resources: owners and dependents, all three propagation policies', async () => {
  await cluster.k(
    ['apply', '-f', '-'],
    `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.gc.example.com}
spec:
  group: gc.example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`,
  );
  await until('CRD served', async () => (await cluster.kubectl(['get', 'gadgets', '-A'])).code === 0);
  await cluster.k(['create', 'namespace', 'gc-cr']);
  const mk = async (policy: string) => {
    const owner = `owner-${policy}`;
    await cluster.k(
      ['apply', '-f', '-'],
      `apiVersion: gc.example.com/v1\nkind: Gadget\nmetadata: {name: ${owner}, namespace: gc-cr}\n`,
    );
    const uid = await uidOf('gadget', owner, 'gc-cr');
    const ref = `[{apiVersion: gc.example.com/v1, kind: Gadget, name: ${owner}, uid: ${uid}, blockOwnerDeletion: true}]`;
    await cluster.k(
      ['apply', '-f', '-'],
      `apiVersion: gc.example.com/v1
kind: Gadget
metadata: {name: child-${policy}, namespace: gc-cr, ownerReferences: ${ref}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-${policy}, namespace: gc-cr, ownerReferences: ${ref}}
`,
    );
    await cluster.k(['delete', 'gadget', owner, '-n', 'gc-cr', `--cascade=${policy}`, '--timeout=20s']);
  };
  await mk('background');
  await until(
    'CR dependents gone (background)',
    async () =>
      !(await exists('gadget', 'child-background', 'gc-cr')) && !(await exists('configmap', 'cm-background', 'gc-cr')),
  );
  await mk('foreground');
  // kubectl waited for the owner, which waited for its blocking dependents.
  assert.equal(await exists('gadget', 'child-foreground', 'gc-cr'), false);
  assert.equal(await exists('configmap', 'cm-foreground', 'gc-cr'), false);
  await mk('orphan');
  const child = JSON.parse(await cluster.k(['get', 'gadget', 'child-orphan', '-n', 'gc-cr', '-o', 'json']));
  assert.equal(child.metadata.ownerReferences, undefined);
  const cm = JSON.parse(await cluster.k(['get', 'configmap', 'cm-orphan', '-n', 'gc-cr', '-o', 'json']));
  assert.equal(cm.metadata.ownerReferences, undefined);
});
