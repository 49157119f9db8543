// Simulated nodes, node lifecycle and metrics.k8s.io with the real kubectl against
// `k8ts server --simulated-nodes 3`: nodes Ready, pods bound to them run (IPs from the node's
// podCIDR), run-to-completion pods succeed or fail, restarts back off, cordon, kubectl top, a
// node marked down goes Unknown with the unreachable taints and its pods are evicted after their
// tolerationSeconds. Pods set spec.nodeName themselves (no scheduler needed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startCluster, K8TS_BIN, type Cluster, until } from './harness.js';
import { rawClient } from './rawclient.js';
import { decodeEnvelope } from '../../src/machinery/protobuf/index.js';

const PROTOBUF = 'application/vnd.kubernetes.protobuf';

let cluster: Cluster;

before(async () => {
  cluster = await startCluster({
    args: [
      '--simulated-nodes',
      '3',
      '--sim-heartbeat-seconds',
      '1',
      '--sim-job-seconds',
      '0.5',
      '--sim-crashloop-seconds',
      '0.5',
      '--node-monitor-grace-period',
      '3s',
      '--node-monitor-period',
      '250ms',
    ],
  });
});
after(async () => {
  await cluster?.cleanup();
});

const podJSON = async (name: string, ns = 'default') =>
  JSON.parse(await cluster.k(['get', 'pod', name, '-n', ns, '-o', 'json']));

function pod(
  name: string,
  node: string,
  extra: Record<string, unknown> = {},
  container: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...((extra.metadata as object) ?? {}) },
    spec: {
      nodeName: node,
      containers: [{ name: 'c', image: 'busybox:1.36', ...container }],
      ...((extra.spec as object) ?? {}),
    },
  });
}

test('simulated nodes are Ready with kubelet-like status', async () => {
  const out = await until('3 Ready nodes', async () => {
    const o = await cluster.k(['get', 'nodes']);
    return (o.match(/ Ready /g) ?? []).length === 3 && o;
  });
  assert.match(out, /NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION/);
  assert.match(out, /sim-node-0\s+Ready\s+<none>\s+\S+\s+v1\.30\.0\+k8ts/);
  const node = JSON.parse(await cluster.k(['get', 'node', 'sim-node-1', '-o', 'json']));
  assert.equal(node.metadata.labels['kubernetes.io/hostname'], 'sim-node-1');
  assert.equal(node.metadata.labels['kubernetes.io/os'], 'linux');
  assert.equal(node.metadata.labels['node.kubernetes.io/instance-type'], 'k8ts-sim');
  assert.equal(node.metadata.labels['topology.kubernetes.io/zone'], 'zone-b');
  assert.equal(node.status.capacity.cpu, '4');
  assert.equal(node.status.allocatable.pods, '110');
  const ready = node.status.conditions.find((c: any) => c.type === 'Ready');
  assert.equal(ready.status, 'True');
  assert.equal(ready.reason, 'KubeletReady');
  assert.equal(
    node.status.conditions.find((c: any) => c.type === 'MemoryPressure').reason,
    'KubeletHasSufficientMemory',
  );
  assert.equal(node.status.nodeInfo.kubeletVersion, 'v1.30.0+k8ts');
  assert.match(node.status.nodeInfo.containerRuntimeVersion, /^sim:\/\//);
  assert.ok(node.status.addresses.some((a: any) => a.type === 'InternalIP'));
  // Node IPAM gave it a /24 of --cluster-cidr.
  const cidr = await until(
    'a podCIDR',
    async () => JSON.parse(await cluster.k(['get', 'node', 'sim-node-1', '-o', 'json'])).spec.podCIDR,
  );
  assert.match(cidr, /^10\.42\.\d+\.0\/24$/);
  // The node's Lease comes with its first heartbeat: wait for it rather than race it.
  const lease = await until('the node lease', async () => {
    const r = await cluster.kubectl(['get', 'lease', 'sim-node-1', '-n', 'kube-node-lease', '-o', 'json']);
    return r.code === 0 ? JSON.parse(r.stdout) : undefined;
  });
  assert.equal(lease.spec.holderIdentity, 'sim-node-1');
  assert.equal(lease.metadata.ownerReferences?.[0]?.kind, 'Node');
});

test('a pod bound to a simulated node runs with an IP from the node podCIDR', async () => {
  await cluster.k(
    ['apply', '-f', '-'],
    pod(
      'web',
      'sim-node-0',
      { spec: { initContainers: [{ name: 'init', image: 'busybox:1.36', command: ['true'] }] } },
      { image: 'nginx:1.27' },
    ),
  );
  const p = await until('web Running and Ready', async () => {
    const p = await podJSON('web');
    return (
      p.status.phase === 'Running' && p.status.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True' && p
    );
  });
  const node = JSON.parse(await cluster.k(['get', 'node', 'sim-node-0', '-o', 'json']));
  const prefix = node.spec.podCIDR.split('.').slice(0, 3).join('.');
  assert.ok(p.status.podIP.startsWith(`${prefix}.`), `${p.status.podIP} in ${node.spec.podCIDR}`);
  assert.deepEqual(p.status.podIPs, [{ ip: p.status.podIP }]);
  assert.equal(p.status.hostIP, node.status.addresses.find((a: any) => a.type === 'InternalIP').address);
  assert.ok(p.status.startTime);
  for (const t of ['PodReadyToStartContainers', 'Initialized', 'ContainersReady', 'Ready', 'PodScheduled']) {
    assert.equal(p.status.conditions.find((c: any) => c.type === t)?.status, 'True', t);
  }
  const cs = p.status.containerStatuses[0];
  assert.equal(cs.ready, true);
  assert.equal(cs.started, true);
  assert.ok(cs.state.running.startedAt);
  assert.match(cs.containerID, /^sim:\/\//);
  assert.match(cs.imageID, /nginx@sha256:/);
  assert.equal(p.status.initContainerStatuses[0].state.terminated.reason, 'Completed');
  const wide = await cluster.k(['get', 'pod', 'web', '-o', 'wide']);
  assert.match(
    wide,
    new RegExp(`web\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+${p.status.podIP.replace(/\./g, '\\.')}\\s+sim-node-0`),
  );
  // Admission gave it the default not-ready/unreachable tolerations.
  const tols = p.spec.tolerations
    .filter((t: any) => t.effect === 'NoExecute')
    .map((t: any) => `${t.key}:${t.tolerationSeconds}`)
    .sort();
  assert.deepEqual(tols, ['node.kubernetes.io/not-ready:300', 'node.kubernetes.io/unreachable:300']);
});

test('run-to-completion pods succeed or fail; restartPolicy is honoured', async () => {
  await cluster.k(
    ['apply', '-f', '-'],
    pod('done', 'sim-node-1', { spec: { restartPolicy: 'Never' } }, { command: ['sh', '-c', 'exit 0'] }),
  );
  await cluster.k(
    ['apply', '-f', '-'],
    pod('broken', 'sim-node-1', {
      spec: { restartPolicy: 'Never' },
      metadata: { annotations: { 'sim.k8ts.io/exit-code': '2' } },
    }),
  );
  await cluster.k(['apply', '-f', '-'], pod('crashy', 'sim-node-1', {}, { command: ['sh', '-c', 'exit 1'] }));
  const done = await until('done Succeeded', async () => {
    const p = await podJSON('done');
    return p.status.phase === 'Succeeded' && p;
  });
  assert.equal(done.status.containerStatuses[0].state.terminated.exitCode, 0);
  assert.equal(done.status.containerStatuses[0].state.terminated.reason, 'Completed');
  assert.equal(done.status.conditions.find((c: any) => c.type === 'Ready').reason, 'PodCompleted');
  const broken = await until('broken Failed', async () => {
    const p = await podJSON('broken');
    return p.status.phase === 'Failed' && p;
  });
  assert.equal(broken.status.containerStatuses[0].state.terminated.exitCode, 2);
  assert.equal(broken.status.containerStatuses[0].state.terminated.reason, 'Error');
  const crashy = await until('crashy restarted twice', async () => {
    const p = await podJSON('crashy');
    return p.status.containerStatuses?.[0]?.restartCount >= 2 && p;
  });
  assert.equal(crashy.status.phase, 'Running');
  assert.equal(crashy.status.containerStatuses[0].lastState.terminated.exitCode, 1);
  const out = await cluster.k(['get', 'pods']);
  assert.match(out, /done\s+0\/1\s+Completed/);
  assert.match(out, /broken\s+0\/1\s+Error/);
  await cluster.k(['delete', 'pod', 'crashy', '--wait=false']);
});

test('a deleted pod goes after its (capped) grace period', async () => {
  await cluster.k(['apply', '-f', '-'], pod('bye', 'sim-node-2', {}, { command: ['sleep', 'infinity'] }));
  await until('bye Running', async () => (await podJSON('bye')).status.phase === 'Running');
  const t0 = Date.now();
  await cluster.k(['delete', 'pod', 'bye', '--timeout=20s']);
  const took = Date.now() - t0;
  assert.ok(took >= 1000 && took < 15_000, `deletion took ${took} ms`);
  const r = await cluster.kubectl(['get', 'pod', 'bye']);
  assert.match(r.stderr, /NotFound/);
});

test('kubectl cordon and uncordon', async () => {
  await cluster.k(['cordon', 'sim-node-1']);
  await until('SchedulingDisabled and the unschedulable taint', async () => {
    const out = await cluster.k(['get', 'nodes']);
    const n = JSON.parse(await cluster.k(['get', 'node', 'sim-node-1', '-o', 'json']));
    return (
      /sim-node-1\s+Ready,SchedulingDisabled/.test(out) &&
      (n.spec.taints ?? []).some((t: any) => t.key === 'node.kubernetes.io/unschedulable' && t.effect === 'NoSchedule')
    );
  });
  await cluster.k(['uncordon', 'sim-node-1']);
  await until('the unschedulable taint gone', async () => {
    const n = JSON.parse(await cluster.k(['get', 'node', 'sim-node-1', '-o', 'json']));
    return (
      !n.spec.unschedulable && !(n.spec.taints ?? []).some((t: any) => t.key === 'node.kubernetes.io/unschedulable')
    );
  });
});

test('kubectl top nodes and pods show simulated usage', async () => {
  await cluster.k(
    ['apply', '-f', '-'],
    pod(
      'busy',
      'sim-node-0',
      {
        metadata: {
          labels: { app: 'busy' },
          annotations: { 'sim.k8ts.io/cpu-millicores': '250', 'sim.k8ts.io/memory': '100Mi' },
        },
      },
      { command: ['sleep', 'infinity'] },
    ),
  );
  const nodes = await until('top nodes', async () => {
    const r = await cluster.kubectl(['top', 'nodes']);
    return r.code === 0 && (r.stdout.match(/sim-node-\d\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%/g) ?? []).length === 3 && r.stdout;
  });
  assert.match(nodes, /NAME\s+CPU\(cores\)\s+CPU%\s+MEMORY\(bytes\)\s+MEMORY%/);
  const pods = await until('top pods', async () => {
    const r = await cluster.kubectl(['top', 'pods', '-l', 'app=busy']);
    return r.code === 0 && /busy\s+250m\s+100Mi/.test(r.stdout) && r.stdout;
  });
  assert.doesNotMatch(pods, /web/);
  const containers = await cluster.k(['top', 'pods', 'busy', '--containers']);
  assert.match(containers, /busy\s+c\s+250m\s+100Mi/);
  // Usage follows the annotation.
  await cluster.k(['annotate', 'pod', 'busy', 'sim.k8ts.io/cpu-millicores=800', '--overwrite']);
  await until('new usage', async () => /busy\s+800m/.test((await cluster.kubectl(['top', 'pods', 'busy'])).stdout));
  const raw = JSON.parse(await cluster.k(['get', '--raw', '/apis/metrics.k8s.io/v1beta1/nodes/sim-node-0']));
  assert.equal(raw.kind, 'NodeMetrics');
  assert.ok(raw.timestamp && raw.window && raw.usage.cpu && raw.usage.memory);
  // Protobuf, as metrics-server serves it (metrics.k8s.io/v1beta1 generated.proto).
  const client = rawClient(cluster.kubeconfig);
  try {
    const pb = await client.bytes('GET', '/apis/metrics.k8s.io/v1beta1/nodes/sim-node-0', undefined, {
      Accept: PROTOBUF,
    });
    assert.equal(pb.type, PROTOBUF);
    const nm = decodeEnvelope(pb.body);
    assert.deepEqual([nm.kind, nm.metadata.name, typeof nm.usage.cpu], ['NodeMetrics', 'sim-node-0', 'string']);
    assert.match(nm.window, /^\d+(\.\d+)?s$/);
    const pods = await client.bytes('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods', undefined, {
      Accept: `${PROTOBUF}, application/json`,
    });
    assert.equal(pods.type, PROTOBUF);
    const podList = decodeEnvelope(pods.body);
    assert.equal(podList.kind, 'PodMetricsList');
    const busy = podList.items.find((p: any) => p.metadata.name === 'busy');
    assert.deepEqual(busy?.containers, [
      { name: 'c', usage: { cpu: '800m', memory: busy.containers[0].usage.memory } },
    ]);
  } finally {
    client.agent.destroy();
  }
  const r = await cluster.kubectl(['get', '--raw', '/apis/metrics.k8s.io/v1beta1/nodes/nope']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /NotFound|not found/);
});

test('a node marked down goes Unknown, is tainted unreachable, and its pods are evicted per tolerationSeconds', async () => {
  const tol = (secs: number) => ({
    spec: {
      tolerations: [
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: secs },
      ],
    },
  });
  await cluster.k(['apply', '-f', '-'], pod('short', 'sim-node-2', tol(2), { command: ['sleep', 'infinity'] }));
  await cluster.k(['apply', '-f', '-'], pod('patient', 'sim-node-2', {}, { command: ['sleep', 'infinity'] }));
  await until(
    'pods Running',
    async () =>
      (await podJSON('short')).status.phase === 'Running' && (await podJSON('patient')).status.phase === 'Running',
  );
  await cluster.k(['annotate', 'node', 'sim-node-2', 'sim.k8ts.io/down=true']);
  const node = await until('sim-node-2 Unknown', async () => {
    const n = JSON.parse(await cluster.k(['get', 'node', 'sim-node-2', '-o', 'json']));
    return n.status.conditions.find((c: any) => c.type === 'Ready')?.status === 'Unknown' && n;
  });
  const ready = node.status.conditions.find((c: any) => c.type === 'Ready');
  assert.equal(ready.reason, 'NodeStatusUnknown');
  assert.equal(ready.message, 'Kubelet stopped posting node status.');
  assert.match(await cluster.k(['get', 'nodes']), /sim-node-2\s+NotReady/);
  const taints = await until('unreachable taints', async () => {
    const n = JSON.parse(await cluster.k(['get', 'node', 'sim-node-2', '-o', 'json']));
    const t = (n.spec.taints ?? []).filter((x: any) => x.key === 'node.kubernetes.io/unreachable');
    return t.length === 2 && t;
  });
  assert.deepEqual(taints.map((t: any) => t.effect).sort(), ['NoExecute', 'NoSchedule']);
  assert.ok(taints.find((t: any) => t.effect === 'NoExecute').timeAdded);
  // Pods on it are not Ready any more.
  await until(
    'patient not Ready',
    async () => (await podJSON('patient')).status.conditions.find((c: any) => c.type === 'Ready')?.status === 'False',
  );
  // tolerationSeconds 2: evicted (marked for deletion; the node is gone, so it stays Terminating).
  const evicted = await until('short evicted', async () => {
    const p = await podJSON('short');
    return p.metadata.deletionTimestamp && p;
  });
  assert.equal(
    evicted.status.conditions.find((c: any) => c.type === 'DisruptionTarget')?.reason,
    'DeletionByTaintManager',
  );
  assert.match(
    await cluster.k(['get', 'events', '--field-selector', 'involvedObject.name=short']),
    /TaintManagerEviction/,
  );
  // The default 300 s toleration keeps the other one.
  assert.equal((await podJSON('patient')).metadata.deletionTimestamp, undefined);
  // The node comes back: Ready again, taints gone, the evicted pod finishes going.
  await cluster.k(['annotate', 'node', 'sim-node-2', 'sim.k8ts.io/down-']);
  await until('sim-node-2 Ready without taints', async () => {
    const n = JSON.parse(await cluster.k(['get', 'node', 'sim-node-2', '-o', 'json']));
    return (
      n.status.conditions.find((c: any) => c.type === 'Ready')?.status === 'True' &&
      !(n.spec.taints ?? []).some((t: any) => t.key === 'node.kubernetes.io/unreachable')
    );
  });
  await until('short gone', async () => /NotFound/.test((await cluster.kubectl(['get', 'pod', 'short'])).stderr));
  await until(
    'patient Ready again',
    async () => (await podJSON('patient')).status.conditions.find((c: any) => c.type === 'Ready')?.status === 'True',
  );
});

test('k8ts sim runs nodes against the server over HTTPS; killing it fails them', async () => {
  const proc = spawn(
    process.execPath,
    [
      K8TS_BIN,
      'sim',
      '--nodes',
      '2',
      '--sim-node-prefix',
      'ext',
      '--kubeconfig',
      cluster.kubeconfig,
      '--sim-heartbeat-seconds',
      '1',
      '--sim-taints',
      'dedicated=sim:NoSchedule',
      '--sim-labels',
      'team=a',
      '--log-level',
      'warn',
    ],
    { stdio: 'ignore' },
  );
  try {
    await until(
      'ext nodes Ready',
      async () => ((await cluster.k(['get', 'nodes', '-l', 'team=a'])).match(/ext-\d\s+Ready/g) ?? []).length === 2,
    );
    const n = JSON.parse(await cluster.k(['get', 'node', 'ext-0', '-o', 'json']));
    assert.ok(n.spec.taints.some((t: any) => t.key === 'dedicated' && t.value === 'sim' && t.effect === 'NoSchedule'));
    await cluster.k(
      ['apply', '-f', '-'],
      pod('ext-pod', 'ext-1', { spec: { tolerations: [{ operator: 'Exists' }] } }, { command: ['sleep', 'infinity'] }),
    );
    await until('ext-pod Running', async () => (await podJSON('ext-pod')).status.phase === 'Running');
    await until('ext-pod in top', async () => /ext-pod\s+\d+m/.test((await cluster.kubectl(['top', 'pods'])).stdout));
  } finally {
    proc.kill('SIGKILL');
  }
  await until(
    'ext-0 NotReady after the sim died',
    async () => /ext-0\s+NotReady/.test(await cluster.k(['get', 'nodes'])),
    20_000,
  );
});
