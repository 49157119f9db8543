// Certificates issued on node:crypto (machinery/certificate.ts, der.ts), read back by node's own
// X.509 parser and by OpenSSL's command line: chains verify, names and usages are as asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ExtKeyUsage,
  KeyUsage,
  certificateRequest,
  distinguishedName,
  issueCertificate,
  readIssuerCertificate,
} from '../../src/machinery/certificate.js';
import {
  caFromPem,
  generateKeys,
  issue,
  loadOrCreateCA,
  loadOrIssue,
  sansOf,
  notAfter,
} from '../../src/machinery/pki.js';
import { parseCertificateRequest } from '../../src/api/certificates/v1/request.js';
import * as der from '../../src/machinery/der.js';

const scratch = () => mkdtempSync(join(tmpdir(), 'k8ts-cert-'));

test('DER: lengths, integers, object identifiers and named bits as X.690 writes them', () => {
  assert.equal(der.tlv(0x04, Buffer.alloc(3)).toString('hex'), '0403000000');
  assert.equal(der.tlv(0x04, Buffer.alloc(200)).subarray(0, 3).toString('hex'), '0481c8');
  assert.equal(der.tlv(0x04, Buffer.alloc(300)).subarray(0, 4).toString('hex'), '0482012c');
  assert.equal(der.unsignedInteger(Buffer.from([0x80])).toString('hex'), '02020080');
  assert.equal(der.unsignedInteger(Buffer.from([0, 0, 5])).toString('hex'), '020105');
  assert.equal(der.oid('1.2.840.10045.4.3.2').toString('hex'), '06082a8648ce3d040302');
  assert.equal(der.oid('2.5.29.37.0').toString('hex'), '0604551d2500');
  // digitalSignature + keyEncipherment: 0b101 in the top bits, 5 unused.
  assert.equal(der.namedBits([0, 2]).toString('hex'), '030205a0');
  // keyCertSign + cRLSign + digitalSignature.
  assert.equal(der.namedBits([5, 6, 0]).toString('hex'), '03020186');
  assert.equal(der.namedBits([8]).toString('hex'), '0303070080');
  assert.equal(der.time(new Date(Date.UTC(2049, 11, 31, 23, 59, 59))).toString('ascii', 2), '491231235959Z');
  assert.equal(der.time(new Date(Date.UTC(2050, 0, 1))).toString('ascii', 2), '20500101000000Z');
  const nested = der.sequence(der.smallInteger(1), der.octetString(Buffer.from('ab')));
  const [one, two] = der.children(der.readElement(nested).contents);
  assert.equal(one.tag, der.Tag.integer);
  assert.equal(two.contents.toString(), 'ab');
  assert.throws(() => der.readElement(nested.subarray(0, 4)), /truncated/);
});

test('a CA and a serving certificate: the chain verifies, names, usages and validity are as asked', async () => {
  const dir = scratch();
  try {
    const ca = await loadOrCreateCA(dir, 'test-ca');
    const pair = await issue(ca, {
      commonName: 'server',
      organizations: ['o1', 'o2'],
      sans: ['kubernetes.default.svc', '127.0.0.1', '::1', 'fd00::10'],
      server: true,
      client: true,
    });
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(pair.certPem);
    assert.ok(caCert.ca);
    assert.ok(caCert.verify(caCert.publicKey), 'the CA is self-signed');
    assert.ok(cert.verify(caCert.publicKey));
    assert.ok(cert.checkIssued(caCert));
    assert.equal(cert.subject, 'CN=server\nO=o1\nO=o2');
    assert.equal(cert.issuer, caCert.subject);
    assert.equal(cert.ca, false);
    assert.equal(cert.checkHost('kubernetes.default.svc'), 'kubernetes.default.svc');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkIP('fd00::10'), 'fd00::10');
    assert.deepEqual(cert.keyUsage, [ExtKeyUsage.serverAuth, ExtKeyUsage.clientAuth]);
    assert.deepEqual(sansOf(pair.certPem), ['kubernetes.default.svc', '127.0.0.1', '::1', 'fd00::10']);
    const year = notAfter(pair.certPem).getTime() - Date.now();
    assert.ok(year > 364 * 86400_000 && year < 366 * 86400_000);
    // The key written beside it matches the certificate.
    assert.ok(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(pair.keyPem)));
    // A CA read back from its files issues certificates that name the same key identifier.
    const again = await loadOrCreateCA(dir, 'test-ca');
    assert.equal(again.certPem, ca.certPem);
    assert.deepEqual(again.keyId, ca.keyId);
    assert.deepEqual(readIssuerCertificate(pair.certPem).subject, distinguishedName('server', ['o1', 'o2']));
    // A certificate on disk that has every name asked for (IPv6 written either way) is kept.
    const opts = { commonName: 'api', sans: ['::1', 'localhost'], server: true };
    const first = await loadOrIssue(ca, dir, 'api', opts);
    const second = await loadOrIssue(ca, dir, 'api', { ...opts, sans: ['0:0:0:0:0:0:0:1', 'localhost'] });
    assert.equal(second.certPem, first.certPem);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('OpenSSL verifies the chain and reads the extensions', async (t) => {
  try {
    execFileSync('openssl', ['version']);
  } catch {
    t.skip('no openssl binary');
    return;
  }
  const dir = scratch();
  try {
    const ca = await loadOrCreateCA(dir, 'test-ca');
    const pair = await issue(ca, { commonName: 'node1', sans: ['node1', '10.0.0.1'], server: true });
    writeFileSync(join(dir, 'leaf.crt'), pair.certPem);
    const verified = execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'leaf.crt')]);
    assert.match(verified.toString(), /leaf\.crt: OK/);
    const text = execFileSync('openssl', ['x509', '-in', join(dir, 'leaf.crt'), '-noout', '-text']).toString();
    assert.match(text, /Version: 3/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
    assert.match(text, /X509v3 Extended Key Usage:\s+TLS Web Server Authentication/);
    assert.match(text, /DNS:node1, IP Address:10\.0\.0\.1/);
    assert.match(text, /X509v3 Authority Key Identifier:/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('RSA issuers sign with sha256WithRSAEncryption; validity past 2049 is a GeneralizedTime', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = issueCertificate(
    {
      subject: distinguishedName('rsa-ca'),
      publicKey,
      notBefore: new Date(Date.UTC(2026, 0, 1)),
      notAfter: new Date(Date.UTC(2060, 0, 1)),
      isCA: true,
      keyUsage: [KeyUsage.keyCertSign],
    },
    { selfKey: privateKey },
  );
  const cert = new X509Certificate(pem);
  assert.ok(cert.verify(publicKey));
  assert.equal(new Date(cert.validTo).getUTCFullYear(), 2060);
  assert.equal(cert.publicKey.asymmetricKeyType, 'rsa');
});

test('a PKCS#10 request made here parses, verifies, and is issued with its key', async () => {
  const keys = generateKeys();
  const csrPem = certificateRequest(distinguishedName('system:node:n1', ['system:nodes']), keys);
  const req = parseCertificateRequest(csrPem);
  assert.equal(req.commonName, 'system:node:n1');
  assert.deepEqual(req.organizations, ['system:nodes']);
  const dir = scratch();
  try {
    const ca = await loadOrCreateCA(dir);
    const cert = new X509Certificate(
      issueCertificate(
        {
          subject: Buffer.from(req.csr.subjectName.toArrayBuffer()),
          publicKey: Buffer.from(req.csr.publicKey.rawData),
          notBefore: new Date(),
          notAfter: new Date(Date.now() + 3600_000),
          extKeyUsage: [ExtKeyUsage.clientAuth],
        },
        await caFromPem(ca.certPem, ca.keyPem),
      ),
    );
    assert.ok(cert.checkPrivateKey(keys.privateKey));
    assert.equal(cert.subject, 'CN=system:node:n1\nO=system:nodes');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // A request whose signature was tampered with is refused.
  const der64 = csrPem.split('\n').slice(1, -2).join('');
  const bytes = Buffer.from(der64, 'base64');
  bytes[bytes.length - 3] ^= 1;
  const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${bytes.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  assert.throws(() => parseCertificateRequest(tampered), /verification failure|malformed|verify/);
});
