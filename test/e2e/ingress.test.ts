// The built-in ingress controller with real containers: two hosts over HTTPS with their own
// certificates from Secrets (checked with curl --resolve, HTTP/2 included), HTTP redirected to
// HTTPS, a WebSocket echo through the ingress, basic auth, rewrite-target with a capture group,
// canary weight 20 over 1,000 requests, 404/503, status from the node address, and a broken
// Ingress (missing Secret, unknown Service) reported in events without hurting the others.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { IngressClass } from 'kubernetes-types/networking/v1.js';
import {
  ingressFlags,
  importTestImages,
  realContainersUnavailable,
  run,
  startCluster,
  until,
  type Cluster,
  waitForReadyNode,
} from './harness.js';
import { freePort } from '../support/ports.js';

const skip = realContainersUnavailable();
let c: Cluster;
let httpPort = 0;
let httpsPort = 0;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

// A new connection per request: NGINX closes idle keep-alive connections when it reloads, and a
// request sent on one at that moment is reset (browsers retry such requests; node's http does not).
function get(host: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: httpPort, path, headers: { host, ...headers }, agent: false, timeout: 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body.trim() }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * curl over HTTPS to the ingress with the host resolved to 127.0.0.1: [code, http version, body].
 * A connection NGINX's old workers close while reloading (an Ingress change just before) ends
 * before any answer: curl exits 16 (HTTP/2 GOAWAY), 52 or 56. Browsers retry those; so does this,
 * twice.
 */
async function curlTls(host: string, path: string, caFile: string, extra: string[] = []): Promise<string[]> {
  let r = await curlOnce(host, path, caFile, extra);
  for (let retry = 0; retry < 2 && [16, 52, 56].includes(r.code); retry++) {
    await new Promise((ok) => setTimeout(ok, 200));
    r = await curlOnce(host, path, caFile, extra);
  }
  if (r.code !== 0) return [`curl exit ${r.code}`, '', r.stderr.trim()];
  const lines = r.stdout.trim().split('\n');
  const [code, version] = lines.pop()!.split(' ');
  return [code, version, lines.join('\n').trim()];
}

function curlOnce(host: string, path: string, caFile: string, extra: string[]) {
  return run('curl', [
    '-sS',
    '--max-time',
    '10',
    '--resolve',
    `${host}:${httpsPort}:127.0.0.1`,
    '--cacert',
    caFile,
    '-w',
    '\n%{http_code} %{http_version}',
    ...extra,
    `https://${host}:${httpsPort}${path}`,
  ]);
}

function selfSigned(dir: string, host: string): { crt: string; key: string } {
  const crt = join(dir, `${host}.crt`);
  const key = join(dir, `${host}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '2'].concat([
      '-subj',
      `/CN=${host}`,
      '-addext',
      `subjectAltName=DNS:${host}`,
    ]),
    { stdio: 'ignore' },
  );
  return { crt, key };
}

/** A tiny WebSocket echo server (RFC 6455 handshake and unfragmented frames) for the node image. */
const WS_ECHO = `
const http = require('http'), crypto = require('crypto');
const s = http.createServer((q, r) => r.end('ws-server\\n'));
s.on('upgrade', (q, sock, head) => {
  const accept = crypto.createHash('sha1').update(q.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  sock.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + accept + '\\r\\n\\r\\n');
  let buf = head;
  const onData = (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      if (buf.length < 2) return;
      const op = buf[0] & 15, masked = buf[1] & 128;
      let len = buf[1] & 127, off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      const need = off + (masked ? 4 : 0) + len;
      if (buf.length < need) return;
      const mask = masked ? buf.subarray(off, off + 4) : null;
      const p = Buffer.from(buf.subarray(need - len, need));
      if (mask) for (let i = 0; i < p.length; i++) p[i] ^= mask[i & 3];
      buf = buf.subarray(need);
      if (op === 8) return sock.end(Buffer.from([0x88, 0]));
      if (op === 1 || op === 2) {
        const text = Buffer.from('echo: ' + p.toString());
        sock.write(Buffer.concat([Buffer.from([0x80 | op, text.length]), text]));
      }
    }
  };
  sock.on('data', onData);
  sock.on('error', () => {});
});
s.listen(8080);
process.on('SIGTERM', () => process.exit(0));
`;

function httpdDeployment(name: string, text: string) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: 'web',
              image: 'k8ts.local/httpd:1.35',
              ports: [{ containerPort: 8080, name: 'web' }],
              command: [
                'sh',
                '-c',
                `mkdir -p /www; echo ${text} > /www/index.html; echo rewritten-${text} > /www/echo.txt; ` +
                  `trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait`,
              ],
            },
          ],
        },
      },
    },
  };
}

function service(name: string, selector: string) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { selector: { app: selector }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  };
}

type PathSpec = [path: string, pathType: string, service: string];
function ingress(
  name: string,
  host: string,
  paths: PathSpec[],
  opts: { annotations?: Record<string, string>; tlsSecret?: string; portName?: boolean } = {},
) {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, annotations: opts.annotations ?? {} },
    spec: {
      ...(opts.tlsSecret ? { tls: [{ hosts: [host], secretName: opts.tlsSecret }] } : {}),
      rules: [
        {
          host,
          http: {
            paths: paths.map(([path, pathType, svc]) => ({
              path,
              pathType,
              backend: { service: { name: svc, port: opts.portName ? { name: 'http' } : { number: 80 } } },
            })),
          },
        },
      ],
    },
  };
}

const apply = (...objs: object[]) =>
  c.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));

let certs: Record<'a' | 'b', { crt: string; key: string }>;

before(async () => {
  if (skip) return;
  httpPort = await freePort();
  httpsPort = await freePort();
  c = await startCluster({
    agent: true,
    args: ingressFlags(httpPort, httpsPort),
  });
  await waitForReadyNode(c);
  await importTestImages(c, ['httpd', 'node']);
  certs = { a: selfSigned(c.dataDir, 'a.example.com'), b: selfSigned(c.dataDir, 'b.example.com') };
  await c.k(['create', 'secret', 'tls', 'a-tls', '--cert', certs.a.crt, '--key', certs.a.key]);
  await c.k(['create', 'secret', 'tls', 'b-tls', '--cert', certs.b.crt, '--key', certs.b.key]);
  const hash = execFileSync('openssl', ['passwd', '-apr1', 'open-sesame'], { encoding: 'utf8' }).trim();
  await c.k(['create', 'secret', 'generic', 'basic-auth', `--from-literal=auth=ali:${hash}\n`]);
  await apply(
    httpdDeployment('site-a', 'site-a'),
    httpdDeployment('site-b', 'site-b'),
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'ws' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'ws' } },
        template: {
          metadata: { labels: { app: 'ws' } },
          spec: { containers: [{ name: 'ws', image: 'k8ts.local/node:20', command: ['node', '-e', WS_ECHO] }] },
        },
      },
    },
    service('site-a', 'site-a'),
    service('site-b', 'site-b'),
    service('ws', 'ws'),
    service('nobody', 'nobody-has-this-label'),
    ingress('tls-a', 'a.example.com', [['/', 'Prefix', 'site-a']], { tlsSecret: 'a-tls' }),
    ingress('tls-b', 'b.example.com', [['/', 'Prefix', 'site-b']], { tlsSecret: 'b-tls', portName: true }),
    ingress('auth', 'auth.example.com', [['/', 'Prefix', 'site-a']], {
      annotations: {
        'nginx.ingress.kubernetes.io/auth-type': 'basic',
        'nginx.ingress.kubernetes.io/auth-secret': 'basic-auth',
        'nginx.ingress.kubernetes.io/auth-realm': 'Authentication Required',
      },
    }),
    ingress('rewrite', 'rw.example.com', [['/something(/|$)(.*)', 'ImplementationSpecific', 'site-a']], {
      annotations: { 'nginx.ingress.kubernetes.io/rewrite-target': '/$2' },
    }),
    ingress('main', 'canary.example.com', [['/', 'Prefix', 'site-a']]),
    ingress('canary', 'canary.example.com', [['/', 'Prefix', 'site-b']], {
      annotations: { 'nginx.ingress.kubernetes.io/canary': 'true', 'nginx.ingress.kubernetes.io/canary-weight': '20' },
    }),
    ingress('ws', 'ws.example.com', [['/', 'Prefix', 'ws']]),
    ingress('empty', 'empty.example.com', [['/', 'Prefix', 'nobody']]),
  );
  for (const d of ['site-a', 'site-b', 'ws']) await c.k(['rollout', 'status', `deploy/${d}`, '--timeout=180s']);
  await until('site-a through the ingress', async () => (await get('canary.example.com', '/')).status === 200, 30_000);
});

after(async () => {
  if (c) await c.cleanup();
});

test('the k8ts IngressClass is installed as the default class', { skip }, async () => {
  const cls = JSON.parse(await c.k(['get', 'ingressclass', 'k8ts', '-o', 'json'])) as IngressClass;
  assert.equal(cls.spec?.controller, 'k8ts.io/ingress');
  assert.equal(cls.metadata?.annotations?.['ingressclass.kubernetes.io/is-default-class'], 'true');
});

test(
  'two hosts over HTTPS, each with the certificate of its own Secret (SNI), HTTP/2 and HTTP/1.1',
  { skip },
  async () => {
    assert.deepEqual(await curlTls('a.example.com', '/', certs.a.crt), ['200', '2', 'site-a']);
    assert.deepEqual(await curlTls('b.example.com', '/', certs.b.crt), ['200', '2', 'site-b']);
    assert.deepEqual(await curlTls('a.example.com', '/', certs.a.crt, ['--http1.1']), ['200', '1.1', 'site-a']);
    // b's certificate does not verify against a's: each host really gets its own.
    const wrong = await curlTls('b.example.com', '/', certs.a.crt);
    assert.notEqual(wrong[0], '200');
  },
);

test('plain HTTP to a TLS host is redirected to HTTPS with 308', { skip }, async () => {
  const r = await get('a.example.com', '/some/path?x=1');
  assert.equal(r.status, 308);
  assert.equal(r.headers.location, `https://a.example.com:${httpsPort}/some/path?x=1`);
});

test('a WebSocket echo through the ingress', { skip, timeout: 30_000 }, async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/chat`, { headers: { host: 'ws.example.com' } });
  const reply = await new Promise<string>((resolve, reject) => {
    ws.once('open', () => ws.send('hello through the ingress'));
    ws.once('message', (d: Buffer) => resolve(d.toString()));
    ws.once('error', reject);
  });
  ws.close();
  assert.equal(reply, 'echo: hello through the ingress');
});

test('basic auth: 401 with a challenge, then 200 with the htpasswd (apr1) password', { skip }, async () => {
  const denied = await get('auth.example.com', '/');
  assert.equal(denied.status, 401);
  assert.equal(denied.headers['www-authenticate'], 'Basic realm="Authentication Required"');
  const wrong = await get('auth.example.com', '/', {
    authorization: 'Basic ' + Buffer.from('ali:nope').toString('base64'),
  });
  assert.equal(wrong.status, 401);
  const ok = await get('auth.example.com', '/', {
    authorization: 'Basic ' + Buffer.from('ali:open-sesame').toString('base64'),
  });
  assert.deepEqual([ok.status, ok.body], [200, 'site-a']);
});

test('rewrite-target with a capture group', { skip }, async () => {
  const r = await get('rw.example.com', '/something/echo.txt');
  assert.deepEqual([r.status, r.body], [200, 'rewritten-site-a']);
  assert.equal((await get('rw.example.com', '/something')).body, 'site-a');
});

test('canary-weight 20 sends 20% ± 5% of 1,000 requests to the canary', { skip, timeout: 120_000 }, async () => {
  let canary = 0;
  for (let i = 0; i < 1000; i++) {
    const r = await get('canary.example.com', '/');
    assert.equal(r.status, 200);
    if (r.body === 'site-b') canary++;
  }
  assert.ok(canary >= 150 && canary <= 250, `canary answered ${canary} of 1000`);
});

test('404 without a route, 503 when the Service has no ready endpoints', { skip }, async () => {
  assert.equal((await get('unknown.example.com', '/')).status, 404);
  assert.equal((await get('empty.example.com', '/')).status, 503);
});

test("status.loadBalancer.ingress is the node's address", { skip, timeout: 30_000 }, async () => {
  const nodeIP = (
    await c.k(['get', 'nodes', '-o', 'jsonpath={.items[0].status.addresses[?(@.type=="InternalIP")].address}'])
  ).trim();
  await until(
    'the ingress status',
    async () =>
      (await c.k(['get', 'ingress', 'tls-a', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])) === nodeIP,
    20_000,
    300,
  );
});

test('a broken Ingress is reported in events and leaves the others serving', { skip, timeout: 30_000 }, async () => {
  await apply(
    ingress('broken', 'broken.example.com', [['/', 'Prefix', 'no-such-service']], { tlsSecret: 'no-such-secret' }),
  );
  const reasons = await until(
    'warning events on the broken Ingress',
    async () => {
      const out = await c.k([
        'get',
        'events',
        '--field-selector',
        'involvedObject.name=broken,type=Warning',
        '-o',
        'jsonpath={.items[*].reason}',
      ]);
      return out.includes('SecretNotFound') && out.includes('ServiceNotFound') && out;
    },
    20_000,
    300,
  );
  assert.ok(reasons);
  assert.equal((await get('broken.example.com', '/')).status, 308, 'its TLS host still redirects');
  assert.equal((await curlTls('broken.example.com', '/', certs.a.crt, ['-k']))[0], '503');
  assert.deepEqual(await curlTls('a.example.com', '/', certs.a.crt), ['200', '2', 'site-a']);
});
