// The port-forward protocol over a plain WebSocket, as the kubelet's streaming server serves it
// (pkg/kubelet/cri/streaming/portforward/websocket.go) and the Python client speaks it: the
// ports come in the URL (`?port=80&port=443`), and port i gets two channels — 2i for data (both
// ways) and 2i+1 for errors (server to client). The server opens every channel with a message
// holding the port as an unsigned 16-bit little-endian number, then bridges each data channel
// to its port once; a failure is written as text on the error channel. When every port's
// connection is over the WebSocket is closed. One connection per port per WebSocket: a client
// wanting a second one opens a second WebSocket.
import { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { PortForwardHandler } from './portforward.js';
import { decodeChannelMessage, encodeChannelMessage } from '../../machinery/streaming/wschannel.js';

/** WebSocket subprotocols served (an offer of none is served as binary, as the kubelet's ""). */
export const WS_PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io'];

/** The data channel of one port: writes become messages on its channel, received messages its input. */
class PortChannel extends Duplex {
  constructor(private readonly send: (data: Buffer) => Promise<void>) {
    super();
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.send(chunk).then(() => cb(), cb);
  }

  // The protocol can't half-close a channel: once the pod's side has ended, the client's input
  // ends too, so the connection to the pod closes and the forwarding is over.
  override _final(cb: (err?: Error | null) => void): void {
    this.push(null);
    cb();
  }
}

/** Resolves once what was written to the channel has been sent (or the channel is gone). */
function flushed(ch: PortChannel): Promise<void> {
  return new Promise((resolve) => {
    if (ch.writableFinished || ch.destroyed) return resolve();
    ch.once('close', () => resolve());
    ch.end(() => resolve());
  });
}

/**
 * Serves port forwarding on an accepted WebSocket (protocol = the negotiated subprotocol, '' if
 * none) for `ports`; resolves when the WebSocket is closed. `describe` names the pod in errors.
 */
export function servePortForwardWebSocket(
  ws: WebSocket,
  protocol: string,
  ports: number[],
  handler: PortForwardHandler,
  describe: string,
): Promise<void> {
  const base64 = protocol.includes('base64');
  const send = (channel: number, data: Buffer) =>
    new Promise<void>((resolve) => {
      if (ws.readyState !== ws.OPEN) return resolve();
      const msg = encodeChannelMessage(channel, data, base64);
      ws.send(msg, { binary: typeof msg !== 'string' }, () => resolve());
    });
  const channels = ports.map((_, i) => new PortChannel((d) => send(2 * i, d)));
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));

  ws.on('message', (raw: Buffer) => {
    const msg = decodeChannelMessage(Buffer.isBuffer(raw) ? raw : Buffer.from(raw), base64);
    // Only data channels take input; anything else is dropped, as wsstream drops it.
    if (!msg || msg.channel % 2 !== 0) return;
    const ch = channels[msg.channel / 2];
    if (ch && !ch.destroyed && msg.data.length) ch.push(msg.data);
  });
  void closed.then(() => {
    for (const ch of channels) {
      ch.push(null);
      ch.destroy();
    }
  });

  const portBytes = (port: number) => Buffer.from([port & 0xff, port >> 8]);
  const forwardings = ports.map(async (port, i) => {
    await send(2 * i, portBytes(port));
    await send(2 * i + 1, portBytes(port));
    try {
      await handler(port, channels[i]);
    } catch (err) {
      await send(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod ${describe}: ${(err as Error).message}`));
    }
    await flushed(channels[i]);
  });
  void Promise.all(forwardings).then(() => {
    if (ws.readyState === ws.OPEN) ws.close(1000);
    const timer = setTimeout(() => ws.terminate(), 5000);
    timer.unref();
    ws.once('close', () => clearTimeout(timer));
  });
  return closed;
}
