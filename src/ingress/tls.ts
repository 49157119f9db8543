// TLS material of the ingress: the self-signed default certificate served when no Secret covers
// the requested name (ingress-nginx's "Fake Certificate"), and SecureContexts made from
// kubernetes.io/tls Secrets.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Secret } from 'kubernetes-types/core/v1.js';
import { ExtKeyUsage, KeyUsage, distinguishedName, issueCertificate } from '../machinery/certificate.js';

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
export function selfSignedCertificate(commonName = DEFAULT_CERT_NAME): Promise<CertificatePair> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const now = Date.now();
  const cert = issueCertificate(
    {
      subject: distinguishedName(commonName, ['Acme Co']),
      publicKey,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 365 * 24 * 3600 * 1000),
      keyUsage: [KeyUsage.digitalSignature, KeyUsage.keyEncipherment],
      extKeyUsage: [ExtKeyUsage.serverAuth],
      sans: ['ingress.local'],
    },
    { selfKey: privateKey },
  );
  return Promise.resolve({ cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string });
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
