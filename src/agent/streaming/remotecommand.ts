// The remotecommand protocols of `kubectl exec` and `kubectl attach` (the server half of
// k8s.io/kubelet/pkg/cri/streaming/remotecommand), over either transport:
//
// - SPDY (v4.channel.k8s.io, v3, v2): the client opens one stream per standard stream, named by
//   its `streamtype` header — error, stdin, stdout, stderr and (v3+, with a terminal) resize. The
//   command starts once every expected stream is there. At the end stdout/stderr are half-closed
//   and the error stream carries the outcome: v4 a JSON metav1.Status (Success, or Failure with
//   reason NonZeroExitCode and the exit code as a cause), v2/v3 just an error text on failure.
// - WebSocket (v5.channel.k8s.io, v4.channel.k8s.io, channel.k8s.io): one binary message per
//   write, its first byte the channel (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize); v5 adds
//   the message [255, channel] that half-closes a channel (kubectl's end of stdin). The server
//   closes the connection normally after the status.
import { EventEmitter } from 'node:events';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { SpdyConnection, SpdyStream } from '../../machinery/streaming/spdy.js';
import { ChannelWriter } from '../../machinery/streaming/wschannel.js';

export const StreamProtocolV2 = 'v2.channel.k8s.io';
export const StreamProtocolV3 = 'v3.channel.k8s.io';
export const StreamProtocolV4 = 'v4.channel.k8s.io';
export const StreamProtocolV5 = 'v5.channel.k8s.io';
/** Protocols served over SPDY, most preferred first. */
export const SPDY_REMOTECOMMAND_PROTOCOLS = [StreamProtocolV4, StreamProtocolV3, StreamProtocolV2];
/** WebSocket subprotocols served (binary framing only). */
export const WS_REMOTECOMMAND_PROTOCOLS = [StreamProtocolV5, StreamProtocolV4, 'channel.k8s.io'];

export interface StreamOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export interface TerminalSize {
  width: number;
  height: number;
}

/** What a runtime gets to run a command (or attach) with. */
export interface CommandIO {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  tty: boolean;
  /** Emits 'resize' (TerminalSize) when the client's terminal changes (tty only). */
  resize: EventEmitter<{ resize: [TerminalSize] }>;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

/** How the command ended: its exit code, or an error that kept it from running. */
export type CommandResult = { exitCode: number } | { error: string };

export type CommandHandler = (io: CommandIO) => Promise<CommandResult>;

interface Status {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: { reason?: string; message: string }[] };
  code?: number;
}

/** The metav1.Status the kubelet reports for a finished command. */
export function commandStatus(result: CommandResult, cmd?: string[]): Status {
  if ('error' in result) {
    const message = `Internal error occurred: error executing command in container: ${result.error}`;
    return {
      metadata: {},
      status: 'Failure',
      message,
      reason: 'InternalError',
      details: { causes: [{ message: `error executing command in container: ${result.error}` }] },
      code: 500,
    };
  }
  if (result.exitCode === 0) return { metadata: {}, status: 'Success' };
  const what = cmd ? `command '${cmd.join(' ')}' exited with ${result.exitCode}` : `exit code ${result.exitCode}`;
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: ${what}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(result.exitCode) }] },
  };
}

/** The error stream's payload for a protocol version (undefined: nothing to write). */
function statusPayload(protocol: string, status: Status): Buffer | undefined {
  if (protocol === StreamProtocolV4 || protocol === StreamProtocolV5) return Buffer.from(JSON.stringify(status));
  return status.status === 'Success' ? undefined : Buffer.from(status.message ?? 'error');
}

/** Parses resize events: JSON objects {Width, Height}, newline separated or back to back. */
export class ResizeDecoder {
  private buf = '';
  constructor(private readonly onSize: (s: TerminalSize) => void) {}

  push(chunk: Buffer | string): void {
    this.buf += chunk.toString();
    for (;;) {
      const start = this.buf.indexOf('{');
      if (start < 0) {
        this.buf = '';
        return;
      }
      const end = this.buf.indexOf('}', start);
      if (end < 0) {
        this.buf = this.buf.slice(start);
        return;
      }
      const text = this.buf.slice(start, end + 1);
      this.buf = this.buf.slice(end + 1);
      try {
        const v = JSON.parse(text) as { Width?: number; Height?: number; width?: number; height?: number };
        const width = Number(v.Width ?? v.width ?? 0);
        const height = Number(v.Height ?? v.height ?? 0);
        if (width > 0 && height > 0) this.onSize({ width, height });
      } catch {
        /* a malformed event is skipped, as the kubelet's decoder stops on it */
      }
    }
  }
}

const endWritable = (w: Writable | undefined) =>
  new Promise<void>((resolve) => {
    if (!w || w.writableFinished || w.destroyed) return resolve();
    const timer = setTimeout(resolve, 5000);
    timer.unref();
    w.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    w.end(() => {
      clearTimeout(timer);
      resolve();
    });
  });

// ---------------------------------------------------------------------------------------------
// SPDY

/**
 * Serves one exec/attach session on an upgraded SPDY connection: waits (up to `timeoutMs`) for
 * the client's streams, runs `handler`, reports the outcome and says goodbye.
 */
export async function serveRemoteCommandSpdy(
  conn: SpdyConnection,
  protocol: string,
  opts: StreamOptions,
  handler: CommandHandler,
  cmd?: string[],
  timeoutMs = 30_000,
): Promise<void> {
  const resizable = opts.tty && protocol !== StreamProtocolV2;
  const expected = 1 + Number(opts.stdin) + Number(opts.stdout) + Number(opts.stderr) + Number(resizable);
  const got: Partial<Record<'error' | 'stdin' | 'stdout' | 'stderr' | 'resize', SpdyStream>> = {};
  const ready = await new Promise<boolean>((resolve) => {
    let count = 0;
    const timer = setTimeout(() => done(false), timeoutMs);
    const onClose = () => done(false);
    function done(ok: boolean) {
      clearTimeout(timer);
      conn.off('stream', onStream);
      conn.off('close', onClose);
      resolve(ok);
    }
    function onStream(s: SpdyStream) {
      const type = s.header('streamtype') ?? '';
      void s.reply();
      if (type === 'error' || type === 'stdin' || type === 'stdout' || type === 'stderr' || type === 'resize') {
        if (!got[type]) {
          got[type] = s;
          if (++count === expected) done(true);
        }
      }
    }
    conn.on('stream', onStream);
    conn.once('close', onClose);
  });
  if (!ready || !got.error) {
    conn.close();
    return;
  }
  const abort = new AbortController();
  conn.once('close', () => abort.abort());
  const resize = new EventEmitter<{ resize: [TerminalSize] }>();
  if (got.resize) {
    const dec = new ResizeDecoder((s) => resize.emit('resize', s));
    got.resize.on('data', (d: Buffer) => dec.push(d));
  }
  // A stream the client did not ask for (or reset) is simply absent.
  const io: CommandIO = {
    stdin: got.stdin,
    stdout: got.stdout,
    stderr: got.stderr,
    tty: opts.tty,
    resize,
    signal: abort.signal,
  };
  let result: CommandResult;
  try {
    result = await handler(io);
  } catch (err) {
    result = { error: (err as Error).message };
  }
  await Promise.all([endWritable(got.stdout), endWritable(got.stderr)]);
  const payload = statusPayload(protocol, commandStatus(result, cmd));
  if (payload && !got.error.destroyed) got.error.write(payload);
  await endWritable(got.error);
  got.stdin?.resume();
  await conn.goAway();
}

// ---------------------------------------------------------------------------------------------
// WebSocket

const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

/** Serves one exec/attach session on an accepted WebSocket (protocol = the negotiated subprotocol). */
export async function serveRemoteCommandWebSocket(
  ws: WebSocket,
  protocol: string,
  opts: StreamOptions,
  handler: CommandHandler,
  cmd?: string[],
): Promise<void> {
  const abort = new AbortController();
  const stdin = opts.stdin ? new PassThrough() : undefined;
  const resize = new EventEmitter<{ resize: [TerminalSize] }>();
  const dec = new ResizeDecoder((s) => resize.emit('resize', s));
  ws.on('message', (data: Buffer) => {
    const msg = Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (msg.length === 0) return; // text or binary frame alike, as wsstream reads them
    const ch = msg[0];
    if (ch === CHANNEL.stdin) {
      if (stdin && !stdin.writableEnded) stdin.write(msg.subarray(1));
    } else if (ch === CHANNEL.resize) {
      if (opts.tty) dec.push(msg.subarray(1));
    } else if (ch === CHANNEL.close && protocol === StreamProtocolV5 && msg.length >= 2) {
      if (msg[1] === CHANNEL.stdin) stdin?.end();
    }
  });
  ws.on('close', () => {
    stdin?.end();
    abort.abort();
  });
  ws.on('error', () => abort.abort());
  const stdout = opts.stdout ? new ChannelWriter(ws, CHANNEL.stdout) : undefined;
  const stderr = opts.stderr ? new ChannelWriter(ws, CHANNEL.stderr) : undefined;
  // As the kubelet: an empty message on the lowest writable channel says the session is up.
  ws.send(Buffer.from([opts.stdout ? CHANNEL.stdout : opts.stderr ? CHANNEL.stderr : CHANNEL.error]), { binary: true });
  let result: CommandResult;
  try {
    result = await handler({ stdin, stdout, stderr, tty: opts.tty, resize, signal: abort.signal });
  } catch (err) {
    result = { error: (err as Error).message };
  }
  await Promise.all([endWritable(stdout), endWritable(stderr)]);
  if (ws.readyState === ws.OPEN) {
    const payload = statusPayload(protocol, commandStatus(result, cmd));
    if (payload)
      await new Promise<void>((resolve) =>
        ws.send(Buffer.concat([Buffer.from([CHANNEL.error]), payload]), { binary: true }, () => resolve()),
      );
    ws.close(1000);
    const timer = setTimeout(() => ws.terminate(), 5000);
    timer.unref();
    ws.once('close', () => clearTimeout(timer));
  }
}
