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

test('built-in group versions carry upstream priorities', () => {
  const s = specs();
  const pin = (name: string, group: number, version: number) =>
    assert.deepEqual([s.get(name)?.groupPriorityMinimum, s.get(name)?.versionPriority], [group, version], name);
  pin('v1.', 18000, 1);
  pin('v1.apps', 17800, 15);
  pin('v1.events.k8s.io', 17750, 15);
  pin('v1.authentication.k8s.io', 17700, 15);
  pin('v2.autoscaling', 17500, 30);
  pin('v1.autoscaling', 17500, 15);
  pin('v1.batch', 17400, 15);
  pin('v1.policy', 17100, 15);
  pin('v1.rbac.authorization.k8s.io', 17000, 15);
  pin('v1.apiextensions.k8s.io', 16700, 15);
  pin('v1.admissionregistration.k8s.io', 16700, 15);
  pin('v1.coordination.k8s.io', 16500, 15);
  pin('v1.discovery.k8s.io', 16200, 15);
  // The core group's APIService has no group field at all (omitempty).
  assert.equal('group' in s.get('v1.')!, false);
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
