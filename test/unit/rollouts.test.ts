// The Rollout controller's decisions (src/rollouts/plan.ts) played against a small model of the
// cluster: ReplicaSets take the size the plan asks for at once, and their pods become available
// only for the versions the test calls healthy. Checked against Argo Rollouts' documented flow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canaryReplicas,
  newReplicaSet,
  pauseSeconds,
  planRollout,
  weightAtStep,
  type ReplicaSetView,
  type RolloutPlan,
} from '../../src/rollouts/plan.js';
import {
  canaryIngress,
  contourProxies,
  gatewayRoutes,
  weightedProxy,
  weightedRoute,
} from '../../src/rollouts/routers.js';
import { checkUrls, jobResult } from '../../src/rollouts/analysis.js';
import { invalidSpec } from '../../src/rollouts/controller.js';
import { promotePatches, statusLine } from '../../src/cli/rollout.js';
import { POD_HASH_LABEL, type AnalysisRunStatus, type Rollout, type RolloutSpec } from '../../src/rollouts/types.js';
import {
  assessRun,
  evaluateResult,
  jsonPath,
  recordMeasurement,
  resolveMetrics,
  type AnalysisRun,
  type Metric,
} from '../../src/rollouts/analysisrun.js';
import { evalCondition } from '../../src/rollouts/expr.js';

const T0 = Date.UTC(2026, 0, 1);

class World {
  rss = new Map<string, ReplicaSetView>();
  services = new Map<string, string>();
  healthy = new Set<string>();
  restarts = 0;
  now = T0;
  events: string[] = [];
  analysis?: { name: string; status: 'Successful' | 'Failed' | 'Running' };
  /** AnalysisRuns by name: created Running by the plan, finished by the test. */
  runs = new Map<string, AnalysisRunStatus>();
  last!: RolloutPlan;

  constructor(public ro: Rollout) {}

  /** One reconcile of version `hash`, applied to the model. */
  sync(hash: string): RolloutPlan {
    const plan = planRollout({
      rollout: this.ro,
      hash,
      replicaSets: [...this.rss.values()].map((r) => ({ ...r })),
      activeSelector: this.services.get('active'),
      newPodRestarts: this.restarts,
      analysis: this.analysis,
      runs: new Map(this.runs),
      now: this.now,
    });
    this.ro = { ...this.ro, status: plan.status };
    for (const r of plan.createRuns) this.runs.set(r.name, { name: r.name, status: 'Running' });
    if (plan.createReplicaSet) {
      const revision = Math.max(0, ...[...this.rss.values()].map((r) => r.revision)) + 1;
      this.rss.set(hash, { name: `ro-${hash}`, hash, replicas: 0, current: 0, ready: 0, available: 0, revision });
    }
    for (const [h, want] of plan.scale) {
      const rs = this.rss.get(h);
      if (!rs) continue;
      rs.replicas = want.replicas;
      if (want.deadline !== undefined) rs.scaleDownDeadline = want.deadline ?? undefined;
    }
    for (const [svc, h] of plan.services) this.services.set(svc, h);
    this.events.push(...plan.events.map((e) => e.reason));
    this.last = plan;
    return plan;
  }

  /** Pods catch up with their ReplicaSets (healthy versions become available). */
  settle(): void {
    for (const rs of this.rss.values()) {
      rs.current = rs.replicas;
      rs.ready = rs.available = this.healthy.has(rs.hash) ? rs.replicas : 0;
    }
  }

  /** Reconcile and settle until nothing changes (or n rounds). */
  run(hash: string, n = 6): void {
    for (let i = 0; i < n; i++) {
      this.sync(hash);
      this.settle();
    }
  }

  size(hash: string): number {
    return this.rss.get(hash)?.replicas ?? -1;
  }
}

const blueGreen = (
  extra: Partial<NonNullable<RolloutSpec['strategy']['blueGreen']>> = {},
  spec: Partial<RolloutSpec> = {},
): Rollout => ({
  metadata: { name: 'ro', namespace: 'default', uid: 'u1', generation: 1 },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'a' }] } },
    strategy: { blueGreen: { activeService: 'active', previewService: 'preview', ...extra } },
    ...spec,
  },
});

const canary = (steps: NonNullable<RolloutSpec['strategy']['canary']>['steps'], extra = {}): Rollout => ({
  metadata: { name: 'ro', namespace: 'default', uid: 'u1', generation: 1 },
  spec: {
    replicas: 5,
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'a' }] } },
    strategy: { canary: { steps, ...extra } },
  },
});

/** A world where version `v1` is deployed and healthy. */
function deployed(ro: Rollout): World {
  const w = new World(ro);
  w.healthy.add('v1');
  w.run('v1');
  assert.equal(w.ro.status?.stableRS, 'v1');
  assert.equal(w.ro.status?.phase, 'Healthy');
  return w;
}

test('blue/green: the first version gets every replica and the active Service at once', () => {
  const w = new World(blueGreen());
  const plan = w.sync('v1');
  assert.deepEqual(plan.createReplicaSet, { replicas: 0 });
  w.sync('v1');
  assert.equal(w.size('v1'), 3);
  assert.equal(w.services.get('active'), 'v1');
  assert.equal(w.ro.status?.phase, 'Progressing');
  w.healthy.add('v1');
  w.settle();
  w.run('v1');
  assert.equal(w.ro.status?.phase, 'Healthy');
  assert.equal(w.ro.status?.blueGreen?.activeSelector, 'v1');
  assert.equal(w.ro.status?.currentPodHash, 'v1');
});

test('blue/green: the active Service switches only once the new pods are available', () => {
  const w = deployed(blueGreen({ scaleDownDelaySeconds: 30 }));
  w.run('v2', 3); // v2's pods exist but are not ready
  assert.equal(w.size('v2'), 3);
  assert.equal(w.services.get('preview'), 'v2');
  assert.equal(w.services.get('active'), 'v1', 'active stays on the old version while the new one is not ready');
  assert.equal(w.ro.status?.phase, 'Progressing');
  w.healthy.add('v2');
  w.settle();
  w.sync('v2');
  assert.equal(w.services.get('active'), 'v2');
  assert.equal(w.ro.status?.stableRS, 'v2');
  assert.ok(w.events.includes('SwitchService'));
  // The old version stays up for scaleDownDelaySeconds, then goes.
  w.settle();
  w.sync('v2');
  assert.equal(w.size('v1'), 3);
  assert.ok(w.rss.get('v1')?.scaleDownDeadline);
  w.now += 31_000;
  w.run('v2', 2);
  assert.equal(w.size('v1'), 0);
  assert.equal(w.ro.status?.phase, 'Healthy');
});

test('blue/green: autoPromotionEnabled false pauses before the switch until promoted', () => {
  const w = deployed(blueGreen({ autoPromotionEnabled: false }));
  w.healthy.add('v2');
  w.run('v2');
  assert.equal(w.services.get('active'), 'v1');
  assert.equal(w.ro.status?.phase, 'Paused');
  assert.equal(w.ro.status?.pauseConditions?.[0]?.reason, 'BlueGreenPause');
  assert.equal(w.ro.status?.controllerPause, true);
  // `k8ts rollout promote`: pauseConditions cleared.
  const p = promotePatches(w.ro, false);
  assert.deepEqual(p.status, { status: { pauseConditions: null } });
  w.ro = { ...w.ro, status: { ...w.ro.status, pauseConditions: undefined } };
  w.run('v2', 2);
  assert.equal(w.services.get('active'), 'v2');
  assert.equal(w.ro.status?.stableRS, 'v2');
});

test('blue/green: autoPromotionSeconds promotes by itself after the pause', () => {
  const w = deployed(blueGreen({ autoPromotionSeconds: 20 }));
  w.healthy.add('v2');
  w.run('v2');
  assert.equal(w.ro.status?.phase, 'Paused');
  assert.ok((w.last.requeueAfterMs ?? 0) <= 20_000);
  w.now += 21_000;
  w.run('v2', 2);
  assert.equal(w.services.get('active'), 'v2');
});

test('blue/green: a version whose pods never become ready is aborted at the progress deadline', () => {
  const w = deployed(blueGreen({}, { progressDeadlineSeconds: 20 }));
  w.run('v2', 3);
  assert.equal(w.ro.status?.phase, 'Progressing');
  w.now += 10_000;
  w.run('v2', 2);
  assert.equal(w.ro.status?.abort, undefined, 'not before the deadline');
  w.now += 11_000;
  w.run('v2', 2);
  assert.equal(w.ro.status?.abort, true);
  assert.equal(w.ro.status?.phase, 'Degraded');
  assert.match(w.ro.status?.message ?? '', /RolloutAborted/);
  assert.equal(w.services.get('active'), 'v1');
  assert.equal(w.services.get('preview'), 'v1');
  assert.equal(w.size('v2'), 0);
  assert.equal(w.size('v1'), 3);
  assert.ok(w.events.includes('RolloutAborted'));
  // A new template clears the abort and starts again.
  w.healthy.add('v3');
  w.run('v3');
  assert.equal(w.ro.status?.abort, undefined);
  assert.equal(w.services.get('active'), 'v3');
});

test('blue/green: repeated restarts abort at once; retry starts again', () => {
  const w = deployed(blueGreen());
  w.run('v2', 2);
  w.restarts = 3;
  w.run('v2', 2);
  assert.equal(w.ro.status?.phase, 'Degraded');
  assert.equal(w.size('v2'), 0);
  // `k8ts rollout retry`: abort false; the clock restarts.
  w.restarts = 0;
  w.ro = { ...w.ro, status: { ...w.ro.status, abort: false } };
  w.run('v2', 2);
  assert.equal(w.size('v2'), 3);
  assert.equal(w.ro.status?.phase, 'Progressing');
  w.healthy.add('v2');
  w.run('v2');
  assert.equal(w.services.get('active'), 'v2');
  assert.equal(w.ro.status?.phase, 'Healthy');
});

test('blue/green: a failed pre-promotion check aborts; a successful one promotes', () => {
  const w = deployed(blueGreen({ prePromotionAnalysis: { http: { path: '/healthz', port: 8080 } } }));
  w.healthy.add('v2');
  w.run('v2', 2);
  assert.equal(w.last.runAnalysis, true);
  assert.equal(w.services.get('active'), 'v1');
  w.analysis = { name: 'ro-v2-pre', status: 'Failed' };
  w.run('v2', 2);
  assert.equal(w.ro.status?.phase, 'Degraded');
  assert.equal(w.services.get('active'), 'v1');
  w.analysis = { name: 'ro-v3-pre', status: 'Successful' };
  w.healthy.add('v3');
  w.run('v3');
  assert.equal(w.services.get('active'), 'v3');
  assert.equal(w.ro.status?.blueGreen?.prePromotionAnalysisRunStatus?.status, 'Successful');
});

test('a manual abort sends traffic back to stable and marks the Rollout Degraded', () => {
  const w = deployed(blueGreen({ autoPromotionEnabled: false }));
  w.healthy.add('v2');
  w.run('v2');
  w.ro = { ...w.ro, status: { ...w.ro.status, abort: true } };
  w.run('v2', 2);
  assert.equal(w.ro.status?.phase, 'Degraded');
  assert.equal(w.services.get('preview'), 'v1');
  assert.equal(w.size('v2'), 0);
  assert.deepEqual(w.ro.status?.pauseConditions, undefined);
});

test('canary without traffic routing: replica ratio per step, pauses, promotion', () => {
  const w = deployed(canary([{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }, { pause: { duration: '10s' } }]));
  w.healthy.add('v2');
  w.sync('v2');
  w.sync('v2');
  assert.equal(w.size('v2'), 1, '20% of 5 replicas');
  assert.equal(w.size('v1'), 5, 'the stable side keeps its pods until the canary is available');
  w.settle();
  w.run('v2', 3);
  assert.equal(w.size('v1'), 4);
  assert.equal(w.ro.status?.currentStepIndex, 1);
  assert.equal(w.ro.status?.phase, 'Paused');
  assert.equal(w.ro.status?.pauseConditions?.[0]?.reason, 'CanaryPauseStep');
  // promote: the pause condition cleared.
  w.ro = { ...w.ro, status: { ...w.ro.status, pauseConditions: undefined } };
  w.run('v2', 4);
  assert.equal(w.size('v2'), 3);
  assert.equal(w.size('v1'), 2);
  assert.equal(w.ro.status?.currentStepIndex, 3);
  assert.equal(w.ro.status?.phase, 'Paused');
  w.now += 11_000;
  w.run('v2', 4);
  assert.equal(w.ro.status?.stableRS, 'v2');
  assert.equal(w.size('v2'), 5);
  assert.equal(w.size('v1'), 0);
  assert.equal(w.ro.status?.phase, 'Healthy');
  assert.ok(w.events.includes('RolloutStepCompleted'));
});

test('canary with traffic routing: stable keeps every replica, the weight goes to the routers', () => {
  const routing = { plugins: { 'argoproj-labs/gatewayAPI': { httpRoute: 'web' } } };
  const w = deployed(
    canary([{ setWeight: 20 }, { pause: {} }], {
      canaryService: 'web-canary',
      stableService: 'web-stable',
      trafficRouting: routing,
    }),
  );
  w.healthy.add('v2');
  w.run('v2');
  assert.equal(w.size('v2'), 1);
  assert.equal(w.size('v1'), 5);
  assert.equal(w.last.canaryWeight, 20);
  assert.equal(w.services.get('web-canary'), 'v2');
  assert.equal(w.services.get('web-stable'), 'v1');
  assert.deepEqual(w.ro.status?.canary?.weights, {
    canary: { weight: 20, serviceName: 'web-canary', podTemplateHash: 'v2' },
    stable: { weight: 80, serviceName: 'web-stable', podTemplateHash: 'v1' },
  });
  assert.equal(statusLine(w.ro), 'Paused - CanaryPauseStep, step 1/2, canary weight 20, 6/5 available, 1 updated');
  // A promote past the last step: full weight, then the new version becomes stable.
  assert.deepEqual(promotePatches(w.ro, false).status, { status: { pauseConditions: null } });
  w.ro = { ...w.ro, status: { ...w.ro.status, pauseConditions: undefined } };
  w.run('v2');
  assert.equal(w.ro.status?.stableRS, 'v2');
  assert.equal(w.last.canaryWeight, 0);
  assert.equal(w.services.get('web-stable'), 'v2');
  assert.equal(w.size('v1'), 5, 'kept for scaleDownDelaySeconds');
  w.now += 31_000;
  w.run('v2', 2);
  assert.equal(w.size('v1'), 0);
});

test('canary: a crash-looping canary is aborted and the stable side restored', () => {
  const w = deployed(canary([{ setWeight: 40 }, { pause: {} }]));
  w.run('v2', 2);
  assert.equal(w.size('v2'), 2);
  w.restarts = 5;
  w.run('v2', 2);
  assert.equal(w.ro.status?.phase, 'Degraded');
  assert.equal(w.size('v2'), 0);
  assert.equal(w.size('v1'), 5);
});

test('step arithmetic and durations', () => {
  assert.equal(canaryReplicas(5, 20), 1);
  assert.equal(canaryReplicas(10, 25), 3);
  assert.equal(canaryReplicas(3, 1), 1);
  assert.equal(canaryReplicas(3, 100), 3);
  const steps = [{ setWeight: 20 }, {}, { setWeight: 50 }];
  assert.equal(weightAtStep(steps, 0), 20);
  assert.equal(weightAtStep(steps, 1), 20);
  assert.equal(weightAtStep(steps, 2), 50);
  assert.equal(weightAtStep(steps, 3), 100);
  assert.equal(weightAtStep([{}], 0), 0);
  assert.equal(pauseSeconds(30), 30);
  assert.equal(pauseSeconds('45'), 45);
  assert.equal(pauseSeconds('1m30s'), 90);
  assert.equal(pauseSeconds('1h'), 3600);
  assert.equal(pauseSeconds('soon'), undefined);
  assert.equal(pauseSeconds(undefined), undefined);
});

test('ReplicaSets carry the hash label in labels, selector and template, and are owned by the Rollout', () => {
  const ro = blueGreen();
  const rs = newReplicaSet(ro, ro.spec.template!, 'abc12', 4);
  assert.equal(rs.metadata?.name, 'ro-abc12');
  assert.equal(rs.spec?.selector.matchLabels?.[POD_HASH_LABEL], 'abc12');
  assert.equal(rs.spec?.template?.metadata?.labels?.[POD_HASH_LABEL], 'abc12');
  assert.equal(rs.metadata?.annotations?.['rollout.argoproj.io/revision'], '4');
  assert.deepEqual(rs.metadata?.ownerReferences?.[0], {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    name: 'ro',
    uid: 'u1',
    controller: true,
    blockOwnerDeletion: true,
  });
  assert.equal(ro.spec.template?.metadata?.labels?.[POD_HASH_LABEL], undefined, 'the Rollout is not changed');
});

test('invalid specs are named as Argo names them', () => {
  const ro = blueGreen();
  assert.equal(invalidSpec(ro, ro.spec.template, ro.spec.selector), undefined);
  assert.match(
    invalidSpec({ ...ro, spec: { ...ro.spec, strategy: {} } }, ro.spec.template, ro.spec.selector)!,
    /missing field/,
  );
  assert.match(invalidSpec(ro, ro.spec.template, {})!, /selecting all pods/);
  assert.match(invalidSpec(ro, ro.spec.template, { matchLabels: { app: 'other' } })!, /does not match/);
});

test('Gateway API routes: weights on the canary and stable backendRefs', () => {
  const route = {
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      rules: [
        {
          backendRefs: [
            { name: 'web-stable', port: 80 },
            { name: 'web-canary', port: 80, weight: 0 },
            { name: 'other', port: 80 },
          ],
        },
      ],
    },
  };
  const next = weightedRoute(route, 'web-canary', 'web-stable', 20);
  assert.deepEqual(next?.spec?.rules?.[0].backendRefs, [
    { name: 'web-stable', port: 80, weight: 80 },
    { name: 'web-canary', port: 80, weight: 20 },
    { name: 'other', port: 80 },
  ]);
  assert.equal(weightedRoute(next, 'web-canary', 'web-stable', 20), undefined, 'unchanged: no write');
  const ro = canary([], {
    trafficRouting: {
      plugins: { 'argoproj-labs/gatewayAPI': { httpRoutes: [{ name: 'a' }, { name: 'b' }], namespace: 'gw' } },
    },
  });
  assert.deepEqual(gatewayRoutes(ro), [
    { name: 'a', namespace: 'gw' },
    { name: 'b', namespace: 'gw' },
  ]);
});

test("Contour HTTPProxy (argoproj-labs/contour plugin config): weights on the routes' services", () => {
  const proxy = {
    metadata: { name: 'web', namespace: 'shop' },
    spec: {
      virtualhost: { fqdn: 'web.example.com' },
      routes: [
        {
          conditions: [{ prefix: '/' }],
          services: [
            { name: 'web-stable', port: 80 },
            { name: 'web-canary', port: 80, weight: 0 },
            { name: 'web-canary', port: 80, mirror: true },
          ],
        },
        { conditions: [{ prefix: '/static' }], services: [{ name: 'assets', port: 80 }] },
      ],
    },
  };
  const next = weightedProxy(proxy, 'web-canary', 'web-stable', 20);
  assert.deepEqual(next?.spec?.routes?.[0].services, [
    { name: 'web-stable', port: 80, weight: 80 },
    { name: 'web-canary', port: 80, weight: 20 },
    { name: 'web-canary', port: 80, mirror: true },
  ]);
  assert.deepEqual(next?.spec?.routes?.[1], proxy.spec.routes[1], 'other services untouched');
  assert.equal(proxy.spec.routes[0].services[1].weight, 0, 'the input is not modified');
  assert.equal(weightedProxy(next, 'web-canary', 'web-stable', 20), undefined, 'unchanged: no write');
  assert.deepEqual(weightedProxy(next, 'web-canary', 'web-stable', 100)?.spec?.routes?.[0].services?.slice(0, 2), [
    { name: 'web-stable', port: 80, weight: 0 },
    { name: 'web-canary', port: 80, weight: 100 },
  ]);
  const named = (plugins: NonNullable<NonNullable<RolloutSpec['strategy']['canary']>['trafficRouting']>['plugins']) =>
    contourProxies(canary([], { trafficRouting: { plugins } }));
  assert.deepEqual(named({ 'argoproj-labs/contour': { httpProxy: 'web', namespace: 'shop' } }), [
    { name: 'web', namespace: 'shop' },
  ]);
  assert.deepEqual(named({ 'argoproj-labs/contour': { httpProxy: 'web' } }), [{ name: 'web', namespace: 'default' }]);
  assert.deepEqual(named({ 'argoproj-labs/gatewayAPI': { httpRoute: 'web' } }), []);
});

test('NGINX-style ingress: a canary Ingress with the canary weight annotations', () => {
  const ro = canary([], {
    canaryService: 'web-canary',
    stableService: 'web-stable',
    trafficRouting: { nginx: { stableIngress: 'web' } },
  });
  const stable = {
    metadata: { name: 'web', namespace: 'default', annotations: { 'kubernetes.io/ingress.class': 'k8ts' } },
    spec: {
      rules: [
        {
          host: 'x.test',
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend: { service: { name: 'web-stable', port: { number: 80 } } } },
            ],
          },
        },
      ],
    },
  };
  const ing = canaryIngress(ro, stable, 30);
  assert.equal(ing.metadata?.name, 'ro-web-canary');
  assert.equal(ing.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary'], 'true');
  assert.equal(ing.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary-weight'], '30');
  assert.equal(ing.metadata?.annotations?.['kubernetes.io/ingress.class'], 'k8ts');
  assert.equal(ing.spec?.rules?.[0].http?.paths[0].backend.service?.name, 'web-canary');
  assert.equal(
    stable.spec.rules[0].http.paths[0].backend.service.name,
    'web-stable',
    'the stable Ingress is not changed',
  );
});

test('pre-promotion checks: URLs per ready pod, Job outcomes', () => {
  assert.deepEqual(checkUrls({ http: { path: 'healthz', port: 8080 } }, ['10.1.0.5', 'fd00::5']), [
    'http://10.1.0.5:8080/healthz',
    'http://[fd00::5]:8080/healthz',
  ]);
  assert.deepEqual(checkUrls({ http: { url: 'http://x/' } }, ['10.1.0.5']), ['http://x/']);
  assert.equal(jobResult(undefined, 'j').status, 'Running');
  assert.equal(jobResult({ status: { conditions: [{ type: 'Complete', status: 'True' }] } }, 'j').status, 'Successful');
  assert.equal(jobResult({ status: { conditions: [{ type: 'Failed', status: 'True' }] } }, 'j').status, 'Failed');
});

test('promote --full and promote of a canary without a pause condition', () => {
  const ro = canary([{ setWeight: 20 }, { setWeight: 40 }]);
  ro.status = { currentPodHash: 'v2', stableRS: 'v1', currentStepIndex: 0 };
  assert.deepEqual(promotePatches(ro, false), {
    spec: undefined,
    status: { status: { pauseConditions: null, currentStepIndex: 1 } },
  });
  assert.deepEqual(promotePatches(ro, true), { spec: undefined, status: { status: { promoteFull: true } } });
  ro.spec.paused = true;
  assert.deepEqual(promotePatches(ro, true).spec, { spec: { paused: false } });
});

test('analysis conditions: the expr subset Argo metrics use', () => {
  assert.equal(evalCondition('result[0] >= 0.95', [0.97]), true);
  assert.equal(evalCondition('result == "ok" || result.status == "ok"', { status: 'ok' }), true);
  assert.equal(evalCondition('result.ok == true and len(result.items) > 1', { ok: true, items: [1, 2] }), true);
  assert.equal(evalCondition('asInt(result) > 5', '7'), true);
  assert.equal(evalCondition('isNaN(result) || result < 0.1', NaN), true);
  assert.equal(evalCondition('all(result, {# > 0}) && !any(result, {# > 10})', [1, 2, 3]), true);
  assert.equal(evalCondition("'a' in result ? result['a'] * 2 == 4 : false", { a: 2 }), true);
  assert.equal(evalCondition('-result + 3 == 1 && 7 % 4 == 3 && (1 + 2) * 3 == 9', 2), true);
  assert.throws(() => evalCondition('result + 1', 1), /expected bool/);
  assert.throws(() => evalCondition('result[3] > 0', [1]), /index out of range/);
  assert.throws(() => evalCondition('result >', 1), /unexpected end/);
});

test('analysis: a measurement is judged as Argo judges it (success and failure conditions)', () => {
  const m = (x: Partial<Metric>): Metric => ({ name: 'm', provider: {}, ...x });
  assert.equal(evaluateResult(1, m({})), 'Successful');
  assert.equal(evaluateResult(1, m({ successCondition: 'result > 2' })), 'Failed');
  assert.equal(evaluateResult(1, m({ failureCondition: 'result > 2' })), 'Successful');
  const both = m({ successCondition: 'result > 5', failureCondition: 'result < 1' });
  assert.equal(evaluateResult(3, both), 'Inconclusive');
  assert.equal(evaluateResult(0, both), 'Failed');
  assert.equal(evaluateResult(6, both), 'Successful');
  assert.equal(jsonPath({ data: { rate: [0.5, 0.99] } }, '{$.data.rate[1]}'), 0.99);
  assert.deepEqual(jsonPath({ a: 1 }, undefined), { a: 1 });
  assert.throws(() => jsonPath({ a: 1 }, '{$.b}'), /no such field/);
  const resolved = resolveMetrics(
    [m({ provider: { web: { url: 'http://x/{{ args.svc }}/{{args.svc}}' } } })],
    [{ name: 'svc', value: 'web' }],
  );
  assert.equal(resolved[0].provider.web?.url, 'http://x/web/web');
  assert.throws(() => resolveMetrics([m({ successCondition: '{{args.nope}}' })], []), /args\.nope/);
});

test('analysis: count, interval, failureLimit, inconclusive and consecutive errors make the phases', () => {
  const run = (
    metric: Partial<Metric>,
    phases: ('Successful' | 'Failed' | 'Error' | 'Inconclusive')[],
    terminate = false,
  ) => {
    const r: AnalysisRun = {
      metadata: { name: 'r' },
      spec: { metrics: [{ name: 'm', provider: {}, ...metric }], terminate },
      status: { metricResults: [{ name: 'm', phase: 'Running' }] },
    };
    for (const p of phases) recordMeasurement(r.status!.metricResults![0], { phase: p });
    return { ...assessRun(r), result: r.status!.metricResults![0], summary: r.status!.runSummary };
  };
  assert.equal(run({}, []).phase, 'Running');
  assert.equal(run({}, ['Successful']).phase, 'Successful', 'no interval: one measurement');
  assert.equal(run({ interval: '5s', count: 3 }, ['Successful', 'Successful']).phase, 'Running');
  assert.equal(run({ interval: '5s', count: 3 }, ['Successful', 'Failed', 'Successful']).phase, 'Failed');
  const limited = run({ interval: '5s', count: 3, failureLimit: 1 }, ['Successful', 'Failed', 'Successful']);
  assert.equal(limited.phase, 'Successful');
  assert.deepEqual([limited.result.count, limited.result.successful, limited.result.failed], [3, 2, 1]);
  const failed = run({ interval: '5s', count: 5, failureLimit: 1 }, ['Failed', 'Failed']);
  assert.equal(failed.phase, 'Failed');
  assert.equal(failed.message, 'Metric "m" assessed Failed due to failed (2) > failureLimit (1)');
  assert.deepEqual(failed.summary, { count: 1, successful: 0, failed: 1, inconclusive: 0, error: 0 });
  assert.equal(run({ count: 2, interval: '1s' }, ['Inconclusive']).phase, 'Inconclusive');
  assert.equal(run({ count: 9, interval: '1s' }, ['Error', 'Error', 'Error', 'Error']).phase, 'Running');
  const errors = run({ count: 9, interval: '1s' }, ['Error', 'Error', 'Error', 'Error', 'Error']);
  assert.equal(errors.phase, 'Error');
  assert.equal(errors.result.consecutiveError, 5);
  // Background analysis: no count, measured until terminated, then Successful.
  assert.equal(run({ interval: '1s' }, ['Successful', 'Successful']).phase, 'Running');
  const ended = run({ interval: '1s' }, ['Successful'], true);
  assert.equal(ended.phase, 'Successful');
  assert.equal(ended.message, 'Run Terminated');
});

const templates = (name: string) => ({ templates: [{ templateName: name }] });

test('canary analysis step: waits for its AnalysisRun, goes on when Successful, aborts when Failed', () => {
  const ro = canary([{ setWeight: 20 }, { analysis: templates('ok') }, { setWeight: 60 }, { pause: {} }]);
  const w = deployed(ro);
  w.healthy.add('v2');
  w.run('v2');
  assert.equal(w.ro.status?.currentStepIndex, 1);
  assert.deepEqual([...w.runs.keys()], ['ro-v2-2-1']);
  assert.deepEqual(w.ro.status?.canary?.currentStepAnalysisRunStatus, { name: 'ro-v2-2-1', status: 'Running' });
  assert.equal(w.size('v2'), 1);
  w.runs.set('ro-v2-2-1', { name: 'ro-v2-2-1', status: 'Successful' });
  w.run('v2');
  assert.equal(w.ro.status?.currentStepIndex, 3);
  assert.equal(w.size('v2'), 3);
  assert.ok(!w.last.keepRuns.has('ro-v2-2-1'));

  const bad = deployed(ro);
  bad.healthy.add('v2');
  bad.run('v2');
  bad.runs.set('ro-v2-2-1', { name: 'ro-v2-2-1', status: 'Failed', message: 'Metric "m" assessed Failed' });
  bad.run('v2', 3);
  assert.equal(bad.ro.status?.abort, true);
  assert.equal(bad.ro.status?.phase, 'Degraded');
  assert.match(bad.ro.status?.message ?? '', /analysis run ro-v2-2-1 Failed: Metric "m" assessed Failed/);
  assert.equal(bad.size('v2'), 0);
  assert.equal(bad.size('v1'), 5);
});

test('canary background analysis runs during the update, is let go at the end, and a failure aborts', () => {
  const ro = canary([{ setWeight: 20 }, { pause: {} }], { analysis: { ...templates('bg'), startingStep: 1 } });
  const w = deployed(ro);
  w.healthy.add('v2');
  w.run('v2');
  assert.equal(w.ro.status?.phase, 'Paused');
  assert.deepEqual([...w.runs.keys()], ['ro-v2-2']);
  assert.ok(w.last.keepRuns.has('ro-v2-2'));
  w.ro = { ...w.ro, status: { ...w.ro.status, pauseConditions: undefined } };
  w.run('v2');
  assert.equal(w.ro.status?.stableRS, 'v2');
  assert.ok(!w.last.keepRuns.has('ro-v2-2'), 'the finished update no longer wants its background run');

  const bad = deployed(ro);
  bad.healthy.add('v2');
  bad.run('v2');
  bad.runs.set('ro-v2-2', {
    name: 'ro-v2-2',
    status: 'Error',
    message: 'consecutiveErrors (5) > consecutiveErrorLimit (4)',
  });
  bad.run('v2', 2);
  assert.equal(bad.ro.status?.abort, true);
  assert.equal(bad.ro.status?.canary?.currentBackgroundAnalysisRunStatus?.status, 'Error');
});

test('blue/green pre- and post-promotion analysis: the switch waits for pre, stable waits for post, a failed post switches back', () => {
  const ro = blueGreen({ prePromotionAnalysis: templates('pre'), postPromotionAnalysis: templates('post') });
  const w = deployed(ro);
  w.healthy.add('v2');
  w.run('v2');
  assert.equal(w.services.get('active'), 'v1');
  assert.deepEqual([...w.runs.keys()], ['ro-v2-2-pre']);
  w.runs.set('ro-v2-2-pre', { name: 'ro-v2-2-pre', status: 'Successful' });
  w.run('v2');
  assert.equal(w.services.get('active'), 'v2', 'switched after the pre-promotion analysis');
  assert.equal(w.ro.status?.stableRS, 'v1', 'not stable before the post-promotion analysis');
  assert.ok(w.runs.has('ro-v2-2-post'));
  const failed = structuredClone(w);
  w.runs.set('ro-v2-2-post', { name: 'ro-v2-2-post', status: 'Successful' });
  w.run('v2');
  assert.equal(w.ro.status?.stableRS, 'v2');
  assert.equal(w.ro.status?.phase, 'Healthy');

  Object.setPrototypeOf(failed, World.prototype);
  failed.runs.set('ro-v2-2-post', { name: 'ro-v2-2-post', status: 'Failed' });
  failed.run('v2', 3);
  assert.equal(failed.ro.status?.abort, true);
  assert.equal(failed.services.get('active'), 'v1', 'back on the old version');
  assert.equal(failed.size('v1'), 3);
  assert.equal(failed.ro.status?.blueGreen?.postPromotionAnalysisRunStatus?.status, 'Failed');
});

test('an Inconclusive step analysis pauses the canary until promoted', () => {
  const w = deployed(canary([{ setWeight: 20 }, { analysis: templates('x') }]));
  w.healthy.add('v2');
  w.run('v2');
  w.runs.set('ro-v2-2-1', { name: 'ro-v2-2-1', status: 'Inconclusive' });
  w.run('v2');
  assert.equal(w.ro.status?.phase, 'Paused');
  assert.equal(w.ro.status?.pauseConditions?.[0]?.reason, 'InconclusiveAnalysisRun');
  w.ro = { ...w.ro, status: { ...w.ro.status, pauseConditions: undefined } };
  w.run('v2');
  assert.equal(w.ro.status?.stableRS, 'v2');
});
