// HTTP/2 on the API server's TLS listener, as kube-apiserver offers it: ALPN h2 for clients that
// ask for it (kubectl, curl), HTTP/1.1 for the others and for upgrades (WebSocket watches here;
// exec/attach/port-forward use the same path), 100 concurrent streams per connection, and the
// request deadline per stream, not per connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import tls from 'node:tls';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import YAML from 'yaml';
import WebSocket from 'ws';
import { run, startCluster, type Cluster } from './harness.js';

const CM = '/api/v1/namespaces/default/configmaps';
let cluster: Cluster;
let creds: { ca: Buffer; cert: Buffer; key: Buffer };
let host: string;
let port: number;
let certDir: string;

before(async () => {
  cluster = await startCluster({ args: ['--request-timeout', '3s'] });
  const cfg = YAML.parse(readFileSync(cluster.kubeconfig, 'utf8'));
  const b64 = (s: string) => Buffer.from(s, 'base64');
  creds = {
    ca: b64(cfg.clusters[0].cluster['certificate-authority-data']),
    cert: b64(cfg.users[0].user['client-certificate-data']),
    key: b64(cfg.users[0].user['client-key-data']),
  };
  const u = new URL(cluster.url);
  host = u.hostname;
  port = Number(u.port);
  certDir = mkdtempSync(join(tmpdir(), 'k8ts-h2-'));
  writeFileSync(join(certDir, 'ca.crt'), creds.ca);
  writeFileSync(join(certDir, 'client.crt'), creds.cert);
  writeFileSync(join(certDir, 'client.key'), creds.key);
});

after(async () => {
  await cluster?.cleanup();
  rmSync(certDir, { recursive: true, force: true });
});

function session(): http2.ClientHttp2Session {
  const s = http2.connect(cluster.url, { ca: creds.ca, cert: creds.cert, key: creds.key, servername: 'localhost' });
  s.on('error', () => {});
  return s;
}

interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
}

function request(s: http2.ClientHttp2Session, method: string, path: string, body?: string): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const req = s.request({
      ':method': method,
      ':path': path,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    });
    let headers: http2.IncomingHttpHeaders = {};
    let text = '';
    req.setEncoding('utf8');
    req.on('response', (h) => (headers = h));
    req.on('data', (d: string) => (text += d));
    req.on('end', () => resolve({ status: Number(headers[':status']), headers, body: text }));
    req.on('error', reject);
    req.end(body);
  });
}

function alpn(protocols: string[]): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, ca: creds.ca, servername: 'localhost', ALPNProtocols: protocols }, () => {
      resolve(s.alpnProtocol ?? false);
      s.destroy();
    });
    s.once('error', reject);
  });
}

test('ALPN: h2 for clients that offer it, HTTP/1.1 for the others', async () => {
  assert.equal(await alpn(['h2', 'http/1.1']), 'h2');
  assert.equal(await alpn(['http/1.1']), 'http/1.1');
  assert.equal(await alpn([]), false);
});

test('requests over HTTP/2: authentication by client certificate, create, get, list, errors as Status', async () => {
  const s = session();
  try {
    const created = await request(
      s,
      'POST',
      CM,
      JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'h2-one' }, data: { a: 'b' } }),
    );
    assert.equal(created.status, 201, created.body);
    const got = await request(s, 'GET', `${CM}/h2-one`);
    assert.equal(got.status, 200);
    assert.equal(JSON.parse(got.body).data.a, 'b');
    const missing = await request(s, 'GET', `${CM}/nope`);
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.body).reason, 'NotFound');
    // HTTP/1.1's connection headers are never sent over HTTP/2 (a watch sets Transfer-Encoding).
    assert.equal(got.headers['transfer-encoding'], undefined);
    assert.equal(got.headers.connection, undefined);
  } finally {
    s.close();
  }
  // Without a client certificate: system:anonymous (403 on resources), on the same protocol.
  const anon = http2.connect(cluster.url, { ca: creds.ca, servername: 'localhost' });
  anon.on('error', () => {});
  try {
    assert.equal((await request(anon, 'GET', CM)).status, 403);
  } finally {
    anon.close();
  }
});

test('curl --http2 negotiates HTTP/2', { skip: hasCurl() ? false : 'curl not installed' }, () => {
  const out = execFileSync(
    'curl',
    [
      '-sS',
      '--http2',
      '--cacert',
      join(certDir, 'ca.crt'),
      '--cert',
      join(certDir, 'client.crt'),
      '--key',
      join(certDir, 'client.key'),
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      `${cluster.url}/api/v1/namespaces`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(out, '2 200');
  const h1 = execFileSync(
    'curl',
    [
      '-sS',
      '--http1.1',
      '--cacert',
      join(certDir, 'ca.crt'),
      '--cert',
      join(certDir, 'client.crt'),
      '--key',
      join(certDir, 'client.key'),
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      `${cluster.url}/api/v1/namespaces`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(h1, '1.1 200');
});

function hasCurl(): boolean {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('kubectl (which uses h2 when offered) works: oldest and newest versioned binaries', async () => {
  const dir = dirname(
    execFileSync('readlink', ['-f', execFileSync('which', ['kubectl'], { encoding: 'utf8' }).trim()], {
      encoding: 'utf8',
    }).trim(),
  );
  for (const v of ['1.27', '1.33']) {
    const bin = join(dir, `kubectl.${v}`);
    const name = `h2-kubectl-${v.replace('.', '-')}`;
    const created = await cluster.kubectl(['create', 'configmap', name, '--from-literal=k=v'], { bin });
    assert.equal(created.code, 0, created.stderr);
    const got = await cluster.kubectl(['get', 'configmap', name, '-o', 'jsonpath={.data.k}'], { bin });
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, 'v');
    const applied = await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], {
      bin,
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace: 'default' },
        data: { k: 'w' },
      }),
    });
    assert.equal(applied.code, 0, applied.stderr);
  }
});

test('a watch over HTTP/2 streams events', async () => {
  const s = session();
  try {
    const events: any[] = [];
    const req = s.request({
      ':method': 'GET',
      ':path': `${CM}?watch=true&fieldSelector=metadata.name%3Dh2-watched&timeoutSeconds=20`,
    });
    req.setEncoding('utf8');
    let buffered = '';
    const seen = new Promise<void>((resolve, reject) => {
      req.on('data', (d: string) => {
        buffered += d;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buffered.slice(0, nl)));
          buffered = buffered.slice(nl + 1);
          if (events.length === 2) resolve();
        }
      });
      req.on('error', reject);
    });
    const status = await new Promise<number>((resolve) => req.on('response', (h) => resolve(Number(h[':status']))));
    assert.equal(status, 200);
    // On the same connection, while the watch's stream is open.
    assert.equal(
      (
        await request(
          s,
          'POST',
          CM,
          JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'h2-watched' } }),
        )
      ).status,
      201,
    );
    assert.equal((await request(s, 'DELETE', `${CM}/h2-watched`)).status, 200);
    await seen;
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.object.metadata.name}`),
      ['ADDED h2-watched', 'DELETED h2-watched'],
    );
    req.close();
  } finally {
    s.close();
  }
});

test('one connection has at most 100 concurrent streams (kube-apiserver default); the rest wait their turn', async () => {
  const s = session();
  try {
    await new Promise<void>((resolve) => s.once('remoteSettings', () => resolve()));
    assert.equal(s.remoteSettings.maxConcurrentStreams, 100);
    // 300 watches, each holding its stream open until closed here.
    let answered = 0;
    const streams = Array.from({ length: 300 }, () => {
      const req = s.request({ ':method': 'GET', ':path': `${CM}?watch=true&timeoutSeconds=60` });
      req.on('response', () => answered++);
      req.on('error', () => {});
      req.resume();
      return req;
    });
    const settle = async (want: number) => {
      const deadline = Date.now() + 20_000;
      while (answered < want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      // Give any stream beyond the limit time to show up.
      await new Promise((r) => setTimeout(r, 500));
    };
    await settle(100);
    assert.equal(answered, 100, 'streams beyond the limit are not served at once');
    // Closing 100 lets the next 100 in.
    for (const st of streams.slice(0, 100)) st.close();
    await settle(200);
    assert.equal(answered, 200);
    for (const st of streams) st.close();
    // The connection stays usable for ordinary requests afterwards.
    assert.equal((await request(s, 'GET', `${CM}?limit=1`)).status, 200);
  } finally {
    s.close();
  }
});

test('the request deadline ends one stream, not the connection', async () => {
  const s = session();
  try {
    // A body that never completes: 504 at the 3 s --request-timeout.
    const started = Date.now();
    const slow = s.request({ ':method': 'POST', ':path': CM, 'content-type': 'application/json' });
    slow.write('{"apiVersion":"v1",');
    slow.on('error', () => {});
    const status = await new Promise<number>((resolve) => slow.on('response', (h) => resolve(Number(h[':status']))));
    assert.equal(status, 504);
    assert.ok(Date.now() - started >= 2_500);
    // Another stream on the same connection is answered as usual.
    assert.equal((await request(s, 'GET', `${CM}?limit=1`)).status, 200);
  } finally {
    s.close();
  }
});

test('HTTP/1.1 Upgrade requests still work beside h2: a WebSocket watch', async () => {
  const ws = new WebSocket(
    `${cluster.url.replace(/^https:/, 'wss:')}${CM}?watch=true&fieldSelector=metadata.name%3Dh2-ws`,
    [],
    { ca: creds.ca, cert: creds.cert, key: creds.key },
  );
  const first = new Promise<any>((resolve, reject) => {
    ws.once('message', (d) => resolve(JSON.parse((d as Buffer).toString())));
    ws.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const created = await run('kubectl', ['--kubeconfig', cluster.kubeconfig, 'create', 'configmap', 'h2-ws'], {});
  assert.equal(created.code, 0, created.stderr);
  const ev = await first;
  assert.equal(ev.type, 'ADDED');
  assert.equal(ev.object.metadata.name, 'h2-ws');
  ws.close();
});
