// Scheduler: queue ordering and backoff, plugins against hand-built NodeInfos, the upstream
// failure message, and the whole scheduler against an in-process API server.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { Node, Pod, PodSpec } from 'kubernetes-types/core/v1.js';
import { SchedulingQueue, EVENTS } from '../../src/scheduler/queue.js';
import { defaultQueueingHints } from '../../src/scheduler/queueinghints.js';
import { NodeInfo, PodInfo, podRequests, Status } from '../../src/scheduler/types.js';
import { CycleState, fitErrorMessage, numFeasibleNodesToFind } from '../../src/scheduler/framework.js';
import { NodeResourcesFit } from '../../src/scheduler/plugins/noderesources.js';
import { NodeAffinity, NodePorts, TaintToleration } from '../../src/scheduler/plugins/node.js';
import { SchedulerCache } from '../../src/scheduler/cache.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { Client, R } from '../../src/client/index.js';
import { startTestApi, eventually, type TestApi } from './client-fixture.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';
import { componentRegistry } from '../../src/machinery/componentmetrics.js';

let uid = 0;
function pod(name: string, spec: any = {}, meta: any = {}): any {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `u${++uid}`, creationTimestamp: new Date().toISOString(), ...meta },
    spec: { containers: [{ name: 'c', image: 'x' }], ...spec },
  };
}
function node(
  name: string,
  opts: { cpu?: string; memory?: string; pods?: string; labels?: any; taints?: any[]; extra?: any } = {},
): any {
  const alloc = { cpu: opts.cpu ?? '4', memory: opts.memory ?? '8Gi', pods: opts.pods ?? '110', ...(opts.extra ?? {}) };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(opts.labels ?? {}) } },
    spec: { taints: opts.taints },
    status: { capacity: alloc, allocatable: alloc },
  };
}
const ni = (n: any, pods: any[] = []) => {
  const x = new NodeInfo(n.metadata.name);
  x.setNode(n);
  for (const p of pods) x.addPod(new PodInfo({ ...p, spec: { ...p.spec, nodeName: n.metadata.name } }));
  return x;
};
const req = (cpu?: string, memory?: string, extra: any = {}) => ({
  containers: [
    {
      name: 'c',
      image: 'x',
      resources: { requests: { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}), ...extra } },
    },
  ],
});

describe('scheduling queue', () => {
  test('pops by priority, then by arrival', () => {
    let t = 1000;
    const q = new SchedulingQueue({ now: () => t });
    q.add(new PodInfo(pod('low', { priority: 1 })));
    t++;
    q.add(new PodInfo(pod('high', { priority: 100 })));
    t++;
    q.add(new PodInfo(pod('low2', { priority: 1 })));
    assert.equal(q.tryPop()!.pi.name, 'high');
    assert.equal(q.tryPop()!.pi.name, 'low');
    assert.equal(q.tryPop()!.pi.name, 'low2');
  });

  test('backoff doubles from 1 s to at most 10 s', () => {
    const q = new SchedulingQueue();
    const qi: any = { attempts: 1 };
    const ds = [1, 2, 3, 4, 5, 6].map((a) => q.backoffDuration({ ...qi, attempts: a }));
    assert.deepEqual(ds, [1000, 2000, 4000, 8000, 10000, 10000]);
  });

  test('unschedulable pods move back on a cluster event, into backoff while it lasts', () => {
    let t = 0;
    const q = new SchedulingQueue({ now: () => t });
    q.add(new PodInfo(pod('a')));
    const a = q.tryPop()!;
    const cycle = q.schedulingCycle;
    a.unschedulablePlugins = new Set(['NodeResourcesFit']);
    q.addUnschedulableIfNotPresent(a, cycle);
    assert.ok(q.isUnschedulable('default/a'));
    // An event that cannot help it leaves it parked.
    q.moveAllToActiveOrBackoffQueue(EVENTS.AssignedPodAdd);
    assert.ok(q.isUnschedulable('default/a'));
    q.moveAllToActiveOrBackoffQueue(EVENTS.NodeAdd);
    assert.ok(q.inBackoff('default/a'));
    t = 1001;
    q.flushBackoffQCompleted();
    assert.ok(q.inActive('default/a'));
  });

  test('an event during the attempt sends the failed pod to backoff, not unschedulable', () => {
    const q = new SchedulingQueue();
    q.add(new PodInfo(pod('a')));
    const a = q.tryPop()!;
    const cycle = q.schedulingCycle;
    q.moveAllToActiveOrBackoffQueue(EVENTS.NodeAdd);
    q.addUnschedulableIfNotPresent(a, cycle);
    assert.ok(q.inBackoff('default/a'));
  });
});

// Typed fixtures for the hints, which read the objects an event carries.
const tpod = (...args: Parameters<typeof pod>) => pod(...args) as Pod;
const tnode = (...args: Parameters<typeof node>) => node(...args) as Node;

describe('queueing hints', () => {
  /** A queue with the default hints holding `p` parked as rejected by `plugins`. */
  function parked(p: Pod, ...plugins: string[]) {
    let t = 0;
    const q = new SchedulingQueue({ now: () => t, hints: defaultQueueingHints() });
    q.add(new PodInfo(p));
    const qi = q.tryPop()!;
    qi.unschedulablePlugins = new Set(plugins);
    q.addUnschedulableIfNotPresent(qi, q.schedulingCycle);
    assert.ok(q.isUnschedulable(`default/${p.metadata!.name!}`));
    t = 60_000; // past any backoff: a pod that moves goes to activeQ
    return q;
  }

  test('NodeResourcesFit: only a node the pod fits, or one that grew, requeues it', () => {
    const q = parked(tpod('big', req('8')), 'NodeResourcesFit');
    q.moveAllToActiveOrBackoffQueue(EVENTS.NodeAdd, undefined, { newObj: tnode('small', { cpu: '4' }) });
    assert.ok(q.isUnschedulable('default/big'), 'a node too small for the pod');
    const before = tnode('n', { cpu: '16', labels: { a: '1' } });
    const relabelled = tnode('n', { cpu: '16', labels: { a: '2' } });
    q.moveAllToActiveOrBackoffQueue(EVENTS.NodeUpdate, undefined, { oldObj: before, newObj: relabelled });
    assert.ok(q.isUnschedulable('default/big'), 'allocatable unchanged');
    q.moveAllToActiveOrBackoffQueue(EVENTS.NodeAdd, undefined, { newObj: tnode('large', { cpu: '16' }) });
    assert.ok(q.inActive('default/big'));
  });

  test('NodeResourcesFit: a deleted pod requeues only if it was assigned', () => {
    const q = parked(tpod('big', req('8')), 'NodeResourcesFit');
    q.moveAllToActiveOrBackoffQueue(EVENTS.AssignedPodDelete, undefined, { oldObj: tpod('pending') });
    assert.ok(q.isUnschedulable('default/big'));
    q.moveAllToActiveOrBackoffQueue(EVENTS.AssignedPodDelete, undefined, { oldObj: tpod('ran', { nodeName: 'n' }) });
    assert.ok(q.inActive('default/big'));
  });

  test('NodeAffinity and TaintToleration: only a node that starts to pass', () => {
    const q = parked(tpod('sel', { nodeSelector: { disk: 'ssd' } }), 'NodeAffinity');
    q.moveAllToActiveOrBackoffQueue(EVENTS.NodeAdd, undefined, { newObj: tnode('hdd', { labels: { disk: 'hdd' } }) });
    assert.ok(q.isUnschedulable('default/sel'));
    q.moveAllToActiveOrBackoffQueue(EVENTS.NodeUpdate, undefined, {
      oldObj: tnode('n', { labels: { disk: 'hdd' } }),
      newObj: tnode('n', { labels: { disk: 'ssd' } }),
    });
    assert.ok(q.inActive('default/sel'));

    const taint = { key: 'dedicated', value: 'x', effect: 'NoSchedule' };
    const t = parked(tpod('tol'), 'TaintToleration');
    t.moveAllToActiveOrBackoffQueue(EVENTS.NodeAdd, undefined, { newObj: tnode('tainted', { taints: [taint] }) });
    assert.ok(t.isUnschedulable('default/tol'));
    t.moveAllToActiveOrBackoffQueue(EVENTS.NodeUpdate, undefined, {
      oldObj: tnode('n', { taints: [taint] }),
      newObj: tnode('n', { taints: [] }),
    });
    assert.ok(t.inActive('default/tol'));
  });

  test('InterPodAffinity and PodTopologySpread: only pods their selectors match', () => {
    const affinity = {
      podAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'kubernetes.io/hostname' },
        ],
      },
    };
    const q = parked(tpod('web', { affinity }), 'InterPodAffinity');
    const other = tpod('other', { nodeName: 'n' }, { labels: { app: 'cache' } });
    q.moveAllToActiveOrBackoffQueue(EVENTS.AssignedPodAdd, undefined, { newObj: other });
    assert.ok(q.isUnschedulable('default/web'));
    const db = tpod('db', { nodeName: 'n' }, { labels: { app: 'db' } });
    q.moveAllToActiveOrBackoffQueue(EVENTS.AssignedPodAdd, undefined, { newObj: db });
    assert.ok(q.inActive('default/web'));

    const spread = {
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: 'zone',
          whenUnsatisfiable: 'DoNotSchedule',
          labelSelector: { matchLabels: { app: 'w' } },
        },
      ],
    };
    const s = parked(tpod('w1', spread, { labels: { app: 'w' } }), 'PodTopologySpread');
    s.moveAllToActiveOrBackoffQueue(EVENTS.AssignedPodDelete, undefined, { oldObj: other });
    assert.ok(s.isUnschedulable('default/w1'));
    const w0 = tpod('w0', { nodeName: 'n' }, { labels: { app: 'w' } });
    s.moveAllToActiveOrBackoffQueue(EVENTS.AssignedPodDelete, undefined, { oldObj: w0 });
    assert.ok(s.inActive('default/w1'));
  });

  test('an event during the attempt that cannot help leaves the failed pod parked', () => {
    const q = new SchedulingQueue({ hints: defaultQueueingHints() });
    q.add(new PodInfo(tpod('a', req('8'))));
    q.add(new PodInfo(tpod('b', req('8'))));
    const a = q.tryPop()!;
    q.moveAllToActiveOrBackoffQueue(EVENTS.NodeAdd, undefined, { newObj: tnode('small', { cpu: '4' }) });
    a.unschedulablePlugins = new Set(['NodeResourcesFit']);
    q.addUnschedulableIfNotPresent(a, q.schedulingCycle);
    assert.ok(q.isUnschedulable('default/a'), 'the small node cannot help');
    const b = q.tryPop()!;
    q.moveAllToActiveOrBackoffQueue(EVENTS.NodeAdd, undefined, { newObj: tnode('large', { cpu: '16' }) });
    b.unschedulablePlugins = new Set(['NodeResourcesFit']);
    q.addUnschedulableIfNotPresent(b, q.schedulingCycle);
    assert.ok(q.inBackoff('default/b'), 'the large node arrived while b was being scheduled');
    assert.ok(q.inBackoff('default/a'), 'and it moved the parked a (into backoff: it just failed)');
  });

  test('an event without its object requeues every pod a registered plugin rejected', () => {
    const q = parked(tpod('big', req('8')), 'NodeResourcesFit');
    q.moveAllToActiveOrBackoffQueue(EVENTS.AssignedPodDelete);
    assert.ok(q.inActive('default/big'));
  });
});

describe('plugins', () => {
  test('pod requests: init-container max rule, sidecars and overhead', () => {
    const r = podRequests({
      spec: {
        containers: [
          { name: 'a', resources: { requests: { cpu: '100m', memory: '100Mi' } } },
          { name: 'b', resources: { requests: { cpu: '200m' } } },
        ],
        initContainers: [
          { name: 'i', resources: { requests: { cpu: '1', memory: '50Mi' } } },
          { name: 's', restartPolicy: 'Always', resources: { requests: { cpu: '50m' } } },
        ],
        overhead: { cpu: '10m' },
      },
    });
    assert.equal(r.get('cpu'), 1000 + 10); // max(300+50, 1000) + overhead
    assert.equal(r.get('memory'), 100 * 1024 * 1024);
  });

  test('NodeResourcesFit: cpu, memory, extended resources, pods count', () => {
    const fit = new NodeResourcesFit();
    const s = new CycleState();
    const n = ni(node('n1', { cpu: '1', pods: '2', extra: { 'nvidia.com/gpu': '1' } }), [pod('x', req('600m'))]);
    assert.equal(fit.filter(s, new PodInfo(pod('p', req('300m'))), n), null);
    assert.deepEqual(fit.filter(s, new PodInfo(pod('p', req('500m'))), n)!.reasons, ['Insufficient cpu']);
    assert.deepEqual(
      fit.filter(s, new PodInfo(pod('p', req(undefined, undefined, { 'nvidia.com/gpu': '2' }))), n)!.reasons,
      ['Insufficient nvidia.com/gpu'],
    );
    n.addPod(new PodInfo(pod('y', {})));
    assert.deepEqual(fit.filter(s, new PodInfo(pod('p')), n)!.reasons, ['Too many pods']);
  });

  test('TaintToleration: NoSchedule filter and PreferNoSchedule score', () => {
    const tt = new TaintToleration();
    const s = new CycleState();
    const n = ni(node('cp', { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] }));
    const st = tt.filter(s, new PodInfo(pod('p')), n)!;
    assert.equal(st.message, 'node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }');
    assert.equal(
      tt.filter(
        s,
        new PodInfo(
          pod('p', {
            tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
          }),
        ),
        n,
      ),
      null,
    );
    assert.equal(tt.filter(s, new PodInfo(pod('p', { tolerations: [{ operator: 'Exists' }] })), n), null);
    const soft = ni(node('soft', { taints: [{ key: 'a', value: 'b', effect: 'PreferNoSchedule' }] }));
    const p = new PodInfo(pod('p'));
    tt.preScore(s, p);
    const scores = [tt.score(s, p, soft), tt.score(s, p, ni(node('clean')))];
    tt.normalizeScore(s, p, scores);
    assert.deepEqual(scores, [0, 100]);
  });

  test('NodeAffinity: nodeSelector, required terms, preferred weights', () => {
    const na = new NodeAffinity();
    const a = ni(node('a', { labels: { disk: 'ssd', zone: 'z1' } }));
    const b = ni(node('b', { labels: { disk: 'hdd', zone: 'z2' } }));
    let s = new CycleState();
    let p = new PodInfo(pod('p', { nodeSelector: { disk: 'ssd' } }));
    assert.equal(na.preFilter(s, p), null);
    assert.equal(na.filter(s, p, a), null);
    assert.equal(na.filter(s, p, b)!.message, "node(s) didn't match Pod's node affinity/selector");
    s = new CycleState();
    p = new PodInfo(
      pod('p', {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['z2'] }] }],
            },
            preferredDuringSchedulingIgnoredDuringExecution: [
              { weight: 10, preference: { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] } },
            ],
          },
        },
      }),
    );
    na.preFilter(s, p);
    assert.ok(na.filter(s, p, a));
    assert.equal(na.filter(s, p, b), null);
    na.preScore(s, p);
    const scores = [na.score(s, p, a), na.score(s, p, b)];
    na.normalizeScore(s, p, scores);
    assert.deepEqual(scores, [100, 0]);
  });

  test('NodePorts: hostPort conflicts honour hostIP wildcards', () => {
    const np = new NodePorts();
    const withPort = (ip?: string) =>
      pod('p', { containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80, hostPort: 8080, hostIP: ip }] }] });
    const n = ni(node('n'), [withPort('10.0.0.1')]);
    const s = new CycleState();
    assert.ok(np.filter(s, new PodInfo(withPort()), n));
    assert.ok(np.filter(s, new PodInfo(withPort('10.0.0.1')), n));
    assert.equal(np.filter(s, new PodInfo(withPort('10.0.0.2')), n), null);
  });

  test('the failure message has upstream format', () => {
    const statuses = new Map<string, Status>([
      ['a', Status.unschedulable('Insufficient cpu')],
      ['b', Status.unresolvable('node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }')],
      ['c', Status.unresolvable('node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }')],
    ]);
    assert.equal(
      fitErrorMessage(
        3,
        statuses,
        '',
        'preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling',
      ),
      '0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.',
    );
  });

  test('numFeasibleNodesToFind samples large clusters like upstream', () => {
    assert.equal(numFeasibleNodesToFind(50), 50);
    assert.equal(numFeasibleNodesToFind(1000), 420);
    assert.equal(numFeasibleNodesToFind(5000), 500);
  });

  test('cache: assume, forget, confirm', () => {
    const c = new SchedulerCache();
    c.addNode(node('n1'));
    const p = new PodInfo({ ...pod('p', req('1')), spec: { ...req('1'), nodeName: 'n1' } });
    c.assumePod(p);
    assert.equal(c.node('n1')!.requested.get('cpu'), 1000);
    c.forgetPod(p);
    assert.equal(c.node('n1')!.requested.get('cpu'), 0);
    c.assumePod(p);
    c.addPod(p);
    assert.equal(c.isAssumed(p.uid), false);
    assert.equal(c.node('n1')!.pods.size, 1);
  });
});

describe('scheduler against an in-process API server', () => {
  let t: TestApi;
  let sched: Scheduler;
  let client: Client;
  before(async () => {
    t = await startTestApi();
    client = inProcessClient(t.api, { fieldManager: 'test' });
    for (const n of ['n1', 'n2', 'n3'])
      await client.resource(R.nodes).create(node(n, { cpu: '2', labels: { zone: n === 'n3' ? 'b' : 'a' } }));
    sched = new Scheduler({
      client: inProcessClient(t.api, { fieldManager: 'kube-scheduler' }),
      logger: pino({ level: 'silent' }),
    });
    await sched.start();
  });
  after(async () => {
    await sched?.stop();
    await t?.stop();
  });
  const pods = () => client.resource(R.pods).namespace('default');
  const mk = (name: string, spec: Partial<PodSpec> = {}, labels: Record<string, string> = {}) =>
    pods().create({ metadata: { name, labels }, spec: { containers: [{ name: 'c', image: 'x' }], ...spec } });
  const nodeOf = async (name: string) => (await pods().get(name)).spec?.nodeName;

  test('binds pods and records Scheduled events', async () => {
    await mk('plain');
    const n = await eventually(() => nodeOf('plain'));
    assert.match(n, /^n[123]$/);
    // An empty list is truthy: wait until the event exists.
    const evs = await eventually(async () => {
      const found = (await client.resource(R.events).namespace('default').list()).items.filter(
        (e) => e.involvedObject.name === 'plain' && e.reason === 'Scheduled',
      );
      return found.length ? found : undefined;
    });
    assert.equal(evs[0].message, `Successfully assigned default/plain to ${n}`);
    const p = await pods().get('plain');
    assert.equal(p.status?.conditions?.find((c) => c.type === 'PodScheduled')?.status, 'True');
  });

  test('gated pods wait outside the queue and are counted as gated until their gates go', async () => {
    const gatedCount = async () => {
      const text = await componentRegistry.getSingleMetricAsString('scheduler_pending_pods');
      return Number(/queue="gated"\} (\d+)/.exec(text)?.[1]);
    };
    await mk('gated', { schedulingGates: [{ name: 'example.com/wait' }] });
    await eventually(async () => (await gatedCount()) === 1);
    assert.equal(await nodeOf('gated'), undefined);
    const cur = await pods().get('gated');
    await pods().update({ ...cur, spec: { ...cur.spec!, schedulingGates: [] } });
    assert.match(await eventually(() => nodeOf('gated')), /^n[123]$/);
    assert.equal(await gatedCount(), 0);
  });

  test('an unschedulable pod gets PodScheduled=False with the upstream message', async () => {
    await mk('huge', req('3'));
    const cond = await eventually(async () =>
      (await pods().get('huge')).status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False'),
    );
    assert.equal(cond.reason, 'Unschedulable');
    assert.equal(
      cond.message,
      '0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.',
    );
    await pods().delete('huge');
  });

  test('required anti-affinity spreads replicas over nodes', async () => {
    const aa = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { labelSelector: { matchLabels: { app: 'spread' } }, topologyKey: 'kubernetes.io/hostname' },
        ],
      },
    };
    for (const i of [1, 2, 3]) await mk(`spread-${i}`, { affinity: aa }, { app: 'spread' });
    const ns = await eventually(async () => {
      const all = await Promise.all([1, 2, 3].map((i) => nodeOf(`spread-${i}`)));
      return all.every(Boolean) ? all : null;
    });
    assert.equal(new Set(ns).size, 3);
    await mk('spread-4', { affinity: aa }, { app: 'spread' });
    const cond = await eventually(async () =>
      (await pods().get('spread-4')).status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False'),
    );
    assert.match(cond.message ?? '', /^0\/3 nodes are available: 3 node\(s\) didn't match pod anti-affinity rules\./);
    for (const i of [1, 2, 3, 4]) await pods().delete(`spread-${i}`, { gracePeriodSeconds: 0 });
  });

  test("placed pods' required anti-affinity keeps a matching pod off their nodes (symmetry)", async () => {
    const aa = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          {
            labelSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['guard', 'intruder'] }] },
            topologyKey: 'kubernetes.io/hostname',
          },
        ],
      },
    };
    for (const i of [1, 2, 3]) await mk(`guard-${i}`, { affinity: aa }, { app: 'guard' });
    const ns = await eventually(async () => {
      const all = await Promise.all([1, 2, 3].map((i) => nodeOf(`guard-${i}`)));
      return all.every(Boolean) ? all : null;
    });
    assert.equal(new Set(ns).size, 3);
    // No terms of its own: only the placed pods' terms keep it out.
    await mk('intruder', {}, { app: 'intruder' });
    const cond = await eventually(async () =>
      (await pods().get('intruder')).status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False'),
    );
    assert.match(
      cond.message ?? '',
      /^0\/3 nodes are available: 3 node\(s\) didn't satisfy existing pods anti-affinity rules\./,
    );
    await pods().delete('guard-2', { gracePeriodSeconds: 0 });
    assert.equal(await eventually(() => nodeOf('intruder')), ns[1]);
    for (const n of ['guard-1', 'guard-3', 'intruder']) await pods().delete(n, { gracePeriodSeconds: 0 });
  });

  test('pod affinity follows a zone; topology spread balances', async () => {
    await mk('db', {}, { app: 'db' });
    const dbNode = await eventually(() => nodeOf('db'));
    const zone = dbNode === 'n3' ? 'b' : 'a';
    await mk('web', {
      affinity: {
        podAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'zone' },
          ],
        },
      },
    });
    const webNode = await eventually(() => nodeOf('web'));
    assert.equal(webNode === 'n3' ? 'b' : 'a', zone);
    const tsc = [
      {
        maxSkew: 1,
        topologyKey: 'zone',
        whenUnsatisfiable: 'DoNotSchedule',
        labelSelector: { matchLabels: { app: 'ts' } },
      },
    ];
    for (const i of [1, 2, 3, 4]) await mk(`ts-${i}`, { topologySpreadConstraints: tsc }, { app: 'ts' });
    const ns = await eventually(async () => {
      const all = await Promise.all([1, 2, 3, 4].map((i) => nodeOf(`ts-${i}`)));
      return all.every(Boolean) ? all : null;
    });
    const inB = ns.filter((n) => n === 'n3').length;
    assert.equal(inB, 2);
  });

  test('a high-priority pod preempts a low-priority one', async () => {
    await client.resource(R.priorityclasses).create({ metadata: { name: 'high' }, value: 1000 });
    // Fill every node's cpu with low-priority pods.
    for (const n of ['n1', 'n2', 'n3'])
      await mk(`filler-${n}`, { ...req('1500m'), nodeName: n, terminationGracePeriodSeconds: 0 });
    await mk('vip', { ...req('1'), priorityClassName: 'high' });
    const p = await eventually(async () => {
      const v = await pods().get('vip');
      return v.spec?.nodeName ? v : null;
    }, 15_000);
    assert.equal(p.spec?.priority, 1000);
    const remaining = (await pods().list()).items.filter((x) => x.metadata.name.startsWith('filler-'));
    assert.equal(remaining.length, 2);
    const evs = (await client.resource(R.events).namespace('default').list()).items.filter(
      (e) => e.reason === 'Preempted',
    );
    assert.match(evs[0].message ?? '', new RegExp(`^Preempted by pod ${p.metadata.uid} on node ${p.spec?.nodeName}$`));
  });
});
