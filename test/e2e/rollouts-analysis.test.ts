// Argo Rollouts' analysis, end to end on simulated nodes (no containers): an AnalysisTemplate with
// a web metric (against an HTTP server in this test, args substituted into its URL, count and
// interval, successCondition over a JSON path) and a job metric (a Job that completes) run as an
// AnalysisRun from a canary `analysis` step; a good verdict lets the update finish, a bad one
// fails the run (Argo's phase, message and metricResults) and aborts the Rollout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startCluster, until, type Cluster } from './harness.js';
import type { Rollout } from '../../src/rollouts/types.js';
import type { AnalysisRun } from '../../src/rollouts/analysisrun.js';

let c: Cluster;
let server: Server;
let port = 0;
const asked: string[] = [];

type Stored = Rollout & { metadata: { generation: number }; status: NonNullable<Rollout['status']> };
const rollout = async () => JSON.parse(await c.k(['get', 'rollout', 'shop', '-o', 'json'])) as Stored;
const run = async (name: string) => JSON.parse(await c.k(['get', 'analysisrun', name, '-o', 'json'])) as AnalysisRun;
const diag = async () => (await c.kubectl(['get', 'rollouts,analysisruns,rs,jobs', '-o', 'wide'])).stdout;

async function waitPhase(phase: string): Promise<Stored> {
  return until(
    `rollout ${phase}`,
    async () => {
      const ro = await rollout();
      return ro.status?.observedGeneration === String(ro.metadata.generation) && ro.status.phase === phase && ro;
    },
    { timeoutMs: 120_000, stepMs: 500, diag },
  );
}

const apply = (...objs: object[]) =>
  c.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));

const shop = (version: string, verdict: string): Rollout => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Rollout',
  metadata: { name: 'shop' },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'shop' } },
    template: {
      metadata: { labels: { app: 'shop' } },
      spec: { containers: [{ name: 'web', image: 'example/shop', env: [{ name: 'VERSION', value: version }] }] },
    },
    strategy: {
      canary: {
        steps: [
          { setWeight: 50 },
          {
            analysis: {
              templates: [{ templateName: 'health' }],
              args: [
                { name: 'verdict', value: verdict },
                { name: 'hash', valueFrom: { podTemplateHashValue: 'Latest' } },
              ],
            },
          },
        ],
      },
    },
  },
});

before(async () => {
  server = createServer((req, res) => {
    asked.push(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: { healthy: req.url?.startsWith('/good/') ?? false, rate: 0.99 } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  c = await startCluster({ args: ['--simulated-nodes', '1', '--sim-job-seconds', '0.5'] });
  await until('the analysis kinds are served', async () => (await c.kubectl(['get', 'analysisruns'])).code === 0, {
    timeoutMs: 60_000,
    stepMs: 500,
  });
});

after(async () => {
  if (c) await c.cleanup();
  server?.close();
});

test(
  'a canary analysis step: a Successful AnalysisRun lets the update finish, a Failed one aborts it',
  { timeout: 300_000 },
  async () => {
    await apply(
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'AnalysisTemplate',
        metadata: { name: 'health' },
        spec: {
          args: [{ name: 'verdict' }, { name: 'hash' }],
          metrics: [
            {
              name: 'web',
              count: 2,
              interval: '1s',
              successCondition: 'result == true',
              provider: {
                web: { url: `http://127.0.0.1:${port}/{{args.verdict}}/{{args.hash}}`, jsonPath: '{$.status.healthy}' },
              },
            },
            {
              name: 'smoke',
              provider: {
                job: {
                  spec: {
                    backoffLimit: 0,
                    template: {
                      spec: { restartPolicy: 'Never', containers: [{ name: 'smoke', image: 'example/smoke' }] },
                    },
                  },
                },
              },
            },
          ],
        },
      },
      shop('v1', 'good'),
    );
    await waitPhase('Healthy');

    await apply(shop('v2', 'good'));
    const v2 = await until(
      'the update to v2 completes',
      async () => {
        const ro = await rollout();
        return (
          ro.status.phase === 'Healthy' &&
          ro.status.stableRS === ro.status.currentPodHash &&
          ro.status.currentPodHash !== undefined &&
          ro
        );
      },
      { timeoutMs: 120_000, stepMs: 500, diag },
    );
    const hash = v2.status.currentPodHash!;
    const name = `shop-${hash}-2-1`;
    assert.deepEqual(v2.status.canary?.currentStepAnalysisRunStatus, { name, status: 'Successful' });
    const good = await run(name);
    assert.equal(good.status?.phase, 'Successful');
    assert.equal(good.metadata.labels?.['rollout-type'], 'Step');
    const web = good.status?.metricResults?.find((r) => r.name === 'web');
    assert.equal(web?.phase, 'Successful');
    assert.deepEqual([web?.count, web?.successful, web?.measurements?.[0]?.value], [2, 2, 'true']);
    assert.ok(asked.includes(`/good/${hash}`), `args substituted: ${asked.join(' ')}`);
    const smoke = good.status?.metricResults?.find((r) => r.name === 'smoke');
    assert.equal(smoke?.phase, 'Successful');
    assert.equal(
      await c.k([
        'get',
        'job',
        smoke?.measurements?.[0]?.metadata?.['job-name'] ?? '',
        '-o',
        'jsonpath={.status.succeeded}',
      ]),
      '1',
    );
    assert.match(await c.k(['get', 'analysisrun', name]), new RegExp(`${name}\\s+Successful`));

    // v3 gets a bad verdict: the run fails at its first measurement and the update is aborted.
    await apply(shop('v3', 'bad'));
    const aborted = await waitPhase('Degraded');
    const bad = await run(aborted.status.canary!.currentStepAnalysisRunStatus!.name);
    assert.equal(bad.status?.phase, 'Failed');
    assert.equal(bad.status?.message, 'Metric "web" assessed Failed due to failed (1) > failureLimit (0)');
    assert.equal(aborted.status.abort, true);
    assert.match(aborted.status.message ?? '', /RolloutAborted: .*analysis run shop-.*-3-1 Failed/);
    assert.equal(aborted.status.stableRS, hash, 'the stable version stays');
    await until(
      'the canary scaled away',
      async () =>
        (await c.k(['get', 'rs', `shop-${aborted.status.currentPodHash}`, '-o', 'jsonpath={.spec.replicas}'])) === '0',
      { timeoutMs: 30_000, stepMs: 500, diag },
    );
    const events = await c.k(['get', 'events', '--field-selector', 'involvedObject.kind=AnalysisRun']);
    assert.match(events, /AnalysisRunFailed/);
  },
);
