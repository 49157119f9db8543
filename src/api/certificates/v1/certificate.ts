// status.certificate as upstream validates it: one or more CERTIFICATE PEM blocks, nothing else.
import { X509Certificate } from 'node:crypto';

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** The problem with a PEM certificate chain (upstream validateCertificate's messages), or undefined. */
export function validateCertificateChain(pem: string): string | undefined {
  let blocks = 0;
  for (const m of pem.matchAll(BLOCK)) {
    if (m[1] !== 'CERTIFICATE') return `only CERTIFICATE PEM blocks are allowed, found ${JSON.stringify(m[1])}`;
    if (/^[A-Za-z-]+:/m.test(m[2])) return 'no PEM block headers are permitted';
    try {
      new X509Certificate(Buffer.from(m[2].replace(/\s+/g, ''), 'base64'));
    } catch (err) {
      return `x509: malformed certificate: ${(err as Error).message}`;
    }
    blocks++;
  }
  return blocks ? undefined : 'must contain at least one CERTIFICATE PEM block';
}
