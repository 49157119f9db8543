// Authentication as a user meets it (docs/security.md "Authentication"): anonymous requests, a
// static token file, bootstrap tokens, legacy service-account token Secrets and OIDC ID tokens
// from an issuer this test serves over HTTPS, each checked with the real kubectl and --token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import YAML from 'yaml';
import type { Secret, ServiceAccount } from 'kubernetes-types/core/v1.js';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { startCluster, until, type Cluster } from './harness.js';
import { rawClient, type RawClient } from './rawclient.js';
import { issue, loadOrCreateCA } from '../../src/machinery/pki.js';

const CLIENT_ID = 'k8ts-test';
let dir: string;
let cluster: Cluster;
let anon: RawClient;
/** The cluster's kubeconfig without the admin's client certificate: kubectl then sends --token only. */
let tokenless: string;
let issuerURL: string;
let issuerServer: https.Server;
let signingKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

async function startIssuer(): Promise<string> {
  const ca = await loadOrCreateCA(join(dir, 'issuer-ca'), 'test-oidc-ca');
  const serving = await issue(ca, { commonName: 'issuer', sans: ['127.0.0.1'], server: true });
  writeFileSync(join(dir, 'issuer-ca.crt'), ca.certPem);
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  signingKey = privateKey;
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  issuerServer = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    const send = (body: unknown) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/openid-configuration')
      return send({ issuer: issuerURL, jwks_uri: `${issuerURL}/keys` });
    if (req.url === '/keys') return send({ keys: [jwk] });
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => issuerServer.listen(0, '127.0.0.1', resolve));
  return `https://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
}

function idToken(claims: Record<string, unknown>, opts: { aud?: string; expiresIn?: string | number } = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
    .setIssuer(issuerURL)
    .setAudience(opts.aud ?? CLIENT_ID)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '10m')
    .sign(signingKey);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'k8ts-authn-'));
  issuerURL = await startIssuer();
  writeFileSync(join(dir, 'tokens.csv'), 'alice-token,alice,alice-uid,"devs,ops"\nbob-token,bob,bob-uid\n');
  cluster = await startCluster({
    args: [
      '--token-auth-file',
      join(dir, 'tokens.csv'),
      '--oidc-issuer-url',
      issuerURL,
      '--oidc-client-id',
      CLIENT_ID,
      '--oidc-username-prefix',
      'oidc:',
      '--oidc-groups-claim',
      'groups',
      '--oidc-groups-prefix',
      'oidc:',
      '--oidc-ca-file',
      join(dir, 'issuer-ca.crt'),
    ],
  });
  anon = rawClient(cluster.kubeconfig, { anonymous: true });
  const cfg = YAML.parse(readFileSync(cluster.kubeconfig, 'utf8')) as { users: { user: object }[] };
  for (const u of cfg.users) u.user = {};
  tokenless = join(dir, 'tokenless.yaml');
  writeFileSync(tokenless, YAML.stringify(cfg));
});

after(async () => {
  anon?.agent.destroy();
  await cluster?.cleanup();
  issuerServer?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** kubectl as the bearer of a token (no client certificate). */
const asToken = (token: string, args: string[]) =>
  cluster.kubectl(['--kubeconfig', tokenless, '--token', token, ...args]);

interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
}

/** The status of a Status answer. */
const statusOf = (body: unknown) => body as { reason: string; message: string };

async function whoami(token: string): Promise<UserInfo> {
  const r = await asToken(token, ['auth', 'whoami', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { status: { userInfo: UserInfo } }).status.userInfo;
}

test('anonymous requests: public info answers 200, resources 403 as system:anonymous, a bad token 401', async () => {
  for (const p of ['/version', '/healthz', '/livez', '/readyz'])
    assert.equal((await anon.request('GET', p)).status, 200, p);
  const pods = await anon.json('GET', '/api/v1/pods');
  assert.equal(pods.status, 403);
  assert.equal(statusOf(pods.body).reason, 'Forbidden');
  assert.equal(
    statusOf(pods.body).message,
    'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" at the cluster scope',
  );
  // Discovery is for authenticated users only (system:discovery), as upstream.
  assert.equal((await anon.json('GET', '/api')).status, 403);
  // So is asking who one is (system:basic-user).
  const review = await anon.json('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'SelfSubjectReview',
  });
  assert.equal(review.status, 403);
  assert.equal(
    statusOf(review.body).message,
    'selfsubjectreviews.authentication.k8s.io is forbidden: User "system:anonymous" cannot create resource "selfsubjectreviews" in API group "authentication.k8s.io" at the cluster scope',
  );
  // A bad token is 401 everywhere, the public paths included: it never falls back to anonymous.
  for (const p of ['/api/v1/pods', '/version']) {
    const bad = await anon.json('GET', p, undefined, { Authorization: 'Bearer not-a-token' });
    assert.equal(bad.status, 401, p);
    assert.equal(statusOf(bad.body).reason, 'Unauthorized');
  }
  const r = await asToken('not-a-token', ['get', 'pods']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Unauthorized|provide credentials/);
});

test('static token file: kubectl --token is the user of its line, with uid and groups; RBAC applies', async () => {
  assert.deepEqual(await whoami('alice-token'), {
    username: 'alice',
    uid: 'alice-uid',
    groups: ['devs', 'ops', 'system:authenticated'],
  });
  assert.deepEqual((await whoami('bob-token')).groups, ['system:authenticated']);
  const r = await asToken('alice-token', ['get', 'secrets', '-n', 'default']);
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "default"/,
  );
  await cluster.k(['create', 'rolebinding', 'devs-view', '--clusterrole', 'view', '--group', 'devs', '-n', 'default']);
  await until(
    'alice can list pods',
    async () => (await asToken('alice-token', ['get', 'pods', '-n', 'default'])).code === 0,
  );
});

const secretManifest = (name: string, data: Record<string, string>, type: string, extra: object = {}) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, ...extra }, type, stringData: data });

test('bootstrap tokens: system:bootstrap:<id> with its extra groups; refused once expired, then deleted by the token cleaner', async () => {
  const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const token = (id: string, expiration: string) =>
    secretManifest(
      `bootstrap-token-${id}`,
      {
        'token-id': id,
        'token-secret': '0123456789abcdef',
        'usage-bootstrap-authentication': 'true',
        'auth-extra-groups': 'system:bootstrappers:worker',
        expiration,
      },
      'bootstrap.kubernetes.io/token',
      { namespace: 'kube-system' },
    );
  await cluster.k(['apply', '-f', '-'], token('abcdef', inSeconds(3600)));
  assert.deepEqual(await whoami('abcdef.0123456789abcdef'), {
    username: 'system:bootstrap:abcdef',
    groups: ['system:bootstrappers', 'system:bootstrappers:worker', 'system:authenticated'],
  });
  assert.notEqual((await asToken('abcdef.ffffffffffffffff', ['auth', 'whoami'])).code, 0);
  await cluster.k(['apply', '-f', '-'], token('short1', inSeconds(4)));
  assert.equal((await whoami('short1.0123456789abcdef')).username, 'system:bootstrap:short1');
  await until(
    'the expired bootstrap token is deleted',
    async () => (await cluster.kubectl(['get', 'secret', '-n', 'kube-system', 'bootstrap-token-short1'])).code !== 0,
    { timeoutMs: 30_000, stepMs: 500 },
  );
  const r = await asToken('short1.0123456789abcdef', ['auth', 'whoami']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Unauthorized|provide credentials/);
});

test('legacy service-account token Secrets: filled by the token controller, valid while the Secret lives', async () => {
  await cluster.k(['create', 'serviceaccount', 'builder', '-n', 'default']);
  await cluster.k(
    ['apply', '-n', 'default', '-f', '-'],
    secretManifest('builder-token', {}, 'kubernetes.io/service-account-token', {
      annotations: { 'kubernetes.io/service-account.name': 'builder' },
    }),
  );
  const secret = await until('the token controller fills the Secret', async () => {
    const s = JSON.parse(await cluster.k(['get', 'secret', 'builder-token', '-n', 'default', '-o', 'json'])) as Secret;
    return s.data?.token ? s : undefined;
  });
  const decode = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString('utf8');
  const kubeconfig = YAML.parse(readFileSync(cluster.kubeconfig, 'utf8')) as {
    clusters: { cluster: { 'certificate-authority-data': string } }[];
  };
  const ca = kubeconfig.clusters[0].cluster['certificate-authority-data'];
  assert.equal(decode('ca.crt'), Buffer.from(ca, 'base64').toString('utf8'));
  assert.equal(decode('namespace'), 'default');
  const sa = JSON.parse(
    await cluster.k(['get', 'serviceaccount', 'builder', '-n', 'default', '-o', 'json']),
  ) as ServiceAccount;
  assert.equal(secret.metadata?.annotations?.['kubernetes.io/service-account.uid'], sa.metadata?.uid);
  const token = decode('token');
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
  assert.equal(claims.iss, 'kubernetes/serviceaccount');
  assert.equal(claims['kubernetes.io/serviceaccount/secret.name'], 'builder-token');
  assert.equal(claims.exp, undefined);
  assert.deepEqual(await whoami(token), {
    username: 'system:serviceaccount:default:builder',
    uid: sa.metadata?.uid,
    groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'],
  });
  await cluster.k(['delete', 'secret', 'builder-token', '-n', 'default']);
  await until(
    'the deleted Secret revokes its token',
    async () => (await asToken(token, ['auth', 'whoami'])).code !== 0,
  );
  // A token Secret of a service account that does not exist is deleted.
  await cluster.k(
    ['apply', '-n', 'default', '-f', '-'],
    secretManifest('ghost-token', {}, 'kubernetes.io/service-account-token', {
      annotations: { 'kubernetes.io/service-account.name': 'ghost' },
    }),
  );
  await until(
    "a missing service account's token Secret is deleted",
    async () => (await cluster.kubectl(['get', 'secret', 'ghost-token', '-n', 'default'])).code !== 0,
  );
});

test('OIDC: a valid ID token is the prefixed user and groups; wrong audience or expired is 401', async () => {
  const good = await idToken({ sub: 'jane', groups: ['dev', 'qa'] });
  assert.deepEqual(await whoami(good), {
    username: 'oidc:jane',
    groups: ['oidc:dev', 'oidc:qa', 'system:authenticated'],
  });
  const wrongAudience = await idToken({ sub: 'jane' }, { aud: 'someone-else' });
  const expired = await idToken({ sub: 'jane' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 });
  for (const token of [wrongAudience, expired]) {
    const r = await anon.json('GET', '/api/v1/namespaces/default/pods', undefined, {
      Authorization: `Bearer ${token}`,
    });
    assert.equal(r.status, 401);
    assert.notEqual((await asToken(token, ['auth', 'whoami'])).code, 0);
  }
});

test('anonymous requests leave their connection under the cap on unauthenticated connections', async () => {
  const { hostname: host, port } = new URL(cluster.url);
  const ca = Buffer.from(
    (
      YAML.parse(readFileSync(cluster.kubeconfig, 'utf8')) as {
        clusters: { cluster: { 'certificate-authority-data': string } }[];
      }
    ).clusters[0].cluster['certificate-authority-data'],
    'base64',
  );
  /** A connection that has had one anonymous request answered (403) and stays open. */
  const anonymousConnection = () =>
    new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host, port: Number(port), ca, servername: 'localhost' }, () =>
        s.write(`GET /api/v1/pods HTTP/1.1\r\nHost: ${host}\r\n\r\n`),
      );
      s.once('data', (d: Buffer) =>
        d.toString().startsWith('HTTP/1.1 403') ? resolve(s) : reject(new Error(d.toString())),
      );
      s.once('error', reject);
    });
  const sockets: tls.TLSSocket[] = [];
  try {
    // Past the cap (256) the oldest are closed, anonymous requests or not.
    for (let i = 0; i < 300; i++) sockets.push(await anonymousConnection());
    await until('the oldest anonymous connections are closed', () =>
      sockets.slice(0, 40).every((s) => s.destroyed || s.readyState === 'closed'),
    );
    assert.ok(sockets.slice(-200).every((s) => !s.destroyed));
  } finally {
    for (const s of sockets) s.destroy();
  }
});

test('--anonymous-auth=false: requests without credentials get 401, health and version included', async () => {
  const closed = await startCluster({ args: ['--anonymous-auth=false'] });
  const client = rawClient(closed.kubeconfig, { anonymous: true });
  try {
    for (const p of ['/api/v1/pods', '/version', '/healthz']) {
      const r = await client.json('GET', p);
      assert.equal(r.status, 401, p);
      assert.equal(statusOf(r.body).reason, 'Unauthorized');
    }
    // The admin's certificate still works, public paths included.
    assert.match(await closed.k(['version', '-o', 'json']), /gitVersion/);
  } finally {
    client.agent.destroy();
    await closed.cleanup();
  }
});
