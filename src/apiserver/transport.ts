// The API server's one TLS listener speaks HTTP/2 to clients that offer it (ALPN h2, as Go's
// server does for kube-apiserver) and HTTP/1.1 to the others and to Upgrade requests (SPDY and
// WebSocket exec, attach, port-forward). Handlers see Node's HTTP/1 request/response interface
// either way; what differs per protocol lives here.
import http2 from 'node:http2';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionDeadlines } from './limits.js';

/**
 * Header fields that describe an HTTP/1.1 connection. HTTP/2 forbids them (RFC 9113 8.2.2) and
 * Node throws on them; Go's HTTP/2 server leaves them out of a response, so handlers written
 * for HTTP/1.1 (chunked watches, `Connection: close` at shutdown, proxied responses) work as they are.
 */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

function withoutConnectionHeaders(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  if (Array.isArray(headers)) return headers; // raw [name, value, ...] lists are not used here
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (!CONNECTION_SPECIFIC.has(k.toLowerCase())) out[k] = v;
  return out;
}

/** Node's HTTP/2 compatibility response, minus the HTTP/1.1 connection headers. */
export class Http2Response extends http2.Http2ServerResponse {
  override setHeader(name: string, value: number | string | readonly string[]): this {
    if (!CONNECTION_SPECIFIC.has(name.toLowerCase())) super.setHeader(name, value);
    return this;
  }

  override writeHead(statusCode: number, ...rest: unknown[]): this {
    const args = rest.map((a) =>
      a !== null && typeof a === 'object' ? withoutConnectionHeaders(a as OutgoingHttpHeaders) : a,
    );
    return (super.writeHead as (code: number, ...a: unknown[]) => this)(statusCode, ...args);
  }
}

/** The HTTP/2 stream under a request, when it came over HTTP/2. */
function streamOf(req: IncomingMessage): http2.ServerHttp2Stream | undefined {
  return (req as unknown as { stream?: http2.ServerHttp2Stream }).stream;
}

export function isHttp2(req: IncomingMessage): boolean {
  return req.httpVersionMajor === 2;
}

/**
 * The connection a request came on, as one object per connection: the TLS socket for HTTP/1.1,
 * the session for HTTP/2 (whose `req.socket` is a per-stream stand-in for the session's socket).
 */
export function connectionOf(req: IncomingMessage): object {
  return streamOf(req)?.session ?? req.socket;
}

/**
 * Keeps an HTTP/2 connection's deadlines as Go's server does: the header deadline until its
 * first stream, then an idle deadline whenever it has no open stream (a watch keeps it open).
 */
export function trackSessionDeadlines(
  session: http2.ServerHttp2Session,
  deadlines: ConnectionDeadlines,
  timeouts: { readHeaderTimeoutMs: number; idleTimeoutMs: number },
): void {
  let open = 0;
  deadlines.arm(session, timeouts.readHeaderTimeoutMs);
  session.on('stream', (stream: http2.ServerHttp2Stream) => {
    open++;
    deadlines.disarm(session);
    stream.once('close', () => {
      if (--open === 0) deadlines.arm(session, timeouts.idleTimeoutMs);
    });
  });
  session.once('close', () => deadlines.disarm(session));
}

/** The TCP socket under a server-side TLS socket, or under an HTTP/2 request's socket stand-in. */
export function rawSocketOf(s: Socket): Socket {
  return (s as unknown as { _parent?: Socket })._parent ?? s;
}

/** Handlers take HTTP/1's types; Node's HTTP/2 compatibility objects implement what they use. */
export function asHttp1(
  req: http2.Http2ServerRequest | IncomingMessage,
  res: http2.Http2ServerResponse | ServerResponse,
): [IncomingMessage, ServerResponse] {
  return [req as unknown as IncomingMessage, res as unknown as ServerResponse];
}
