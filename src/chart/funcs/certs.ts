// Sprig's certificate functions (genCA, genSelfSignedCert, genSignedCert and their WithKey
// variants, buildCustomCert): X.509 v3 certificates built with a small DER writer and signed
// synchronously with node:crypto (RSA 2048, SHA-256), as Sprig's crypto/x509 templates define them.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { isIP } from 'node:net';
import type { FuncDef } from '../template/exec.js';
import { GoStruct } from '../template/values.js';
import { strval } from './convert.js';

// ---- DER ----

function tlv(tag: number, body: Buffer): Buffer {
  const len = body.length;
  let header: number[];
  if (len < 0x80) header = [tag, len];
  else {
    const bytes: number[] = [];
    for (let n = len; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
    header = [tag, 0x80 | bytes.length, ...bytes];
  }
  return Buffer.concat([Buffer.from(header), body]);
}

const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 + n, inner);

function integer(b: Buffer): Buffer {
  let body = b;
  while (body.length > 1 && body[0] === 0 && (body[1] & 0x80) === 0) body = body.subarray(1);
  if (body[0] & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return tlv(0x02, body);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [parts[0] * 40 + parts[1]];
  for (const p of parts.slice(2)) {
    const enc: number[] = [p & 0x7f];
    for (let n = Math.floor(p / 128); n > 0; n = Math.floor(n / 128)) enc.unshift((n & 0x7f) | 0x80);
    out.push(...enc);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const y = d.getUTCFullYear();
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  // RFC 5280: UTCTime through 2049, GeneralizedTime after.
  return y < 2050 ? tlv(0x17, Buffer.from(p(y % 100) + rest)) : tlv(0x18, Buffer.from(String(y) + rest));
}

// ---- certificates ----

interface Identity {
  name: Buffer;
  key: KeyObject;
}

interface CertSpec {
  cn: string;
  ips: string[];
  dns: string[];
  days: number;
  isCA: boolean;
}

const SHA256_RSA = seq(oid('1.2.840.113549.1.1.11'), tlv(0x05, Buffer.alloc(0)));

function extensions(spec: CertSpec): Buffer {
  // keyUsage: digitalSignature(0), keyEncipherment(2), keyCertSign(5) for CAs.
  const usage = spec.isCA ? Buffer.from([0xa4]) : Buffer.from([0xa0]);
  const exts = [
    seq(oid('2.5.29.15'), bool(true), octets(bits(usage, spec.isCA ? 2 : 5))),
    seq(oid('2.5.29.37'), octets(seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2')))),
    seq(oid('2.5.29.19'), bool(true), octets(spec.isCA ? seq(bool(true)) : seq())),
  ];
  const names = [
    ...spec.dns.map((d) => tlv(0x82, Buffer.from(d, 'utf8'))),
    ...spec.ips.map((ip) => tlv(0x87, ipBytes(ip))),
  ];
  if (names.length > 0) exts.push(seq(oid('2.5.29.17'), octets(seq(...names))));
  return explicit(3, seq(...exts));
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  if (isIP(ip) === 6) {
    const [head, tail = ''] = ip.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
    return Buffer.from(groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
  }
  throw new Error(`error parsing ip: ${ip}`);
}

function issue(spec: CertSpec, key: KeyObject, issuer?: Identity): GoStruct {
  const subject = seq(set(seq(oid('2.5.4.3'), utf8(spec.cn))));
  const now = new Date();
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    SHA256_RSA,
    issuer ? issuer.name : subject,
    seq(time(now), time(new Date(now.getTime() + spec.days * 86400_000))),
    subject,
    createPublicKey(key).export({ type: 'spki', format: 'der' }),
    extensions(spec),
  );
  const signature = sign('sha256', tbs, issuer ? issuer.key : key);
  const der = seq(tbs, SHA256_RSA, bits(signature));
  const cert = `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
  const keyPem = key.export({ type: 'pkcs1', format: 'pem' }).toString();
  return new GoStruct('sprig.certificate', { Cert: cert, Key: keyPem });
}

function newKey(): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

function parseKey(pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (e) {
    throw new Error(`unable to decode PEM private key: ${(e as Error).message}`, { cause: e });
  }
}

/** The issuing CA from a certificate value ($ca from genCA or buildCustomCert). */
function caIdentity(ca: unknown): Identity {
  if (!(ca instanceof GoStruct)) throw new Error('ca must be a certificate from genCA or buildCustomCert');
  const cert = new X509Certificate(String(ca.fields.Cert));
  // The subject Name is the DER of the CA certificate's subject; re-derive it from its raw bytes.
  return { name: subjectDer(cert.raw), key: parseKey(String(ca.fields.Key)) };
}

/** Reads the subject Name (6th TBS field) out of a DER certificate. */
function subjectDer(der: Buffer): Buffer {
  const read = (buf: Buffer, pos: number) => {
    let len = buf[pos + 1];
    let hdr = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[pos + 2 + i];
      hdr += n;
    }
    return { start: pos, bodyStart: pos + hdr, end: pos + hdr + len };
  };
  const certSeq = read(der, 0);
  const tbs = read(der, certSeq.bodyStart);
  let pos = tbs.bodyStart;
  const fields: { start: number; end: number }[] = [];
  while (pos < tbs.end && fields.length < 6) {
    const f = read(der, pos);
    fields.push(f);
    pos = f.end;
  }
  const hasVersion = der[tbs.bodyStart] === 0xa0;
  const subject = fields[hasVersion ? 5 : 4];
  return der.subarray(subject.start, subject.end);
}

const list = (v: unknown) => (Array.isArray(v) ? v.map(strval) : []);
const days = (v: unknown) => Number(v);

export const certFuncs: Record<string, FuncDef> = {
  genCA: {
    fn: (cn, d) => issue({ cn: String(cn), ips: [], dns: [], days: days(d), isCA: true }, newKey()),
    params: ['string', 'int'],
  },
  genCAWithKey: {
    fn: (cn, d, key) => issue({ cn: String(cn), ips: [], dns: [], days: days(d), isCA: true }, parseKey(String(key))),
    params: ['string', 'int', 'string'],
  },
  genSelfSignedCert: {
    fn: (cn, ips, dns, d) =>
      issue({ cn: String(cn), ips: list(ips), dns: list(dns), days: days(d), isCA: false }, newKey()),
    params: ['string', 'list', 'list', 'int'],
  },
  genSelfSignedCertWithKey: {
    fn: (cn, ips, dns, d, key) =>
      issue({ cn: String(cn), ips: list(ips), dns: list(dns), days: days(d), isCA: false }, parseKey(String(key))),
    params: ['string', 'list', 'list', 'int', 'string'],
  },
  genSignedCert: {
    fn: (cn, ips, dns, d, ca) =>
      issue({ cn: String(cn), ips: list(ips), dns: list(dns), days: days(d), isCA: false }, newKey(), caIdentity(ca)),
    params: ['string', 'list', 'list', 'int', 'any'],
  },
  genSignedCertWithKey: {
    fn: (cn, ips, dns, d, ca, key) =>
      issue(
        { cn: String(cn), ips: list(ips), dns: list(dns), days: days(d), isCA: false },
        parseKey(String(key)),
        caIdentity(ca),
      ),
    params: ['string', 'list', 'list', 'int', 'any', 'string'],
  },
  buildCustomCert: {
    fn: (cert, key) =>
      new GoStruct('sprig.certificate', {
        Cert: Buffer.from(String(cert), 'base64').toString('utf8'),
        Key: Buffer.from(String(key), 'base64').toString('utf8'),
      }),
    params: ['string', 'string'],
  },
};
