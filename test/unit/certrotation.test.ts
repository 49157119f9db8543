// The agent's client certificate: when it is renewed (70–90 % of its lifetime, the kubelet's
// rule), for how long a renewal asks, and how the pair is stored (one PEM, a link swapped atomically).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeys, loadOrCreateCA, type CA } from '../../src/machinery/pki.js';
import { ExtKeyUsage, KeyUsage, distinguishedName, issueCertificate } from '../../src/machinery/certificate.js';
import { rotationDeadline, requestedExpirationSeconds } from '../../src/agent/certrotation.js';
import {
  CURRENT_CLIENT_PEM,
  keyMatches,
  loadClientCredential,
  splitPem,
  storeClientCredential,
} from '../../src/agent/certstore.js';

const dir = mkdtempSync(join(tmpdir(), 'k8ts-certrotation-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let ca: CA;
test.before(async () => {
  ca = await loadOrCreateCA(join(dir, 'ca'));
});

/** A node client certificate valid from `from` for `lifetimeMs` (whole seconds, as X.509 keeps them). */
function nodeCert(from: number, lifetimeMs: number) {
  const keys = generateKeys();
  const certPem = issueCertificate(
    {
      subject: distinguishedName('system:node:n1', ['system:nodes']),
      publicKey: keys.publicKey,
      notBefore: new Date(from),
      notAfter: new Date(from + lifetimeMs),
      keyUsage: [KeyUsage.digitalSignature],
      extKeyUsage: [ExtKeyUsage.clientAuth],
    },
    ca,
  );
  return { certPem, keyPem: keys.keyPem };
}

test('renewal is due at 70 % to 90 % of the lifetime, from notBefore', () => {
  const from = Math.floor(Date.now() / 1000) * 1000;
  const hour = 3600_000;
  const { certPem } = nodeCert(from, 100 * hour);
  assert.equal(rotationDeadline(certPem, 0).getTime(), from + 70 * hour);
  assert.equal(rotationDeadline(certPem, 0.5).getTime(), from + 80 * hour);
  assert.ok(rotationDeadline(certPem, 0.999999).getTime() <= from + 90 * hour);
});

test("a renewal asks for the current certificate's lifetime, at least upstream's 600 s minimum", () => {
  const now = Math.floor(Date.now() / 1000) * 1000;
  assert.equal(requestedExpirationSeconds(nodeCert(now, 30_000).certPem), 600);
  assert.equal(requestedExpirationSeconds(nodeCert(now, 86_400_000).certPem), 86_400);
});

test('the pair is stored in one 0600 PEM file behind a link replaced atomically; one older pair is kept', () => {
  const tls = mkdtempSync(join(dir, 'tls-'));
  const now = Date.now();
  const first = nodeCert(now, 3600_000);
  const second = nodeCert(now, 7200_000);
  const third = nodeCert(now, 10_800_000);
  const p1 = storeClientCredential(tls, first, new Date(now));
  assert.equal(statSync(p1).mode & 0o777, 0o600);
  assert.ok(lstatSync(join(tls, CURRENT_CLIENT_PEM)).isSymbolicLink());
  assert.deepEqual(loadClientCredential(tls), first);
  // Same second: the names still differ.
  const p2 = storeClientCredential(tls, second, new Date(now));
  assert.notEqual(p1, p2);
  assert.equal(readlinkSync(join(tls, CURRENT_CLIENT_PEM)), p2.split('/').pop());
  assert.deepEqual(loadClientCredential(tls), second);
  const p3 = storeClientCredential(tls, third, new Date(now + 1000));
  assert.deepEqual(loadClientCredential(tls), third);
  const pems = readdirSync(tls)
    .filter((f) => f !== CURRENT_CLIENT_PEM)
    .sort();
  assert.deepEqual(pems, [p2, p3].map((p) => p.split('/').pop()).sort(), 'the first pair was pruned');
});

test('a certificate with a key that is not its own is refused, and a legacy pair is read then replaced', () => {
  const tls = mkdtempSync(join(dir, 'tls-'));
  const now = Date.now();
  const a = nodeCert(now, 3600_000);
  const b = nodeCert(now, 3600_000);
  assert.equal(keyMatches({ certPem: a.certPem, keyPem: b.keyPem }), false);
  assert.throws(() => storeClientCredential(tls, { certPem: a.certPem, keyPem: b.keyPem }), /not its own/);
  assert.equal(loadClientCredential(tls), undefined);
  writeFileSync(join(tls, 'client-kubelet.crt'), a.certPem);
  writeFileSync(join(tls, 'client-kubelet.key'), a.keyPem);
  assert.deepEqual(loadClientCredential(tls), a);
  storeClientCredential(tls, b);
  assert.deepEqual(loadClientCredential(tls), b);
  assert.ok(!readdirSync(tls).includes('client-kubelet.crt'), 'the legacy files are gone');
});

test('splitPem finds the certificate and the key in either order', () => {
  const a = nodeCert(Date.now(), 3600_000);
  assert.deepEqual(splitPem(a.keyPem + a.certPem), a);
  assert.throws(() => splitPem(a.certPem), /both a certificate and a private key/);
});
