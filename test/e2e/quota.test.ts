// ResourceQuota and LimitRange with the real kubectl: quota status is computed by the
// resourcequota controller, a pod over quota is refused with upstream's 403 message, a pod
// without requests under a compute quota is refused, LimitRange defaults land on pods and
// min/max are enforced, concurrent creates can't overshoot a quota.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from './harness.js';
import { until } from '../support/until.js';

let cluster: Cluster;

before(async () => {
  cluster = await startCluster();
});
after(async () => {
  await cluster?.cleanup();
});

const pod = (name: string, ns: string, resources: string) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}}
spec:
  containers:
  - name: app
    image: busybox
    resources: ${resources}
`;

async function quotaSynced(ns: string, name: string, used: Record<string, string>): Promise<any> {
  return until(`quota ${name} used ${JSON.stringify(used)}`, async () => {
    const q = JSON.parse(await cluster.k(['get', 'quota', name, '-n', ns, '-o', 'json']));
    const u = q.status?.used ?? {};
    return Object.entries(used).every(([k, v]) => u[k] === v) ? q : undefined;
  });
}

test('quota status, refusal over quota, describe', async () => {
  await cluster.k(['create', 'namespace', 'q1']);
  await cluster.k(
    ['apply', '-f', '-'],
    `
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute, namespace: q1}
spec:
  hard: {requests.cpu: "2", requests.memory: 1Gi, pods: "3", configmaps: "3"}
`,
  );
  const q = await quotaSynced('q1', 'compute', { 'requests.cpu': '0', pods: '0' });
  assert.deepEqual(q.status.hard, { configmaps: '3', pods: '3', 'requests.cpu': '2', 'requests.memory': '1Gi' });
  // kube-root-ca.crt may or may not exist yet: configmaps are counted as they are.

  await cluster.k(['apply', '-f', '-'], pod('a', 'q1', '{requests: {cpu: "1", memory: 256Mi}}'));
  await quotaSynced('q1', 'compute', { 'requests.cpu': '1', 'requests.memory': '256Mi', pods: '1' });

  const r = await cluster.kubectl(['apply', '-f', '-'], {
    input: pod('b', 'q1', '{requests: {cpu: "2", memory: 256Mi}}'),
  });
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /pods "b" is forbidden: exceeded quota: compute, requested: requests\.cpu=2, used: requests\.cpu=1, limited: requests\.cpu=2/,
  );

  const noReq = await cluster.kubectl(['run', 'c', '-n', 'q1', '--image=busybox']);
  assert.notEqual(noReq.code, 0);
  assert.match(
    noReq.stderr,
    /pods "c" is forbidden: failed quota: compute: must specify requests\.cpu for: c; requests\.memory for: c/,
  );

  const described = await cluster.k(['describe', 'quota', 'compute', '-n', 'q1']);
  assert.match(described, /Resource\s+Used\s+Hard/);
  assert.match(described, /requests\.cpu\s+1\s+2/);
  assert.match(described, /requests\.memory\s+256Mi\s+1Gi/);
  assert.match(described, /pods\s+1\s+3/);

  // Deleting the pod releases its usage (replenishment).
  await cluster.k(['delete', 'pod', 'a', '-n', 'q1', '--grace-period=0', '--force', '--wait=false']);
  await quotaSynced('q1', 'compute', { 'requests.cpu': '0', pods: '0' });
});

test('concurrent creates cannot overshoot a quota', async () => {
  await cluster.k(['create', 'namespace', 'q2']);
  await cluster.k(['create', 'quota', 'counts', '-n', 'q2', '--hard=secrets=3']);
  await quotaSynced('q2', 'counts', { secrets: '0' });
  const results = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      cluster.kubectl(['create', 'secret', 'generic', `s${i}`, '-n', 'q2', '--from-literal=a=b']),
    ),
  );
  const ok = results.filter((r) => r.code === 0).length;
  assert.equal(ok, 3, results.map((r) => r.stderr).join('\n'));
  for (const r of results.filter((x) => x.code !== 0))
    assert.match(r.stderr, /exceeded quota: counts, requested: secrets=1, used: secrets=3, limited: secrets=3/);
  await quotaSynced('q2', 'counts', { secrets: '3' });
});

test('object count quota on a group resource', async () => {
  await cluster.k(['create', 'namespace', 'q3']);
  await cluster.k(['create', 'quota', 'deploys', '-n', 'q3', '--hard=count/deployments.apps=1']);
  await quotaSynced('q3', 'deploys', { 'count/deployments.apps': '0' });
  await cluster.k(['create', 'deployment', 'd1', '-n', 'q3', '--image=busybox', '--replicas=0']);
  const r = await cluster.kubectl(['create', 'deployment', 'd2', '-n', 'q3', '--image=busybox', '--replicas=0']);
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /deployments\.apps "d2" is forbidden: exceeded quota: deploys, requested: count\/deployments\.apps=1, used: count\/deployments\.apps=1, limited: count\/deployments\.apps=1/,
  );
});

test('LimitRange defaults and min/max', async () => {
  await cluster.k(['create', 'namespace', 'lr']);
  await cluster.k(
    ['apply', '-f', '-'],
    `
apiVersion: v1
kind: LimitRange
metadata: {name: limits, namespace: lr}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 128Mi}
    defaultRequest: {cpu: 250m, memory: 64Mi}
    max: {cpu: "1"}
    min: {cpu: 100m}
`,
  );
  await cluster.k(['run', 'p', '-n', 'lr', '--image=busybox']);
  const p = JSON.parse(await cluster.k(['get', 'pod', 'p', '-n', 'lr', '-o', 'json']));
  assert.deepEqual(p.spec.containers[0].resources, {
    limits: { cpu: '500m', memory: '128Mi' },
    requests: { cpu: '250m', memory: '64Mi' },
  });
  assert.equal(
    p.metadata.annotations['kubernetes.io/limit-ranger'],
    'LimitRanger plugin set: cpu, memory request for container p; cpu, memory limit for container p',
  );

  const over = await cluster.kubectl(['apply', '-f', '-'], { input: pod('x', 'lr', '{limits: {cpu: "2"}}') });
  assert.notEqual(over.code, 0);
  assert.match(over.stderr, /pods "x" is forbidden: maximum cpu usage per Container is 1, but limit is 2/);
  const under = await cluster.kubectl(['apply', '-f', '-'], { input: pod('small', 'lr', '{requests: {cpu: 50m}}') });
  assert.notEqual(under.code, 0);
  assert.match(under.stderr, /pods "small" is forbidden: minimum cpu usage per Container is 100m, but request is 50m/);
});

test('namespace lifecycle still applies', async () => {
  const r = await cluster.kubectl(['create', 'configmap', 'x', '-n', 'does-not-exist']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /namespaces "does-not-exist" not found/);
});
