import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  podEvaluator,
  serviceEvaluator,
  pvcEvaluator,
  objectCountEvaluator,
  resourcesForQuota,
  podMatchesScope,
} from '../../src/quota/evaluators.js';
import { add, fromObject, lessThanOrEqual, mask, prettyPrint, toObject } from '../../src/quota/resources.js';
import { ResourceQuotaAdmission } from '../../src/apiserver/admission/resourcequota.js';

const pod = (containers: any[], extra: any = {}) => ({
  metadata: { name: 'p', namespace: 'n' },
  spec: { containers, ...extra },
  status: {},
});

test('resource list arithmetic is exact', () => {
  const a = fromObject({ cpu: '500m', memory: '64Mi' });
  const b = fromObject({ cpu: '0.5', memory: '64Mi', pods: '1' });
  assert.deepEqual(toObject(add(a, b)), { cpu: '1', memory: '128Mi', pods: '1' });
  assert.deepEqual(toObject(mask(add(a, b), ['cpu'])), { cpu: '1' });
  assert.deepEqual(lessThanOrEqual(fromObject({ cpu: '2100m', pods: '1' }), fromObject({ cpu: '2' })), {
    ok: false,
    exceeded: ['cpu'],
  });
  assert.equal(
    prettyPrint(fromObject({ 'requests.memory': '1Gi', 'requests.cpu': '2' })),
    'requests.cpu=2,requests.memory=1Gi',
  );
});

test('pod usage: containers summed, init containers maxed, terminal pods free', () => {
  const p = pod(
    [
      { name: 'a', resources: { requests: { cpu: '100m', memory: '1Gi' }, limits: { cpu: '200m' } } },
      { name: 'b', resources: { requests: { cpu: '300m' } } },
    ],
    { initContainers: [{ name: 'i', resources: { requests: { cpu: '1' } } }] },
  );
  const u = toObject(podEvaluator.usage(p));
  assert.deepEqual(u, {
    'count/pods': '1',
    cpu: '1',
    'limits.cpu': '200m',
    memory: '1Gi',
    pods: '1',
    'requests.cpu': '1',
    'requests.memory': '1Gi',
  });
  const done = { ...p, status: { phase: 'Succeeded' } };
  assert.deepEqual(toObject(podEvaluator.usage(done)), { 'count/pods': '1' });
});

test('pod constraints name the missing requests per container', () => {
  const p = pod([
    { name: 'web', resources: {} },
    { name: 'side', resources: { requests: { cpu: '1' } } },
  ]);
  assert.equal(
    podEvaluator.constraints(['requests.cpu', 'requests.memory', 'pods'], p),
    'must specify requests.cpu for: web; requests.memory for: side,web',
  );
  assert.equal(podEvaluator.constraints(['pods'], p), undefined);
});

test('scopes select pods', () => {
  const be = pod([{ name: 'a' }]);
  const burst = pod([{ name: 'a', resources: { requests: { cpu: '1' } } }], {
    activeDeadlineSeconds: 10,
    priorityClassName: 'high',
  });
  assert.equal(podMatchesScope({ scopeName: 'BestEffort', operator: 'Exists' }, be), true);
  assert.equal(podMatchesScope({ scopeName: 'NotBestEffort', operator: 'Exists' }, burst), true);
  assert.equal(podMatchesScope({ scopeName: 'Terminating', operator: 'Exists' }, burst), true);
  assert.equal(podMatchesScope({ scopeName: 'NotTerminating', operator: 'Exists' }, be), true);
  assert.equal(podMatchesScope({ scopeName: 'PriorityClass', operator: 'In', values: ['high'] }, burst), true);
  assert.equal(podMatchesScope({ scopeName: 'PriorityClass', operator: 'In', values: ['high'] }, be), false);
});

test('services, PVCs and object counts', () => {
  assert.deepEqual(toObject(serviceEvaluator.usage({ spec: { type: 'NodePort', ports: [{}, {}] } })), {
    'count/services': '1',
    services: '1',
    'services.loadbalancers': '0',
    'services.nodeports': '2',
  });
  assert.deepEqual(
    toObject(serviceEvaluator.usage({ spec: { type: 'LoadBalancer', ports: [{}] } }))['services.loadbalancers'],
    '1',
  );
  const pvc = { spec: { storageClassName: 'fast', resources: { requests: { storage: '5Gi' } } } };
  assert.deepEqual(toObject(pvcEvaluator.usage(pvc)), {
    'count/persistentvolumeclaims': '1',
    'fast.storageclass.storage.k8s.io/persistentvolumeclaims': '1',
    'fast.storageclass.storage.k8s.io/requests.storage': '5Gi',
    persistentvolumeclaims: '1',
    'requests.storage': '5Gi',
  });
  assert.deepEqual(toObject(objectCountEvaluator('apps', 'deployments').usage({})), { 'count/deployments.apps': '1' });
  assert.deepEqual(toObject(objectCountEvaluator('', 'configmaps').usage({})), {
    configmaps: '1',
    'count/configmaps': '1',
  });
  assert.deepEqual(
    resourcesForQuota(['requests.cpu', 'count/deployments.apps', 'secrets'])
      .map((r) => `${r.resource}.${r.group}`)
      .sort(),
    ['deployments.apps', 'pods.', 'secrets.'],
  );
});

test('admission check: exceeded quota message and new usage', () => {
  const plugin = new ResourceQuotaAdmission(() => undefined);
  const quota = {
    metadata: { name: 'compute' },
    spec: {},
    status: { hard: { 'requests.cpu': '2', pods: '5' }, used: { 'requests.cpu': '1', pods: '1' } },
  };
  const a: any = {
    group: '',
    resource: 'pods',
    name: 'x',
    namespace: 'n',
    operation: 'CREATE',
    object: pod([{ name: 'c', resources: { requests: { cpu: '2' } } }]),
  };
  const delta = podEvaluator.usage(a.object);
  assert.throws(
    () => plugin.check(a, podEvaluator, delta, [quota]),
    (e: any) =>
      e.code === 403 &&
      e.message ===
        'pods "x" is forbidden: exceeded quota: compute, requested: requests.cpu=2, used: requests.cpu=1, limited: requests.cpu=2',
  );
  a.object = pod([{ name: 'c', resources: { requests: { cpu: '500m' } } }]);
  const [updated] = plugin.check(a, podEvaluator, podEvaluator.usage(a.object), [quota]);
  assert.deepEqual(updated.status.used, { pods: '2', 'requests.cpu': '1500m' });
  const unsynced = { ...quota, status: { hard: { 'requests.cpu': '2' }, used: {} } };
  assert.throws(
    () => plugin.check(a, podEvaluator, delta, [unsynced]),
    /status unknown for quota: compute, resources: requests.cpu/,
  );
});
