// The garbage collector's dependency graph: virtual owners, owner changes, foreground and orphan
// transitions, deletions, namespace mismatches; and the endpoints/endpointslice computations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DependencyGraph,
  partitionDependents,
  referencesDiffs,
  type ObjectMetadata,
  type OwnerReference,
} from '../../src/controllers/garbagecollector/graph.js';
import { computeSubsets, repackSubsets } from '../../src/controllers/endpoints/endpoints.js';
import { desiredEndpoints, planSlices } from '../../src/controllers/endpoints/endpointslice.js';
import { findPort } from '../../src/controllers/endpoints/util.js';
import { parseDurationMs } from '../../src/cli/component.js';
import { selectControllers } from '../../src/cli/controllermanager.js';

function recorder() {
  const calls = { del: [] as string[], orphan: [] as string[], invalid: [] as string[] };
  const sink = {
    attemptToDelete: (uid: string) => void calls.del.push(uid),
    attemptToOrphan: (uid: string) => void calls.orphan.push(uid),
    invalidNamespaceOwnerRef: (dep: any, ref: OwnerReference) => void calls.invalid.push(`${dep.uid}->${ref.uid}`),
  };
  return { calls, graph: new DependencyGraph(sink) };
}

const cm = (
  name: string,
  uid: string,
  extra: Partial<ObjectMetadata['metadata']> = {},
  namespace = 'default',
): ObjectMetadata => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, uid, namespace, ...extra },
});
const ref = (name: string, uid: string, block = false): OwnerReference => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  name,
  uid,
  ...(block ? { blockOwnerDeletion: true } : {}),
});

test('a dependent seen before its owner creates a virtual owner node, checked by the collector', () => {
  const { graph, calls } = recorder();
  graph.process({ type: 'add', obj: cm('dep', 'd1', { ownerReferences: [ref('owner', 'o1')] }) });
  const owner = graph.node('o1')!;
  assert.ok(owner.virtual);
  assert.equal(owner.observed, false);
  assert.deepEqual(
    [...owner.dependents].map((d) => d.uid),
    ['d1'],
  );
  assert.deepEqual(calls.del, ['o1']);
  // The owner shows up: the node turns observed, keeps its dependents.
  graph.process({ type: 'add', obj: cm('owner', 'o1') });
  assert.equal(graph.node('o1')!.observed, true);
  assert.equal(graph.node('o1')!.dependents.size, 1);
});

test('a virtual delete removes the owner node and queues its dependents', () => {
  const { graph, calls } = recorder();
  graph.process({ type: 'add', obj: cm('dep', 'd1', { ownerReferences: [ref('owner', 'o1')] }) });
  calls.del.length = 0;
  graph.process({ type: 'virtualDelete', identity: graph.node('o1')!.identity });
  assert.equal(graph.node('o1'), undefined);
  assert.deepEqual(calls.del, ['d1']);
  assert.ok(
    graph.absentOwnerCache.has({ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: 'o1', namespace: 'default' }),
  );
});

test('deleting an owner queues its dependents; changed references move edges', () => {
  const { graph, calls } = recorder();
  graph.process({ type: 'add', obj: cm('a', 'a1') });
  graph.process({ type: 'add', obj: cm('b', 'b1') });
  graph.process({ type: 'add', obj: cm('dep', 'd1', { ownerReferences: [ref('a', 'a1')] }) });
  graph.process({ type: 'update', obj: cm('dep', 'd1', { ownerReferences: [ref('b', 'b1')] }) });
  assert.equal(graph.node('a1')!.dependents.size, 0);
  assert.equal(graph.node('b1')!.dependents.size, 1);
  calls.del.length = 0;
  graph.process({ type: 'delete', obj: cm('b', 'b1') });
  assert.deepEqual(calls.del, ['d1']);
  assert.equal(graph.node('b1'), undefined);
});

test('nodes are compact: no Set of dependents until one comes, coordinates on the node, replacement keeps edges', () => {
  const { graph } = recorder();
  const deps = (uid: string) => (graph.node(uid) as unknown as { deps?: Set<unknown> }).deps;
  for (let i = 0; i < 100; i++) graph.process({ type: 'add', obj: cm(`c${i}`, `u${i}`) });
  for (let i = 0; i < 100; i++) assert.equal(deps(`u${i}`), undefined, `u${i} holds no Set`);
  assert.equal(graph.node('u0')!.owners, graph.node('u1')!.owners, 'one empty owners array for all');
  assert.equal(graph.node('u0')!.dependents.size, 0);
  // Dependents come and go: the Set comes and goes with them.
  graph.process({ type: 'add', obj: cm('d', 'd1', { ownerReferences: [ref('c0', 'u0')] }) });
  assert.deepEqual(
    [...graph.node('u0')!.dependents].map((d) => d.uid),
    ['d1'],
  );
  graph.process({ type: 'update', obj: cm('d', 'd1') });
  assert.equal(deps('u0'), undefined);
  // A virtual owner observed under other coordinates is replaced by a node keeping its dependents.
  graph.process({ type: 'add', obj: cm('d2', 'd2', { ownerReferences: [ref('v', 'v1')] }) });
  graph.process({
    type: 'add',
    obj: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'v', uid: 'v1', namespace: 'default' } },
  });
  const v = graph.node('v1')!;
  assert.equal(v.kind, 'Secret');
  assert.equal(v.identity.kind, 'Secret');
  assert.equal(v.identity.uid, 'v1');
  assert.deepEqual(
    [...v.dependents].map((d) => d.uid),
    ['d2'],
  );
});

test('foreground deletion marks the owner and queues it and its dependents', () => {
  const { graph, calls } = recorder();
  const owner = cm('owner', 'o1');
  graph.process({ type: 'add', obj: owner });
  graph.process({ type: 'add', obj: cm('dep', 'd1', { ownerReferences: [ref('owner', 'o1', true)] }) });
  graph.process({ type: 'add', obj: cm('dep2', 'd2', { ownerReferences: [ref('owner', 'o1')] }) });
  calls.del.length = 0;
  const deleting = cm('owner', 'o1', { deletionTimestamp: '2024-01-01T00:00:00Z', finalizers: ['foregroundDeletion'] });
  graph.process({ type: 'update', obj: deleting, oldObj: owner });
  const n = graph.node('o1')!;
  assert.ok(n.deletingDependents);
  assert.deepEqual(calls.del.sort(), ['d1', 'd2', 'o1']);
  assert.deepEqual(
    n.blockingDependents().map((d) => d.uid),
    ['d1'],
  );
  // A blocking dependent going away asks the collector to look at the owner again.
  calls.del.length = 0;
  graph.process({ type: 'delete', obj: cm('dep', 'd1', { ownerReferences: [ref('owner', 'o1', true)] }) });
  assert.ok(calls.del.includes('o1'));
  assert.deepEqual(n.blockingDependents(), []);
  // Unblocking a reference does too.
  graph.process({ type: 'add', obj: cm('dep3', 'd3', { ownerReferences: [ref('owner', 'o1', true)] }) });
  calls.del.length = 0;
  graph.process({ type: 'update', obj: cm('dep3', 'd3', { ownerReferences: [ref('owner', 'o1', false)] }) });
  assert.deepEqual(calls.del, ['o1']);
});

test('the orphan finalizer on a deleted owner queues it for orphaning, once', () => {
  const { graph, calls } = recorder();
  const owner = cm('owner', 'o1');
  graph.process({ type: 'add', obj: owner });
  const deleting = cm('owner', 'o1', { deletionTimestamp: '2024-01-01T00:00:00Z', finalizers: ['orphan'] });
  graph.process({ type: 'update', obj: deleting, oldObj: owner });
  graph.process({ type: 'update', obj: deleting, oldObj: deleting });
  assert.deepEqual(calls.orphan, ['o1']);
  assert.ok(graph.node('o1')!.beingDeleted);
});

test('an owner observed in another namespace than its dependent is reported and the dependent queued', () => {
  const { graph, calls } = recorder();
  graph.process({ type: 'add', obj: cm('dep', 'd1', { ownerReferences: [ref('owner', 'o1')] }, 'ns-b') });
  calls.del.length = 0;
  graph.process({ type: 'add', obj: cm('owner', 'o1', {}, 'ns-a') });
  assert.deepEqual(calls.invalid, ['d1->o1']);
  assert.deepEqual(calls.del, ['d1']);
  // A later dependent in the wrong namespace is reported at once.
  graph.process({ type: 'add', obj: cm('dep2', 'd2', { ownerReferences: [ref('owner', 'o1')] }, 'ns-c') });
  assert.deepEqual(calls.invalid, ['d1->o1', 'd2->o1']);
});

test('partitionDependents and referencesDiffs', () => {
  const { graph } = recorder();
  graph.process({ type: 'add', obj: cm('dep', 'd1', { ownerReferences: [ref('owner', 'o1')] }) });
  graph.process({
    type: 'add',
    obj: cm('dep2', 'd2', { ownerReferences: [{ ...ref('owner', 'o1'), kind: 'Secret' }] }),
  });
  const o = graph.node('o1')!;
  const { matching, nonMatching } = partitionDependents(o.dependents, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    name: 'owner',
    uid: 'o1',
    namespace: 'default',
  });
  assert.deepEqual(
    matching.map((d) => d.uid),
    ['d1'],
  );
  assert.deepEqual(
    nonMatching.map((d) => d.uid),
    ['d2'],
  );
  // A virtual delete for one identity leaves the node for the other dependents' identity.
  graph.process({ type: 'virtualDelete', identity: o.identity });
  assert.equal(graph.node('o1')!.identity.kind, 'Secret');
  const d = referencesDiffs([ref('a', '1'), ref('b', '2', true)], [ref('b', '2'), ref('c', '3')]);
  assert.deepEqual(
    d.added.map((r) => r.uid),
    ['3'],
  );
  assert.deepEqual(
    d.removed.map((r) => r.uid),
    ['1'],
  );
  assert.deepEqual(
    d.changed.map((c) => c.newRef.uid),
    ['2'],
  );
});

// ---- endpoints -----------------------------------------------------------------------------------

const pod = (name: string, ip: string, ready: boolean, extra: any = {}) => ({
  metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { app: 'web' }, ...(extra.metadata ?? {}) },
  spec: {
    nodeName: 'n1',
    containers: [{ name: 'c', ports: [{ name: 'http', containerPort: extra.port ?? 8080, protocol: 'TCP' }] }],
    ...(extra.spec ?? {}),
  },
  status: {
    phase: extra.phase ?? 'Running',
    podIP: ip,
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
  },
});
const svc = (spec: any = {}) => ({
  metadata: { name: 'web', namespace: 'default', uid: 'svc-uid' },
  spec: {
    selector: { app: 'web' },
    clusterIP: '10.43.0.10',
    ports: [
      { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
      { name: 'm', port: 9000, targetPort: 9100, protocol: 'TCP' },
    ],
    ...spec,
  },
});

test('endpoints: ready and not-ready addresses, named ports per pod, upstream repacking', () => {
  const { subsets } = computeSubsets(svc(), [
    pod('a', '10.0.0.1', true),
    pod('b', '10.0.0.2', false),
    pod('c', '10.0.0.3', true, { phase: 'Succeeded' }),
  ]);
  assert.equal(subsets.length, 1);
  assert.deepEqual(
    subsets[0].addresses!.map((a: any) => a.ip),
    ['10.0.0.1'],
  );
  assert.deepEqual(
    subsets[0].notReadyAddresses!.map((a: any) => a.ip),
    ['10.0.0.2'],
  );
  assert.deepEqual(subsets[0].ports!.map((p: any) => p.port).sort(), [8080, 9100]);
  assert.equal(subsets[0].addresses![0].targetRef!.name, 'a');
  assert.equal(subsets[0].addresses![0].nodeName, 'n1');
  // Different named-port numbers: separate subsets for them, one shared for the common port.
  const two = computeSubsets(svc(), [pod('a', '10.0.0.1', true), pod('b', '10.0.0.2', true, { port: 8081 })]).subsets;
  assert.equal(two.length, 3);
  // publishNotReadyAddresses: all ready; terminating pods dropped otherwise.
  const pub = computeSubsets(svc({ publishNotReadyAddresses: true }), [pod('b', '10.0.0.2', false)]).subsets;
  assert.equal(pub[0].addresses![0].ip, '10.0.0.2');
  const term = computeSubsets(svc(), [pod('a', '10.0.0.1', true, { metadata: { deletionTimestamp: 'x' } })]).subsets;
  assert.deepEqual(term, []);
  // hostname for pods whose subdomain is the service.
  const host = computeSubsets(svc({ clusterIP: 'None', ports: [] }), [
    pod('a', '10.0.0.1', true, { spec: { hostname: 'a', subdomain: 'web' } }),
  ]).subsets;
  assert.equal(host[0].addresses![0].hostname, 'a');
  assert.equal(host[0].ports, undefined);
  assert.deepEqual(repackSubsets([]), []);
  assert.equal(findPort(pod('a', '1.1.1.1', true), { port: 80, targetPort: 'nope', protocol: 'TCP' }), undefined);
});

test('endpointslices: conditions, at most N per slice, slices reused, placeholder when empty', () => {
  const s = svc();
  const eps = desiredEndpoints(s, [
    pod('a', '10.0.0.1', true),
    pod('b', '10.0.0.2', false),
    pod('t', '10.0.0.3', true, { metadata: { deletionTimestamp: 'x' } }),
  ]);
  const cond = Object.fromEntries(eps.map((e) => [e.endpoint.targetRef!.name, e.endpoint.conditions]));
  assert.deepEqual(cond.a, { ready: true, serving: true, terminating: false });
  assert.deepEqual(cond.b, { ready: false, serving: false, terminating: false });
  assert.deepEqual(cond.t, { ready: false, serving: true, terminating: true });

  const many = Array.from({ length: 250 }, (_, i) => pod(`p${i}`, `10.1.${i >> 8}.${i & 255}`, true));
  const plan = planSlices(s, desiredEndpoints(s, many), [], 100);
  assert.deepEqual(
    plan.create.map((x) => x.endpoints.length),
    [100, 100, 50],
  );
  assert.equal(plan.create[0].metadata!.labels!['kubernetes.io/service-name'], 'web');
  assert.equal(
    plan.create[0].metadata!.labels!['endpointslice.kubernetes.io/managed-by'],
    'endpointslice-controller.k8s.io',
  );
  assert.equal(plan.create[0].metadata!.ownerReferences![0].uid, 'svc-uid');
  // Existing slices keep their endpoints; one pod gone frees room that a new one fills.
  const existing = plan.create.map((x, i) => ({ ...x, metadata: { ...x.metadata, name: `web-${i}`, uid: `s${i}` } }));
  const next = [...many.slice(1), pod('new', '10.2.0.1', true)];
  const plan2 = planSlices(s, desiredEndpoints(s, next), existing, 100);
  assert.equal(plan2.create.length, 0);
  assert.equal(plan2.delete.length, 0);
  assert.equal(plan2.update.length, 1);
  assert.equal(plan2.update[0].metadata.name, 'web-0');
  // No endpoints: one placeholder slice, the others deleted.
  const plan3 = planSlices(s, [], existing, 100);
  assert.equal(plan3.delete.length, 3);
  assert.equal(plan3.create.length, 1);
  assert.deepEqual(plan3.create[0].endpoints, []);
});

test('controller-manager flags: durations and --controllers', () => {
  assert.equal(parseDurationMs('15s', 'x'), 15000);
  assert.equal(parseDurationMs('1m30s', 'x'), 90000);
  assert.equal(parseDurationMs('500ms', 'x'), 500);
  assert.throws(() => parseDurationMs('5 s', 'x'));
  const all = { a: () => null as any, b: () => null as any };
  assert.deepEqual(Object.keys(selectControllers('*', all)), ['a', 'b']);
  assert.deepEqual(Object.keys(selectControllers('*,-a', all)), ['b']);
  assert.deepEqual(Object.keys(selectControllers('a', all)), ['a']);
  assert.throws(() => selectControllers('zzz', all));
});
