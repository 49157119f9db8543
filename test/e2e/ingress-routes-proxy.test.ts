// The data plane of HTTPProxy and HTTPRoute route fields without containers (backends are HTTP
// servers in this process behind selector-less Services): Contour's retryPolicy and
// timeoutPolicy, header conditions and headers policies; Gateway API header modifiers,
// RequestRedirect, RequestMirror, method and query matches; TLS passthrough on the HTTPS port
// beside terminated hosts (ingress-nginx ssl-passthrough, HTTPProxy tls.passthrough, TLSRoute);
// HTTPProxy tcpproxy with TLS terminated by the ingress (tls.secretName, tcpproxy.include).
import { echoed as json, sendHttp, type SendOptions } from './ingressclient.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer, get as httpsGet } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { createServer as createNetServer } from 'node:net';
import { DEFAULT_CERT_NAME, selfSignedCertificate } from '../../src/ingress/tls.js';
import { ingressFlags, startCluster, until, type Cluster } from './harness.js';
import { freePort } from '../support/ports.js';
import { tlsSecret } from '../support/tls.js';

let c: Cluster;
let httpPort = 0;
let httpsPort = 0;
const servers: Server[] = [];
/** Requests each backend saw: name → urls. */
const seen = new Map<string, string[]>();
let flakyCalls = 0;

/** Answers JSON about the request; `/flaky` fails twice in three, `/hang` never answers. */
async function backend(name: string): Promise<number> {
  const s = createHttpServer((req: IncomingMessage, res) => {
    seen.set(name, [...(seen.get(name) ?? []), req.url ?? '']);
    req.resume();
    req.on('end', () => {
      if (req.url?.startsWith('/hang')) return;
      if (req.url?.startsWith('/flaky') && flakyCalls++ % 3 !== 2) {
        res.writeHead(503);
        return res.end('try again');
      }
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-backend-secret', 'internal');
      res.end(JSON.stringify({ name, url: req.url, headers: req.headers }));
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as { port: number }).port;
}

const send = (host: string, path: string, opts: Pick<SendOptions, 'method' | 'headers'> = {}) =>
  sendHttp(httpPort, host, path, opts);

function serviceWithEndpoints(name: string, port: number) {
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name },
      spec: { ports: [{ name: 'http', port: 80, targetPort: port }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-local`, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port, protocol: 'TCP' }],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    },
  ];
}

const apply = (...objs: object[]) =>
  c.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));

before(async () => {
  httpPort = await freePort();
  httpsPort = await freePort();
  c = await startCluster({
    args: ingressFlags(httpPort, httpsPort),
  });
  const main = await backend('main');
  const other = await backend('other');
  const shadow = await backend('shadow');
  await apply(
    ...serviceWithEndpoints('main', main),
    ...serviceWithEndpoints('other', other),
    ...serviceWithEndpoints('shadow', shadow),
  );
  await until('the CRDs are served', async () => (await c.kubectl(['get', 'httproutes'])).code === 0, 60_000, 200);
  await apply(
    {
      apiVersion: 'projectcontour.io/v1',
      kind: 'HTTPProxy',
      metadata: { name: 'policies' },
      spec: {
        virtualhost: { fqdn: 'proxy.test' },
        routes: [
          { conditions: [{ prefix: '/flaky' }], services: [{ name: 'main', port: 80 }], retryPolicy: { count: 2 } },
          { conditions: [{ prefix: '/flaky-once' }], services: [{ name: 'main', port: 80 }] },
          {
            conditions: [{ prefix: '/hang' }],
            services: [{ name: 'main', port: 80 }],
            timeoutPolicy: { response: '500ms' },
          },
          {
            conditions: [{ prefix: '/' }, { header: { name: 'x-team', exact: 'other' } }],
            services: [{ name: 'other', port: 80 }],
          },
          {
            conditions: [{ prefix: '/' }, { queryParameter: { name: 'team', exact: 'Other', ignoreCase: true } }],
            services: [{ name: 'other', port: 80 }],
          },
          {
            services: [{ name: 'main', port: 80 }],
            requestHeadersPolicy: { set: [{ name: 'X-Via', value: 'contour' }], remove: ['X-Drop'] },
            responseHeadersPolicy: { remove: ['X-Backend-Secret'] },
          },
        ],
      },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'gw' },
      spec: { gatewayClassName: 'k8ts', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'features' },
      spec: {
        parentRefs: [{ name: 'gw' }],
        hostnames: ['gw.test'],
        rules: [
          { matches: [{ path: { value: '/' }, method: 'DELETE' }], backendRefs: [{ name: 'other', port: 80 }] },
          {
            matches: [{ path: { value: '/' }, queryParams: [{ name: 'v', value: '2' }] }],
            backendRefs: [{ name: 'other', port: 80 }],
          },
          {
            matches: [{ path: { type: 'PathPrefix', value: '/hang' } }],
            backendRefs: [{ name: 'main', port: 80 }],
            timeouts: { request: '500ms' },
          },
          {
            matches: [{ path: { type: 'PathPrefix', value: '/hang-backend' } }],
            backendRefs: [{ name: 'main', port: 80 }],
            timeouts: { backendRequest: '500ms' },
          },
          {
            matches: [{ path: { type: 'PathPrefix', value: '/mirror' } }],
            filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 80 } } }],
            backendRefs: [{ name: 'main', port: 80 }],
          },
          {
            matches: [{ path: { type: 'PathPrefix', value: '/go' } }],
            filters: [
              {
                type: 'RequestRedirect',
                requestRedirect: {
                  scheme: 'https',
                  hostname: 'example.org',
                  statusCode: 301,
                  path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/landing' },
                },
              },
            ],
          },
          {
            filters: [
              {
                type: 'RequestHeaderModifier',
                requestHeaderModifier: { add: [{ name: 'X-Env', value: 'prod' }], remove: ['X-Drop'] },
              },
              {
                type: 'ResponseHeaderModifier',
                responseHeaderModifier: { set: [{ name: 'X-Served-By', value: 'k8ts' }] },
              },
            ],
            backendRefs: [{ name: 'main', port: 80 }],
          },
        ],
      },
    },
  );
  await until(
    'both are live',
    async () => {
      const [a, b] = [await send('proxy.test', '/'), await send('gw.test', '/')];
      if (a.status === 200 && b.status === 200) return true;
      // What was answered instead, for the timeout's message.
      throw new Error(`proxy.test: ${a.status} ${a.body.slice(0, 60)}; gw.test: ${b.status} ${b.body.slice(0, 60)}`);
    },
    90_000,
    200,
  );
});

after(async () => {
  if (c) await c.cleanup();
  for (const s of servers) s.close();
});

test('HTTPProxy retryPolicy: 5xx answers are retried, count times', async () => {
  flakyCalls = 0;
  const r = await send('proxy.test', '/flaky');
  assert.equal(r.status, 200, 'two 503s, then the third try answers');
  assert.equal(flakyCalls, 3);
  flakyCalls = 0;
  assert.equal((await send('proxy.test', '/flaky-once')).status, 503, 'without a retryPolicy the 503 is passed on');
});

test('HTTPProxy timeoutPolicy.response: 504 past it', async () => {
  const start = Date.now();
  const r = await send('proxy.test', '/hang');
  assert.equal(r.status, 504);
  assert.ok(Date.now() - start < 5000);
});

test('HTTPRoute timeouts: request and backendRequest answer 504 past them', async () => {
  // The backend never answers /hang*: without the timeouts the proxy's read timeout (60 s) would.
  for (const path of ['/hang', '/hang-backend/x']) {
    const start = Date.now();
    const r = await send('gw.test', path);
    assert.equal(r.status, 504, path);
    assert.ok(Date.now() - start < 30_000, `${path} took ${Date.now() - start} ms`);
  }
});

test('HTTPProxy header and query parameter conditions, headers policies', async () => {
  assert.equal(json(await send('proxy.test', '/x', { headers: { 'x-team': 'other' } })).name, 'other');
  assert.equal(json(await send('proxy.test', '/x?team=other')).name, 'other');
  assert.equal(json(await send('proxy.test', '/x?team=others')).name, 'main');
  const r = await send('proxy.test', '/x', { headers: { 'x-drop': '1' } });
  const seenBy = json(r);
  assert.equal(seenBy.name, 'main');
  assert.equal(seenBy.headers['x-via'], 'contour');
  assert.equal(seenBy.headers['x-drop'], undefined);
  assert.equal(r.headers['x-backend-secret'], undefined);
});

test('HTTPRoute method and query matches, header modifiers', async () => {
  assert.equal(json(await send('gw.test', '/a', { method: 'DELETE' })).name, 'other');
  assert.equal(json(await send('gw.test', '/a?v=2')).name, 'other');
  const r = await send('gw.test', '/a?v=1', { headers: { 'x-env': 'dev', 'x-drop': 'yes' } });
  const b = json(r);
  assert.equal(b.name, 'main');
  assert.equal(b.headers['x-env'], 'dev,prod');
  assert.equal(b.headers['x-drop'], undefined);
  assert.equal(r.headers['x-served-by'], 'k8ts');
});

test('HTTPRoute RequestRedirect and RequestMirror', async () => {
  const r = await send('gw.test', '/go/page?q=1');
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, 'https://example.org/landing/page?q=1');
  seen.delete('shadow');
  assert.equal(json(await send('gw.test', '/mirror/one')).name, 'main');
  await until('the mirror got its copy', () => (seen.get('shadow') ?? []).includes('/mirror/one'), 5000, 50);
});

/** An HTTPS backend with a certificate of its own (CN `passthrough-backend`): answers with the SNI it saw. */
async function tlsBackend(): Promise<number> {
  const s = createHttpsServer(await selfSignedCertificate('passthrough-backend'), (req, res) =>
    res.end(`tls-backend:${(req.socket as TLSSocket).servername}`),
  );
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as { port: number }).port;
}

/** GET / on the ingress's HTTPS port with this server name: the certificate's CN and the answer. */
function httpsOn(servername: string): Promise<{ cn: string; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(
      {
        host: '127.0.0.1',
        port: httpsPort,
        servername,
        headers: { host: servername },
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        const cn = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '');
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ cn, status: res.statusCode ?? 0, body }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

test('TLS passthrough on the HTTPS port: passthrough hosts see the backend, others the ingress', async () => {
  const port = await tlsBackend();
  const term = await selfSignedCertificate('term.test');
  const svc = serviceWithEndpoints('tls-backend', port);
  await apply(
    ...svc,
    tlsSecret('term-tls', term),
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'pass', annotations: { 'nginx.ingress.kubernetes.io/ssl-passthrough': 'true' } },
      spec: {
        rules: [
          {
            host: 'ing-pass.test',
            http: {
              paths: [
                { path: '/', pathType: 'Prefix', backend: { service: { name: 'tls-backend', port: { number: 80 } } } },
              ],
            },
          },
        ],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'term' },
      spec: {
        tls: [{ hosts: ['term.test'], secretName: 'term-tls' }],
        rules: [
          {
            host: 'term.test',
            http: {
              paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'main', port: { number: 80 } } } }],
            },
          },
        ],
      },
    },
    {
      apiVersion: 'projectcontour.io/v1',
      kind: 'HTTPProxy',
      metadata: { name: 'pass' },
      spec: {
        virtualhost: { fqdn: 'proxy-pass.test', tls: { passthrough: true } },
        tcpproxy: { services: [{ name: 'tls-backend', port: 80 }] },
      },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'gw-tls' },
      spec: {
        gatewayClassName: 'k8ts',
        listeners: [
          { name: 'tls', port: 443, protocol: 'TLS', hostname: 'gw-pass.test', tls: { mode: 'Passthrough' } },
        ],
      },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1alpha2',
      kind: 'TLSRoute',
      metadata: { name: 'pass' },
      spec: { parentRefs: [{ name: 'gw-tls' }], rules: [{ backendRefs: [{ name: 'tls-backend', port: 80 }] }] },
    },
  );
  for (const host of ['ing-pass.test', 'proxy-pass.test', 'gw-pass.test'])
    await until(
      `${host} is passed through`,
      async () => {
        const r = await httpsOn(host).catch((err: Error) => ({ cn: err.message, status: 0, body: '' }));
        if (r.cn === 'passthrough-backend' && r.body === `tls-backend:${host}`) return true;
        throw new Error(`${host}: certificate ${r.cn}, ${r.status} ${r.body.slice(0, 40)}`);
      },
      60_000,
      200,
    );
  // Terminated hosts on the same port keep the ingress's certificates and routes.
  const t = await httpsOn('term.test');
  assert.equal(t.cn, 'term.test');
  assert.equal(json(t).name, 'main');
  const other = await httpsOn('unknown.test');
  assert.equal(other.cn, DEFAULT_CERT_NAME);
  assert.equal(other.status, 404);
  // The TLS listener shares port 443 with the ingress's HTTPS: accepted and programmed, not a conflict.
  await until(
    'the TLS listener on 443 is programmed',
    async () => {
      const gw = JSON.parse(await c.k(['get', 'gateway', 'gw-tls', '-o', 'json'])) as {
        status?: { listeners?: { conditions: { type: string; status: string; reason: string }[] }[] };
      };
      const conds = gw.status?.listeners?.[0]?.conditions ?? [];
      const is = (t: string) => conds.find((x) => x.type === t);
      if (is('Accepted')?.status === 'True' && is('Programmed')?.status === 'True') return true;
      throw new Error(JSON.stringify(conds.map((x) => `${x.type}=${x.status}/${x.reason}`)));
    },
    20_000,
    200,
  );
});

test('HTTPProxy tcpproxy with tls.secretName: the ingress terminates TLS, the service gets the cleartext', async () => {
  // A plain TCP backend (no TLS) in another namespace: it answers what it read, upper-cased.
  const echo = createNetServer((sock) => sock.on('data', (d: Buffer) => sock.write(d.toString().toUpperCase())));
  servers.push(echo as unknown as Server);
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  const echoPort = (echo.address() as { port: number }).port;
  const cert = await selfSignedCertificate('tcp-term.test');
  const inTeam = <T extends { metadata: object }>(o: T) => ({
    ...o,
    metadata: { ...o.metadata, namespace: 'team-tcp' },
  });
  await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-tcp' } });
  await apply(
    ...serviceWithEndpoints('tcp-echo', echoPort).map(inTeam),
    tlsSecret('tcp-term-tls', cert),
    {
      apiVersion: 'projectcontour.io/v1',
      kind: 'HTTPProxy',
      metadata: { name: 'tcp-term' },
      spec: {
        virtualhost: { fqdn: 'tcp-term.test', tls: { secretName: 'tcp-term-tls' } },
        tcpproxy: { include: { name: 'echo', namespace: 'team-tcp' } },
      },
    },
    inTeam({
      apiVersion: 'projectcontour.io/v1',
      kind: 'HTTPProxy',
      metadata: { name: 'echo' },
      spec: { tcpproxy: { services: [{ name: 'tcp-echo', port: 80 }] } },
    }),
    {
      apiVersion: 'projectcontour.io/v1',
      kind: 'HTTPProxy',
      metadata: { name: 'tcp-plain' },
      spec: { virtualhost: { fqdn: 'tcp-plain.test' }, tcpproxy: { services: [{ name: 'main', port: 80 }] } },
    },
  );
  /** A TLS connection with this server name: the certificate's CN and the answer to `ping`. */
  const roundTrip = (servername: string) =>
    new Promise<string>((resolve) => {
      let cn = '';
      const sock = tlsConnect({ host: '127.0.0.1', port: httpsPort, servername, rejectUnauthorized: false }, () => {
        cn = String(sock.getPeerCertificate().subject?.CN ?? '');
        sock.write('ping');
      });
      let got = '';
      sock.setTimeout(5000, () => sock.destroy());
      sock.on('data', (d: Buffer) => {
        got += d.toString();
        if (got.length >= 4) sock.end();
      });
      sock.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
      sock.on('close', () => resolve(`${cn} ${got}`));
    });
  await until(
    'tcp-term.test is terminated and relayed',
    async () => {
      const r = await roundTrip('tcp-term.test');
      if (r === 'tcp-term.test PING') return true;
      throw new Error(r);
    },
    60_000,
    200,
  );
  const status = async (ns: string, name: string) =>
    (
      JSON.parse(await c.k(['get', 'httpproxy', '-n', ns, name, '-o', 'json'])) as {
        status?: { currentStatus?: string; description?: string };
      }
    ).status;
  const included = await status('team-tcp', 'echo');
  assert.equal(
    `${included?.currentStatus}: ${included?.description}`,
    'valid: Valid HTTPProxy',
    'included, not orphaned',
  );
  await until(
    'tcpproxy without TLS is invalid as Contour says',
    async () => {
      const s = await status('default', 'tcp-plain');
      if (
        s?.currentStatus === 'invalid' &&
        s.description === 'Spec.TCPProxy requires that either Spec.TLS.Passthrough or Spec.TLS.SecretName be set'
      )
        return true;
      throw new Error(JSON.stringify(s));
    },
    20_000,
    200,
  );
  // Other names on the HTTPS port still reach the ingress's TLS server and routes.
  const other = await httpsOn('elsewhere.test');
  assert.deepEqual([other.cn, other.status], [DEFAULT_CERT_NAME, 404]);
});
