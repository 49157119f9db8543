// Unit tests: simulated pod lifecycle, sim flags, node lifecycle taint/eviction rules, node IPAM
// ranges, DefaultTolerationSeconds and metrics.k8s.io from node usage samples; how the simulator
// keeps pods (compactPod) and builds a node's usage sample.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TIMING, nodeUsageSample, podUsage, runOf, simulatePod, terminatedStatus } from '../../src/sim/pod.js';
import { Interner, compactPod } from '../../src/sim/compact.js';
import { parseLabels, parseTaints, simOptionsFromFlags } from '../../src/sim/config.js';
import {
  desiredTaints,
  evictionTime,
  reconcileTaints,
  toleratesTaint,
} from '../../src/controllers/nodelifecycle/controller.js';
import { parseDurationMs } from '../../src/cli/component.js';
import { CidrSet } from '../../src/controllers/nodeipam/controller.js';
import { DefaultTolerationSeconds } from '../../src/apiserver/admission/defaulttolerationseconds.js';
import { nodeMetrics, podMetrics } from '../../src/api/metrics/v1beta1/index.js';
import { USAGE_ANNOTATION, decodeUsage, encodeUsage } from '../../src/api/metrics/v1beta1/usage.js';

const T0 = Date.parse('2024-05-01T10:00:00Z');
const env = (now: number) => ({
  now,
  hostIP: '198.18.0.1',
  podIP: '10.42.0.2',
  timing: { ...DEFAULT_TIMING, jobRunMs: 1000, crashLoopBaseMs: 2000 },
});

function mkPod(spec: any, annotations: Record<string, string> = {}): any {
  return {
    metadata: { name: 'p', namespace: 'default', uid: 'u1', annotations },
    spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
    status: { phase: 'Pending', qosClass: 'BestEffort' },
  };
}

/** Run the simulation like the simulator does: apply the status, jump to the next due time. */
function step(pod: any, now: number): { status: any; next?: number } {
  // The assertions below read deep into the status without narrowing.
  const r = simulatePod(pod, env(now));
  pod.status = r.status;
  return r;
}

test('a long-running pod goes Running and Ready at once', () => {
  const pod = mkPod({});
  const r = step(pod, T0);
  assert.equal(r.status.phase, 'Running');
  assert.equal(r.next, undefined);
  assert.equal(r.status.podIP, '10.42.0.2');
  assert.equal(r.status.hostIP, '198.18.0.1');
  assert.equal(r.status.startTime, '2024-05-01T10:00:00Z');
  assert.deepEqual(
    r.status.conditions.map((c: any) => `${c.type}=${c.status}`),
    ['PodReadyToStartContainers=True', 'Initialized=True', 'Ready=True', 'ContainersReady=True', 'PodScheduled=True'],
  );
  const cs = r.status.containerStatuses[0];
  assert.equal(cs.ready, true);
  assert.equal(cs.started, true);
  assert.equal(cs.state.running.startedAt, '2024-05-01T10:00:00Z');
  assert.match(cs.containerID, /^sim:\/\/[0-9a-f]{64}$/);
  assert.match(cs.imageID, /^docker\.io\/library\/busybox@sha256:/);
  // Nothing changes later: same status.
  assert.deepEqual(simulatePod(pod, env(T0 + 60_000)).status, r.status);
});

test('startup delay, init containers in order, readiness delay', () => {
  const pod = mkPod(
    {
      initContainers: [
        { name: 'i1', image: 'busybox' },
        { name: 'i2', image: 'busybox' },
      ],
    },
    { 'sim.k8ts.io/start-seconds': '1', 'sim.k8ts.io/init-seconds': '2', 'sim.k8ts.io/ready-seconds': '3' },
  );
  let r = step(pod, T0);
  assert.equal(r.status.phase, 'Pending');
  assert.equal(r.status.initContainerStatuses[0].state.waiting.reason, 'PodInitializing');
  assert.equal(
    r.status.conditions.find((c: any) => c.type === 'Initialized').message,
    'containers with incomplete status: [i1 i2]',
  );
  assert.equal(r.next, T0 + 1000);
  r = step(pod, T0 + 1000);
  assert.ok(r.status.initContainerStatuses[0].state.running);
  assert.equal(r.status.initContainerStatuses[1].state.waiting.reason, 'PodInitializing');
  assert.equal(r.next, T0 + 3000);
  r = step(pod, T0 + 3000);
  assert.equal(r.status.initContainerStatuses[0].state.terminated.reason, 'Completed');
  assert.ok(r.status.initContainerStatuses[1].state.running);
  r = step(pod, T0 + 5000);
  assert.equal(r.status.phase, 'Running');
  assert.equal(r.status.containerStatuses[0].ready, false);
  assert.equal(r.status.conditions.find((c: any) => c.type === 'Ready').reason, 'ContainersNotReady');
  assert.equal(r.next, T0 + 8000);
  r = step(pod, T0 + 8000);
  assert.equal(r.status.containerStatuses[0].ready, true);
  assert.equal(r.status.conditions.find((c: any) => c.type === 'Ready').status, 'True');
});

test('run-to-completion: Never succeeds or fails, OnFailure restarts until success', () => {
  let pod = mkPod({
    restartPolicy: 'Never',
    containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'exit 0'] }],
  });
  let r = step(pod, T0);
  assert.equal(r.status.phase, 'Running');
  assert.equal(r.next, T0 + 1000);
  r = step(pod, T0 + 1000);
  assert.equal(r.status.phase, 'Succeeded');
  assert.equal(r.status.containerStatuses[0].state.terminated.reason, 'Completed');
  assert.equal(r.status.conditions.find((c: any) => c.type === 'Ready').reason, 'PodCompleted');
  assert.equal(r.next, undefined);

  pod = mkPod({ restartPolicy: 'Never' }, { 'sim.k8ts.io/exit-code': '3', 'sim.k8ts.io/run-seconds': '5' });
  step(pod, T0);
  r = step(pod, T0 + 5000);
  assert.equal(r.status.phase, 'Failed');
  assert.equal(r.status.containerStatuses[0].state.terminated.exitCode, 3);
  assert.equal(r.status.containerStatuses[0].state.terminated.reason, 'Error');

  pod = mkPod({ restartPolicy: 'OnFailure' }, { 'sim.k8ts.io/exit-code': '1' });
  step(pod, T0);
  r = step(pod, T0 + 1000);
  assert.equal(r.status.phase, 'Running');
  const cs = r.status.containerStatuses[0];
  assert.equal(cs.restartCount, 1);
  assert.equal(cs.state.waiting.reason, 'CrashLoopBackOff');
  assert.equal(cs.lastState.terminated.exitCode, 1);
  assert.equal(r.next, T0 + 3000);
  r = step(pod, T0 + 3000);
  assert.ok(r.status.containerStatuses[0].state.running);
  // Back-off doubles: second crash at +4 s, restart 4 s later.
  r = step(pod, T0 + 4000);
  assert.equal(r.status.containerStatuses[0].restartCount, 2);
  assert.equal(r.next, T0 + 8000);
});

test('Always pods with a finite command restart; activeDeadlineSeconds fails the pod', () => {
  const pod = mkPod({ containers: [{ name: 'c', image: 'busybox', command: ['sleep', '10'] }] });
  step(pod, T0);
  const r = step(pod, T0 + 10_000);
  assert.equal(r.status.containerStatuses[0].restartCount, 1);
  assert.equal(r.status.containerStatuses[0].lastState.terminated.reason, 'Completed');
  const dl = mkPod({ activeDeadlineSeconds: 5 });
  step(dl, T0);
  const f = step(dl, T0 + 5000);
  assert.equal(f.status.phase, 'Failed');
  assert.equal(f.status.reason, 'DeadlineExceeded');
});

test('runOf reads commands and annotations', () => {
  const p = (restartPolicy: string, ann: Record<string, string> = {}) => mkPod({ restartPolicy }, ann);
  assert.deepEqual(runOf(p('Always'), { command: ['nginx'] }, DEFAULT_TIMING), { runMs: undefined, exitCode: 0 });
  assert.deepEqual(runOf(p('Always'), { command: ['sh', '-c', 'sleep 30; exit 4'] }, DEFAULT_TIMING), {
    runMs: 30_000,
    exitCode: 4,
  });
  assert.deepEqual(runOf(p('Never'), { command: ['perl'] }, DEFAULT_TIMING), {
    runMs: DEFAULT_TIMING.jobRunMs,
    exitCode: 0,
  });
  assert.deepEqual(
    runOf(p('Never', { 'sim.k8ts.io/run-seconds': '7', 'sim.k8ts.io/exit-code': '9' }), {}, DEFAULT_TIMING),
    { runMs: 7000, exitCode: 9 },
  );
  assert.equal(runOf(p('Never'), { command: ['false'] }, DEFAULT_TIMING).exitCode, 1);
});

test('terminatedStatus stops running containers', () => {
  const pod = mkPod({});
  step(pod, T0);
  const s: any = terminatedStatus(pod, env(T0 + 1000), 0, 'Completed');
  assert.equal(s.phase, 'Succeeded');
  assert.equal(s.containerStatuses[0].state.terminated.finishedAt, '2024-05-01T10:00:01Z');
});

test('podUsage: annotations, or a share of requests, or small defaults', () => {
  const two = {
    containers: [
      { name: 'a', image: 'x' },
      { name: 'b', image: 'x', resources: { requests: { cpu: '500m', memory: '1Gi' } } },
    ],
  };
  assert.deepEqual(podUsage(mkPod(two)), [
    ['a', 2, 8 * 1024 * 1024],
    ['b', 50, 512 * 1024 * 1024],
  ]);
  assert.deepEqual(podUsage(mkPod(two, { 'sim.k8ts.io/cpu-millicores': '300', 'sim.k8ts.io/memory': '200Mi' })), [
    ['a', 150, 100 * 1024 * 1024],
    ['b', 150, 100 * 1024 * 1024],
  ]);
  assert.equal(podUsage(mkPod({}, { 'sim.k8ts.io/cpu': '1.5' }))[0][1], 1500);
});

test('sim flags: labels, taints, options', () => {
  assert.deepEqual(parseLabels(['a=b', 'c=']), { a: 'b', c: '' });
  assert.deepEqual(parseTaints(['gpu=yes:NoSchedule', 'x:NoExecute']), [
    { key: 'gpu', value: 'yes', effect: 'NoSchedule' },
    { key: 'x', effect: 'NoExecute' },
  ]);
  assert.throws(() => parseTaints(['bad']), /--sim-taints/);
  const o = simOptionsFromFlags(3, { simCpu: '8', simHeartbeatSeconds: '0.5', simLabels: ['team=a'] });
  assert.equal(o.nodes, 3);
  assert.equal(o.cpu, '8');
  assert.equal(o.heartbeatMs, 500);
  assert.deepEqual(o.labels, { team: 'a' });
  assert.throws(() => simOptionsFromFlags(1, { simMemory: 'lots' }), /--sim-memory/);
  assert.equal(simOptionsFromFlags(1, {}).workers, 128);
  assert.equal(simOptionsFromFlags(1, { simStatusWriters: '16' }).workers, 16);
  assert.throws(() => simOptionsFromFlags(1, { simStatusWriters: '0' }), /--sim-status-writers/);
});

test('tolerations, eviction times and managed taints', () => {
  const unreachable = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: '2024-05-01T10:00:00Z' };
  assert.equal(toleratesTaint({ operator: 'Exists' }, unreachable), true);
  assert.equal(
    toleratesTaint({ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoSchedule' }, unreachable),
    false,
  );
  assert.equal(toleratesTaint({ key: 'k', value: 'v' }, { key: 'k', value: 'v', effect: 'NoSchedule' }), true);
  assert.equal(toleratesTaint({ key: 'k', value: 'w' }, { key: 'k', value: 'v', effect: 'NoSchedule' }), false);
  const pod = (tolerations: any[]) => ({ spec: { tolerations } });
  assert.equal(evictionTime(pod([]), [unreachable], T0), 0);
  assert.equal(
    evictionTime(
      pod([{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }]),
      [unreachable],
      0,
    ),
    T0 + 300_000,
  );
  assert.equal(evictionTime(pod([{ operator: 'Exists' }]), [unreachable], 0), undefined);
  assert.equal(evictionTime(pod([]), [{ key: 'x', effect: 'NoSchedule' }], 0), undefined);

  const node: any = {
    spec: { unschedulable: true, taints: [{ key: 'mine', effect: 'NoSchedule' }] },
    status: { conditions: [{ type: 'Ready', status: 'Unknown' }] },
  };
  assert.deepEqual(desiredTaints(node), {
    noSchedule: ['node.kubernetes.io/unreachable', 'node.kubernetes.io/unschedulable'],
    noExecute: ['node.kubernetes.io/unreachable'],
  });
  const t = reconcileTaints(node, '2024-05-01T10:00:00Z')!;
  assert.deepEqual(
    t.map((x) => `${x.key}:${x.effect}`),
    [
      'mine:NoSchedule',
      'node.kubernetes.io/unreachable:NoSchedule',
      'node.kubernetes.io/unschedulable:NoSchedule',
      'node.kubernetes.io/unreachable:NoExecute',
    ],
  );
  node.spec.taints = t;
  assert.equal(reconcileTaints(node, 'later'), undefined);
  node.spec.unschedulable = false;
  node.status.conditions[0].status = 'True';
  assert.deepEqual(reconcileTaints(node, 'later'), [{ key: 'mine', effect: 'NoSchedule' }]);
});

test('durations, node CIDRs', () => {
  assert.equal(parseDurationMs('40s', 'f'), 40_000);
  assert.equal(parseDurationMs('1m30s', 'f'), 90_000);
  assert.equal(parseDurationMs('250ms', 'f'), 250);
  assert.equal(parseDurationMs('2', 'f'), 2000);
  assert.throws(() => parseDurationMs('soon', 'f'), /invalid duration/);
  const set = new CidrSet('10.42.0.0/16', 24);
  assert.equal(set.count, 256);
  assert.equal(set.cidr(0), '10.42.0.0/24');
  assert.equal(set.cidr(255), '10.42.255.0/24');
  assert.equal(set.indexOf('10.42.7.0/24'), 7);
  assert.equal(set.indexOf('10.43.0.0/24'), undefined);
});

test('DefaultTolerationSeconds adds the 300 s tolerations unless already tolerated', () => {
  const plugin = new DefaultTolerationSeconds();
  const a: any = { operation: 'CREATE', subresource: '', group: '', resource: 'pods', object: { spec: {} } };
  assert.equal(plugin.handles(a), true);
  plugin.admit(a);
  assert.deepEqual(a.object.spec.tolerations, [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  ]);
  const b: any = {
    ...a,
    object: {
      spec: {
        tolerations: [
          { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 },
        ],
      },
    },
  };
  plugin.admit(b);
  assert.equal(b.object.spec.tolerations.length, 2);
  assert.equal(b.object.spec.tolerations[0].tolerationSeconds, 2);
  const c: any = { ...a, object: { spec: { tolerations: [{ operator: 'Exists' }] } } };
  plugin.admit(c);
  assert.equal(c.object.spec.tolerations.length, 1);
});

test('metrics.k8s.io from lease usage samples', async () => {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const sample = encodeUsage({
    t: now,
    w: 10,
    n: [300, 512 * 1024 * 1024],
    p: { 'default/web': [['c', 250, 100 * 1024 * 1024]], 'default/gone': [['c', 1, 1]] },
  });
  assert.equal(decodeUsage(sample)?.n[0], 300);
  const stale = encodeUsage({ t: '2020-01-01T00:00:00Z', w: 10, n: [1, 1], p: {} });
  const objects: Record<string, any[]> = {
    'coordination.k8s.io/leases': [
      { metadata: { name: 'n1', namespace: 'kube-node-lease', annotations: { [USAGE_ANNOTATION]: sample } } },
      { metadata: { name: 'n2', namespace: 'kube-node-lease', annotations: { [USAGE_ANNOTATION]: stale } } },
    ],
    '/nodes': [{ metadata: { name: 'n1', labels: { zone: 'a' } } }, { metadata: { name: 'n2' } }],
    '/pods': [{ metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } } }],
  };
  const reader = {
    list: (g: string, p: string) => objects[`${g}/${p}`] ?? [],
    get: (g: string, p: string, ns: string | undefined, name: string) =>
      (objects[`${g}/${p}`] ?? []).find(
        (o) => o.metadata.name === name && (ns === undefined || o.metadata.namespace === ns),
      ),
  };
  const nodes: any[] = await nodeMetrics.virtualList!(reader, undefined);
  assert.equal(nodes.length, 1);
  assert.deepEqual(nodes[0].usage, { cpu: '300m', memory: '524288Ki' });
  assert.equal(nodes[0].window, '10s');
  assert.deepEqual(nodes[0].metadata.labels, { zone: 'a' });
  const pods: any[] = await podMetrics.virtualList!(reader, 'default');
  assert.equal(pods.length, 1);
  assert.deepEqual(pods[0].containers, [{ name: 'c', usage: { cpu: '250m', memory: '102400Ki' } }]);
  assert.deepEqual(await podMetrics.virtualList!(reader, 'other'), []);
});

test('nodeUsageSample: the text encodeUsage writes, each pod worked out once per version', () => {
  const running = (name: string, spec: any, ann: Record<string, string> = {}) => {
    const p = mkPod(spec, ann);
    p.metadata.name = name;
    p.status = { phase: 'Running' };
    return p;
  };
  const a = running('a', {
    containers: [{ name: 'c', image: 'x', resources: { requests: { cpu: '1', memory: '2Gi' } } }],
  });
  const b = running('b', {}, { 'sim.k8ts.io/cpu-millicores': '300', 'sim.k8ts.io/memory': '200Mi' });
  const pending = mkPod({});
  const deleting = running('d', {});
  deleting.metadata.deletionTimestamp = '2024-05-01T10:00:00Z';
  const pods = [a, pending, b, deleting];
  const expected = encodeUsage({
    t: '2024-05-01T10:00:00Z',
    w: 10,
    n: [50 + 100 + 300, 256 * 1024 * 1024 + 1024 * 1024 * 1024 + 200 * 1024 * 1024],
    p: { 'default/a': podUsage(a), 'default/b': podUsage(b) },
  });
  const cache = new WeakMap();
  assert.equal(nodeUsageSample(pods, T0, 10, cache), expected);
  const entry = cache.get(a);
  assert.ok(entry && cache.get(b) && !cache.has(pending) && !cache.has(deleting));
  assert.equal(nodeUsageSample(pods, T0, 10, cache), expected);
  assert.equal(cache.get(a), entry, 'an unchanged pod is not worked out again');
  // A node without running pods.
  assert.deepEqual(decodeUsage(nodeUsageSample([pending], T0, 10, new WeakMap())), {
    t: '2024-05-01T10:00:00Z',
    w: 10,
    n: [50, 256 * 1024 * 1024],
    p: {},
  });
});

test('compactPod: the same pod without managedFields, template parts shared and frozen', () => {
  const mk = (name: string, nodeName: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'ns',
      uid: `uid-${name}`,
      resourceVersion: '7',
      creationTimestamp: '2024-05-01T10:00:00Z',
      labels: { app: 'web', 'pod-template-hash': 'abc' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'rs', controller: true }],
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:spec': {} } }],
    },
    spec: {
      containers: [{ name: 'c', image: 'nginx', resources: { requests: { cpu: '10m' } } }],
      tolerations: [{ key: 'k', operator: 'Exists' }],
      restartPolicy: 'Always',
      nodeName,
    },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-05-01T10:00:01Z' }],
      hostIPs: [{ ip: '198.18.0.2' }],
      podIP: `10.0.0.${name.length}`,
    },
  });
  const shared = new Interner();
  const one = mk('one', 'n1');
  const input = JSON.stringify(one);
  const a = compactPod(one as any, shared);
  const b = compactPod(mk('two', 'n2') as any, shared);
  assert.equal(JSON.stringify(one), input, 'the input is left as it was');
  const { managedFields: _m, ...meta } = JSON.parse(input).metadata;
  assert.equal(JSON.stringify(a), JSON.stringify({ ...JSON.parse(input), metadata: meta }));
  assert.equal(a.spec!.nodeName, 'n1');
  assert.equal(b.spec!.nodeName, 'n2');
  assert.equal(a.spec!.containers, b.spec!.containers);
  assert.equal(a.spec!.tolerations, b.spec!.tolerations);
  assert.equal(a.metadata.labels, b.metadata.labels);
  assert.equal(a.metadata.ownerReferences, b.metadata.ownerReferences);
  assert.equal(a.status!.conditions![0], b.status!.conditions![0]);
  assert.notEqual(a.status, b.status);
  assert.ok(Object.isFrozen(a.spec!.containers[0].resources!.requests));
  assert.throws(() => {
    (a.metadata.labels as Record<string, string>).app = 'changed';
  }, TypeError);
  // A full table starts over; what it handed out stays as it was.
  const small = new Interner(2);
  small.intern({ x: 1 });
  small.intern({ x: 2 });
  small.intern({ x: 3 });
  assert.equal(small.size, 1);
});
