// APIService priorities (apiregistration.k8s.io/v1): the values kube-apiserver's autoregistration
// gives its own group versions (apiVersionPriorities / DefaultGenericAPIServicePriorities in
// kubernetes/pkg/controlplane/apiserver/aggregator.go and cmd/kube-apiserver/app/aggregator.go)
// and crdregistration gives CRD versions (1000/100).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinResources } from '../../src/api/builtin.js';
import { ResourceRegistry } from '../../src/apiserver/resources.js';
import { desiredLocalAPIServices } from '../../src/apiserver/aggregator/autoregister.js';

/** The spec fields of an APIService as kubectl get apiservice -o yaml shows them. */
interface APIServiceSpec {
  group?: string;
  version: string;
  groupPriorityMinimum: number;
  versionPriority: number;
}

// The built-in resources plus one CRD's group (served in two versions, one not served), as the
// server's registry holds them.
function registry(): ResourceRegistry {
  const r = new ResourceRegistry();
  for (const def of builtinResources()) r.add(def);
  r.add({
    group: 'example.com',
    versions: [{ name: 'v1' }, { name: 'v1beta1' }, { name: 'v1alpha1', served: false }],
    kind: 'Widget',
    plural: 'widgets',
    singular: 'widget',
    namespaced: true,
  });
  return r;
}

function specs(): Map<string, APIServiceSpec> {
  const crdVersions = new Set(['example.com/v1', 'example.com/v1beta1']);
  return new Map(
    desiredLocalAPIServices(registry().groups(), crdVersions).map((o) => [o.metadata.name!, o.spec as APIServiceSpec]),
  );
}

/**
 * Upstream's numbers for the group versions this server can serve, read from kube-apiserver
 * (cmd/kube-apiserver/app/aggregator.go apiVersionPriorities merged over
 * pkg/controlplane/apiserver/aggregator.go DefaultGenericAPIServicePriorities). The aggregator's
 * own group (apiregistration.k8s.io) is not in that table: clusters show v1.apiregistration.k8s.io
 * at 18000/15, and aggregated discovery lists it first (APIRegistrationGroupPriority 20001).
 * metrics.k8s.io is metrics-server's APIService (its manifest: 100/100).
 */
const UPSTREAM: Record<string, [number, number]> = {
  'v1.': [18000, 1],
  'v1.apiregistration.k8s.io': [18000, 15],
  'v1.apps': [17800, 15],
  'v1.events.k8s.io': [17750, 15],
  'v1.authentication.k8s.io': [17700, 15],
  'v1.authorization.k8s.io': [17600, 15],
  'v2.autoscaling': [17500, 30],
  'v1.autoscaling': [17500, 15],
  'v1.batch': [17400, 15],
  'v1.certificates.k8s.io': [17300, 15],
  'v1.networking.k8s.io': [17200, 15],
  'v1.policy': [17100, 15],
  'v1.rbac.authorization.k8s.io': [17000, 15],
  'v1.storage.k8s.io': [16800, 15],
  'v1.apiextensions.k8s.io': [16700, 15],
  'v1.admissionregistration.k8s.io': [16700, 15],
  'v1beta1.admissionregistration.k8s.io': [16700, 12],
  'v1alpha1.admissionregistration.k8s.io': [16700, 9],
  'v1.scheduling.k8s.io': [16600, 15],
  'v1.coordination.k8s.io': [16500, 15],
  'v1.node.k8s.io': [16300, 15],
  'v1.discovery.k8s.io': [16200, 15],
  'v1.flowcontrol.apiserver.k8s.io': [16100, 21],
  'v1beta1.metrics.k8s.io': [100, 100],
};

test('every served built-in group version carries exactly upstream priorities', () => {
  const s = specs();
  const builtin = [...s.keys()].filter((name) => !name.endsWith('.example.com'));
  assert.ok(builtin.length >= 20, `${builtin.length} built-in APIServices`);
  for (const name of builtin) {
    assert.ok(Object.hasOwn(UPSTREAM, name), `${name} has no upstream priority`);
    const spec = s.get(name)!;
    assert.deepEqual([spec.groupPriorityMinimum, spec.versionPriority], UPSTREAM[name], name);
  }
  // The core group's APIService has no group field at all (omitempty).
  assert.equal('group' in s.get('v1.')!, false);
});

test('discovery order follows the priorities: groups by their highest groupPriorityMinimum then name, versions by versionPriority', () => {
  const s = specs();
  // Aggregated discovery's order: groups by their highest groupPriorityMinimum, then by name; a
  // group's versions by versionPriority (highest first).
  const sorted = [...s.values()].sort(
    (a, b) => b.groupPriorityMinimum - a.groupPriorityMinimum || ((a.group ?? '') < (b.group ?? '') ? -1 : 1),
  );
  const expected: string[] = [];
  for (const spec of sorted) if (!expected.includes(spec.group ?? '')) expected.push(spec.group ?? '');
  const groups = registry().groups();
  assert.deepEqual(
    groups.map((g) => g.name),
    expected,
  );
  for (const g of groups) {
    const byPriority = [...g.versions].sort(
      (a, b) => s.get(`${b}.${g.name}`)!.versionPriority - s.get(`${a}.${g.name}`)!.versionPriority,
    );
    assert.deepEqual(g.versions, byPriority, g.name);
  }
});

test('every served built-in group version has an upstream priority (none falls back to the CRD one)', () => {
  for (const [name, spec] of specs()) {
    if (name.endsWith('.example.com')) continue;
    assert.notDeepEqual([spec.groupPriorityMinimum, spec.versionPriority], [1000, 100], name);
  }
});

test('CRD versions get crdregistration priorities, only while served', () => {
  const s = specs();
  assert.deepEqual(s.get('v1.example.com'), {
    group: 'example.com',
    version: 'v1',
    groupPriorityMinimum: 1000,
    versionPriority: 100,
  });
  assert.ok(s.has('v1beta1.example.com'));
  assert.ok(!s.has('v1alpha1.example.com'));
});

test('CRD versions are automanaged=true, built-in ones automanaged=onstart', () => {
  const labels = new Map(
    desiredLocalAPIServices(registry().groups(), new Set(['example.com/v1'])).map((o) => [
      o.metadata.name!,
      o.metadata.labels?.['kube-aggregator.kubernetes.io/automanaged'],
    ]),
  );
  assert.equal(labels.get('v1.example.com'), 'true');
  assert.equal(labels.get('v1.apps'), 'onstart');
  assert.equal(labels.get('v1beta1.metrics.k8s.io'), 'onstart');
});
