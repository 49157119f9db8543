import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  resourceReplicas,
  plainMetricReplicas,
  defaultTolerances,
  type PodMetricsInfo,
} from '../../src/controllers/podautoscaler/replicas.js';
import {
  ScalingState,
  convertDesiredReplicasWithRules,
  scaleUpLimit,
  scaleDownLimit,
  DEFAULT_SCALE_UP,
} from '../../src/controllers/podautoscaler/behavior.js';

const long = new Date(Date.now() - 10 * 60_000).toISOString();
const pod = (name: string, cpu = '100m', extra: any = {}) => ({
  metadata: { name },
  spec: { containers: [{ name: 'c', resources: { requests: { cpu } } }] },
  status: {
    phase: 'Running',
    startTime: long,
    conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: long }],
    ...extra,
  },
});
const metrics = (m: Record<string, number>): PodMetricsInfo =>
  new Map(Object.entries(m).map(([k, v]) => [k, { value: v, timestamp: Date.now(), windowMs: 30_000 }]));

test('utilization ratio scales replicas, within tolerance keeps them', () => {
  const pods = [pod('a'), pod('b')];
  const up = resourceReplicas(2, 50, 'cpu', defaultTolerances(), pods, metrics({ a: 100, b: 100 }));
  assert.deepEqual(up, { replicas: 4, utilization: 100, rawUtilization: 100 });
  assert.equal(resourceReplicas(2, 50, 'cpu', defaultTolerances(), pods, metrics({ a: 54, b: 54 })).replicas, 2);
  assert.equal(resourceReplicas(2, 50, 'cpu', defaultTolerances(), pods, metrics({ a: 10, b: 10 })).replicas, 1);
});

test('missing metrics count as 100% on scale-down, unready pods 0% on scale-up', () => {
  // Scale down with a missing pod: it is assumed at 100% of its request.
  const pods = [pod('a'), pod('b'), pod('c')];
  const r = resourceReplicas(3, 50, 'cpu', defaultTolerances(), pods, metrics({ a: 10, b: 10 }));
  // (10 + 10 + 100) / 300 = 40% -> ratio 0.8 -> ceil(0.8 * 3) = 3
  assert.equal(r.replicas, 3);
  // Scale up with an unready pod: counted at 0.
  const withPending = [pod('a'), pod('b'), pod('p', '100m', { phase: 'Pending' })];
  const u = resourceReplicas(3, 50, 'cpu', defaultTolerances(), withPending, metrics({ a: 200, b: 200 }));
  // (200 + 200 + 0) / 300 = 133% -> ratio 2.66 -> ceil(2.66 * 3) = 8
  assert.equal(u.replicas, 8);
  assert.throws(
    () =>
      resourceReplicas(
        1,
        50,
        'cpu',
        defaultTolerances(),
        [pod('x', undefined as any)].map((p) => ({ ...p, spec: { containers: [{ name: 'c' }] } })),
        metrics({ x: 1 }),
      ),
    /missing request for cpu in container c of Pod x/,
  );
});

test('average value targets', () => {
  const pods = [pod('a'), pod('b')];
  assert.deepEqual(plainMetricReplicas(2, 100, 'memory', defaultTolerances(), pods, metrics({ a: 300, b: 100 })), {
    replicas: 4,
    usage: 200,
  });
});

test('legacy rules: scale-up limit and min/max', () => {
  assert.deepEqual(convertDesiredReplicasWithRules(1, 10, 1, 20).replicas, 4);
  assert.equal(convertDesiredReplicasWithRules(1, 10, 1, 20).reason, 'ScaleUpLimit');
  assert.equal(convertDesiredReplicasWithRules(5, 30, 1, 8).reason, 'TooManyReplicas');
  assert.equal(convertDesiredReplicasWithRules(5, 0, 2, 8).replicas, 2);
});

test('policies: Pods and Percent over their period, selectPolicy', () => {
  const now = Date.now();
  const rules = { ...DEFAULT_SCALE_UP };
  assert.equal(scaleUpLimit(2, [], [], rules, now), 6); // max(2+4, 2*2)
  assert.equal(scaleUpLimit(10, [], [], rules, now), 20);
  assert.equal(scaleUpLimit(10, [], [], { ...rules, selectPolicy: 'Min' }, now), 14);
  assert.equal(scaleUpLimit(10, [], [], { ...rules, selectPolicy: 'Disabled' }, now), 10);
  // 3 replicas added 5 s ago count against a 15 s period.
  assert.equal(
    scaleUpLimit(
      6,
      [{ change: 3, at: now - 5000, outdated: false }],
      [],
      { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }] },
      now,
    ),
    7,
  );
  assert.equal(
    scaleDownLimit(
      10,
      [],
      [],
      {
        stabilizationWindowSeconds: 0,
        selectPolicy: 'Max',
        policies: [
          { type: 'Percent', value: 50, periodSeconds: 60 },
          { type: 'Pods', value: 2, periodSeconds: 60 },
        ],
      },
      now,
    ),
    5,
  );
});

test('stabilization windows', () => {
  let t = 1_000_000;
  const s = new ScalingState(300_000, () => t);
  const down = {
    stabilizationWindowSeconds: 60,
    policies: [{ type: 'Percent' as const, value: 100, periodSeconds: 15 }],
  };
  const up = { stabilizationWindowSeconds: 0 };
  // A new HPA starts with its current size in the window: no immediate scale-down.
  let o = s.normalizeWithBehaviors('k', 5, 2, 1, 10, up, down);
  assert.equal(o.replicas, 5);
  assert.equal(o.ableToScale.reason, 'ScaleDownStabilized');
  t += 61_000;
  o = s.normalizeWithBehaviors('k', 5, 2, 1, 10, up, down);
  assert.equal(o.replicas, 2);
  // Scale-up is immediate (window 0) but limited by the default policies.
  o = s.normalizeWithBehaviors('k', 2, 20, 1, 30, up, down);
  assert.equal(o.replicas, 6);
  assert.deepEqual([o.scalingLimited.status, o.scalingLimited.reason], ['True', 'ScaleUpLimit']);
  // Without behavior, the downscale window keeps the highest recent recommendation.
  const legacy = new ScalingState(300_000, () => t);
  assert.equal(legacy.normalize('x', 4, 4, 1, 10).replicas, 4);
  t += 10_000;
  const l = legacy.normalize('x', 4, 1, 1, 10);
  assert.equal(l.replicas, 4);
  assert.equal(l.ableToScale.reason, 'ScaleDownStabilized');
});
