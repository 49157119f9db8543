// Gateway API (src/ingress/gateway.ts) from the conformance suite's documented core cases:
// hostname intersection, match precedence, filters, weights, ReferenceGrant, status reasons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compileGateways,
  gatewayDuration,
  GATEWAY_CONTROLLER,
  intersectHostnames,
  referenceGranted,
  type Gateway,
  type GatewayContext,
  type HTTPRoute,
  type HTTPRouteRule,
  type Listener,
  type ReferenceGrant,
} from '../../src/ingress/gateway.js';
import { chooseBackend, RouteTable } from '../../src/ingress/routes.js';
import { buildRouteTable } from '../../src/ingress/routeindex.js';
import { redirectLocation } from '../../src/ingress/proxy.js';

const gw = (listeners: Listener[]): Gateway => ({
  metadata: { namespace: 'infra', name: 'gw', creationTimestamp: '2026-01-01T00:00:00Z', generation: 1 },
  spec: { gatewayClassName: 'k8ts', listeners },
});

const route = (
  ns: string,
  name: string,
  rules: HTTPRouteRule[],
  hostnames?: string[],
  created = '2026-01-01T00:00:00Z',
): HTTPRoute => ({
  metadata: { namespace: ns, name, creationTimestamp: created, generation: 2 },
  spec: { parentRefs: [{ name: 'gw', namespace: 'infra' }], hostnames, rules },
});

const ctx = (o: Partial<GatewayContext> = {}): GatewayContext => ({
  classes: [{ metadata: { name: 'k8ts' }, spec: { controllerName: GATEWAY_CONTROLLER } }],
  grants: [],
  serviceExists: () => true,
  secretExists: () => true,
  ...o,
});

const all = gw([{ name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } }]);
const req = (headers: Record<string, string> = {}, method = 'GET') => ({ method, header: (n: string) => headers[n] });
const svc = (t: RouteTable, host: string, url: string, headers: Record<string, string> = {}, method = 'GET') => {
  const m = t.match(host, url, req(headers, method));
  return m && (m.route.directStatus ?? (chooseBackend(m.route, () => undefined).service || 500));
};

test('hostnames: intersection of listener and route, wildcards one way or the other', () => {
  assert.deepEqual(intersectHostnames(undefined, []), ['']);
  assert.deepEqual(intersectHostnames('*.example.com', ['foo.example.com', 'other.org']), ['foo.example.com']);
  assert.deepEqual(intersectHostnames('foo.example.com', ['*.example.com']), ['foo.example.com']);
  assert.deepEqual(intersectHostnames('foo.example.com', ['bar.example.com']), []);
  assert.deepEqual(intersectHostnames('*.example.com', []), ['*.example.com']);
});

test('match precedence: Exact, longest prefix, method, headers, query; the oldest route on ties', () => {
  const c = compileGateways(
    [all],
    [
      route(
        'app',
        'a',
        [
          { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'root', port: 80 }] },
          { matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'api', port: 80 }] },
          { matches: [{ path: { type: 'Exact', value: '/api' } }], backendRefs: [{ name: 'exact', port: 80 }] },
          { matches: [{ path: { value: '/api' }, method: 'POST' }], backendRefs: [{ name: 'post', port: 80 }] },
          {
            matches: [{ path: { value: '/api' }, headers: [{ name: 'Version', value: 'two' }] }],
            backendRefs: [{ name: 'v2', port: 80 }],
          },
          {
            matches: [{ path: { value: '/api' }, queryParams: [{ name: 'debug', value: '1' }] }],
            backendRefs: [{ name: 'debug', port: 80 }],
          },
          {
            matches: [{ path: { type: 'RegularExpression', value: '/img/[0-9]+' } }],
            backendRefs: [{ name: 'img', port: 80 }],
          },
        ],
        ['app.example.com'],
      ),
      route(
        'app',
        'b',
        [{ matches: [{ path: { value: '/api' } }], backendRefs: [{ name: 'younger', port: 80 }] }],
        ['app.example.com'],
        '2026-03-01T00:00:00Z',
      ),
    ],
    ctx(),
  );
  const t = buildRouteTable([], c);
  const h = 'app.example.com';
  assert.equal(svc(t, h, '/api'), 'exact');
  assert.equal(svc(t, h, '/api/x'), 'api');
  assert.equal(svc(t, h, '/apix'), 'root', 'PathPrefix matches whole segments');
  assert.equal(svc(t, h, '/api/x', {}, 'POST'), 'post');
  assert.equal(svc(t, h, '/api/x', { version: 'two' }), 'v2');
  assert.equal(svc(t, h, '/api/x?debug=1'), 'debug');
  assert.equal(svc(t, h, '/img/42'), 'img');
  assert.equal(svc(t, h, '/img/42/x'), 'root', 'a RegularExpression covers the whole path');
  assert.equal(svc(t, 'other.com', '/'), undefined);
  assert.equal(c.routeStatus.get('HTTPRoute|app/a')?.parents[0].conditions[0].reason, 'Accepted');
  assert.equal(c.gatewayStatus.get('infra/gw')?.listeners[0].attachedRoutes, 2);
});

test('weights split traffic; zero weights get nothing; an invalid ref keeps its share as 500s', () => {
  const c = compileGateways(
    [all],
    [
      route('app', 'split', [
        {
          backendRefs: [
            { name: 'v1', port: 80, weight: 50 },
            { name: 'v2', port: 80, weight: 50 },
            { name: 'off', port: 80, weight: 0 },
          ],
        },
      ]),
    ],
    ctx(),
  );
  const r = buildRouteTable([], c).match('any.host', '/', req())!.route;
  const seen = new Map<string, number>();
  for (let i = 0; i < 100; i++) {
    const s = chooseBackend(
      r,
      () => undefined,
      () => i / 100,
    ).service;
    seen.set(s, (seen.get(s) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries(seen), { v1: 50, v2: 50 });
  const half = compileGateways(
    [all],
    [
      route('app', 'half', [
        {
          backendRefs: [
            { name: 'v1', port: 80 },
            { name: 'elsewhere', namespace: 'other', port: 80 },
          ],
        },
      ]),
    ],
    ctx(),
  );
  const h = buildRouteTable([], half).match('any.host', '/', req())!.route;
  assert.equal(
    chooseBackend(
      h,
      () => undefined,
      () => 0.25,
    ).service,
    'v1',
  );
  assert.equal(
    chooseBackend(
      h,
      () => undefined,
      () => 0.75,
    ).service,
    '',
    'the refused ref: 500 in the proxy',
  );
});

test('cross-namespace backendRefs need a ReferenceGrant; until then ResolvedRefs is RefNotPermitted and requests get 500', () => {
  const r = route('app', 'x', [{ backendRefs: [{ name: 'db', namespace: 'data', port: 80 }] }]);
  const refused = compileGateways([all], [r], ctx());
  assert.deepEqual(
    refused.routeStatus.get('HTTPRoute|app/x')?.parents[0].conditions.map((c) => [c.type, c.status, c.reason]),
    [
      ['Accepted', 'True', 'Accepted'],
      ['ResolvedRefs', 'False', 'RefNotPermitted'],
    ],
  );
  assert.equal(svc(buildRouteTable([], refused), 'h', '/'), 500);
  const grant: ReferenceGrant = {
    metadata: { namespace: 'data', name: 'allow-app' },
    spec: {
      from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'app' }],
      to: [{ group: '', kind: 'Service' }],
    },
  };
  assert.ok(
    referenceGranted(
      [grant],
      { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'app' },
      { group: '', kind: 'Service', namespace: 'data', name: 'db' },
    ),
  );
  const allowed = compileGateways([all], [r], ctx({ grants: [grant] }));
  assert.equal(allowed.routeStatus.get('HTTPRoute|app/x')?.parents[0].conditions[1].reason, 'ResolvedRefs');
  assert.equal(svc(buildRouteTable([], allowed), 'h', '/'), 'db');
  const missing = compileGateways(
    [all],
    [route('app', 'm', [{ backendRefs: [{ name: 'nope', port: 80 }] }])],
    ctx({ serviceExists: () => false }),
  );
  assert.equal(missing.routeStatus.get('HTTPRoute|app/m')?.parents[0].conditions[1].reason, 'BackendNotFound');
});

test('listeners: Same-namespace default, hostnames, TLS refs, unsupported protocols', () => {
  const g = gw([
    { name: 'web', port: 80, protocol: 'HTTP', hostname: '*.example.com' },
    {
      name: 'tls',
      port: 443,
      protocol: 'HTTPS',
      hostname: 'secure.example.com',
      tls: { certificateRefs: [{ name: 'cert' }] },
    },
    { name: 'custom', port: 9000, protocol: 'example.com/quic' },
  ]);
  const other = compileGateways([g], [route('app', 'r', [{ backendRefs: [{ name: 's', port: 80 }] }])], ctx());
  assert.equal(other.routeStatus.get('HTTPRoute|app/r')?.parents[0].conditions[0].reason, 'NotAllowedByListeners');
  const same = compileGateways(
    [g],
    [route('infra', 'r', [{ backendRefs: [{ name: 's', port: 80 }] }], ['nomatch.org'])],
    ctx(),
  );
  assert.equal(
    same.routeStatus.get('HTTPRoute|infra/r')?.parents[0].conditions[0].reason,
    'NoMatchingListenerHostname',
  );
  const gs = same.gatewayStatus.get('infra/gw')!;
  assert.deepEqual(
    gs.listeners.map((l) => l.conditions.find((c) => c.type === 'Accepted')?.reason),
    ['Accepted', 'Accepted', 'UnsupportedProtocol'],
  );
  assert.deepEqual(
    same.tls.map((t) => [t.host, t.entry.secret.name]),
    [['secure.example.com', 'cert']],
  );
  const noSecret = compileGateways([g], [], ctx({ secretExists: () => false }));
  assert.equal(
    noSecret.gatewayStatus.get('infra/gw')!.listeners[1].conditions.find((c) => c.type === 'ResolvedRefs')?.reason,
    'InvalidCertificateRef',
  );
  const notOurs = compileGateways([{ ...g, spec: { ...g.spec!, gatewayClassName: 'other' } }], [], ctx());
  assert.equal(notOurs.gatewayStatus.size, 0);
});

test('allowedRoutes: namespaces from Selector (by the namespace labels) and route kinds', () => {
  const selector = gw([
    {
      name: 'teams',
      port: 80,
      protocol: 'HTTP',
      allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { shared: 'yes' } } } },
    },
  ]);
  const labels: Record<string, Record<string, string>> = { 'team-a': { shared: 'yes' }, 'team-b': { shared: 'no' } };
  const c = compileGateways(
    [selector],
    [
      route('team-a', 'r', [{ backendRefs: [{ name: 's', port: 80 }] }]),
      route('team-b', 'r', [{ backendRefs: [{ name: 's', port: 80 }] }]),
      route('team-c', 'r', [{ backendRefs: [{ name: 's', port: 80 }] }]),
    ],
    ctx({ namespaceLabels: (ns) => labels[ns] }),
  );
  const reason = (k: string) => c.routeStatus.get(`HTTPRoute|${k}`)?.parents[0].conditions[0].reason;
  assert.equal(reason('team-a/r'), 'Accepted');
  assert.equal(reason('team-b/r'), 'NotAllowedByListeners');
  assert.equal(reason('team-c/r'), 'NotAllowedByListeners', 'a namespace without labels matches no selector');
  assert.equal(c.gatewayStatus.get('infra/gw')?.listeners[0].attachedRoutes, 1);

  // kinds: only HTTPRoute is served; other kinds are InvalidRouteKinds, and with none left the
  // listener serves nothing.
  const kinds = gw([
    {
      name: 'mixed',
      port: 80,
      protocol: 'HTTP',
      allowedRoutes: { namespaces: { from: 'All' }, kinds: [{ kind: 'HTTPRoute' }, { kind: 'TCPRoute' }] },
    },
    {
      name: 'tcponly',
      port: 81,
      protocol: 'HTTP',
      allowedRoutes: { namespaces: { from: 'All' }, kinds: [{ kind: 'TCPRoute' }] },
    },
  ]);
  const k = compileGateways([kinds], [route('app', 'r', [{ backendRefs: [{ name: 's', port: 80 }] }])], ctx());
  const [mixed, tcpOnly] = k.gatewayStatus.get('infra/gw')!.listeners;
  const byType = (l: typeof mixed) => Object.fromEntries(l.conditions.map((x) => [x.type, x.reason]));
  assert.deepEqual(mixed.supportedKinds, [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }]);
  assert.equal(byType(mixed).ResolvedRefs, 'InvalidRouteKinds');
  assert.equal(byType(mixed).Programmed, 'Programmed');
  assert.equal(mixed.attachedRoutes, 1);
  assert.deepEqual(tcpOnly.supportedKinds, []);
  assert.equal(byType(tcpOnly).ResolvedRefs, 'InvalidRouteKinds');
  assert.equal(byType(tcpOnly).Programmed, 'Invalid');
  assert.equal(tcpOnly.attachedRoutes, 0);
});

test('filters: header modifiers, URL rewrite, redirect', () => {
  const c = compileGateways(
    [all],
    [
      route('app', 'f', [
        {
          matches: [{ path: { value: '/old' } }],
          filters: [
            {
              type: 'URLRewrite',
              urlRewrite: { hostname: 'internal', path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' } },
            },
            {
              type: 'RequestHeaderModifier',
              requestHeaderModifier: { set: [{ name: 'X-Env', value: 'prod' }], remove: ['X-Debug'] },
            },
          ],
          backendRefs: [{ name: 's', port: 80 }],
        },
        {
          matches: [{ path: { value: '/moved' } }],
          filters: [
            {
              type: 'RequestRedirect',
              requestRedirect: {
                scheme: 'https',
                statusCode: 301,
                path: { type: 'ReplaceFullPath', replaceFullPath: '/here' },
              },
            },
          ],
        },
      ]),
    ],
    ctx(),
  );
  const t = buildRouteTable([], c);
  const m = t.match('h.com', '/old/page?a=1', req())!;
  assert.equal(m.upstreamPath, '/new/page?a=1');
  assert.equal(m.route.filters?.rewrite?.hostname, 'internal');
  assert.deepEqual(m.route.filters?.requestHeaders, { set: [['x-env', 'prod']], add: [], remove: ['x-debug'] });
  const r = t.match('h.com', '/moved/x?q', req())!.route;
  assert.equal(r.directStatus, undefined);
  assert.equal(
    redirectLocation(r.filters!.redirect!, r, { host: 'h.com', url: '/moved/x?q', secure: false, port: 8080 }),
    'https://h.com/here?q',
  );
});

test('timeouts: request and backendRequest become the route policy; 0s is no limit', () => {
  assert.equal(gatewayDuration('1m30s'), 90_000);
  assert.equal(gatewayDuration('500ms'), 500);
  assert.equal(gatewayDuration('1h2m3s4ms'), 3_723_004);
  assert.equal(gatewayDuration('0s'), 0);
  assert.equal(gatewayDuration('1.5s'), undefined);
  assert.equal(gatewayDuration('10'), undefined);
  const c = compileGateways(
    [all],
    [
      route('app', 't', [
        {
          matches: [{ path: { value: '/both' } }],
          backendRefs: [{ name: 's', port: 80 }],
          timeouts: { request: '10s', backendRequest: '2s' },
        },
        {
          matches: [{ path: { value: '/none' } }],
          backendRefs: [{ name: 's', port: 80 }],
          timeouts: { request: '0s' },
        },
        { matches: [{ path: { value: '/plain' } }], backendRefs: [{ name: 's', port: 80 }] },
      ]),
    ],
    ctx(),
  );
  const t = buildRouteTable([], c);
  assert.deepEqual(t.match('h.com', '/both', req())!.route.policy, {
    responseTimeoutMs: 10_000,
    backendRequestTimeoutMs: 2000,
  });
  assert.equal(t.match('h.com', '/none', req())!.route.policy, undefined);
  assert.equal(t.match('h.com', '/plain', req())!.route.policy, undefined);
});
