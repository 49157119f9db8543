// Encryption at rest: a Secret reads back normally through kubectl while the datastore file holds
// only its ciphertext (a ConfigMap's value stays plain); `k8ts secrets-encrypt rotate` moves every
// Secret to a new key and the restarted server still reads them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { K8TS_BIN, run, startCluster, type Cluster } from './harness.js';

const SECRET_VALUE = 'e2e-secret-value-7f3c1a9b';
const CONFIG_VALUE = 'e2e-configmap-value-2d8e4f60';

/** Every byte of the SQLite datastore (database, WAL), as a `strings` over it would see. */
function datastoreBytes(dataDir: string): string {
  const dir = join(dataDir, 'server', 'db');
  return readdirSync(dir)
    .filter((f) => f.startsWith('state.db'))
    .map((f) => readFileSync(join(dir, f)).toString('latin1'))
    .join('');
}

describe('encryption at rest', { timeout: 180_000 }, () => {
  let cluster: Cluster;
  const secretsEncrypt = (sub: string) =>
    run(process.execPath, [K8TS_BIN, 'secrets-encrypt', sub, '--data-dir', cluster.dataDir]);
  const secretValue = async (name: string) =>
    Buffer.from(await cluster.k(['get', 'secret', name, '-o', 'jsonpath={.data.v}']), 'base64').toString();

  before(async () => {
    cluster = await startCluster();
  });
  after(() => cluster?.cleanup());

  it('stores Secrets encrypted, ConfigMaps plain, and reads both back', async () => {
    await cluster.k(['create', 'secret', 'generic', 'enc1', `--from-literal=v=${SECRET_VALUE}`]);
    await cluster.k(['create', 'configmap', 'plain1', `--from-literal=v=${CONFIG_VALUE}`]);
    assert.equal(await secretValue('enc1'), SECRET_VALUE);
    const bytes = datastoreBytes(cluster.dataDir);
    assert.ok(bytes.includes(CONFIG_VALUE), 'the ConfigMap is stored as is');
    assert.ok(!bytes.includes(SECRET_VALUE), 'the Secret value is not in the datastore');
    assert.ok(!bytes.includes(Buffer.from(SECRET_VALUE).toString('base64')), 'nor its base64');
    assert.ok(bytes.includes('k8s:enc:aescbc:v1:aescbckey:'));
  });

  it('serves a list at an older revision (read from storage, not the cache) decrypted', async () => {
    const listPath = '/api/v1/namespaces/default/secrets';
    const rv = (JSON.parse(await cluster.k(['get', '--raw', listPath])) as { metadata: { resourceVersion: string } })
      .metadata.resourceVersion;
    await cluster.k(['create', 'secret', 'generic', 'later', `--from-literal=v=${SECRET_VALUE}`]);
    const old = JSON.parse(
      await cluster.k(['get', '--raw', `${listPath}?limit=10&resourceVersion=${rv}&resourceVersionMatch=Exact`]),
    ) as { items: { metadata: { name: string }; data?: Record<string, string> }[] };
    const enc1 = old.items.find((s) => s.metadata.name === 'enc1');
    assert.equal(Buffer.from(enc1!.data!.v, 'base64').toString(), SECRET_VALUE);
    assert.ok(!old.items.some((s) => s.metadata.name === 'later'));
  });

  it('rotates the key offline; the restarted server reads every Secret', async () => {
    await cluster.k(['create', 'secret', 'generic', 'enc2', `--from-literal=v=${SECRET_VALUE}-2`]);
    const refused = await secretsEncrypt('rotate');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /is running .*: stop it first/);
    await cluster.stop();
    const before = await secretsEncrypt('status');
    assert.equal(before.code, 0, before.stderr);
    assert.match(before.stdout, /Active Key: aescbc aescbckey\n/);
    const rotated = await secretsEncrypt('rotate');
    assert.equal(rotated.code, 0, rotated.stderr);
    const newKey = /active key (\S+);/.exec(rotated.stdout)![1];
    const status = await secretsEncrypt('status');
    assert.match(status.stdout, new RegExp(`Active Key: aescbc ${newKey}\n`));
    assert.match(status.stdout, / {2}aescbc aescbckey: 0\n/);
    assert.match(status.stdout, / {2}identity \(not encrypted\): 0/);
    assert.ok(datastoreBytes(cluster.dataDir).includes(`k8s:enc:aescbc:v1:${newKey}:`));

    await cluster.restart();
    assert.equal(await secretValue('enc1'), SECRET_VALUE);
    assert.equal(await secretValue('enc2'), `${SECRET_VALUE}-2`);
    // New writes use the new key.
    await cluster.k(['create', 'secret', 'generic', 'enc3', `--from-literal=v=${SECRET_VALUE}-3`]);
    assert.equal(await secretValue('enc3'), `${SECRET_VALUE}-3`);
    assert.ok(!datastoreBytes(cluster.dataDir).includes(`${SECRET_VALUE}-3`));
  });
});

describe('encryption at rest: flags', { timeout: 300_000 }, () => {
  it('--secrets-encryption=false stores Secrets as is and generates no key', async () => {
    const cluster = await startCluster({ args: ['--secrets-encryption=false'] });
    try {
      await cluster.k(['create', 'secret', 'generic', 'plain', `--from-literal=v=${SECRET_VALUE}`]);
      assert.ok(datastoreBytes(cluster.dataDir).includes(Buffer.from(SECRET_VALUE).toString('base64')));
      assert.ok(!existsSync(join(cluster.dataDir, 'server', 'cred', 'encryption-config.json')));
    } finally {
      await cluster.cleanup();
    }
  });

  it('turning encryption on later: plain Secrets stay readable, reencrypt encrypts them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-e2e-enc-'));
    const secretsEncrypt = (sub: string) =>
      run(process.execPath, [K8TS_BIN, 'secrets-encrypt', sub, '--data-dir', dataDir]);
    try {
      const plain = await startCluster({ dataDir, args: ['--secrets-encryption=false'] });
      await plain.k(['create', 'secret', 'generic', 'old', `--from-literal=v=${SECRET_VALUE}`]);
      await plain.cleanup();
      const encrypted = await startCluster({ dataDir });
      try {
        const value = () => encrypted.k(['get', 'secret', 'old', '-o', 'jsonpath={.data.v}']);
        assert.equal(Buffer.from(await value(), 'base64').toString(), SECRET_VALUE);
        assert.match((await secretsEncrypt('status')).stdout, / {2}identity \(not encrypted\): [1-9]/);
        await encrypted.stop();
        const done = await secretsEncrypt('reencrypt');
        assert.match(done.stdout, /^[1-9]\d* Secrets re-encrypted/);
        assert.match((await secretsEncrypt('status')).stdout, / {2}identity \(not encrypted\): 0/);
        await encrypted.restart();
        assert.equal(Buffer.from(await value(), 'base64').toString(), SECRET_VALUE);
      } finally {
        await encrypted.cleanup();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('--encryption-provider-config: aesgcm for ConfigMaps, Secrets as is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-enc-config-'));
    const file = join(dir, 'encryption.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: apiserver.config.k8s.io/v1',
        'kind: EncryptionConfiguration',
        'resources:',
        '- resources: [configmaps]',
        '  providers:',
        `  - aesgcm: {keys: [{name: gcm1, secret: ${randomBytes(32).toString('base64')}}]}`,
        '  - identity: {}',
        '',
      ].join('\n'),
    );
    const configured = await startCluster({ args: ['--encryption-provider-config', file] });
    try {
      await configured.k(['create', 'configmap', 'hidden', `--from-literal=v=${CONFIG_VALUE}`]);
      await configured.k(['create', 'secret', 'generic', 'shown', `--from-literal=v=${SECRET_VALUE}`]);
      assert.equal(await configured.k(['get', 'configmap', 'hidden', '-o', 'jsonpath={.data.v}']), CONFIG_VALUE);
      const bytes = datastoreBytes(configured.dataDir);
      assert.ok(!bytes.includes(CONFIG_VALUE));
      assert.ok(bytes.includes('k8s:enc:aesgcm:v1:gcm1:'));
      assert.ok(bytes.includes(Buffer.from(SECRET_VALUE).toString('base64')));
    } finally {
      await configured.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
