// The ingress's operational side without containers: TCP and UDP services through ConfigMaps
// (--ingress-tcp-services-configmap / --ingress-udp-..., ingress-nginx's tcp-services /
// udp-services format), the access log (--ingress-access-log) and the Prometheus metrics
// (--ingress-metrics-port). Backends are servers in this test process behind a selector-less
// Service and a hand-written EndpointSlice.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createNetServer, connect, type Server } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createHttpServer, get as httpGet, type Server as HttpServer } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingressFlags, startCluster, until, type Cluster } from './harness.js';
import { freePort } from '../support/ports.js';

let c: Cluster;
let tcpEcho: Server;
let udpEcho: UdpSocket;
let tcpEchoPort = 0;
let udpEchoPort = 0;

/** Sends a line over TCP and reads the echo (or the error code). */
function tcpRoundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    sock.setTimeout(2000, () => sock.destroy());
    sock.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) sock.end();
    });
    sock.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    sock.on('close', () => resolve(got));
    sock.write(text);
  });
}

function udpRoundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      resolve('timeout');
    }, 1000);
    sock.on('message', (m: Buffer) => {
      clearTimeout(timer);
      sock.close();
      resolve(m.toString());
    });
    sock.send(text, port, '127.0.0.1');
  });
}

const apply = (...objs: object[]) =>
  c.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));

const configMap = (name: string, data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'kube-system' },
  data,
});

let tcpPort = 0;
let udpPort = 0;
let httpPort = 0;
let metricsPort = 0;
let web: HttpServer;
const accessLog = join(mkdtempSync(join(tmpdir(), 'k8ts-ingress-log-')), 'access.log');

function fetchText(port: number, path: string, host = 'localhost'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port, path, headers: { host, 'user-agent': 'ops-test' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

before(async () => {
  tcpEcho = createNetServer((s) => s.pipe(s));
  await new Promise<void>((r) => tcpEcho.listen(0, '127.0.0.1', () => r()));
  tcpEchoPort = (tcpEcho.address() as { port: number }).port;
  udpEcho = createSocket('udp4');
  udpEcho.on('message', (m, from) => udpEcho.send(`echo:${m.toString()}`, from.port, from.address));
  await new Promise<void>((r) => udpEcho.bind(0, '127.0.0.1', () => r()));
  udpEchoPort = udpEcho.address().port;
  tcpPort = await freePort();
  udpPort = await freePort();
  httpPort = await freePort();
  metricsPort = await freePort();
  web = createHttpServer((_req, res) => res.end('hello from web\n'));
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
  const webPort = (web.address() as { port: number }).port;
  c = await startCluster({
    args: [
      '--ingress-access-log',
      accessLog,
      '--ingress-metrics-port',
      String(metricsPort),
      ...ingressFlags(httpPort, await freePort()),
      '--ingress-tcp-services-configmap',
      'kube-system/tcp-services',
      '--ingress-udp-services-configmap',
      'kube-system/udp-services',
    ],
  });
  await apply(
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'echo' },
      spec: {
        ports: [
          { name: 'stream', port: 7000, targetPort: tcpEchoPort, protocol: 'TCP' },
          { name: 'dgram', port: 7001, targetPort: udpEchoPort, protocol: 'UDP' },
        ],
      },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'echo-local', labels: { 'kubernetes.io/service-name': 'echo' } },
      addressType: 'IPv4',
      ports: [
        { name: 'stream', port: tcpEchoPort, protocol: 'TCP' },
        { name: 'dgram', port: udpEchoPort, protocol: 'UDP' },
      ],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { ports: [{ name: 'http', port: 80, targetPort: webPort }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-local', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: webPort, protocol: 'TCP' }],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'web' },
      spec: {
        rules: [
          {
            host: 'web.test',
            http: {
              paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }],
            },
          },
        ],
      },
    },
  );
});

after(async () => {
  if (c) await c.cleanup();
  tcpEcho?.close();
  web?.close();
  udpEcho?.close();
});

test('a TCP service from the ConfigMap: by port name, then moved to another port', async () => {
  await apply(configMap('tcp-services', { [String(tcpPort)]: 'default/echo:stream' }));
  await until('the TCP port echoes', async () => (await tcpRoundTrip(tcpPort, 'hello')) === 'hello', 20_000, 200);
  const big = 'x'.repeat(200_000);
  assert.equal(await tcpRoundTrip(tcpPort, big), big, 'a stream larger than one buffer passes whole');
  const moved = await freePort();
  await apply(configMap('tcp-services', { [String(moved)]: 'default/echo:7000', '70000': 'default/echo:7000' }));
  await until('the new port echoes', async () => (await tcpRoundTrip(moved, 'again')) === 'again', 20_000, 200);
  await until('the old port is closed', async () => (await tcpRoundTrip(tcpPort, 'x')) === 'ECONNREFUSED', 20_000, 200);
});

test('a UDP service from the ConfigMap: replies come back to each client', async () => {
  await apply(configMap('udp-services', { [String(udpPort)]: 'default/echo:7001' }));
  await until('the UDP port echoes', async () => (await udpRoundTrip(udpPort, 'ping')) === 'echo:ping', 20_000, 200);
  const answers = await Promise.all(['a', 'b', 'c'].map((t) => udpRoundTrip(udpPort, t)));
  assert.deepEqual(answers, ['echo:a', 'echo:b', 'echo:c']);
});

test('access log: one JSON line per request, with the route and the upstream', async () => {
  await until(
    'the Ingress serves',
    async () => (await fetchText(httpPort, '/page?x=1', 'web.test')).status === 200,
    20_000,
    200,
  );
  await until(
    'the line is written',
    () => Promise.resolve(readFileSync(accessLog, 'utf8').includes('/page?x=1')),
    5000,
    100,
  );
  const line = readFileSync(accessLog, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.uri === '/page?x=1' && l.status === 200);
  assert.ok(line, 'a line for the request');
  assert.equal(line.method, 'GET');
  assert.equal(line.host, 'web.test');
  assert.equal(line.namespace, 'default');
  assert.equal(line.ingress_name, 'web');
  assert.equal(line.service_name, 'web');
  assert.equal(line.http_user_agent, 'ops-test');
  assert.equal(line.upstream_status, 200);
  assert.match(String(line.upstream_addr), /^127\.0\.0\.1:\d+$/);
  assert.equal(typeof line.request_time, 'number');
  assert.equal(typeof line.upstream_response_time, 'number');
});

test('metrics: ingress-nginx names, by ingress, host and status, with latency histograms', async () => {
  await fetchText(httpPort, '/', 'web.test');
  await fetchText(httpPort, '/', 'nothing.test');
  const { status, body } = await fetchText(metricsPort, '/metrics');
  assert.equal(status, 200);
  assert.match(
    body,
    /nginx_ingress_controller_requests\{namespace="default",ingress="web",service="web",host="web\.test",path="\/",method="GET",status="200"\} [1-9]/,
  );
  assert.match(body, /nginx_ingress_controller_requests\{[^}]*host="nothing\.test"[^}]*status="404"\} 1/);
  assert.match(
    body,
    /nginx_ingress_controller_request_duration_seconds_bucket\{le="0\.005",namespace="default",ingress="web"/,
  );
  assert.match(
    body,
    /nginx_ingress_controller_response_duration_seconds_count\{namespace="default",ingress="web"[^}]*\} [1-9]/,
  );
  assert.equal((await fetchText(metricsPort, '/healthz')).body, 'ok');
});
