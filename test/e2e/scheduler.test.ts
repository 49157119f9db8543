// The scheduler with the real kubectl against `k8ts server --simulated-nodes 3`: pods get bound;
// an unschedulable pod explains itself in `kubectl describe`; taints and tolerations;
// nodeSelector and node affinity; anti-affinity spreads 3 replicas over 3 nodes; a high-priority
// pod preempts a low-priority one; two standalone schedulers elect one leader.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { startCluster, K8TS_BIN, type Cluster } from './harness.js';
import { until } from '../support/until.js';

let cluster: Cluster;
const NODES = ['sim-node-0', 'sim-node-1', 'sim-node-2'];

before(async () => {
  cluster = await startCluster({ args: ['--simulated-nodes', '3', '--sim-cpu', '2', '--sim-memory', '4Gi'] });
  await until(
    'condition',
    async () => (await cluster.k(['get', 'nodes', '-o', 'name'])).trim().split('\n').length === 3,
    30_000,
  );
});
after(async () => {
  await cluster?.cleanup();
});

const nodeOf = async (pod: string, ns = 'default') =>
  (await cluster.k(['get', 'pod', pod, '-n', ns, '-o', 'jsonpath={.spec.nodeName}'])).trim();

const podYaml = (name: string, extra = '', labels = '{}', cpu = '') => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: ${labels}}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: nginx:1.27${cpu ? `, resources: {requests: {cpu: '${cpu}'}}` : ''}}]
${extra}`;

test('pods get bound and a Scheduled event is recorded', async () => {
  await cluster.k(['run', 'hello', '--image=nginx:1.27']);
  const node = await until('condition', () => nodeOf('hello'));
  assert.ok(NODES.includes(node), node);
  const events = await until('condition', async () => {
    const out = await cluster.k([
      'get',
      'events',
      '--field-selector',
      'involvedObject.name=hello,reason=Scheduled',
      '-o',
      'jsonpath={.items[*].message}',
    ]);
    return out.trim();
  });
  assert.equal(events, `Successfully assigned default/hello to ${node}`);
  await cluster.k(['delete', 'pod', 'hello', '--wait=false']);
});

test('a pod that fits nowhere explains why in kubectl describe', async () => {
  await cluster.k([
    'run',
    'too-big',
    '--image=nginx:1.27',
    '--overrides',
    JSON.stringify({
      spec: { containers: [{ name: 'too-big', image: 'nginx:1.27', resources: { requests: { cpu: '3' } } }] },
    }),
  ]);
  const msg =
    '0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.';
  const describe = await until('condition', async () => {
    const out = await cluster.k(['describe', 'pod', 'too-big']);
    return out.includes('FailedScheduling') ? out : '';
  });
  assert.match(
    describe,
    /Warning\s+FailedScheduling\s+.*default-scheduler\s+0\/3 nodes are available: 3 Insufficient cpu\./,
  );
  assert.ok(describe.includes(msg), describe);
  const cond = await cluster.k([
    'get',
    'pod',
    'too-big',
    '-o',
    'jsonpath={.status.conditions[?(@.type=="PodScheduled")].reason}',
  ]);
  assert.equal(cond, 'Unschedulable');
  await cluster.k(['delete', 'pod', 'too-big', '--wait=false']);
});

test('taints keep pods off unless tolerated', async () => {
  for (const n of NODES.slice(0, 2)) await cluster.k(['taint', 'nodes', n, 'dedicated=gpu:NoSchedule']);
  try {
    await cluster.k(['apply', '-f', '-'], podYaml('untolerant'));
    assert.equal(await until('condition', () => nodeOf('untolerant')), NODES[2]);
    await cluster.k(['cordon', NODES[2]]);
    await cluster.k(['apply', '-f', '-'], podYaml('stuck'));
    const describe = await until('condition', async () => {
      const out = await cluster.k(['describe', 'pod', 'stuck']);
      return out.includes('FailedScheduling') ? out : '';
    });
    assert.match(
      describe,
      /0\/3 nodes are available: 1 node\(s\) were unschedulable, 2 node\(s\) had untolerated taint \{dedicated: gpu\}\./,
    );
    await cluster.k(
      ['apply', '-f', '-'],
      podYaml('tolerant', `  tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]`),
    );
    const n = await until('condition', () => nodeOf('tolerant'));
    assert.ok(NODES.slice(0, 2).includes(n));
    // Uncordoning is a node update: the stuck pod is retried and lands.
    await cluster.k(['uncordon', NODES[2]]);
    assert.equal(await until('condition', () => nodeOf('stuck')), NODES[2]);
  } finally {
    for (const n of NODES.slice(0, 2)) await cluster.kubectl(['taint', 'nodes', n, 'dedicated=gpu:NoSchedule-']);
    await cluster.kubectl(['uncordon', NODES[2]]);
    await cluster.kubectl(['delete', 'pod', 'untolerant', 'stuck', 'tolerant', '--wait=false']);
  }
});

test('nodeSelector and node affinity', async () => {
  await cluster.k(['label', 'nodes', NODES[1], 'disk=ssd']);
  await cluster.k(['apply', '-f', '-'], podYaml('selected', `  nodeSelector: {disk: ssd}`));
  assert.equal(await until('condition', () => nodeOf('selected')), NODES[1]);
  await cluster.k(
    ['apply', '-f', '-'],
    podYaml(
      'affine',
      `  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: NotIn, values: [${NODES[0]}, ${NODES[1]}]}]}]`,
    ),
  );
  assert.equal(await until('condition', () => nodeOf('affine')), NODES[2]);
  await cluster.k(['apply', '-f', '-'], podYaml('nowhere', `  nodeSelector: {disk: nvme}`));
  const describe = await until('condition', async () => {
    const out = await cluster.k(['describe', 'pod', 'nowhere']);
    return out.includes('FailedScheduling') ? out : '';
  });
  assert.match(
    describe,
    /0\/3 nodes are available: 3 node\(s\) didn't match Pod's node affinity\/selector\. preemption: 0\/3 nodes are available: 3 Preemption is not helpful for scheduling\./,
  );
  await cluster.kubectl(['delete', 'pod', 'selected', 'affine', 'nowhere', '--wait=false']);
});

test('required anti-affinity spreads 3 replicas over 3 nodes', async () => {
  const aa = `  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchLabels: {app: spread}}
        topologyKey: kubernetes.io/hostname`;
  for (const i of [1, 2, 3]) await cluster.k(['apply', '-f', '-'], podYaml(`spread-${i}`, aa, '{app: spread}'));
  const nodes = await until(
    'condition',
    async () => {
      const out = (await cluster.k(['get', 'pods', '-l', 'app=spread', '-o', 'jsonpath={.items[*].spec.nodeName}']))
        .trim()
        .split(/\s+/)
        .filter(Boolean);
      return out.length === 3 ? out : null;
    },
    30_000,
  );
  assert.equal(new Set(nodes).size, 3);
  await cluster.k(['apply', '-f', '-'], podYaml('spread-4', aa, '{app: spread}'));
  const describe = await until('condition', async () => {
    const out = await cluster.k(['describe', 'pod', 'spread-4']);
    return out.includes('FailedScheduling') ? out : '';
  });
  assert.match(describe, /0\/3 nodes are available: 3 node\(s\) didn't match pod anti-affinity rules\./);
  await cluster.k(['delete', 'pod', '-l', 'app=spread', '--wait=false']);
});

test('a high-priority pod preempts a low-priority one', async () => {
  await cluster.k(
    ['apply', '-f', '-'],
    `
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: low}
value: 10
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 100000
`,
  );
  // Wait until earlier tests' pods are gone, then fill all three nodes with low-priority pods.
  await until('condition', async () => (await cluster.k(['get', 'pods', '-o', 'name'])).trim() === '', 30_000);
  for (let i = 0; i < 3; i++) {
    await cluster.k(['apply', '-f', '-'], podYaml(`low-${i}`, `  priorityClassName: low`, '{}', '1500m'));
  }
  await until('condition', async () => {
    const out = (await cluster.k(['get', 'pods', '-o', 'jsonpath={.items[*].spec.nodeName}']))
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    return out.length === 3;
  });
  await cluster.k(['apply', '-f', '-'], podYaml('vip', `  priorityClassName: high`, '{}', '1'));
  const node = await until('condition', () => nodeOf('vip'), 30_000);
  assert.ok(NODES.includes(node));
  const prio = await cluster.k(['get', 'pod', 'vip', '-o', 'jsonpath={.spec.priority}']);
  assert.equal(prio, '100000');
  const preempted = await until('condition', async () =>
    (
      await cluster.k(['get', 'events', '--field-selector', 'reason=Preempted', '-o', 'jsonpath={.items[*].message}'])
    ).trim(),
  );
  assert.match(preempted, new RegExp(`Preempted by pod [0-9a-f-]+ on node ${node}`));
  const left = (await cluster.k(['get', 'pods', '-o', 'name']))
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('pod/low-'));
  assert.equal(left.length, 2);
});

test('two standalone schedulers: one leader, the other takes over when it dies', async () => {
  const procs: ChildProcess[] = [];
  const startOne = () => {
    const p = spawn(
      process.execPath,
      [
        K8TS_BIN,
        'scheduler',
        '--kubeconfig',
        cluster.kubeconfig,
        '--scheduler-name',
        'ha-scheduler',
        '--leader-elect-resource-name',
        'ha-scheduler',
        '--leader-elect-lease-duration',
        '4s',
        '--leader-elect-renew-deadline',
        '3s',
        '--leader-elect-retry-period',
        '500ms',
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    procs.push(p);
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    return { p, id: () => /identity (\S+)/.exec(out)?.[1] };
  };
  try {
    const a = startOne();
    const b = startOne();
    const holder = async () =>
      (
        await cluster.k(['get', 'lease', 'ha-scheduler', '-n', 'kube-system', '-o', 'jsonpath={.spec.holderIdentity}'])
      ).trim();
    const first = await until('condition', async () => {
      const h = await holder();
      return h && a.id() && b.id() ? h : '';
    });
    assert.ok([a.id(), b.id()].includes(first));
    // Pods for this scheduler get bound.
    await cluster.k(['apply', '-f', '-'], podYaml('ha-1', `  schedulerName: ha-scheduler`));
    assert.ok(NODES.includes(await until('condition', () => nodeOf('ha-1'))));
    const [leader, standby] = first === a.id() ? [a, b] : [b, a];
    leader.p.kill('SIGKILL');
    const next = await until(
      'condition',
      async () => {
        const h = await holder();
        return h === standby.id() ? h : '';
      },
      20_000,
    );
    assert.equal(next, standby.id());
    await cluster.k(['apply', '-f', '-'], podYaml('ha-2', `  schedulerName: ha-scheduler`));
    assert.ok(NODES.includes(await until('condition', () => nodeOf('ha-2'))));
  } finally {
    for (const p of procs) p.kill('SIGKILL');
  }
});
