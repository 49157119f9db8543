// A canary Rollout whose traffic is split at k8ts' own ingress controller (Gateway API, Argo's
// argoproj-labs/gatewayAPI plugin config): at setWeight 20 the HTTPRoute carries weights 20/80
// and about a fifth of 200 requests through the Gateway reach the canary; after promote all of
// them reach the new version. The process runtime keeps it lean (no containerd, no nft): each
// version listens on a port of its own, which the Services reach by the port's name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import {
  ingressFlags,
  importTestImages,
  run,
  startCluster,
  until,
  K8TS_BIN,
  type Cluster,
  waitForReadyNode,
} from './harness.js';
import { freePort } from '../support/ports.js';
import type { Rollout } from '../../src/rollouts/types.js';

let c: Cluster;
let httpPort = 0;
const tag = Math.random().toString(36).slice(2, 8);

// A new connection per request: NGINX closes idle keep-alive connections when it reloads, and a
// request sent on one at that moment is reset (browsers retry such requests; node's http does not).
function get(path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: httpPort,
        path,
        headers: { host: 'shop.example.com' },
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

const apply = (...objs: object[]) =>
  c.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));

/** Host processes share the host's ports: each version serves its own directory on its own port. */
function rollout(version: string, port: number): Rollout {
  const dir = `/tmp/k8ts-rt-${tag}-${version}`;
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'shop' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'shop' } },
      template: {
        metadata: { labels: { app: 'shop' } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'web',
              image: 'k8ts.local/httpd:1.35',
              command: [
                'sh',
                '-c',
                `mkdir -p ${dir} && echo ${version} > ${dir}/index.html && exec httpd -f -p ${port} -h ${dir}`,
              ],
              ports: [{ name: 'http', containerPort: port }],
              readinessProbe: { httpGet: { path: '/', port }, periodSeconds: 1 },
            },
          ],
        },
      },
      strategy: {
        canary: {
          canaryService: 'shop-canary',
          stableService: 'shop-stable',
          trafficRouting: { plugins: { 'argoproj-labs/gatewayAPI': { httpRoute: 'shop' } } },
          scaleDownDelaySeconds: 2,
          steps: [{ setWeight: 20 }, { pause: {} }],
        },
      },
    },
  };
}

const service = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name },
  spec: { selector: { app: 'shop' }, ports: [{ port: 80, targetPort: 'http' }] },
});

type Stored = Rollout & { metadata: { generation: number }; status: NonNullable<Rollout['status']> };
const status = async () => JSON.parse(await c.k(['get', 'rollout', 'shop', '-o', 'json'])) as Stored;
const diag = async () => (await c.kubectl(['get', 'rollouts,rs,pods,httproute', '-o', 'wide'])).stdout;

async function waitPhase(phase: string): Promise<Stored> {
  return until(
    `rollout ${phase}`,
    async () => {
      const ro = await status();
      return ro.status?.observedGeneration === String(ro.metadata.generation) && ro.status.phase === phase && ro;
    },
    { timeoutMs: 120_000, stepMs: 500, diag },
  );
}

async function spread(n: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await get();
    const k = r.status === 200 ? r.body : String(r.status);
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  return seen;
}

before(async () => {
  httpPort = await freePort();
  const httpsPort = await freePort();
  c = await startCluster({
    agent: true,
    args: ['--runtime', 'process', ...ingressFlags(httpPort, httpsPort)],
  });
  await waitForReadyNode(c);
  await importTestImages(c, ['httpd']);
  await until('the Rollout kind is served', async () => (await c.kubectl(['get', 'rollouts'])).code === 0, 60_000, 500);
  await until(
    'the Gateway kinds are served',
    async () => (await c.kubectl(['get', 'gateways'])).code === 0,
    60_000,
    500,
  );
});

after(async () => {
  if (c) await c.cleanup();
  await run('sh', ['-c', `rm -rf /tmp/k8ts-rt-${tag}-*`]);
});

test(
  'canary at setWeight 20 through a Gateway HTTPRoute: about a fifth of requests reach the canary',
  { timeout: 300_000 },
  async (t) => {
    const [p1, p2] = [await freePort(), await freePort()];
    await apply(
      service('shop-stable'),
      service('shop-canary'),
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'gw' },
        spec: { gatewayClassName: 'k8ts', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
      },
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'shop' },
        spec: {
          parentRefs: [{ name: 'gw' }],
          hostnames: ['shop.example.com'],
          rules: [
            {
              backendRefs: [
                { name: 'shop-stable', port: 80, weight: 100 },
                { name: 'shop-canary', port: 80, weight: 0 },
              ],
            },
          ],
        },
      },
      rollout('v1', p1),
    );
    await waitPhase('Healthy');
    await until('v1 answers through the Gateway', async () => (await get()).body === 'v1', {
      timeoutMs: 60_000,
      stepMs: 500,
      diag,
    });

    await apply(rollout('v2', p2));
    const paused = await waitPhase('Paused');
    assert.equal(paused.status.currentStepIndex, 1);
    assert.equal(paused.status.canary?.weights?.canary.weight, 20);
    const route = JSON.parse(await c.k(['get', 'httproute', 'shop', '-o', 'json'])) as {
      spec: { rules: { backendRefs: { name: string; weight: number }[] }[] };
    };
    assert.deepEqual(
      route.spec.rules[0].backendRefs.map((b) => [b.name, b.weight]),
      [
        ['shop-stable', 80],
        ['shop-canary', 20],
      ],
    );
    // The canary Service selects v2's pod, the stable one v1's: both must be in the proxy's view.
    await until('both versions answer', async () => (await spread(20)).size === 2, {
      timeoutMs: 60_000,
      stepMs: 500,
      diag,
    });
    const seen = await spread(200);
    const v2 = seen.get('v2') ?? 0;
    assert.equal(v2 + (seen.get('v1') ?? 0), 200, JSON.stringify(Object.fromEntries(seen)));
    // Binomial(200, 0.2): mean 40, sd 5.7; the band is about four sd either side.
    assert.ok(v2 >= 17 && v2 <= 63, `the canary answered ${v2} of 200`);
    t.diagnostic(`setWeight 20 through the Gateway: the canary answered ${v2} of 200 requests`);

    const promote = await run(process.execPath, [K8TS_BIN, 'rollout', 'promote', 'shop', '--kubeconfig', c.kubeconfig]);
    assert.equal(promote.code, 0, promote.stderr);
    const done = await waitPhase('Healthy');
    assert.equal(done.status.canary?.weights?.canary.weight, 0);
    await until(
      'only v2 answers',
      async () => {
        const s = await spread(20);
        return s.get('v2') === 20;
      },
      { timeoutMs: 60_000, stepMs: 500, diag },
    );
  },
);
