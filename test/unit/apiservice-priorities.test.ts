// APIService priorities (apiregistration.k8s.io/v1): the values kube-apiserver's autoregistration
// gives its own group versions (apiVersionPriorities / DefaultGenericAPIServicePriorities in
// kubernetes/pkg/controlplane/apiserver/aggregator.go and cmd/kube-apiserver/app/aggregator.go)
// and crdregistration gives CRD versions (1000/100).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiServices } from '../../src/api/apiregistration/v1/index.js';
import type { VirtualReader } from '../../src/api/types.js';

/** The spec fields of an APIService as kubectl get apiservice -o yaml shows them. */
interface APIServiceSpec {
  group?: string;
  version: string;
  groupPriorityMinimum: number;
  versionPriority: number;
}

// A store holding one CRD (served in two versions, one not served), read as the server reads it.
const crd = {
  metadata: { name: 'widgets.example.com', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: {
    group: 'example.com',
    versions: [
      { name: 'v1', served: true },
      { name: 'v1beta1', served: true },
      { name: 'v1alpha1', served: false },
    ],
  },
};
const reader: VirtualReader = {
  list: (group, plural) => (group === 'apiextensions.k8s.io' && plural === 'customresourcedefinitions' ? [crd] : []),
  get: () => undefined,
};

async function specs(): Promise<Map<string, APIServiceSpec>> {
  const list = (await apiServices.virtualList!(reader, undefined)) as {
    metadata: { name: string };
    spec: APIServiceSpec;
  }[];
  return new Map(list.map((o) => [o.metadata.name, o.spec]));
}

test('built-in group versions carry upstream priorities', async () => {
  const s = await specs();
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

test('every served built-in group version has an upstream priority (none falls back to the CRD one)', async () => {
  for (const [name, spec] of await specs()) {
    if (name.endsWith('.example.com')) continue;
    assert.notDeepEqual([spec.groupPriorityMinimum, spec.versionPriority], [1000, 100], name);
  }
});

test('CRD versions get crdregistration priorities, only while served', async () => {
  const s = await specs();
  assert.deepEqual(s.get('v1.example.com'), {
    group: 'example.com',
    version: 'v1',
    groupPriorityMinimum: 1000,
    versionPriority: 100,
  });
  assert.ok(s.has('v1beta1.example.com'));
  assert.ok(!s.has('v1alpha1.example.com'));
});
