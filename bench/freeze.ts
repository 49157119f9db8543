// What freezing a cached object costs against the copies it replaces: deepFreeze, deepCopy and
// JSON.parse of a simulated node's pod (as `k8ts sim` reports it, with its managedFields),
// per object over many parsed copies.
//
//   npm run build && node dist/bench/freeze.js
import { deepCopy, deepFreeze } from '../src/machinery/objects.js';

const fieldsV1 = {
  'f:metadata': { 'f:generateName': {}, 'f:labels': { '.': {}, 'f:app': {}, 'f:pod-template-hash': {} } },
  'f:spec': {
    'f:containers': {
      'k:{"name":"nginx"}': { '.': {}, 'f:image': {}, 'f:name': {}, 'f:ports': {}, 'f:resources': {} },
    },
  },
};
const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web-7d4b9c8f5-abcde',
    generateName: 'web-7d4b9c8f5-',
    namespace: 'ns-1',
    uid: '0b7f6c7e-2f7a-4c1e-9a55-3d1f0c2b8e11',
    resourceVersion: '123456',
    creationTimestamp: '2026-12-06T14:00:00Z',
    labels: { app: 'web', 'pod-template-hash': '7d4b9c8f5' },
    ownerReferences: [
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d4b9c8f5', uid: 'u-1', controller: true },
    ],
    managedFields: [
      {
        manager: 'kube-controller-manager',
        operation: 'Update',
        apiVersion: 'v1',
        time: '2026-12-06T14:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1,
      },
    ],
  },
  spec: {
    containers: [
      {
        name: 'nginx',
        image: 'nginx',
        ports: [{ containerPort: 80, protocol: 'TCP' }],
        resources: { limits: { memory: '32Mi' }, requests: { cpu: '10m', memory: '16Mi' } },
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        imagePullPolicy: 'Always',
      },
    ],
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    serviceAccountName: 'default',
    nodeName: 'sim-0001',
    schedulerName: 'default-scheduler',
    tolerations: [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ],
  },
  status: {
    phase: 'Running',
    conditions: [
      { type: 'Ready', status: 'True', lastTransitionTime: '2026-12-06T14:00:01Z' },
      { type: 'PodScheduled', status: 'True', lastTransitionTime: '2026-12-06T14:00:00Z' },
    ],
    hostIP: '10.0.0.1',
    podIP: '10.64.0.5',
    containerStatuses: [{ name: 'nginx', ready: true, restartCount: 0, image: 'nginx', started: true }],
    qosClass: 'Burstable',
  },
};

const json = JSON.stringify(pod);
const n = Number(process.env.BENCH_OBJECTS ?? 50_000);
const perObject = (fn: (o: unknown) => unknown, objs: unknown[]) => {
  const t = performance.now();
  for (const o of objs) fn(o);
  return ((performance.now() - t) * 1000) / objs.length;
};
for (let round = 0; round < 3; round++) {
  const objs = Array.from({ length: n }, () => JSON.parse(json) as unknown);
  const parse = perObject(() => JSON.parse(json), objs);
  const copy = perObject(deepCopy, objs);
  const freeze = perObject(deepFreeze, objs);
  const again = perObject(deepFreeze, objs);
  console.log(
    `pod of ${json.length} B: JSON.parse ${parse.toFixed(2)} µs, deepCopy ${copy.toFixed(2)} µs, ` +
      `deepFreeze ${freeze.toFixed(2)} µs, deepFreeze of a frozen one ${again.toFixed(3)} µs`,
  );
}
