// Gateway listeners on ports of their own, without containers: an HTTP listener and an HTTPS one
// (with its certificate from a Secret) beside the ingress's ports, a GRPCRoute over h2c, a TLS
// passthrough listener routing by SNI (TLSRoute; two TLS listeners on one port, and one beside the
// HTTPS listener on its port) and a TCP listener (TCPRoute); listener status
// (Programmed, Conflicted with ProtocolConflict) and the socket closing when its listener goes.
// Backends are servers in this test process behind selector-less Services and hand-written
// EndpointSlices.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createNetServer, connect, type Server } from 'node:net';
import { createServer as createHttpServer, request as httpRequest, Agent, type Server as HttpServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { connect as h2connect, type IncomingHttpHeaders as H2Headers } from 'node:http2';
import { ingressFlags, startCluster, until, type Cluster } from './harness.js';
import { selfSignedCertificate } from '../../src/ingress/tls.js';
import { freePort } from '../support/ports.js';
import { tlsSecret } from '../support/tls.js';

let c: Cluster;
let web: HttpServer;
let tcpEcho: Server;
let tlsBackend: TlsServer;
const grpcServers: grpc.Server[] = [];
const ports = { http: 0, https: 0, altHttp: 0, altHttps: 0, tls: 0, tcp: 0 };

const listenPort = (s: Server | HttpServer | TlsServer) =>
  new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as { port: number }).port)));

const apply = (...objs: object[]) =>
  c.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));
const replace = (obj: object) => c.k(['replace', '-f', '-'], JSON.stringify(obj));

/** A selector-less Service and its EndpointSlice pointing at a server of this process. */
function backend(name: string, targetPort: number, appProtocol?: string): object[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name },
      spec: { ports: [{ name: 'p', port: 80, targetPort, appProtocol }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-local`, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'p', port: targetPort, protocol: 'TCP' }],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    },
  ];
}

type Got = { status: number; body: string; cn?: string } | { error: string };

function get(port: number, host: string, secure = false, agent?: Agent): Promise<Got> {
  return new Promise((resolve) => {
    const req = (secure ? httpsRequest : httpRequest)(
      {
        host: '127.0.0.1',
        port,
        path: '/hello',
        headers: { host },
        servername: secure ? host : undefined,
        rejectUnauthorized: false,
        agent: agent ?? false,
        timeout: 15_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          const cert = secure ? (res.socket as import('node:tls').TLSSocket).getPeerCertificate?.() : undefined;
          const cn = cert?.subject?.CN;
          resolve({ status: res.statusCode ?? 0, body, cn: Array.isArray(cn) ? cn.join(',') : cn });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

const ok = (g: Got, body: string) => 'status' in g && g.status === 200 && g.body === body;

function tcpRoundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    sock.setTimeout(3000, () => sock.destroy());
    sock.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) sock.end();
    });
    sock.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    sock.on('close', () => resolve(got));
    sock.write(text);
  });
}

/** Connects through the TLS passthrough listener with this SNI; the backend answers with what it saw. */
function tlsHello(port: number, servername: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
    let got = '';
    sock.setTimeout(3000, () => sock.destroy());
    sock.on('data', (d: Buffer) => (got += d.toString()));
    sock.on('error', (err: NodeJS.ErrnoException) => resolve(got || err.code || 'error'));
    sock.on('close', () => resolve(got || 'closed'));
  });
}

// A unary method with raw bytes as messages (no .proto needed).
const identity = (b: Buffer) => b;
const ECHO = {
  say: {
    path: '/test.Echo/Say',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
} satisfies grpc.ServiceDefinition;
const EchoClient = grpc.makeGenericClientConstructor(ECHO, 'Echo');

async function grpcBackend(prefix: string): Promise<number> {
  const server = new grpc.Server();
  server.addService(ECHO, {
    say: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      cb(null, Buffer.from(`${prefix}:${call.request.toString()}`)),
  });
  grpcServers.push(server);
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );
}

function grpcSay(port: number, text: string, metadata: Record<string, string> = {}): Promise<string> {
  const client = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    'grpc.default_authority': 'grpc.test',
  }) as unknown as grpc.Client & {
    say(m: Buffer, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Buffer) => void): void;
  };
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve) => {
    client.say(Buffer.from(text), md, { deadline: Date.now() + 15_000 }, (err, reply) => {
      client.close();
      resolve(err ? `error ${err.code}` : (reply?.toString() ?? ''));
    });
  });
}

const gatewayStatus = async () =>
  JSON.parse(await c.k(['get', 'gateway', 'gw', '-o', 'json'])) as {
    status?: {
      listeners?: {
        name: string;
        attachedRoutes: number;
        conditions: { type: string; status: string; reason: string }[];
      }[];
    };
  };

const listenerCond = async (name: string, type: string) =>
  (await gatewayStatus()).status?.listeners?.find((l) => l.name === name)?.conditions.find((x) => x.type === type);

function listeners(extra: object[] = [], without: string[] = []): object[] {
  const all = [
    { name: 'alt-http', port: ports.altHttp, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } },
    {
      name: 'alt-https',
      port: ports.altHttps,
      protocol: 'HTTPS',
      hostname: 'secure.test',
      tls: { certificateRefs: [{ name: 'alt-cert' }] },
    },
    { name: 'passthrough', port: ports.tls, protocol: 'TLS', tls: { mode: 'Passthrough' } },
    // A second TLS listener on that port (another hostname), and one beside the HTTPS listener.
    { name: 'pass-named', port: ports.tls, protocol: 'TLS', hostname: 'named.test', tls: { mode: 'Passthrough' } },
    { name: 'alt-pass', port: ports.altHttps, protocol: 'TLS', hostname: 'pass2.test', tls: { mode: 'Passthrough' } },
    { name: 'tcp', port: ports.tcp, protocol: 'TCP' },
  ];
  return [...all.filter((l) => !without.includes(l.name)), ...extra];
}

const gateway = (ls: object[]) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'gw' },
  spec: { gatewayClassName: 'k8ts', listeners: ls },
});

before(async () => {
  web = createHttpServer((req, res) => res.end(`web:${req.headers.host}`));
  tcpEcho = createNetServer((s) => s.pipe(s));
  const tlsCert = await selfSignedCertificate('passthrough-backend');
  tlsBackend = createTlsServer(tlsCert, (s) =>
    s.end(`tls-backend:${(s as unknown as { servername: string }).servername}`),
  );
  const webPort = await listenPort(web);
  const tcpPort = await listenPort(tcpEcho);
  const tlsPort = await listenPort(tlsBackend);
  const grpcA = await grpcBackend('a');
  const grpcB = await grpcBackend('b');
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  c = await startCluster({
    args: ingressFlags(ports.http, ports.https),
  });
  const cert = await selfSignedCertificate('alt-listener');
  await apply(
    ...backend('web', webPort),
    ...backend('echo', tcpPort),
    ...backend('tlsb', tlsPort),
    ...backend('grpc-a', grpcA),
    ...backend('grpc-b', grpcB),
    tlsSecret('alt-cert', cert),
  );
  // The Gateway API CRDs are installed by the server at startup.
  await until(
    'the Gateway API CRDs are served',
    async () =>
      await c.k(['get', 'tcproutes.gateway.networking.k8s.io,grpcroutes.gateway.networking.k8s.io']).then(
        () => true,
        () => false,
      ),
    60_000,
    500,
  );
  const parentRefs = [{ name: 'gw' }];
  await apply(
    gateway(listeners()),
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'web' },
      spec: { parentRefs, rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GRPCRoute',
      metadata: { name: 'echo' },
      spec: {
        parentRefs: [{ name: 'gw', sectionName: 'alt-http' }],
        hostnames: ['grpc.test'],
        rules: [
          {
            matches: [
              { method: { service: 'test.Echo', method: 'Say' }, headers: [{ name: 'x-variant', value: 'b' }] },
            ],
            backendRefs: [{ name: 'grpc-b', port: 80 }],
          },
          { matches: [{ method: { service: 'test.Echo' } }], backendRefs: [{ name: 'grpc-a', port: 80 }] },
        ],
      },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1alpha2',
      kind: 'TLSRoute',
      metadata: { name: 'sni' },
      spec: { parentRefs, hostnames: ['pass.test'], rules: [{ backendRefs: [{ name: 'tlsb', port: 80 }] }] },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1alpha2',
      kind: 'TLSRoute',
      metadata: { name: 'by-listener' },
      spec: {
        parentRefs: [
          { name: 'gw', sectionName: 'pass-named' },
          { name: 'gw', sectionName: 'alt-pass' },
        ],
        rules: [{ backendRefs: [{ name: 'tlsb', port: 80 }] }],
      },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1alpha2',
      kind: 'TCPRoute',
      metadata: { name: 'echo' },
      spec: { parentRefs, rules: [{ backendRefs: [{ name: 'echo', port: 80 }] }] },
    },
  );
});

after(async () => {
  if (c) await c.cleanup();
  web?.close();
  tcpEcho?.close();
  tlsBackend?.close();
  for (const s of grpcServers) s.forceShutdown();
});

test(
  'an HTTP listener on its own port serves its routes; an HTTPS one with its own certificate',
  { timeout: 120_000 },
  async () => {
    await until(
      'the HTTP listener port answers',
      async () => ok(await get(ports.altHttp, 'any.test'), 'web:any.test'),
      60_000,
      250,
    );
    await until(
      'the HTTPS listener port answers',
      async () => ok(await get(ports.altHttps, 'secure.test', true), 'web:secure.test'),
      60_000,
      250,
    );
    // A request whose first byte arrives alone ("P", as the h2c preface starts) is still HTTP/1.1.
    const split = await new Promise<string>((resolve) => {
      const sock = connect(ports.altHttp, '127.0.0.1');
      let got = '';
      sock.on('data', (d: Buffer) => (got += d.toString()));
      sock.on('error', () => resolve(got));
      sock.on('close', () => resolve(got));
      sock.write('P', () =>
        setTimeout(() => sock.write('UT /hello HTTP/1.1\r\nHost: split.test\r\nConnection: close\r\n\r\n'), 50),
      );
    });
    assert.match(split, /^HTTP\/1\.1 200[^]*web:split\.test$/);
    const secure = await get(ports.altHttps, 'secure.test', true);
    assert.ok('cn' in secure && secure.cn === 'alt-listener', `the listener's certificate: ${JSON.stringify(secure)}`);
    // The listener on the HTTPS port only has hostname secure.test: other hosts find no route there.
    const other = await get(ports.altHttps, 'other.test', true);
    assert.ok('status' in other && other.status === 404, JSON.stringify(other));
    await until(
      'listener status: Programmed, no conflicts, routes attached',
      async () => {
        const ls = (await gatewayStatus()).status?.listeners ?? [];
        return (
          ls.length === 6 &&
          ls.every(
            (l) =>
              l.conditions.some((x) => x.type === 'Programmed' && x.status === 'True') &&
              l.conditions.some((x) => x.type === 'Conflicted' && x.status === 'False' && x.reason === 'NoConflicts') &&
              l.conditions.some((x) => x.type === 'ResolvedRefs' && x.status === 'True'),
          ) &&
          ls.find((l) => l.name === 'alt-http')?.attachedRoutes === 2
        );
      },
      60_000,
      250,
    );
  },
);

test('GRPCRoute: a unary call over h2c, routed by method and by metadata', { timeout: 120_000 }, async () => {
  await until('the gRPC call goes through', async () => (await grpcSay(ports.altHttp, 'hi')) === 'a:hi', 60_000, 250);
  let variant = '';
  await until(
    'metadata x-variant: b picks the other backend',
    async () => (variant = await grpcSay(ports.altHttp, 'hi', { 'x-variant': 'b' })) === 'b:hi',
    { timeoutMs: 60_000, stepMs: 250, diag: () => `last answer: ${variant}` },
  );
  await until(
    'GRPCRoute status Accepted',
    async () => {
      const r = JSON.parse(await c.k(['get', 'grpcroute', 'echo', '-o', 'json'])) as {
        status?: { parents?: { conditions: { type: string; status: string }[] }[] };
      };
      return !!r.status?.parents?.[0]?.conditions.every((x) => x.status === 'True');
    },
    60_000,
    250,
  );
});

/** A gRPC-style request over h2c: the response headers and whether trailers followed them. */
function h2cCall(
  port: number,
  path: string,
): Promise<{ headers: H2Headers; trailers: boolean; endedWithHeaders: boolean }> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      ':authority': 'grpc.test',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let headers: H2Headers = {};
    let trailers = false;
    let endedWithHeaders = false;
    stream.on('response', (h, flags) => {
      headers = h;
      // END_STREAM (0x1) on the HEADERS frame: a trailers-only response.
      endedWithHeaders = (flags & 0x1) === 0x1;
    });
    stream.on('trailers', () => (trailers = true));
    stream.on('data', () => undefined);
    stream.on('close', () => {
      session.close();
      resolve({ headers, trailers, endedWithHeaders });
    });
    stream.on('error', reject);
    stream.setTimeout(15_000, () => stream.close());
    // An empty message: flag 0, length 0.
    stream.end(Buffer.alloc(5));
  });
}

test(
  'GRPCRoute: a method no rule matches gets UNIMPLEMENTED in a trailers-only response',
  { timeout: 120_000 },
  async () => {
    await until('the gRPC call goes through', async () => (await grpcSay(ports.altHttp, 'hi')) === 'a:hi', 60_000, 250);
    const r = await h2cCall(ports.altHttp, '/test.Missing/Say');
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['grpc-status'], '12');
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.ok(r.endedWithHeaders && !r.trailers, 'the status comes in the only HEADERS frame');
  },
);

test('TLSRoute passthrough by SNI and TCPRoute forwarding', { timeout: 120_000 }, async () => {
  await until('TCP listener echoes', async () => (await tcpRoundTrip(ports.tcp, 'ping')) === 'ping', 60_000, 250);
  await until(
    'TLS passthrough reaches the backend, which terminates TLS',
    async () => (await tlsHello(ports.tls, 'pass.test')) === 'tls-backend:pass.test',
    60_000,
    250,
  );
  assert.notEqual(await tlsHello(ports.tls, 'unknown.test'), 'tls-backend:unknown.test', 'no route for this name');
  // The second TLS listener of the port routes its own hostname.
  assert.equal(await tlsHello(ports.tls, 'named.test'), 'tls-backend:named.test');
});

test('TLS passthrough beside HTTPS on a port of their own: SNI picks passthrough or termination', async () => {
  await until(
    'pass2.test is passed through on the HTTPS listener port',
    async () => (await tlsHello(ports.altHttps, 'pass2.test')) === 'tls-backend:pass2.test',
    60_000,
    250,
  );
  const terminated = await get(ports.altHttps, 'secure.test', true);
  assert.ok(ok(terminated, 'web:secure.test'), JSON.stringify(terminated));
  assert.equal('cn' in terminated && terminated.cn, 'alt-listener', 'the HTTPS listener keeps its certificate');
  const status = (await gatewayStatus()).status?.listeners?.find((l) => l.name === 'alt-pass');
  assert.equal(status?.attachedRoutes, 1);
  assert.deepEqual(
    status?.conditions.map((x) => `${x.type}=${x.status}/${x.reason}`),
    [
      'Accepted=True/Accepted',
      'Conflicted=False/NoConflicts',
      'ResolvedRefs=True/ResolvedRefs',
      'Programmed=True/Programmed',
    ],
  );
});

test(
  'a conflicting listener is Conflicted; a listener that goes takes its socket along',
  { timeout: 120_000 },
  async () => {
    await until(
      'the HTTP listener port answers',
      async () => ok(await get(ports.altHttp, 'a.test'), 'web:a.test'),
      60_000,
      250,
    );
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    assert.ok(ok(await get(ports.altHttp, 'a.test', false, keepAlive), 'web:a.test'));
    await replace(gateway(listeners([{ name: 'clash', port: ports.altHttp, protocol: 'TCP' }])));
    await until(
      'the clashing listener is Conflicted (ProtocolConflict)',
      async () => {
        const x = await listenerCond('clash', 'Conflicted');
        return x?.status === 'True' && x.reason === 'ProtocolConflict';
      },
      60_000,
      250,
    );
    assert.ok(ok(await get(ports.altHttp, 'a.test'), 'web:a.test'), 'the older listener keeps its port');
    await replace(gateway(listeners([], ['alt-http', 'tcp'])));
    await until(
      'the HTTP listener port is closed',
      async () => {
        const g = await get(ports.altHttp, 'a.test');
        return 'error' in g && g.error === 'ECONNREFUSED';
      },
      60_000,
      250,
    );
    await until(
      'the TCP listener port is closed',
      async () => (await tcpRoundTrip(ports.tcp, 'x')) === 'ECONNREFUSED',
      60_000,
      250,
    );
    const again = await get(ports.altHttp, 'a.test', false, keepAlive);
    assert.ok('error' in again, `the kept-alive connection went with its listener: ${JSON.stringify(again)}`);
    keepAlive.destroy();
    assert.ok(ok(await get(ports.altHttps, 'secure.test', true), 'web:secure.test'), 'the other listeners stay');
  },
);
