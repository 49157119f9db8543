// A bounded protobuf reader. Every read checks the end of its buffer, so truncated or mutated
// input ends in a ProtobufError (a 400 to the client), never in a read past the end or a hang.

export class ProtobufError extends Error {}

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_START_GROUP = 3;
export const WIRE_END_GROUP = 4;
export const WIRE_FIXED32 = 5;

const TWO_32 = 4294967296;

export class WireReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  private truncated(): never {
    throw new ProtobufError('unexpected EOF');
  }

  /** A varint as two 32-bit halves (low, high), at most ten bytes. */
  private varintParts(): [number, number] {
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.truncated();
      const b = this.buf[this.pos++];
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (shift - 32);
      if (b < 0x80) return [lo >>> 0, hi >>> 0];
      shift += 7;
    }
    throw new ProtobufError('integer overflow');
  }

  /** A varint that must fit 32 bits unsigned (tags, lengths). */
  uint32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.pos >= this.end) this.truncated();
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) {
        if (result > 0xffffffff) throw new ProtobufError('integer overflow');
        return result;
      }
    }
    throw new ProtobufError('integer overflow');
  }

  uint64(): number {
    const [lo, hi] = this.varintParts();
    return hi * TWO_32 + lo;
  }

  int64(): number {
    const [lo, hi] = this.varintParts();
    if (hi & 0x80000000) return -((~hi >>> 0) * TWO_32 + (~lo >>> 0) + 1);
    return hi * TWO_32 + lo;
  }

  int32(): number {
    return this.varintParts()[0] | 0;
  }

  sint64(): number {
    const n = this.uint64();
    // ZigZag; exact below 2^53, which is all JSON numbers can hold.
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  bool(): boolean {
    const [lo, hi] = this.varintParts();
    return lo !== 0 || hi !== 0;
  }

  fixed32(): number {
    if (this.pos + 4 > this.end) this.truncated();
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  fixed64(): number {
    if (this.pos + 8 > this.end) this.truncated();
    const v = this.buf.readUInt32LE(this.pos) + this.buf.readUInt32LE(this.pos + 4) * TWO_32;
    this.pos += 8;
    return v;
  }

  double(): number {
    if (this.pos + 8 > this.end) this.truncated();
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  float(): number {
    if (this.pos + 4 > this.end) this.truncated();
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }

  /** The bounds [start, end) of a length-delimited field's payload. */
  delimited(): [number, number] {
    const len = this.uint32();
    const start = this.pos;
    if (len > this.end - start) this.truncated();
    this.pos = start + len;
    return [start, start + len];
  }

  string(): string {
    const [s, e] = this.delimited();
    // Short ASCII strings (names, keys, enums) are most strings: decoded here, without the cost
    // of a call into the runtime's UTF-8 decoder.
    if (e - s <= 64) {
      let out = '';
      for (let i = s; i < e; i++) {
        const c = this.buf[i];
        if (c >= 0x80) return this.buf.toString('utf8', s, e);
        out += String.fromCharCode(c);
      }
      return out;
    }
    return this.buf.toString('utf8', s, e);
  }

  bytes(): Buffer {
    const [s, e] = this.delimited();
    return this.buf.subarray(s, e);
  }

  /** Skip a field of an unknown number (upstream drops those). Groups are not used by Kubernetes. */
  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varintParts();
        return;
      case WIRE_FIXED64:
        if (this.pos + 8 > this.end) this.truncated();
        this.pos += 8;
        return;
      case WIRE_BYTES:
        this.delimited();
        return;
      case WIRE_FIXED32:
        if (this.pos + 4 > this.end) this.truncated();
        this.pos += 4;
        return;
      default:
        throw new ProtobufError(`illegal wireType ${wireType}`);
    }
  }
}
