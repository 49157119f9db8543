// Namespace lifecycle with the real kubectl: deleting a namespace deletes everything in it and
// then the namespace; while content remains it is Terminating with upstream's conditions; the
// system namespaces may not be deleted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type Cluster } from './harness.js';
import { sleep } from '../support/until.js';

let cluster: Cluster;

before(async () => {
  cluster = await startCluster();
});
after(async () => {
  await cluster?.cleanup();
});

const APP = (ns: string) => `
apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: ${ns}}
data: {mode: fast}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: more, namespace: ${ns}}
data: {a: b}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: ${ns}}
stringData: {password: s3cret}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${ns}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, image: nginx:1.27}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${ns}}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: some-lease, namespace: ${ns}}
spec: {holderIdentity: me}
`;

test('the controller manager holds the kube-controller-manager lease', async () => {
  let holder = '';
  for (let i = 0; i < 50 && !holder; i++) {
    const r = await cluster.kubectl([
      'get',
      'lease',
      '-n',
      'kube-system',
      'kube-controller-manager',
      '-o',
      'jsonpath={.spec.holderIdentity}',
    ]);
    holder = r.code === 0 ? r.stdout.trim() : '';
    if (!holder) await sleep(100);
  }
  assert.ok(holder, 'a holder identity');
  const lease = JSON.parse(
    await cluster.k(['get', 'lease', '-n', 'kube-system', 'kube-controller-manager', '-o', 'json']),
  );
  assert.equal(lease.spec.leaseDurationSeconds, 15);
  assert.match(lease.spec.renewTime, /\.\d{6}Z$/);
});

test('kubectl delete ns removes everything in it, then the namespace', async () => {
  await cluster.k(['apply', '-f', '-'], APP('doomed'));
  const before = await cluster.k(['get', 'all,cm,secret,lease', '-n', 'doomed', '-o', 'name']);
  for (const n of [
    'configmap/settings',
    'configmap/more',
    'secret/creds',
    'deployment.apps/web',
    'service/web',
    'lease.coordination.k8s.io/some-lease',
  ]) {
    assert.ok(before.includes(n), `${n} exists before:\n${before}`);
  }
  const started = Date.now();
  const del = await cluster.kubectl(['delete', 'ns', 'doomed', '--timeout=30s'], { timeoutMs: 40_000 });
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stdout, /namespace "doomed" deleted/);
  // Upstream's controller first looks 5 s after the deletion (namespaceDeletionGracePeriod).
  assert.ok(Date.now() - started < 15_000, `delete took ${Date.now() - started} ms`);
  const ns = await cluster.kubectl(['get', 'ns', 'doomed']);
  assert.notEqual(ns.code, 0);
  assert.match(ns.stderr, /namespaces "doomed" not found/);
  const all = await cluster.kubectl(['get', 'all', '-n', 'doomed']);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(all.stdout.trim(), '');
  assert.match(all.stderr, /No resources found in doomed namespace/);
  const rest = await cluster.k(['get', 'cm,secret,lease', '-n', 'doomed', '-o', 'name']);
  assert.equal(rest.trim(), '');
  // The name can be used again at once.
  await cluster.k(['create', 'ns', 'doomed']);
  await cluster.k(['delete', 'ns', 'doomed']);
});

test('custom resources in a namespace are deleted with it', async () => {
  await cluster.k(
    ['apply', '-f', '-'],
    `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.ns.example.com}
spec:
  group: ns.example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`,
  );
  await cluster.k(['wait', '--for=condition=Established', 'crd/gadgets.ns.example.com', '--timeout=10s']);
  await cluster.k(['create', 'ns', 'with-crs']);
  let created = false;
  for (let i = 0; i < 50 && !created; i++) {
    const r = await cluster.kubectl(['apply', '-f', '-'], {
      input:
        'apiVersion: ns.example.com/v1\nkind: Gadget\nmetadata: {name: g1, namespace: with-crs}\nspec: {size: 3}\n',
    });
    created = r.code === 0;
    if (!created) await sleep(100);
  }
  assert.ok(created, 'custom object created');
  const del = await cluster.kubectl(['delete', 'ns', 'with-crs', '--timeout=20s'], { timeoutMs: 30_000 });
  assert.equal(del.code, 0, del.stderr);
  assert.match((await cluster.kubectl(['get', 'ns', 'with-crs'])).stderr, /not found/);
  const left = await cluster.kubectl(['get', 'gadgets', '-A', '-o', 'name']);
  assert.equal(left.stdout.trim(), '', left.stderr);
  await cluster.k(['delete', 'crd', 'gadgets.ns.example.com']);
});

test('kubectl delete -k of a namespace and its objects finds the objects still there, being deleted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-kust-'));
  try {
    writeFileSync(join(dir, 'kustomization.yaml'), 'resources:\n- all.yaml\n');
    writeFileSync(
      join(dir, 'all.yaml'),
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: kust}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: kust}\n---\n' +
        'apiVersion: v1\nkind: Secret\nmetadata: {name: b, namespace: kust}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: c, namespace: kust}\nspec: {ports: [{port: 80}]}\n',
    );
    await cluster.k(['apply', '-k', dir]);
    const del = await cluster.kubectl(['delete', '-k', dir], { timeoutMs: 60_000 });
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(del.stdout.trim().split('\n').sort(), [
      'configmap "a" deleted',
      'namespace "kust" deleted',
      'secret "b" deleted',
      'service "c" deleted',
    ]);
    const wait = await cluster.kubectl(['wait', '--for=delete', 'ns/kust', '--timeout=30s'], { timeoutMs: 40_000 });
    assert.equal(wait.code, 0, wait.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('content with finalizers keeps the namespace Terminating, with upstream conditions', async () => {
  await cluster.k(['create', 'ns', 'held']);
  await cluster.k(
    ['apply', '-f', '-'],
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep, namespace: held, finalizers: [example.com/hold]}\n',
  );
  await cluster.k(['create', 'secret', 'generic', 'gone', '-n', 'held', '--from-literal=a=b']);
  await cluster.k(['delete', 'ns', 'held', '--wait=false']);
  let ns: any;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    ns = JSON.parse(await cluster.k(['get', 'ns', 'held', '-o', 'json']));
    if (ns.status?.conditions?.find((c: any) => c.type === 'NamespaceFinalizersRemaining')?.status === 'True') break;
    await sleep(50);
  }
  assert.equal(ns.status.phase, 'Terminating');
  assert.ok(ns.metadata.deletionTimestamp);
  assert.deepEqual(ns.spec.finalizers, ['kubernetes']);
  const byType = Object.fromEntries(ns.status.conditions.map((c: any) => [c.type, c]));
  assert.deepEqual(
    ns.status.conditions.map((c: any) => c.type),
    [
      'NamespaceDeletionDiscoveryFailure',
      'NamespaceDeletionGroupVersionParsingFailure',
      'NamespaceDeletionContentFailure',
      'NamespaceContentRemaining',
      'NamespaceFinalizersRemaining',
    ],
  );
  assert.deepEqual(
    {
      s: byType.NamespaceDeletionDiscoveryFailure.status,
      r: byType.NamespaceDeletionDiscoveryFailure.reason,
      m: byType.NamespaceDeletionDiscoveryFailure.message,
    },
    { s: 'False', r: 'ResourcesDiscovered', m: 'All resources successfully discovered' },
  );
  assert.equal(byType.NamespaceDeletionContentFailure.reason, 'ContentDeleted');
  assert.equal(
    byType.NamespaceDeletionContentFailure.message,
    'All content successfully deleted, may be waiting on finalization',
  );
  assert.equal(byType.NamespaceContentRemaining.status, 'True');
  assert.equal(byType.NamespaceContentRemaining.reason, 'SomeResourcesRemain');
  assert.equal(
    byType.NamespaceContentRemaining.message,
    'Some resources are remaining: configmaps. has 1 resource instances',
  );
  assert.equal(byType.NamespaceFinalizersRemaining.reason, 'SomeFinalizersRemain');
  assert.equal(
    byType.NamespaceFinalizersRemaining.message,
    'Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances',
  );
  for (const c of ns.status.conditions) assert.ok(c.lastTransitionTime, `${c.type} has lastTransitionTime`);

  // The finalizer-free secret is already gone; the held configmap waits, marked for deletion.
  assert.equal((await cluster.k(['get', 'secret', '-n', 'held', '-o', 'name'])).trim(), '');
  const keep = JSON.parse(await cluster.k(['get', 'cm', 'keep', '-n', 'held', '-o', 'json']));
  assert.ok(keep.metadata.deletionTimestamp);
  // Nothing new may be created in a terminating namespace.
  const create = await cluster.kubectl(['create', 'cm', 'late', '-n', 'held']);
  assert.notEqual(create.code, 0);
  assert.match(
    create.stderr,
    /forbidden: unable to create new content in namespace held because it is being terminated/,
  );

  const described = await cluster.k(['describe', 'ns', 'held']);
  assert.match(described, /Status:\s+Terminating/);
  assert.match(described, /NamespaceContentRemaining\s+True/);

  // Release the finalizer: the namespace goes within a few seconds.
  await cluster.k(['patch', 'cm', 'keep', '-n', 'held', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  const wait = await cluster.kubectl(['wait', '--for=delete', 'ns/held', '--timeout=10s'], { timeoutMs: 15_000 });
  assert.equal(wait.code, 0, wait.stderr);
  assert.match((await cluster.kubectl(['get', 'ns', 'held'])).stderr, /not found/);
});

test('the system namespaces may not be deleted', async () => {
  for (const name of ['default', 'kube-system', 'kube-public']) {
    const r = await cluster.kubectl(['delete', 'ns', name]);
    assert.notEqual(r.code, 0, name);
    assert.match(
      r.stderr,
      new RegExp(
        `Error from server \\(Forbidden\\): namespaces "${name}" is forbidden: this namespace may not be deleted`,
      ),
    );
    const ns = JSON.parse(await cluster.k(['get', 'ns', name, '-o', 'json']));
    assert.equal(ns.status.phase, 'Active');
    assert.equal(ns.metadata.deletionTimestamp, undefined);
  }
  // A dry run is refused the same way.
  const dry = await cluster.kubectl(['delete', 'ns', 'default', '--dry-run=server']);
  assert.notEqual(dry.code, 0);
  assert.match(dry.stderr, /this namespace may not be deleted/);
});
