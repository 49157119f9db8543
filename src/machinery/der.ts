// The few ASN.1 DER shapes X.509 certificates are made of (ITU-T X.690), written and read with
// Buffers: enough to issue certificates on node:crypto without loading a general ASN.1 library
// into every process that starts a cluster.

/** Universal tags used here; context-specific tags are built with `context()`. */
export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** A context-specific tag: `[n]`, constructed (EXPLICIT wrappers, IMPLICIT SEQUENCEs) or primitive. */
export const context = (n: number, constructed: boolean) => 0x80 | (constructed ? 0x20 : 0) | n;

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV: tag, length, contents. */
export function tlv(tag: number, contents: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthBytes(contents.length), contents]);
}

export const sequence = (...items: Buffer[]) => tlv(Tag.sequence, Buffer.concat(items));
export const set = (...items: Buffer[]) => tlv(Tag.set, Buffer.concat(items));
export const octetString = (b: Buffer) => tlv(Tag.octetString, b);
export const utf8String = (s: string) => tlv(Tag.utf8String, Buffer.from(s, 'utf8'));
export const boolean = (v: boolean) => tlv(Tag.boolean, Buffer.from([v ? 0xff : 0]));
export const derNull = () => tlv(Tag.null, Buffer.alloc(0));
/** A BIT STRING of whole bytes (keys, signatures). */
export const bitString = (b: Buffer) => tlv(Tag.bitString, Buffer.concat([Buffer.from([0]), b]));

/** A non-negative INTEGER from its big-endian magnitude (a 0 byte is added when the top bit is set). */
export function unsignedInteger(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  return tlv(Tag.integer, m[0] & 0x80 ? Buffer.concat([Buffer.from([0]), m]) : m);
}

export const smallInteger = (n: number) => unsignedInteger(Buffer.from([n]));

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out = [40 * arcs[0] + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const base128: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) base128.unshift(0x80 | (v & 0x7f));
    out.push(...base128);
  }
  return tlv(Tag.oid, Buffer.from(out));
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, Zulu. */
export function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'; // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050
    ? tlv(Tag.utcTime, Buffer.from(iso.slice(2), 'ascii'))
    : tlv(Tag.generalizedTime, Buffer.from(iso, 'ascii'));
}

/**
 * A named-bit BIT STRING (KeyUsage): bit 0 is the first byte's top bit, and DER drops trailing
 * zero bits, counting them as unused.
 */
export function namedBits(bits: number[]): Buffer {
  if (!bits.length) return tlv(Tag.bitString, Buffer.from([0]));
  const last = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(last / 8) + 1);
  for (const b of bits) bytes[b >> 3] |= 0x80 >> (b & 7);
  return tlv(Tag.bitString, Buffer.concat([Buffer.from([7 - (last & 7)]), bytes]));
}

/** One element read back: its tag, contents, and the whole encoding (for copying it verbatim). */
export interface Element {
  tag: number;
  contents: Buffer;
  raw: Buffer;
}

/** The element at `offset` of `buf`. Throws on a truncated or indefinite-length encoding. */
export function readElement(buf: Buffer, offset = 0): Element {
  if (offset + 2 > buf.length) throw new Error('DER: truncated');
  const tag = buf[offset];
  let len = buf[offset + 1];
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > buf.length) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i];
    start += n;
  }
  if (start + len > buf.length) throw new Error('DER: truncated');
  return { tag, contents: buf.subarray(start, start + len), raw: buf.subarray(offset, start + len) };
}

/** The elements inside a constructed element's contents. */
export function children(contents: Buffer): Element[] {
  const out: Element[] = [];
  for (let at = 0; at < contents.length;) {
    const e = readElement(contents, at);
    out.push(e);
    at += e.raw.length;
  }
  return out;
}
