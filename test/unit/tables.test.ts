// Cells of the built-in printer columns, checked against what kubectl shows upstream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TableColumn } from '../../src/api/types.js';
import * as core from '../../src/api/core/v1/tables.js';
import * as apps from '../../src/api/apps/v1/tables.js';
import * as batch from '../../src/api/batch/v1/tables.js';
import * as autoscaling from '../../src/api/autoscaling/v2/tables.js';
import * as networking from '../../src/api/networking/v1/tables.js';
import * as discovery from '../../src/api/discovery/v1/tables.js';
import * as coordination from '../../src/api/coordination/v1/tables.js';
import * as events from '../../src/api/events/v1/tables.js';
import * as policy from '../../src/api/policy/v1/tables.js';
import * as rbac from '../../src/api/rbac/v1/tables.js';
import * as storage from '../../src/api/storage/v1/tables.js';
import * as scheduling from '../../src/api/scheduling/v1/tables.js';
import * as admission from '../../src/api/admissionregistration/v1/tables.js';
import * as apiextensions from '../../src/api/apiextensions/v1/tables.js';

const NOW = Date.parse('2024-05-01T12:00:00Z');
/** An RFC 3339 time `sec` seconds before NOW. */
const ago = (sec: number) => new Date(NOW - sec * 1000).toISOString().replace('.000Z', 'Z');

function headers(cols: TableColumn[], wide = false): string[] {
  return cols.filter((c) => wide || !c.priority).map((c) => c.name.toUpperCase());
}
function cell(cols: TableColumn[], name: string, obj: unknown): unknown {
  const col = cols.find((c) => c.name === name);
  assert.ok(col, `no column ${name}`);
  return col.cell(obj, NOW);
}
function row(cols: TableColumn[], obj: unknown, wide = false): unknown[] {
  return cols.filter((c) => wide || !c.priority).map((c) => c.cell(obj, NOW));
}

const meta = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  namespace: 'default',
  creationTimestamp: ago(300),
  ...extra,
});

function pod(spec: Record<string, unknown>, status: Record<string, unknown>, metaExtra: Record<string, unknown> = {}) {
  return {
    metadata: meta('p', metaExtra),
    spec: { containers: [{ name: 'a', image: 'nginx' }], ...spec },
    status,
  };
}
const running = { running: { startedAt: ago(200) } };

test('pod columns: headers, normal and wide', () => {
  assert.deepEqual(headers(core.podColumns), ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
  assert.deepEqual(headers(core.podColumns, true), [
    'NAME',
    'READY',
    'STATUS',
    'RESTARTS',
    'AGE',
    'IP',
    'NODE',
    'NOMINATED NODE',
    'READINESS GATES',
  ]);
  assert.equal(core.podColumns[0].format, 'name');
});

test('pod: running and ready', () => {
  const p = pod(
    { containers: [{ name: 'a' }, { name: 'b' }], nodeName: 'n1' },
    {
      phase: 'Running',
      podIPs: [{ ip: '10.42.0.5' }],
      containerStatuses: [
        { name: 'a', ready: true, restartCount: 3, state: running },
        { name: 'b', ready: true, restartCount: 0, state: running },
      ],
    },
  );
  assert.deepEqual(row(core.podColumns, p, true), [
    'p',
    '2/2',
    'Running',
    '3',
    '5m',
    '10.42.0.5',
    'n1',
    '<none>',
    '<none>',
  ]);
});

test('pod: pending without status prints <none> wide cells', () => {
  const p = pod({}, { phase: 'Pending' });
  assert.deepEqual(row(core.podColumns, p, true), [
    'p',
    '0/1',
    'Pending',
    '0',
    '5m',
    '<none>',
    '<none>',
    '<none>',
    '<none>',
  ]);
});

test('pod: ContainerCreating and CrashLoopBackOff with last restart time', () => {
  const creating = pod(
    {},
    {
      phase: 'Pending',
      containerStatuses: [
        { name: 'a', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } },
      ],
    },
  );
  assert.equal(cell(core.podColumns, 'Status', creating), 'ContainerCreating');
  const crash = pod(
    {},
    {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'a',
          ready: false,
          restartCount: 5,
          state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } },
          lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: ago(120) } },
        },
      ],
    },
  );
  assert.deepEqual(row(core.podColumns, crash), ['p', '0/1', 'CrashLoopBackOff', '5 (2m ago)', '5m']);
});

test('pod: the first container with a reason wins', () => {
  const p = pod(
    { containers: [{ name: 'a' }, { name: 'b' }] },
    {
      phase: 'Running',
      containerStatuses: [
        { name: 'a', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff' } } },
        { name: 'b', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImagePull' } } },
      ],
    },
  );
  assert.equal(cell(core.podColumns, 'Status', p), 'ImagePullBackOff');
});

test('pod: init container states', () => {
  const inits = { initContainers: [{ name: 'i1' }, { name: 'i2' }] };
  const first = pod(inits, {
    phase: 'Pending',
    initContainerStatuses: [
      { name: 'i1', ready: false, restartCount: 0, state: running },
      { name: 'i2', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } },
    ],
  });
  assert.equal(cell(core.podColumns, 'Status', first), 'Init:0/2');
  const second = pod(inits, {
    phase: 'Pending',
    initContainerStatuses: [
      { name: 'i1', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
      { name: 'i2', ready: false, restartCount: 0, state: running },
    ],
  });
  assert.equal(cell(core.podColumns, 'Status', second), 'Init:1/2');
  const crash = pod(inits, {
    phase: 'Pending',
    initContainerStatuses: [
      {
        name: 'i1',
        ready: false,
        restartCount: 4,
        state: { waiting: { reason: 'CrashLoopBackOff' } },
        lastState: { terminated: { exitCode: 1, finishedAt: ago(60) } },
      },
    ],
  });
  assert.deepEqual(row(core.podColumns, crash), ['p', '0/1', 'Init:CrashLoopBackOff', '4 (60s ago)', '5m']);
  const failed = pod(inits, {
    phase: 'Failed',
    initContainerStatuses: [
      { name: 'i1', ready: false, restartCount: 0, state: { terminated: { exitCode: 1, reason: 'Error' } } },
    ],
  });
  assert.equal(cell(core.podColumns, 'Status', failed), 'Init:Error');
  const exitCode = pod(inits, {
    phase: 'Pending',
    initContainerStatuses: [{ name: 'i1', ready: false, restartCount: 0, state: { terminated: { exitCode: 2 } } }],
  });
  assert.equal(cell(core.podColumns, 'Status', exitCode), 'Init:ExitCode:2');
  const signal = pod(inits, {
    phase: 'Pending',
    initContainerStatuses: [
      { name: 'i1', ready: false, restartCount: 0, state: { terminated: { exitCode: 137, signal: 9 } } },
    ],
  });
  assert.equal(cell(core.podColumns, 'Status', signal), 'Init:Signal:9');
  const initialized = pod(inits, {
    phase: 'Pending',
    initContainerStatuses: [
      { name: 'i1', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
      { name: 'i2', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
    ],
    containerStatuses: [
      { name: 'a', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } },
    ],
  });
  assert.equal(cell(core.podColumns, 'Status', initialized), 'PodInitializing');
});

test('pod: restartable init containers (sidecars) count as containers', () => {
  const p = pod(
    { initContainers: [{ name: 'side', restartPolicy: 'Always' }] },
    {
      phase: 'Running',
      conditions: [
        { type: 'Initialized', status: 'True' },
        { type: 'Ready', status: 'True' },
      ],
      initContainerStatuses: [
        {
          name: 'side',
          ready: true,
          started: true,
          restartCount: 1,
          state: running,
          lastState: { terminated: { exitCode: 1, finishedAt: ago(30) } },
        },
      ],
      containerStatuses: [{ name: 'a', ready: true, restartCount: 0, state: running }],
    },
  );
  assert.deepEqual(row(core.podColumns, p), ['p', '2/2', 'Running', '1 (30s ago)', '5m']);
});

test('pod: Completed, NotReady, Terminating, Unknown', () => {
  const done = pod(
    {},
    {
      phase: 'Succeeded',
      containerStatuses: [
        { name: 'a', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
      ],
    },
  );
  assert.deepEqual(row(core.podColumns, done), ['p', '0/1', 'Completed', '0', '5m']);
  // A terminal pod being deleted keeps its status.
  assert.equal(
    cell(core.podColumns, 'Status', { ...done, metadata: meta('p', { deletionTimestamp: ago(1) }) }),
    'Completed',
  );

  const statuses = [
    { name: 'a', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
    { name: 'b', ready: true, restartCount: 0, state: running },
  ];
  const twoSpec = { containers: [{ name: 'a' }, { name: 'b' }] };
  assert.equal(
    cell(core.podColumns, 'Status', pod(twoSpec, { phase: 'Running', containerStatuses: statuses })),
    'NotReady',
  );
  assert.equal(
    cell(
      core.podColumns,
      'Status',
      pod(twoSpec, { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: statuses }),
    ),
    'Running',
  );

  const terminating = pod(
    {},
    { phase: 'Running', containerStatuses: [{ name: 'a', ready: true, restartCount: 0, state: running }] },
    { deletionTimestamp: ago(5) },
  );
  assert.deepEqual(row(core.podColumns, terminating), ['p', '1/1', 'Terminating', '0', '5m']);
  const lost = pod({}, { phase: 'Running', reason: 'NodeLost' }, { deletionTimestamp: ago(5) });
  assert.equal(cell(core.podColumns, 'Status', lost), 'Unknown');
  const evicted = pod({}, { phase: 'Failed', reason: 'Evicted' });
  assert.equal(cell(core.podColumns, 'Status', evicted), 'Evicted');
  const killed = pod(
    {},
    {
      phase: 'Failed',
      containerStatuses: [
        { name: 'a', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, signal: 15 } } },
      ],
    },
  );
  assert.equal(cell(core.podColumns, 'Status', killed), 'Signal:15');
  const gated = pod(
    {},
    { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated' }] },
  );
  assert.equal(cell(core.podColumns, 'Status', gated), 'SchedulingGated');
});

test('pod: readiness gates and nominated node', () => {
  const p = pod(
    { readinessGates: [{ conditionType: 'a.io/x' }, { conditionType: 'a.io/y' }] },
    {
      phase: 'Pending',
      nominatedNodeName: 'n2',
      conditions: [
        { type: 'a.io/x', status: 'True' },
        { type: 'a.io/y', status: 'False' },
      ],
    },
  );
  assert.equal(cell(core.podColumns, 'Readiness Gates', p), '1/2');
  assert.equal(cell(core.podColumns, 'Nominated Node', p), 'n2');
});

test('service columns', () => {
  assert.deepEqual(headers(core.serviceColumns, true), [
    'NAME',
    'TYPE',
    'CLUSTER-IP',
    'EXTERNAL-IP',
    'PORT(S)',
    'AGE',
    'SELECTOR',
  ]);
  const np = {
    metadata: meta('web'),
    spec: {
      type: 'NodePort',
      clusterIP: '10.43.0.10',
      clusterIPs: ['10.43.0.10'],
      selector: { app: 'web', tier: 'fe' },
      ports: [
        { port: 80, nodePort: 30080, protocol: 'TCP' },
        { port: 53, protocol: 'UDP' },
      ],
    },
  };
  assert.deepEqual(row(core.serviceColumns, np, true), [
    'web',
    'NodePort',
    '10.43.0.10',
    '<none>',
    '80:30080/TCP,53/UDP',
    '5m',
    'app=web,tier=fe',
  ]);
  const lbPending = {
    metadata: meta('lb'),
    spec: {
      type: 'LoadBalancer',
      clusterIPs: ['10.43.0.11'],
      ports: [{ port: 443, nodePort: 31443, protocol: 'TCP' }],
    },
  };
  assert.equal(cell(core.serviceColumns, 'External-IP', lbPending), '<pending>');
  const lb = {
    ...lbPending,
    status: { loadBalancer: { ingress: [{ ip: '192.0.2.9' }, { hostname: 'lb.example.com' }, { ip: '192.0.2.1' }] } },
  };
  assert.equal(cell(core.serviceColumns, 'External-IP', lb), '192.0.2.1,192.0.2.9,lb.example.com');
  const headless = { metadata: meta('db'), spec: { type: 'ClusterIP', clusterIP: 'None', clusterIPs: ['None'] } };
  assert.deepEqual(row(core.serviceColumns, headless, true), [
    'db',
    'ClusterIP',
    'None',
    '<none>',
    '<none>',
    '5m',
    '<none>',
  ]);
  const ext = { metadata: meta('x'), spec: { type: 'ExternalName', externalName: 'example.com' } };
  assert.equal(cell(core.serviceColumns, 'External-IP', ext), 'example.com');
  assert.equal(cell(core.serviceColumns, 'Cluster-IP', ext), '<none>');
  const withExternal = {
    metadata: meta('e'),
    spec: { type: 'ClusterIP', clusterIPs: ['10.43.0.2'], externalIPs: ['1.2.3.4', '5.6.7.8'] },
  };
  assert.equal(cell(core.serviceColumns, 'External-IP', withExternal), '1.2.3.4,5.6.7.8');
});

test('endpoints and endpoint slices', () => {
  const ep = {
    metadata: meta('web'),
    subsets: [
      {
        addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: 'fd00::3' }, { ip: '10.0.0.4' }],
        ports: [{ port: 8080 }],
      },
    ],
  };
  assert.equal(cell(core.endpointsColumns, 'Endpoints', ep), '10.0.0.1:8080,10.0.0.2:8080,[fd00::3]:8080 + 1 more...');
  assert.equal(cell(core.endpointsColumns, 'Endpoints', { metadata: meta('e') }), '<none>');
  const slice = {
    metadata: meta('web-abc'),
    addressType: 'IPv4',
    ports: [{ port: 80, name: 'http' }, { name: 'x' }],
    endpoints: [{ addresses: ['10.0.0.1'] }, { addresses: ['10.0.0.2'] }],
  };
  assert.deepEqual(row(discovery.endpointSliceColumns, slice), ['web-abc', 'IPv4', '80,x', '10.0.0.1,10.0.0.2', '5m']);
  assert.deepEqual(row(discovery.endpointSliceColumns, { metadata: meta('s'), addressType: 'IPv4' }), [
    's',
    'IPv4',
    '<unset>',
    '<unset>',
    '5m',
  ]);
});

test('node status, roles and wide columns', () => {
  assert.deepEqual(headers(core.nodeColumns, true), [
    'NAME',
    'STATUS',
    'ROLES',
    'AGE',
    'VERSION',
    'INTERNAL-IP',
    'EXTERNAL-IP',
    'OS-IMAGE',
    'KERNEL-VERSION',
    'CONTAINER-RUNTIME',
  ]);
  const node = {
    metadata: meta('n1', {
      namespace: undefined,
      labels: {
        'node-role.kubernetes.io/master': '',
        'node-role.kubernetes.io/control-plane': 'true',
        'kubernetes.io/role': 'infra',
      },
    }),
    spec: { unschedulable: true },
    status: {
      conditions: [
        { type: 'MemoryPressure', status: 'False' },
        { type: 'Ready', status: 'True' },
      ],
      addresses: [
        { type: 'Hostname', address: 'n1' },
        { type: 'InternalIP', address: '192.168.1.10' },
      ],
      nodeInfo: {
        kubeletVersion: 'v1.30.0+k8ts',
        osImage: 'Debian GNU/Linux 12',
        kernelVersion: '6.1.0',
        containerRuntimeVersion: 'containerd://1.6.20',
      },
    },
  };
  assert.deepEqual(row(core.nodeColumns, node, true), [
    'n1',
    'Ready,SchedulingDisabled',
    'control-plane,infra,master',
    '5m',
    'v1.30.0+k8ts',
    '192.168.1.10',
    '<none>',
    'Debian GNU/Linux 12',
    '6.1.0',
    'containerd://1.6.20',
  ]);
  assert.equal(
    cell(core.nodeColumns, 'Status', {
      metadata: meta('n'),
      status: { conditions: [{ type: 'Ready', status: 'Unknown' }] },
    }),
    'NotReady',
  );
  assert.equal(
    cell(core.nodeColumns, 'Status', { metadata: meta('n'), spec: { unschedulable: true } }),
    'Unknown,SchedulingDisabled',
  );
  assert.equal(cell(core.nodeColumns, 'Roles', { metadata: meta('n') }), '<none>');
  assert.equal(cell(core.nodeColumns, 'OS-Image', { metadata: meta('n') }), '<unknown>');
});

test('core events and events.k8s.io events print alike', () => {
  assert.deepEqual(headers(core.eventColumns), ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
  assert.deepEqual(headers(core.eventColumns, true), [
    'LAST SEEN',
    'TYPE',
    'REASON',
    'OBJECT',
    'SUBOBJECT',
    'SOURCE',
    'MESSAGE',
    'FIRST SEEN',
    'COUNT',
    'NAME',
  ]);
  const ev = {
    metadata: meta('p.17a'),
    type: 'Normal',
    reason: 'Pulled',
    message: 'Container image "nginx" already present \n',
    involvedObject: { kind: 'Pod', name: 'p', fieldPath: 'spec.containers{a}' },
    source: { component: 'kubelet', host: 'n1' },
    firstTimestamp: ago(600),
    lastTimestamp: ago(60),
    count: 3,
  };
  assert.deepEqual(row(core.eventColumns, ev, true), [
    '60s',
    'Normal',
    'Pulled',
    'pod/p',
    'spec.containers{a}',
    'kubelet, n1',
    'Container image "nginx" already present',
    '10m',
    3,
    'p.17a',
  ]);
  const newer = {
    metadata: meta('x.1'),
    type: 'Warning',
    reason: 'FailedScheduling',
    note: '0/1 nodes are available',
    regarding: { kind: 'Pod', name: 'p' },
    reportingController: 'default-scheduler',
    eventTime: '2024-05-01T11:58:00.000000Z',
  };
  assert.deepEqual(row(events.eventColumns, newer, true), [
    '2m',
    'Warning',
    'FailedScheduling',
    'pod/p',
    '',
    'default-scheduler',
    '0/1 nodes are available',
    '2m',
    1,
    'x.1',
  ]);
  const series = { ...newer, series: { count: 7, lastObservedTime: '2024-05-01T11:59:30.000000Z' } };
  assert.equal(cell(events.eventColumns, 'Last Seen', series), '30s');
  assert.equal(cell(events.eventColumns, 'Count', series), 7);
});

test('config, secrets, accounts, namespaces, quota, default tables', () => {
  assert.deepEqual(
    row(core.configMapColumns, { metadata: meta('c'), data: { a: '1', b: '2' }, binaryData: { c: 'AA==' } }),
    ['c', 3, '5m'],
  );
  assert.deepEqual(row(core.secretColumns, { metadata: meta('s'), type: 'Opaque', data: { a: 'MQ==' } }), [
    's',
    'Opaque',
    1,
    '5m',
  ]);
  assert.deepEqual(row(core.serviceAccountColumns, { metadata: meta('default') }), ['default', 0, '5m']);
  assert.deepEqual(row(core.namespaceColumns, { metadata: meta('kube-system'), status: { phase: 'Active' } }), [
    'kube-system',
    'Active',
    '5m',
  ]);
  const quota = {
    metadata: meta('q'),
    status: {
      hard: { pods: '10', 'requests.cpu': '1', 'limits.memory': '2Gi', 'limits.cpu': '2' },
      used: { pods: '2', 'requests.cpu': '500m', 'limits.cpu': '1' },
    },
  };
  assert.deepEqual(headers(core.resourceQuotaColumns), ['NAME', 'REQUEST', 'LIMIT', 'AGE']);
  assert.deepEqual(row(core.resourceQuotaColumns, quota), [
    'q',
    'pods: 2/10, requests.cpu: 500m/1',
    'limits.cpu: 1/2, limits.memory: 0/2Gi',
    '5m',
  ]);
  for (const cols of [
    core.limitRangeColumns,
    rbac.roleColumns,
    rbac.clusterRoleColumns,
    apiextensions.customResourceDefinitionColumns,
  ]) {
    assert.deepEqual(headers(cols), ['NAME', 'CREATED AT']);
    assert.equal(cols[1].type, 'date');
    assert.deepEqual(row(cols, { metadata: { name: 'x', creationTimestamp: '2024-05-01T11:00:00Z' } }), [
      'x',
      '2024-05-01T11:00:00Z',
    ]);
  }
});

test('persistent volumes and claims', () => {
  const pv = {
    metadata: meta('pv1', { namespace: undefined }),
    spec: {
      capacity: { storage: '5Gi' },
      accessModes: ['ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      claimRef: { namespace: 'default', name: 'data' },
      storageClassName: 'local-path',
      volumeMode: 'Filesystem',
    },
    status: { phase: 'Bound' },
  };
  assert.deepEqual(row(core.persistentVolumeColumns, pv, true), [
    'pv1',
    '5Gi',
    'RWO,RWX',
    'Retain',
    'Bound',
    'default/data',
    'local-path',
    '<unset>',
    '',
    '5m',
    'Filesystem',
  ]);
  const pending = {
    metadata: meta('data'),
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '1Gi' } },
      storageClassName: 'local-path',
    },
    status: { phase: 'Pending' },
  };
  assert.deepEqual(row(core.persistentVolumeClaimColumns, pending, true), [
    'data',
    'Pending',
    '',
    '',
    '',
    'local-path',
    '<unset>',
    '5m',
    '<unset>',
  ]);
  const bound = {
    ...pending,
    spec: { ...pending.spec, volumeName: 'pv1' },
    status: { phase: 'Bound', capacity: { storage: '5Gi' }, accessModes: ['ReadWriteOnce'] },
  };
  assert.deepEqual(row(core.persistentVolumeClaimColumns, bound), [
    'data',
    'Bound',
    'pv1',
    '5Gi',
    'RWO',
    'local-path',
    '<unset>',
    '5m',
  ]);
});

test('replication controllers and pod templates', () => {
  const rc = {
    metadata: meta('rc'),
    spec: {
      replicas: 3,
      selector: { app: 'x' },
      template: {
        spec: {
          containers: [
            { name: 'a', image: 'nginx' },
            { name: 'b', image: 'busybox' },
          ],
        },
      },
    },
    status: { replicas: 3, readyReplicas: 2 },
  };
  assert.deepEqual(row(core.replicationControllerColumns, rc, true), [
    'rc',
    3,
    3,
    2,
    '5m',
    'a,b',
    'nginx,busybox',
    'app=x',
  ]);
  const pt = {
    metadata: meta('pt'),
    template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'a', image: 'nginx' }] } },
  };
  assert.deepEqual(row(core.podTemplateColumns, pt), ['pt', 'a', 'nginx', 'app=x']);
});

test('apps workloads', () => {
  const template = { spec: { containers: [{ name: 'nginx', image: 'nginx:1.25' }] } };
  const dep = {
    metadata: meta('web'),
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template },
    status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
  };
  assert.deepEqual(headers(apps.deploymentColumns, true), [
    'NAME',
    'READY',
    'UP-TO-DATE',
    'AVAILABLE',
    'AGE',
    'CONTAINERS',
    'IMAGES',
    'SELECTOR',
  ]);
  assert.deepEqual(row(apps.deploymentColumns, dep, true), [
    'web',
    '2/3',
    3,
    2,
    '5m',
    'nginx',
    'nginx:1.25',
    'app=web',
  ]);
  assert.deepEqual(row(apps.deploymentColumns, { metadata: meta('new'), spec: { replicas: 1, template } }), [
    'new',
    '0/1',
    0,
    0,
    '5m',
  ]);
  const rs = {
    metadata: meta('web-5d4'),
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template },
    status: { replicas: 3, readyReplicas: 3 },
  };
  assert.deepEqual(row(apps.replicaSetColumns, rs, true), ['web-5d4', 3, 3, 3, '5m', 'nginx', 'nginx:1.25', 'app=web']);
  const sts = { metadata: meta('db'), spec: { replicas: 2, template }, status: { readyReplicas: 1 } };
  assert.deepEqual(row(apps.statefulSetColumns, sts, true), ['db', '1/2', '5m', 'nginx', 'nginx:1.25']);
  const ds = {
    metadata: meta('agent'),
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      template: { spec: { ...template.spec, nodeSelector: { 'kubernetes.io/os': 'linux' } } },
    },
    status: {
      desiredNumberScheduled: 2,
      currentNumberScheduled: 2,
      numberReady: 1,
      updatedNumberScheduled: 2,
      numberAvailable: 1,
    },
  };
  assert.deepEqual(headers(apps.daemonSetColumns), [
    'NAME',
    'DESIRED',
    'CURRENT',
    'READY',
    'UP-TO-DATE',
    'AVAILABLE',
    'NODE SELECTOR',
    'AGE',
  ]);
  assert.deepEqual(row(apps.daemonSetColumns, ds), ['agent', 2, 2, 1, 2, 1, 'kubernetes.io/os=linux', '5m']);
  const cr = {
    metadata: meta('agent-7f', {
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'u', controller: true }],
    }),
    revision: 2,
  };
  assert.deepEqual(row(apps.controllerRevisionColumns, cr), ['agent-7f', 'daemonset.apps/agent', 2, '5m']);
  assert.equal(cell(apps.controllerRevisionColumns, 'Controller', { metadata: meta('x'), revision: 1 }), '<none>');
});

test('jobs and cron jobs', () => {
  assert.deepEqual(headers(batch.jobColumns, true), [
    'NAME',
    'STATUS',
    'COMPLETIONS',
    'DURATION',
    'AGE',
    'CONTAINERS',
    'IMAGES',
    'SELECTOR',
  ]);
  const template = { spec: { containers: [{ name: 'pi', image: 'perl' }] } };
  const done = {
    metadata: meta('pi'),
    spec: {
      completions: 1,
      parallelism: 1,
      template,
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'abc' } },
    },
    status: {
      succeeded: 1,
      startTime: ago(290),
      completionTime: ago(250),
      conditions: [
        { type: 'SuccessCriteriaMet', status: 'True' },
        { type: 'Complete', status: 'True' },
      ],
    },
  };
  assert.deepEqual(row(batch.jobColumns, done, true), [
    'pi',
    'Complete',
    '1/1',
    '40s',
    '5m',
    'pi',
    'perl',
    'batch.kubernetes.io/controller-uid=abc',
  ]);
  const run = { metadata: meta('q'), spec: { parallelism: 3, template }, status: { startTime: ago(180), active: 3 } };
  assert.deepEqual(row(batch.jobColumns, run), ['q', 'Running', '0/1 of 3', '3m', '5m']);
  assert.equal(cell(batch.jobColumns, 'Duration', { metadata: meta('x'), spec: { template } }), '');
  const failed = {
    metadata: meta('f'),
    spec: { completions: 2, template },
    status: {
      failed: 7,
      conditions: [
        { type: 'FailureTarget', status: 'True' },
        { type: 'Failed', status: 'True' },
      ],
    },
  };
  assert.equal(cell(batch.jobColumns, 'Status', failed), 'Failed');
  const suspended = {
    metadata: meta('s'),
    spec: { suspend: true, template },
    status: { conditions: [{ type: 'Suspended', status: 'True' }] },
  };
  assert.equal(cell(batch.jobColumns, 'Status', suspended), 'Suspended');
  assert.equal(
    cell(batch.jobColumns, 'Status', { ...suspended, metadata: meta('s', { deletionTimestamp: ago(1) }) }),
    'Terminating',
  );

  assert.deepEqual(headers(batch.cronJobColumns), [
    'NAME',
    'SCHEDULE',
    'TIMEZONE',
    'SUSPEND',
    'ACTIVE',
    'LAST SCHEDULE',
    'AGE',
  ]);
  const cj = {
    metadata: meta('hello'),
    spec: { schedule: '*/1 * * * *', suspend: false, jobTemplate: { spec: { template } } },
    status: { active: [{ name: 'hello-1' }], lastScheduleTime: ago(30) },
  };
  assert.deepEqual(row(batch.cronJobColumns, cj, true), [
    'hello',
    '*/1 * * * *',
    '<none>',
    'False',
    1,
    '30s',
    '5m',
    'pi',
    'perl',
    '<none>',
  ]);
  const fresh = {
    metadata: meta('tz'),
    spec: { schedule: '0 0 * * *', timeZone: 'Etc/UTC', jobTemplate: { spec: { template } } },
  };
  assert.deepEqual(row(batch.cronJobColumns, fresh), ['tz', '0 0 * * *', 'Etc/UTC', '<unset>', 0, '<none>', '5m']);
});

test('horizontal pod autoscalers', () => {
  assert.deepEqual(headers(autoscaling.horizontalPodAutoscalerColumns), [
    'NAME',
    'REFERENCE',
    'TARGETS',
    'MINPODS',
    'MAXPODS',
    'REPLICAS',
    'AGE',
  ]);
  const cpu = { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } };
  const hpa = {
    metadata: meta('web'),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 1,
      maxReplicas: 10,
      metrics: [cpu],
    },
    status: {
      currentReplicas: 2,
      currentMetrics: [
        { type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 50, averageValue: '100m' } } },
      ],
    },
  };
  assert.deepEqual(row(autoscaling.horizontalPodAutoscalerColumns, hpa), [
    'web',
    'Deployment/web',
    'cpu: 50%/80%',
    '1',
    10,
    2,
    '5m',
  ]);
  const fresh = { ...hpa, spec: { ...hpa.spec, minReplicas: undefined }, status: {} };
  assert.deepEqual(row(autoscaling.horizontalPodAutoscalerColumns, fresh), [
    'web',
    'Deployment/web',
    'cpu: <unknown>/80%',
    '<unset>',
    10,
    0,
    '5m',
  ]);
  const many = {
    ...fresh,
    spec: {
      ...hpa.spec,
      metrics: [
        { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '500Mi' } } },
        { type: 'Pods', pods: { metric: { name: 'qps' }, target: { type: 'AverageValue', averageValue: '10' } } },
        cpu,
      ],
    },
  };
  assert.equal(
    cell(autoscaling.horizontalPodAutoscalerColumns, 'Targets', many),
    'memory: <unknown>/500Mi, <unknown>/10 + 1 more...',
  );
  assert.equal(
    cell(autoscaling.horizontalPodAutoscalerColumns, 'Targets', { ...fresh, spec: { ...fresh.spec, metrics: [] } }),
    '<none>',
  );
  const ext = {
    ...fresh,
    spec: {
      ...hpa.spec,
      metrics: [
        { type: 'External', external: { metric: { name: 'q' }, target: { type: 'AverageValue', averageValue: '30' } } },
      ],
    },
    status: {
      currentMetrics: [{ type: 'External', external: { metric: { name: 'q' }, current: { averageValue: '12' } } }],
    },
  };
  assert.equal(cell(autoscaling.horizontalPodAutoscalerColumns, 'Targets', ext), '12/30 (avg)');

  const v1 = {
    metadata: meta('web'),
    spec: {
      scaleTargetRef: { kind: 'Deployment', name: 'web' },
      minReplicas: 2,
      maxReplicas: 5,
      targetCPUUtilizationPercentage: 60,
    },
    status: { currentReplicas: 2, currentCPUUtilizationPercentage: 12 },
  };
  assert.deepEqual(row(autoscaling.horizontalPodAutoscalerV1Columns, v1), [
    'web',
    'Deployment/web',
    'cpu: 12%/60%',
    '2',
    5,
    2,
    '5m',
  ]);
  const v1New = {
    metadata: meta('web'),
    spec: { scaleTargetRef: { kind: 'Deployment', name: 'web' }, maxReplicas: 5 },
  };
  assert.equal(cell(autoscaling.horizontalPodAutoscalerV1Columns, 'Targets', v1New), 'cpu: <unknown>/80%');
});

test('networking', () => {
  const ing = {
    metadata: meta('web'),
    spec: {
      ingressClassName: 'traefik',
      tls: [{ hosts: ['a.example.com'] }],
      rules: [
        { host: 'a.example.com' },
        { host: 'b.example.com' },
        {},
        { host: 'c.example.com' },
        { host: 'd.example.com' },
      ],
    },
    status: { loadBalancer: { ingress: [{ ip: '192.168.1.10' }] } },
  };
  assert.deepEqual(headers(networking.ingressColumns), ['NAME', 'CLASS', 'HOSTS', 'ADDRESS', 'PORTS', 'AGE']);
  assert.deepEqual(row(networking.ingressColumns, ing), [
    'web',
    'traefik',
    'a.example.com,b.example.com,c.example.com + 2 more...',
    '192.168.1.10',
    '80, 443',
    '5m',
  ]);
  assert.deepEqual(row(networking.ingressColumns, { metadata: meta('bare'), spec: { rules: [{}] } }), [
    'bare',
    '<none>',
    '*',
    '',
    '80',
    '5m',
  ]);
  const cls = {
    metadata: meta('nginx'),
    spec: {
      controller: 'k8s.io/ingress-nginx',
      parameters: { apiGroup: 'k8s.example.com', kind: 'IngressParameters', name: 'p' },
    },
  };
  assert.deepEqual(row(networking.ingressClassColumns, cls), [
    'nginx',
    'k8s.io/ingress-nginx',
    'IngressParameters.k8s.example.com/p',
    '5m',
  ]);
  assert.deepEqual(row(networking.networkPolicyColumns, { metadata: meta('deny'), spec: { podSelector: {} } }), [
    'deny',
    '<none>',
    '5m',
  ]);
  assert.deepEqual(
    row(networking.networkPolicyColumns, {
      metadata: meta('np'),
      spec: { podSelector: { matchLabels: { app: 'db' } } },
    }),
    ['np', 'app=db', '5m'],
  );
});

test('leases, pdbs, priority classes, webhooks', () => {
  assert.deepEqual(
    row(coordination.leaseColumns, { metadata: meta('kube-scheduler'), spec: { holderIdentity: 'host_1234' } }),
    ['kube-scheduler', 'host_1234', '5m'],
  );
  assert.deepEqual(row(coordination.leaseColumns, { metadata: meta('l'), spec: {} }), ['l', '', '5m']);
  const pdb = { metadata: meta('web'), spec: { minAvailable: '50%' }, status: { disruptionsAllowed: 1 } };
  assert.deepEqual(headers(policy.podDisruptionBudgetColumns), [
    'NAME',
    'MIN AVAILABLE',
    'MAX UNAVAILABLE',
    'ALLOWED DISRUPTIONS',
    'AGE',
  ]);
  assert.deepEqual(row(policy.podDisruptionBudgetColumns, pdb), ['web', '50%', 'N/A', 1, '5m']);
  const pc = { metadata: meta('system-cluster-critical'), value: 2000000000, preemptionPolicy: 'PreemptLowerPriority' };
  assert.deepEqual(headers(scheduling.priorityClassColumns), [
    'NAME',
    'VALUE',
    'GLOBAL-DEFAULT',
    'AGE',
    'PREEMPTIONPOLICY',
  ]);
  assert.deepEqual(row(scheduling.priorityClassColumns, pc), [
    'system-cluster-critical',
    2000000000,
    false,
    '5m',
    'PreemptLowerPriority',
  ]);
  const wh = { metadata: meta('hooks'), webhooks: [{ name: 'a.example.com' }, { name: 'b.example.com' }] };
  assert.deepEqual(row(admission.mutatingWebhookConfigurationColumns, wh), ['hooks', 2, '5m']);
  assert.deepEqual(row(admission.validatingWebhookConfigurationColumns, { metadata: meta('none') }), ['none', 0, '5m']);
});

test('rbac bindings', () => {
  const rb = {
    metadata: meta('rb'),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
    subjects: [
      { kind: 'User', name: 'alice' },
      { kind: 'Group', name: 'devs' },
      { kind: 'User', name: 'bob' },
      { kind: 'ServiceAccount', namespace: 'kube-system', name: 'coredns' },
    ],
  };
  assert.deepEqual(headers(rbac.roleBindingColumns, true), [
    'NAME',
    'ROLE',
    'AGE',
    'USERS',
    'GROUPS',
    'SERVICEACCOUNTS',
  ]);
  assert.deepEqual(row(rbac.roleBindingColumns, rb, true), [
    'rb',
    'ClusterRole/view',
    '5m',
    'alice, bob',
    'devs',
    'kube-system/coredns',
  ]);
  assert.deepEqual(row(rbac.clusterRoleBindingColumns, { ...rb, subjects: undefined }, true), [
    'rb',
    'ClusterRole/view',
    '5m',
    '',
    '',
    '',
  ]);
});

test('storage', () => {
  const sc = {
    metadata: meta('local-path', { annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }),
    provisioner: 'rancher.io/local-path',
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
  };
  assert.deepEqual(headers(storage.storageClassColumns), [
    'NAME',
    'PROVISIONER',
    'RECLAIMPOLICY',
    'VOLUMEBINDINGMODE',
    'ALLOWVOLUMEEXPANSION',
    'AGE',
  ]);
  assert.deepEqual(row(storage.storageClassColumns, sc), [
    'local-path (default)',
    'rancher.io/local-path',
    'Delete',
    'WaitForFirstConsumer',
    false,
    '5m',
  ]);
  assert.deepEqual(
    row(storage.storageClassColumns, { metadata: meta('plain'), provisioner: 'x', allowVolumeExpansion: true }),
    ['plain', 'x', 'Delete', 'Immediate', true, '5m'],
  );
  const drv = {
    metadata: meta('csi.example.com'),
    spec: { volumeLifecycleModes: ['Persistent', 'Ephemeral'], tokenRequests: [{ audience: 'a' }, { audience: 'b' }] },
  };
  assert.deepEqual(headers(storage.csiDriverColumns), [
    'NAME',
    'ATTACHREQUIRED',
    'PODINFOONMOUNT',
    'STORAGECAPACITY',
    'TOKENREQUESTS',
    'REQUIRESREPUBLISH',
    'MODES',
    'AGE',
  ]);
  assert.deepEqual(row(storage.csiDriverColumns, drv), [
    'csi.example.com',
    true,
    false,
    false,
    'a,b',
    false,
    'Persistent,Ephemeral',
    '5m',
  ]);
  assert.deepEqual(row(storage.csiDriverColumns, { metadata: meta('d'), spec: {} }), [
    'd',
    true,
    false,
    false,
    '<unset>',
    false,
    '<none>',
    '5m',
  ]);
  assert.deepEqual(
    row(storage.csiNodeColumns, { metadata: meta('n1'), spec: { drivers: [{ name: 'd', nodeID: 'n1' }] } }),
    ['n1', 1, '5m'],
  );
  const va = {
    metadata: meta('csi-123'),
    spec: { attacher: 'csi.example.com', nodeName: 'n1', source: { persistentVolumeName: 'pv1' } },
    status: { attached: true },
  };
  assert.deepEqual(row(storage.volumeAttachmentColumns, va), ['csi-123', 'csi.example.com', 'pv1', 'n1', true, '5m']);
});

test('every column has a description and a known type', () => {
  const all: TableColumn[][] = [
    core.podColumns,
    core.podTemplateColumns,
    core.namespaceColumns,
    core.serviceColumns,
    core.endpointsColumns,
    core.configMapColumns,
    core.secretColumns,
    core.serviceAccountColumns,
    core.nodeColumns,
    core.eventColumns,
    core.limitRangeColumns,
    core.resourceQuotaColumns,
    core.replicationControllerColumns,
    core.persistentVolumeColumns,
    core.persistentVolumeClaimColumns,
    apps.deploymentColumns,
    apps.replicaSetColumns,
    apps.statefulSetColumns,
    apps.daemonSetColumns,
    apps.controllerRevisionColumns,
    batch.jobColumns,
    batch.cronJobColumns,
    autoscaling.horizontalPodAutoscalerColumns,
    autoscaling.horizontalPodAutoscalerV1Columns,
    networking.ingressColumns,
    networking.ingressClassColumns,
    networking.networkPolicyColumns,
    discovery.endpointSliceColumns,
    coordination.leaseColumns,
    events.eventColumns,
    policy.podDisruptionBudgetColumns,
    rbac.roleColumns,
    rbac.clusterRoleColumns,
    rbac.roleBindingColumns,
    rbac.clusterRoleBindingColumns,
    storage.storageClassColumns,
    storage.csiDriverColumns,
    storage.csiNodeColumns,
    storage.volumeAttachmentColumns,
    scheduling.priorityClassColumns,
    admission.mutatingWebhookConfigurationColumns,
    admission.validatingWebhookConfigurationColumns,
    apiextensions.customResourceDefinitionColumns,
  ];
  for (const cols of all) {
    assert.ok(cols.some((c) => c.format === 'name'));
    for (const c of cols) {
      assert.ok(c.description && c.description.length > 0, c.name);
      assert.ok(['string', 'integer', 'number', 'boolean', 'date'].includes(c.type));
      // Cells must not throw on a bare object.
      c.cell({ metadata: { name: 'x' } }, NOW);
    }
  }
});
