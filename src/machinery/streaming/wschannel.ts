// The channel framing of Kubernetes' WebSocket stream protocols (apimachinery's wsstream):
// every message carries one channel's data, its first byte the channel number. Binary protocols
// send it as is; the base64 ones (`*.base64.channel.k8s.io`) send text messages whose first
// character is the channel as an ASCII digit and whose rest is the data in base64. As wsstream
// (golang.org/x/net/websocket's Message codec), a received message is read the same whether it
// came as a text or a binary frame: the Python client sends its stdin as text frames.
import { Writable } from 'node:stream';
import type { WebSocket } from 'ws';

/** Encodes one message of `channel` (an empty `data` makes the bare channel marker). */
export function encodeChannelMessage(channel: number, data: Buffer, base64: boolean): Buffer | string {
  if (base64) return String.fromCharCode(48 + channel) + data.toString('base64');
  return Buffer.concat([Buffer.from([channel]), data]);
}

/** Decodes a received message (text or binary frame) into channel and data; undefined for an empty one. */
export function decodeChannelMessage(data: Buffer, base64: boolean): { channel: number; data: Buffer } | undefined {
  if (data.length === 0) return undefined;
  if (!base64) return { channel: data[0], data: data.subarray(1) };
  return { channel: data[0] - 48, data: Buffer.from(data.subarray(1).toString('latin1'), 'base64') };
}

/** A writable channel of a WebSocket session: each write is one message. */
export class ChannelWriter extends Writable {
  constructor(
    private readonly ws: WebSocket,
    private readonly channel: number,
    private readonly base64 = false,
  ) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.ws.readyState !== this.ws.OPEN) return cb();
    const msg = encodeChannelMessage(this.channel, chunk, this.base64);
    this.ws.send(msg, { binary: typeof msg !== 'string' }, () => cb());
  }
}
