// Ingress route change → live, with many HTTPProxies present (npm run bench:routes):
// a k8ts server (no agent; its ingress on free ports) with ROUTES_PROXIES root HTTPProxies
// (default 1,000) plus as many Ingresses (ROUTES_INGRESSES), all sending to one Service whose
// EndpointSlice points at an HTTP server in this process. Then ROUTES_CHANGES times: one new
// HTTPProxy is created through the API and the ingress is polled (every 2 ms) until its host
// answers 200; the time from the create request to that answer is the route change → live
// delay (watch delivery, debounce, compile of every proxy, table build, swap). Also reports how
// long a full rebuild takes by timing the first answer after all objects were created.
// ROUTES_KIND=ingress creates Ingresses instead of HTTPProxies as the changes: with NGINX in front
// (the default data plane) each is a native host, so every change renders and reloads NGINX (the
// JS proxy serves the host behind NGINX's default server until the reload is done).
// ROUTES_DATA_PLANE=builtin|nginx picks the server's --ingress-data-plane.
import { createServer } from 'node:http';
import { networkInterfaces } from 'node:os';
import { request } from 'node:http';
import { Agent } from 'node:http';
import { pct, pick } from './common.js';
import { freePort } from '../test/support/ports.js';

const PROXIES = pick('ROUTES_PROXIES', 1000, 200);
const INGRESSES = pick('ROUTES_INGRESSES', 1000, 200);
const CHANGES = pick('ROUTES_CHANGES', 100, 30);
const KIND = process.env.ROUTES_KIND === 'ingress' ? 'ingress' : 'httpproxy';
/** --ingress-data-plane of the server (default: k8ts' default, NGINX when installed). */
const DATA_PLANE = process.env.ROUTES_DATA_PLANE;

/** A non-loopback IPv4 address of this host (endpoints may not be loopback addresses). */
function hostAddress(): string {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  throw new Error('no non-loopback IPv4 address');
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });
function status(port: number, host: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

const proxy = (name: string) => ({
  apiVersion: 'projectcontour.io/v1',
  kind: 'HTTPProxy',
  metadata: { namespace: 'bench', name },
  spec: { virtualhost: { fqdn: `${name}.bench.example` }, routes: [{ services: [{ name: 'backend', port: 80 }] }] },
});

const ingress = (name: string) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { namespace: 'bench', name },
  spec: {
    rules: [
      {
        host: `${name}.ing.bench.example`,
        http: {
          paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'backend', port: { number: 80 } } } }],
        },
      },
    ],
  },
});

async function main(): Promise<void> {
  const { startCluster, until } = await import('../test/e2e/harness.js');
  const { rawClient } = await import('../test/e2e/rawclient.js');
  const address = hostAddress();
  const backend = createServer((_req, res) => res.end('ok\n'));
  await new Promise<void>((r) => backend.listen(0, address, r));
  const backendPort = (backend.address() as { port: number }).port;
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const c = await startCluster({
    nodeArgs: process.env.ROUTES_SERVER_NODE_ARGS?.split(' ').filter(Boolean),
    args: [
      '--ingress-http-port',
      String(httpPort),
      '--ingress-https-port',
      String(httpsPort),
      '--ingress-bind-address',
      '127.0.0.1',
      ...(DATA_PLANE ? ['--ingress-data-plane', DATA_PLANE] : []),
    ],
  });
  try {
    const api = rawClient(c.kubeconfig);
    const create = async (path: string, obj: unknown) => {
      const r = await api.json('POST', path, obj);
      if (r.status >= 300) throw new Error(`POST ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    };
    await create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });
    await create('/api/v1/namespaces/bench/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'backend' },
      spec: { ports: [{ name: 'http', port: 80, targetPort: backendPort }] },
    });
    await create('/apis/discovery.k8s.io/v1/namespaces/bench/endpointslices', {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'backend-1', labels: { 'kubernetes.io/service-name': 'backend' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [address], conditions: { ready: true } }],
      ports: [{ name: 'http', port: backendPort, protocol: 'TCP' }],
    });
    await until(
      'the HTTPProxy CRD is served',
      async () => (await api.json('GET', '/apis/projectcontour.io/v1/httpproxies')).status === 200,
      60_000,
    );
    const proxies = '/apis/projectcontour.io/v1/namespaces/bench/httpproxies';
    const t0 = Date.now();
    const parallel = async (n: number, make: (i: number) => Promise<void>) => {
      for (let i = 0; i < n; i += 20)
        await Promise.all(Array.from({ length: Math.min(20, n - i) }, (_, j) => make(i + j)));
    };
    await parallel(PROXIES, (i) => create(proxies, proxy(`p-${i}`)));
    await parallel(INGRESSES, (i) =>
      create('/apis/networking.k8s.io/v1/namespaces/bench/ingresses', ingress(`i-${i}`)),
    );
    const created = Date.now() - t0;
    await until(
      'every route is live',
      async () => (await status(httpPort, `p-${PROXIES - 1}.bench.example`)) === 200,
      120_000,
    );
    await until(
      'every Ingress is live',
      async () => (await status(httpPort, `i-${INGRESSES - 1}.ing.bench.example`)) === 200,
      120_000,
    );
    const allLive = Date.now() - t0;
    await until(
      'statuses written',
      async () => {
        const r = await api.json('GET', `${proxies}/p-${PROXIES - 1}`);
        return (r.body as { status?: { currentStatus?: string } }).status?.currentStatus === 'valid';
      },
      120_000,
    );
    const delays: number[] = [];
    const posts: number[] = [];
    const afterPost: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const name = `change-${i}`;
      const start = process.hrtime.bigint();
      if (KIND === 'ingress') await create('/apis/networking.k8s.io/v1/namespaces/bench/ingresses', ingress(name));
      else await create(proxies, proxy(name));
      posts.push(Number(process.hrtime.bigint() - start) / 1e6);
      const host = KIND === 'ingress' ? `${name}.ing.bench.example` : `${name}.bench.example`;
      while ((await status(httpPort, host)) !== 200) await new Promise((r) => setTimeout(r, 2));
      delays.push(Number(process.hrtime.bigint() - start) / 1e6);
      afterPost.push(delays[delays.length - 1] - posts[posts.length - 1]);
    }
    delays.sort((a, b) => a - b);
    posts.sort((a, b) => a - b);
    afterPost.sort((a, b) => a - b);
    const f = (n: number) => n.toFixed(1);
    console.log(
      JSON.stringify({
        proxies: PROXIES,
        ingresses: INGRESSES,
        kind: KIND,
        dataPlane: DATA_PLANE ?? 'default',
        createdMs: created,
        allLiveMs: allLive,
        changes: CHANGES,
        p50Ms: f(pct(delays, 0.5)),
        p90Ms: f(pct(delays, 0.9)),
        p99Ms: f(pct(delays, 0.99)),
        maxMs: f(delays[delays.length - 1]),
        // The API request alone (stored and answered), part of every delay above.
        createP50Ms: f(pct(posts, 0.5)),
        createP99Ms: f(pct(posts, 0.99)),
        // From the API's answer to the first 200: watch delivery, compile, swap (the ingress's part).
        liveAfterCreateP50Ms: f(pct(afterPost, 0.5)),
        liveAfterCreateP99Ms: f(pct(afterPost, 0.99)),
      }),
    );
  } finally {
    agent.destroy();
    backend.close();
    await c.cleanup();
  }
}

await main();
