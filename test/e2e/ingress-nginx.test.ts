// The ingress's NGINX data plane (the default when nginx and its stream module are installed):
// NGINX owns the main ports and serves plain Ingress hosts itself, the JS proxy serves the rest
// behind it with the client's address intact. Backends are HTTP servers in this test process
// behind selector-less Services and hand-written EndpointSlices.
import { echoed as json, sendHttp, type Answer } from './ingressclient.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createServer as createHttpServer, request, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { connect as h2connect } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { ingressFlags, startCluster, until, type Cluster } from './harness.js';
import { freePort } from '../support/ports.js';
import { selfSignedCertificate } from '../../src/ingress/tls.js';
import { nginxAvailable, nginxProcessesOf } from '../../src/ingress/nginx/supervisor.js';

const unavailable = nginxAvailable();
const skip = !unavailable.ok && unavailable.why;

let c: Cluster;
let httpPort = 0;
let httpsPort = 0;
const servers: Server[] = [];
let releaseSlow: () => void = () => undefined;
/** Clients connect from this loopback address, so the ingress's own 127.0.0.1 is not mistaken for them. */
const CLIENT = '127.0.0.2';

async function backend(name: string): Promise<number> {
  const s = createHttpServer((req: IncomingMessage, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url?.startsWith('/slow')) {
        res.writeHead(200);
        res.write('start;');
        const prev = releaseSlow;
        releaseSlow = () => {
          prev();
          res.end('end');
        };
        return;
      }
      res.setHeader('content-type', 'application/json');
      // The proxy's connection to us (its port and ours): whose socket it is tells who forwarded the request.
      res.end(
        JSON.stringify({
          name,
          url: req.url,
          headers: req.headers,
          peer: req.socket.remotePort,
          local: req.socket.localPort,
        }),
      );
    });
  });
  s.on('upgrade', (_req: IncomingMessage, sock: Duplex, head: Buffer) => {
    sock.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n');
    if (head.length) sock.write(head);
    sock.pipe(sock);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as { port: number }).port;
}

const send = (host: string, path: string, headers: Record<string, string> = {}) =>
  sendHttp(httpPort, host, path, { headers, localAddress: CLIENT, timeoutMs: 10_000 });

/** One HTTPS request by SNI `host` over a fresh connection: the answer and the certificate's CN. */
function sendTls(host: string, path: string, headers: Record<string, string> = {}): Promise<Answer & { cn: string }> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({
      socket: netConnect({ host: '127.0.0.1', port: httpsPort, localAddress: CLIENT }),
      servername: host,
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    sock.setTimeout(10_000, () => sock.destroy(new Error('timeout')));
    sock.on('error', reject);
    sock.once('secureConnect', () => {
      const cn = String(sock.getPeerCertificate().subject?.CN ?? '');
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      sock.write(`GET ${path} HTTP/1.1\r\nhost: ${host}\r\n${extra}connection: close\r\n\r\n`);
      let raw = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => (raw += d));
      sock.on('end', () => {
        const [head, ...rest] = raw.split('\r\n\r\n');
        const [statusLine, ...lines] = head.split('\r\n');
        const headers: Record<string, string> = {};
        for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
        let body = rest.join('\r\n\r\n');
        // A chunked body (the JS proxy streams): the JSON is between the chunk sizes.
        if (headers['transfer-encoding'] === 'chunked') body = body.replace(/^[0-9a-f]+\r\n|\r\n[0-9a-f]+\r\n/g, '');
        resolve({ status: Number(statusLine.split(' ')[1]), headers, body: body.trim(), cn });
      });
    });
  });
}

/** A request to /slow (HTTP or HTTPS by SNI `host`), once its response has started; `done` when it ends. */
async function slowRequest(tls: boolean, host: string): Promise<{ done: Promise<{ status: number; body: string }> }> {
  let body = '';
  const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const opts = { host: '127.0.0.1', path: '/slow', headers: { host }, agent: false as const };
    const onResponse = (res: IncomingMessage) => {
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    };
    const req = tls
      ? httpsRequest(
          { ...opts, port: httpsPort, localAddress: CLIENT, servername: host, rejectUnauthorized: false },
          onResponse,
        )
      : request({ ...opts, port: httpPort }, onResponse);
    req.on('error', reject);
    req.end();
  });
  await until('the slow response started', () => body.startsWith('start;'), 10_000, 20);
  return { done };
}

/** Whether NGINX itself answers for a host (before its reload the JS proxy does, behind NGINX's default server). */
async function nativelyServed(host: string): Promise<boolean> {
  const r = await send(host, '/').catch(() => undefined);
  return r?.status === 200 && fromNginx(r);
}

/**
 * Whether the backend's answer came over a TCP connection that is a socket of the cluster's NGINX.
 * The connection is found by both its ends: on a busy host another socket (a client's in TIME_WAIT,
 * say) often has the same local port, and NGINX keeps its upstream connection, so a lookup by
 * the port alone could miss NGINX's socket for as long as that one lives.
 */
function fromNginx(a: Answer): boolean {
  const { peer, local } = JSON.parse(a.body) as { peer: number; local: number };
  const end = (port: number) => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const line = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[1] === end(peer) && f[2] === end(local));
  assert.ok(line, `no socket 127.0.0.1:${peer} -> 127.0.0.1:${local}`);
  const inode = line[9];
  return nginxProcessesOf(join(c.dataDir, 'ingress-nginx')).some((pid) =>
    readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
      } catch {
        return false;
      }
    }),
  );
}

function service(name: string, ports: number[]) {
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ports: [{ name: 'http', port: 80 }] } },
    ...ports.map((port, i) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-${i}`, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port, protocol: 'TCP' }],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    })),
  ];
}

function ingress(name: string, host: string, svc: string, extra: { annotations?: object; tls?: boolean } = {}) {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, annotations: extra.annotations ?? {} },
    spec: {
      ...(extra.tls ? { tls: [{ hosts: [host], secretName: `${name}-tls` }] } : {}),
      rules: [
        {
          host,
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: svc, port: { number: 80 } } } }],
          },
        },
      ],
    },
  };
}

async function tlsSecret(name: string, cn: string) {
  const pair = await selfSignedCertificate(cn);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': Buffer.from(pair.cert).toString('base64'), 'tls.key': Buffer.from(pair.key).toString('base64') },
  };
}

const apply = (...objs: object[]) =>
  c.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));

const accessLog = join(mkdtempSync(join(tmpdir(), 'k8ts-nginx-log-')), 'access.log');
let metricsPort = 0;
let one = 0;
let two = 0;
const nginxPid = () => Number(readFileSync(join(c.dataDir, 'ingress-nginx', 'nginx.pid'), 'utf8').trim());

before(async () => {
  if (skip) return;
  httpPort = await freePort();
  httpsPort = await freePort();
  c = await startCluster({
    args: [
      ...ingressFlags(httpPort, httpsPort),
      '--ingress-access-log',
      accessLog,
      '--ingress-metrics-port',
      String((metricsPort = await freePort())),
    ],
  });
  one = await backend('one');
  two = await backend('two');
  await apply(
    ...service('one', [one]),
    await tlsSecret('a-tls', 'a.test'),
    await tlsSecret('b-tls', 'b.test'),
    ingress('a', 'a.test', 'one', { tls: true }),
    ingress('b', 'b.test', 'one', { tls: true, annotations: { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' } }),
    // CORS is not rendered for NGINX: the JS proxy serves this host behind it.
    ingress('js', 'js.test', 'one', { annotations: { 'nginx.ingress.kubernetes.io/enable-cors': 'true' } }),
  );
  await until('NGINX serving the routes', () => nativelyServed('b.test'), 30_000, 200);
});

after(async () => {
  releaseSlow();
  if (c) await c.cleanup();
  for (const s of servers) s.close();
  rmSync(dirname(accessLog), { recursive: true, force: true });
});

test(
  'a native host is served by NGINX; a non-native one by the JS proxy behind it, with the real client address',
  { skip },
  async () => {
    const native = await send('b.test', '/n', { 'x-forwarded-for': '192.0.2.9' });
    assert.equal(native.status, 200);
    assert.ok(fromNginx(native), 'NGINX itself sent the request to the backend');
    const seen = json(native).headers;
    assert.equal(seen['x-forwarded-for'], `192.0.2.9, ${CLIENT}`);
    assert.equal(seen['x-real-ip'], CLIENT);
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-port'], String(httpPort));
    assert.equal(seen['x-forwarded-host'], 'b.test');
    assert.match(seen['x-request-id'], /^[0-9a-f]{32}$/);

    const js = await send('js.test', '/j', { 'x-k8ts-front': 'forged 198.51.100.1 1 https' });
    assert.equal(js.status, 200);
    assert.ok(!fromNginx(js), 'the JS proxy sent the request to the backend');
    assert.equal(js.headers['access-control-allow-origin'], '*'); // the JS proxy's CORS
    const jsSeen = json(js).headers;
    assert.equal(jsSeen['x-real-ip'], CLIENT);
    assert.equal(jsSeen['x-forwarded-for'], CLIENT);
    assert.equal(jsSeen['x-forwarded-proto'], 'http');
    assert.equal(jsSeen['x-k8ts-front'], undefined, 'the front header never reaches a backend');
    // No route: the JS proxy's 404 through NGINX.
    assert.equal((await send('nothing.test', '/')).status, 404);
  },
);

test('access log and metrics cover the requests NGINX serves', { skip }, async () => {
  const r = await send('b.test', '/logged?q=2', { 'user-agent': 'nginx-test' });
  assert.ok(fromNginx(r));
  const lines = () =>
    readFileSync(accessLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  await until('the line is written', () => lines().some((l) => l.uri === '/logged?q=2'), 10_000, 100);
  const line = lines().find((l) => l.uri === '/logged?q=2')!;
  assert.equal(line.remote_addr, CLIENT);
  assert.equal(line.host, 'b.test');
  assert.equal(line.status, 200);
  assert.equal(line.namespace, 'default');
  assert.equal(line.ingress_name, 'b');
  assert.equal(line.ingress_kind, 'Ingress');
  assert.equal(line.service_name, 'one');
  assert.equal(line.http_user_agent, 'nginx-test');
  assert.equal(line.upstream_status, 200);
  assert.match(String(line.upstream_addr), /^127\.0\.0\.1:\d+$/);
  assert.equal(typeof line.upstream_response_time, 'number');
  const metrics = await new Promise<string>((resolve, reject) =>
    request({ host: '127.0.0.1', port: metricsPort, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end(),
  );
  assert.match(
    metrics,
    /nginx_ingress_controller_requests\{namespace="default",ingress="b",service="one",host="b\.test",path="\/",method="GET",status="200"\} [1-9]/,
  );
});

test(
  'TLS: two hosts by SNI with their own certificates; a non-native one reaches the JS proxy with the client address',
  { skip },
  async () => {
    const a = await sendTls('a.test', '/x');
    assert.equal(a.cn, 'a.test');
    assert.equal(a.status, 200);
    assert.ok(fromNginx(a));
    assert.equal(json(a).headers['x-forwarded-proto'], 'https');
    assert.equal(json(a).headers['x-real-ip'], CLIENT);
    const b = await sendTls('b.test', '/x');
    assert.equal(b.cn, 'b.test');
    assert.equal(b.status, 200);
    // A non-native host over TLS: NGINX terminates it (the default certificate, as the JS proxy
    // would serve) and passes the request on to the JS proxy (its CORS).
    const js = await sendTls('js.test', '/x', { 'x-k8ts-front': 'forged 198.51.100.1 1 https' });
    assert.equal(js.status, 200);
    assert.equal(js.cn, 'Kubernetes Ingress Controller Fake Certificate');
    assert.ok(!fromNginx(js));
    assert.equal(js.headers['access-control-allow-origin'], '*');
    assert.equal(json(js).headers['x-real-ip'], CLIENT);
    assert.equal(json(js).headers['x-forwarded-proto'], 'https');
    assert.equal(json(js).headers['x-k8ts-front'], undefined);
  },
);

test('plain HTTP to a TLS host is redirected to HTTPS with 308', { skip }, async () => {
  const r = await send('a.test', '/path?q=1');
  assert.equal(r.status, 308);
  assert.equal(r.headers.location, `https://a.test:${httpsPort}/path?q=1`);
  assert.equal((await send('b.test', '/')).status, 200); // ssl-redirect: "false"
});

test('a route change is live without dropping a request in flight or an open upgrade', { skip }, async () => {
  // A slow response and an upgraded connection, both through NGINX (b.test is native).
  const slow = await slowRequest(false, 'b.test');
  const ws: Socket = netConnect(httpPort, '127.0.0.1');
  let echoed = '';
  ws.setEncoding('utf8');
  ws.on('data', (d: string) => (echoed += d));
  ws.write('GET /chat HTTP/1.1\r\nhost: b.test\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n');
  await until('the upgrade', () => echoed.includes('101'), 10_000, 20);
  const before = nginxPid();

  await apply(ingress('late', 'late.test', 'one'));
  await until('the new host served by NGINX', () => nativelyServed('late.test'), 20_000, 50);
  assert.equal(nginxPid(), before, 'a reload, not a restart');

  ws.write('still-open');
  await until('the echo after the reload', () => echoed.includes('still-open'), 10_000, 20);
  ws.destroy();
  releaseSlow();
  assert.deepEqual(await slow.done, { status: 200, body: 'start;end' });
});

test('endpoints change with traffic flowing: no failed request, the new endpoint gets traffic', { skip }, async () => {
  let failures = 0;
  const names = new Set<string>();
  let running = true;
  const load = (async () => {
    while (running) {
      const r = await send('b.test', '/load').catch(() => undefined);
      if (r?.status !== 200) failures++;
      else names.add(json(r).name);
    }
  })();
  await new Promise((r) => setTimeout(r, 300));
  await apply(...service('one', [one, two]));
  await until('both endpoints answer', () => names.has('two'), 20_000, 50);
  // And back to one endpoint: the removed one gets nothing more.
  await c.k(['delete', 'endpointslice', 'one-0']);
  await new Promise((r) => setTimeout(r, 1000));
  names.clear();
  await new Promise((r) => setTimeout(r, 500));
  running = false;
  await load;
  assert.equal(failures, 0);
  assert.deepEqual([...names], ['two']);
});

const nginxConf = () => readFileSync(join(c.dataDir, 'ingress-nginx', 'nginx.conf'), 'utf8');
/** Whether NGINX's http server terminates TLS on the HTTPS port itself (no stream relay). */
const directTls = () => {
  const conf = nginxConf();
  return !conf.includes('ssl_preread') && conf.includes(`listen 127.0.0.1:${httpsPort} ssl http2 default_server;`);
};

test(
  'direct TLS: an HTTPProxy host over HTTPS, NGINX terminating with its certificate, the JS proxy serving it as https',
  { skip },
  async () => {
    await apply(await tlsSecret('proxy-tls', 'proxy.test'), {
      apiVersion: 'projectcontour.io/v1',
      kind: 'HTTPProxy',
      metadata: { name: 'proxy' },
      spec: {
        virtualhost: { fqdn: 'proxy.test', tls: { secretName: 'proxy-tls' } },
        routes: [{ conditions: [{ prefix: '/' }], services: [{ name: 'one', port: 80 }] }],
      },
    });
    await until(
      'proxy.test served with its certificate',
      async () => (await sendTls('proxy.test', '/').catch(() => undefined))?.cn === 'proxy.test',
      30_000,
      100,
    );
    assert.ok(directTls(), 'no passthrough route: NGINX takes TLS on the HTTPS port itself');
    const r = await sendTls('proxy.test', '/p?q=1', { 'x-forwarded-for': '192.0.2.9' });
    assert.equal(r.status, 200);
    assert.ok(!fromNginx(r), 'the JS proxy sent the request to the backend');
    const seen = json(r).headers;
    assert.equal(seen['x-forwarded-for'], `192.0.2.9, ${CLIENT}`);
    assert.equal(seen['x-real-ip'], CLIENT);
    assert.equal(seen['x-forwarded-proto'], 'https');
    assert.equal(seen['x-forwarded-port'], String(httpsPort));
    assert.equal(seen['x-forwarded-host'], 'proxy.test');
    assert.equal(seen['x-k8ts-front'], undefined);
    // HTTP/2 from the client: on to the JS proxy as h2c, the same facts.
    const session = h2connect(`https://proxy.test:${httpsPort}`, {
      createConnection: () =>
        tlsConnect({
          socket: netConnect({ host: '127.0.0.1', port: httpsPort, localAddress: CLIENT }),
          servername: 'proxy.test',
          ALPNProtocols: ['h2'],
          rejectUnauthorized: false,
        }),
    });
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/h2', 'content-type': 'application/json' });
      stream.end('{}');
      let body = '';
      const status = await new Promise<number>((resolve, reject) => {
        let code = 0;
        stream.on('response', (h) => (code = Number(h[':status'])));
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => (body += d));
        stream.on('end', () => resolve(code));
        stream.on('error', reject);
      });
      assert.equal(status, 200);
      const h2seen = (JSON.parse(body) as { url: string; headers: Record<string, string> }).headers;
      assert.equal(h2seen['x-real-ip'], CLIENT);
      assert.equal(h2seen['x-forwarded-proto'], 'https');
      assert.equal(h2seen['x-forwarded-host'], 'proxy.test');
    } finally {
      session.close();
    }
  },
);

test(
  'a passthrough route moves the HTTPS port to the stream relay and back, by reload, a request in flight kept',
  { skip },
  async () => {
    const tlsBackend = createHttpsServer(await selfSignedCertificate('pt-backend'), (req, res) =>
      res.end(`pt:${(req.socket as TLSSocket).servername}`),
    );
    servers.push(tlsBackend);
    await new Promise<void>((r) => tlsBackend.listen(0, '127.0.0.1', () => r()));
    const ptPort = (tlsBackend.address() as { port: number }).port;
    assert.ok(directTls());
    const before = nginxPid();
    // A slow response over TLS from a native host, in flight across both switches.
    const slow = await slowRequest(true, 'a.test');

    const pass = {
      apiVersion: 'projectcontour.io/v1',
      kind: 'HTTPProxy',
      metadata: { name: 'pt' },
      spec: {
        virtualhost: { fqdn: 'pt.test', tls: { passthrough: true } },
        tcpproxy: { services: [{ name: 'ptb', port: 80 }] },
      },
    };
    await apply(...service('ptb', [ptPort]), pass);
    await until(
      'pt.test passed through to its backend',
      async () => {
        const r = await sendTls('pt.test', '/').catch(() => undefined);
        return r?.cn === 'pt-backend' && r.body === 'pt:pt.test';
      },
      30_000,
      100,
    );
    assert.ok(!directTls(), 'the stream relay reads the ClientHello again');
    assert.match(nginxConf(), /ssl_preread on;/);
    assert.equal(nginxPid(), before, 'a reload, not a restart');
    // Everything else as before, through the relay.
    const a = await sendTls('a.test', '/');
    assert.equal(a.cn, 'a.test');
    assert.ok(fromNginx(a));
    const p = await sendTls('proxy.test', '/');
    assert.equal(p.cn, 'proxy.test');
    assert.equal(json(p).headers['x-real-ip'], CLIENT);
    assert.equal(json(p).headers['x-forwarded-proto'], 'https');

    await c.k(['delete', 'httpproxy', 'pt']);
    await until('direct TLS again', directTls, 20_000, 50);
    await until(
      'NGINX takes a.test itself again',
      async () => (await sendTls('a.test', '/').catch(() => undefined))?.cn === 'a.test',
      20_000,
      50,
    );
    assert.equal(nginxPid(), before, 'a reload, not a restart');
    assert.equal((await sendTls('proxy.test', '/')).cn, 'proxy.test');
    releaseSlow();
    assert.deepEqual(await slow.done, { status: 200, body: 'start;end' });
  },
);

test('NGINX killed with -9 is restarted by k8ts', { skip }, async (t) => {
  const pid = nginxPid();
  const t0 = Date.now();
  process.kill(pid, 'SIGKILL');
  let seen = '';
  await until(
    'a new NGINX serving',
    async () => {
      const now = (() => {
        try {
          return nginxPid();
        } catch {
          return 0;
        }
      })();
      const r = await send('b.test', '/').catch((e: Error) => e.message);
      const native = typeof r !== 'string' && r.status === 200 && fromNginx(r);
      seen = `pid file ${now || 'absent'}, b.test: ${typeof r === 'string' ? r : r.status}, from NGINX: ${native}`;
      return now !== 0 && now !== pid && native;
    },
    {
      timeoutMs: 30_000,
      stepMs: 200,
      diag: () => {
        const dir = join(c.dataDir, 'ingress-nginx');
        const log = readFileSync(join(dir, 'error.log'), 'utf8').trim().split('\n').slice(-15).join('\n');
        return `last seen: ${seen}; NGINX processes: ${nginxProcessesOf(dir).join(' ') || 'none'}\nerror.log:\n${log}`;
      },
    },
  );
  t.diagnostic(`serving again ${Date.now() - t0} ms after the kill`);
});

test('k8ts killed with -9: the next start takes the ports again', { skip }, async () => {
  await c.stop('SIGKILL');
  await c.restart();
  await until('serving after the restart', () => nativelyServed('b.test'), 30_000, 200);
  const tls = await sendTls('a.test', '/');
  assert.equal(tls.cn, 'a.test');
});
