// A minimal protobuf wire-format encoder and decoder: just what etcd's messages need (varints,
// length-delimited bytes and nested messages). Field numbers live in messages.ts.

export class ProtoWriter {
  private chunks: Buffer[] = [];
  private bytes: number[] = [];

  private flushBytes() {
    if (this.bytes.length) {
      this.chunks.push(Buffer.from(this.bytes));
      this.bytes = [];
    }
  }

  private varint(v: number | bigint) {
    if (typeof v === 'number' && v >= 0 && v <= Number.MAX_SAFE_INTEGER) {
      while (v > 0x7f) {
        this.bytes.push((v % 128) | 0x80);
        v = Math.floor(v / 128);
      }
      this.bytes.push(v);
      return;
    }
    // Negative or 64-bit values: two's complement over 64 bits, as protobuf's int64 does.
    let u = BigInt.asUintN(64, BigInt(v));
    while (u > 0x7fn) {
      this.bytes.push(Number(u & 0x7fn) | 0x80);
      u >>= 7n;
    }
    this.bytes.push(Number(u));
  }

  private tag(field: number, wireType: number) {
    this.varint(field * 8 + wireType);
  }

  /** int64/uint64/enum field; zero (the default) is left out. */
  int(field: number, v: number | bigint | undefined): this {
    if (v === undefined || v === 0 || v === 0n) return this;
    this.tag(field, 0);
    this.varint(v);
    return this;
  }

  /** An int64 member of a oneof: sent even when zero, since its presence selects the member. */
  oneofInt(field: number, v: number): this {
    this.tag(field, 0);
    this.varint(v);
    return this;
  }

  bool(field: number, v: boolean | undefined): this {
    if (!v) return this;
    this.tag(field, 0);
    this.bytes.push(1);
    return this;
  }

  bytesField(field: number, v: Buffer | string | undefined): this {
    if (v === undefined) return this;
    const buf = typeof v === 'string' ? Buffer.from(v) : v;
    this.tag(field, 2);
    this.varint(buf.length);
    this.flushBytes();
    this.chunks.push(buf);
    return this;
  }

  /** A nested message, present even when empty (a oneof member must be). */
  message(field: number, inner: ProtoWriter): this {
    return this.bytesField(field, inner.finish());
  }

  finish(): Buffer {
    this.flushBytes();
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
  }
}

/** One field as read from the wire: a varint (as bigint when it needs more than 53 bits) or bytes. */
export type FieldValue = number | bigint | Buffer;

/** Calls `onField` for each field of `buf` in order. */
export function readFields(buf: Buffer, onField: (field: number, value: FieldValue) => void): void {
  let pos = 0;
  const readVarint = (): number | bigint => {
    let result = 0;
    let mul = 1;
    const start = pos;
    for (;;) {
      const b = buf[pos++];
      if (b === undefined) throw new Error('protobuf: truncated varint');
      result += (b & 0x7f) * mul;
      if (!(b & 0x80)) break;
      mul *= 128;
      if (pos - start > 10) throw new Error('protobuf: varint too long');
    }
    if (result <= Number.MAX_SAFE_INTEGER) return result;
    // Re-read exactly: lease IDs and negative int64s (two's complement) need all 64 bits.
    let big = 0n;
    for (let i = pos - 1; i >= start; i--) big = (big << 7n) | BigInt(buf[i] & 0x7f);
    return BigInt.asIntN(64, big);
  };
  while (pos < buf.length) {
    const key = Number(readVarint());
    const field = key >>> 3;
    switch (key & 7) {
      case 0:
        onField(field, readVarint());
        break;
      case 1:
        onField(field, buf.subarray(pos, pos + 8));
        pos += 8;
        break;
      case 2: {
        const len = Number(readVarint());
        if (pos + len > buf.length) throw new Error('protobuf: truncated field');
        onField(field, buf.subarray(pos, pos + len));
        pos += len;
        break;
      }
      case 5:
        onField(field, buf.subarray(pos, pos + 4));
        pos += 4;
        break;
      default:
        throw new Error(`protobuf: unsupported wire type ${key & 7}`);
    }
  }
}

export const asNumber = (v: FieldValue): number => (typeof v === 'number' ? v : Number(v));
export const asBuffer = (v: FieldValue): Buffer => (Buffer.isBuffer(v) ? v : Buffer.alloc(0));
