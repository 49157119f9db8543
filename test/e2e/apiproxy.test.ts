// The API server's proxies (pods/proxy, services/proxy, nodes/proxy) against a backend this test
// runs on the host: the real server, kubectl get --raw, kubectl proxy and a WebSocket client.
// The pod and the service's endpoint carry the host's own address (as a pod of the process
// runtime does), so the API server reaches the backend the way it reaches a pod: at its IP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { WebSocket, WebSocketServer } from 'ws';
import { startCluster, until, type Cluster } from './harness.js';
import { rawClient, type RawClient } from './rawclient.js';

/** The host's first external IPv4 address (a global unicast one, as a pod IP must be). */
function hostIP(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

const HOST = hostIP();

/** A page with links of every kind upstream's transport tells apart. */
const HTML_PAGE = (host: string) =>
  `<html><head><link rel="stylesheet" href="/static/app.css"><script src='/js/app.js'></script></head>` +
  `<body><a href="/docs/?a=1&amp;b=2">docs</a> <a href="relative/page">rel</a> ` +
  `<a href="http://example.com/x">out</a> <a href="http://${host}/abs/">abs</a> ` +
  `<img src=/img/logo.png alt="/not/a/url"><form action="/submit" method="post"></form>` +
  `<p title="/not/a/link">/text/stays</p></body></html>`;
let cluster: Cluster;
let raw: RawClient;
let backend: http.Server;
let port = 0;
const NODE = 'proxy-node';

before(async () => {
  if (!HOST) return;
  // The backend: echoes what it got as JSON; a few paths answer redirects and CORS headers.
  backend = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      if (req.url === '/redirect') return res.writeHead(302, { Location: '/moved/here?x=1' }).end();
      if (req.url === '/elsewhere') return res.writeHead(302, { Location: 'http://example.com/x' }).end();
      if (req.url === '/page.html' || req.url === '/page.gz') {
        const gz = req.url === '/page.gz';
        const body = Buffer.from(HTML_PAGE(`${HOST}:${port}`));
        res.writeHead(200, {
          'Content-Type': 'text/html; charset=utf-8',
          ...(gz ? { 'Content-Encoding': 'gzip' } : {}),
        });
        return res.end(gz ? gzipSync(body) : body);
      }
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Access-Control-Allow-Origin': '*',
        'X-Backend': 'yes',
        Connection: 'X-Private, keep-alive',
        'X-Private': 'hop',
      });
      res.end(
        JSON.stringify({
          method: req.method,
          url: req.url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
  });
  const wss = new WebSocketServer({ server: backend });
  wss.on('connection', (ws, req) => {
    ws.send(`hello ${req.url} ${req.headers.authorization ?? 'no-auth'}`);
    ws.on('message', (m) => ws.send(`echo:${(m as Buffer).toString()}`));
  });
  await new Promise<void>((r) => backend.listen(0, '0.0.0.0', () => r()));
  port = (backend.address() as AddressInfo).port;

  cluster = await startCluster();
  raw = rawClient(cluster.kubeconfig);
  const docs = [
    { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE } },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'backend', namespace: 'default' },
      spec: { containers: [{ name: 'c', image: 'none', ports: [{ containerPort: port }] }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'no-ip', namespace: 'default' },
      spec: { containers: [{ name: 'c', image: 'none' }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'backend-svc', namespace: 'default' },
      spec: { ports: [{ name: 'http', port: 8080, targetPort: port }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'backend-svc', namespace: 'default' },
      subsets: [
        {
          addresses: [{ ip: HOST, targetRef: { kind: 'Pod', namespace: 'default', name: 'backend' } }],
          ports: [{ name: 'http', port }],
        },
      ],
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'empty', namespace: 'default' },
      spec: { ports: [{ port: 80 }] },
    },
    { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'empty', namespace: 'default' } },
  ];
  await cluster.k(['apply', '-f', '-'], docs.map((d) => YAML.stringify(d)).join('---\n'));
  // The node's agent port is one nothing listens on: only "node:port" reaches the backend.
  const nodeStatus = {
    status: {
      addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
      daemonEndpoints: { kubeletEndpoint: { Port: 1 } },
    },
  };
  await cluster.k(['patch', 'node', NODE, '--subresource=status', '--type=merge', '-p', JSON.stringify(nodeStatus)]);
  await cluster.k([
    'patch',
    'pod',
    'backend',
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status: { podIP: HOST, podIPs: [{ ip: HOST }] } }),
  ]);
});

after(async () => {
  raw?.agent.destroy();
  await cluster?.cleanup();
  backend?.closeAllConnections();
  await new Promise<void>((r) => (backend ? backend.close(() => r()) : r()));
});

const skip = HOST ? false : 'the host has no external IPv4 address';
const getRaw = async (path: string) => JSON.parse(await cluster.k(['get', '--raw', path]));

test('discovery lists the proxy subresources with upstream verbs', { skip }, async () => {
  const { body } = await raw.json('GET', '/api/v1');
  for (const [name, kind] of [
    ['pods/proxy', 'PodProxyOptions'],
    ['services/proxy', 'ServiceProxyOptions'],
    ['nodes/proxy', 'NodeProxyOptions'],
  ]) {
    const r = body.resources.find((x: any) => x.name === name);
    assert.deepEqual(r?.verbs, ['create', 'delete', 'get', 'patch', 'update'], name);
    assert.equal(r.kind, kind);
  }
});

test('services/proxy by port number, port name and scheme; pods/proxy; nodes/proxy with a port', { skip }, async () => {
  for (const svc of ['backend-svc:8080', 'backend-svc:http', 'http:backend-svc:8080']) {
    const got = await getRaw(`/api/v1/namespaces/default/services/${svc}/proxy/some/path/?q=1`);
    assert.equal(got.url, '/some/path/?q=1', svc);
    assert.equal(got.method, 'GET');
  }
  // Path and query reach the backend as the client escaped them.
  const exact = await raw.request(
    'GET',
    '/api/v1/namespaces/default/services/backend-svc:8080/proxy/a%2Fb/c%20d/?r=a%20b&s=%2F',
  );
  assert.equal(JSON.parse(exact.body).url, '/a%2Fb/c%20d/?r=a%20b&s=%2F');
  // A pod: the port named, else its first container's first port.
  assert.equal((await getRaw(`/api/v1/namespaces/default/pods/backend:${port}/proxy/p`)).url, '/p');
  assert.equal((await getRaw('/api/v1/namespaces/default/pods/backend/proxy/')).url, '/');
  assert.equal((await getRaw(`/api/v1/nodes/${NODE}:${port}/proxy/n/x`)).url, '/n/x');
});

test('every method with its body; headers as upstream passes them', { skip }, async () => {
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    // (Node's client sends no Content-Length for a DELETE body unless told.)
    const body = `body of ${method}`;
    const r = await raw.request(method, '/api/v1/namespaces/default/services/backend-svc:8080/proxy/m', body, {
      'Content-Type': 'text/plain',
      'Content-Length': String(body.length),
    });
    assert.equal(r.status, 200, `${method}: ${r.body}`);
    const got = JSON.parse(r.body);
    assert.equal(got.method, method);
    assert.equal(got.body, `body of ${method}`);
  }
  const r = await raw.request('GET', '/api/v1/namespaces/default/services/backend-svc:8080/proxy/h', undefined, {
    Authorization: 'Bearer secret-of-the-client',
    // Impersonation is authorized (and acted on) here; it never reaches the backend.
    'Impersonate-User': 'someone',
    'Impersonate-Group': 'system:masters',
    Connection: 'X-Hop',
    'X-Hop': 'dropped',
    'X-End-To-End': 'kept',
  });
  assert.equal(r.status, 200);
  const h = JSON.parse(r.body).headers;
  assert.equal(h.authorization, undefined);
  assert.equal(h['impersonate-user'], undefined);
  assert.equal(h['impersonate-group'], undefined);
  assert.equal(h['x-hop'], undefined);
  assert.equal(h['x-end-to-end'], 'kept');
  assert.equal(h['x-forwarded-uri'], '/api/v1/namespaces/default/services/backend-svc:8080/proxy/h');
  assert.equal(h['x-forwarded-proto'], 'https');
  assert.ok(h['x-forwarded-for']);
  // The answer: the backend's end-to-end headers, not its hop-by-hop or CORS ones.
  assert.equal(r.headers['x-backend'], 'yes');
  assert.equal(r.headers['x-private'], undefined);
  assert.equal(r.headers['access-control-allow-origin'], undefined);
});

test(
  'HTML pages: links to absolute paths on the backend rewritten under the proxy, as upstream',
  { skip },
  async () => {
    for (const [kind, base] of [
      ['service', '/api/v1/namespaces/default/services/backend-svc:8080/proxy'],
      ['pod', `/api/v1/namespaces/default/pods/backend:${port}/proxy`],
      ['node', `/api/v1/nodes/${NODE}:${port}/proxy`],
    ]) {
      const r = await raw.bytes('GET', `${base}/page.html`, undefined, { Accept: 'text/html' });
      assert.equal(r.status, 200, `${kind}: ${r.body.toString()}`);
      const html = r.body.toString();
      assert.match(html, new RegExp(`<link rel="stylesheet" href="${base}/static/app.css">`), kind);
      assert.ok(html.includes(`<script src="${base}/js/app.js"></script>`), html);
      assert.ok(html.includes(`<a href="${base}/docs/?a=1&amp;b=2">`), html);
      assert.ok(html.includes('<a href="relative/page">'), html);
      assert.ok(html.includes('<a href="http://example.com/x">'), html);
      assert.ok(html.includes(`<img src="${base}/img/logo.png" alt="/not/a/url">`), html);
      assert.ok(html.includes(`<form action="${base}/submit" method="post">`), html);
      assert.ok(html.includes('<p title="/not/a/link">/text/stays</p>'), html);
      // An absolute URL to the backend itself (the node is reached at another address): under the proxy too.
      if (kind !== 'node') assert.ok(html.includes(`<a href="${base}/abs/">abs</a>`), html);
    }
    // A gzip page is decoded, rewritten and encoded again.
    const base = '/api/v1/namespaces/default/services/backend-svc:8080/proxy';
    const gz = await raw.bytes('GET', `${base}/page.gz`, undefined, { Accept: 'text/html' });
    assert.equal(gz.type, 'text/html; charset=utf-8');
    assert.ok(gunzipSync(gz.body).toString().includes(`<img src="${base}/img/logo.png"`));
    // kubectl get --raw gets the same page.
    assert.match(await cluster.k(['get', '--raw', `${base}/page.html`]), new RegExp(`href="${base}/docs/`));
  },
);

test('redirects: the proxy root gets its slash; backend redirects stay inside the proxy', { skip }, async () => {
  const base = '/api/v1/namespaces/default/services/backend-svc:8080/proxy';
  let r = await raw.request('GET', `${base}?a=b`);
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, `${base}/?a=b`);
  r = await raw.request('GET', `${base}/redirect`);
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, `${base}/moved/here?x=1`);
  r = await raw.request('GET', `${base}/elsewhere`);
  assert.equal(r.headers.location, 'http://example.com/x');
});

test(
  'upstream errors: unknown service or pod 404, no endpoints 503, no port 503, unreachable 503, no pod IP 400',
  { skip },
  async () => {
    const status = async (path: string) => {
      const r = await raw.json('GET', path);
      return { code: r.status, reason: r.body.reason, message: r.body.message };
    };
    assert.deepEqual(await status('/api/v1/namespaces/default/services/nope/proxy/'), {
      code: 404,
      reason: 'NotFound',
      message: 'endpoints "nope" not found',
    });
    assert.deepEqual(await status('/api/v1/namespaces/default/services/nope:80/proxy/'), {
      code: 404,
      reason: 'NotFound',
      message: 'services "nope" not found',
    });
    assert.deepEqual(await status('/api/v1/namespaces/default/services/empty/proxy/'), {
      code: 503,
      reason: 'ServiceUnavailable',
      message: 'no endpoints available for service "empty"',
    });
    assert.deepEqual(await status('/api/v1/namespaces/default/services/backend-svc:9999/proxy/'), {
      code: 503,
      reason: 'ServiceUnavailable',
      message: 'no service port 9999 found for service "backend-svc"',
    });
    assert.deepEqual(await status('/api/v1/namespaces/default/pods/nope/proxy/'), {
      code: 404,
      reason: 'NotFound',
      message: 'pods "nope" not found',
    });
    assert.deepEqual(await status('/api/v1/namespaces/default/pods/no-ip/proxy/'), {
      code: 400,
      reason: 'BadRequest',
      message: 'address not allowed',
    });
    assert.deepEqual(await status('/api/v1/nodes/nope/proxy/'), {
      code: 404,
      reason: 'NotFound',
      message: 'nodes "nope" not found',
    });
    assert.deepEqual(await status('/api/v1/namespaces/default/services/a:b:c:d/proxy/'), {
      code: 400,
      reason: 'BadRequest',
      message: 'invalid service request "a:b:c:d"',
    });
    const down = await status(`/api/v1/nodes/${NODE}/proxy/healthz`);
    assert.equal(down.code, 503);
    assert.match(down.message, /^error trying to reach service: .*ECONNREFUSED/);
    // kubectl shows the same.
    const k = await cluster.kubectl(['get', '--raw', '/api/v1/namespaces/default/services/empty/proxy/']);
    assert.notEqual(k.code, 0);
    assert.match(k.stderr, /ServiceUnavailable|no endpoints available for service/);
  },
);

test("WebSocket through services/proxy and nodes/proxy, without the client's credentials", { skip }, async () => {
  const cfg = YAML.parse(readFileSync(cluster.kubeconfig, 'utf8'));
  const b64 = (s: string) => Buffer.from(s, 'base64');
  const tlsOpts = {
    ca: b64(cfg.clusters[0].cluster['certificate-authority-data']),
    cert: b64(cfg.users[0].user['client-certificate-data']),
    key: b64(cfg.users[0].user['client-key-data']),
  };
  const server = new URL(cluster.url);
  for (const path of [
    '/api/v1/namespaces/default/services/backend-svc:http/proxy/ws?x=1',
    `/api/v1/nodes/${NODE}:${port}/proxy/ws2`,
  ]) {
    const ws = new WebSocket(`wss://${server.host}${path}`, {
      ...tlsOpts,
      headers: { Authorization: 'Bearer secret' },
    });
    const messages: string[] = [];
    ws.on('message', (m) => messages.push((m as Buffer).toString()));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send('ping');
    await until('the echo', () => messages.length >= 2, 5000, 20);
    assert.equal(messages[0], `hello ${path.replace(/^.*\/proxy/, '')} no-auth`);
    assert.equal(messages[1], 'echo:ping');
    ws.close();
  }
});

test('kubectl proxy, then a plain HTTP client through it', { skip }, async () => {
  const proc = spawn('kubectl', ['--kubeconfig', cluster.kubeconfig, 'proxy', '--port=0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  try {
    const local = await until(
      'kubectl proxy to listen',
      () => /Starting to serve on 127\.0\.0\.1:(\d+)/.exec(out)?.[1],
      20_000,
      100,
    );
    const svc = await fetch(
      `http://127.0.0.1:${local}/api/v1/namespaces/default/services/backend-svc:8080/proxy/via-kubectl-proxy`,
    ).then((r) => r.json() as Promise<{ url: string }>);
    assert.equal(svc.url, '/via-kubectl-proxy');
    const pod = await fetch(`http://127.0.0.1:${local}/api/v1/namespaces/default/pods/backend/proxy/pod`).then(
      (r) => r.json() as Promise<{ url: string }>,
    );
    assert.equal(pod.url, '/pod');
    const empty = await fetch(`http://127.0.0.1:${local}/api/v1/namespaces/default/services/empty/proxy/`);
    assert.equal(empty.status, 503);
  } finally {
    proc.kill('SIGTERM');
  }
});
