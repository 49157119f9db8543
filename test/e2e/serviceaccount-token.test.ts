// Service-account tokens end to end: kubectl create token, bearer authentication with the real
// kubectl, the ServiceAccount admission plugin's kube-api-access volume, and the agent writing
// bound tokens into projected volumes of a running busybox pod.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import {
  importTestImages,
  realContainersUnavailable,
  startCluster,
  until,
  type Cluster,
  waitForReadyNode,
} from './harness.js';

const skip = realContainersUnavailable();
let c: Cluster | undefined;

after(async () => {
  if (c) await c.cleanup();
});

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const UNAUTHORIZED = /Unauthorized|provide credentials/;

test(
  'service-account tokens: kubectl create token, whoami, projected volumes in a real pod',
  { skip, timeout: 180_000 },
  async () => {
    c = await startCluster({ agent: true });
    const cl = c;
    const ca = join(cl.dataDir, 'server', 'tls', 'ca.crt');
    // kubectl with only a bearer token (the admin kubeconfig's client certificate would win).
    const asToken = (token: string, args: string[]) =>
      cl.kubectl([
        '--kubeconfig',
        '/dev/null',
        '--server',
        cl.url,
        '--certificate-authority',
        ca,
        '--token',
        token,
        ...args,
      ]);

    await cl.k(['create', 'namespace', 'sa-e2e']);
    await cl.k(['-n', 'sa-e2e', 'create', 'serviceaccount', 'robot']);
    // RBAC is enforced: the robot may read its namespace (the pod read below).
    await cl.k([
      '-n',
      'sa-e2e',
      'create',
      'rolebinding',
      'robot-view',
      '--clusterrole=view',
      '--serviceaccount=sa-e2e:robot',
    ]);

    // kubectl create token: default audience and lifetime, then --audience/--duration.
    const t1 = (await cl.k(['-n', 'sa-e2e', 'create', 'token', 'robot'])).trim();
    const c1 = claimsOf(t1);
    assert.equal(c1.iss, 'https://kubernetes.default.svc.cluster.local');
    assert.deepEqual(c1.aud, ['https://kubernetes.default.svc.cluster.local']);
    assert.equal(c1.sub, 'system:serviceaccount:sa-e2e:robot');
    assert.equal(c1.exp - c1.iat, 3600);
    const who = JSON.parse((await asToken(t1, ['auth', 'whoami', '-o', 'json'])).stdout);
    assert.equal(who.status.userInfo.username, 'system:serviceaccount:sa-e2e:robot');
    assert.deepEqual(who.status.userInfo.groups, [
      'system:serviceaccounts',
      'system:serviceaccounts:sa-e2e',
      'system:authenticated',
    ]);
    const t2 = (
      await cl.k(['-n', 'sa-e2e', 'create', 'token', 'robot', '--audience', 'vault', '--duration', '20m'])
    ).trim();
    assert.deepEqual(claimsOf(t2).aud, ['vault']);
    assert.equal(claimsOf(t2).exp - claimsOf(t2).iat, 1200);
    const denied = await asToken(t2, ['auth', 'whoami']);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, UNAUTHORIZED);
    const tooShort = await cl.kubectl(['-n', 'sa-e2e', 'create', 'token', 'robot', '--duration', '5m']);
    assert.match(tooShort.stderr, /may not specify a duration less than 10 minutes/);
    const bad = await asToken(`${t1.slice(0, 30)}${t1[30] === 'A' ? 'B' : 'A'}${t1.slice(31)}`, ['get', 'pods']);
    assert.match(bad.stderr, UNAUTHORIZED);

    await waitForReadyNode(cl);
    await importTestImages(cl, ['busybox']);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'reader', namespace: 'sa-e2e' },
      spec: {
        serviceAccountName: 'robot',
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'c',
            image: 'k8ts.local/busybox:1.35',
            command: [
              'sh',
              '-c',
              `cat ${SA_DIR}/namespace; echo; echo @@@; cat ${SA_DIR}/ca.crt; echo @@@; cat ${SA_DIR}/token; echo; echo @@@; cat /vault/token; echo; echo END; sleep 3600`,
            ],
            volumeMounts: [{ name: 'vault', mountPath: '/vault' }],
          },
        ],
        volumes: [
          {
            name: 'vault',
            projected: {
              sources: [{ serviceAccountToken: { audience: 'vault', expirationSeconds: 600, path: 'token' } }],
            },
          },
        ],
      },
    };
    await cl.k(['apply', '-f', '-'], YAML.stringify(pod));
    const stored = JSON.parse(await cl.k(['-n', 'sa-e2e', 'get', 'pod', 'reader', '-o', 'json']));
    const api = stored.spec.volumes.find((v: any) => v.name.startsWith('kube-api-access-'));
    assert.ok(api, 'kube-api-access volume added by admission');
    assert.deepEqual(stored.spec.containers[0].volumeMounts, [
      { name: 'vault', mountPath: '/vault' },
      { name: api.name, readOnly: true, mountPath: SA_DIR },
    ]);

    const logs = await until(
      'the pod printed its files',
      async () => {
        const r = await cl.kubectl(['-n', 'sa-e2e', 'logs', 'reader']);
        return r.code === 0 && r.stdout.includes('END') ? r.stdout : undefined;
      },
      90_000,
      1000,
    );
    const [ns, caPem, token, vault] = logs.split('@@@\n').map((s) => s.trim());
    assert.equal(ns, 'sa-e2e');
    assert.equal(caPem, readFileSync(ca, 'utf8').trim());
    const claims = claimsOf(token);
    assert.equal(claims.sub, 'system:serviceaccount:sa-e2e:robot');
    assert.equal(claims['kubernetes.io'].pod.name, 'reader');
    assert.equal(claims['kubernetes.io'].pod.uid, stored.metadata.uid);
    assert.ok(claims['kubernetes.io'].node?.name, 'node claim');
    assert.equal(claims['kubernetes.io'].warnafter - claims.iat, 3607);
    const podWho = JSON.parse((await asToken(token, ['auth', 'whoami', '-o', 'json'])).stdout);
    assert.equal(podWho.status.userInfo.username, 'system:serviceaccount:sa-e2e:robot');
    assert.equal(
      (await asToken(token, ['-n', 'sa-e2e', 'get', 'pod', 'reader', '-o', 'name'])).stdout.trim(),
      'pod/reader',
    );
    const v = claimsOf(vault.replace(/\nEND$/, ''));
    assert.deepEqual(v.aud, ['vault']);
    assert.equal(v.exp - v.iat, 600);
    assert.equal(v['kubernetes.io'].pod.uid, stored.metadata.uid);

    // A token bound to the pod with kubectl; deleting the pod revokes it.
    const bound = (
      await cl.k([
        '-n',
        'sa-e2e',
        'create',
        'token',
        'robot',
        '--bound-object-kind',
        'Pod',
        '--bound-object-name',
        'reader',
      ])
    ).trim();
    assert.equal(claimsOf(bound)['kubernetes.io'].pod.uid, stored.metadata.uid);
    assert.equal(
      (await asToken(bound, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'])).stdout,
      'system:serviceaccount:sa-e2e:robot',
    );
    await cl.k(['-n', 'sa-e2e', 'delete', 'pod', 'reader', '--wait=false']);
    await until(
      'bound token revoked',
      async () => (await asToken(bound, ['auth', 'whoami'])).stderr.match(UNAUTHORIZED) !== null,
      90_000,
      1000,
    );
    const unbound = await asToken(t1, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
    assert.equal(unbound.stdout, 'system:serviceaccount:sa-e2e:robot');
  },
);
