// The ingress's HTTP/1.1 fast path: client connections read with the strict head parser
// (parser.ts), each request routed by the proxy's own decision code and sent on a pooled
// keep-alive upstream connection (upstreampool.ts), the request body and the response relayed as
// raw bytes by their framing (Content-Length, chunked, or close-delimited), with back-pressure
// both ways. The proxy says, per request, whether the fast path may take it (`forward`); when it
// may not (an answer of the proxy's own, Upgrade, Expect, HTTP/1.0, gRPC, mirrors, retry
// policies...) the connection goes to node:http's server with the bytes read so far put back
// (`handoff`), between requests, so that server answers it exactly as before.
import type { Duplex } from 'node:stream';
import type { OutgoingHttpHeaders } from 'node:http';
import { ChunkedTracker, parseRequestHead, parseResponseHead, type RequestHead, type ResponseHead } from './parser.js';
import type { UpstreamConnection, UpstreamPool, UpstreamUser } from './upstreampool.js';
import { addResponseField, errorPage, headerLines, HOP_BY_HOP, SAFE_METHODS, STATUS_TEXT } from './headers.js';

export interface FastEndpoint {
  address: string;
  port: number;
}

/** The upstream exchange, for the access log and metrics. */
export interface FastTiming {
  start?: number;
  end?: number;
  status?: number;
  addr?: string;
}

/** A request the proxy forwards through the fast path. */
export interface FastForward {
  endpoint: FastEndpoint;
  /** The upstream request line and header lines (each ending in CRLF), framing headers and the empty line excepted. */
  head: string;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  sendTimeoutMs: number;
  /** 0: unlimited. */
  maxBodyBytes: number;
  /** Adds the route's response headers (CORS, header filters) to the upstream's. */
  editResponse(headers: OutgoingHttpHeaders): void;
  /** Another endpoint for a failed attempt, if any. */
  retry(): FastEndpoint | undefined;
  /** The request is over: the status the client got and the response's Content-Length. */
  done(status: number, bytes: number, upstream: FastTiming): void;
}

export interface FastContext {
  pool: UpstreamPool;
  /** The forward of a request the fast path may take; undefined hands the connection to node:http. */
  forward(head: RequestHead, socket: Duplex): FastForward | undefined;
  /** node:http's server takes the connection; `buffered` was read from it and is put back. */
  handoff(socket: Duplex, buffered: Buffer | undefined): void;
}

/** Failures before any answer after which a bodiless request goes to the next endpoint. */
const RETRYABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE']);
const MAX_ATTEMPTS = 3;
/** node:http's keepAliveTimeout and headersTimeout. */
const KEEP_ALIVE_MS = 5_000;
const HEAD_MS = 60_000;

/** An answer of the proxy's own, in the full path's format (proxy.ts reply). */
function errorResponse(status: number, close: boolean): string {
  const body = errorPage(status);
  return (
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}\r\ncontent-type: text/html\r\ncontent-length: ${body.length}\r\n` +
    `date: ${httpDate()}\r\n${close ? 'connection: close\r\n' : ''}\r\n${body}`
  );
}

let dateText = '';
let dateAt = 0;
/** The Date field, computed once a second as node:http does. */
function httpDate(): string {
  const now = Date.now();
  if (now - dateAt >= 1000 || !dateText) {
    dateAt = now - (now % 1000);
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

/** One client connection on the fast path; requests are served one after another. */
export class FastConnection {
  private buf?: Buffer;
  private ex?: Exchange;
  private closed = false;
  private timer?: NodeJS.Timeout;

  constructor(
    readonly socket: Duplex,
    private readonly ctx: FastContext,
    first?: Buffer,
  ) {
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    if (first?.length) this.onData(first);
    else this.wait();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.closed) return;
    try {
      this.read(chunk);
    } catch {
      this.destroy(); // a bug must cost this connection, not the server
    }
  };

  private read(chunk: Buffer): void {
    if (this.ex?.wantsBody) {
      const rest = this.ex.clientBody(chunk);
      if (rest?.length) this.queue(rest);
      return;
    }
    this.queue(chunk);
    if (!this.ex) this.next();
  }

  private queue(chunk: Buffer): void {
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    // Pipelined requests wait (unread) until the one in flight is answered.
    if (this.ex) this.socket.pause();
  }

  private readonly onDrain = (): void => this.ex?.onClientDrain();
  private readonly onError = (): void => void this.socket.destroy();
  private readonly onClose = (): void => {
    this.closed = true;
    clearTimeout(this.timer);
    this.ex?.abort();
  };

  /** Parses and starts the next request, if its head has arrived. */
  private next(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.ex || this.closed) return;
    const buf = this.buf;
    if (!buf) return this.wait();
    const head = parseRequestHead(buf);
    if (head === undefined) return this.wait();
    if ('error' in head) return this.refuse(head.error);
    const fw = head.handoff ? undefined : this.ctx.forward(head, this.socket);
    if (!fw) return this.handoff();
    this.buf = undefined;
    this.ex = new Exchange(this, this.ctx.pool, head, fw);
    const rest = this.ex.start(buf.length > head.headLength ? buf.subarray(head.headLength) : undefined);
    if (rest?.length) this.queue(rest);
    else this.socket.resume(); // paused while pipelined bytes waited; the body may still come
  }

  /** No complete head: the keep-alive timeout between requests, the head timeout within one. */
  private wait(): void {
    this.socket.resume();
    this.timer = setTimeout(() => this.socket.destroy(), this.buf ? HEAD_MS : KEEP_ALIVE_MS);
  }

  private refuse(status: number): void {
    this.closed = true;
    this.socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  }

  private handoff(): void {
    this.closed = true;
    const { socket } = this;
    socket.off('data', this.onData);
    socket.off('drain', this.onDrain);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
    socket.pause();
    const buf = this.buf;
    this.buf = undefined;
    this.ctx.handoff(socket, buf);
  }

  /** The exchange is over; the next request is read unless the connection is to close. */
  finished(keepAlive: boolean): void {
    this.ex = undefined;
    if (this.closed) return;
    if (!keepAlive) {
      this.closed = true;
      this.socket.end();
      return;
    }
    this.next();
  }

  /** Writes to the client; false when its buffer is full. */
  write(data: string | Buffer): boolean {
    return this.socket.write(data);
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

/**
 * One request through the fast path: the head and body go up, the answer comes back as it
 * arrives. Timeouts as the full path's: connect (504), send (the longest silence of the upstream
 * while the body is sent) and read (while the answer is awaited and read), 504. A bodiless request
 * whose connection fails before any answer goes to another endpoint (up to 3 attempts).
 */
class Exchange implements UpstreamUser {
  wantsBody: boolean;
  private readonly bodiless: boolean;
  private bodyLeft: number;
  private readonly reqChunks?: ChunkedTracker;
  private up?: UpstreamConnection;
  private attempt = 1;
  private silence?: NodeJS.Timeout;
  private connectTimer?: NodeJS.Timeout;
  private err?: Error & { code?: string };
  private resBuf?: Buffer;
  private res?: ResponseHead;
  private resLeft = -1;
  private resChunks?: ChunkedTracker;
  private noBody = false;
  private closeDelimited = false;
  /** The upstream connection cannot be reused (bytes past the answer, an early answer). */
  private spoiled = false;
  private status = 0;
  private bytes = 0;
  private done = false;
  private clientPaused = false;
  private upstreamPaused = false;
  private readonly timing: FastTiming = {};

  constructor(
    private readonly conn: FastConnection,
    private readonly pool: UpstreamPool,
    private readonly head: RequestHead,
    private readonly fw: FastForward,
  ) {
    this.wantsBody = head.chunked || head.contentLength > 0;
    this.bodiless = !this.wantsBody && SAFE_METHODS.has(head.method);
    this.bodyLeft = head.contentLength;
    if (head.chunked) this.reqChunks = new ChunkedTracker();
  }

  /** Sends the head (and what has arrived of the body); returns bytes past the request. */
  start(rest: Buffer | undefined): Buffer | undefined {
    this.send(this.fw.endpoint);
    return rest?.length && this.wantsBody ? this.clientBody(rest) : rest;
  }

  private send(ep: FastEndpoint): void {
    const { fw, head } = this;
    this.timing.start ??= performance.now();
    this.timing.addr = `${ep.address}:${ep.port}`;
    const up = (this.up = this.pool.acquire(ep.address, ep.port, this));
    const socket = up.socket;
    if (socket.connecting) {
      this.connectTimer = setTimeout(() => {
        this.err = Object.assign(new Error('connect timeout'), { code: 'CONNECT_TIMEOUT' });
        socket.destroy();
      }, fw.connectTimeoutMs);
      socket.once('connect', () => clearTimeout(this.connectTimer));
    }
    this.silentFor(this.wantsBody ? fw.sendTimeoutMs : fw.readTimeoutMs);
    socket.write(head.chunked ? `${fw.head}transfer-encoding: chunked\r\n\r\n` : `${fw.head}\r\n`);
  }

  private silentFor(ms: number): void {
    if (this.silence) clearTimeout(this.silence);
    this.silence = setTimeout(this.onTimeout, ms);
  }

  private readonly onTimeout = (): void => this.fail(504);

  /** Request body bytes from the client: relayed up to the body's end; returns what follows it. */
  clientBody(chunk: Buffer): Buffer | undefined {
    let end = chunk.length;
    let finished: boolean;
    if (this.reqChunks) {
      const at = this.reqChunks.feed(chunk);
      if (at === -2 || (this.fw.maxBodyBytes && this.reqChunks.payload > this.fw.maxBodyBytes)) {
        this.fail(at === -2 ? 400 : 413, undefined, true);
        return undefined;
      }
      finished = at >= 0;
      if (finished) end = at;
    } else {
      end = Math.min(end, this.bodyLeft);
      this.bodyLeft -= end;
      finished = this.bodyLeft === 0;
    }
    if (!this.done && this.up) {
      this.silence?.refresh();
      if (!this.up.socket.write(end === chunk.length ? chunk : chunk.subarray(0, end)) && !this.clientPaused) {
        this.clientPaused = true;
        this.conn.socket.pause();
      }
    }
    if (finished) {
      this.wantsBody = false;
      if (!this.done && !this.res) this.silentFor(this.fw.readTimeoutMs);
    }
    return end < chunk.length ? chunk.subarray(end) : undefined;
  }

  onUpstreamDrain(): void {
    if (this.clientPaused) {
      this.clientPaused = false;
      this.conn.socket.resume();
    }
  }

  onClientDrain(): void {
    if (this.upstreamPaused) {
      this.upstreamPaused = false;
      this.up?.socket.resume();
    }
  }

  onUpstreamData(chunk: Buffer): void {
    if (this.done) return;
    this.silence?.refresh();
    if (this.res) return this.relay(chunk);
    this.resBuf = this.resBuf ? Buffer.concat([this.resBuf, chunk]) : chunk;
    for (;;) {
      const r = parseResponseHead(this.resBuf);
      if (r === undefined) return;
      if ('error' in r) return this.fail(502);
      if (r.status >= 200 || r.status === 101) {
        if (r.status === 101) return this.fail(502);
        const body = this.resBuf.length > r.headLength ? this.resBuf.subarray(r.headLength) : undefined;
        this.resBuf = undefined;
        this.respond(r, body);
        return;
      }
      // 1xx informational answers are not passed on (as the full path).
      if (this.resBuf.length === r.headLength) return void (this.resBuf = undefined);
      this.resBuf = this.resBuf.subarray(r.headLength);
    }
  }

  /** The response head to the client, then the body bytes that came with it. */
  private respond(r: ResponseHead, body: Buffer | undefined): void {
    this.res = r;
    this.timing.status = this.status = r.status;
    clearTimeout(this.connectTimer);
    this.noBody = this.head.method === 'HEAD' || r.status === 204 || r.status === 304;
    this.closeDelimited = !this.noBody && !r.chunked && r.contentLength < 0;
    if (!this.noBody) {
      if (r.chunked) this.resChunks = new ChunkedTracker();
      else this.resLeft = r.contentLength;
    }
    const headers: OutgoingHttpHeaders = {};
    for (const [k, v] of r.fields) {
      if (HOP_BY_HOP.has(k) || (k === 'content-length' && r.chunked)) continue;
      addResponseField(headers, k, v);
    }
    this.bytes = r.contentLength > 0 ? r.contentLength : 0;
    this.fw.editResponse(headers);
    let text = `HTTP/1.1 ${r.status} ${r.reason}\r\n${headerLines(headers)}`;
    if (headers.date === undefined) text += `date: ${httpDate()}\r\n`;
    if (r.chunked && !this.noBody) text += 'transfer-encoding: chunked\r\n';
    if (!this.keepClient()) text += 'connection: close\r\n';
    text += '\r\n';
    if (this.noBody) {
      if (body?.length) this.spoiled = true;
      this.conn.write(text);
      return this.finish();
    }
    if (!body?.length) {
      this.conn.write(text);
      if (this.resLeft === 0) this.finish();
      return;
    }
    this.conn.socket.cork();
    this.conn.write(text);
    this.relay(body);
    this.conn.socket.uncork();
  }

  /** Response body bytes to the client, up to the response's end. */
  private relay(chunk: Buffer): void {
    let end = chunk.length;
    let complete = false;
    if (this.resChunks) {
      const at = this.resChunks.feed(chunk);
      if (at === -2) return this.abort(true);
      if (at >= 0) {
        end = at;
        complete = true;
      }
    } else if (this.resLeft >= 0) {
      end = Math.min(end, this.resLeft);
      this.resLeft -= end;
      complete = this.resLeft === 0;
    } else if (this.noBody) {
      this.spoiled = true;
      return;
    }
    if (end < chunk.length) this.spoiled = true;
    if (!this.conn.write(end === chunk.length ? chunk : chunk.subarray(0, end)) && !complete && this.up) {
      this.upstreamPaused = true;
      this.up.socket.pause();
    }
    if (complete) this.finish();
  }

  onUpstreamError(err: Error & { code?: string }): void {
    this.err ??= err;
  }

  onUpstreamClose(): void {
    this.up = undefined;
    if (this.done) return;
    if (this.res && this.closeDelimited) return this.finish();
    if (this.res) return this.abort(true);
    const code = this.err?.code ?? 'ECONNRESET';
    if (code === 'CONNECT_TIMEOUT') return this.fail(504);
    this.fail(502, code);
  }

  /** The client should keep its connection after this exchange. */
  private keepClient(): boolean {
    return this.head.keepAlive && !this.closeDelimited && !this.wantsBody;
  }

  /** The response went out whole. */
  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.clearTimers();
    this.timing.end = performance.now();
    const up = this.up;
    this.up = undefined;
    if (up) {
      if (this.res?.keepAlive && !this.spoiled && !this.wantsBody && !this.closeDelimited) this.pool.release(up);
      else {
        up.user = undefined;
        up.socket.destroy();
      }
    }
    this.fw.done(this.status, this.bytes, this.timing);
    // A request whose body is still arriving (the upstream answered early) closes the connection.
    this.conn.finished(this.keepClient());
  }

  private clearTimers(): void {
    clearTimeout(this.silence);
    clearTimeout(this.connectTimer);
  }

  private dropUpstream(): void {
    const up = this.up;
    this.up = undefined;
    if (up) {
      up.user = undefined;
      up.socket.destroy();
    }
  }

  /**
   * The attempt failed before an answer reached the client: another endpoint when the request
   * may go again, else an answer of the proxy's own (the connection closes when the request's
   * body was not read to its end).
   */
  private fail(status: number, code?: string, close = false): void {
    if (this.done) return;
    this.clearTimers();
    this.dropUpstream();
    if (this.res) return this.abort(true);
    if (code && RETRYABLE.has(code) && this.bodiless && this.attempt < MAX_ATTEMPTS) {
      const ep = this.fw.retry();
      if (ep) {
        this.attempt++;
        this.err = undefined;
        this.resBuf = undefined;
        return this.send(ep);
      }
    }
    this.done = true;
    this.status = status;
    this.timing.end = performance.now();
    const closing = close || !this.head.keepAlive || this.wantsBody;
    this.conn.write(errorResponse(status, closing));
    this.fw.done(status, 0, this.timing);
    this.conn.finished(!closing);
  }

  /** The exchange cannot go on: the client connection goes too (`destroyClient`) or already went. */
  abort(destroyClient = false): void {
    if (this.done) return;
    this.done = true;
    this.clearTimers();
    this.dropUpstream();
    this.timing.end ??= performance.now();
    this.fw.done(this.status || 499, this.bytes, this.timing);
    if (destroyClient) this.conn.destroy();
  }
}
