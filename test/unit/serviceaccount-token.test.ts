import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import https from 'node:https';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { Client, R, spec } from '../../src/client/client.js';
import {
  EXPIRATION_EXTENSION_SECONDS,
  ServiceAccountTokenAuthenticator,
  TokenIssuer,
  generateKeys,
  installServiceAccountTokens,
  keyIDOf,
  keysFromPem,
  loadOrCreateServiceAccountKeys,
  type ServiceAccountTokens as ServerTokens,
} from '../../src/apiserver/serviceaccount/index.js';
import {
  ServiceAccountAdmission,
  mountServiceAccountToken,
  secretReferenceError,
  shouldAutomount,
} from '../../src/apiserver/admission/serviceaccount.js';
import { ServiceAccountTokens, requiresRefresh } from '../../src/agent/volumes/satoken.js';
import { VolumeManager } from '../../src/agent/volumes/manager.js';
import { startTestApi, type TestApi } from './client-fixture.js';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const payloadOf = (token: string) => decodeJwt<any>(token);

describe('service-account keys', () => {
  test('created once with mode 0600, reloaded with the same kid; RSA keys sign RS256', () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-sakey-'));
    try {
      const path = join(dir, 'tls', 'service-account.key');
      const k1 = loadOrCreateServiceAccountKeys(path);
      assert.equal(k1.alg, 'ES256');
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const k2 = loadOrCreateServiceAccountKeys(path);
      assert.equal(k2.kid, k1.kid);
      assert.equal(k1.kid, keyIDOf(k1.publicKey));
      assert.match(k1.kid, /^[A-Za-z0-9_-]{43}$/);
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const rsaPath = join(dir, 'rsa.key');
      writeFileSync(rsaPath, rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }));
      assert.equal(keysFromPem(readFileSync(rsaPath)).alg, 'RS256');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('token issuing and authentication (unit)', () => {
  const keys = generateKeys();
  const issuer = new TokenIssuer(keys, ISSUER);
  const sa = { metadata: { name: 'builder', namespace: 'ci', uid: 'sa-uid' } };
  const pod = { metadata: { name: 'p', namespace: 'ci', uid: 'pod-uid' }, spec: { serviceAccountName: 'builder' } };
  const node = { metadata: { name: 'n1', uid: 'node-uid' } };
  const objects = new Map<string, any>([
    ['serviceaccounts/ci/builder', sa],
    ['pods/ci/p', pod],
  ]);
  const lookup = (plural: string, ns: string | undefined, name: string) => objects.get(`${plural}/${ns}/${name}`);
  const authn = new ServiceAccountTokenAuthenticator(keys, ISSUER, [ISSUER], lookup);

  test('claims as upstream: sub, aud, iat/nbf/exp, jti, kubernetes.io with pod and node; kid header', async () => {
    const { token } = await issuer.issue({
      serviceAccount: sa,
      pod,
      node,
      audiences: [ISSUER],
      expirationSeconds: 600,
      now: 1000,
    });
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'ES256', kid: keys.kid });
    const c = payloadOf(token);
    assert.equal(c.iss, ISSUER);
    assert.equal(c.sub, 'system:serviceaccount:ci:builder');
    assert.deepEqual(c.aud, [ISSUER]);
    assert.equal(c.iat, 1000);
    assert.equal(c.nbf, 1000);
    assert.equal(c.exp, 1600);
    assert.match(c.jti, /^[0-9a-f-]{36}$/);
    assert.deepEqual(c['kubernetes.io'], {
      namespace: 'ci',
      serviceaccount: { name: 'builder', uid: 'sa-uid' },
      pod: { name: 'p', uid: 'pod-uid' },
      node: { name: 'n1', uid: 'node-uid' },
    });
    assert.throws(
      () => issuer.claims({ serviceAccount: sa, pod, secret: pod, audiences: [], expirationSeconds: 600 }),
      /only be bound to one object/,
    );
  });

  test('a valid token authenticates as the service account; expired, foreign, other-audience and revoked ones do not', async () => {
    const { token } = await issuer.issue({ serviceAccount: sa, pod, audiences: [ISSUER], expirationSeconds: 3600 });
    assert.deepEqual(await authn.authenticate(token), {
      name: 'system:serviceaccount:ci:builder',
      uid: 'sa-uid',
      groups: ['system:serviceaccounts', 'system:serviceaccounts:ci'],
    });
    const now = Math.floor(Date.now() / 1000);
    const expired = await issuer.issue({
      serviceAccount: sa,
      audiences: [ISSUER],
      expirationSeconds: 600,
      now: now - 700,
    });
    assert.equal(await authn.authenticate(expired.token), undefined);
    const other = await new TokenIssuer(generateKeys(), ISSUER).issue({
      serviceAccount: sa,
      audiences: [ISSUER],
      expirationSeconds: 600,
    });
    assert.equal(await authn.authenticate(other.token), undefined);
    const vault = await issuer.issue({ serviceAccount: sa, audiences: ['vault'], expirationSeconds: 600 });
    assert.equal(await authn.authenticate(vault.token), undefined);
    const wrongIss = await new TokenIssuer(keys, 'https://elsewhere').issue({
      serviceAccount: sa,
      audiences: [ISSUER],
      expirationSeconds: 600,
    });
    assert.equal(await authn.authenticate(wrongIss.token), undefined);
    assert.equal(await authn.authenticate('not-a-jwt'), undefined);
    const [h, p, s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...payloadOf(token), sub: 'system:serviceaccount:ci:admin' })).toString(
      'base64url',
    );
    assert.equal(await authn.authenticate(`${h}.${forged}.${s}`), undefined);
    assert.ok(p);
    // The bound pod re-created (new uid), then the service account gone: the token is revoked.
    objects.set('pods/ci/p', { ...pod, metadata: { ...pod.metadata, uid: 'other' } });
    assert.equal(await authn.authenticate(token), undefined);
    objects.set('pods/ci/p', pod);
    assert.ok(await authn.authenticate(token));
    objects.delete('serviceaccounts/ci/builder');
    assert.equal(await authn.authenticate(token), undefined);
    objects.set('serviceaccounts/ci/builder', sa);
  });
});

describe('ServiceAccount admission (unit)', () => {
  test('volume and mounts in containers and init containers, existing mounts kept', () => {
    const pod: any = {
      spec: {
        initContainers: [{ name: 'i' }],
        containers: [
          { name: 'a', volumeMounts: [{ name: 'x', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }] },
          { name: 'b' },
        ],
        volumes: [{ name: 'x', emptyDir: {} }],
      },
    };
    mountServiceAccountToken(pod);
    const vol = pod.spec.volumes[1];
    assert.match(vol.name, /^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.deepEqual(vol.projected, {
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        {
          downwardAPI: {
            items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
          },
        },
      ],
      defaultMode: 420,
    });
    const mount = { name: vol.name, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' };
    assert.deepEqual(pod.spec.initContainers[0].volumeMounts, [mount]);
    assert.deepEqual(pod.spec.containers[0].volumeMounts, [
      { name: 'x', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
    ]);
    assert.deepEqual(pod.spec.containers[1].volumeMounts, [mount]);
    // Every container already mounts the path: no volume.
    const none: any = {
      spec: {
        containers: [
          { name: 'a', volumeMounts: [{ name: 'x', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }] },
        ],
      },
    };
    mountServiceAccountToken(none);
    assert.equal(none.spec.volumes, undefined);
    assert.equal(shouldAutomount({ automountServiceAccountToken: false }, { spec: {} }), false);
    assert.equal(
      shouldAutomount({ automountServiceAccountToken: false }, { spec: { automountServiceAccountToken: true } }),
      true,
    );
    assert.equal(shouldAutomount({}, { spec: { automountServiceAccountToken: false } }), false);
    assert.equal(shouldAutomount(undefined, { spec: {} }), true);
  });

  test('strict mode: default name, missing account refused, pull secrets copied, mountable secrets enforced', async () => {
    const accounts = new Map<string, any>([
      ['ns/default', { metadata: { name: 'default' }, imagePullSecrets: [{ name: 'reg' }] }],
      ['ns/quiet', { metadata: { name: 'quiet' }, automountServiceAccountToken: false }],
      [
        'ns/strict',
        {
          metadata: { name: 'strict', annotations: { 'kubernetes.io/enforce-mountable-secrets': 'true' } },
          secrets: [{ name: 'ok' }],
        },
      ],
    ]);
    const plugin = new ServiceAccountAdmission((ns, name) => accounts.get(`${ns}/${name}`));
    const attrs = (pod: any): any => ({
      operation: 'CREATE',
      group: '',
      resource: 'pods',
      subresource: '',
      namespace: 'ns',
      name: 'p',
      object: pod,
    });
    // Not switched on: only the name.
    const lenient: any = { spec: { containers: [{ name: 'c' }] } };
    await plugin.admit(attrs(lenient));
    assert.equal(lenient.spec.serviceAccountName, 'default');
    assert.equal(lenient.spec.volumes, undefined);
    plugin.requireServiceAccount = true;
    const p1: any = { spec: { containers: [{ name: 'c' }] } };
    assert.equal(plugin.handles(attrs(p1)), true);
    await plugin.admit(attrs(p1));
    assert.equal(p1.spec.volumes.length, 1);
    assert.deepEqual(p1.spec.imagePullSecrets, [{ name: 'reg' }]);
    const p2: any = { spec: { serviceAccountName: 'quiet', containers: [{ name: 'c' }] } };
    await plugin.admit(attrs(p2));
    assert.equal(p2.spec.volumes, undefined);
    await assert.rejects(
      plugin.admit(attrs({ spec: { serviceAccountName: 'ghost', containers: [{ name: 'c' }] } })),
      (e: any) => {
        assert.equal(e.code, 403);
        assert.equal(
          e.message,
          'pods "p" is forbidden: error looking up service account ns/ghost: serviceaccount "ghost" not found',
        );
        return true;
      },
    );
    const bad: any = {
      spec: {
        serviceAccountName: 'strict',
        containers: [{ name: 'c' }],
        volumes: [{ name: 's', secret: { secretName: 'nope' } }],
      },
    };
    await assert.rejects(
      plugin.admit(attrs(bad)),
      /volume with secret.secretName="nope" is not allowed because service account strict does not reference that secret/,
    );
    const good: any = {
      spec: {
        serviceAccountName: 'strict',
        containers: [{ name: 'c', env: [{ name: 'E', valueFrom: { secretKeyRef: { name: 'ok', key: 'k' } } }] }],
      },
    };
    await plugin.admit(attrs(good));
    assert.equal(
      secretReferenceError({ metadata: { name: 's' } }, { spec: { imagePullSecrets: [{ name: 'r' }] } }),
      'imagePullSecrets[0].name="r" is not allowed because service account s does not reference that imagePullSecret',
    );
  });
});

describe('agent token cache', () => {
  test('renewed after 80% of the lifetime; a failed renewal keeps a valid token', async () => {
    assert.equal(requiresRefresh({ issuedMs: 0, expiresMs: 1000 }, 799), false);
    assert.equal(requiresRefresh({ issuedMs: 0, expiresMs: 1000 }, 801), true);
    assert.equal(requiresRefresh({ issuedMs: 0, expiresMs: 365 * 86400_000 }, 86400_000 + 1), true);
    let now = 1_000_000;
    let n = 0;
    let fail = false;
    const requests: any[] = [];
    const fake: any = {
      resource: () => ({
        namespace: () => ({
          createSubresource: (name: string, sub: string, body: any) => {
            requests.push({ name, sub, body });
            if (fail) return Promise.reject(new Error('connection refused'));
            return Promise.resolve({
              spec: body.spec,
              status: {
                token: `t${++n}`,
                expirationTimestamp: new Date(now + body.spec.expirationSeconds * 1000).toISOString(),
              },
            });
          },
        }),
      }),
    };
    const cache = new ServiceAccountTokens(() => now);
    const pod: any = { metadata: { name: 'p', namespace: 'ns', uid: 'u1' }, spec: { serviceAccountName: 'sa' } };
    const src = { path: 'token', audience: 'vault', expirationSeconds: 600 };
    assert.equal(await cache.get(fake, pod, src), 't1');
    assert.deepEqual(requests[0], {
      name: 'sa',
      sub: 'token',
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          audiences: ['vault'],
          expirationSeconds: 600,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'u1' },
        },
      },
    });
    now += 400_000;
    assert.equal(await cache.get(fake, pod, src), 't1');
    now += 100_000;
    assert.equal(await cache.get(fake, pod, src), 't2');
    now += 500_000;
    fail = true;
    assert.equal(await cache.get(fake, pod, src), 't2');
    now += 200_000;
    await assert.rejects(cache.get(fake, pod, src), /failed to fetch token: connection refused/);
    assert.equal(cache.size, 0);
  });
});

describe('TokenRequest API and bearer authentication (in-process server)', () => {
  let t: TestApi;
  let client: Client;
  let tokens: ServerTokens;
  let saUID: string;
  let podUID: string;
  const ns = 'default';

  before(async () => {
    t = await startTestApi();
    tokens = installServiceAccountTokens(t.api, { keys: generateKeys(), requireServiceAccount: false });
    client = Client.fromKubeconfig(t.kubeconfig, { fieldManager: 'test' });
    saUID = (
      await client
        .resource(R.serviceaccounts)
        .namespace(ns)
        .create({ metadata: { name: 'robot' } })
    ).metadata.uid;
    await client
      .resource(R.serviceaccounts)
      .namespace(ns)
      .create({ metadata: { name: 'other' } });
    await client.resource(R.nodes).create({ metadata: { name: 'n1' } });
    // RBAC is enforced: the robot may list pods (what the bearer-token checks below do).
    const rbac = (plural: string, kind: string) =>
      spec({ group: 'rbac.authorization.k8s.io', version: 'v1', plural, namespaced: true, kind });
    await client
      .resource(rbac('roles', 'Role'))
      .namespace(ns)
      .create({
        metadata: { name: 'pod-lister' },
        rules: [{ verbs: ['list'], apiGroups: [''], resources: ['pods'] }],
      });
    await client
      .resource(rbac('rolebindings', 'RoleBinding'))
      .namespace(ns)
      .create({
        metadata: { name: 'robot' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-lister' },
        subjects: [{ kind: 'ServiceAccount', name: 'robot', namespace: ns }],
      });
    const pod = await client
      .resource(R.pods)
      .namespace(ns)
      .create({
        metadata: { name: 'web' },
        spec: { serviceAccountName: 'robot', nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }] },
      });
    podUID = pod.metadata.uid;
  });
  after(async () => {
    await client?.close();
    await t?.stop();
  });

  const request = (name: string, spec: any, c: Client = client) =>
    c
      .resource(R.serviceaccounts)
      .namespace(ns)
      .createSubresource(name, 'token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec });

  let lastBody = '';
  const get = (path: string, token: string) =>
    new Promise<number>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: t.api.port,
          path,
          ca: t.api.config.tls.ca,
          headers: { Authorization: `Bearer ${token}` },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            lastBody = Buffer.concat(chunks).toString('utf8');
            resolve(res.statusCode!);
          });
        },
      );
      req.on('error', reject);
      req.end();
    });

  test('defaults: 3600 s, the issuer as audience; discovery lists serviceaccounts/token', async () => {
    const before = Date.now();
    const out = await request('robot', {});
    assert.equal(out.kind, 'TokenRequest');
    assert.equal(out.apiVersion, 'authentication.k8s.io/v1');
    assert.equal(out.metadata.name, 'robot');
    assert.equal(out.metadata.namespace, ns);
    assert.deepEqual(out.spec.audiences, [ISSUER]);
    assert.equal(out.spec.expirationSeconds, 3600);
    const exp = Date.parse(out.status.expirationTimestamp);
    assert.ok(
      exp >= Math.floor(before / 1000) * 1000 + 3600_000 && exp <= Date.now() + 3600_000,
      out.status.expirationTimestamp,
    );
    const c = payloadOf(out.status.token);
    assert.equal(c.exp - c.iat, 3600);
    assert.deepEqual(c['kubernetes.io'], { namespace: ns, serviceaccount: { name: 'robot', uid: saUID } });
    assert.deepEqual(tokens.apiAudiences, [ISSUER]);
    assert.equal(await get('/api/v1', out.status.token), 200);
    const sub = JSON.parse(lastBody).resources.find((r: any) => r.name === 'serviceaccounts/token');
    assert.deepEqual(
      { kind: sub?.kind, group: sub?.group, version: sub?.version, verbs: sub?.verbs },
      { kind: 'TokenRequest', group: 'authentication.k8s.io', version: 'v1', verbs: ['create'] },
    );
  });

  test('bound to a pod: pod and node claims; uid, service account, kind and lifetime checked', async () => {
    const out = await request('robot', {
      audiences: ['vault'],
      expirationSeconds: 600,
      boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'web', uid: podUID },
    });
    const c = payloadOf(out.status.token);
    assert.deepEqual(c.aud, ['vault']);
    assert.equal(c['kubernetes.io'].pod.uid, podUID);
    assert.equal(c['kubernetes.io'].node.name, 'n1');
    await assert.rejects(
      request('robot', { boundObjectRef: { kind: 'Pod', name: 'web', uid: 'nope' } }),
      (e: any) => e.code === 409 && /does not match the UID in record/.test(e.message),
    );
    await assert.rejects(
      request('other', { boundObjectRef: { kind: 'Pod', name: 'web' } }),
      (e: any) =>
        e.code === 400 &&
        e.message === 'cannot bind token for serviceaccount "other" to pod running with serviceaccount "robot"',
    );
    await assert.rejects(
      request('robot', { boundObjectRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x' } }),
      (e: any) => e.code === 400 && e.message === 'cannot bind token to object of type apps/v1, Kind=Deployment',
    );
    await assert.rejects(
      request('robot', { boundObjectRef: { kind: 'Pod', name: 'ghost' } }),
      (e: any) => e.code === 404,
    );
    await assert.rejects(
      request('robot', { expirationSeconds: 599 }),
      (e: any) => e.code === 422 && /may not specify a duration less than 10 minutes/.test(e.message),
    );
    await assert.rejects(
      request('ghost', {}),
      (e: any) => e.code === 404 && e.message === 'serviceaccounts "ghost" not found',
    );
    // The kube-api-access lifetime bound to a pod: a year, with warnafter at 3607 s.
    const ext = await request('robot', { expirationSeconds: 3607, boundObjectRef: { kind: 'Pod', name: 'web' } });
    const e = payloadOf(ext.status.token);
    assert.equal(e.exp - e.iat, EXPIRATION_EXTENSION_SECONDS);
    assert.equal(e['kubernetes.io'].warnafter - e.iat, 3607);
    assert.ok(Date.parse(ext.status.expirationTimestamp) <= Date.now() + 3607_000);
  });

  test('bearer tokens: 200 for a live token, 401 once its pod is gone or for another audience', async () => {
    const { status } = await request('robot', { boundObjectRef: { kind: 'Pod', name: 'web' } });
    assert.equal(await get('/api/v1/namespaces/default/pods', status.token), 200);
    assert.equal(await get('/api/v1/namespaces/default/pods', `${status.token}x`), 401);
    const vault = await request('robot', { audiences: ['vault'] });
    assert.equal(await get('/api/v1/namespaces/default/pods', vault.status.token), 401);
    await client.resource(R.pods).namespace(ns).delete('web', { gracePeriodSeconds: 0 });
    assert.equal(await get('/api/v1/namespaces/default/pods', status.token), 401);
  });

  test('the agent writes the token of a projected serviceAccountToken source', async () => {
    const podsDir = mkdtempSync(join(tmpdir(), 'k8ts-satoken-'));
    try {
      const pod = await client
        .resource(R.pods)
        .namespace(ns)
        .create({
          metadata: { name: 'tok' },
          spec: {
            serviceAccountName: 'robot',
            containers: [{ name: 'c', image: 'busybox' }],
            volumes: [
              {
                name: 'v',
                projected: {
                  defaultMode: 0o600,
                  sources: [{ serviceAccountToken: { path: 'sub/token', audience: 'vault', expirationSeconds: 600 } }],
                },
              },
            ],
          },
        });
      const vm = new VolumeManager({ client, podsDir, nodeName: 'n1', secretsOnTmpfs: false });
      const vols = await vm.setUp(pod);
      const file = join(vols.get('v')!.path, 'sub/token');
      const token = readFileSync(file, 'utf8');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const c = payloadOf(token);
      assert.deepEqual(c.aud, ['vault']);
      assert.equal(c['kubernetes.io'].pod.uid, pod.metadata.uid);
      // Not yet due: refresh keeps the file.
      assert.equal(await vm.refresh(pod), false);
      await vm.tearDown(pod.metadata.uid);
      assert.equal(existsSync(join(podsDir, pod.metadata.uid)), false);
    } finally {
      rmSync(podsDir, { recursive: true, force: true });
    }
  });
});
