// Gateway API UDPRoute end to end: two UDP echo pods (process runtime: node's dgram, each on a
// port of the host) behind Services, a Gateway with a UDP listener, and a UDPRoute splitting
// client flows by weight. Datagrams sent to the listener port come back from a pod; a weight of 0
// sends nothing to its backend, equal weights reach both; the route and listener status are
// upstream's (Accepted, ResolvedRefs, attachedRoutes). Endpoints come from the EndpointSlices the
// endpoint controller writes for the pods.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { ingressFlags, importTestImages, startCluster, until, waitForReadyNode, type Cluster } from './harness.js';
import { freePort } from '../support/ports.js';

let c: Cluster;
let listenerPort = 0;
const podPorts: Record<string, number> = {};

const apply = (...objs: object[]) =>
  c.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));

/** Answers each datagram with `NAME:` and the datagram. */
const ECHO = `const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(process.env.NAME + ':' + m, r.port, r.address));
s.bind(Number(process.env.PORT));
process.on('SIGTERM', () => process.exit(0));`;

const echo = (name: string) => [
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'echo',
          image: 'k8ts.local/node:20',
          command: ['node', '-e', ECHO],
          env: [
            { name: 'NAME', value: name },
            { name: 'PORT', value: String(podPorts[name]) },
          ],
          ports: [{ name: 'dns', containerPort: podPorts[name], protocol: 'UDP' }],
        },
      ],
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { selector: { app: name }, ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' }] },
  },
];

const route = (weights: [number, number]) => ({
  apiVersion: 'gateway.networking.k8s.io/v1alpha2',
  kind: 'UDPRoute',
  metadata: { name: 'dns' },
  spec: {
    parentRefs: [{ name: 'gw', sectionName: 'dns' }],
    rules: [
      {
        backendRefs: [
          { name: 'echo-a', port: 53, weight: weights[0] },
          { name: 'echo-b', port: 53, weight: weights[1] },
        ],
      },
    ],
  },
});

/** Sends `text` from a socket of its own (a new flow) to the listener; the answer or 'timeout'. */
function ask(text: string): Promise<string> {
  const s = createSocket('udp4');
  return new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), 2000);
    s.once('message', (m) => {
      clearTimeout(timer);
      resolve(m.toString());
    });
    s.send(text, listenerPort, '127.0.0.1');
  }).finally(() => s.close());
}

/** Which backends answer `n` new flows. */
async function spread(n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const got = await ask(`q${i}`);
    const who = got.endsWith(`:q${i}`) ? got.split(':')[0] : got;
    seen[who] = (seen[who] ?? 0) + 1;
  }
  return seen;
}

before(async () => {
  listenerPort = await freePort();
  podPorts['echo-a'] = await freePort();
  podPorts['echo-b'] = await freePort();
  c = await startCluster({
    agent: true,
    args: ['--runtime', 'process', ...ingressFlags(await freePort(), await freePort())],
  });
  await waitForReadyNode(c);
  await importTestImages(c, ['node']);
  await apply(...echo('echo-a'), ...echo('echo-b'));
  await until(
    'the Gateway API CRDs are served',
    async () =>
      await c.k(['get', 'udproutes.gateway.networking.k8s.io']).then(
        () => true,
        () => false,
      ),
    60_000,
    500,
  );
  await apply(
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'gw' },
      spec: {
        gatewayClassName: 'k8ts',
        listeners: [{ name: 'dns', port: listenerPort, protocol: 'UDP' }],
      },
    },
    route([1, 0]),
  );
  await c.k(['wait', '--for=condition=Ready', 'pod/echo-a', 'pod/echo-b', '--timeout=180s']);
});

after(async () => {
  if (c) await c.cleanup();
});

test('a UDP listener relays datagrams to the UDPRoute backends, weights honoured', { timeout: 240_000 }, async () => {
  let last = '';
  await until(
    'a datagram through the UDP listener is echoed by echo-a',
    async () => (last = await ask('hi')) === 'echo-a:hi',
    {
      timeoutMs: 90_000,
      stepMs: 500,
      diag: () => `last answer: ${last}`,
    },
  );
  // Weight 0: echo-b gets no flow.
  assert.deepEqual(await spread(20), { 'echo-a': 20 });
  await until(
    'UDPRoute status: Accepted and ResolvedRefs; the listener counts the route',
    async () => {
      const r = JSON.parse(await c.k(['get', 'udproute', 'dns', '-o', 'json'])) as {
        status?: {
          parents?: {
            parentRef: { sectionName?: string };
            conditions: { type: string; status: string; reason: string }[];
          }[];
        };
      };
      const g = JSON.parse(await c.k(['get', 'gateway', 'gw', '-o', 'json'])) as {
        status?: { listeners?: { name: string; attachedRoutes: number; supportedKinds: { kind: string }[] }[] };
      };
      const p = r.status?.parents?.[0];
      const l = g.status?.listeners?.[0];
      return (
        p?.parentRef.sectionName === 'dns' &&
        p.conditions.some((x) => x.type === 'Accepted' && x.status === 'True' && x.reason === 'Accepted') &&
        p.conditions.some((x) => x.type === 'ResolvedRefs' && x.status === 'True') &&
        l?.attachedRoutes === 1 &&
        l.supportedKinds.map((k) => k.kind).join() === 'UDPRoute'
      );
    },
    60_000,
    500,
  );
  // Equal weights: new flows reach both backends (each flow picks one; 40 all on one side: 2^-39).
  await c.k(['replace', '-f', '-'], JSON.stringify(route([1, 1])));
  let seen: Record<string, number> = {};
  await until(
    'flows reach both backends',
    async () => {
      seen = await spread(40);
      return (seen['echo-a'] ?? 0) > 0 && (seen['echo-b'] ?? 0) > 0 && seen['echo-a'] + seen['echo-b'] === 40;
    },
    { timeoutMs: 60_000, stepMs: 500, diag: () => JSON.stringify(seen) },
  );
  // A backend that does not exist: ResolvedRefs False with BackendNotFound.
  await c.k(
    ['replace', '-f', '-'],
    JSON.stringify({
      ...route([1, 1]),
      spec: { ...route([1, 1]).spec, rules: [{ backendRefs: [{ name: 'nobody', port: 53 }] }] },
    }),
  );
  await until(
    'UDPRoute ResolvedRefs False (BackendNotFound) and its datagrams dropped',
    async () => {
      const r = JSON.parse(await c.k(['get', 'udproute', 'dns', '-o', 'json'])) as {
        status?: { parents?: { conditions: { type: string; status: string; reason: string }[] }[] };
      };
      const ok = !!r.status?.parents?.[0]?.conditions.some(
        (x) => x.type === 'ResolvedRefs' && x.status === 'False' && x.reason === 'BackendNotFound',
      );
      return ok && (await ask('gone')) === 'timeout';
    },
    60_000,
    500,
  );
});
