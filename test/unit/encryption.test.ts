import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import nacl from 'tweetnacl';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EncryptionConfig,
  loadOrCreateDefaultConfig,
  type EncryptionConfiguration,
} from '../../src/apiserver/encryption/config.js';
import { DecryptError } from '../../src/apiserver/encryption/providers.js';
import { TransformingBackend } from '../../src/apiserver/encryption/backend.js';
import { SqliteBackend } from '../../src/storage/sqlite/backend.js';

const KEY = '/core/secrets/default/s1';
const VALUE = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 's1' },
  data: { p: 'aHVudGVyMg==' },
});
const b64 = (n: number) => randomBytes(n).toString('base64');

function config(providers: EncryptionConfiguration['resources'][number]['providers'], resources = ['secrets']) {
  return new EncryptionConfig({
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'EncryptionConfiguration',
    resources: [{ resources, providers }],
  });
}

for (const kind of ['aescbc', 'aesgcm', 'secretbox'] as const) {
  test(`${kind}: round trip with upstream's envelope`, () => {
    const t = config([{ [kind]: { keys: [{ name: 'k1', secret: b64(32) }] } }]).transformerFor('', 'secrets')!;
    const stored = t.toStorage(KEY, VALUE);
    assert.ok(stored.startsWith(`k8s:enc:${kind}:v1:k1:`));
    assert.ok(!stored.includes('aHVudGVyMg'));
    const sealed = Buffer.from(stored.slice(`k8s:enc:${kind}:v1:k1:`.length), 'base64');
    // aescbc: IV + padded blocks; aesgcm: nonce + ciphertext + tag; secretbox: nonce + tag + ciphertext.
    const expected = {
      aescbc: 16 + (Math.floor(VALUE.length / 16) + 1) * 16,
      aesgcm: 12 + VALUE.length + 16,
      secretbox: 24 + 16 + VALUE.length,
    }[kind];
    assert.equal(sealed.length, expected);
    assert.notEqual(t.toStorage(KEY, VALUE), stored, 'a random IV/nonce per write');
    assert.deepEqual(t.read(KEY, stored).value, VALUE);
  });

  test(`${kind}: rotation: a value under the old key still decrypts and is stale`, () => {
    const old = { name: 'old', secret: b64(32) };
    const before = config([{ [kind]: { keys: [old] } }]).transformerFor('', 'secrets')!;
    const stored = before.toStorage(KEY, VALUE);
    const after = config([{ [kind]: { keys: [{ name: 'new', secret: b64(32) }, old] } }]).transformerFor(
      '',
      'secrets',
    )!;
    const read = after.read(KEY, stored);
    assert.equal(read.value, VALUE);
    assert.equal(read.stale, true);
    assert.equal(read.cipher.keyName, 'old');
    assert.ok(after.toStorage(KEY, VALUE).startsWith(`k8s:enc:${kind}:v1:new:`));
    assert.equal(after.read(KEY, after.toStorage(KEY, VALUE)).stale, false);
  });

  test(`${kind}: tampered ciphertext fails with a clear error`, () => {
    const t = config([{ [kind]: { keys: [{ name: 'k1', secret: b64(32) }] } }]).transformerFor('', 'secrets')!;
    const stored = t.toStorage(KEY, VALUE);
    const prefix = `k8s:enc:${kind}:v1:k1:`;
    const sealed = Buffer.from(stored.slice(prefix.length), 'base64');
    sealed[sealed.length - 1] ^= 1;
    assert.throws(
      () => t.read(KEY, prefix + sealed.toString('base64')),
      (err: Error) => err instanceof DecryptError && err.message.startsWith(`${KEY}: ${kind} key "k1"`),
    );
    // A wrong key of the same name fails too.
    const other = config([{ [kind]: { keys: [{ name: 'k1', secret: b64(32) }] } }]).transformerFor('', 'secrets')!;
    assert.throws(() => other.read(KEY, stored), DecryptError);
  });
}

test('aesgcm authenticates the storage key: a value moved to another key fails', () => {
  const t = config([{ aesgcm: { keys: [{ name: 'k1', secret: b64(16) }] } }]).transformerFor('', 'secrets')!;
  const stored = t.toStorage(KEY, VALUE);
  assert.throws(() => t.read('/core/secrets/default/other', stored), /message authentication failed/);
});

test('identity: plain values stay readable after encryption is turned on; encrypted ones need their key', () => {
  const t = config([{ aescbc: { keys: [{ name: 'k1', secret: b64(32) }] } }, { identity: {} }]).transformerFor(
    '',
    'secrets',
  )!;
  assert.deepEqual(t.read(KEY, VALUE), { value: VALUE, cipher: t.ciphers[1], stale: true });
  const plainOnly = config([{ identity: {} }]).transformerFor('', 'secrets')!;
  assert.equal(plainOnly.toStorage(KEY, VALUE), VALUE);
  assert.throws(() => plainOnly.read(KEY, t.toStorage(KEY, VALUE)), /no provider .* "k8s:enc:aescbc:v1:k1:"/);
  const noIdentity = config([{ aescbc: { keys: [{ name: 'k1', secret: b64(32) }] } }]).transformerFor('', 'secrets')!;
  assert.throws(() => noIdentity.read(KEY, VALUE), /no identity provider/);
});

test('configuration: key sizes, unsupported providers, resource patterns', () => {
  assert.throws(() => config([{ aescbc: { keys: [{ name: 'k', secret: b64(16) }] } }]), /16 bytes, must be 32 bytes/);
  assert.throws(() => config([{ aesgcm: { keys: [{ name: 'k', secret: b64(20) }] } }]), /must be 16, 24, 32/);
  assert.throws(() => config([{ kms: {} }]), /"kms" is not supported/);
  assert.throws(
    () => config([{ secretbox: { keys: [{ name: 'k', secret: b64(16) }] } }]),
    /secretbox key "k": 16 bytes, must be 32 bytes/,
  );
  const p = [{ identity: {} }];
  const c = new EncryptionConfig({
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'EncryptionConfiguration',
    resources: [
      {
        resources: ['deployments.apps', 'configmaps'],
        providers: [{ aesgcm: { keys: [{ name: 'a', secret: b64(32) }] } }],
      },
      { resources: ['*.'], providers: p },
      { resources: ['*.*'], providers: [{ aescbc: { keys: [{ name: 'z', secret: b64(32) }] } }] },
    ],
  });
  assert.equal(c.transformerFor('apps', 'deployments')?.writer.keyName, 'a');
  assert.equal(c.transformerFor('', 'configmaps')?.writer.keyName, 'a');
  assert.equal(c.transformerFor('', 'secrets')?.writer.kind, 'identity');
  assert.equal(c.transformerFor('apps', 'statefulsets')?.writer.keyName, 'z');
  assert.equal(new EncryptionConfig({ ...c.config, resources: [] }).transformerFor('', 'secrets'), undefined);
});

test('the default configuration: a generated aescbc key for Secrets, in a 0600 file, kept across starts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-enc-'));
  try {
    const first = loadOrCreateDefaultConfig(dir);
    assert.equal(first.file, join(dir, 'server', 'cred', 'encryption-config.json'));
    assert.equal(statSync(first.file).mode & 0o777, 0o600);
    const t = first.config.transformerFor('', 'secrets')!;
    assert.equal(t.writer.kind, 'aescbc');
    assert.equal(first.config.transformerFor('', 'configmaps'), undefined);
    const again = loadOrCreateDefaultConfig(dir).config.transformerFor('', 'secrets')!;
    assert.equal(again.read(KEY, t.toStorage(KEY, VALUE)).value, VALUE);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TransformingBackend: stores ciphertext, hands plain values to reads, watches and conflicts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-enc-'));
  const inner = new SqliteBackend(join(dir, 'state.db'));
  await inner.start();
  try {
    const t = config([{ aesgcm: { keys: [{ name: 'k1', secret: b64(32) }] } }]).transformerFor('', 'secrets')!;
    const b = new TransformingBackend(inner, t);
    const seen: string[] = [];
    const stop = await b.watch('/core/secrets/', inner.currentRevision(), (evs) =>
      seen.push(...evs.map((e) => e.value)),
    );
    const created = await b.create(KEY, VALUE);
    assert.equal(created.value, VALUE);
    assert.ok((await inner.get(KEY))!.value.startsWith('k8s:enc:aesgcm:v1:k1:'));
    assert.equal((await b.get(KEY))!.value, VALUE);
    assert.deepEqual(
      (await b.list('/core/secrets/')).items.map((kv) => kv.value),
      [VALUE],
    );
    await assert.rejects(b.update(KEY, '{}', created.modRevision + 100), (err: { current?: { value: string } }) => {
      assert.equal(err.current?.value, VALUE);
      return true;
    });
    assert.deepEqual(seen, [VALUE]);
    stop();
  } finally {
    await inner.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('secretbox: the layout upstream writes (24-byte nonce, then the NaCl box) opens with NaCl itself', () => {
  const key = randomBytes(32);
  const t = config([{ secretbox: { keys: [{ name: 'key1', secret: key.toString('base64') }] } }]).transformerFor(
    '',
    'secrets',
  )!;
  const prefix = 'k8s:enc:secretbox:v1:key1:';
  const stored = t.toStorage(KEY, VALUE);
  assert.ok(stored.startsWith(prefix));
  const sealed = Buffer.from(stored.slice(prefix.length), 'base64');
  const opened = nacl.secretbox.open(sealed.subarray(24), sealed.subarray(0, 24), key);
  assert.equal(Buffer.from(opened!).toString(), VALUE);
  // And a box NaCl sealed (as Go's secretbox.Seal(nonce, data, nonce, key) lays it out) reads back.
  const nonce = randomBytes(24);
  const foreign = Buffer.concat([nonce, nacl.secretbox(Buffer.from('from upstream'), nonce, key)]);
  assert.equal(t.read(KEY, prefix + foreign.toString('base64')).value, 'from upstream');
  // No additional data, as upstream: the value opens under another storage key too.
  assert.equal(t.read('/core/secrets/other/s2', stored).value, VALUE);
  assert.throws(
    () => t.read(KEY, prefix + sealed.subarray(0, 30).toString('base64')),
    /shorter than the required size/,
  );
});

test('switching from aescbc to secretbox: old values stay readable (stale) until rewritten', () => {
  const old = { name: 'cbc', secret: b64(32) };
  const stored = config([{ aescbc: { keys: [old] } }])
    .transformerFor('', 'secrets')!
    .toStorage(KEY, VALUE);
  const t = config([
    { secretbox: { keys: [{ name: 'box', secret: b64(32) }] } },
    { aescbc: { keys: [old] } },
  ]).transformerFor('', 'secrets')!;
  const read = t.read(KEY, stored);
  assert.equal(read.value, VALUE);
  assert.equal(read.stale, true);
  assert.equal(read.cipher.kind, 'aescbc');
  const rewritten = t.toStorage(KEY, read.value);
  assert.ok(rewritten.startsWith('k8s:enc:secretbox:v1:box:'));
  assert.equal(t.read(KEY, rewritten).stale, false);
});

test('tweetnacl is loaded only by configurations with a secretbox provider', () => {
  const loads = (provider: string) =>
    execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createRequire } from 'node:module';
         const { EncryptionConfig } = await import(${JSON.stringify(new URL('../../src/apiserver/encryption/config.js', import.meta.url).href)});
         new EncryptionConfig({ apiVersion: 'apiserver.config.k8s.io/v1', kind: 'EncryptionConfiguration',
           resources: [{ resources: ['secrets'], providers: [{ ${provider}: { keys: [{ name: 'k', secret: '${b64(32)}' }] } }] }] });
         const require = createRequire(import.meta.url);
         console.log(Object.keys(require.cache).some((f) => f.includes('tweetnacl')));`,
      ],
      { encoding: 'utf8' },
    ).trim();
  assert.equal(loads('aescbc'), 'false');
  assert.equal(loads('secretbox'), 'true');
});
