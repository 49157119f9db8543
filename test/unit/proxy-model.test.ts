import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Endpoint as SliceEndpoint } from 'kubernetes-types/discovery/v1.js';
import { buildModel, ModelTracker } from '../../src/proxy/model.js';
import { staleUDPFlows } from '../../src/proxy/proxier.js';
import { svc, slice } from './proxy-fixtures.js';

const opts = { nodeName: 'node-a', defaultScheduler: 'rr' as const };

const ep = (
  ip: string,
  conditions: SliceEndpoint['conditions'] = { ready: true },
  nodeName = 'node-a',
): SliceEndpoint => ({ addresses: [ip], conditions, nodeName });

test('only ready endpoints; a nil ready counts as ready', () => {
  const [p] = buildModel(
    [svc('web', {})],
    [slice('web', [{ port: 8080 }], [ep('10.42.0.2'), ep('10.42.0.3', { ready: false }), ep('10.42.0.4', {})])],
    opts,
  );
  assert.deepEqual(
    p.clusterEndpoints.map((e) => e.ip),
    ['10.42.0.2', '10.42.0.4'],
  );
  assert.equal(p.key, 'default/web:');
  assert.equal(p.clusterEndpoints[0].port, 8080);
});

test('no ready endpoint: falls back to serving-terminating ones, never to not-serving ones', () => {
  const eps = [
    ep('10.42.0.2', { ready: false, serving: true, terminating: true }),
    ep('10.42.0.3', { ready: false, serving: false, terminating: true }),
    ep('10.42.0.4', { ready: false, serving: false }),
  ];
  const [p] = buildModel([svc('web', {})], [slice('web', [{ port: 8080 }], eps)], opts);
  assert.deepEqual(
    p.clusterEndpoints.map((e) => e.ip),
    ['10.42.0.2'],
  );
  // Once one is ready again, terminating ones get no new traffic.
  const [q] = buildModel([svc('web', {})], [slice('web', [{ port: 8080 }], [...eps, ep('10.42.0.9')])], opts);
  assert.deepEqual(
    q.clusterEndpoints.map((e) => e.ip),
    ['10.42.0.9'],
  );
});

test('headless and ExternalName services are not proxied; other namespaces and services do not mix', () => {
  const services = [
    svc('h', { clusterIP: 'None', clusterIPs: ['None'] }),
    svc('x', { type: 'ExternalName', externalName: 'example.com', clusterIP: undefined }),
    svc('web', {}),
  ];
  const other = {
    ...slice('web', [{ port: 1 }], [ep('10.42.0.7')]),
    metadata: { name: 'o', namespace: 'other', labels: { 'kubernetes.io/service-name': 'web' } },
  };
  const model = buildModel(services, [slice('h', [{ port: 80 }], [ep('10.42.0.2')]), other], opts);
  assert.deepEqual(
    model.map((p) => p.key),
    ['default/web:'],
  );
  assert.deepEqual(model[0].allEndpoints, []);
});

test('named targetPorts resolve per endpoint: each slice carries its own port number', () => {
  const s = svc('web', {
    ports: [
      { name: 'http', port: 80, targetPort: 'web' },
      { name: 'dns', port: 53, protocol: 'UDP' },
    ],
  });
  const slices = [
    slice('web', [{ name: 'http', port: 8080 }], [ep('10.42.0.2')], 'a'),
    slice('web', [{ name: 'http', port: 9090 }], [ep('10.42.0.3')], 'b'),
    slice('web', [{ name: 'dns', port: 5353, protocol: 'UDP' }], [ep('10.42.0.4')], 'c'),
  ];
  const [dns, http] = buildModel([s], slices, opts);
  assert.deepEqual(
    http.clusterEndpoints.map((e) => `${e.ip}:${e.port}`),
    ['10.42.0.2:8080', '10.42.0.3:9090'],
  );
  assert.deepEqual(
    dns.clusterEndpoints.map((e) => `${e.ip}:${e.port}`),
    ['10.42.0.4:5353'],
  );
  assert.equal(dns.protocol, 'UDP');
});

test('traffic policies Local keep to endpoints on this node, each for its kind of traffic', () => {
  const eps = [ep('10.42.0.2', { ready: true }, 'node-a'), ep('10.42.1.2', { ready: true }, 'node-b')];
  const [itp] = buildModel(
    [svc('web', { internalTrafficPolicy: 'Local', type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] })],
    [slice('web', [{ port: 8080 }], eps)],
    opts,
  );
  assert.deepEqual(
    itp.clusterEndpoints.map((e) => e.ip),
    ['10.42.0.2'],
  );
  assert.deepEqual(
    itp.externalEndpoints.map((e) => e.ip),
    ['10.42.0.2', '10.42.1.2'],
  );
  assert.equal(itp.nodePort, 30080);
  const [etp] = buildModel(
    [
      svc(
        'web',
        {
          externalTrafficPolicy: 'Local',
          type: 'LoadBalancer',
          healthCheckNodePort: 31000,
          ports: [{ port: 80, nodePort: 30080 }],
        },
        { status: { loadBalancer: { ingress: [{ ip: '192.0.2.50' }] } } },
      ),
    ],
    [slice('web', [{ port: 8080 }], eps)],
    { ...opts, nodeName: 'node-c' },
  );
  assert.deepEqual(
    etp.clusterEndpoints.map((e) => e.ip),
    ['10.42.0.2', '10.42.1.2'],
  );
  assert.deepEqual(etp.externalEndpoints, []);
  assert.equal(etp.externalPolicyLocal, true);
  assert.deepEqual(etp.loadBalancerIPs, ['192.0.2.50']);
  assert.equal(etp.healthCheckNodePort, 31000);
  // externalTrafficPolicy only means something for NodePort and LoadBalancer services.
  const [plain] = buildModel(
    [svc('web', { externalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30080 }] })],
    [],
    opts,
  );
  assert.equal(plain.externalPolicyLocal, false);
  assert.equal(plain.nodePort, undefined);
});

test('sessionAffinity ClientIP with its timeout (default 3 hours); the scheduler annotation', () => {
  const [a] = buildModel(
    [svc('web', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } })],
    [],
    opts,
  );
  assert.equal(a.affinitySeconds, 60);
  const [b] = buildModel(
    [
      svc(
        'web',
        { sessionAffinity: 'ClientIP' },
        { metadata: { name: 'web', annotations: { 'k8ts.io/lb-scheduler': 'lc' } } },
      ),
    ],
    [],
    opts,
  );
  assert.equal(b.affinitySeconds, 10800);
  assert.equal(b.scheduler, 'lc');
  const [c] = buildModel(
    [svc('web', {}, { metadata: { name: 'web', annotations: { 'k8ts.io/lb-scheduler': 'nonsense' } } })],
    [],
    { ...opts, defaultScheduler: 'sh' },
  );
  assert.equal(c.scheduler, 'sh');
  assert.equal(c.affinitySeconds, undefined);
});

test('stale UDP flows: endpoints gone and ports that rejected until now are flushed', () => {
  const s = svc('dns', { ports: [{ port: 53, protocol: 'UDP' }] });
  const before = buildModel(
    [s],
    [slice('dns', [{ port: 53, protocol: 'UDP' }], [ep('10.42.0.2'), ep('10.42.0.3')])],
    opts,
  );
  const after = buildModel([s], [slice('dns', [{ port: 53, protocol: 'UDP' }], [ep('10.42.0.3')])], opts);
  assert.deepEqual(staleUDPFlows(before, after), [
    ['-D', '-p', 'udp', '--orig-dst', '10.43.0.20', '--dst-nat', '10.42.0.2'],
  ]);
  const none = buildModel([s], [], opts);
  assert.deepEqual(staleUDPFlows(none, after), [
    ['-D', '-p', 'udp', '--orig-dst', '10.43.0.20', '--orig-port-dst', '53'],
  ]);
  assert.deepEqual(staleUDPFlows(after, []), [['-D', '-p', 'udp', '--orig-dst', '10.43.0.20']]);
  // TCP needs nothing: its connections end with their endpoint.
  const tcp = buildModel([svc('web', {})], [slice('web', [{ port: 8080 }], [ep('10.42.0.2')])], opts);
  assert.deepEqual(staleUDPFlows(tcp, buildModel([svc('web', {})], [], opts)), []);
});

test('the tracker recomputes only the Services an event touched; the others keep their port objects', () => {
  const t = new ModelTracker(opts);
  const a = svc('a', { clusterIP: '10.43.0.41' });
  const b = svc('b', { clusterIP: '10.43.0.42' });
  t.setService(a);
  t.setService(b);
  t.setSlice(slice('a', [{ port: 8080 }], [ep('10.42.0.2')]));
  t.setSlice(slice('b', [{ port: 8080 }], [ep('10.42.0.3')]));
  const [a1, b1] = t.ports();
  assert.equal(t.ports()[0], a1, 'nothing changed: the same objects');
  t.setSlice(slice('b', [{ port: 8080 }], [ep('10.42.0.4')]));
  const [a2, b2] = t.ports();
  assert.equal(a2, a1);
  assert.notEqual(b2, b1);
  assert.deepEqual(
    b2.allEndpoints.map((e) => e.ip),
    ['10.42.0.4'],
  );
  // A slice relabelled to another Service leaves the first without endpoints.
  t.setSlice(slice('a', [{ port: 8080 }], [ep('10.42.0.5')], 'b-x'));
  const [a3, b3] = t.ports();
  assert.deepEqual(
    a3.allEndpoints.map((e) => e.ip),
    ['10.42.0.2', '10.42.0.5'],
  );
  assert.deepEqual(b3.allEndpoints, []);
  t.deleteService(a);
  assert.deepEqual(
    t.ports().map((p) => p.name),
    ['b'],
  );
  // The same result as building from every object at once.
  t.deleteSlice(slice('a', [], [], 'b-x'));
  assert.deepEqual(t.ports(), buildModel([b], [], opts));
});
