// The pod status a node reports, from what the runtime shows (upstream getPhase and conditions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podStatus, type Observed } from '../../src/agent/pods/status.js';
import { podDNS, parseResolvConf } from '../../src/agent/pods/sandbox.js';
import { linuxResources, qosClass, expandVars } from '../../src/agent/pods/container.js';
import { Backoff, goDuration } from '../../src/agent/pods/backoff.js';
import type { ContainerStatus } from '../../src/agent/runtime/types.js';

const NOW = Date.parse('2026-11-22T12:00:00Z');
let seq = 0;

function ctr(name: string, state: ContainerStatus['state'], exitCode = 0, attempt = 0, reason = ''): ContainerStatus {
  return {
    id: `id${++seq}`,
    metadata: { name, attempt },
    state,
    createdAt: 1,
    startedAt: (NOW - 5000) * 1e6,
    finishedAt: state === 'CONTAINER_EXITED' ? (NOW - 1000) * 1e6 : 0,
    exitCode,
    image: { image: 'img' },
    imageRef: 'sha256:x',
    reason,
    message: '',
    labels: {},
    annotations: {},
    logPath: '',
  };
}

function observe(containers: Record<string, ContainerStatus[]>, extra: Partial<Observed> = {}): Observed {
  return {
    hostIP: '10.0.0.1',
    podIPs: ['10.42.0.5'],
    sandboxReady: true,
    containers: new Map(Object.entries(containers)),
    ready: () => true,
    started: () => true,
    waiting: () => undefined,
    terminationMessage: () => undefined,
    now: NOW,
    ...extra,
  };
}

const pod = (spec: any) => ({
  metadata: { name: 'p', namespace: 'default', uid: 'u' },
  spec: { containers: [{ name: 'a', image: 'img' }], ...spec },
  status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True' }] },
});

test('a running container makes the pod Running and Ready, with IPs and QoS', () => {
  const s = podStatus(pod({}), observe({ a: [ctr('a', 'CONTAINER_RUNNING')] }));
  assert.equal(s.phase, 'Running');
  assert.equal(s.podIP, '10.42.0.5');
  assert.equal(s.hostIP, '10.0.0.1');
  assert.equal(s.qosClass, 'BestEffort');
  const cond = Object.fromEntries(s.conditions.map((c) => [c.type, c.status]));
  assert.deepEqual(cond, {
    PodReadyToStartContainers: 'True',
    Initialized: 'True',
    Ready: 'True',
    ContainersReady: 'True',
    PodScheduled: 'True',
  });
  assert.equal(s.containerStatuses?.[0].containerID?.startsWith('containerd://'), true);
  assert.ok(s.containerStatuses?.[0].state?.running?.startedAt);
});

test('phases by restart policy, as upstream getPhase', () => {
  const exited = (code: number) => observe({ a: [ctr('a', 'CONTAINER_EXITED', code)] });
  assert.equal(podStatus(pod({ restartPolicy: 'Never' }), exited(0)).phase, 'Succeeded');
  assert.equal(podStatus(pod({ restartPolicy: 'Never' }), exited(1)).phase, 'Failed');
  assert.equal(podStatus(pod({ restartPolicy: 'OnFailure' }), exited(0)).phase, 'Succeeded');
  assert.equal(podStatus(pod({ restartPolicy: 'OnFailure' }), exited(1)).phase, 'Running');
  assert.equal(podStatus(pod({ restartPolicy: 'Always' }), exited(0)).phase, 'Running');
  const notStarted = podStatus(pod({}), observe({}));
  assert.equal(notStarted.phase, 'Pending');
  assert.equal(notStarted.containerStatuses?.[0].state?.waiting?.reason, 'ContainerCreating');
  const failed = podStatus(pod({ restartPolicy: 'Never' }), exited(1));
  assert.equal(failed.containerStatuses?.[0].state?.terminated?.reason, 'Error');
  assert.equal(failed.conditions.find((c) => c.type === 'Ready')?.reason, 'PodCompleted');
});

test('a crash-looping container waits with the reason and keeps its last termination', () => {
  const s = podStatus(
    pod({}),
    observe(
      { a: [ctr('a', 'CONTAINER_EXITED', 2, 3)] },
      {
        waiting: () => ({
          reason: 'CrashLoopBackOff',
          message: 'back-off 40s restarting failed container=a pod=p_default(u)',
        }),
      },
    ),
  );
  const cs = s.containerStatuses?.[0];
  assert.equal(cs.state?.waiting?.reason, 'CrashLoopBackOff');
  assert.equal(cs.lastState?.terminated?.exitCode, 2);
  assert.equal(cs.restartCount, 3);
  assert.equal(s.phase, 'Running');
});

test('init containers gate the main ones; a failed init fails a Never pod', () => {
  const spec = {
    initContainers: [
      { name: 'i1', image: 'img' },
      { name: 'i2', image: 'img' },
    ],
  };
  const s = podStatus(
    pod(spec),
    observe({ i1: [ctr('i1', 'CONTAINER_EXITED', 0)], i2: [ctr('i2', 'CONTAINER_RUNNING')] }),
  );
  assert.equal(s.phase, 'Pending');
  assert.equal(s.containerStatuses?.[0].state?.waiting?.reason, 'PodInitializing');
  const init = s.conditions.find((c) => c.type === 'Initialized');
  assert.equal(init?.status, 'False');
  assert.equal(init?.message, 'containers with incomplete status: [i2]');
  assert.equal(s.initContainerStatuses?.[0].state?.terminated?.reason, 'Completed');
  const failed = podStatus(
    pod({ ...spec, restartPolicy: 'Never' }),
    observe({ i1: [ctr('i1', 'CONTAINER_EXITED', 1)] }),
  );
  assert.equal(failed.phase, 'Failed');
});

test('an unready container keeps the pod unready with the upstream message', () => {
  const s = podStatus(pod({}), observe({ a: [ctr('a', 'CONTAINER_RUNNING')] }, { ready: () => false }));
  const ready = s.conditions.find((c) => c.type === 'Ready');
  assert.equal(ready?.status, 'False');
  assert.equal(ready?.reason, 'ContainersNotReady');
  assert.equal(ready?.message, 'containers with unready status: [a]');
});

test('DNS: ClusterFirst uses cluster DNS with the namespace search path; Default and hostNetwork use the host', () => {
  const host = parseResolvConf('nameserver 127.0.0.53\nnameserver 10.1.1.1\nsearch corp.example\noptions edns0\n');
  assert.deepEqual(host.servers, ['10.1.1.1']);
  const dns = { clusterDNS: ['10.43.0.10'], clusterDomain: 'cluster.local', hostResolv: host };
  const p = { metadata: { namespace: 'team' }, spec: { containers: [] } };
  assert.deepEqual(podDNS(p, dns), {
    servers: ['10.43.0.10'],
    searches: ['team.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example'],
    options: ['ndots:5'],
  });
  assert.deepEqual(podDNS({ ...p, spec: { containers: [], dnsPolicy: 'Default' } }, dns).servers, ['10.1.1.1']);
  assert.deepEqual(podDNS({ ...p, spec: { containers: [], hostNetwork: true } }, dns).servers, ['10.1.1.1']);
  const custom = podDNS(
    {
      ...p,
      spec: {
        containers: [],
        dnsPolicy: 'None',
        dnsConfig: { nameservers: ['1.1.1.1'], options: [{ name: 'ndots', value: '2' }] },
      },
    },
    dns,
  );
  assert.deepEqual(custom, { servers: ['1.1.1.1'], searches: [], options: ['ndots:2'] });
});

test('resources become cgroup settings as the kubelet converts them', () => {
  const p = {
    spec: {
      containers: [
        {
          name: 'a',
          resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
        },
      ],
    },
  };
  assert.equal(qosClass(p), 'Burstable');
  const r = linuxResources(p, p.spec.containers[0], 8 * 1024 ** 3);
  assert.equal(r.cpuShares, 256);
  assert.equal(r.cpuQuota, 50_000);
  assert.equal(r.cpuPeriod, 100_000);
  assert.equal(r.memoryLimitInBytes, 128 * 1024 ** 2);
  assert.ok(r.oomScoreAdj! >= 2 && r.oomScoreAdj! <= 999);
  const g = { spec: { containers: [{ name: 'a', resources: { limits: { cpu: '1', memory: '1Gi' } } }] } };
  assert.equal(qosClass(g), 'Guaranteed');
  assert.equal(linuxResources(g, g.spec.containers[0], 8 * 1024 ** 3).oomScoreAdj, -997);
  assert.equal(qosClass({ spec: { containers: [{ name: 'a' }] } }), 'BestEffort');
});

test('$(VAR) expansion and restart back-off follow upstream', () => {
  const vars = new Map([['A', 'x']]);
  assert.equal(expandVars('$(A)-$(B)-$$(A)', vars), 'x-$(B)-$(A)');
  const b = new Backoff(10_000, 300_000);
  const t0 = 1_000_000;
  assert.equal(b.remaining('k', t0, t0), 0); // first restart at once
  b.next('k', t0);
  assert.equal(b.remaining('k', t0, t0 + 1000), 9000);
  b.next('k', t0 + 10_000);
  assert.equal(b.current('k'), 20_000);
  assert.equal(goDuration(20_000), '20s');
  assert.equal(goDuration(300_000), '5m0s');
});
