import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyDefaults,
  validatePod,
  validatePVC,
  limitRequestRatioConstraint,
} from '../../src/apiserver/admission/limitranger.js';
import { fromObject } from '../../src/quota/resources.js';
import { Quantity } from '../../src/machinery/quantity.js';

const lr = (limits: any[]) => ({ spec: { limits } });

test('defaults fill only what is missing and are recorded', () => {
  const pod: any = {
    spec: {
      containers: [{ name: 'a', resources: { requests: { cpu: '50m' } } }, { name: 'b' }],
      initContainers: [{ name: 'i' }],
    },
  };
  const notes = applyDefaults(
    pod,
    lr([
      { type: 'Container', default: { cpu: '500m', memory: '1Gi' }, defaultRequest: { cpu: '100m', memory: '512Mi' } },
    ]),
  );
  assert.deepEqual(pod.spec.containers[0].resources, {
    requests: { cpu: '50m', memory: '512Mi' },
    limits: { cpu: '500m', memory: '1Gi' },
  });
  assert.deepEqual(pod.spec.containers[1].resources, {
    limits: { cpu: '500m', memory: '1Gi' },
    requests: { cpu: '100m', memory: '512Mi' },
  });
  assert.deepEqual(notes, [
    'memory request for container a',
    'cpu, memory limit for container a',
    'cpu, memory request for container b',
    'cpu, memory limit for container b',
    'cpu, memory request for init container i',
    'cpu, memory limit for init container i',
  ]);
});

test('min, max and ratio messages are upstream', () => {
  const pod = (res: any) => ({ spec: { containers: [{ name: 'c', resources: res }] } });
  const range = lr([{ type: 'Container', max: { cpu: '1' }, min: { cpu: '100m' } }]);
  assert.deepEqual(validatePod(pod({ limits: { cpu: '2' }, requests: { cpu: '2' } }), range), [
    'maximum cpu usage per Container is 1, but limit is 2',
  ]);
  assert.deepEqual(validatePod(pod({ requests: { cpu: '50m' }, limits: { cpu: '500m' } }), range), [
    'minimum cpu usage per Container is 100m, but request is 50m',
  ]);
  assert.deepEqual(validatePod(pod({}), range), [
    'minimum cpu usage per Container is 100m.  No request is specified',
    'maximum cpu usage per Container is 1.  No limit is specified',
  ]);
  assert.equal(
    limitRequestRatioConstraint(
      'Container',
      'cpu',
      Quantity.parse('2'),
      fromObject({ cpu: '100m' }),
      fromObject({ cpu: '500m' }),
    ),
    'cpu max limit to request ratio per Container is 2, but provided ratio is 5.000000',
  );
  const podRange = lr([{ type: 'Pod', max: { memory: '1Gi' } }]);
  const two = {
    spec: {
      containers: [
        { name: 'a', resources: { limits: { memory: '768Mi' } } },
        { name: 'b', resources: { limits: { memory: '512Mi' } } },
      ],
    },
  };
  assert.deepEqual(validatePod(two, podRange), ['maximum memory usage per Pod is 1Gi, but limit is 1280Mi']);
  const pvc = { spec: { resources: { requests: { storage: '500Mi' } } } };
  assert.deepEqual(validatePVC(pvc, lr([{ type: 'PersistentVolumeClaim', min: { storage: '1Gi' } }])), [
    'minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi',
  ]);
});
