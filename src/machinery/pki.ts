// Cluster PKI: a CA made on first start, a serving certificate for the API server (re-issued
// when its names change) and client certificates (the admin's: O=system:masters).
import { createPrivateKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';
import {
  ExtKeyUsage,
  KeyUsage,
  distinguishedName,
  issueCertificate,
  readIssuerCertificate,
  type Issuer,
} from './certificate.js';

const YEAR_MS = 365 * 24 * 3600 * 1000;

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export interface CA extends KeyPair, Issuer {
  notAfter: Date;
}

/** A fresh ECDSA P-256 key pair, the private key as PKCS#8 PEM. */
export function generateKeys(): { privateKey: KeyObject; publicKey: KeyObject; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

// (The exported functions stay async, as they were when a WebCrypto-based library did the work.)

/** A CA from its PEM certificate and PKCS#8 key (as loadOrCreateCA writes them). */
export function caFromPem(certPem: string, keyPem: string): Promise<CA> {
  return Promise.resolve({ certPem, keyPem, key: createPrivateKey(keyPem), ...readIssuerCertificate(certPem) });
}

/** The CA in dir/<name>.{crt,key}, made when missing (`name`: another CA beside the cluster's). */
export async function loadOrCreateCA(dir: string, commonName = 'k8ts-ca', name = 'ca'): Promise<CA> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  if (existsSync(certFile) && existsSync(keyFile))
    return caFromPem(readFileSync(certFile, 'utf8'), readFileSync(keyFile, 'utf8'));
  const keys = generateKeys();
  const now = Date.now();
  const certPem = issueCertificate(
    {
      subject: distinguishedName(`${commonName}@${Math.floor(now / 1000)}`),
      publicKey: keys.publicKey,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 10 * YEAR_MS),
      isCA: true,
      keyUsage: [KeyUsage.keyCertSign, KeyUsage.cRLSign, KeyUsage.digitalSignature],
    },
    { selfKey: keys.privateKey },
  );
  writeFileSync(certFile, certPem, { mode: 0o644 });
  writeFileSync(keyFile, keys.keyPem, { mode: 0o600 });
  return caFromPem(certPem, keys.keyPem);
}

export interface IssueOptions {
  commonName: string;
  organizations?: string[];
  /** DNS names and IP addresses, for serving certificates. */
  sans?: string[];
  server?: boolean;
  client?: boolean;
  validYears?: number;
  /** The lifetime in milliseconds, instead of validYears (short-lived certificates). */
  validMs?: number;
}

export function issue(ca: CA, opts: IssueOptions): Promise<KeyPair> {
  const keys = generateKeys();
  const now = Date.now();
  const lifetime = opts.validMs ?? (opts.validYears ?? 1) * YEAR_MS;
  const certPem = issueCertificate(
    {
      subject: distinguishedName(opts.commonName, opts.organizations),
      publicKey: keys.publicKey,
      // Backdated for clock skew (a tenth of a short lifetime at most, so it stays mostly ahead).
      notBefore: new Date(now - Math.min(60_000, lifetime / 10)),
      notAfter: new Date(now + lifetime),
      keyUsage: [KeyUsage.digitalSignature, KeyUsage.keyEncipherment],
      extKeyUsage: [...(opts.server ? [ExtKeyUsage.serverAuth] : []), ...(opts.client ? [ExtKeyUsage.clientAuth] : [])],
      sans: opts.sans,
    },
    ca,
  );
  return Promise.resolve({ certPem, keyPem: keys.keyPem });
}

/** SANs already in a certificate (DNS names and IPs), to decide whether it must be re-issued. */
export function sansOf(certPem: string): string[] {
  const list = new X509Certificate(certPem).subjectAltName ?? '';
  return list
    .split(', ')
    .map((entry) => /^(?:DNS|IP Address):(.*)$/.exec(entry)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(canonicalName);
}

/** IPv6 addresses in their compressed lower-case form (node prints SANs fully expanded). */
const canonicalName = (name: string) => (isIP(name) === 6 ? new URL(`http://[${name}]`).hostname.slice(1, -1) : name);

export function notAfter(certPem: string): Date {
  return new Date(new X509Certificate(certPem).validTo);
}

/** Load a key pair from dir/name.{crt,key}, issuing it when missing, expiring, or (servers) lacking a SAN. */
export async function loadOrIssue(ca: CA, dir: string, name: string, opts: IssueOptions): Promise<KeyPair> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  if (existsSync(certFile) && existsSync(keyFile)) {
    const certPem = readFileSync(certFile, 'utf8');
    const have = new Set(sansOf(certPem));
    const fresh = notAfter(certPem).getTime() - Date.now() > 30 * 24 * 3600 * 1000;
    if (fresh && (opts.sans ?? []).every((s) => have.has(canonicalName(s))))
      return { certPem, keyPem: readFileSync(keyFile, 'utf8') };
  }
  const pair = await issue(ca, opts);
  storeKeyPair(dir, name, pair);
  return pair;
}

/** Writes dir/name.{crt,key} (the key 0600), each replaced whole (a reader never sees half a file). */
export function storeKeyPair(dir: string, name: string, pair: KeyPair): void {
  for (const [file, data, mode] of [
    [join(dir, `${name}.key`), pair.keyPem, 0o600],
    [join(dir, `${name}.crt`), pair.certPem, 0o644],
  ] as const) {
    writeFileSync(`${file}.tmp`, data, { mode });
    renameSync(`${file}.tmp`, file);
  }
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
