// Raw HTTP upgrade proxying, byte for byte, as upstream's UpgradeAwareHandler: the API server
// uses it towards node agents (exec, attach, port-forward) and the agent towards the runtime's
// streaming server. Nothing here knows the protocols (SPDY, WebSocket) that run over it.
import net from 'node:net';
import tls from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';

/** Request headers that belong to the upgrade handshake and are passed on to the backend. */
const UPGRADE_HEADERS = /^(connection|upgrade|x-stream-protocol-version|sec-websocket-.*|origin|user-agent)$/i;

export interface UpgradeTarget {
  /** Opens the connection to the backend (plain or TLS); resolves once it can be written to. */
  dial(): Promise<Duplex>;
  /** Value of the Host header. */
  host: string;
  /** Path and query the request is sent to. */
  path: string;
  /** Answers the client when the backend can't be reached (the socket is still untouched). */
  onDialError(err: Error, client: Duplex): void;
  /**
   * The request to send instead of the client's handshake (method and every header but Host):
   * for a translated upgrade (a WebSocket tunnel sent on as SPDY) or a proxy passing on more
   * than the handshake headers.
   */
  request?: { method: string; headers: [string, string][] };
  /**
   * Takes over a 101 answer instead of relaying it: gets the backend's response head and any
   * bytes read past it (the backend is paused). Without it the answer goes to the client verbatim.
   */
  onSwitched?(backend: Duplex, responseHead: string, rest: Buffer): void;
}

/** Writes a complete HTTP response on a raw socket and closes it. */
export function writeRawResponse(
  socket: Duplex,
  code: number,
  body: string,
  contentType = 'text/plain; charset=utf-8',
): void {
  if (socket.destroyed) return;
  const payload = Buffer.from(body);
  socket.end(
    `HTTP/1.1 ${code} ${STATUS_TEXT[code] ?? 'Error'}\r\nContent-Type: ${contentType}\r\nX-Content-Type-Options: nosniff\r\nContent-Length: ${payload.length}\r\nConnection: close\r\n\r\n${body}`,
  );
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** The upgrade request's head as the backend gets it: target path, Host, and the handshake headers. */
function requestHead(req: IncomingMessage, target: UpgradeTarget): string {
  let head = `${target.request?.method ?? req.method ?? 'GET'} ${target.path} HTTP/1.1\r\nHost: ${target.host}\r\n`;
  if (target.request) {
    for (const [k, v] of target.request.headers) head += `${k}: ${v}\r\n`;
  } else {
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (UPGRADE_HEADERS.test(raw[i])) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  return `${head}\r\n`;
}

/**
 * Proxies an HTTP upgrade byte for byte: sends the request to the target, hands the backend's
 * response back verbatim (status line, headers, body); on 101 Switching Protocols both
 * directions are then piped until either side closes, otherwise the response body is passed on
 * and the client connection closed, as upstream's UpgradeAwareHandler does.
 */
export function proxyUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  target: UpgradeTarget,
  log?: Logger,
): void {
  let backend: Duplex | undefined;
  const teardown = () => {
    client.destroy();
    backend?.destroy();
  };
  client.on('error', teardown);
  target.dial().then(
    (b) => {
      backend = b;
      if (client.destroyed) return b.destroy();
      b.on('error', (err) => {
        log?.debug({ err }, 'upgrade backend failed');
        teardown();
      });
      b.write(requestHead(req, target));
      if (head.length) b.write(head);
      relayResponse(client, b, teardown, target.onSwitched?.bind(target));
    },
    (err: Error) => {
      if (client.destroyed) return;
      target.onDialError(err, client);
    },
  );
}

/** Reads the backend's response head, forwards it, then pipes (101) or forwards the body and closes. */
function relayResponse(
  client: Duplex,
  backend: Duplex,
  teardown: () => void,
  onSwitched?: UpgradeTarget['onSwitched'],
): void {
  let pending: Buffer = Buffer.alloc(0);
  const onData = (d: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, d]) : d;
    const end = pending.indexOf('\r\n\r\n');
    if (end < 0) {
      if (pending.length > 64 * 1024) teardown();
      return;
    }
    backend.off('data', onData);
    backend.pause();
    const headText = pending.toString('latin1', 0, end);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headText)?.[1] ?? 0);
    if (status === 101 && onSwitched) {
      return onSwitched(backend, headText, pending.subarray(end + 4));
    }
    client.write(pending);
    if (status === 101) {
      // From here on the connection is the backend's protocol (SPDY or WebSocket): bytes only.
      backend.pipe(client);
      client.pipe(backend);
      client.once('close', () => backend.destroy());
      backend.once('close', () => client.destroy());
      backend.resume();
      return;
    }
    forwardBody(client, backend, headText, pending.subarray(end + 4), teardown);
  };
  backend.on('data', onData);
  backend.once('end', () => {
    if (pending.indexOf('\r\n\r\n') < 0) teardown();
  });
}

/** A refused upgrade: pass the response body on (by its framing), then close both connections. */
function forwardBody(client: Duplex, backend: Duplex, headText: string, already: Buffer, teardown: () => void): void {
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(headText);
  const chunked = /\r\ntransfer-encoding:[^\r]*chunked/i.test(headText);
  let left = length ? Number(length[1]) - already.length : Infinity;
  let tail = already.subarray(-7).toString('latin1');
  // As upstream: a refused upgrade gets 10 seconds to deliver its answer.
  const timer = setTimeout(finish, 10_000);
  function finish() {
    clearTimeout(timer);
    backend.destroy();
    client.end();
  }
  const complete = () => (length ? left <= 0 : chunked ? /(^|\r\n)0\r\n\r\n$/.test(tail) : false);
  if (complete() || (!length && !chunked && headText.startsWith('HTTP/1.1 1'))) return finish();
  backend.on('data', (d: Buffer) => {
    client.write(d);
    left -= d.length;
    tail = (tail + d.toString('latin1')).slice(-7);
    if (complete()) finish();
  });
  backend.once('end', finish);
  backend.once('close', finish);
  client.once('close', teardown);
  backend.resume();
}

/** Dial a plain http(s) URL for proxyUpgrade (the runtime's streaming server). */
export function dialURL(url: URL): () => Promise<Duplex> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return () =>
    new Promise((resolve, reject) => {
      const sock =
        url.protocol === 'https:'
          ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: false }, () =>
              resolve(sock),
            )
          : net.connect({ host, port }, () => resolve(sock));
      sock.once('error', reject);
      sock.setNoDelay(true);
    });
}
