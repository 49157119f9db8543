// A small, strict HTTP/1.1 message-head parser for the ingress fast path (RFC 9112): request
// heads from clients, response heads from upstreams, and a tracker that finds the end of a
// chunked body without decoding it (the bytes are relayed as they are). Anything well-formed but
// unusual (HTTP/1.0, absolute-form targets, Upgrade, Expect, transfer codings other than
// chunked) is not an error: the request is marked `handoff` and goes to node:http's server, which
// answers it as before. Smuggling-prone heads are refused with 400: Content-Length together with
// Transfer-Encoding, differing Content-Lengths, obs-fold, bare LF, whitespace before the colon.

/** node:http's default limit on a message head (--max-http-header-size). */
export const MAX_HEAD_BYTES = 16 * 1024;

export interface RequestHead {
  method: string;
  target: string;
  /** Header fields as node:http presents them: lower-case names, repeats joined or dropped as it does. */
  headers: Record<string, string | string[]>;
  /** Request body length; -1 when there is none or it is chunked. */
  contentLength: number;
  chunked: boolean;
  /** The client keeps the connection after this request (HTTP/1.1 without Connection: close). */
  keepAlive: boolean;
  /** Bytes of the head, final CRLF included (leading empty lines too). */
  headLength: number;
  /** Why node:http's server must take this request (well-formed, but not handled by the fast path). */
  handoff?: string;
}

export type ParseError = { error: 400 | 431 | 502; reason: string };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A control character forbidden in field values (HTAB allowed) or, with `space`, a target's space. */
function hasControl(s: string, space: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || (space && (c === 0x20 || c === 0x09))) return true;
  }
  return false;
}
const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');

/** Headers whose repeats node:http drops (lib/_http_incoming.js matchKnownFields). */
const SINGLE = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/** Adds a field as node:http would: set-cookie as a list, cookie joined by '; ', others by ', '. */
export function addField(headers: Record<string, string | string[]>, name: string, value: string): void {
  const prior = headers[name];
  if (prior === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
  else if (Array.isArray(prior)) prior.push(value);
  else if (SINGLE.has(name)) return;
  else headers[name] = `${prior}${name === 'cookie' ? '; ' : ', '}${value}`;
}

/** Where the head ends (just past its empty line), undefined while incomplete, or why it is bad. */
function headEnd(buf: Buffer, start: number, max: number, tooLarge: 431 | 502): number | ParseError | undefined {
  const end = buf.indexOf(CRLFCRLF, start);
  if (end < 0) {
    if (buf.indexOf(LFLF, start) >= 0) return { error: 400, reason: 'bare LF' };
    if (buf.length - start > max) return { error: tooLarge, reason: 'head too large' };
    return undefined;
  }
  if (end + 4 - start > max) return { error: tooLarge, reason: 'head too large' };
  return end + 4;
}

/** The field lines of a head (after its start line), or an error for a malformed one. */
function fields(lines: string[], onField: (name: string, value: string) => void): ParseError | undefined {
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.length === 0) continue;
    const c = line.charCodeAt(0);
    if (c === 0x20 || c === 0x09) return { error: 400, reason: 'obs-fold' };
    const colon = line.indexOf(':');
    if (colon <= 0) return { error: 400, reason: 'field without a name' };
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return { error: 400, reason: 'invalid field name' };
    let a = colon + 1;
    let b = line.length;
    while (a < b && (line.charCodeAt(a) === 0x20 || line.charCodeAt(a) === 0x09)) a++;
    while (b > a && (line.charCodeAt(b - 1) === 0x20 || line.charCodeAt(b - 1) === 0x09)) b--;
    const value = line.slice(a, b);
    if (hasControl(value, false)) return { error: 400, reason: 'invalid field value' };
    onField(name.toLowerCase(), value);
  }
  return undefined;
}

/** The lines of a head without their CRLF; a bare LF inside is an error. */
function headLines(buf: Buffer, start: number, end: number): string[] | ParseError {
  const text = buf.toString('latin1', start, end - 4);
  const lines = text.split('\r\n');
  for (const l of lines) if (l.includes('\n') || l.includes('\r')) return { error: 400, reason: 'bare CR or LF' };
  return lines;
}

/**
 * Parses a request head at the start of `buf`: undefined while it is incomplete, an error (400,
 * 431), or the head. Empty lines before the request line are skipped (RFC 9112 2.2).
 */
export function parseRequestHead(buf: Buffer, max = MAX_HEAD_BYTES): RequestHead | ParseError | undefined {
  let start = 0;
  while (start + 1 < buf.length && buf[start] === 0x0d && buf[start + 1] === 0x0a) start += 2;
  if (start < buf.length && buf[start] === 0x0a) return { error: 400, reason: 'bare LF' };
  const end = headEnd(buf, start, max, 431);
  if (end === undefined || typeof end === 'object') return end;
  const lines = headLines(buf, start, end);
  if (!Array.isArray(lines)) return lines;
  const parts = lines[0].split(' ');
  if (parts.length !== 3) return { error: 400, reason: 'invalid request line' };
  const [method, target, version] = parts;
  if (!TOKEN.test(method)) return { error: 400, reason: 'invalid method' };
  if (!target || hasControl(target, true)) return { error: 400, reason: 'invalid request target' };
  if (!/^HTTP\/\d\.\d$/.test(version)) return { error: 400, reason: 'invalid HTTP version' };
  const headers: Record<string, string | string[]> = {};
  let hosts = 0;
  let lengths: string | undefined;
  let te: string | undefined;
  let connection = '';
  let badLength = false;
  const err = fields(lines, (name, value) => {
    if (name === 'host') hosts++;
    else if (name === 'content-length') {
      if (lengths !== undefined && lengths !== value) badLength = true;
      lengths = value;
    } else if (name === 'transfer-encoding') te = te === undefined ? value : `${te}, ${value}`;
    else if (name === 'connection') connection = connection ? `${connection},${value}` : value;
    addField(headers, name, value);
  });
  if (err) return err;
  if (badLength || (lengths !== undefined && !/^\d{1,15}$/.test(lengths)))
    return { error: 400, reason: 'invalid Content-Length' };
  if (lengths !== undefined && te !== undefined)
    return { error: 400, reason: 'both Content-Length and Transfer-Encoding' };
  const head: RequestHead = {
    method,
    target,
    headers,
    contentLength: lengths === undefined ? -1 : Number(lengths),
    chunked: false,
    keepAlive: true,
    headLength: end,
  };
  if (version !== 'HTTP/1.1') return { ...head, handoff: 'version' };
  if (hosts !== 1) return { error: 400, reason: hosts ? 'more than one Host' : 'no Host' };
  if (te !== undefined) {
    if (te.toLowerCase() !== 'chunked') return { ...head, handoff: 'transfer coding' };
    head.chunked = true;
  }
  if (target.charCodeAt(0) !== 0x2f) head.handoff = 'request target form';
  else if (headers.upgrade !== undefined || headers.expect !== undefined) head.handoff = 'upgrade or expect';
  for (const t of connection.toLowerCase().split(',')) {
    const token = t.trim();
    if (token === 'close') head.keepAlive = false;
    else if (token === 'upgrade') head.handoff = 'upgrade';
  }
  return head;
}

export interface ResponseHead {
  status: number;
  reason: string;
  /** Field lines in order, names in lower case. */
  fields: [string, string][];
  /** -1 when absent (or when the body is chunked). */
  contentLength: number;
  chunked: boolean;
  /** The upstream keeps the connection after this response. */
  keepAlive: boolean;
  headLength: number;
}

/** Parses an upstream's response head (any error is the upstream's: 502). */
export function parseResponseHead(buf: Buffer, max = MAX_HEAD_BYTES): ResponseHead | ParseError | undefined {
  const end = headEnd(buf, 0, max, 502);
  if (end === undefined) return undefined;
  if (typeof end === 'object') return { error: 502, reason: end.reason };
  const lines = headLines(buf, 0, end);
  if (!Array.isArray(lines)) return { error: 502, reason: lines.reason };
  const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) return { error: 502, reason: 'invalid status line' };
  const list: [string, string][] = [];
  let lengths: string | undefined;
  let te: string | undefined;
  let connection = '';
  let badLength = false;
  const err = fields(lines, (name, value) => {
    if (name === 'content-length') {
      if (lengths !== undefined && lengths !== value) badLength = true;
      lengths = value;
    } else if (name === 'transfer-encoding') te = te === undefined ? value : `${te}, ${value}`;
    else if (name === 'connection') connection = connection ? `${connection},${value}` : value;
    list.push([name, value]);
  });
  if (err) return { error: 502, reason: err.reason };
  if (badLength || (lengths !== undefined && !/^\d{1,15}$/.test(lengths)))
    return { error: 502, reason: 'invalid Content-Length' };
  const tokens = connection
    .toLowerCase()
    .split(',')
    .map((t) => t.trim());
  const head: ResponseHead = {
    status: Number(m[2]),
    reason: m[3] ?? '',
    fields: list,
    contentLength: lengths === undefined ? -1 : Number(lengths),
    chunked: false,
    keepAlive: m[1] === '1' ? !tokens.includes('close') : tokens.includes('keep-alive'),
    headLength: end,
  };
  if (te !== undefined) {
    // Transfer-Encoding overrides Content-Length (RFC 9112 6.3); a response with both is not reused.
    const codings = te
      .toLowerCase()
      .split(',')
      .map((t) => t.trim());
    if (codings[codings.length - 1] === 'chunked') head.chunked = true;
    else head.keepAlive = false; // close-delimited
    if (lengths !== undefined) head.keepAlive = false;
    head.contentLength = -1;
  }
  return head;
}

const enum Chunk {
  Size,
  Data,
  DataCR,
  DataLF,
  Trailer,
  Done,
}

/**
 * Follows a chunked body (RFC 9112 7.1) through the chunks it arrives in, without copying it:
 * `feed` says where the body ends within a chunk. Chunk extensions and trailer fields are passed
 * over; malformed framing is an error.
 */
export class ChunkedTracker {
  private state = Chunk.Size;
  private remaining = 0;
  private line = '';
  /** Data bytes seen so far (extensions, sizes and trailers not counted). */
  payload = 0;

  /** The offset just past the body's end in `b` (from `start`), -1 when it has not ended, -2 when malformed. */
  feed(b: Buffer, start = 0): number {
    let i = start;
    while (i < b.length) {
      switch (this.state) {
        case Chunk.Size:
        case Chunk.Trailer: {
          const lf = b.indexOf(0x0a, i);
          const stop = lf < 0 ? b.length : lf + 1;
          this.line += b.toString('latin1', i, stop);
          i = stop;
          if (this.line.length > MAX_HEAD_BYTES) return -2;
          if (lf < 0) return -1;
          if (!this.line.endsWith('\r\n')) return -2;
          const line = this.line.slice(0, -2);
          this.line = '';
          if (this.state === Chunk.Trailer) {
            if (line.length === 0) {
              this.state = Chunk.Done;
              return i;
            }
            if (line.includes('\r')) return -2;
            continue;
          }
          const semi = line.indexOf(';');
          const hex = (semi < 0 ? line : line.slice(0, semi)).replace(/[ \t]+$/, '');
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) return -2;
          const size = parseInt(hex, 16);
          if (size === 0) this.state = Chunk.Trailer;
          else {
            this.remaining = size;
            this.state = Chunk.Data;
          }
          break;
        }
        case Chunk.Data: {
          const n = Math.min(this.remaining, b.length - i);
          this.remaining -= n;
          this.payload += n;
          i += n;
          if (this.remaining === 0) this.state = Chunk.DataCR;
          break;
        }
        case Chunk.DataCR:
          if (b[i++] !== 0x0d) return -2;
          this.state = Chunk.DataLF;
          break;
        case Chunk.DataLF:
          if (b[i++] !== 0x0a) return -2;
          this.state = Chunk.Size;
          break;
        case Chunk.Done:
          return i;
      }
    }
    return this.state === Chunk.Done ? i : -1;
  }
}
