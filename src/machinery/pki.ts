// Cluster PKI: a CA made on first start, a serving certificate for the API server (re-issued
import 'reflect-metadata';
// when its names change) and client certificates (the admin's: O=system:masters).
import { webcrypto, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;

x509.cryptoProvider.set(webcrypto as any);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const YEAR_MS = 365 * 24 * 3600 * 1000;

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export interface CA extends KeyPair {
  cert: x509.X509Certificate;
  key: CryptoKey;
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0];
  return webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign']);
}

const serial = () =>
  randomBytes(16)
    .toString('hex')
    .replace(/^[89a-f]/, '1');
const generateKeys = () => webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);

/** A CA from its PEM certificate and PKCS#8 key (as loadOrCreateCA writes them). */
export async function caFromPem(certPem: string, keyPem: string): Promise<CA> {
  return { certPem, keyPem, cert: new x509.X509Certificate(certPem), key: await importKey(keyPem) };
}

/** The CA in dir/<name>.{crt,key}, made when missing (`name`: another CA beside the cluster's). */
export async function loadOrCreateCA(dir: string, commonName = 'k8ts-ca', name = 'ca'): Promise<CA> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  if (existsSync(certFile) && existsSync(keyFile)) {
    const certPem = readFileSync(certFile, 'utf8');
    const keyPem = readFileSync(keyFile, 'utf8');
    return caFromPem(certPem, keyPem);
  }
  const keys = await generateKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}@${Math.floor(now / 1000)}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 10 * YEAR_MS),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const ca = { certPem: cert.toString('pem'), keyPem: await exportKey(keys.privateKey), cert, key: keys.privateKey };
  writeFileSync(certFile, ca.certPem, { mode: 0o644 });
  writeFileSync(keyFile, ca.keyPem, { mode: 0o600 });
  return ca;
}

export interface IssueOptions {
  commonName: string;
  organizations?: string[];
  /** DNS names and IP addresses, for serving certificates. */
  sans?: string[];
  server?: boolean;
  client?: boolean;
  validYears?: number;
}

export async function issue(ca: CA, opts: IssueOptions): Promise<KeyPair> {
  const keys = await generateKeys();
  const now = Date.now();
  const subject = [`CN=${opts.commonName}`, ...(opts.organizations ?? []).map((o) => `O=${o}`)].join(', ');
  const usages: string[] = [];
  if (opts.server) usages.push(x509.ExtendedKeyUsage.serverAuth);
  if (opts.client) usages.push(x509.ExtendedKeyUsage.clientAuth);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension(usages, false),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert, false),
  ];
  if (opts.sans?.length) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        opts.sans.map((s) => (isIP(s) ? { type: 'ip', value: s } : { type: 'dns', value: s })),
      ),
    );
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: ca.cert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (opts.validYears ?? 1) * YEAR_MS),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions,
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKey(keys.privateKey) };
}

/** SANs already in a certificate, to decide whether it must be re-issued. */
export function sansOf(certPem: string): string[] {
  const cert = new x509.X509Certificate(certPem);
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return ext ? ext.names.items.map((n) => n.value) : [];
}

export function notAfter(certPem: string): Date {
  return new x509.X509Certificate(certPem).notAfter;
}

/** Load a key pair from dir/name.{crt,key}, issuing it when missing, expiring, or (servers) lacking a SAN. */
export async function loadOrIssue(ca: CA, dir: string, name: string, opts: IssueOptions): Promise<KeyPair> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  if (existsSync(certFile) && existsSync(keyFile)) {
    const certPem = readFileSync(certFile, 'utf8');
    const have = new Set(sansOf(certPem));
    const fresh = notAfter(certPem).getTime() - Date.now() > 30 * 24 * 3600 * 1000;
    if (fresh && (opts.sans ?? []).every((s) => have.has(s))) return { certPem, keyPem: readFileSync(keyFile, 'utf8') };
  }
  const pair = await issue(ca, opts);
  writeFileSync(certFile, pair.certPem, { mode: 0o644 });
  writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });
  return pair;
}

/** Subject of a verified peer certificate, as node's TLS socket reports it. */
export function userFromSubject(
  subject: { CN?: string | string[]; O?: string | string[] } | undefined,
): { name: string; groups: string[] } | undefined {
  if (!subject?.CN) return undefined;
  const cn = Array.isArray(subject.CN) ? subject.CN[0] : subject.CN;
  const o = subject.O === undefined ? [] : Array.isArray(subject.O) ? subject.O : [subject.O];
  return { name: cn, groups: o };
}
