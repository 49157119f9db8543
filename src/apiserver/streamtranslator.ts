// Exec and attach over WebSocket, translated to SPDY towards the node, as upstream's API server
// does it (k8s.io/apiserver's StreamTranslatorHandler, TranslateStreamCloseWebsocketRequests):
// kubectl >= 1.30 asks for `v5.channel.k8s.io`, a WebSocket whose messages carry one channel each
// (first byte 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize; [255, n] half-closes channel n).
// The API server accepts the WebSocket itself and runs the session against the node agent as a
// SPDY client (remotecommand v4: one SPDY stream per standard stream), so a runtime whose
// streaming server knows only SPDY (containerd 1.6) serves these clients as well as one that
// knows WebSocket too. The outcome goes to the client on the error channel as a metav1.Status:
// Success, NonZeroExitCode with an ExitCode cause, the node's refusal, or an InternalError.
//
// Upstream translates v5 only and passes older WebSocket protocols through to the kubelet. Here
// v4 (the Python client's) is translated too, so that every runtime serves a WebSocket session
// through this one code path: containerd 1.6 knows v4 but not v5, the process runtime's own
// streaming server knows both. The channels are the same; v4 only lacks the close signal.
import type { IncomingMessage } from 'node:http';
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { SpdyConnection, type SpdyStream } from '../machinery/streaming/spdy.js';
import { ChannelWriter, decodeChannelMessage, encodeChannelMessage } from '../machinery/streaming/wschannel.js';

export const STREAM_PROTOCOL_V4 = 'v4.channel.k8s.io';
export const STREAM_PROTOCOL_V5 = 'v5.channel.k8s.io';
/** WebSocket subprotocols this module serves, preferred first. */
const TRANSLATED_PROTOCOLS = [STREAM_PROTOCOL_V5, STREAM_PROTOCOL_V4];

const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

/** The streams an exec/attach asked for (PodExecOptions / PodAttachOptions). */
export interface RemoteCommandOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** Where the SPDY session goes: the node agent's exec/attach URL. */
export interface SpdyBackend {
  /** Opens the connection (TLS to the agent); resolves once it can be written to. */
  dial(): Promise<Duplex>;
  /** Value of the Host header. */
  host: string;
  /** Path and query of the agent's exec or attach endpoint. */
  path: string;
}

/** metav1.Status as written on the error channel (field order as Go marshals it). */
export interface ExecStatus {
  kind?: string;
  apiVersion?: string;
  metadata: Record<string, unknown>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: { reason?: string; message: string }[] };
  code?: number;
}

function offeredProtocols(req: IncomingMessage): string[] {
  const raw = req.headers['sec-websocket-protocol'];
  return (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).split(',').map((p) => p.trim());
}

/** The subprotocol a WebSocket exec/attach request is translated with; undefined: not one to translate. */
export function translatedProtocol(req: IncomingMessage): string | undefined {
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return undefined;
  const offered = offeredProtocols(req);
  return TRANSLATED_PROTOCOLS.find((p) => offered.includes(p));
}

const SUCCESS: ExecStatus = { metadata: {}, status: 'Success' };

/** apierrors.NewInternalError. */
export function internalErrorStatus(message: string): ExecStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${message}`,
    reason: 'InternalError',
    details: { causes: [{ message }] },
    code: 500,
  };
}

/** The translator's status for a command that exited with `code` (codeExitToStatusError). */
export function exitCodeStatus(code: number): ExecStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: command terminated with exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

/**
 * What the client gets for the node's v4 error stream, as client-go's SPDY executor reads it
 * (errorDecoderV4) and the translator reports the result: nothing or Success is success, an exit
 * code is passed on, any other failure becomes an internal error with its message.
 */
export function statusFromErrorStream(payload: Buffer): ExecStatus {
  if (payload.length === 0) return SUCCESS;
  const text = payload.toString('utf8');
  let status: Partial<ExecStatus>;
  try {
    status = JSON.parse(text) as Partial<ExecStatus>;
  } catch (err) {
    return internalErrorStatus(`error stream protocol error: ${(err as Error).message} in ${JSON.stringify(text)}`);
  }
  if (status.status === 'Success') return SUCCESS;
  if (status.status !== 'Failure') return internalErrorStatus('error stream protocol error: unknown error');
  if (status.reason !== 'NonZeroExitCode') return internalErrorStatus(status.message ?? '');
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  if (!cause) return internalErrorStatus('error stream protocol error: no ExitCode cause given');
  const code = Number(cause.message);
  if (!/^\d+$/.test(cause.message) || code > 255)
    return internalErrorStatus(`error stream protocol error: invalid exit code value ${JSON.stringify(cause.message)}`);
  return exitCodeStatus(code);
}

/** The node refused the SPDY upgrade: its Status when it sent one, else its text (client-go's wording). */
class UpgradeRefused extends Error {
  constructor(readonly status: ExecStatus) {
    super(status.message);
  }
}

function refusalStatus(body: Buffer): ExecStatus {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as Partial<ExecStatus>;
    if (parsed && parsed.kind === 'Status' && parsed.status) {
      const { kind: _kind, apiVersion: _apiVersion, ...status } = parsed;
      return { ...status, metadata: status.metadata ?? {} } as ExecStatus;
    }
  } catch {
    /* not a Status: its text is the message */
  }
  return internalErrorStatus(`unable to upgrade connection: ${body.toString('utf8').trim()}`);
}

const headerValue = (head: string, name: string) =>
  new RegExp(`\\r\\n${name}:[ \\t]*([^\\r]*)`, 'i').exec(head)?.[1].trim() ?? '';

/** Sends the SPDY upgrade request and resolves with the upgraded connection and any bytes past the 101. */
function upgradeToSpdy(backend: SpdyBackend): Promise<{ socket: Duplex; rest: Buffer }> {
  return backend.dial().then(
    (socket) =>
      new Promise((resolve, reject) => {
        let buf = Buffer.alloc(0);
        const fail = (err: Error) => {
          socket.destroy();
          reject(err);
        };
        const timer = setTimeout(() => fail(new Error('timed out waiting for the node to upgrade')), 30_000);
        timer.unref();
        const onData = (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) {
            if (buf.length > 64 * 1024) fail(new Error('unable to upgrade connection: response head too long'));
            return;
          }
          const head = buf.toString('latin1', 0, end);
          const code = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
          if (code === 101) {
            clearTimeout(timer);
            socket.off('data', onData);
            socket.off('end', onEnd);
            socket.pause();
            if (!/spdy\/3\.1/i.test(headerValue(head, 'upgrade')))
              return fail(new Error('unable to upgrade connection: missing upgrade headers in response'));
            const chosen = headerValue(head, 'x-stream-protocol-version');
            if (chosen !== STREAM_PROTOCOL_V4)
              return fail(new Error(`unable to upgrade connection: the node chose protocol "${chosen}"`));
            return resolve({ socket, rest: buf.subarray(end + 4) });
          }
          // A refusal: its body (by Content-Length, else up to the end of the connection).
          const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? -1);
          if (length >= 0 && buf.length - end - 4 >= length) {
            clearTimeout(timer);
            socket.destroy();
            reject(new UpgradeRefused(refusalStatus(buf.subarray(end + 4, end + 4 + length))));
          }
        };
        const onEnd = () => {
          clearTimeout(timer);
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return fail(new Error('unable to upgrade connection: the node closed the connection'));
          socket.destroy();
          reject(new UpgradeRefused(refusalStatus(buf.subarray(end + 4))));
        };
        socket.on('data', onData);
        socket.once('end', onEnd);
        socket.once('error', fail);
        socket.write(
          `POST ${backend.path} HTTP/1.1\r\nHost: ${backend.host}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n` +
            `X-Stream-Protocol-Version: ${STREAM_PROTOCOL_V4}\r\nContent-Length: 0\r\n\r\n`,
        );
      }),
  );
}

/** Resolves when a readable has ended or gone (a reset stream closes without 'end'). */
const drained = (r: Readable) =>
  new Promise<void>((resolve) => {
    if (r.readableEnded || r.destroyed) return resolve();
    r.once('end', resolve);
    r.once('close', resolve);
  });

/** Copies a SPDY stream to a WebSocket channel, with backpressure; resolves when all was sent. */
function forwardToChannel(src: SpdyStream, ws: WebSocket, channel: number): Promise<void> {
  const out = new ChannelWriter(ws, channel);
  src.pipe(out, { end: false });
  return drained(src).then(
    () =>
      new Promise<void>((resolve) => {
        out.once('close', resolve);
        out.end(resolve);
      }),
  );
}

// After the status the client has this long to close the connection (upstream's finishTimeout).
const FINISH_TIMEOUT_MS = 15 * 60_000;

/** One translated session: the client's WebSocket on one side, a SPDY connection to the node on the other. */
class TranslatedSession {
  private readonly stdin?: PassThrough;
  private readonly resize?: PassThrough;
  private conn?: SpdyConnection;

  constructor(
    private readonly ws: WebSocket,
    private readonly protocol: string,
    private readonly backend: SpdyBackend,
    private readonly opts: RemoteCommandOptions,
    private readonly log?: Logger,
  ) {
    // Input is buffered from the start: the client may type before the node has answered.
    if (opts.stdin) this.stdin = new PassThrough();
    if (opts.tty) this.resize = new PassThrough();
    ws.on('message', (data: Buffer) => this.onMessage(data));
    ws.once('close', () => this.stop());
    ws.on('error', () => this.stop());
  }

  private onMessage(data: Buffer): void {
    const msg = decodeChannelMessage(data, false);
    if (!msg) return;
    const write = (target: PassThrough | undefined) => {
      if (!target || target.writableEnded) return;
      if (!target.write(msg.data)) {
        this.ws.pause();
        target.once('drain', () => this.ws.resume());
      }
    };
    if (msg.channel === CHANNEL.stdin) write(this.stdin);
    else if (msg.channel === CHANNEL.resize) write(this.resize);
    else if (msg.channel === CHANNEL.close && this.protocol === STREAM_PROTOCOL_V5 && msg.data[0] === CHANNEL.stdin)
      this.stdin?.end();
  }

  /** The client went away: the node's session ends with it. */
  private stop(): void {
    this.stdin?.destroy();
    this.resize?.destroy();
    this.conn?.close();
  }

  async run(): Promise<void> {
    // As upstream: an empty message on the lowest writable channel says the session is up.
    const first = this.opts.stdout ? CHANNEL.stdout : this.opts.stderr ? CHANNEL.stderr : CHANNEL.error;
    this.ws.send(encodeChannelMessage(first, Buffer.alloc(0), false), { binary: true });
    let status: ExecStatus;
    try {
      status = await this.execute();
    } catch (err) {
      if (err instanceof UpgradeRefused) status = err.status;
      else {
        this.log?.debug({ err }, 'exec translation failed');
        status = internalErrorStatus((err as Error).message);
      }
    }
    this.conn?.close();
    this.finish(status);
  }

  /** Runs the session over SPDY; resolves with the status the node reported. */
  private async execute(): Promise<ExecStatus> {
    const { socket, rest } = await upgradeToSpdy(this.backend).catch((err: Error) => {
      if (err instanceof UpgradeRefused || err.message.startsWith('unable to upgrade')) throw err;
      throw new Error(`error dialing backend: ${err.message}`);
    });
    if (this.ws.readyState !== this.ws.OPEN) {
      socket.destroy();
      return SUCCESS;
    }
    const conn = new SpdyConnection(socket, rest, 'client');
    this.conn = conn;
    socket.resume();
    const open = (type: string) => conn.openStream({ streamtype: type });
    // The order client-go opens them in; streams this end only reads are half-closed at once.
    const error = await open('error');
    error.end();
    const stdin = this.stdin ? await open('stdin') : undefined;
    const stdout = this.opts.stdout ? await open('stdout') : undefined;
    stdout?.end();
    const stderr = this.opts.stderr ? await open('stderr') : undefined;
    stderr?.end();
    const resize = this.resize ? await open('resize') : undefined;
    if (stdin && this.stdin) this.stdin.pipe(stdin);
    if (resize && this.resize) this.resize.pipe(resize);
    const errorChunks: Buffer[] = [];
    error.on('data', (d: Buffer) => errorChunks.push(d));
    await Promise.all([
      drained(error),
      stdout && forwardToChannel(stdout, this.ws, CHANNEL.stdout),
      stderr && forwardToChannel(stderr, this.ws, CHANNEL.stderr),
    ]);
    return statusFromErrorStream(Buffer.concat(errorChunks));
  }

  /** Reports the status on the error channel, then closes and waits for the client to close too. */
  private finish(status: ExecStatus): void {
    this.stdin?.destroy();
    this.resize?.destroy();
    const ws = this.ws;
    if (ws.readyState !== ws.OPEN) return;
    ws.send(encodeChannelMessage(CHANNEL.error, Buffer.from(JSON.stringify(status)), false), { binary: true });
    ws.close(1000);
    const timer = setTimeout(() => ws.terminate(), FINISH_TIMEOUT_MS);
    timer.unref();
    ws.once('close', () => clearTimeout(timer));
  }
}

/**
 * Serves an exec/attach WebSocket request (translatedProtocol(req) is defined) by running the
 * session against `backend` over SPDY.
 */
export function translateRemoteCommand(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  backend: SpdyBackend,
  opts: RemoteCommandOptions,
  log?: Logger,
): void {
  const protocol = translatedProtocol(req)!;
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: () => protocol });
  wss.handleUpgrade(req, client, head, (ws) => void new TranslatedSession(ws, protocol, backend, opts, log).run());
}
