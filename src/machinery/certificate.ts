// X.509 v3 certificates (RFC 5280) issued with node:crypto: the cluster CA, the serving and client
// certificates, node certificates from CSRs, the ingress's default certificate. Keys are ECDSA
// P-256 or RSA, signed with SHA-256. Parsing requests stays with @peculiar/x509 (csr.ts), loaded
// only by the code paths that read one.
import { createHash, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import * as der from './der.js';

/** KeyUsage bits (RFC 5280 4.2.1.3). */
export const KeyUsage = {
  digitalSignature: 0,
  contentCommitment: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
} as const;

export const ExtKeyUsage = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' } as const;

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
};

/** A Name of one CN and any number of O attributes, each in its own RDN. */
export function distinguishedName(commonName: string, organizations: string[] = []): Buffer {
  const rdn = (type: string, value: string) => der.set(der.sequence(der.oid(type), der.utf8String(value)));
  return der.sequence(rdn(OID.commonName, commonName), ...organizations.map((o) => rdn(OID.organization, o)));
}

/** The subjectAltName extension's value: DNS names and IP addresses. */
export function subjectAltNames(names: string[]): Buffer {
  return der.sequence(
    ...names.map((n) => {
      if (!isIP(n)) return der.tlv(der.context(2, false), Buffer.from(n, 'ascii'));
      const bytes = isIP(n) === 4 ? Buffer.from(n.split('.').map(Number)) : ipv6Bytes(n);
      return der.tlv(der.context(7, false), bytes);
    }),
  );
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail = ''] = address.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  let h = groups(head);
  let t = address.includes('::') ? groups(tail) : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const v4 = (gs: string[]) =>
    gs.flatMap((g) => {
      if (!g.includes('.')) return [g];
      const [a, b, c, d] = g.split('.').map(Number);
      return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    });
  h = v4(h);
  t = v4(t);
  const all = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Buffer): Buffer {
  const [, bits] = der.children(der.readElement(spki).contents);
  return createHash('sha1').update(bits.contents.subarray(1)).digest();
}

export interface Issuer {
  /** The issuer's Name, byte for byte as in its own certificate. */
  subject: Buffer;
  key: KeyObject;
  /** Its subjectKeyIdentifier, named in the authorityKeyIdentifier of what it issues. */
  keyId?: Buffer;
}

export interface CertificateTemplate {
  /** A Name's DER (distinguishedName(), or copied from a request). */
  subject: Buffer;
  /** The certified key, or its SubjectPublicKeyInfo DER. */
  publicKey: KeyObject | Buffer;
  notBefore: Date;
  notAfter: Date;
  isCA?: boolean;
  keyUsage?: number[];
  extKeyUsage?: string[];
  /** DNS names and IPs, or a subjectAltName extension value copied from a request. */
  sans?: string[] | Buffer;
}

const extension = (id: string, critical: boolean, value: Buffer) =>
  der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));

/** A positive 128-bit serial number. */
function serialNumber(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x7f) | 0x10;
  return b;
}

/** Issues `t`, signed by `issuer`, or self-signed with `selfKey` (a CA). Returns PEM. */
export function issueCertificate(t: CertificateTemplate, issuer: Issuer | { selfKey: KeyObject }): string {
  const spki = Buffer.isBuffer(t.publicKey) ? t.publicKey : t.publicKey.export({ type: 'spki', format: 'der' });
  const signer: Issuer =
    'selfKey' in issuer ? { subject: t.subject, key: issuer.selfKey, keyId: keyIdentifier(spki) } : issuer;
  const algorithm = signatureAlgorithm(signer.key);
  const extensions = [extension(OID.basicConstraints, true, der.sequence(...(t.isCA ? [der.boolean(true)] : [])))];
  if (t.keyUsage?.length) extensions.push(extension(OID.keyUsage, true, der.namedBits(t.keyUsage)));
  if (t.extKeyUsage?.length)
    extensions.push(extension(OID.extKeyUsage, false, der.sequence(...t.extKeyUsage.map(der.oid))));
  if (t.isCA) extensions.push(extension(OID.subjectKeyIdentifier, false, der.octetString(keyIdentifier(spki))));
  if (signer.keyId && !t.isCA)
    extensions.push(
      extension(OID.authorityKeyIdentifier, false, der.sequence(der.tlv(der.context(0, false), signer.keyId))),
    );
  const sans = Buffer.isBuffer(t.sans) ? t.sans : t.sans?.length ? subjectAltNames(t.sans) : undefined;
  if (sans) extensions.push(extension(OID.subjectAltName, false, sans));
  const tbs = der.sequence(
    der.tlv(der.context(0, true), der.smallInteger(2)), // v3
    der.unsignedInteger(serialNumber()),
    algorithm,
    signer.subject,
    der.sequence(der.time(t.notBefore), der.time(t.notAfter)),
    t.subject,
    spki,
    der.tlv(der.context(3, true), der.sequence(...extensions)),
  );
  return toPem(signed(tbs, algorithm, signer.key), 'CERTIFICATE');
}

/** A PKCS#10 request (RFC 2986) for `subject` and the public key of `keys`, signed by its private key. */
export function certificateRequest(subject: Buffer, keys: { publicKey: KeyObject; privateKey: KeyObject }): string {
  const info = der.sequence(
    der.smallInteger(0),
    subject,
    keys.publicKey.export({ type: 'spki', format: 'der' }),
    der.tlv(der.context(0, true), Buffer.alloc(0)), // no attributes
  );
  return toPem(signed(info, signatureAlgorithm(keys.privateKey), keys.privateKey), 'CERTIFICATE REQUEST');
}

const signatureAlgorithm = (key: KeyObject) =>
  key.asymmetricKeyType === 'rsa'
    ? der.sequence(der.oid(OID.sha256WithRSAEncryption), der.derNull())
    : der.sequence(der.oid(OID.ecdsaWithSHA256));

/** `body` with its AlgorithmIdentifier and signature (ECDSA signatures come DER-encoded). */
const signed = (body: Buffer, algorithm: Buffer, key: KeyObject) =>
  der.sequence(body, algorithm, der.bitString(sign('sha256', body, key)));

export function toPem(body: Buffer, label: string): string {
  const lines = body.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** What an issuer needs from its own certificate: its Name as encoded, key identifier and expiry. */
export function readIssuerCertificate(certPem: string): { subject: Buffer; keyId: Buffer; notAfter: Date } {
  const cert = new X509Certificate(certPem);
  const [tbs] = der.children(der.readElement(cert.raw).contents);
  const fields = der.children(tbs.contents);
  const at = fields[0].tag === der.context(0, true) ? 1 : 0; // an explicit version comes first
  const subject = fields[at + 4].raw;
  const spki = fields[at + 5].raw;
  let keyId: Buffer | undefined;
  const extensions = fields.find((f) => f.tag === der.context(3, true));
  for (const ext of extensions ? der.children(der.readElement(extensions.contents).contents) : []) {
    const parts = der.children(ext.contents);
    if (parts[0].raw.equals(der.oid(OID.subjectKeyIdentifier)))
      keyId = der.readElement(parts[parts.length - 1].contents).contents;
  }
  return { subject, keyId: keyId ?? keyIdentifier(spki), notAfter: new Date(cert.validTo) };
}
