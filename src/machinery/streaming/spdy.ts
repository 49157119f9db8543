// SPDY/3.1 as Kubernetes uses it (k8s.io/apimachinery/pkg/util/httpstream/spdy over
// moby/spdystream): either end of one upgraded connection carrying many bidirectional streams.
// The client opens every stream (odd ids, SYN_STREAM with headers such as `streamtype`); the
// server accepts each with SYN_REPLY and both sides then exchange data frames, a FIN flag
// half-closing a direction and RST_STREAM aborting a stream. PING frames from the peer are
// echoed; GOAWAY ends the connection. The server end serves the agent's streaming server; the
// client end is the API server's, when it translates a WebSocket exec into SPDY to the node.
//
// Wire format (draft-mbelshe-httpbis-spdy-00 / SPDY/3): every frame has an 8-byte head. A control
// frame sets the top bit, then a 15-bit version (3), a 16-bit type, 8 bits of flags and a 24-bit
// payload length; a data frame has a 31-bit stream id instead of version and type. Header blocks
// are a 32-bit count of (32-bit length, name, 32-bit length, value) pairs, compressed with zlib
// seeded with the SPDY/3 dictionary; each direction of a connection uses one compression context
// for all its header blocks, every block ending on a sync flush.
//
// Flow control (WINDOW_UPDATE) is accepted and ignored: spdystream, the only peer this talks to,
// neither sends nor honours window updates.
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import zlib from 'node:zlib';

export const SPDY_VERSION = 3;

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes. */
export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
} as const;

/** Largest data frame payload written (the format allows 16 MiB; small frames interleave better). */
export const MAX_DATA_FRAME = 32 * 1024;
/** Largest frame accepted from a peer. */
const MAX_FRAME = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// The header compression dictionary (SPDY/3 section 2.6.10.1): length-prefixed common header
// names and values, then a run of common value fragments without prefixes.

const DICTIONARY_WORDS = [
  'options',
  'head',
  'post',
  'put',
  'delete',
  'trace',
  'accept',
  'accept-charset',
  'accept-encoding',
  'accept-language',
  'accept-ranges',
  'age',
  'allow',
  'authorization',
  'cache-control',
  'connection',
  'content-base',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-md5',
  'content-range',
  'content-type',
  'date',
  'etag',
  'expect',
  'expires',
  'from',
  'host',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'pragma',
  'proxy-authenticate',
  'proxy-authorization',
  'range',
  'referer',
  'retry-after',
  'server',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'vary',
  'via',
  'warning',
  'www-authenticate',
  'method',
  'get',
  'status',
  '200 OK',
  'version',
  'HTTP/1.1',
  'url',
  'public',
  'set-cookie',
  'keep-alive',
  'origin',
];

const DICTIONARY_TAIL =
  '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
  '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized' +
  '403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable' +
  'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT' +
  'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,' +
  'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';

function buildDictionary(): Buffer {
  const parts: Buffer[] = [];
  for (const w of DICTIONARY_WORDS) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(w.length);
    parts.push(len, Buffer.from(w, 'latin1'));
  }
  parts.push(Buffer.from(DICTIONARY_TAIL, 'latin1'));
  return Buffer.concat(parts);
}

export const SPDY3_DICTIONARY = buildDictionary();

// ---------------------------------------------------------------------------------------------
// Header blocks.

/** Header names are lowercase in SPDY; a name may carry several values (NUL-separated on the wire). */
export type SpdyHeaders = Map<string, string[]>;

export function encodeHeaderBlock(headers: SpdyHeaders | Record<string, string | string[]>): Buffer {
  const entries =
    headers instanceof Map
      ? [...headers.entries()]
      : Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v : [v]] as const);
  const parts: Buffer[] = [];
  const count = Buffer.alloc(4);
  count.writeUInt32BE(entries.length);
  parts.push(count);
  for (const [name, values] of entries) {
    for (const field of [Buffer.from(name.toLowerCase(), 'utf8'), Buffer.from(values.join('\0'), 'utf8')]) {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(field.length);
      parts.push(len, field);
    }
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(block: Buffer): SpdyHeaders {
  const headers: SpdyHeaders = new Map();
  let off = 0;
  const need = (n: number) => {
    if (off + n > block.length) throw new Error('spdy: truncated header block');
  };
  need(4);
  const count = block.readUInt32BE(off);
  off += 4;
  for (let i = 0; i < count; i++) {
    need(4);
    const nlen = block.readUInt32BE(off);
    off += 4;
    need(nlen);
    const name = block.toString('utf8', off, off + nlen);
    off += nlen;
    need(4);
    const vlen = block.readUInt32BE(off);
    off += 4;
    need(vlen);
    const value = block.toString('utf8', off, off + vlen);
    off += vlen;
    if (!name) throw new Error('spdy: empty header name');
    const key = name.toLowerCase();
    headers.set(key, [...(headers.get(key) ?? []), ...value.split('\0')]);
  }
  return headers;
}

/**
 * One direction's zlib context: every block is compressed (or inflated) in the same stream and
 * ends with a sync flush, so each frame's bytes stand alone on the wire but share history.
 * Calls must not overlap (SpdyConnection serialises them).
 */
class ZContext {
  private readonly z: zlib.Deflate | zlib.Inflate;
  private chunks: Buffer[] = [];
  private failed?: Error;

  constructor(kind: 'deflate' | 'inflate') {
    this.z =
      kind === 'deflate'
        ? zlib.createDeflate({ dictionary: SPDY3_DICTIONARY })
        : zlib.createInflate({ dictionary: SPDY3_DICTIONARY });
    // Attached for good, so output is delivered as soon as zlib produces it.
    this.z.on('data', (c: Buffer) => this.chunks.push(c));
    this.z.on('error', (e: Error) => {
      this.failed = e;
    });
  }

  run(input: Buffer): Promise<Buffer> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.chunks = [];
      const onError = (e: Error) => reject(e);
      this.z.once('error', onError);
      if (input.length) this.z.write(input);
      this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        this.z.off('error', onError);
        if (this.failed) return reject(this.failed);
        const out = Buffer.concat(this.chunks);
        this.chunks = [];
        resolve(out);
      });
    });
  }

  close(): void {
    this.z.close();
  }
}

export class HeaderCompressor {
  private readonly ctx = new ZContext('deflate');
  compress(headers: SpdyHeaders | Record<string, string | string[]>): Promise<Buffer> {
    return this.ctx.run(encodeHeaderBlock(headers));
  }
  close(): void {
    this.ctx.close();
  }
}

export class HeaderDecompressor {
  private readonly ctx = new ZContext('inflate');
  async decompress(block: Buffer): Promise<SpdyHeaders> {
    return decodeHeaderBlock(await this.ctx.run(block));
  }
  close(): void {
    this.ctx.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Frames.

export interface ControlFrame {
  control: true;
  version: number;
  type: number;
  flags: number;
  payload: Buffer;
}

export interface DataFrame {
  control: false;
  streamId: number;
  flags: number;
  data: Buffer;
}

export type Frame = ControlFrame | DataFrame;

function head(control: boolean, first: number, flags: number, length: number): Buffer {
  if (length > 0xffffff) throw new Error('spdy: frame too long');
  const h = Buffer.alloc(8);
  if (control) {
    h.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
    h.writeUInt16BE(first, 2);
  } else {
    h.writeUInt32BE(first & 0x7fffffff, 0);
  }
  h.writeUInt32BE((((flags & 0xff) << 24) | length) >>> 0, 4);
  return h;
}

export function encodeControlFrame(type: number, flags: number, payload: Buffer): Buffer {
  return Buffer.concat([head(true, type, flags, payload.length), payload]);
}

export function encodeDataFrame(streamId: number, flags: number, data: Buffer): Buffer {
  return Buffer.concat([head(false, streamId, flags, data.length), data]);
}

const u32 = (...values: number[]) => {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
};

/** SYN_STREAM with an already compressed header block (a client's frame; used by tests). */
export function encodeSynStream(streamId: number, flags: number, compressedHeaders: Buffer, priority = 0): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt32BE(streamId & 0x7fffffff, 0);
  fixed.writeUInt32BE(0, 4);
  fixed[8] = (priority & 7) << 5;
  fixed[9] = 0;
  return encodeControlFrame(FrameType.SYN_STREAM, flags, Buffer.concat([fixed, compressedHeaders]));
}

export function encodeSynReply(streamId: number, flags: number, compressedHeaders: Buffer): Buffer {
  return encodeControlFrame(FrameType.SYN_REPLY, flags, Buffer.concat([u32(streamId & 0x7fffffff), compressedHeaders]));
}

export const encodeRstStream = (streamId: number, status: number) =>
  encodeControlFrame(FrameType.RST_STREAM, 0, u32(streamId & 0x7fffffff, status));
export const encodePing = (id: number) => encodeControlFrame(FrameType.PING, 0, u32(id));
export const encodeGoAway = (lastGoodStreamId: number, status = 0) =>
  encodeControlFrame(FrameType.GOAWAY, 0, u32(lastGoodStreamId & 0x7fffffff, status));
export const encodeWindowUpdate = (streamId: number, delta: number) =>
  encodeControlFrame(FrameType.WINDOW_UPDATE, 0, u32(streamId & 0x7fffffff, delta & 0x7fffffff));

export function encodeSettings(entries: { id: number; value: number; flags?: number }[], flags = 0): Buffer {
  const parts = [u32(entries.length)];
  for (const e of entries) parts.push(u32((((e.flags ?? 0) << 24) | (e.id & 0xffffff)) >>> 0, e.value));
  return encodeControlFrame(FrameType.SETTINGS, flags, Buffer.concat(parts));
}

export function decodeSettings(payload: Buffer): { id: number; value: number; flags: number }[] {
  const n = payload.readUInt32BE(0);
  if (payload.length < 4 + 8 * n) throw new Error('spdy: truncated SETTINGS frame');
  const out = [];
  for (let i = 0; i < n; i++) {
    const word = payload.readUInt32BE(4 + 8 * i);
    out.push({ flags: word >>> 24, id: word & 0xffffff, value: payload.readUInt32BE(8 + 8 * i) });
  }
  return out;
}

/** Splits a byte stream into frames; feed it chunks as they arrive. */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.buf.length >= 8) {
      const length = this.buf.readUInt32BE(4) & 0xffffff;
      if (length > MAX_FRAME) throw new Error('spdy: frame too large');
      if (this.buf.length < 8 + length) break;
      const flags = this.buf[4];
      const payload = this.buf.subarray(8, 8 + length);
      if (this.buf[0] & 0x80) {
        frames.push({
          control: true,
          version: this.buf.readUInt16BE(0) & 0x7fff,
          type: this.buf.readUInt16BE(2),
          flags,
          payload,
        });
      } else {
        frames.push({ control: false, streamId: this.buf.readUInt32BE(0) & 0x7fffffff, flags, data: payload });
      }
      this.buf = this.buf.subarray(8 + length);
    }
    return frames;
  }
}

// ---------------------------------------------------------------------------------------------
// Connection and streams (server side).

/**
 * One stream: readable side = the client's data (ends at its FIN), writable side = data frames to
 * the client (end() sends FIN). `headers` are those of the client's SYN_STREAM.
 */
export class SpdyStream extends Duplex {
  replied = false;
  private localFin = false;
  private remoteFin = false;
  private resetDone = false;

  constructor(
    private readonly conn: SpdyConnection,
    readonly id: number,
    readonly headers: SpdyHeaders,
    remoteFin: boolean,
  ) {
    super({ allowHalfOpen: true });
    if (remoteFin) this.remoteEnded();
  }

  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase())?.[0];
  }

  /** Accepts the stream (SYN_REPLY); resolves once the reply is on the wire's queue. */
  reply(headers: Record<string, string> = {}): Promise<void> {
    if (this.replied) return Promise.resolve();
    this.replied = true;
    return this.conn.sendReply(this.id, headers);
  }

  /** Aborts the stream in both directions. */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.resetDone) return;
    this.resetDone = true;
    this.conn.sendReset(this.id, status);
    this.remoteReset();
  }

  override _read(): void {
    /* data is pushed as frames arrive */
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.resetDone) return cb(new Error('spdy: stream was reset'));
    this.conn.sendData(this.id, chunk, false).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.localFin = true;
    if (this.resetDone) return cb();
    this.conn.sendData(this.id, Buffer.alloc(0), true).then(() => {
      cb();
      this.maybeDone();
    }, cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!(this.localFin && this.remoteFin) && !this.resetDone && !this.conn.closed) {
      this.resetDone = true;
      this.conn.sendReset(this.id, RstStatus.CANCEL);
    }
    this.conn.forget(this.id);
    cb(err);
  }

  /** @internal */
  received(data: Buffer): void {
    if (!this.remoteFin && data.length) this.push(data);
  }

  /** @internal */
  remoteEnded(): void {
    if (this.remoteFin) return;
    this.remoteFin = true;
    this.push(null);
    this.maybeDone();
  }

  /** @internal The peer accepted a stream this end opened (SYN_REPLY, with FIN when it will send nothing). */
  peerReplied(fin: boolean): void {
    this.emit('accepted');
    if (fin) this.remoteEnded();
  }

  /** @internal The peer reset the stream or the connection went away. */
  remoteReset(): void {
    this.resetDone = true;
    if (!this.remoteFin) {
      this.remoteFin = true;
      this.push(null);
    }
    this.emit('reset');
    this.destroy();
  }

  private maybeDone(): void {
    if (this.localFin && this.remoteFin) this.conn.forget(this.id);
  }
}

export type SpdyRole = 'server' | 'client';

export interface SpdyConnectionEvents {
  stream: [SpdyStream];
  close: [];
}

/**
 * One end of a SPDY/3.1 connection over an upgraded socket. The server end emits 'stream' for
 * every stream the client opens (not yet replied to: call stream.reply() to accept it, or
 * reset()); the client end opens streams with openStream(). Both emit 'close' when the socket is gone.
 */
export class SpdyConnection extends EventEmitter<SpdyConnectionEvents> {
  closed = false;
  private readonly parser = new FrameParser();
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private lastStreamId = 0;
  /** The next id of a stream this (client) end opens: odd, increasing. */
  private nextStreamId = 1;
  private goneAway = false;
  /** Serialises frame handling (header blocks inflate asynchronously, in order). */
  private inbound: Promise<void> = Promise.resolve();
  /** Serialises writes (header blocks deflate asynchronously, in order). */
  private outbound: Promise<void> = Promise.resolve();

  constructor(
    readonly socket: Duplex,
    head?: Buffer,
    readonly role: SpdyRole = 'server',
  ) {
    super();
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => this.teardown());
    socket.on('close', () => this.teardown());
    socket.on('end', () => this.teardown());
    if (head?.length) this.onData(head);
  }

  private onData(d: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.parser.push(d);
    } catch {
      return this.teardown();
    }
    for (const f of frames) {
      this.inbound = this.inbound.then(() => this.handle(f)).catch(() => this.teardown());
    }
  }

  private async handle(f: Frame): Promise<void> {
    if (this.closed) return;
    if (!f.control) {
      const s = this.streams.get(f.streamId);
      if (!s) {
        // Data for a stream we never saw (or already closed): tell the peer, as the spec asks.
        if (f.streamId > this.lastStreamId) this.sendReset(f.streamId, RstStatus.INVALID_STREAM);
        return;
      }
      s.received(f.data);
      if (f.flags & FLAG_FIN) s.remoteEnded();
      return;
    }
    if (f.version !== SPDY_VERSION) {
      if (f.type === FrameType.SYN_STREAM && f.payload.length >= 4)
        this.sendReset(f.payload.readUInt32BE(0) & 0x7fffffff, RstStatus.UNSUPPORTED_VERSION);
      return;
    }
    switch (f.type) {
      case FrameType.SYN_STREAM: {
        if (f.payload.length < 10) throw new Error('spdy: short SYN_STREAM');
        const id = f.payload.readUInt32BE(0) & 0x7fffffff;
        // The block must be inflated even for a refused stream: the context is shared.
        const headers = await this.decompressor.decompress(f.payload.subarray(10));
        // Kubernetes servers never open streams towards the client.
        if (this.role === 'client') return this.sendReset(id, RstStatus.REFUSED_STREAM);
        if (this.goneAway) return this.sendReset(id, RstStatus.REFUSED_STREAM);
        if (id === 0 || id % 2 === 0 || id <= this.lastStreamId) return this.sendReset(id, RstStatus.PROTOCOL_ERROR);
        if (this.streams.has(id)) return this.sendReset(id, RstStatus.STREAM_IN_USE);
        this.lastStreamId = id;
        const s = new SpdyStream(this, id, headers, (f.flags & FLAG_FIN) !== 0);
        s.on('error', () => {
          /* a reset stream errors its pending writes; owners watch 'reset' */
        });
        this.streams.set(id, s);
        this.emit('stream', s);
        return;
      }
      case FrameType.RST_STREAM: {
        const id = f.payload.readUInt32BE(0) & 0x7fffffff;
        this.streams.get(id)?.remoteReset();
        return;
      }
      case FrameType.HEADERS: {
        // Extra headers are not used by Kubernetes; inflate to keep the shared context in step.
        const id = f.payload.readUInt32BE(0) & 0x7fffffff;
        await this.decompressor.decompress(f.payload.subarray(4));
        if (f.flags & FLAG_FIN) this.streams.get(id)?.remoteEnded();
        return;
      }
      case FrameType.SYN_REPLY: {
        // Replies answer the streams this end opened (a server opens none).
        const id = f.payload.readUInt32BE(0) & 0x7fffffff;
        await this.decompressor.decompress(f.payload.subarray(4));
        const s = this.streams.get(id);
        if (s && this.role === 'client') s.peerReplied((f.flags & FLAG_FIN) !== 0);
        return;
      }
      case FrameType.PING: {
        const id = f.payload.readUInt32BE(0);
        // A client's pings have odd ids, a server's even ones; only the peer's are answered
        // (this end sends none, so an answer to its own would never be expected).
        if (id % 2 === (this.role === 'server' ? 1 : 0)) void this.write(() => encodePing(id)).catch(() => {});
        return;
      }
      case FrameType.GOAWAY:
        this.goneAway = true;
        if (this.streams.size === 0) this.close();
        return;
      case FrameType.SETTINGS:
      case FrameType.WINDOW_UPDATE:
      default:
        return;
    }
  }

  /** Queues a frame (or frames) for writing, in order; resolves when the socket took it. */
  private write(make: () => Buffer | Promise<Buffer>): Promise<void> {
    const p = this.outbound.then(async () => {
      if (this.closed || this.socket.destroyed) throw new Error('spdy: connection closed');
      const buf = await make();
      if (!this.socket.write(buf)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            this.socket.off('drain', done);
            this.socket.off('close', done);
            resolve();
          };
          this.socket.on('drain', done);
          this.socket.on('close', done);
        });
      }
    });
    this.outbound = p.catch(() => {});
    return p;
  }

  /**
   * Client end: opens a stream with `headers` (SYN_STREAM) and resolves with it once the server
   * accepted it (SYN_REPLY); rejects when the server resets it, the connection goes, or no reply
   * comes within `timeoutMs`.
   */
  openStream(headers: Record<string, string>, timeoutMs = 30_000): Promise<SpdyStream> {
    if (this.role !== 'client') return Promise.reject(new Error('spdy: only a client opens streams'));
    if (this.closed || this.goneAway) return Promise.reject(new Error('spdy: connection closed'));
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    this.lastStreamId = id;
    const lowered = new Map(Object.entries(headers).map(([k, v]): [string, string[]] => [k.toLowerCase(), [v]]));
    const s = new SpdyStream(this, id, lowered, false);
    s.replied = true;
    s.on('error', () => {
      /* a reset stream errors its pending writes; owners watch 'reset' */
    });
    this.streams.set(id, s);
    return new Promise<SpdyStream>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new Error('spdy: timed out waiting for the stream to be accepted')),
        timeoutMs,
      );
      timer.unref();
      const fail = (err: Error) => {
        clearTimeout(timer);
        s.off('accepted', accepted);
        s.destroy();
        reject(err);
      };
      const accepted = () => {
        clearTimeout(timer);
        s.off('reset', onReset);
        resolve(s);
      };
      const onReset = () => fail(new Error(`spdy: stream ${headers.streamtype ?? id} was refused`));
      s.once('accepted', accepted);
      s.once('reset', onReset);
      this.write(async () => encodeSynStream(id, 0, await this.compressor.compress(lowered))).catch((err: Error) =>
        fail(err),
      );
    });
  }

  /** @internal */
  sendReply(id: number, headers: Record<string, string>): Promise<void> {
    return this.write(async () => encodeSynReply(id, 0, await this.compressor.compress(headers)));
  }

  /** @internal */
  sendData(id: number, data: Buffer, fin: boolean): Promise<void> {
    if (data.length <= MAX_DATA_FRAME) return this.write(() => encodeDataFrame(id, fin ? FLAG_FIN : 0, data));
    let last: Promise<void> = Promise.resolve();
    for (let off = 0; off < data.length; off += MAX_DATA_FRAME) {
      const part = data.subarray(off, off + MAX_DATA_FRAME);
      const isLast = off + MAX_DATA_FRAME >= data.length;
      last = this.write(() => encodeDataFrame(id, isLast && fin ? FLAG_FIN : 0, part));
    }
    return last;
  }

  /** @internal */
  sendReset(id: number, status: number): void {
    this.write(() => encodeRstStream(id, status)).catch(() => {});
  }

  /** @internal */
  forget(id: number): void {
    this.streams.delete(id);
    if (this.goneAway && this.streams.size === 0) this.close();
  }

  /**
   * Sends GOAWAY once everything queued is written, then waits (up to `graceMs`) for the client to
   * close the connection before closing it here: the client may still be reading the last frames.
   */
  async goAway(graceMs = 5000): Promise<void> {
    if (this.closed) return;
    this.goneAway = true;
    await this.write(() => encodeGoAway(this.lastStreamId, 0)).catch(() => {});
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.close();
        resolve();
      }, graceMs);
      timer.unref();
      this.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Closes the socket (after what is queued) and resets the open streams. */
  close(): void {
    if (this.closed) return;
    void this.outbound.finally(() => {
      // end() lets the queued bytes out before the FIN; destroy only if the peer never closes.
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
      this.teardown(false);
    });
  }

  private teardown(destroySocket = true): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.streams.values()]) s.remoteReset();
    this.streams.clear();
    this.compressor.close();
    this.decompressor.close();
    if (destroySocket && !this.socket.destroyed) this.socket.destroy();
    this.emit('close');
  }
}
