// The ingress route table (src/ingress/routes.ts): networking.k8s.io/v1 host and path precedence
// as ingress-nginx applies it, regex rewrites, canaries; and the htpasswd schemes basic auth uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Ingress } from 'kubernetes-types/networking/v1.js';
import { ing } from '../support/ingress.js';
import {
  chooseBackend,
  hostMatches,
  prefixMatches,
  RouteTable,
  sslPassthroughRoutes,
} from '../../src/ingress/routes.js';
import { buildRouteTable } from '../../src/ingress/routeindex.js';
import { parseAnnotations, parseNginxSize } from '../../src/ingress/annotations.js';
import { checkBasicAuth, md5Crypt, parseHtpasswd, verifyHash } from '../../src/ingress/htpasswd.js';
import { bcryptHash } from '../../src/ingress/bcrypt.js';
import { servesIngress, defaultIngressClass } from '../../src/ingress/controller.js';

const svcOf = (t: RouteTable, host: string, url: string) => t.match(host, url)?.route.backend.service;

test('Prefix matches element-wise on /; a trailing slash is ignored', () => {
  assert.ok(prefixMatches('/foo', '/foo'));
  assert.ok(prefixMatches('/foo', '/foo/'));
  assert.ok(prefixMatches('/foo', '/foo/bar'));
  assert.ok(!prefixMatches('/foo', '/foobar'));
  assert.ok(prefixMatches('/foo/', '/foo'));
  assert.ok(prefixMatches('/', '/anything'));
  assert.ok(!prefixMatches('/aaa/bbb', '/aaa/bbbxyz'));
});

test('a wildcard host covers exactly one label', () => {
  assert.ok(hostMatches('*.example.com', 'foo.example.com'));
  assert.ok(!hostMatches('*.example.com', 'example.com'));
  assert.ok(!hostMatches('*.example.com', 'a.b.example.com'));
  assert.ok(hostMatches('foo.example.com', 'foo.example.com'));
});

test('paths of one host merge across Ingresses: Exact before Prefix, the longest Prefix first', () => {
  const t = buildRouteTable([
    ing('a', {
      'x.com': [
        ['/', 'Prefix', 'root'],
        ['/api', 'Prefix', 'api'],
      ],
    }),
    ing('b', {
      'x.com': [
        ['/api/v1', 'Prefix', 'v1'],
        ['/api', 'Exact', 'exact-api'],
        ['/api/v1/impl', 'ImplementationSpecific', 'impl'],
      ],
    }),
  ]);
  assert.equal(svcOf(t, 'x.com', '/api'), 'exact-api');
  assert.equal(svcOf(t, 'x.com', '/api/'), 'api');
  assert.equal(svcOf(t, 'x.com', '/api/v1/users?x=1'), 'v1');
  assert.equal(svcOf(t, 'x.com', '/api/v1/impl/z'), 'impl', 'ImplementationSpecific acts as Prefix');
  assert.equal(svcOf(t, 'x.com', '/apiv1'), 'root', 'prefix is element-wise');
  assert.equal(t.match('x.com', '/api/v1/users?x=1')?.upstreamPath, '/api/v1/users?x=1');
  assert.deepEqual(t.problems, []);
});

test('on a conflict the older Ingress wins and the younger one gets a problem', () => {
  const t = buildRouteTable([
    ing('young', { 'x.com': [['/', 'Prefix', 'young']] }, { created: '2026-02-01T00:00:00Z' }),
    ing('old', { 'x.com': [['/', 'Prefix', 'old']] }, { created: '2026-01-01T00:00:00Z' }),
  ]);
  assert.equal(svcOf(t, 'x.com', '/'), 'old');
  assert.equal(t.problems.length, 1);
  assert.equal(t.problems[0].ingress.name, 'young');
  assert.equal(t.problems[0].reason, 'Conflict');
});

test('hosts: exact before wildcard before rules without host; defaultBackend catches the rest', () => {
  const t = buildRouteTable([
    ing(
      'a',
      {
        'foo.example.com': [['/', 'Prefix', 'exact']],
        '*.example.com': [['/', 'Prefix', 'wild']],
        '': [['/any', 'Prefix', 'nohost']],
      },
      { defaultBackend: 'fallback' },
    ),
  ]);
  assert.equal(svcOf(t, 'foo.example.com', '/'), 'exact');
  assert.equal(svcOf(t, 'bar.example.com', '/x'), 'wild');
  assert.equal(svcOf(t, 'a.bar.example.com', '/any'), 'nohost', 'two labels: not the wildcard');
  assert.equal(svcOf(t, 'example.com', '/other'), 'fallback');
  assert.equal(svcOf(t, 'other.org', '/any/x'), 'nohost');
  const none = buildRouteTable([ing('b', { 'foo.com': [['/a', 'Exact', 's']] })]);
  assert.equal(none.match('foo.com', '/b'), undefined, '404: no route and no default backend');
  assert.equal(none.match('bar.com', '/a'), undefined);
});

test('TLS hosts are marked for the HTTPS redirect, wildcard TLS entries included', () => {
  const t = buildRouteTable([
    ing('a', { 'a.com': [['/', 'Prefix', 's']], 'b.com': [['/', 'Prefix', 's']] }, { tls: ['a.com'] }),
    ing('w', { 'x.w.com': [['/', 'Prefix', 's']] }, { tls: ['*.w.com'] }),
  ]);
  assert.equal(t.match('a.com', '/')?.route.tls, true);
  assert.equal(t.match('b.com', '/')?.route.tls, false);
  assert.equal(t.match('x.w.com', '/')?.route.tls, true);
  assert.deepEqual(t.tlsFor('x.w.com')?.secret, { namespace: 'default', name: 'w-tls' });
  assert.equal(t.tlsFor('w.com'), undefined);
});

test('rewrite-target substitutes regex captures; regex mode covers every path of the host', () => {
  const t = buildRouteTable([
    ing(
      'rw',
      { 'r.com': [['/something(/|$)(.*)', 'ImplementationSpecific', 'rw']] },
      { annotations: { 'nginx.ingress.kubernetes.io/rewrite-target': '/$2' } },
    ),
    ing('plain', { 'r.com': [['/static/[a-z]+\\.css', 'Prefix', 'css']] }),
  ]);
  assert.equal(t.match('r.com', '/something/new/x?y=1')?.upstreamPath, '/new/x?y=1');
  assert.equal(t.match('r.com', '/something')?.upstreamPath, '/');
  assert.equal(t.match('r.com', '/SOMETHING/a')?.upstreamPath, '/a', 'case-insensitive');
  assert.equal(svcOf(t, 'r.com', '/static/site.css'), 'css', "another Ingress's path is a regex too");
  assert.equal(t.match('r.com', '/static/site.css')?.upstreamPath, '/static/site.css');
  assert.equal(t.match('r.com', '/nothing'), undefined);
});

test('use-regex without rewrite: paths are anchored case-insensitive expressions', () => {
  const t = buildRouteTable([
    ing(
      'a',
      {
        'x.com': [
          ['/v[0-9]+/items', 'Prefix', 'items'],
          ['/v1', 'Prefix', 'v1'],
        ],
      },
      { annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true' } },
    ),
  ]);
  assert.equal(svcOf(t, 'x.com', '/v2/items/3'), 'items');
  assert.equal(svcOf(t, 'x.com', '/V1/other'), 'v1');
  assert.equal(svcOf(t, 'x.com', '/x/v1'), undefined, 'anchored at the start');
});

test('canary-weight sends that share of requests to the canary; by-header overrides', () => {
  const main = ing('main', { 'c.com': [['/', 'Prefix', 'stable']] });
  const canary = ing(
    'canary',
    { 'c.com': [['/', 'Prefix', 'preview']] },
    {
      annotations: {
        'nginx.ingress.kubernetes.io/canary': 'true',
        'nginx.ingress.kubernetes.io/canary-weight': '20',
        'nginx.ingress.kubernetes.io/canary-by-header': 'X-Canary',
      },
      created: '2026-03-01T00:00:00Z',
    },
  );
  const t = buildRouteTable([main, canary]);
  const route = t.match('c.com', '/')!.route;
  assert.equal(route.backend.service, 'stable', 'the canary does not take the route over');
  assert.equal(t.problems.length, 0);
  // An evenly spread sequence of randoms: exactly 20% fall under the weight.
  let hits = 0;
  for (let i = 0; i < 1000; i++)
    if (
      chooseBackend(
        route,
        () => undefined,
        () => i / 1000,
      ).service === 'preview'
    )
      hits++;
  assert.equal(hits, 200);
  let random = 0;
  for (let i = 0; i < 1000; i++) if (chooseBackend(route, () => undefined).service === 'preview') random++;
  assert.ok(random > 150 && random < 250, `Math.random: ${random}/1000`);
  assert.equal(
    chooseBackend(
      route,
      (h) => (h === 'x-canary' ? 'always' : undefined),
      () => 0.99,
    ).service,
    'preview',
  );
  assert.equal(
    chooseBackend(
      route,
      (h) => (h === 'x-canary' ? 'never' : undefined),
      () => 0,
    ).service,
    'stable',
  );

  const byValue = buildRouteTable([
    main,
    ing(
      'cv',
      { 'c.com': [['/', 'Prefix', 'preview']] },
      {
        annotations: {
          'nginx.ingress.kubernetes.io/canary': 'true',
          'nginx.ingress.kubernetes.io/canary-by-header': 'X-Env',
          'nginx.ingress.kubernetes.io/canary-by-header-value': 'beta',
        },
      },
    ),
  ]).match('c.com', '/')!.route;
  assert.equal(chooseBackend(byValue, (h) => (h === 'x-env' ? 'beta' : undefined)).service, 'preview');
  assert.equal(chooseBackend(byValue, (h) => (h === 'x-env' ? 'always' : undefined)).service, 'stable');
  assert.equal(chooseBackend(byValue, () => undefined).service, 'stable', 'weight 0: never by chance');

  const orphan = buildRouteTable([canary]);
  assert.equal(orphan.match('c.com', '/'), undefined);
  assert.equal(orphan.problems[0].reason, 'CanaryWithoutMain');
});

test('resource backends are skipped with a problem; the other paths still route', () => {
  const i = ing('res', { 'x.com': [['/ok', 'Prefix', 'svc']] });
  i.spec!.rules![0].http!.paths.push({
    path: '/bucket',
    pathType: 'Prefix',
    backend: { resource: { apiGroup: 'k8s.example.com', kind: 'StorageBucket', name: 'b' } },
  });
  const t = buildRouteTable([i]);
  assert.equal(svcOf(t, 'x.com', '/ok'), 'svc');
  assert.equal(t.match('x.com', '/bucket'), undefined);
  assert.equal(t.problems[0].reason, 'UnsupportedBackend');
});

test('annotations: sizes, timeouts, redirects; bad values are problems and keep the default', () => {
  assert.equal(parseNginxSize('8k'), 8192);
  assert.equal(parseNginxSize('1m'), 1048576);
  assert.equal(parseNginxSize('0'), 0);
  assert.equal(parseNginxSize('lots'), undefined);
  const { options, problems } = parseAnnotations(
    ing(
      'a',
      {},
      {
        annotations: {
          'nginx.ingress.kubernetes.io/proxy-body-size': '2k',
          'nginx.ingress.kubernetes.io/proxy-read-timeout': '7',
          'nginx.ingress.kubernetes.io/ssl-redirect': 'false',
          'nginx.ingress.kubernetes.io/backend-protocol': 'FTP',
          'nginx.ingress.kubernetes.io/permanent-redirect': 'https://example.org/',
          'nginx.ingress.kubernetes.io/auth-type': 'basic',
          'nginx.ingress.kubernetes.io/auth-secret': 'other/users',
          'example.com/unknown': 'ignored',
        },
      },
    ),
  );
  assert.equal(options.maxBodyBytes, 2048);
  assert.equal(options.readTimeoutMs, 7000);
  assert.equal(options.sslRedirect, false);
  assert.equal(options.backendProtocol, 'HTTP');
  assert.deepEqual(options.permanentRedirect, { location: 'https://example.org/', code: 301 });
  assert.deepEqual(options.basicAuth?.secret, { namespace: 'other', name: 'users' });
  assert.equal(problems.length, 1);
  assert.match(problems[0], /backend-protocol/);
});

test('htpasswd: apr1 (as openssl passwd -apr1), MD5-crypt, {SHA}, plain', () => {
  assert.equal(md5Crypt('secret', 'abcdefgh'), '$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/');
  assert.equal(md5Crypt('hello', 'xy', '$1$'), '$1$xy$TAiksWrNu1EJbK4BlUOoB/');
  assert.ok(verifyHash('$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/', 'secret'));
  assert.ok(!verifyHash('$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/', 'Secret'));
  assert.ok(verifyHash('{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=', 'secret'));
  assert.ok(verifyHash('plain', 'plain'));
  const users = parseHtpasswd(
    '# users\nalice:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/\n\nbob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n',
  );
  const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
  assert.equal(checkBasicAuth(basic('alice', 'secret'), users), 'alice');
  assert.equal(checkBasicAuth(basic('bob', 'secret'), users), 'bob');
  assert.equal(checkBasicAuth(basic('alice', 'wrong'), users), undefined);
  assert.equal(checkBasicAuth(undefined, users), undefined);
});

test('htpasswd: bcrypt ($2a$, $2b$, $2y$ as htpasswd -B and PHP write them); $2x$ refused', () => {
  // Published vectors: OpenBSD's / jBCrypt's test list and PHP's password_verify example.
  assert.equal(
    bcryptHash('U*U', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.'),
    '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW',
  );
  assert.equal(
    bcryptHash('', '$2a$06$DCq7YPn5Rq63x1Lad4cll.'),
    '$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.',
  );
  const php = '$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a';
  assert.ok(verifyHash(php, 'rasmuslerdorf'));
  assert.ok(verifyHash(php, 'rasmuslerdorf'), 'again (remembered)');
  assert.ok(!verifyHash(php, 'rasmuslerdorF'));
  const b = bcryptHash('secret', '$2b$04$abcdefghijklmnopqrstuu') ?? '';
  assert.match(b, /^\$2b\$04\$abcdefghijklmnopqrstu[./A-Za-z0-9]{32}$/);
  assert.ok(verifyHash(b, 'secret'));
  assert.ok(!verifyHash(b.replace('$2b$', '$2x$'), 'secret'));
  assert.equal(bcryptHash('x', '$2y$99$abcdefghijklmnopqrstuu'), undefined);
  const users = parseHtpasswd(`carol:${php}\n`);
  const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
  assert.equal(checkBasicAuth(basic('carol', 'rasmuslerdorf'), users), 'carol');
  assert.equal(checkBasicAuth(basic('carol', 'wrong'), users), undefined);
});

test('IngressClass: ours by name, by the legacy annotation, or by default when none is named', () => {
  const ours = defaultIngressClass();
  const other = { metadata: { name: 'nginx' }, spec: { controller: 'k8s.io/ingress-nginx' } };
  const named = (cls?: string) => ({ spec: cls ? { ingressClassName: cls } : {} });
  assert.ok(servesIngress(named('k8ts'), [ours, other]));
  assert.ok(servesIngress(named(), [ours, other]));
  assert.ok(!servesIngress(named('nginx'), [ours, other]));
  assert.ok(servesIngress({ metadata: { annotations: { 'kubernetes.io/ingress.class': 'k8ts' } } }, [ours]));
  const notDefault = { ...ours, metadata: { name: 'k8ts', annotations: {} } };
  assert.ok(!servesIngress(named(), [notDefault]));
});

test('ssl-passthrough: each host with a backend for / passes through to it; off by default', () => {
  const ing = (annotations: Record<string, string>): Ingress => ({
    metadata: { namespace: 'ns', name: 'i', annotations },
    spec: {
      defaultBackend: { service: { name: 'fallback', port: { name: 'https' } } },
      rules: [
        {
          host: 'A.example.com',
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'a', port: { number: 443 } } } }],
          },
        },
        {
          host: 'b.example.com',
          http: {
            paths: [{ path: '/x', pathType: 'Prefix', backend: { service: { name: 'b', port: { number: 443 } } } }],
          },
        },
        {
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'c', port: { number: 443 } } } }],
          },
        },
      ],
    },
  });
  assert.deepEqual(sslPassthroughRoutes(ing({})), []);
  assert.deepEqual(sslPassthroughRoutes(ing({ 'nginx.ingress.kubernetes.io/ssl-passthrough': 'false' })), []);
  const on = sslPassthroughRoutes(ing({ 'nginx.ingress.kubernetes.io/ssl-passthrough': 'true' }));
  assert.deepEqual(
    on.map((r) => [r.hosts, r.backends.map((b) => [b.backend.service, b.backend.port])]),
    [
      [['a.example.com'], [['a', { number: 443 }]]],
      [['b.example.com'], [['fallback', { name: 'https' }]]],
    ],
  );
});
