// What the node agent makes of ephemeral containers: their CRI configuration (the target's pid
// namespace) and their status (reported apart, never ready, no part of the pod's phase).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podStatus, type Observed } from '../../src/agent/pods/status.js';
import { containerConfig } from '../../src/agent/pods/container.js';
import { sandboxConfig } from '../../src/agent/pods/sandbox.js';
import type { ContainerStatus } from '../../src/agent/runtime/types.js';

const NOW = Date.parse('2026-12-06T12:00:00Z');

function ctr(name: string, state: ContainerStatus['state'], exitCode = 0): ContainerStatus {
  return {
    id: `id-${name}`,
    metadata: { name, attempt: 0 },
    state,
    createdAt: 1,
    startedAt: (NOW - 5000) * 1e6,
    finishedAt: state === 'CONTAINER_EXITED' ? (NOW - 1000) * 1e6 : 0,
    exitCode,
    image: { image: 'img' },
    imageRef: 'sha256:x',
    reason: '',
    message: '',
    labels: {},
    annotations: {},
    logPath: '',
  };
}

function observe(containers: Record<string, ContainerStatus[]>): Observed {
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
  };
}

const pod = (spec: any = {}) => ({
  metadata: { name: 'p', namespace: 'default', uid: 'u' },
  spec: {
    containers: [{ name: 'main', image: 'img' }],
    ephemeralContainers: [{ name: 'debugger', image: 'busybox', targetContainerName: 'main' }],
    ...spec,
  },
  status: { phase: 'Running', conditions: [] },
});

test('ephemeral container statuses: waiting, running (started, never ready), terminated; the pod is unaffected', () => {
  const waiting = podStatus(pod(), observe({ main: [ctr('main', 'CONTAINER_RUNNING')] }));
  assert.equal(waiting.ephemeralContainerStatuses?.[0].state?.waiting?.reason, 'ContainerCreating');
  const running = podStatus(
    pod(),
    observe({ main: [ctr('main', 'CONTAINER_RUNNING')], debugger: [ctr('debugger', 'CONTAINER_RUNNING')] }),
  );
  const es = running.ephemeralContainerStatuses?.[0];
  assert.equal(es?.name, 'debugger');
  assert.ok(es?.state?.running?.startedAt);
  assert.equal(es?.ready, false);
  assert.equal(es?.started, true);
  assert.deepEqual(
    running.containerStatuses.map((s) => s.name),
    ['main'],
  );
  const done = podStatus(
    pod({ restartPolicy: 'Never' }),
    observe({ main: [ctr('main', 'CONTAINER_RUNNING')], debugger: [ctr('debugger', 'CONTAINER_EXITED', 1)] }),
  );
  assert.equal(done.ephemeralContainerStatuses?.[0].state?.terminated?.exitCode, 1);
  assert.equal(done.ephemeralContainerStatuses?.[0].started, false);
  // An ephemeral container that failed neither fails the pod nor makes it unready.
  assert.equal(done.phase, 'Running');
  assert.equal(done.conditions.find((c) => c.type === 'Ready')?.status, 'True');
  // No ephemeral containers, no field.
  assert.equal(podStatus(pod({ ephemeralContainers: undefined }), observe({})).ephemeralContainerStatuses, undefined);
});

test('an ephemeral container that ran is not run again: a lost one is reported terminated, as upstream', () => {
  const ran = pod();
  const running = {
    name: 'debugger',
    containerID: 'containerd://old',
    state: { running: { startedAt: '2026-12-06T11:00:00Z' } },
    ready: false,
    started: true,
    restartCount: 0,
    image: 'busybox',
    imageID: '',
  };
  (ran.status as any).ephemeralContainerStatuses = [running];
  const s = podStatus(ran, observe({ main: [ctr('main', 'CONTAINER_RUNNING')] }));
  const es = s.ephemeralContainerStatuses?.[0];
  assert.deepEqual(
    [es?.state?.terminated?.reason, es?.state?.terminated?.exitCode, es?.containerID],
    ['ContainerStatusUnknown', 137, 'containerd://old'],
  );
  const done = { ...running, state: { terminated: { exitCode: 0, reason: 'Completed' } }, started: false };
  (ran.status as any).ephemeralContainerStatuses = [done];
  assert.deepEqual(podStatus(ran, observe({})).ephemeralContainerStatuses?.[0], done);
});

test("an ephemeral container with a target joins the target's pid namespace (CRI TARGET)", () => {
  const p = pod();
  const sandbox = sandboxConfig(p, 0, {
    logDirectory: '/tmp/logs',
    dns: {
      clusterDNS: ['10.43.0.10'],
      clusterDomain: 'cluster.local',
      hostResolv: { servers: [], searches: [], options: [] },
    },
  });
  const input = { env: [], mounts: [], attempt: 0, nodeMemoryBytes: 1 << 30 };
  const withTarget = containerConfig(p, p.spec.ephemeralContainers[0], sandbox, { ...input, targetId: 'id-main' });
  assert.deepEqual(withTarget.linux.securityContext.namespaceOptions, {
    network: 'POD',
    pid: 'TARGET',
    targetId: 'id-main',
    ipc: 'POD',
  });
  const plain = containerConfig(p, p.spec.containers[0], sandbox, input);
  assert.equal(plain.linux.securityContext.namespaceOptions.pid, 'CONTAINER');
  assert.equal(plain.linux.securityContext.namespaceOptions.targetId, undefined);
  // A pod that shares one pid namespace (or the host's) keeps it: the target is in it already.
  const shared = pod({ shareProcessNamespace: true });
  assert.equal(
    containerConfig(shared, shared.spec.ephemeralContainers[0], sandbox, { ...input, targetId: 'id-main' }).linux
      .securityContext.namespaceOptions.pid,
    'POD',
  );
});
