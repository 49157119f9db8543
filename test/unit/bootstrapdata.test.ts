// The sealing of the shared server files kept in etcd: only the token's secret opens them, and
// only under the key they were written to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BootstrapDataError, bootstrapKey, bootstrapKeyPrefix, seal, unseal } from '../../src/etcd/bootstrapdata.js';

const files = { 'server/tls/ca.key': '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n' };

test('sealed files open with the same secret and key', () => {
  const key = bootstrapKey('s3cret');
  const sealed = seal(files, 's3cret', key);
  assert.doesNotMatch(sealed, /PRIVATE KEY/);
  assert.deepEqual(unseal(sealed, 's3cret', key), files);
});

test('another secret or another key does not open them', () => {
  const key = bootstrapKey('s3cret');
  const sealed = seal(files, 's3cret', key);
  assert.throws(() => unseal(sealed, 'other', key), BootstrapDataError);
  assert.throws(() => unseal(sealed, 's3cret', bootstrapKey('other')), /does not decrypt/);
});

test("keys follow k3s's /bootstrap/<hash> layout, per etcd prefix", () => {
  assert.match(bootstrapKey('s3cret'), /^\/bootstrap\/[0-9a-f]{12}$/);
  assert.equal(bootstrapKeyPrefix('/registry/'), '/bootstrap/');
  assert.equal(bootstrapKeyPrefix('/other'), '/bootstrap/other/');
  assert.notEqual(bootstrapKey('a'), bootstrapKey('b'));
});
