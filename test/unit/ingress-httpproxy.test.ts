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
  type QueryParameterCondition,
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

test('tcpproxy with tls.secretName: TLS terminated with the Secret, the cleartext to the services', () => {
  const root = (name: string, tls: { secretName?: string; passthrough?: boolean } | undefined, tcpproxy: object) =>
    ({
      metadata: { namespace: 'root-ns', name, creationTimestamp: '2026-01-01T00:00:00Z', generation: 1 },
      spec: { virtualhost: { fqdn: `${name}.com`, ...(tls ? { tls } : {}) }, tcpproxy },
    }) as HTTPProxy;
  const c = compileHttpProxies(
    [
      root('term', { secretName: 'term-tls' }, { services: [svc('db', 5432)] }),
      root('plain', undefined, { services: [svc('db', 5432)] }),
      root('both', { secretName: 's' }, { services: [svc('db', 5432)], include: { name: 'x' } }),
      root('empty', { secretName: 's' }, {}),
      root('gone', { secretName: 's' }, { services: [svc('missing', 5432)] }),
    ],
    ctx({ serviceExists: (_ns, name) => name !== 'missing' }),
  );
  assert.deepEqual(c.passthrough, [
    {
      route: { namespace: 'root-ns', name: 'term' },
      kind: 'HTTPProxy',
      hosts: ['term.com'],
      backends: [{ backend: { namespace: 'root-ns', service: 'db', port: { number: 5432 } }, weight: 1 }],
      terminate: true,
    },
  ]);
  assert.ok(c.tls.some((t) => t.host === 'term.com' && t.entry.secret?.name === 'term-tls'));
  assert.equal(c.verdicts.get('root-ns/term')?.currentStatus, 'valid');
  const error = (name: string) => {
    const v = c.verdicts.get(`root-ns/${name}`);
    assert.equal(v?.currentStatus, 'invalid', name);
    return `${v.errors[0].type}/${v.errors[0].reason}: ${v.description}`;
  };
  assert.equal(
    error('plain'),
    'TCPProxyError/TLSMustBeConfigured: Spec.TCPProxy requires that either Spec.TLS.Passthrough or Spec.TLS.SecretName be set',
  );
  assert.equal(
    error('both'),
    'TCPProxyError/NoServicesAndInclude: cannot specify services and include in the same httpproxy',
  );
  assert.equal(error('empty'), 'TCPProxyError/NothingDefined: either services or inclusion must be specified');
  assert.equal(
    error('gone'),
    'TCPProxyError/ServiceUnresolvedReference: Spec.TCPProxy unresolved service reference: service "root-ns/missing" not found',
  );
});

test('tcpproxy.include: services delegated to another namespace; not found, roots and cycles invalid', () => {
  const mk = (ns: string, name: string, spec: HTTPProxy['spec']): HTTPProxy => ({
    metadata: { namespace: ns, name, creationTimestamp: '2026-01-01T00:00:00Z', generation: 1 },
    spec,
  });
  const tls = { secretName: 's' };
  const proxies = [
    mk('root-ns', 'db', {
      virtualhost: { fqdn: 'db.com', tls },
      tcpproxy: { include: { name: 'db', namespace: 'team-a' } },
    }),
    // The deprecated plural field, with its target in the same namespace.
    mk('root-ns', 'old', { virtualhost: { fqdn: 'old.com', tls }, tcpproxy: { includes: { name: 'local' } } }),
    mk('root-ns', 'local', { tcpproxy: { services: [svc('pg', 5432)] } }),
    mk('team-a', 'db', { tcpproxy: { include: { name: 'db2' } } }),
    mk('team-a', 'db2', { tcpproxy: { services: [svc('pg', 5432, 2)] } }),
    mk('root-ns', 'lost', { virtualhost: { fqdn: 'lost.com', tls }, tcpproxy: { include: { name: 'nope' } } }),
    mk('root-ns', 'toroot', { virtualhost: { fqdn: 'toroot.com', tls }, tcpproxy: { include: { name: 'db' } } }),
    mk('root-ns', 'loop', {
      virtualhost: { fqdn: 'loop.com', tls },
      tcpproxy: { include: { name: 'a', namespace: 'c' } },
    }),
    mk('c', 'a', { tcpproxy: { include: { name: 'b' } } }),
    mk('c', 'b', { tcpproxy: { include: { name: 'a' } } }),
  ];
  const c = compileHttpProxies(proxies, ctx());
  const hosts = Object.fromEntries(c.passthrough.map((p) => [p.hosts[0], p.backends.map((b) => b.backend)]));
  assert.deepEqual(hosts, {
    'db.com': [{ namespace: 'team-a', service: 'pg', port: { number: 5432 } }],
    'old.com': [{ namespace: 'root-ns', service: 'pg', port: { number: 5432 } }],
  });
  for (const k of ['root-ns/db', 'team-a/db', 'team-a/db2', 'root-ns/old', 'root-ns/local'])
    assert.equal(c.verdicts.get(k)?.currentStatus, 'valid', k);
  const first = (k: string) => {
    const v = c.verdicts.get(k)!;
    return `${v.currentStatus} ${v.errors[0]?.type}/${v.errors[0]?.reason}: ${v.description}`;
  };
  assert.equal(first('root-ns/lost'), 'invalid TCPProxyIncludeError/IncludeNotFound: include root-ns/nope not found');
  assert.equal(
    first('root-ns/toroot'),
    'invalid TCPProxyIncludeError/RootIncludesRoot: root httpproxy cannot include another root httpproxy (root-ns/db)',
  );
  assert.equal(
    first('c/b'),
    'invalid TCPProxyIncludeError/IncludeCreatesCycle: include creates a cycle: root-ns/loop -> c/a -> c/b -> c/a',
  );
  assert.equal(c.verdicts.get('root-ns/loop')?.currentStatus, 'valid', 'Contour marks the proxy that closes the cycle');
});

test('queryParameter conditions: exact, prefix, suffix, contains, regex, present, ignoreCase; invalid ones as Contour says', () => {
  const q = (queryParameter: QueryParameterCondition, name: string): ProxyRoute => ({
    conditions: [{ prefix: '/' }, { queryParameter }],
    services: [svc(name)],
  });
  const c = compileHttpProxies(
    [
      proxy('ns', 'q', {
        fqdn: 'q.com',
        routes: [
          q({ name: 'v', exact: 'Two', ignoreCase: true }, 'exact-i'),
          q({ name: 'env', prefix: 'prod-' }, 'prefix'),
          q({ name: 'file', suffix: '.png' }, 'suffix'),
          q({ name: 'tag', contains: 'beta' }, 'contains'),
          q({ name: 'id', regex: '[0-9]+' }, 'regex'),
          q({ name: 'debug', present: true }, 'present'),
          { services: [svc('default')] },
        ],
      }),
      proxy('ns', 'bad', { fqdn: 'bad.com', routes: [q({ name: 'x', exact: 'a', prefix: 'b' }, 'b')] }),
      proxy('ns', 'none', { fqdn: 'none.com', routes: [q({ name: 'x' }, 'b')] }),
    ],
    ctx(),
  );
  const t = buildRouteTable([], c);
  const to = (url: string) => serviceOf(t, 'q.com', url);
  assert.equal(to('/?v=two'), 'exact-i');
  assert.equal(to('/?env=prod-eu'), 'prefix');
  assert.equal(to('/?env=dev-prod-'), 'default');
  assert.equal(to('/?file=a.png'), 'suffix');
  assert.equal(to('/?tag=x-beta-1'), 'contains');
  assert.equal(to('/?tag=BETA'), 'default', 'case-sensitive without ignoreCase');
  assert.equal(to('/?id=42'), 'regex');
  assert.equal(to('/?id=42a'), 'default', 'the regex matches the whole value');
  assert.equal(to('/?debug'), 'present');
  assert.equal(to('/'), 'default');
  assert.equal(
    c.verdicts.get('ns/bad')?.description,
    'cannot specify more than one condition in the same match condition branch',
  );
  assert.equal(c.verdicts.get('ns/bad')?.errors[0].reason, 'QueryParameterMatchConditionsNotValid');
  assert.equal(c.verdicts.get('ns/none')?.description, 'must specify at least one query parameter condition');
});
