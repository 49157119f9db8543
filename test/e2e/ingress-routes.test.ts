// HTTPProxy and Gateway API through the built-in ingress, with real containers: the Contour
// seed (a root in root-ns delegating /blog to team-a and /shop to team-b; team-b's attempt to
// claim the same fqdn is invalid while the site keeps serving; an orphan), weighted services,
// a Gateway with an HTTPRoute splitting 50/50 and rewriting the path, and a cross-namespace
// backendRef refused until a ReferenceGrant allows it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  ingressFlags,
  importTestImages,
  realContainersUnavailable,
  run,
  startCluster,
  until,
  type Cluster,
  waitForReadyNode,
} from './harness.js';
import { freePort } from '../support/ports.js';

const skip = realContainersUnavailable();
let c: Cluster;
let httpPort = 0;
let httpsPort = 0;

// A new connection per request: NGINX closes idle keep-alive connections when it reloads, and a
// request sent on one at that moment is reset (browsers retry such requests; node's http does not).
function get(host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: httpPort, path, headers: { host }, agent: false, timeout: 10_000 },
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

/** An httpd answering its name at /, /blog/, /shop/ and `new-<name>` at /new/. */
function web(namespace: string, name: string) {
  const pages = ['', 'blog', 'shop'].map((d) => `mkdir -p /www/${d}; echo ${name} > /www/${d}/index.html; `).join('');
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { namespace, name },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: 'web',
                image: 'k8ts.local/httpd:1.35',
                ports: [{ containerPort: 8080 }],
                command: [
                  'sh',
                  '-c',
                  `${pages}mkdir -p /www/new; echo new-${name} > /www/new/index.html; ` +
                    `trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait`,
                ],
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace, name },
      spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    },
  ];
}

const proxy = (namespace: string, name: string, spec: object) => ({
  apiVersion: 'projectcontour.io/v1',
  kind: 'HTTPProxy',
  metadata: { namespace, name },
  spec,
});

const apply = (...objs: object[]) =>
  c.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));

interface Cond {
  type: string;
  status: string;
  reason: string;
}

async function status<T>(resource: string, namespace: string, name: string): Promise<T> {
  return (
    (JSON.parse(await c.k(['get', resource, '-n', namespace, name, '-o', 'json'])) as { status?: T }).status ??
    ({} as T)
  );
}

const proxyStatus = (ns: string, name: string) =>
  status<{ currentStatus?: string; description?: string; conditions?: Cond[] }>('httpproxy', ns, name);

/** Shares of bodies over n requests. */
async function spread(host: string, path: string, n: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await get(host, path);
    const k = r.status === 200 ? r.body : String(r.status);
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  return seen;
}

before(async () => {
  if (skip) return;
  httpPort = await freePort();
  httpsPort = await freePort();
  c = await startCluster({
    agent: true,
    args: ingressFlags(httpPort, httpsPort),
  });
  await waitForReadyNode(c);
  await importTestImages(c, ['httpd']);
  for (const ns of ['root-ns', 'team-a', 'team-b', 'team-c', 'app']) await c.k(['create', 'namespace', ns]);
  await apply(
    ...web('root-ns', 'home'),
    ...web('team-a', 'blog'),
    ...web('team-b', 'shop'),
    ...web('app', 'v1'),
    ...web('app', 'v2'),
  );
  for (const [ns, d] of [
    ['root-ns', 'home'],
    ['team-a', 'blog'],
    ['team-b', 'shop'],
    ['app', 'v1'],
    ['app', 'v2'],
  ])
    await c.k(['rollout', 'status', '-n', ns, `deploy/${d}`, '--timeout=180s']);
  // The CRDs are installed by the server's ingress controller.
  await until(
    'the HTTPProxy CRD is served',
    async () => (await c.kubectl(['get', 'httpproxies', '-A'])).code === 0,
    60_000,
  );
});

after(async () => {
  if (c) await c.cleanup();
});

test(
  'the Contour seed: delegation across teams, a duplicate root refused, an orphan',
  { skip, timeout: 120_000 },
  async () => {
    await apply(
      proxy('root-ns', 'site', {
        virtualhost: { fqdn: 'site.example.com' },
        routes: [{ services: [{ name: 'home', port: 80 }] }],
        includes: [
          { name: 'blog', namespace: 'team-a', conditions: [{ prefix: '/blog' }] },
          { name: 'shop', namespace: 'team-b', conditions: [{ prefix: '/shop' }] },
        ],
      }),
      proxy('team-a', 'blog', { routes: [{ services: [{ name: 'blog', port: 80 }] }] }),
      proxy('team-b', 'shop', { routes: [{ services: [{ name: 'shop', port: 80 }] }] }),
      proxy('team-c', 'lost', { routes: [{ services: [{ name: 'lost', port: 80 }] }] }),
    );
    await until(
      'the site serves through the root',
      async () => (await get('site.example.com', '/shop/')).body === 'shop',
      30_000,
    );
    assert.deepEqual(await get('site.example.com', '/'), { status: 200, body: 'home' });
    assert.deepEqual(await get('site.example.com', '/blog/'), { status: 200, body: 'blog' });
    await until(
      'statuses written',
      async () => (await proxyStatus('team-c', 'lost')).currentStatus === 'orphaned',
      30_000,
    );
    for (const [ns, name] of [
      ['root-ns', 'site'],
      ['team-a', 'blog'],
      ['team-b', 'shop'],
    ]) {
      const s = await proxyStatus(ns, name);
      assert.deepEqual([s.currentStatus, s.description], ['valid', 'Valid HTTPProxy'], `${ns}/${name}`);
      assert.deepEqual(
        s.conditions?.map((x) => [x.type, x.status, x.reason]),
        [['Valid', 'True', 'Valid']],
      );
    }
    const lost = await proxyStatus('team-c', 'lost');
    assert.equal(lost.description, 'this HTTPProxy is not part of a delegation chain from a root HTTPProxy');
    assert.deepEqual(
      lost.conditions?.map((x) => [x.type, x.status]),
      [['Valid', 'False']],
    );

    // team-b claims the same fqdn as a root: refused, and the site keeps serving.
    await apply(
      proxy('team-b', 'steal', {
        virtualhost: { fqdn: 'site.example.com' },
        routes: [{ services: [{ name: 'shop', port: 80 }] }],
      }),
    );
    await until(
      'the newcomer is invalid',
      async () => (await proxyStatus('team-b', 'steal')).currentStatus === 'invalid',
      30_000,
    );
    assert.equal(
      (await proxyStatus('team-b', 'steal')).description,
      'fqdn "site.example.com" is used in multiple HTTPProxies: root-ns/site, team-b/steal',
    );
    assert.equal((await proxyStatus('root-ns', 'site')).currentStatus, 'valid');
    const after = await spread('site.example.com', '/', 20);
    assert.deepEqual(Object.fromEntries(after), { home: 20 });
    assert.equal((await get('site.example.com', '/blog/')).body, 'blog');
    const kubectlView = await c.k(['get', 'httpproxy', '-n', 'team-b', 'steal']);
    assert.match(
      kubectlView,
      /steal\s+site\.example\.com\s+<none>\s+invalid\s+fqdn "site\.example\.com" is used in multiple HTTPProxies/,
    );
  },
);

test('weighted services (canary 80/20) on an HTTPProxy route', { skip, timeout: 120_000 }, async () => {
  await apply(
    proxy('app', 'weights', {
      virtualhost: { fqdn: 'weights.example.com' },
      routes: [
        {
          services: [
            { name: 'v1', port: 80, weight: 80 },
            { name: 'v2', port: 80, weight: 20 },
          ],
        },
      ],
    }),
  );
  await until('weights serves', async () => (await get('weights.example.com', '/')).status === 200, 30_000);
  const seen = await spread('weights.example.com', '/', 1000);
  const v2 = seen.get('v2') ?? 0;
  assert.equal((seen.get('v1') ?? 0) + v2, 1000, JSON.stringify(Object.fromEntries(seen)));
  assert.ok(v2 >= 150 && v2 <= 250, `v2 answered ${v2} of 1000`);
});

test('a Gateway with an HTTPRoute splitting 50/50 and rewriting the path', { skip, timeout: 120_000 }, async () => {
  const cls = await status<{ conditions?: Cond[] }>('gatewayclass', 'default', 'k8ts');
  assert.equal(cls.conditions?.find((x) => x.type === 'Accepted')?.status, 'True');
  await apply(
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { namespace: 'app', name: 'gw' },
      spec: {
        gatewayClassName: 'k8ts',
        listeners: [{ name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } }],
      },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { namespace: 'app', name: 'split' },
      spec: {
        parentRefs: [{ name: 'gw' }],
        hostnames: ['gw.example.com'],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/old' } }],
            filters: [
              { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' } } },
            ],
            backendRefs: [
              { name: 'v1', port: 80, weight: 50 },
              { name: 'v2', port: 80, weight: 50 },
            ],
          },
        ],
      },
    },
  );
  await until('the route serves', async () => (await get('gw.example.com', '/old/')).status === 200, 30_000);
  const seen = await spread('gw.example.com', '/old/', 400);
  const v1 = seen.get('new-v1') ?? 0;
  assert.equal(v1 + (seen.get('new-v2') ?? 0), 400, JSON.stringify(Object.fromEntries(seen)));
  assert.ok(v1 >= 160 && v1 <= 240, `v1 answered ${v1} of 400`);
  assert.equal((await get('gw.example.com', '/other/')).status, 404);
  await until(
    'status written',
    async () => (await status<{ parents?: unknown[] }>('httproute', 'app', 'split')).parents?.length === 1,
    30_000,
  );
  const rs = await status<{ parents: { controllerName: string; conditions: Cond[] }[] }>('httproute', 'app', 'split');
  assert.equal(rs.parents[0].controllerName, 'k8ts.io/gateway-controller');
  assert.deepEqual(
    rs.parents[0].conditions.map((x) => [x.type, x.status, x.reason]),
    [
      ['Accepted', 'True', 'Accepted'],
      ['ResolvedRefs', 'True', 'ResolvedRefs'],
    ],
  );
  const gs = await status<{
    addresses?: { value: string }[];
    conditions?: Cond[];
    listeners?: { attachedRoutes: number }[];
  }>('gateway', 'app', 'gw');
  assert.deepEqual(
    gs.conditions?.map((x) => [x.type, x.status]),
    [
      ['Accepted', 'True'],
      ['Programmed', 'True'],
    ],
  );
  assert.ok(gs.addresses?.length, 'the Gateway publishes the node address');
  assert.equal(gs.listeners?.[0].attachedRoutes, 1);
});

test(
  'a cross-namespace backendRef is refused until a ReferenceGrant allows it',
  { skip, timeout: 120_000 },
  async () => {
    await apply({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { namespace: 'app', name: 'cross' },
      spec: {
        parentRefs: [{ name: 'gw' }],
        hostnames: ['cross.example.com'],
        rules: [{ backendRefs: [{ name: 'blog', namespace: 'team-a', port: 80 }] }],
      },
    });
    const resolved = async () =>
      (await status<{ parents?: { conditions: Cond[] }[] }>('httproute', 'app', 'cross')).parents?.[0]?.conditions.find(
        (x) => x.type === 'ResolvedRefs',
      );
    await until('refused', async () => (await resolved())?.reason === 'RefNotPermitted', 30_000);
    assert.equal((await get('cross.example.com', '/')).status, 500);
    await apply({
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { namespace: 'team-a', name: 'from-app' },
      spec: {
        from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'app' }],
        to: [{ group: '', kind: 'Service' }],
      },
    });
    await until('allowed', async () => (await get('cross.example.com', '/')).body === 'blog', 30_000);
    await until('resolved', async () => (await resolved())?.status === 'True', 30_000);
  },
);

test(
  'a TLS vhost with a Secret from another namespace needs a TLSCertificateDelegation',
  { skip, timeout: 120_000 },
  async () => {
    const crt = join(c.dataDir, 'secure.crt');
    const key = join(c.dataDir, 'secure.key');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        crt,
        '-days',
        '2',
        '-subj',
        '/CN=secure.example.com',
      ].concat(['-addext', 'subjectAltName=DNS:secure.example.com']),
      { stdio: 'ignore' },
    );
    await c.k(['create', 'secret', 'tls', 'wild', '-n', 'team-c', '--cert', crt, '--key', key]);
    await apply(
      proxy('app', 'secure', {
        virtualhost: { fqdn: 'secure.example.com', tls: { secretName: 'team-c/wild' } },
        routes: [{ services: [{ name: 'v1', port: 80 }] }],
      }),
    );
    await until('refused', async () => (await proxyStatus('app', 'secure')).currentStatus === 'invalid', 30_000);
    assert.equal(
      (await proxyStatus('app', 'secure')).description,
      'Spec.VirtualHost.TLS Secret "team-c/wild" certificate delegation not permitted',
    );
    await apply({
      apiVersion: 'projectcontour.io/v1',
      kind: 'TLSCertificateDelegation',
      metadata: { namespace: 'team-c', name: 'wild' },
      spec: { delegations: [{ secretName: 'wild', targetNamespaces: ['app'] }] },
    });
    await until('valid', async () => (await proxyStatus('app', 'secure')).currentStatus === 'valid', 30_000);
    const curl = () =>
      run('curl', [
        '-sS',
        '--max-time',
        '10',
        '--resolve',
        `secure.example.com:${httpsPort}:127.0.0.1`,
        '--cacert',
        crt,
        '-w',
        ' %{http_code}',
        `https://secure.example.com:${httpsPort}/`,
      ]);
    let last = '';
    await until(
      'served over HTTPS with the delegated certificate',
      async () => /^v1\s+200$/.test((last = (await curl()).stdout.trim())),
      30_000,
    ).catch((err: Error) => assert.fail(`${err.message}; last answer: ${last}`));
    // Plain HTTP to a TLS vhost is redirected, as Contour does.
    const plain = await get('secure.example.com', '/');
    assert.equal(plain.status, 308);
  },
);
