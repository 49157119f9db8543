// HTTPProxy delegation (src/ingress/httpproxy.ts) as Contour's DAG builder decides it, and the
// routes it compiles into the shared route table: concatenated prefixes, header conditions,
// weights, rewrites, timeouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compileHttpProxies,
  delegationPermitted,
  joinPrefixes,
  ORPHANED_MESSAGE,
  parseTimeout,
  proxyStatus,
  ROOT_INCLUDES_ROOT_MESSAGE,
  VALID_MESSAGE,
  type HTTPProxy,
  type HttpProxyContext,
  type ProxyInclude,
  type ProxyRoute,
  type TLSCertificateDelegation,
} from '../../src/ingress/httpproxy.js';
import { RouteTable, chooseBackend } from '../../src/ingress/routes.js';
import { buildRouteTable } from '../../src/ingress/routeindex.js';

function proxy(
  ns: string,
  name: string,
  spec: { fqdn?: string; tls?: string; routes?: ProxyRoute[]; includes?: ProxyInclude[] },
  created = '2026-01-01T00:00:00Z',
): HTTPProxy {
  return {
    apiVersion: 'projectcontour.io/v1',
    kind: 'HTTPProxy',
    metadata: { namespace: ns, name, creationTimestamp: created, generation: 1 },
    spec: {
      ...(spec.fqdn
        ? { virtualhost: { fqdn: spec.fqdn, ...(spec.tls ? { tls: { secretName: spec.tls } } : {}) } }
        : {}),
      routes: spec.routes,
      includes: spec.includes,
    },
  };
}

const ctx = (o: Partial<HttpProxyContext> = {}): HttpProxyContext => ({
  rootNamespaces: [],
  delegations: [],
  serviceExists: () => true,
  secretExists: () => true,
  ...o,
});

const svc = (name: string, port = 80, weight?: number) => ({ name, port, ...(weight !== undefined ? { weight } : {}) });

/** The Contour seed: root-ns delegates /blog to team-a and /shop to team-b. */
function seed(): HTTPProxy[] {
  return [
    proxy('root-ns', 'site', {
      fqdn: 'site.example.com',
      routes: [{ services: [svc('home')] }],
      includes: [
        { name: 'blog', namespace: 'team-a', conditions: [{ prefix: '/blog' }] },
        { name: 'shop', namespace: 'team-b', conditions: [{ prefix: '/shop' }] },
      ],
    }),
    proxy('team-a', 'blog', {
      routes: [{ services: [svc('blog')] }, { conditions: [{ prefix: '/admin' }], services: [svc('admin')] }],
    }),
    proxy('team-b', 'shop', { routes: [{ services: [svc('shop')] }] }),
  ];
}

const serviceOf = (t: RouteTable, host: string, url: string, headers: Record<string, string> = {}) => {
  const m = t.match(host, url, { method: 'GET', header: (n) => headers[n] });
  return m && (m.route.directStatus ?? chooseBackend(m.route, () => undefined).service);
};

test('the seed: includes across namespaces, prefixes concatenated, everyone valid', () => {
  const c = compileHttpProxies(seed(), ctx());
  for (const k of ['root-ns/site', 'team-a/blog', 'team-b/shop'])
    assert.deepEqual(c.verdicts.get(k), { currentStatus: 'valid', description: VALID_MESSAGE, errors: [] }, k);
  const t = buildRouteTable([], c);
  assert.equal(serviceOf(t, 'site.example.com', '/'), 'home');
  assert.equal(serviceOf(t, 'site.example.com', '/blog/post/1'), 'blog');
  assert.equal(serviceOf(t, 'site.example.com', '/blog/admin/x'), 'admin');
  assert.equal(serviceOf(t, 'site.example.com', '/shop'), 'shop');
  assert.equal(serviceOf(t, 'other.example.com', '/shop'), undefined);
  // The backend's namespace is the including proxy's, not the root's.
  assert.equal(t.match('site.example.com', '/shop')?.route.backend.namespace, 'team-b');
});

test('a second root for the same fqdn: the newcomer is invalid, the owner keeps serving', () => {
  const thief = proxy(
    'team-b',
    'steal',
    { fqdn: 'Site.example.com', routes: [{ services: [svc('evil')] }] },
    '2026-02-01T00:00:00Z',
  );
  const c = compileHttpProxies([...seed(), thief], ctx());
  const msg = 'fqdn "site.example.com" is used in multiple HTTPProxies: root-ns/site, team-b/steal';
  assert.equal(c.verdicts.get('team-b/steal')?.currentStatus, 'invalid');
  assert.equal(c.verdicts.get('team-b/steal')?.description, msg);
  assert.equal(c.verdicts.get('team-b/steal')?.errors[0].reason, 'DuplicateVhost');
  assert.equal(c.verdicts.get('root-ns/site')?.currentStatus, 'valid');
  assert.equal(serviceOf(buildRouteTable([], c), 'site.example.com', '/'), 'home');
  // Same creationTimestamp: namespace/name decides.
  const tie = proxy('a-first', 'x', { fqdn: 'site.example.com', routes: [{ services: [svc('tie')] }] });
  const c2 = compileHttpProxies([...seed(), tie], ctx());
  assert.equal(c2.verdicts.get('a-first/x')?.currentStatus, 'valid');
  assert.equal(c2.verdicts.get('root-ns/site')?.currentStatus, 'invalid');
});

test('orphans, roots including roots, cycles, missing includes, forbidden root namespaces', () => {
  const orphan = proxy('team-c', 'lost', { routes: [{ services: [svc('lost')] }] });
  const c = compileHttpProxies([...seed(), orphan], ctx());
  assert.deepEqual(c.verdicts.get('team-c/lost')?.currentStatus, 'orphaned');
  assert.equal(c.verdicts.get('team-c/lost')?.description, ORPHANED_MESSAGE);

  const rootToRoot = [
    proxy('r', 'a', {
      fqdn: 'a.com',
      routes: [{ services: [svc('a')] }],
      includes: [{ name: 'b', conditions: [{ prefix: '/b' }] }],
    }),
    proxy('r', 'b', { fqdn: 'b.com', routes: [{ services: [svc('b')] }] }),
  ];
  const rr = compileHttpProxies(rootToRoot, ctx());
  assert.equal(rr.verdicts.get('r/a')?.currentStatus, 'invalid');
  assert.equal(rr.verdicts.get('r/a')?.description, ROOT_INCLUDES_ROOT_MESSAGE);
  assert.equal(rr.verdicts.get('r/b')?.currentStatus, 'valid');
  // The invalid root still serves its own routes; the include adds nothing.
  assert.equal(serviceOf(buildRouteTable([], rr), 'a.com', '/b/x'), 'a');

  const cycle = [
    proxy('r', 'root', { fqdn: 'c.com', includes: [{ name: 'x', namespace: 't', conditions: [{ prefix: '/x' }] }] }),
    proxy('t', 'x', { includes: [{ name: 'y', conditions: [{ prefix: '/y' }] }], routes: [{ services: [svc('x')] }] }),
    proxy('t', 'y', { includes: [{ name: 'x', conditions: [{ prefix: '/z' }] }] }),
  ];
  const cy = compileHttpProxies(cycle, ctx());
  assert.equal(cy.verdicts.get('t/x')?.currentStatus, 'invalid');
  assert.equal(cy.verdicts.get('t/x')?.description, 'include creates an include cycle: r/root -> t/x -> t/y -> t/x');
  assert.equal(cy.verdicts.get('r/root')?.currentStatus, 'valid');

  const missing = compileHttpProxies(
    [
      proxy('r', 'm', {
        fqdn: 'm.com',
        routes: [{ services: [svc('m')] }],
        includes: [{ name: 'gone', conditions: [{ prefix: '/gone' }] }],
      }),
    ],
    ctx(),
  );
  assert.equal(missing.verdicts.get('r/m')?.description, 'include r/gone not found');
  assert.equal(serviceOf(buildRouteTable([], missing), 'm.com', '/gone/1'), 502);

  const restricted = compileHttpProxies(seed(), ctx({ rootNamespaces: ['team-a'] }));
  assert.equal(
    restricted.verdicts.get('root-ns/site')?.description,
    'root HTTPProxy cannot be defined in this namespace',
  );
  assert.equal(restricted.verdicts.get('team-a/blog')?.currentStatus, 'orphaned');
  assert.equal(restricted.routes.length, 0);
});

test('header conditions, weights, replacePrefix, timeouts and retries become route fields', () => {
  const c = compileHttpProxies(
    [
      proxy('r', 'w', {
        fqdn: 'w.com',
        routes: [
          { services: [svc('blue', 80, 90), svc('green', 80, 10)] },
          {
            conditions: [{ prefix: '/api' }, { header: { name: 'X-Canary', exact: 'yes' } }],
            services: [svc('canary')],
          },
          {
            conditions: [{ prefix: '/api' }],
            services: [svc('api')],
            pathRewritePolicy: { replacePrefix: [{ replacement: '/v2' }] },
            timeoutPolicy: { response: '1500ms', idle: '1m' },
            retryPolicy: { count: 3, perTryTimeout: '200ms' },
          },
        ],
      }),
    ],
    ctx(),
  );
  const t = buildRouteTable([], c);
  assert.equal(serviceOf(t, 'w.com', '/api/x', { 'x-canary': 'yes' }), 'canary');
  assert.equal(serviceOf(t, 'w.com', '/api/x'), 'api');
  const api = t.match('w.com', '/api/users?q=1', { method: 'GET', header: () => undefined });
  assert.equal(api?.upstreamPath, '/v2/users?q=1');
  assert.deepEqual(api?.route.policy, {
    responseTimeoutMs: 1500,
    idleTimeoutMs: 60_000,
    retries: { count: 3, perTryTimeoutMs: 200 },
  });
  // Contour's prefixes are string prefixes: /apix is under /api too.
  assert.equal(serviceOf(t, 'w.com', '/apix'), 'api');
  const root = t.match('w.com', '/')!.route;
  let blue = 0;
  for (let i = 0; i < 1000; i++)
    if (
      chooseBackend(
        root,
        () => undefined,
        () => i / 1000,
      ).service === 'blue'
    )
      blue++;
  assert.equal(blue, 900);
});

test('TLS secrets from other namespaces need a TLSCertificateDelegation', () => {
  const d: TLSCertificateDelegation = {
    metadata: { namespace: 'certs', name: 'd' },
    spec: { delegations: [{ secretName: 'wild', targetNamespaces: ['root-ns'] }] },
  };
  assert.ok(delegationPermitted({ namespace: 'certs', name: 'wild' }, 'root-ns', [d]));
  assert.ok(!delegationPermitted({ namespace: 'certs', name: 'wild' }, 'team-a', [d]));
  const p = proxy('team-a', 'p', { fqdn: 'p.com', tls: 'certs/wild', routes: [{ services: [svc('p')] }] });
  const c = compileHttpProxies([p], ctx({ delegations: [d] }));
  assert.equal(
    c.verdicts.get('team-a/p')?.description,
    'Spec.VirtualHost.TLS Secret "certs/wild" certificate delegation not permitted',
  );
  const ok = compileHttpProxies(
    [proxy('root-ns', 'p', { fqdn: 'p.com', tls: 'certs/wild', routes: [{ services: [svc('p')] }] })],
    ctx({ delegations: [d] }),
  );
  assert.deepEqual(ok.tls, [
    {
      host: 'p.com',
      entry: { ingress: { namespace: 'root-ns', name: 'p' }, secret: { namespace: 'certs', name: 'wild' } },
    },
  ]);
  const route = buildRouteTable([], ok).match('p.com', '/')!.route;
  assert.ok(route.tls && route.options.sslRedirect, 'plain HTTP to a TLS vhost is redirected, as Contour does');
});

test('status as Contour writes it', () => {
  const p = proxy('team-c', 'lost', { routes: [] });
  const s = proxyStatus(
    p,
    {
      currentStatus: 'orphaned',
      description: ORPHANED_MESSAGE,
      errors: [{ type: 'Orphaned', status: 'True', reason: 'Orphaned', message: ORPHANED_MESSAGE }],
    },
    [],
    'T',
  );
  assert.equal(s.currentStatus, 'orphaned');
  assert.equal(s.conditions?.[0].type, 'Valid');
  assert.equal(s.conditions?.[0].status, 'False');
  const v = proxyStatus(
    {
      ...p,
      status: {
        conditions: [
          { type: 'Valid', status: 'True', reason: 'Valid', message: VALID_MESSAGE, lastTransitionTime: 'EARLIER' },
        ],
      },
    },
    { currentStatus: 'valid', description: VALID_MESSAGE, errors: [] },
    [{ ip: '10.0.0.1' }],
    'NOW',
  );
  assert.equal(v.conditions?.[0].lastTransitionTime, 'EARLIER');
  assert.equal(v.description, 'Valid HTTPProxy');
});

test('durations and prefix joins', () => {
  assert.equal(parseTimeout('1m30s'), 90_000);
  assert.equal(parseTimeout('infinity'), 0);
  assert.equal(parseTimeout(undefined), undefined);
  assert.throws(() => parseTimeout('10 s'));
  assert.equal(joinPrefixes(['/blog', '/']), '/blog');
  assert.equal(joinPrefixes(['/blog/', '/posts']), '/blog/posts');
  assert.equal(joinPrefixes([]), '/');
});

test('tls.passthrough: the fqdn goes to the tcpproxy services; with a secretName or no tcpproxy it is invalid', () => {
  const pass = (name: string, tls: { passthrough?: boolean; secretName?: string }, tcp = true): HTTPProxy => ({
    metadata: { namespace: 'root-ns', name, creationTimestamp: '2026-01-01T00:00:00Z', generation: 1 },
    spec: {
      virtualhost: { fqdn: `${name}.com`, tls },
      ...(tcp ? { tcpproxy: { services: [svc('tls-app', 443, 3), svc('tls-canary', 443, 1)] } } : {}),
    },
  });
  const c = compileHttpProxies(
    [
      pass('ok', { passthrough: true }),
      pass('both', { passthrough: true, secretName: 's' }),
      pass('none', { passthrough: true }, false),
    ],
    ctx(),
  );
  assert.deepEqual(c.passthrough, [
    {
      route: { namespace: 'root-ns', name: 'ok' },
      kind: 'HTTPProxy',
      hosts: ['ok.com'],
      backends: [
        { backend: { namespace: 'root-ns', service: 'tls-app', port: { number: 443 } }, weight: 3 },
        { backend: { namespace: 'root-ns', service: 'tls-canary', port: { number: 443 } }, weight: 1 },
      ],
    },
  ]);
  assert.equal(c.verdicts.get('root-ns/ok')?.currentStatus, 'valid');
  assert.equal(
    c.verdicts.get('root-ns/both')?.description,
    'Spec.VirtualHost.TLS: both Passthrough and SecretName were specified',
  );
  assert.equal(c.verdicts.get('root-ns/none')?.currentStatus, 'invalid');
  assert.deepEqual(c.tls, [], 'passthrough hosts have no certificate of the ingress');
});
