// The ingress data plane without containers: backends are HTTP servers in this test process,
// published through a selector-less Service and a hand-written EndpointSlice. Covers what the
// container test does not: configuration swaps leave requests in flight alone, round-robin over
// endpoints, X-Forwarded-*, the remaining annotations (source ranges, body size, redirects,
// app-root, CORS, timeouts, HTTPS and gRPC-style HTTP/2 backends), default backend, class choice.
import { echoed as json, sendHttp, type SendOptions } from './ingressclient.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createH2Server, connect as h2connect, type Http2Server } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { createServer as createHttpsServer } from 'node:https';
import { selfSignedCertificate } from '../../src/ingress/tls.js';
import type { Duplex } from 'node:stream';
import { ingressFlags, startCluster, until, type Cluster } from './harness.js';
import { freePort } from '../support/ports.js';

let c: Cluster;
let httpPort = 0;
let httpsPort = 0;
const servers: (Server | Http2Server)[] = [];
/** Requests held open by the slow backend until released. */
let releaseSlow: () => void = () => undefined;

/** An HTTP backend answering `name` and what it saw (path and forwarded headers) as JSON. */
async function backend(name: string): Promise<number> {
  const s = createHttpServer((req: IncomingMessage, res) => {
    let body = 0;
    req.on('data', (d: Buffer) => (body += d.length));
    req.on('end', () => {
      const answer = () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ name, url: req.url, headers: req.headers, body }));
      };
      if (req.url?.startsWith('/slow')) {
        res.writeHead(200);
        res.write('start;');
        const prev = releaseSlow;
        releaseSlow = () => {
          prev();
          res.end('end');
        };
      } else if (req.url?.startsWith('/hang')) {
        // Never answers: the read timeout fires.
      } else answer();
    });
  });
  // A raw upgrade echo: whatever follows the handshake comes back.
  s.on('upgrade', (_req: IncomingMessage, sock: Duplex, head: Buffer) => {
    sock.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n');
    if (head.length) sock.write(head);
    sock.pipe(sock);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as { port: number }).port;
}

/** An HTTPS backend with a self-signed certificate (backend-protocol HTTPS does not verify it). */
async function httpsBackend(): Promise<number> {
  const s = createHttpsServer(await selfSignedCertificate('backend'), (req, res) =>
    res.end(JSON.stringify({ name: 'tls-backend', url: req.url, headers: req.headers })),
  );
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as { port: number }).port;
}

/** A cleartext HTTP/2 backend answering with a gRPC-style trailer. */
async function h2Backend(): Promise<number> {
  const s = createH2Server();
  s.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-path': String(headers[':path']) }));
    stream.end('h2-body');
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as { port: number }).port;
}

const send = (host: string, path: string, opts: SendOptions = {}) => sendHttp(httpPort, host, path, opts);

/** A selector-less Service with one EndpointSlice listing local ports. */
function serviceWithEndpoints(name: string, ports: number[], portName = 'http') {
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name },
      spec: { ports: [{ name: portName, port: 80, targetPort: ports[0] }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-local`, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      // One slice port, so every endpoint here listens on the same port; several ports need several slices.
      ports: [{ name: portName, port: ports[0], protocol: 'TCP' }],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    },
  ];
}

function ingress(name: string, host: string, service: string, annotations: Record<string, string> = {}, extra = {}) {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, annotations },
    spec: {
      rules: [
        {
          host,
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: service, port: { number: 80 } } } }],
          },
        },
      ],
      ...extra,
    },
  };
}

const apply = (...objs: object[]) =>
  c.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));
const A = 'nginx.ingress.kubernetes.io/';

before(async () => {
  httpPort = await freePort();
  httpsPort = await freePort();
  c = await startCluster({
    args: ingressFlags(httpPort, httpsPort),
  });
  const one = await backend('one');
  const h2 = await h2Backend();
  await apply(
    ...serviceWithEndpoints('one', [one]),
    ...serviceWithEndpoints('grpc', [h2], 'grpc'),
    ingress('plain', 'plain.test', 'one'),
    ingress('limited', 'limited.test', 'one', {
      [A + 'whitelist-source-range']: '10.0.0.0/8',
    }),
    ingress('small', 'small.test', 'one', { [A + 'proxy-body-size']: '1k', [A + 'proxy-read-timeout']: '1' }),
    ingress('moved', 'moved.test', 'one', { [A + 'permanent-redirect']: 'https://example.org/new' }),
    ingress('approot', 'approot.test', 'one', { [A + 'app-root']: '/app' }),
    ingress('cors', 'cors.test', 'one', { [A + 'enable-cors']: 'true' }),
    ingress('grpc', 'grpc.test', 'grpc', { [A + 'backend-protocol']: 'GRPC' }),
    {
      ...ingress('other-class', 'other.test', 'one'),
      spec: { ...ingress('x', 'other.test', 'one').spec, ingressClassName: 'nginx' },
    },
  );
  await until('the ingress routes', async () => (await send('plain.test', '/')).status === 200, 20_000, 200);
});

after(async () => {
  releaseSlow();
  for (const s of servers) s.close();
  if (c) await c.cleanup();
});

test('forwarded headers and the Host header reach the backend', async () => {
  const seen = json(await send('plain.test', '/p?q=1', { headers: { 'x-forwarded-for': '192.0.2.9' } }));
  assert.equal(seen.url, '/p?q=1');
  assert.equal(seen.headers.host, 'plain.test');
  assert.equal(seen.headers['x-forwarded-for'], '192.0.2.9, 127.0.0.1');
  assert.equal(seen.headers['x-real-ip'], '127.0.0.1');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.equal(seen.headers['x-forwarded-host'], 'plain.test');
  assert.equal(seen.headers['x-forwarded-port'], String(httpPort));
});

test('a configuration change leaves a request in flight alone', async () => {
  let first!: () => void;
  const started = new Promise<void>((r) => (first = r));
  const slow = send('plain.test', '/slow', { onFirstByte: () => first() });
  await started;
  // Replace the route of this very host, add others: the request keeps streaming.
  await apply(
    ingress('plain', 'plain.test', 'one', { [A + 'proxy-read-timeout']: '30' }),
    ingress('new', 'new.test', 'one'),
  );
  await until('the new route', async () => (await send('new.test', '/')).status === 200, 10_000, 100);
  releaseSlow();
  const done = await slow;
  assert.deepEqual([done.status, done.body], [200, 'start;end']);
});

test('a refused connection sends a bodiless request to the next endpoint', async () => {
  const dead = await freePort();
  const [svc, live] = serviceWithEndpoints('flaky', [await backend('flaky')]);
  const deadSlice = {
    ...live,
    metadata: { name: 'flaky-dead', labels: { 'kubernetes.io/service-name': 'flaky' } },
    ports: [{ name: 'http', port: dead, protocol: 'TCP' }],
    endpoints: [{ addresses: ['127.0.0.2'], conditions: { ready: true } }],
  };
  await apply(svc, live, deadSlice, ingress('flaky', 'flaky.test', 'flaky'));
  await until('the flaky route', async () => (await send('flaky.test', '/')).status === 200, 10_000, 100);
  for (let i = 0; i < 6; i++) assert.equal((await send('flaky.test', '/')).status, 200);
});

test('whitelist-source-range: 403 from outside the ranges', async () => {
  assert.equal((await send('limited.test', '/')).status, 403);
});

test('proxy-body-size: 413 above it; proxy-read-timeout: 504 past it', async () => {
  assert.equal((await send('small.test', '/', { method: 'POST', body: 'x'.repeat(512) })).status, 200);
  assert.equal((await send('small.test', '/', { method: 'POST', body: 'x'.repeat(4096) })).status, 413);
  assert.equal((await send('small.test', '/hang')).status, 504);
});

test('permanent-redirect and app-root', async () => {
  const moved = await send('moved.test', '/x');
  assert.deepEqual([moved.status, moved.headers.location], [301, 'https://example.org/new']);
  const root = await send('approot.test', '/');
  assert.deepEqual([root.status, root.headers.location], [302, '/app']);
  assert.equal((await send('approot.test', '/other')).status, 200);
});

test('enable-cors: preflight answered, headers on responses', async () => {
  const pre = await send('cors.test', '/', { method: 'OPTIONS', headers: { origin: 'https://a.example' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], '*');
  assert.match(String(pre.headers['access-control-allow-methods']), /PATCH/);
  const get = await send('cors.test', '/');
  assert.equal(get.headers['access-control-allow-origin'], '*');
});

test('backend-protocol GRPC: HTTP/2 to the backend, trailers back to the client', async () => {
  const session = h2connect(`https://127.0.0.1:${httpsPort}`, { rejectUnauthorized: false, servername: 'grpc.test' });
  try {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/pkg.Svc/Call',
      ':authority': 'grpc.test',
      te: 'trailers',
    });
    stream.end('req');
    let body = '';
    const trailers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      stream.on('data', (d: Buffer) => (body += d.toString()));
      stream.on('trailers', (t: Record<string, unknown>) => resolve(t));
      stream.on('error', reject);
    });
    assert.equal(body, 'h2-body');
    assert.equal(trailers['grpc-status'], '0');
    assert.equal(trailers['x-path'], '/pkg.Svc/Call');
  } finally {
    session.close();
  }
});

test('Ingresses of another class are not served; no route is 404', async () => {
  assert.equal((await send('other.test', '/')).status, 404);
  assert.equal((await send('nothing.test', '/')).status, 404);
});

test('an HTTP/1.1 upgrade over TLS (the HTTP/2 listener falls back to HTTP/1.1 by ALPN)', async () => {
  const sock = tlsConnect({
    host: '127.0.0.1',
    port: httpsPort,
    servername: 'plain.test',
    ALPNProtocols: ['http/1.1'],
    rejectUnauthorized: false,
  });
  let seen = '';
  const done = new Promise<void>((resolve, reject) => {
    sock.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes('ping-through-tls')) resolve();
    });
    sock.on('error', reject);
  });
  sock.once('secureConnect', () => {
    sock.write('GET /chat HTTP/1.1\r\nhost: plain.test\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n');
    setTimeout(() => sock.write('ping-through-tls'), 200);
  });
  await done;
  sock.destroy();
  assert.match(seen, /^HTTP\/1.1 101/);
});

test('backend-protocol HTTPS; ssl-redirect "false" and force-ssl-redirect', async () => {
  const port = await httpsBackend();
  await apply(
    ...serviceWithEndpoints('secure', [port]),
    ingress(
      'secure',
      'secure.test',
      'secure',
      { [A + 'backend-protocol']: 'HTTPS', [A + 'ssl-redirect']: 'false' },
      {
        tls: [{ hosts: ['secure.test'], secretName: 'none-needed' }],
      },
    ),
    ingress('forced', 'forced.test', 'one', { [A + 'force-ssl-redirect']: 'true' }),
  );
  await until('the secure route', async () => (await send('secure.test', '/')).status === 200, 10_000, 100);
  assert.equal(json(await send('secure.test', '/x')).name, 'tls-backend', 'TLS host, yet no redirect');
  // The two Ingresses may reach the controller in separate configuration swaps: wait for the second too.
  await until('the forced route', async () => (await send('forced.test', '/y')).status !== 404, 10_000, 100);
  const forced = await send('forced.test', '/y');
  assert.deepEqual([forced.status, forced.headers.location], [308, `https://forced.test:${httpsPort}/y`]);
});
