// PKCS#10 certificate requests as a CertificateSigningRequest carries them (spec.request: a PEM
// block, base64 in JSON): parsed and signature-checked synchronously, as upstream's ParseCSR and
// CheckSignature are, so validation can run inside the REST flow.
import { createPublicKey, verify } from 'node:crypto';
import type { HashedAlgorithm, Pkcs10CertificateRequest } from '@peculiar/x509';
import { x509 } from '../../../machinery/peculiar.js';

export interface ParsedRequest {
  csr: Pkcs10CertificateRequest;
  commonName: string;
  organizations: string[];
  dnsNames: string[];
  ipAddresses: string[];
  emailAddresses: string[];
  uris: string[];
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n?-----END \1-----/;

/** The first PEM block of `text`, as Go's pem.Decode finds it (headers are not supported here). */
function pemBlock(text: string): { type: string; der: Buffer } | undefined {
  const m = PEM_BLOCK.exec(text);
  if (!m) return undefined;
  return { type: m[1], der: Buffer.from(m[2].replace(/\s+/g, ''), 'base64') };
}

/** Node's name for the digest of a signature algorithm (undefined: none, as Ed25519). */
function digestOf(alg: HashedAlgorithm): string | undefined {
  const hash = (alg.hash as { name?: string } | undefined)?.name;
  return hash ? hash.replace('-', '').toLowerCase() : undefined;
}

/** upstream certificates.ParseCSR followed by CheckSignature; throws with their messages. */
export function parseCertificateRequest(pem: Buffer | string): ParsedRequest {
  const block = pemBlock(typeof pem === 'string' ? pem : pem.toString('latin1'));
  if (!block || block.type !== 'CERTIFICATE REQUEST') throw new Error('PEM block type must be CERTIFICATE REQUEST');
  let csr: Pkcs10CertificateRequest;
  try {
    csr = new (x509().Pkcs10CertificateRequest)(block.der);
  } catch (err) {
    throw new Error(`x509: malformed certificate request: ${(err as Error).message}`, { cause: err });
  }
  const alg = csr.signatureAlgorithm;
  // The signed part as it was sent (the library keeps the raw bytes; its accessor is not public).
  const tbs = Buffer.from((csr as unknown as { tbs: ArrayBuffer }).tbs);
  let ok: boolean;
  try {
    const key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
    ok = verify(digestOf(alg) ?? null, tbs, key, Buffer.from(csr.signature));
  } catch (err) {
    throw new Error(`x509: cannot verify signature: ${(err as Error).message}`, { cause: err });
  }
  if (!ok)
    throw new Error(
      `x509: ${(alg as { name?: string }).name === 'ECDSA' ? 'ECDSA verification failure' : 'verification error'}`,
    );
  const ext = csr.getExtension('2.5.29.17'); // subjectAltName
  const san = ext instanceof x509().SubjectAlternativeNameExtension ? ext : undefined;
  const names = (type: string) => (san?.names.items ?? []).filter((n) => n.type === type).map((n) => n.value);
  return {
    csr,
    commonName: csr.subjectName.getField('CN')[0] ?? '',
    organizations: csr.subjectName.getField('O'),
    dnsNames: names('dns'),
    ipAddresses: names('ip'),
    emailAddresses: names('email'),
    uris: names('url'),
  };
}

/** spec.request as stored: base64 of the PEM text. */
export function decodeRequestField(request: unknown): Buffer {
  return typeof request === 'string' ? Buffer.from(request, 'base64') : Buffer.alloc(0);
}
