// Response shapes official clients depend on: fields upstream writes even when zero, and the
// Status of an error in metav1.Status's field order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withZeroValuedFields, hasZeroValuedFields } from '../../src/api/zerovalues.js';
import * as errors from '../../src/machinery/errors.js';

test('a DaemonSet without status counts gets them as zeros, the input untouched', () => {
  const ds = Object.freeze({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'd' },
    status: Object.freeze({ numberReady: 2 }),
  });
  const out = withZeroValuedFields(ds) as any;
  assert.deepEqual(out.status, {
    numberReady: 2,
    currentNumberScheduled: 0,
    numberMisscheduled: 0,
    desiredNumberScheduled: 0,
  });
  assert.deepEqual(ds.status, { numberReady: 2 });
});

test('the status struct is created when missing; spec scalars are filled too', () => {
  const sts = withZeroValuedFields({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 's' },
    spec: { replicas: 1 },
  }) as any;
  assert.deepEqual(sts.spec, { replicas: 1, serviceName: '' });
  assert.deepEqual(sts.status, { replicas: 0, availableReplicas: 0 });
  const np = withZeroValuedFields({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', spec: {} }) as any;
  assert.deepEqual(np.spec, { podSelector: {} });
});

test('nil lists are null, empty structs {} and zero times null, as Go encodes them', () => {
  const role = withZeroValuedFields({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: {} }) as any;
  assert.equal(
    JSON.stringify(role),
    '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{},"rules":null}',
  );
  const withRules = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', rules: [] };
  assert.equal(withZeroValuedFields(withRules), withRules, 'an empty list stays [] (upstream: a non-nil empty slice)');
  const lr = withZeroValuedFields({ apiVersion: 'v1', kind: 'LimitRange', spec: {} }) as any;
  assert.deepEqual(lr.spec, { limits: null });
  const rq = withZeroValuedFields({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: {} }) as any;
  assert.deepEqual([rq.spec, rq.status], [{}, {}]);
  const lease = withZeroValuedFields({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: {} }) as any;
  assert.deepEqual(lease.spec, {});
  const ev = withZeroValuedFields({ apiVersion: 'v1', kind: 'Event', eventTime: '2026-01-01T00:00:00.000000Z' }) as any;
  assert.deepEqual(
    [ev.source, ev.firstTimestamp, ev.lastTimestamp, ev.eventTime],
    [{}, null, null, '2026-01-01T00:00:00.000000Z'],
  );
});

test('objects already complete, and types without such fields, come back as the same object', () => {
  const rs = { apiVersion: 'apps/v1', kind: 'ReplicaSet', status: { replicas: 3 } };
  assert.equal(withZeroValuedFields(rs), rs);
  const cm = { apiVersion: 'v1', kind: 'ConfigMap' };
  assert.equal(withZeroValuedFields(cm), cm);
  assert.equal(hasZeroValuedFields('v1', 'ConfigMap'), false);
  assert.equal(hasZeroValuedFields('autoscaling/v1', 'HorizontalPodAutoscaler'), true);
});

test('a Status is written in upstream field order, newline-terminated, empty fields omitted', () => {
  const e = new errors.ApiError(404, 'NotFound', 'pods "x" not found', { kind: 'pods', name: 'x' });
  assert.equal(
    e.toStatusJSON(),
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"x\\" not found","reason":"NotFound","details":{"name":"x","kind":"pods"},"code":404}\n',
  );
  const bare = new errors.ApiError(500, '', 'boom', { causes: [{ field: 'f', message: 'm', reason: '' }] });
  assert.deepEqual(Object.keys(bare.toStatus()), [
    'kind',
    'apiVersion',
    'metadata',
    'status',
    'message',
    'details',
    'code',
  ]);
  assert.deepEqual(bare.toStatus().details, { causes: [{ message: 'm', field: 'f' }] });
  assert.deepEqual(Object.keys(errors.successStatus({ kind: 'pods', name: 'x' })), [
    'kind',
    'apiVersion',
    'metadata',
    'status',
    'details',
    'code',
  ]);
});
