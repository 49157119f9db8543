// Rollouts with real containers (busybox httpd pods answering their version): a blue/green
// Rollout switches its active Service only once the new pods are Ready; a version whose pods never
// become Ready is aborted by itself at its progress deadline and the active Service never selects
// it; a canary at 20 % answers about a fifth of the requests through its Service; and the
// `k8ts rollout` commands promote and report.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  importTestImages,
  run,
  startCluster,
  until,
  K8TS_BIN,
  type Cluster,
  waitForReadyNode,
  serviceNetworkingUnavailable,
  getOnFreshConnection,
} from './harness.js';
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Rollout } from '../../src/rollouts/types.js';

const skip = serviceNetworkingUnavailable();
let c: Cluster;

const get = getOnFreshConnection;

const json = async <T>(args: string[]): Promise<T> => JSON.parse(await c.k([...args, '-o', 'json'])) as T;
type StoredRollout = Rollout & { metadata: { generation: number }; status: NonNullable<Rollout['status']> };
const rollout = (name: string) => json<StoredRollout>(['get', 'rollout', name]);
const svc = (name: string) => json<Service>(['get', 'svc', name]);
const rs = (name: string) => json<ReplicaSet>(['get', 'rs', name]);
const k8ts = (args: string[]) =>
  run(process.execPath, [K8TS_BIN, ...args, '--kubeconfig', c.kubeconfig], { timeoutMs: 60_000 });

/** A pod template serving `version` on 8080, Ready when `readyPath` answers (404 when it is not /). */
function template(app: string, version: string, readyPath = '/', readyDelay = 0) {
  return {
    metadata: { labels: { app } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'web',
          image: 'k8ts.local/httpd:1.35',
          env: [{ name: 'VERSION', value: version }],
          command: ['sh', '-c', `echo $VERSION > /www/index.html; trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait`],
          ports: [{ containerPort: 8080 }],
          readinessProbe: {
            httpGet: { path: readyPath, port: 8080 },
            initialDelaySeconds: readyDelay,
            periodSeconds: 1,
            failureThreshold: 1,
          },
        },
      ],
    },
  };
}

function service(name: string, app: string) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { selector: { app }, ports: [{ port: 80, targetPort: 8080 }] },
  };
}

async function apply(...objects: object[]): Promise<void> {
  await c.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
}

const diag = async () =>
  (await c.kubectl(['get', 'rollouts,rs,pods,svc', '-o', 'wide'])).stdout +
  (await c.kubectl(['get', 'rollouts', '-o', 'jsonpath={.items[*].status}'])).stdout;

async function waitPhase(name: string, phase: string, timeoutMs = 120_000): Promise<StoredRollout> {
  return until(
    `rollout ${name} ${phase}`,
    async () => {
      const ro = await rollout(name);
      const current = ro.status?.observedGeneration === String(ro.metadata.generation);
      return current && ro.status?.phase === phase && ro;
    },
    { timeoutMs, stepMs: 500, diag },
  );
}

const selectorHash = async (name: string): Promise<string | undefined> =>
  (await svc(name)).spec?.selector?.['rollouts-pod-template-hash'];

before(async () => {
  if (skip) return;
  c = await startCluster({ agent: true });
  await waitForReadyNode(c);
  await importTestImages(c, ['httpd']);
  await until('the Rollout kind is served', async () => (await c.kubectl(['get', 'rollouts'])).code === 0, 60_000, 500);
});

after(async () => {
  if (c) await c.cleanup();
});

// Generous deadlines for the good versions (slow pod starts under load are progress too, but a
// start can take long); a short one for the broken version, which never becomes Ready.
const blueGreen = (version: string, readyPath = '/', readyDelay = 0, progressDeadlineSeconds = 180) => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Rollout',
  metadata: { name: 'bg' },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'bg' } },
    progressDeadlineSeconds,
    template: template('bg', version, readyPath, readyDelay),
    strategy: { blueGreen: { activeService: 'bg-active', previewService: 'bg-preview', scaleDownDelaySeconds: 3 } },
  },
});

test(
  'blue/green: the active Service switches only after the new pods are Ready',
  { skip, timeout: 240_000 },
  async () => {
    await apply(service('bg-active', 'bg'), service('bg-preview', 'bg'), blueGreen('v1'));
    const v1 = await waitPhase('bg', 'Healthy');
    const ip = (await svc('bg-active')).spec?.clusterIP;
    assert.equal(await until('v1 answers on the active Service', () => get(`http://${ip}/`), 30_000), 'v1');

    // v2's pods run at once but are Ready only after 6 s: the switch must wait for them.
    await apply(blueGreen('v2', '/', 6));
    const v2hash = await until('the new hash', async () => {
      const h = (await rollout('bg')).status?.currentPodHash;
      return h !== v1.status.currentPodHash && h;
    });
    let sawWindow = false;
    const violations: string[] = []; // until() retries on exceptions: failures are collected instead
    await until(
      'the active Service on v2',
      async () => {
        // Service first, pods second: a switch seen must find every new pod Ready afterwards.
        const active = await selectorHash('bg-active');
        const pods = (await json<{ items: Pod[] }>(['get', 'pods', '-l', `rollouts-pod-template-hash=${v2hash}`]))
          .items;
        const ready = pods.filter((p) =>
          p.status?.conditions?.some((k) => k.type === 'Ready' && k.status === 'True'),
        ).length;
        if (active === v2hash) {
          if (ready < 2) violations.push(`the active Service selected v2 with ${ready}/2 pods Ready`);
          return true;
        }
        if (active !== v1.status.currentPodHash) violations.push(`the active Service selected ${active}`);
        if (pods.length > 0 && ready < 2) sawWindow = true;
        return false;
      },
      { timeoutMs: 120_000, stepMs: 300, diag },
    );
    assert.deepEqual(violations, []);
    assert.ok(sawWindow, 'the new pods were seen running but not Ready while the old version served');
    assert.equal(await selectorHash('bg-preview'), v2hash);
    await until('v2 answers on the active Service', async () => (await get(`http://${ip}/`)) === 'v2', 30_000);
    const done = await waitPhase('bg', 'Healthy');
    assert.equal(done.status.stableRS, v2hash);
    assert.equal(done.status.blueGreen?.activeSelector, v2hash);
    // The old ReplicaSet goes after scaleDownDelaySeconds.
    await until(
      'the v1 ReplicaSet scaled down',
      async () => (await rs(`bg-${v1.status.currentPodHash}`)).spec?.replicas === 0,
      { timeoutMs: 60_000, stepMs: 500, diag },
    );
  },
);

test(
  'blue/green: a version that never becomes Ready is rolled back by itself',
  { skip, timeout: 240_000 },
  async () => {
    const stable = (await rollout('bg')).status.stableRS;
    const ip = (await svc('bg-active')).spec?.clusterIP;
    await apply(blueGreen('v3', '/not-there', 0, 20));
    const v3hash = await until('the new hash', async () => {
      const h = (await rollout('bg')).status?.currentPodHash;
      return h !== stable && h;
    });
    let selectedBroken = false;
    await until(
      'the broken version aborted',
      async () => {
        if ((await selectorHash('bg-active')) === v3hash) selectedBroken = true;
        const ro = await rollout('bg');
        return ro.status?.phase === 'Degraded' && ro;
      },
      { timeoutMs: 150_000, stepMs: 500, diag },
    );
    assert.equal(selectedBroken, false, 'the active Service selected the broken version');
    const ro = await rollout('bg');
    assert.equal(ro.status.abort, true);
    assert.match(ro.status.message ?? '', /RolloutAborted/);
    assert.equal(await selectorHash('bg-active'), stable);
    assert.equal(await selectorHash('bg-preview'), stable, 'the preview Service is back on the stable version');
    await until('the broken ReplicaSet scaled to zero', async () => (await rs(`bg-${v3hash}`)).spec?.replicas === 0);
    assert.equal(await get(`http://${ip}/`), 'v2');
    const events = await c.k([
      'get',
      'events',
      '--field-selector',
      'involvedObject.kind=Rollout,involvedObject.name=bg',
    ]);
    assert.match(events, /RolloutAborted/);
    const status = await k8ts(['rollout', 'status', 'bg']);
    assert.equal(status.code, 1, status.stderr);
    assert.match(status.stdout, /^Degraded - RolloutAborted/);
  },
);

const canary = (version: string) => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Rollout',
  metadata: { name: 'cn' },
  spec: {
    replicas: 5,
    selector: { matchLabels: { app: 'cn' } },
    template: template('cn', version),
    strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } },
  },
});

test('canary at 20 %: about a fifth of the requests reach the new version', { skip, timeout: 240_000 }, async (t) => {
  await apply(service('cn', 'cn'), canary('v1'));
  await waitPhase('cn', 'Healthy');
  await apply(canary('v2'));
  const paused = await waitPhase('cn', 'Paused');
  assert.equal(paused.status.currentStepIndex, 1);
  const ip = (await svc('cn')).spec?.clusterIP;
  // 4 stable pods and 1 canary behind the Service, every one Ready.
  await until(
    'five ready endpoints',
    async () => {
      const slices = (
        await json<{ items: EndpointSlice[] }>(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=cn'])
      ).items;
      return slices.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready).length === 5;
    },
    { timeoutMs: 60_000, stepMs: 500, diag },
  );
  const status = await k8ts(['rollout', 'status', 'cn']);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^Paused - CanaryPauseStep, step 1\/2/);
  const counts = new Map<string, number>();
  for (let i = 0; i < 200; i++) {
    const answer = await until('an answer from the Service', () => get(`http://${ip}/`), 20_000);
    counts.set(answer, (counts.get(answer) ?? 0) + 1);
  }
  const v2 = counts.get('v2') ?? 0;
  assert.equal(v2 + (counts.get('v1') ?? 0), 200, `only v1 and v2 answer: ${JSON.stringify([...counts])}`);
  // 1 pod in 5: 40 expected; the bounds are about four standard deviations out.
  assert.ok(v2 >= 17 && v2 <= 65, `v2 answered ${v2} of 200`);
  t.diagnostic(`canary at 20 %: v2 answered ${v2} of 200 requests`);

  const promote = await k8ts(['rollout', 'promote', 'cn']);
  assert.equal(promote.code, 0, promote.stderr);
  assert.match(promote.stdout, /rollout 'cn' promoted/);
  const watch = await k8ts(['rollout', 'status', 'cn', '--watch', '--timeout', '150s']);
  assert.equal(watch.code, 0, watch.stdout + watch.stderr);
  assert.match(watch.stdout, /Healthy/);
  await until(
    'only v2 answers',
    async () => {
      for (let i = 0; i < 10; i++) if ((await get(`http://${ip}/`)) !== 'v2') return false;
      return true;
    },
    60_000,
  );
});
