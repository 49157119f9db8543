// Front-proxy (request header) authentication of the API server itself, as kube-apiserver's
// --requestheader-* flags: a client certificate of the request-header CA with an allowed common
// name lets the request name its user in headers; without the headers, or with another name, the
// certificate authenticates nobody; a cluster-CA certificate's headers are ignored. Certificates
// are made here; the server is asked who it thinks the caller is (SelfSubjectReview).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import type { ConfigMap } from 'kubernetes-types/core/v1.js';
import { startCluster, run, type Cluster } from './harness.js';
import { rawClient } from './rawclient.js';
import { issue, loadOrCreateCA, type KeyPair } from '../../src/machinery/pki.js';

let dir: string;
let cluster: Cluster;
let clusterCA: string;
let proxyCA: string;
let allowed: KeyPair;
let disallowed: KeyPair;
let admin: KeyPair;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'k8ts-requestheader-'));
  const ca = await loadOrCreateCA(join(dir, 'ca'), 'test-front-proxy-ca');
  proxyCA = ca.certPem;
  writeFileSync(join(dir, 'front-proxy-ca.crt'), ca.certPem);
  allowed = await issue(ca, { commonName: 'test-proxy', client: true });
  disallowed = await issue(ca, { commonName: 'intruder', client: true });
  cluster = await startCluster({
    args: [
      '--requestheader-client-ca-file',
      join(dir, 'front-proxy-ca.crt'),
      '--requestheader-allowed-names',
      'test-proxy,other-proxy',
      '--requestheader-username-headers',
      'X-Test-User',
      '--requestheader-uid-headers',
      'X-Test-Uid',
      '--requestheader-group-headers',
      'X-Test-Group',
      '--requestheader-extra-headers-prefix',
      'X-Test-Extra-',
    ],
  });
  const cfg = YAML.parse(readFileSync(cluster.kubeconfig, 'utf8')) as {
    clusters: { cluster: Record<string, string> }[];
    users: { user: Record<string, string> }[];
  };
  const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
  clusterCA = b64(cfg.clusters[0].cluster['certificate-authority-data']);
  admin = {
    certPem: b64(cfg.users[0].user['client-certificate-data']),
    keyPem: b64(cfg.users[0].user['client-key-data']),
  };
});

after(async () => {
  await cluster?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What the tests read of an answer: a Status or a SelfSubjectReview. */
interface Reply {
  message?: string;
  reason?: string;
  status?: { userInfo?: Record<string, unknown> };
}

/** One request on a fresh connection with `client`'s certificate and the given headers. */
function request(
  client: KeyPair,
  method: string,
  path: string,
  headers: [string, string][] = [],
  body?: unknown,
): Promise<{ status: number; body: Reply }> {
  return new Promise((resolve, reject) => {
    // (Headers as a flat list, so a name can repeat; Node then adds no Host of its own.)
    const flat: string[] = ['Host', new URL(cluster.url).host];
    for (const [k, v] of [...headers, ['Accept', 'application/json'], ['Content-Type', 'application/json']])
      flat.push(k, v);
    const req = https.request(
      new URL(path, cluster.url),
      {
        method,
        ca: clusterCA,
        cert: client.certPem,
        key: client.keyPem,
        agent: false,
        headers: flat,
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Reply = {};
          try {
            parsed = JSON.parse(text) as Reply;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const whoami = (client: KeyPair, headers: [string, string][] = []) =>
  request(client, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', headers, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'SelfSubjectReview',
  });

const asJane: [string, string][] = [
  ['X-Test-User', 'jane'],
  ['X-Test-Uid', 'jane-uid'],
  ['X-Test-Group', 'devs'],
  ['X-Test-Group', 'ops'],
  ['X-Test-Extra-Scopes', 'read'],
  ['X-Test-Extra-Scopes', 'write'],
  ['X-Test-Extra-Example.com%2fteam', 'blue'],
];

test('a front proxy with an allowed name names the user, groups, uid and extras in headers', async () => {
  const r = await whoami(allowed, asJane);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual(r.body.status?.userInfo, {
    username: 'jane',
    uid: 'jane-uid',
    groups: ['devs', 'ops', 'system:authenticated'],
    extra: { scopes: ['read', 'write'], 'example.com/team': ['blue'] },
  });
});

test("the front proxy's user is authorized as that user (RBAC), not as the proxy", async () => {
  const r = await request(allowed, 'GET', '/api/v1/namespaces/default/secrets', [['X-Test-User', 'jane']]);
  assert.equal(r.status, 403);
  assert.equal(
    r.body.message,
    'secrets is forbidden: User "jane" cannot list resource "secrets" in API group "" in the namespace "default"',
  );
  const masters = await request(allowed, 'GET', '/api/v1/namespaces/default/secrets', [
    ['X-Test-User', 'root'],
    ['X-Test-Group', 'system:masters'],
  ]);
  assert.equal(masters.status, 200);
});

test('the same certificate without a user header authenticates nobody', async () => {
  const r = await whoami(allowed, [['X-Test-Group', 'system:masters']]);
  assert.equal(r.status, 401);
  assert.equal(r.body.reason, 'Unauthorized');
});

test('a certificate of the request-header CA with a name not allowed authenticates nobody', async () => {
  const r = await whoami(disallowed, asJane);
  assert.equal(r.status, 401);
});

test("a cluster-CA user's request headers are ignored: the certificate names the user", async () => {
  const r = await whoami(admin, asJane);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.status?.userInfo?.username, 'system:admin');
});

test('the listener asks for client certificates of both CAs', async () => {
  const port = new URL(cluster.url).port;
  const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2'], {
    input: '',
    timeoutMs: 30_000,
  });
  const acceptable = /Acceptable client certificate CA names\n([\s\S]*?)\n(?:Client Certificate Types|Requested)/.exec(
    r.stdout,
  );
  assert.ok(acceptable, r.stdout + r.stderr);
  assert.match(acceptable[1], /CN\s?=\s?k8ts-ca/);
  assert.match(acceptable[1], /CN\s?=\s?test-front-proxy-ca/);
});

test('kube-system/extension-apiserver-authentication carries the request-header settings', async () => {
  const r = await rawClient(cluster.kubeconfig).json(
    'GET',
    '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication',
  );
  assert.equal(r.status, 200);
  const data = (r.body as ConfigMap).data ?? {};
  assert.equal(data['client-ca-file'].trim(), clusterCA.trim());
  assert.equal(data['requestheader-client-ca-file'].trim(), proxyCA.trim());
  assert.equal(data['requestheader-allowed-names'], '["test-proxy","other-proxy"]');
  assert.equal(data['requestheader-username-headers'], '["X-Test-User"]');
  assert.equal(data['requestheader-uid-headers'], '["X-Test-Uid"]');
  assert.equal(data['requestheader-group-headers'], '["X-Test-Group"]');
  assert.equal(data['requestheader-extra-headers-prefix'], '["X-Test-Extra-"]');
});
