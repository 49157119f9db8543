// Connection-level limits of the API server: deadlines on idle and half-sent connections, the
// cap on unauthenticated connections, the request timeout, max-in-flight, TLS parameters,
// forged client certificates, and the files the SQLite store leaves on disk.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { startCluster, type Cluster } from './harness.js';
import { rawClient, type RawClient } from './rawclient.js';
import { caFromPem, generateKeys, issue } from '../../src/machinery/pki.js';
import { KeyUsage, issueCertificate, readIssuerCertificate } from '../../src/machinery/certificate.js';

const CM = '/api/v1/namespaces/default/configmaps';
let cluster: Cluster;
let api: RawClient;
let storeDir: string;
let host: string;
let port: number;
let credentials: { ca: Buffer; cert: Buffer; key: Buffer };

before(async () => {
  storeDir = mkdtempSync(join(tmpdir(), 'k8ts-store-'));
  cluster = await startCluster({
    args: [
      '--request-timeout',
      '3s',
      '--max-mutating-requests-inflight',
      '1',
      // The legacy max-in-flight filter, which API Priority and Fairness replaces when enabled.
      '--enable-priority-and-fairness=false',
      '--datastore-endpoint',
      `sqlite://${storeDir}/a/b/state.db`,
    ],
  });
  api = rawClient(cluster.kubeconfig);
  const u = new URL(cluster.url);
  host = u.hostname;
  port = Number(u.port);
  const cfg = YAML.parse(readFileSync(cluster.kubeconfig, 'utf8'));
  const b64 = (s: string) => Buffer.from(s, 'base64');
  credentials = {
    ca: b64(cfg.clusters[0].cluster['certificate-authority-data']),
    cert: b64(cfg.users[0].user['client-certificate-data']),
    key: b64(cfg.users[0].user['client-key-data']),
  };
});

after(async () => {
  api?.agent.destroy();
  await cluster?.cleanup();
  rmSync(storeDir, { recursive: true, force: true });
});

/** A TLS connection that has finished its handshake (no client certificate unless given). */
function connect(opts: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, ca: credentials.ca, servername: 'localhost', ...opts }, () => resolve(s));
    s.once('error', reject);
  });
}

function closed(s: tls.TLSSocket): Promise<number> {
  const started = Date.now();
  return new Promise((resolve) => {
    if (s.destroyed) return resolve(0);
    s.on('error', () => {});
    s.once('close', () => resolve(Date.now() - started));
  });
}

/** A request whose body arrives one byte a second: it holds its handler until it is answered. */
function trickle(
  path: string,
  headers: Record<string, string> = {},
  asAdmin = true,
): { answer: Promise<{ status: number; body: string; headers: Record<string, unknown> }>; stop(): void } {
  const identity = asAdmin ? { cert: credentials.cert, key: credentials.key } : {};
  const req = https.request({
    host,
    port,
    path,
    method: 'POST',
    ca: credentials.ca,
    ...identity,
    servername: 'localhost',
    agent: false,
    headers: { 'Content-Type': 'application/json', 'Content-Length': '100000', ...headers },
  });
  const answer = new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
  });
  req.write('{');
  const timer = setInterval(() => req.write(' '), 1000);
  answer.finally(() => clearInterval(timer)).catch(() => {});
  return {
    answer,
    stop() {
      clearInterval(timer);
      req.destroy();
    },
  };
}

test(
  '1,000 idle TLS connections leave the server usable; idle and half-sent ones are closed by the read-header deadline',
  { timeout: 90_000 },
  async () => {
    const idle: tls.TLSSocket[] = [];
    const settled = await Promise.allSettled(Array.from({ length: 1000 }, () => connect()));
    for (const r of settled) if (r.status === 'fulfilled') idle.push(r.value);
    const closings = idle.map(closed);
    const half = await connect();
    half.write('GET /api HTTP/1.1\r\nHost: x\r\n');
    const halfClosed = closed(half);
    // Past the cap on unauthenticated connections the oldest are closed at once...
    const started = Date.now();
    const r = await api.json('GET', CM);
    assert.equal(r.status, 200);
    assert.ok(Date.now() - started < 5_000, `an authenticated request took ${Date.now() - started} ms`);
    // ...and every idle one is closed once the read-header deadline (32 s) passes.
    let done = 0;
    for (const c of closings) void c.then(() => done++); // progress only
    const progress = setInterval(() => console.log(`# closed ${done}/${idle.length}`), 5000);
    const times = await Promise.all(closings).finally(() => clearInterval(progress));
    assert.ok(Math.max(...times) < 40_000, `the last idle connection closed after ${Math.max(...times)} ms`);
    assert.ok(
      times.filter((t) => t < 5_000).length >= idle.length - 256,
      'connections past the cap of 256 are closed at once',
    );
    assert.ok((await halfClosed) < 40_000);
    assert.equal((await api.json('GET', CM)).status, 200);
  },
);

test('a request that runs past --request-timeout is answered 504 Timeout', { timeout: 30_000 }, async () => {
  const t = trickle(`${CM}?dryRun=All`);
  try {
    const started = Date.now();
    const r = await t.answer;
    assert.equal(r.status, 504);
    const status = JSON.parse(r.body);
    assert.equal(status.reason, 'Timeout');
    assert.match(status.message, /^Timeout: request did not complete within requested timeout/);
    assert.ok(
      Date.now() - started >= 2_500 && Date.now() - started < 10_000,
      `answered after ${Date.now() - started} ms`,
    );
  } finally {
    t.stop();
  }
  // A ?timeout= shorter than the server's is honoured; a malformed one is the client's error.
  assert.equal((await api.json('GET', `${CM}?timeout=abc`)).status, 400);
  assert.equal((await api.json('GET', `${CM}?timeout=10s`)).status, 200);
});

test(
  'past --max-mutating-requests-inflight, requests of a non-admin user get 429 with Retry-After',
  { timeout: 30_000 },
  async () => {
    // RBAC is enforced: the account may write and read ConfigMaps.
    await cluster.k([
      '-n',
      'default',
      'create',
      'role',
      'cm-writer',
      '--verb=create,get,list',
      '--resource=configmaps',
    ]);
    await cluster.k([
      '-n',
      'default',
      'create',
      'rolebinding',
      'cm-writer',
      '--role=cm-writer',
      '--serviceaccount=default:default',
    ]);
    const token = (await cluster.k(['create', 'token', 'default', '-n', 'default'])).trim();
    const bearer = { Authorization: `Bearer ${token}` };
    const held = trickle(`${CM}?dryRun=All`, bearer, false);
    try {
      // The held request is in its handler once the server has read its headers.
      await new Promise((r) => setTimeout(r, 500));
      const anon = rawClient(cluster.kubeconfig, { anonymous: true });
      try {
        const r = await anon.json(
          'POST',
          `${CM}?dryRun=All`,
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } },
          bearer,
        );
        assert.equal(r.status, 429);
        assert.equal(r.body.reason, 'TooManyRequests');
        assert.equal(r.headers['retry-after'], '1');
        // Reads have their own pool; system:masters is never limited.
        assert.equal((await anon.json('GET', CM, undefined, bearer)).status, 200);
      } finally {
        anon.agent.destroy();
      }
      assert.equal(
        (await api.json('POST', `${CM}?dryRun=All`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }))
          .status,
        201,
      );
    } finally {
      held.stop();
    }
  },
);

test('TLS: 1.2 with ECDHE and AEAD ciphers only, 1.3 as is; older protocols refused', async () => {
  for (const cipher of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384', 'ECDHE-ECDSA-AES128-CCM']) {
    await assert.rejects(connect({ ciphers: cipher, maxVersion: 'TLSv1.2' }), Error, cipher);
  }
  for (const cipher of [
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
  ]) {
    const s = await connect({ ciphers: cipher, maxVersion: 'TLSv1.2' });
    assert.equal(s.getCipher().name, cipher);
    s.destroy();
  }
  await assert.rejects(connect({ minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }));
  const s13 = await connect();
  assert.equal(s13.getProtocol(), 'TLSv1.3');
  s13.destroy();
});

test('a client certificate from a forged CA with the cluster CA’s name is answered 401', async () => {
  const keys = generateKeys();
  const forgedPem = issueCertificate(
    {
      subject: readIssuerCertificate(credentials.ca.toString('utf8')).subject,
      publicKey: keys.publicKey,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3_600_000),
      isCA: true,
      keyUsage: [KeyUsage.keyCertSign],
    },
    { selfKey: keys.privateKey },
  );
  const forged = await caFromPem(forgedPem, keys.keyPem);
  const client = await issue(forged, { commonName: 'intruder', organizations: ['system:masters'], client: true });
  // With and without the forged CA in the chain the client sends.
  for (const chain of [client.certPem, `${client.certPem.trimEnd()}\n${forged.certPem}`]) {
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get(
          {
            host,
            port,
            path: CM,
            ca: credentials.ca,
            cert: chain,
            key: client.keyPem,
            servername: 'localhost',
            agent: false,
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
        .on('error', reject);
    });
    assert.equal(status, 401);
  }
});

test('the SQLite store is readable by its owner only, wherever --datastore-endpoint puts it', () => {
  for (const dir of [join(storeDir, 'a'), join(storeDir, 'a', 'b')])
    assert.equal(statSync(dir).mode & 0o777, 0o700, dir);
  for (const file of ['state.db', 'state.db-wal'])
    assert.equal(statSync(join(storeDir, 'a', 'b', file)).mode & 0o777, 0o600, file);
});

test('the server runs with its open-files soft limit raised to the hard limit', () => {
  const line = readFileSync(`/proc/${cluster.proc.pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'))!;
  const [soft, hard] = line.split(/\s{2,}/).slice(1, 3);
  assert.equal(soft, hard);
});
