// HorizontalPodAutoscaler with the real kubectl against `k8ts server --simulated-nodes`: the
// simulated nodes report the CPU a pod's sim.k8ts.io/cpu-millicores annotation asks for, the
// metrics.k8s.io API serves it, and the HPA scales a Deployment up under that load and back down
// once the load drops and the (short) scale-down stabilization window in its behavior passed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from './harness.js';
import { until } from '../support/until.js';

let cluster: Cluster;

before(async () => {
  process.env.K8TS_HPA_SYNC_PERIOD_MS = '1000';
  cluster = await startCluster({ args: ['--simulated-nodes', '2', '--sim-heartbeat-seconds', '0.5'] });
});
after(async () => {
  await cluster?.cleanup();
});

const getJSON = async (args: string[]) => JSON.parse(await cluster.k([...args, '-o', 'json']));

test('an HPA scales a Deployment up under load and back down after stabilization', { timeout: 120_000 }, async () => {
  await cluster.k(
    ['apply', '-f', '-'],
    `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {sim.k8ts.io/cpu-millicores: "250"}
    spec:
      containers:
      - name: web
        image: nginx
        resources: {requests: {cpu: 100m}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: default}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
      policies: [{type: Pods, value: 4, periodSeconds: 1}]
    scaleDown:
      stabilizationWindowSeconds: 3
      policies: [{type: Percent, value: 100, periodSeconds: 1}]
`,
  );
  // kubectl top sees the synthetic load.
  await until('pod metrics', async () => {
    const r = await cluster.kubectl(['top', 'pods', '-l', 'app=web']);
    return r.code === 0 && /web-\S+\s+250m/.test(r.stdout) ? true : undefined;
  });
  await until('scale up to 5', async () =>
    (await getJSON(['get', 'deploy', 'web'])).spec.replicas === 5 ? true : undefined,
  );
  const events = await cluster.k([
    'get',
    'events',
    '--field-selector',
    'involvedObject.kind=HorizontalPodAutoscaler,reason=SuccessfulRescale',
    '-o',
    'jsonpath={.items[*].message}',
  ]);
  assert.match(events, /New size: 5; reason: cpu resource utilization \(percentage of request\) above target/);
  const hpa = await until('hpa status', async () => {
    const h = await getJSON(['get', 'hpa', 'web']);
    return h.status?.currentReplicas === 5 &&
      h.status?.currentMetrics?.[0]?.resource?.current?.averageUtilization !== undefined
      ? h
      : undefined;
  });
  const cond = (t: string) => hpa.status.conditions.find((c: any) => c.type === t);
  assert.equal(cond('AbleToScale')?.status, 'True');
  assert.equal(cond('ScalingActive')?.status, 'True');
  assert.equal(cond('ScalingActive')?.reason, 'ValidMetricFound');
  assert.ok(hpa.status.lastScaleTime);
  const table = await cluster.k(['get', 'hpa', 'web']);
  assert.match(table, /web\s+Deployment\/web\s+cpu: \d+%\/50%\s+1\s+5\s+5/);

  // The load drops: after the 3 s scale-down window the HPA goes back to minReplicas.
  await until('all pods ready', async () => {
    const pods = (await getJSON(['get', 'pods', '-l', 'app=web'])).items;
    return pods.length === 5 && pods.every((p: any) => p.status?.phase === 'Running') ? true : undefined;
  });
  const dropAt = Date.now();
  await cluster.k(['annotate', 'pods', '-l', 'app=web', 'sim.k8ts.io/cpu-millicores=10', '--overwrite']);
  // Meanwhile the HPA holds the size, saying so in its AbleToScale condition.
  let stabilizedSeen = false;
  await until('scale down to 1', async () => {
    const h = await getJSON(['get', 'hpa', 'web']);
    if (h.status?.conditions?.some((c: any) => c.type === 'AbleToScale' && c.reason === 'ScaleDownStabilized'))
      stabilizedSeen = true;
    return (await getJSON(['get', 'deploy', 'web'])).spec.replicas === 1 ? true : undefined;
  });
  // The window runs from the last high recommendation, made by the last sync before the load
  // dropped, so up to one HPA sync period (1 s here) before it: at least 3 s - 1 s after the drop.
  assert.ok(Date.now() - dropAt >= 2000, 'scaled down before the stabilization window passed');
  assert.ok(stabilizedSeen, 'the HPA never reported ScaleDownStabilized during the window');
  const down = await cluster.k([
    'get',
    'events',
    '--field-selector',
    'involvedObject.kind=HorizontalPodAutoscaler,reason=SuccessfulRescale',
    '-o',
    'jsonpath={.items[*].message}',
  ]);
  assert.match(down, /New size: 1; reason: All metrics below target/);
  const described = await cluster.k(['describe', 'hpa', 'web']);
  assert.match(described, /SuccessfulRescale/);
});

test('an HPA whose target does not exist reports FailedGetScale', async () => {
  await cluster.k(
    ['apply', '-f', '-'],
    `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: ghost, namespace: default}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ghost}
  maxReplicas: 3
`,
  );
  const h = await until('FailedGetScale', async () => {
    const x = await getJSON(['get', 'hpa', 'ghost']);
    return x.status?.conditions?.some((c: any) => c.type === 'AbleToScale' && c.reason === 'FailedGetScale')
      ? x
      : undefined;
  });
  const c = h.status.conditions.find((x: any) => x.type === 'AbleToScale');
  assert.equal(c.status, 'False');
  assert.match(
    c.message,
    /the HPA controller was unable to get the target's current scale: deployments\.apps "ghost" not found/,
  );
});
