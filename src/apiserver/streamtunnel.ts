// SPDY tunnelled through a WebSocket, as upstream's apiserver TunnelingHandler serves it for
// port-forward (kubectl >= 1.31, PortForwardWebsockets): the client asks for a WebSocket with
// subprotocols `SPDY/3.1+<protocol>` (`SPDY/3.1+portforward.k8s.io`) and then speaks plain SPDY
// inside binary messages — no HTTP inside the tunnel. The request goes on to the node agent as an
// ordinary SPDY upgrade (POST, `Upgrade: SPDY/3.1`, the offered protocols as
// X-Stream-Protocol-Version); when the agent answers 101 the client's WebSocket handshake is
// completed with the protocol the agent chose (prefix added back) and from then on every binary
// message's payload is written to the agent and every byte from the agent sent as a message. Any
// other answer reaches the client as it is, which is what makes kubectl fall back to SPDY.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { proxyUpgrade, writeRawResponse, type UpgradeTarget } from '../machinery/upgradeproxy.js';

export const SPDY_TUNNELING_PREFIX = 'SPDY/3.1+';

/** The SPDY protocols a WebSocket request offers to tunnel (Kubernetes ones only), prefix removed. */
export function tunneledProtocols(req: IncomingMessage): string[] {
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return [];
  const raw = req.headers['sec-websocket-protocol'];
  const offered = (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).split(',').map((p) => p.trim());
  return offered
    .filter((p) => p.startsWith(SPDY_TUNNELING_PREFIX) && p.endsWith('.k8s.io'))
    .map((p) => p.slice(SPDY_TUNNELING_PREFIX.length));
}

/** A response header's value from a raw response head. */
function headerOf(head: string, name: string): string {
  const m = new RegExp(`\\r\\n${name}:[ \\t]*([^\\r]*)`, 'i').exec(head);
  return m ? m[1].trim() : '';
}

// Backend bytes are paused while this much is waiting to go out on the WebSocket.
const HIGH_WATER = 1 << 20;

/** Copies between an open WebSocket (binary messages) and a byte stream until either ends. */
function bridge(ws: WebSocket, backend: Duplex, initial: Buffer): void {
  const send = (d: Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(d, { binary: true }, () => {
      if (backend.isPaused() && ws.bufferedAmount < HIGH_WATER / 2) backend.resume();
    });
    if (ws.bufferedAmount >= HIGH_WATER) backend.pause();
  };
  if (initial.length) send(initial);
  backend.on('data', send);
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary || backend.destroyed) return;
    if (!backend.write(data)) {
      ws.pause();
      backend.once('drain', () => ws.resume());
    }
  });
  let closing = false;
  const closeWs = () => {
    if (closing) return;
    closing = true;
    if (ws.readyState === ws.OPEN) ws.close(1000);
    const timer = setTimeout(() => ws.terminate(), 5000);
    timer.unref();
    ws.once('close', () => clearTimeout(timer));
  };
  backend.once('end', closeWs);
  backend.once('close', closeWs);
  backend.on('error', () => ws.terminate());
  ws.once('close', () => backend.destroy());
  ws.on('error', () => backend.destroy());
  backend.resume();
}

/**
 * Serves a WebSocket request that tunnels SPDY (tunneledProtocols(req) is not empty) by sending it
 * to `target` as a SPDY upgrade. `target` is the same as for a plain upgrade proxy.
 */
export function tunnelSpdyOverWebSocket(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  target: Omit<UpgradeTarget, 'request' | 'onSwitched'>,
  log?: Logger,
): void {
  const protocols = tunneledProtocols(req);
  const headers: [string, string][] = [
    ['Connection', 'Upgrade'],
    ['Upgrade', 'SPDY/3.1'],
    ...protocols.map((p): [string, string] => ['X-Stream-Protocol-Version', p]),
  ];
  const agent = req.headers['user-agent'];
  if (agent) headers.push(['User-Agent', agent]);
  headers.push(['Content-Length', '0']);
  proxyUpgrade(
    req,
    client,
    Buffer.alloc(0),
    {
      ...target,
      request: { method: 'POST', headers },
      onSwitched(backend, responseHead, rest) {
        client.once('close', () => backend.destroy());
        if (
          !/upgrade/i.test(headerOf(responseHead, 'connection')) ||
          !/spdy\/3\.1/i.test(headerOf(responseHead, 'upgrade'))
        ) {
          backend.destroy();
          return writeRawResponse(client, 500, 'unable to upgrade: missing upgrade headers in response\n');
        }
        const chosen = headerOf(responseHead, 'x-stream-protocol-version');
        // ws refuses subprotocols that are not HTTP tokens ('/' is not allowed in one, gorilla
        // takes it): the offer is removed before the handshake and the answer added to it.
        delete req.headers['sec-websocket-protocol'];
        const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
        if (chosen)
          wss.on('headers', (headers) => headers.push(`Sec-WebSocket-Protocol: ${SPDY_TUNNELING_PREFIX}${chosen}`));
        wss.handleUpgrade(req, client, head, (ws) => bridge(ws, backend, rest));
      },
    },
    log,
  );
}
