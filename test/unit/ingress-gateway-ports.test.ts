// Gateway listeners on ports of their own (src/ingress/gateway.ts): port plans, the Conflicted
// condition (ProtocolConflict, HostnameConflict), PortUnavailable; GRPCRoute method matches;
// TLSRoute and TCPRoute on TLS/TCP listeners, UDPRoute on UDP listeners; the ClientHello server
// name reader of the passthrough listeners (src/ingress/gatewaystreams.ts) and the UDP relay's
// flow tracking and idle timeout (src/ingress/streams.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as tlsConnect } from 'node:tls';
import {
  compileGateways,
  GATEWAY_CONTROLLER,
  grpcPath,
  type Gateway,
  type GatewayContext,
  type BackendRef,
  type Listener,
} from '../../src/ingress/gateway.js';
import { routeForName, serverName } from '../../src/ingress/gatewaystreams.js';
import { listenUdpRelay } from '../../src/ingress/streams.js';
import type { Endpoint } from '../../src/ingress/backends.js';
import { buildRouteTable } from '../../src/ingress/routeindex.js';

const gw = (name: string, listeners: Listener[], created = '2026-01-01T00:00:00Z'): Gateway => ({
  metadata: { namespace: 'infra', name, creationTimestamp: created, generation: 1 },
  spec: { gatewayClassName: 'k8ts', listeners },
});

const ctx = (o: Partial<GatewayContext> = {}): GatewayContext => ({
  classes: [{ metadata: { name: 'k8ts' }, spec: { controllerName: GATEWAY_CONTROLLER } }],
  grants: [],
  serviceExists: () => true,
  secretExists: () => true,
  ...o,
});

const all = { namespaces: { from: 'All' as const } };
const byType = (conds: { type: string; status: string; reason: string }[]) =>
  Object.fromEntries(conds.map((c) => [c.type, `${c.status}/${c.reason}`]));

test('listeners on other ports get a plan of their own; 80/443 stay on the ingress ports', () => {
  const g = gw('gw', [
    { name: 'web', port: 80, protocol: 'HTTP', allowedRoutes: all },
    { name: 'alt', port: 8081, protocol: 'HTTP', allowedRoutes: all },
    {
      name: 'alts',
      port: 8443,
      protocol: 'HTTPS',
      hostname: 'a.example.com',
      tls: { certificateRefs: [{ name: 'cert' }] },
      allowedRoutes: all,
    },
  ]);
  const route = (name: string, sectionName: string) => ({
    metadata: { namespace: 'app', name, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      parentRefs: [{ name: 'gw', namespace: 'infra', sectionName }],
      rules: [{ backendRefs: [{ name: name, port: 80 }] }],
    },
  });
  const c = compileGateways([g], [route('main', 'web'), route('alt', 'alt'), route('secure', 'alts')], ctx());
  assert.deepEqual(
    c.routes.map((r) => r.backend.service),
    ['main'],
  );
  assert.deepEqual([...c.ports.keys()], [8081, 8443]);
  assert.deepEqual(
    c.ports.get(8081)?.routes.map((r) => [r.host, r.backend.service]),
    [['', 'alt']],
  );
  const secure = c.ports.get(8443)!;
  assert.equal(secure.protocol, 'HTTPS');
  assert.deepEqual(
    secure.tls.map((t) => [t.host, t.entry.secret.name]),
    [['a.example.com', 'cert']],
  );
  assert.deepEqual(
    secure.routes.map((r) => r.host),
    ['a.example.com'],
    "a route without hostnames takes the listener's",
  );
  assert.deepEqual(c.tls, [], 'the HTTPS listener on 8443 has its certificate on its own port only');
  const t = buildRouteTable([], { routes: secure.routes, tls: secure.tls });
  assert.equal(
    t.match('a.example.com', '/', { method: 'GET', header: () => undefined })?.route.backend.service,
    'secure',
  );
  const ls = c.gatewayStatus.get('infra/gw')!.listeners;
  for (const l of ls) {
    assert.equal(byType(l.conditions).Conflicted, 'False/NoConflicts');
    assert.equal(byType(l.conditions).Programmed, 'True/Programmed');
    assert.equal(l.attachedRoutes, 1);
  }
  // A custom ingress port counts as the ingress's own.
  const custom = compileGateways([g], [], ctx({ mainPorts: { http: [80, 8081], https: [443] } }));
  assert.deepEqual([...custom.ports.keys()], [8443]);
});

test('conflicts: another protocol on the port, the same hostname twice; the older listener keeps it', () => {
  const older = gw('older', [
    { name: 'a', port: 9000, protocol: 'HTTP', hostname: 'a.example.com' },
    { name: 'b', port: 9000, protocol: 'HTTP', hostname: 'b.example.com' },
    { name: 't', port: 9100, protocol: 'TCP' },
  ]);
  const newer = gw(
    'newer',
    [
      { name: 'dup', port: 9000, protocol: 'HTTP', hostname: 'a.example.com' },
      { name: 'proto', port: 9000, protocol: 'TCP' },
      { name: 'tcp2', port: 9100, protocol: 'TCP' },
      { name: 'onhttps', port: 443, protocol: 'HTTP' },
    ],
    '2026-02-01T00:00:00Z',
  );
  const c = compileGateways([newer, older], [], ctx());
  const conflicted = (g: string) =>
    c.gatewayStatus.get(`infra/${g}`)!.listeners.map((l) => [l.name, byType(l.conditions).Conflicted]);
  assert.deepEqual(conflicted('older'), [
    ['a', 'False/NoConflicts'],
    ['b', 'False/NoConflicts'],
    ['t', 'False/NoConflicts'],
  ]);
  assert.deepEqual(conflicted('newer'), [
    ['dup', 'True/HostnameConflict'],
    ['proto', 'True/ProtocolConflict'],
    ['tcp2', 'True/HostnameConflict'],
    ['onhttps', 'True/ProtocolConflict'],
  ]);
  for (const l of c.gatewayStatus.get('infra/newer')!.listeners)
    assert.equal(byType(l.conditions).Programmed, 'False/Invalid');
  assert.deepEqual([...c.ports.keys()].sort(), [9000, 9100]);
});

test('a port that cannot be listened on: Accepted=False PortUnavailable, Programmed=False', () => {
  const c = compileGateways(
    [gw('gw', [{ name: 'alt', port: 8081, protocol: 'HTTP' }])],
    [],
    ctx({ unavailablePorts: new Set([8081]) }),
  );
  const l = c.gatewayStatus.get('infra/gw')!.listeners[0];
  assert.equal(byType(l.conditions).Accepted, 'False/PortUnavailable');
  assert.equal(byType(l.conditions).Programmed, 'False/Pending');
  assert.ok(c.ports.has(8081), 'the port stays planned, to be tried again');
});

test('GRPCRoute: service/method matches become path matches, backends spoken to over HTTP/2', () => {
  assert.deepEqual(grpcPath({ service: 'pkg.Svc', method: 'Get' }), { path: '/pkg.Svc/Get', pathType: 'Exact' });
  assert.deepEqual(grpcPath({ service: 'pkg.Svc' }), { path: '/pkg.Svc/', pathType: 'StringPrefix' });
  const m = grpcPath({ method: 'Get' });
  assert.ok(typeof m !== 'string' && m.regex?.test('/any.Svc/Get') && !m.regex.test('/any.Svc/GetAll'));
  const r = grpcPath({ type: 'RegularExpression', service: 'pkg\\..*', method: 'Get|List' });
  assert.ok(typeof r !== 'string' && r.regex?.test('/pkg.A/List') && !r.regex.test('/other.A/List'));
  assert.equal(typeof grpcPath({ type: 'RegularExpression', service: '(' }), 'string');
  const c = compileGateways(
    [gw('gw', [{ name: 'web', port: 80, protocol: 'HTTP', allowedRoutes: all }])],
    {
      grpc: [
        {
          metadata: { namespace: 'app', name: 'g', creationTimestamp: '2026-01-01T00:00:00Z', generation: 3 },
          spec: {
            parentRefs: [{ name: 'gw', namespace: 'infra' }],
            hostnames: ['grpc.example.com'],
            rules: [
              {
                matches: [
                  { method: { service: 'pkg.Svc', method: 'Get' }, headers: [{ name: 'X-Env', value: 'canary' }] },
                ],
                backendRefs: [{ name: 'canary', port: 50051 }],
              },
              { matches: [{ method: { service: 'pkg.Svc' } }], backendRefs: [{ name: 'stable', port: 50051 }] },
            ],
          },
        },
      ],
    },
    ctx(),
  );
  assert.equal(c.routeStatus.get('GRPCRoute|app/g')?.parents[0].conditions[0].reason, 'Accepted');
  assert.deepEqual(
    c.gatewayStatus.get('infra/gw')!.listeners[0].supportedKinds.map((k) => k.kind),
    ['HTTPRoute', 'GRPCRoute'],
  );
  const t = buildRouteTable([], { routes: c.routes, tls: [] });
  const match = (url: string, headers: Record<string, string> = {}) =>
    t.match('grpc.example.com', url, { method: 'POST', header: (n) => headers[n] })?.route;
  assert.equal(match('/pkg.Svc/Get', { 'x-env': 'canary' })?.backend.service, 'canary');
  assert.equal(match('/pkg.Svc/Get')?.backend.service, 'stable');
  assert.equal(match('/pkg.Svc/List')?.options.backendProtocol, 'GRPC');
  assert.equal(match('/other.Svc/List'), undefined);
});

test('TLSRoute and TCPRoute attach to TLS (Passthrough) and TCP listeners only', () => {
  const g = gw('gw', [
    { name: 'tls', port: 9443, protocol: 'TLS', tls: { mode: 'Passthrough' }, allowedRoutes: all },
    { name: 'tcp', port: 9000, protocol: 'TCP', allowedRoutes: all },
    { name: 'terminate', port: 9444, protocol: 'TLS', allowedRoutes: all },
  ]);
  const meta = (name: string) => ({ namespace: 'app', name, creationTimestamp: '2026-01-01T00:00:00Z' });
  const parentRefs = [{ name: 'gw', namespace: 'infra' }];
  const c = compileGateways(
    [g],
    {
      tls: [
        {
          metadata: meta('sni'),
          spec: { parentRefs, hostnames: ['a.example.com'], rules: [{ backendRefs: [{ name: 'a', port: 443 }] }] },
        },
      ],
      tcp: [{ metadata: meta('db'), spec: { parentRefs, rules: [{ backendRefs: [{ name: 'db', port: 5432 }] }] } }],
    },
    ctx(),
  );
  const ls = c.gatewayStatus.get('infra/gw')!.listeners;
  assert.deepEqual(
    ls.map((l) => [l.name, byType(l.conditions).Accepted, l.attachedRoutes]),
    [
      ['tls', 'True/Accepted', 1],
      ['tcp', 'True/Accepted', 1],
      ['terminate', 'False/UnsupportedValue', 0],
    ],
  );
  assert.deepEqual(
    c.ports.get(9443)?.streams.map((s) => [s.kind, s.hosts, s.backends[0].backend.service]),
    [['TLSRoute', ['a.example.com'], 'a']],
  );
  assert.deepEqual(
    c.ports.get(9000)?.streams.map((s) => [s.kind, s.hosts, s.backends[0].backend.service]),
    [['TCPRoute', [''], 'db']],
  );
  assert.equal(c.routeStatus.get('TCPRoute|app/db')?.parents[0].conditions[0].reason, 'Accepted');
  assert.equal(routeForName(c.ports.get(9443)!.streams, 'a.example.com')?.route.name, 'sni');
  assert.equal(routeForName(c.ports.get(9443)!.streams, 'b.example.com'), undefined);
});

test('serverName reads the SNI of a real ClientHello, and waits for a whole record', async () => {
  const first = await new Promise<Buffer>((resolve) => {
    const server = createServer((s) =>
      s.once('data', (d: Buffer) => {
        s.destroy();
        server.close();
        resolve(d);
      }),
    );
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      tlsConnect({ host: '127.0.0.1', port, servername: 'Svc.Example.com' }).on('error', () => undefined);
    });
  });
  assert.equal(serverName(first), 'svc.example.com');
  assert.equal(serverName(first.subarray(0, 20)), undefined);
  assert.equal(serverName(Buffer.from('GET / HTTP/1.1\r\n')), null);
  assert.equal(
    routeForName(
      [
        { route: { namespace: 'a', name: 'wild' }, kind: 'TLSRoute', hosts: ['*.example.com'], backends: [] },
        { route: { namespace: 'a', name: 'any' }, kind: 'TLSRoute', hosts: [''], backends: [] },
      ],
      'svc.example.com',
    )?.route.name,
    'wild',
  );
});

test('UDPRoute: attaches to UDP listeners by sectionName or port, weighted backends, status as upstream', () => {
  const g = gw('gw', [
    { name: 'dns', port: 5353, protocol: 'UDP', allowedRoutes: all },
    { name: 'tcp', port: 9000, protocol: 'TCP', allowedRoutes: all },
    { name: 'clash', port: 9000, protocol: 'UDP', allowedRoutes: all },
    { name: 'same-ns', port: 5354, protocol: 'UDP' },
  ]);
  const udp = (name: string, parentRef: object, backendRefs: BackendRef[]) => ({
    metadata: { namespace: 'app', name, creationTimestamp: '2026-01-01T00:00:00Z', generation: 2 },
    spec: { parentRefs: [{ name: 'gw', namespace: 'infra', ...parentRef }], rules: [{ backendRefs }] },
  });
  const c = compileGateways(
    [g],
    {
      udp: [
        udp('by-section', { sectionName: 'dns' }, [
          { name: 'a', port: 53, weight: 3 },
          { name: 'b', port: 53, weight: 1 },
          { name: 'off', port: 53, weight: 0 },
        ]),
        udp('by-port', { port: 5353 }, [{ name: 'a', port: 53 }]),
        udp('wrong-port', { port: 5999 }, [{ name: 'a', port: 53 }]),
        udp('to-tcp', { sectionName: 'tcp' }, [{ name: 'a', port: 53 }]),
        udp('other-ns', { sectionName: 'same-ns' }, [{ name: 'a', port: 53 }]),
        udp('missing', { sectionName: 'dns' }, [{ name: 'gone', port: 53 }]),
      ],
    },
    ctx({ serviceExists: (_ns, name) => name !== 'gone' }),
  );
  const ls = c.gatewayStatus.get('infra/gw')!.listeners;
  assert.deepEqual(
    ls.map((l) => [l.name, l.supportedKinds.map((k) => k.kind), l.attachedRoutes, byType(l.conditions).Conflicted]),
    [
      ['dns', ['UDPRoute'], 3, 'False/NoConflicts'],
      ['tcp', ['TCPRoute'], 0, 'False/NoConflicts'],
      ['clash', ['UDPRoute'], 0, 'True/ProtocolConflict'],
      ['same-ns', ['UDPRoute'], 0, 'False/NoConflicts'],
    ],
  );
  const plan = c.ports.get(5353)!;
  assert.equal(plan.protocol, 'UDP');
  assert.deepEqual(
    plan.streams.map((s) => [s.kind, s.route.name, s.backends.map((b) => `${b.backend.service}:${b.weight}`)]),
    // Oldest first, then by namespace/name (upstream's order for conflicts): the first one serves.
    [
      ['UDPRoute', 'by-port', ['a:1']],
      ['UDPRoute', 'by-section', ['a:3', 'b:1']],
      ['UDPRoute', 'missing', [':1']],
    ],
  );
  const status = (name: string) => {
    const p = c.routeStatus.get(`UDPRoute|app/${name}`)!.parents[0];
    return [byType(p.conditions).Accepted, byType(p.conditions).ResolvedRefs, p.conditions[0].observedGeneration];
  };
  assert.deepEqual(status('by-section'), ['True/Accepted', 'True/ResolvedRefs', 2]);
  assert.deepEqual(status('wrong-port'), ['False/NoMatchingParent', 'True/ResolvedRefs', 2]);
  assert.deepEqual(status('to-tcp'), ['False/NotAllowedByListeners', 'True/ResolvedRefs', 2]);
  assert.deepEqual(status('other-ns'), ['False/NotAllowedByListeners', 'True/ResolvedRefs', 2]);
  assert.deepEqual(status('missing'), ['True/Accepted', 'False/BackendNotFound', 2]);
  assert.deepEqual(c.routeStatus.get('UDPRoute|app/by-port')!.parents[0].parentRef, {
    group: 'gateway.networking.k8s.io',
    kind: 'Gateway',
    namespace: 'infra',
    name: 'gw',
    port: 5353,
  });
});

/** A UDP server answering every datagram with `tag:` and the datagram. */
async function udpEcho(tag: string): Promise<{ socket: UdpSocket; endpoint: Endpoint }> {
  const socket = createSocket('udp4');
  socket.on('message', (m, from) => socket.send(`${tag}:${m.toString()}`, from.port, from.address));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return { socket, endpoint: { address: '127.0.0.1', port: socket.address().port } };
}

/** A client socket of its own (one flow): sends each text and collects the answers. */
async function udpClient(port: number) {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return {
    socket,
    ask: (text: string) =>
      new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('timeout'), 3000);
        socket.once('message', (m) => {
          clearTimeout(timer);
          resolve(m.toString());
        });
        socket.send(text, port, '127.0.0.1');
      }),
  };
}

test('the UDP relay keeps a client flow on its endpoint, answers each client, and ends idle flows', async () => {
  const a = await udpEcho('a');
  const b = await udpEcho('b');
  const order = [a.endpoint, b.endpoint];
  let picks = 0;
  const relay = await listenUdpRelay({
    port: 0,
    bindAddress: '127.0.0.1',
    idleMs: 300,
    pick: () => order[picks++ % 2],
  });
  try {
    const port = relay.port;
    const one = await udpClient(port);
    const two = await udpClient(port);
    assert.equal(await one.ask('x'), 'a:x');
    assert.equal(await two.ask('y'), 'b:y');
    // Datagrams of a flow stay with the endpoint its first one picked.
    for (let i = 0; i < 5; i++) assert.equal(await one.ask(`x${i}`), `a:x${i}`);
    assert.equal(relay.flows, 2);
    assert.equal(picks, 2);
    // Traffic keeps a flow alive past the idle timeout; silence ends it.
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(await one.ask('alive'), 'a:alive');
    }
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(relay.flows, 0, 'idle flows are closed');
    assert.equal(await one.ask('again'), 'a:again', 'a new flow picks again (the third pick: a)');
    assert.equal(picks, 3);
    one.socket.close();
    two.socket.close();
  } finally {
    await relay.close();
    a.socket.close();
    b.socket.close();
  }
  // No endpoint: the datagram is dropped, nothing answers.
  const none = await listenUdpRelay({ port: 0, bindAddress: '127.0.0.1', idleMs: 300, pick: () => undefined });
  const c = await udpClient(none.port);
  assert.equal(await c.ask('lost'), 'timeout');
  assert.equal(none.flows, 0);
  c.socket.close();
  await none.close();
});

test('a TLS Passthrough listener on the HTTPS port shares it with HTTPS: its TLSRoutes pass through there', () => {
  const g = gw('gw', [
    { name: 'https', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'cert' }] }, allowedRoutes: all },
    {
      name: 'pass',
      port: 443,
      protocol: 'TLS',
      hostname: 'db.example.com',
      tls: { mode: 'Passthrough' },
      allowedRoutes: all,
    },
    { name: 'tcp', port: 443, protocol: 'TCP', allowedRoutes: all },
  ]);
  const tls = {
    metadata: { namespace: 'app', name: 'db', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { parentRefs: [{ name: 'gw', namespace: 'infra' }], rules: [{ backendRefs: [{ name: 'db', port: 5443 }] }] },
  };
  const c = compileGateways([g], { tls: [tls] }, ctx());
  const listeners = c.gatewayStatus.get('infra/gw')!.listeners;
  assert.deepEqual(
    listeners.map((l) => [l.name, byType(l.conditions).Conflicted, byType(l.conditions).Programmed]),
    [
      ['https', 'False/NoConflicts', 'True/Programmed'],
      ['pass', 'False/NoConflicts', 'True/Programmed'],
      ['tcp', 'True/ProtocolConflict', 'False/Invalid'],
    ],
  );
  assert.deepEqual(c.passthrough, [
    {
      route: { namespace: 'app', name: 'db' },
      kind: 'TLSRoute',
      hosts: ['db.example.com'],
      backends: [{ backend: { namespace: 'app', service: 'db', port: { number: 5443 } }, weight: 1 }],
    },
  ]);
  assert.equal(c.ports.size, 0, 'no socket of its own: the HTTPS port of the ingress reads the SNI');
  assert.equal(listeners[1].attachedRoutes, 1);
});

test('HTTPS and TLS Passthrough listeners share a port of their own, told apart by hostname (SNI)', () => {
  const pass = (name: string, hostname?: string): Listener => ({
    name,
    port: 8443,
    protocol: 'TLS',
    ...(hostname ? { hostname } : {}),
    tls: { mode: 'Passthrough' },
    allowedRoutes: all,
  });
  const g = gw('gw', [
    pass('db', 'db.example.com'),
    pass('mq', 'mq.example.com'),
    {
      name: 'web',
      port: 8443,
      protocol: 'HTTPS',
      hostname: 'web.example.com',
      tls: { certificateRefs: [{ name: 'cert' }] },
    },
    {
      name: 'dup',
      port: 8443,
      protocol: 'HTTPS',
      hostname: 'db.example.com',
      tls: { certificateRefs: [{ name: 'cert' }] },
    },
    pass('dup2', 'mq.example.com'),
    { name: 'tcp', port: 8443, protocol: 'TCP', allowedRoutes: all },
    // TLS listeners alone on a port: a TLS port, as before.
    pass('solo', 'solo.example.com'),
  ]);
  g.spec!.listeners![6].port = 9443;
  const tlsRoute = (name: string, sectionName: string, hostnames?: string[]) => ({
    metadata: { namespace: 'app', name, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      parentRefs: [{ name: 'gw', namespace: 'infra', sectionName }],
      ...(hostnames ? { hostnames } : {}),
      rules: [{ backendRefs: [{ name, port: 443 }] }],
    },
  });
  const c = compileGateways(
    [g],
    {
      tls: [tlsRoute('db', 'db'), tlsRoute('mq', 'mq', ['*.example.com']), tlsRoute('solo', 'solo')],
      http: [
        {
          metadata: { namespace: 'infra', name: 'web', creationTimestamp: '2026-01-01T00:00:00Z' },
          spec: {
            parentRefs: [{ name: 'gw', sectionName: 'web' }],
            rules: [{ backendRefs: [{ name: 'web', port: 80 }] }],
          },
        },
      ],
    },
    ctx(),
  );
  const listeners = c.gatewayStatus.get('infra/gw')!.listeners;
  assert.deepEqual(
    listeners.map((l) => [l.name, byType(l.conditions).Conflicted, byType(l.conditions).Programmed, l.attachedRoutes]),
    [
      ['db', 'False/NoConflicts', 'True/Programmed', 1],
      ['mq', 'False/NoConflicts', 'True/Programmed', 1],
      ['web', 'False/NoConflicts', 'True/Programmed', 1],
      ['dup', 'True/HostnameConflict', 'False/Invalid', 0],
      ['dup2', 'True/HostnameConflict', 'False/Invalid', 0],
      ['tcp', 'True/ProtocolConflict', 'False/Invalid', 0],
      ['solo', 'False/NoConflicts', 'True/Programmed', 1],
    ],
  );
  assert.deepEqual(listeners[0].supportedKinds, [{ group: 'gateway.networking.k8s.io', kind: 'TLSRoute' }]);
  const mixed = c.ports.get(8443)!;
  assert.equal(mixed.protocol, 'HTTPS', 'one TLS server for the terminated hosts, SNI read first');
  assert.deepEqual(
    mixed.streams.map((s) => [s.route.name, s.hosts]),
    [
      ['db', ['db.example.com']],
      ['mq', ['mq.example.com']],
    ],
  );
  assert.deepEqual([...new Set(mixed.routes.map((r) => r.host))], ['web.example.com']);
  assert.deepEqual(
    mixed.tls.map((t) => t.host),
    ['web.example.com'],
  );
  assert.equal(routeForName(mixed.streams, 'db.example.com')?.route.name, 'db');
  assert.equal(routeForName(mixed.streams, 'other.example.com'), undefined, 'an unknown name is closed');
  assert.equal(c.ports.get(9443)?.protocol, 'TLS');
});
