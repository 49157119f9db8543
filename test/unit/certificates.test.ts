// CertificateSigningRequest validation, the built-in signers' checks, signing with the cluster CA,
// and the cleaner's deadlines.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, test, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { loadOrCreateCA, type CA } from '../../src/machinery/pki.js';
import { validateCsr, validateCsrUpdate, prepareCsrForUpdate } from '../../src/api/certificates/v1/csr.js';
import { parseCertificateRequest } from '../../src/api/certificates/v1/request.js';
import { csrCondition } from '../../src/api/certificates/v1/tables.js';
import { checkForSigner, signRequest } from '../../src/controllers/certificates/signer.js';
import { csrIsStale } from '../../src/controllers/certificates/controller.js';
import type { StrategyContext } from '../../src/api/types.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
// The tests read what k8ts issues with an independent X.509 library.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

async function request(subject: string, sans: { type: 'dns' | 'ip' | 'email'; value: string }[] = []): Promise<string> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subject,
    keys,
    signingAlgorithm: ALG,
    extensions: sans.length ? [new x509.SubjectAlternativeNameExtension(sans)] : [],
  });
  return csr.toString('pem');
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const ctx = (subresource?: string) => ({ subresource }) as StrategyContext;
const messages = (errs: { field: string; detail: string }[]) => errs.map((e) => `${e.field}: ${e.detail}`);

let ca: CA;
let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'k8ts-ca-'));
  ca = await loadOrCreateCA(dir);
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
});

function csrObject(pem: string, spec: Record<string, unknown> = {}, status: Record<string, unknown> = {}) {
  return {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name: 'x' },
    spec: { request: b64(pem), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'], ...spec },
    status,
  };
}

describe('validation', () => {
  test('a good request passes; a bad one gets upstream messages', async () => {
    const pem = await request('CN=jane, O=dev');
    assert.deepEqual(validateCsr(csrObject(pem) as never), []);
    const errs = messages(
      validateCsr(
        csrObject('junk', {
          signerName: 'nodomain',
          usages: ['client auth', 'client auth', 'flying'],
          expirationSeconds: 599,
        }) as never,
      ),
    );
    assert.ok(
      errs.some((e) => e.includes('spec.request') && e.includes('PEM block type must be CERTIFICATE REQUEST')),
      String(errs),
    );
    assert.ok(
      errs.some((e) => e.startsWith('spec.usages[1]') && e.includes('Duplicate value')),
      String(errs),
    );
    assert.ok(
      errs.some((e) => e.startsWith('spec.usages[2]') && e.includes('Unsupported value: "flying"')),
      String(errs),
    );
    assert.ok(
      errs.some((e) => e.includes("must be a fully qualified domain and path of the form 'example.com/signer-name'")),
    );
    assert.ok(errs.some((e) => e.includes('may not specify a duration less than 600 seconds (10 minutes)')));
  });

  test('a tampered signature is refused', async () => {
    const pem = await request('CN=jane');
    const der = Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64');
    der[der.length - 5] ^= 0xff;
    const bad = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    assert.throws(() => parseCertificateRequest(bad), /x509:/);
  });

  test('Approved and Denied exclude each other; conditions only through their subresource', async () => {
    const pem = await request('CN=jane');
    const both = csrObject(
      pem,
      {},
      {
        conditions: [
          { type: 'Approved', status: 'True' },
          { type: 'Denied', status: 'True' },
        ],
      },
    );
    assert.ok(
      messages(validateCsr(both as never)).some((e) =>
        e.includes('Approved and Denied conditions are mutually exclusive'),
      ),
    );
    const old = csrObject(pem);
    const approved = csrObject(pem, {}, { conditions: [{ type: 'Approved', status: 'True', reason: 'r' }] });
    assert.deepEqual(validateCsrUpdate(approved as never, old as never, ctx('approval')), []);
    assert.ok(
      messages(validateCsrUpdate(approved as never, old as never, ctx('status'))).some((e) =>
        e.includes('updates may not add a condition of type "Approved"'),
      ),
    );
    const removed = csrObject(pem);
    assert.ok(
      messages(validateCsrUpdate(removed as never, approved as never, ctx('approval'))).some((e) =>
        e.includes('updates may not remove a condition of type "Approved"'),
      ),
    );
    const withCert = csrObject(pem, {}, { certificate: b64(ca.certPem) });
    assert.ok(
      messages(validateCsrUpdate(withCert as never, old as never, ctx('approval'))).some((e) =>
        e.includes('updates may not set certificate content'),
      ),
    );
    assert.deepEqual(validateCsrUpdate(withCert as never, old as never, ctx('status')), []);
    const junkCert = csrObject(pem, {}, { certificate: b64('hello') });
    assert.ok(
      messages(validateCsrUpdate(junkCert as never, old as never, ctx('status'))).some((e) =>
        e.includes('must contain at least one CERTIFICATE PEM block'),
      ),
    );
  });

  test('the approval path keeps spec and certificate; a main update keeps status', async () => {
    const pem = await request('CN=jane');
    const old = csrObject(pem, {}, { certificate: b64(ca.certPem) });
    const next = csrObject(pem, { usages: ['server auth'] }, { conditions: [{ type: 'Approved', status: 'True' }] });
    prepareCsrForUpdate(next as never, old as never, ctx('approval'));
    assert.deepEqual(next.spec.usages, ['client auth']);
    assert.equal(next.status.certificate, b64(ca.certPem));
    const conditions = (next.status as { conditions: { lastUpdateTime?: string; lastTransitionTime?: string }[] })
      .conditions;
    assert.ok(conditions[0].lastUpdateTime && conditions[0].lastTransitionTime, 'timestamps are filled');
    const main = csrObject(pem, {}, { conditions: [{ type: 'Approved', status: 'True' }] });
    prepareCsrForUpdate(main as never, old as never, ctx());
    assert.deepEqual(main.status, old.status);
  });

  test('the CONDITION column', () => {
    const c = (types: string[], certificate?: string) =>
      csrCondition({
        spec: { request: '', signerName: '' },
        status: { conditions: types.map((type) => ({ type, status: 'True' })), certificate },
      });
    assert.equal(c([]), 'Pending');
    assert.equal(c(['Approved'], 'x'), 'Approved,Issued');
    assert.equal(c(['Approved', 'Failed']), 'Approved,Failed');
    assert.equal(c(['Denied']), 'Denied');
  });
});

describe('signers', () => {
  test('kube-apiserver-client: client auth required, only client usages', async () => {
    const req = parseCertificateRequest(await request('CN=jane'));
    const check = (usages: string[]) => checkForSigner('kubernetes.io/kube-apiserver-client', req, usages)?.problem;
    assert.equal(check(['client auth', 'digital signature', 'key encipherment']), undefined);
    assert.equal(check(['client auth', 'server auth']), 'invalid usage for client certificate: server auth');
    assert.equal(check(['digital signature']), 'missing required usage for client certificate: client auth');
    assert.equal(checkForSigner('example.com/mine', req, ['client auth']), undefined, 'not a built-in signer');
  });

  test('kube-apiserver-client-kubelet: system:node:NAME in system:nodes, no SANs', async () => {
    const signer = 'kubernetes.io/kube-apiserver-client-kubelet';
    const usages = ['client auth', 'digital signature'];
    const check = async (subject: string, sans: Parameters<typeof request>[1] = [], u = usages) =>
      checkForSigner(signer, parseCertificateRequest(await request(subject, sans)), u)?.problem;
    assert.equal(await check('CN=system:node:n1, O=system:nodes'), undefined);
    assert.equal(
      await check('CN=system:node:n1, O=system:nodes', [], ['client auth', 'digital signature', 'key encipherment']),
      undefined,
    );
    assert.equal(await check('CN=system:node:n1, O=admins'), 'subject organization is not system:nodes');
    assert.equal(await check('CN=n1, O=system:nodes'), 'subject common name does not begin with system:node:');
    assert.equal(
      await check('CN=system:node:n1, O=system:nodes', [{ type: 'dns', value: 'n1' }]),
      'DNS subjectAltNames are not allowed',
    );
    assert.equal(
      await check('CN=system:node:n1, O=system:nodes', [], ['client auth']),
      'usages did not match [client auth digital signature key encipherment]',
    );
  });

  test('kubelet-serving: needs a DNS or IP name and server usages', async () => {
    const signer = 'kubernetes.io/kubelet-serving';
    const usages = ['digital signature', 'key encipherment', 'server auth'];
    const check = async (sans: Parameters<typeof request>[1], u = usages) =>
      checkForSigner(signer, parseCertificateRequest(await request('CN=system:node:n1, O=system:nodes', sans)), u)
        ?.problem;
    assert.equal(await check([{ type: 'ip', value: '10.0.0.1' }]), undefined);
    assert.equal(await check([]), 'DNS or IP subjectAltName is required');
    assert.equal(
      await check([
        { type: 'dns', value: 'n1' },
        { type: 'email', value: 'a@b.c' },
      ]),
      'Email subjectAltNames are not allowed',
    );
    assert.equal(
      await check([{ type: 'dns', value: 'n1' }], ['server auth']),
      'usages did not match [digital signature key encipherment server auth]',
    );
  });

  test('signing: the subject, key and SANs of the request, the CA as issuer, expirationSeconds honoured', async () => {
    const req = parseCertificateRequest(
      await request('CN=system:node:n1, O=system:nodes', [{ type: 'dns', value: 'n1.local' }]),
    );
    const now = Date.UTC(2026, 11, 6, 12, 0, 0);
    const pem = signRequest(ca, req, ['digital signature', 'server auth'], { expirationSeconds: 3600, now });
    const cert = new x509.X509Certificate(pem);
    const caCert = new x509.X509Certificate(ca.certPem);
    assert.equal(cert.subject, 'CN=system:node:n1, O=system:nodes');
    assert.equal(cert.issuer, caCert.subject);
    assert.ok(await cert.verify({ publicKey: caCert.publicKey, date: new Date(now) }));
    assert.equal(cert.notAfter.getTime(), now + 3600_000);
    assert.ok(cert.notBefore.getTime() < now);
    assert.equal(
      cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId,
      caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
    );
    assert.equal(cert.getExtension(x509.KeyUsagesExtension)?.usages, x509.KeyUsageFlags.digitalSignature);
    assert.equal(cert.getExtension(x509.BasicConstraintsExtension)?.ca, false);
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    assert.deepEqual([...(eku?.usages ?? [])], ['1.3.6.1.5.5.7.3.1']);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    assert.deepEqual(
      san?.names.items.map((n) => n.value),
      ['n1.local'],
    );
    assert.equal(
      Buffer.from(cert.publicKey.rawData).toString('hex'),
      Buffer.from(req.csr.publicKey.rawData).toString('hex'),
    );
    // Without expirationSeconds: the signing duration (a year), never past the CA.
    const long = new x509.X509Certificate(signRequest(ca, req, ['server auth'], { now }));
    assert.equal(long.notAfter.getTime(), now + 365 * 24 * 3600_000);
    const capped = new x509.X509Certificate(
      signRequest(ca, req, ['server auth'], { expirationSeconds: 20 * 365 * 86400 }),
    );
    assert.ok(capped.notAfter.getTime() <= caCert.notAfter.getTime());
  });
});

describe('cleaner', () => {
  const H = 3600_000;
  const at = (ms: number) => new Date(ms).toISOString();
  const now = Date.UTC(2026, 11, 6, 12);
  const csr = (created: number, conditions: { type: string; at: number }[] = [], certificate?: string) => ({
    metadata: { name: 'x', creationTimestamp: at(created) },
    spec: { request: '', signerName: 'kubernetes.io/kube-apiserver-client' },
    status: {
      conditions: conditions.map((c) => ({ type: c.type, status: 'True', lastUpdateTime: at(c.at) })),
      certificate,
    },
  });

  test('pending after 24 h; denied and failed after 1 h; issued 1 h after approval; expired certificates', async () => {
    assert.equal(csrIsStale(csr(now - 23 * H), now), false);
    assert.equal(csrIsStale(csr(now - 24 * H), now), true);
    assert.equal(csrIsStale(csr(now - 2 * H, [{ type: 'Denied', at: now - 0.5 * H }]), now), false);
    assert.equal(csrIsStale(csr(now - 2 * H, [{ type: 'Denied', at: now - H }]), now), true);
    assert.equal(
      csrIsStale(
        csr(now - 2 * H, [
          { type: 'Approved', at: now - 2 * H },
          { type: 'Failed', at: now - H },
        ]),
        now,
      ),
      true,
    );
    const req = parseCertificateRequest(await request('CN=jane'));
    const cert = b64(signRequest(ca, req, ['client auth'], { expirationSeconds: 3600, now }));
    assert.equal(csrIsStale(csr(now - 0.5 * H, [{ type: 'Approved', at: now - 0.5 * H }], cert), now), false);
    assert.equal(csrIsStale(csr(now - 2 * H, [{ type: 'Approved', at: now - H }], cert), now), true);
    assert.equal(csrIsStale(csr(now, [{ type: 'Approved', at: now }], cert), now + 1.01 * H), true, 'expired');
    assert.equal(
      csrIsStale(csr(now - 30 * H, [{ type: 'Approved', at: now - 0.5 * H }]), now),
      false,
      'approved, awaiting its signer',
    );
  });
});
