// TLS material of the ingress: the self-signed default certificate served when no Secret covers
// the requested name (ingress-nginx's "Fake Certificate"), and SecureContexts made from
// kubernetes.io/tls Secrets.
import 'reflect-metadata';
import { webcrypto, randomBytes, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import * as x509 from '@peculiar/x509';
import type { Secret } from 'kubernetes-types/core/v1.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface CertificatePair {
  cert: string;
  key: string;
}

export const DEFAULT_CERT_NAME = 'Kubernetes Ingress Controller Fake Certificate';

/**
 * A fresh self-signed certificate (one year) for the default server. RSA on purpose: OpenSSL keeps
 * one certificate per key type, and when SNI switches to a Secret's context an ECDSA default would
 * stay loaded beside a Secret's RSA certificate and be preferred; an RSA default is replaced.
 */
export async function selfSignedCertificate(commonName = DEFAULT_CERT_NAME): Promise<CertificatePair> {
  const alg = {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  } as const;
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01' + randomBytes(15).toString('hex'),
    name: `CN=${commonName}, O=Acme Co`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 365 * 24 * 3600 * 1000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'ingress.local' }]),
    ],
  });
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert: cert.toString('pem'), key: x509.PemConverter.encode(der, 'PRIVATE KEY') };
}

/** A SecureContext from a kubernetes.io/tls Secret, or why it cannot be used. */
export function contextFromSecret(secret: Secret): { context: SecureContext } | { error: string } {
  const cert = secret.data?.['tls.crt'];
  const key = secret.data?.['tls.key'];
  if (!cert || !key) return { error: 'has no tls.crt and tls.key' };
  const certPem = Buffer.from(cert, 'base64').toString('utf8');
  const keyPem = Buffer.from(key, 'base64').toString('utf8');
  try {
    const parsed = new X509Certificate(certPem);
    if (Date.parse(parsed.validTo) < Date.now()) return { error: `certificate expired at ${parsed.validTo}` };
    return { context: createSecureContext({ cert: certPem, key: keyPem }) };
  } catch (err) {
    return { error: `unusable certificate or key: ${(err as Error).message}` };
  }
}
