// The port-forward protocol (portforward.k8s.io) over SPDY, as the kubelet's
// pkg/cri/streaming/portforward serves it: for every local connection kubectl opens a pair of
// streams carrying the same `port` and `requestID` headers — an error stream (which it half-closes
// at once) and a data stream. Once both are there the data stream is bridged to the pod's port;
// when that ends, a failure is written as text on the error stream and both are closed. One
// connection carries any number of such pairs until the client hangs up.
import type { Duplex } from 'node:stream';
import type { SpdyConnection, SpdyStream } from '../../machinery/streaming/spdy.js';

export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';

/** Bridges `data` to `port` of the pod; resolves when the connection is over, rejects if it cannot be made. */
export type PortForwardHandler = (port: number, data: Duplex) => Promise<void>;

interface Pair {
  requestId: string;
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

/** Why a stream is refused (the kubelet resets such streams). */
function invalid(s: SpdyStream): string | undefined {
  const port = s.header('port');
  if (!port) return '"port" header is required';
  if (!/^\d+$/.test(port) || Number(port) > 65535) return `unable to parse "${port}" as a port`;
  if (Number(port) < 1) return `port "${port}" must be > 0`;
  const type = s.header('streamtype');
  if (!type) return '"streamtype" header is required';
  if (type !== 'error' && type !== 'data') return `invalid stream type "${type}"`;
  return undefined;
}

/**
 * Serves port forwarding on an upgraded SPDY connection until it closes. `describe` names the pod
 * in error messages ("error forwarding port 80 to pod <describe>: ...").
 */
export function servePortForwardSpdy(
  conn: SpdyConnection,
  handler: PortForwardHandler,
  describe: string,
  timeoutMs = 30_000,
): Promise<void> {
  const pairs = new Map<string, Pair>();
  const forward = async (p: Pair) => {
    const data = p.data!;
    const error = p.error!;
    const port = Number(data.header('port'));
    // The client never writes on the error stream; drain whatever comes.
    error.resume();
    try {
      await handler(port, data);
    } catch (err) {
      if (!error.destroyed) error.write(`error forwarding port ${port} to pod ${describe}: ${(err as Error).message}`);
    }
    if (!data.destroyed) data.end();
    if (!error.destroyed) error.end();
  };
  conn.on('stream', (s) => {
    const why = invalid(s);
    if (why) return s.reset();
    void s.reply();
    // Old clients send no request id: derive one from the stream ids (error n, data n+2).
    const type = s.header('streamtype');
    const requestId = s.header('requestid') ?? String(type === 'error' ? s.id : s.id - 2);
    let p = pairs.get(requestId);
    if (!p) {
      const pair: Pair = {
        requestId,
        timer: setTimeout(() => {
          pairs.delete(requestId);
          if (pair.error && !pair.error.destroyed)
            pair.error.end(`timed out waiting for streams of request ${requestId}`);
          pair.data?.reset();
        }, timeoutMs),
      };
      pair.timer.unref();
      pairs.set(requestId, pair);
      p = pair;
    }
    if (type === 'error') {
      if (p.error) return s.end(`error processing stream for request ${requestId}: error stream already assigned`);
      p.error = s;
    } else {
      if (p.data)
        return p.error?.write(`error processing stream for request ${requestId}: data stream already assigned`);
      p.data = s;
    }
    if (p.data && p.error) {
      clearTimeout(p.timer);
      pairs.delete(requestId);
      void forward(p);
    }
  });
  return new Promise((resolve) =>
    conn.once('close', () => {
      for (const p of pairs.values()) clearTimeout(p.timer);
      resolve();
    }),
  );
}
