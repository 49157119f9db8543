// A streaming server for runtimes that have none of their own (the kubelet's pkg/cri/streaming, as
// containerd embeds it): the runtime's Exec/Attach/PortForward calls register the request under a
// one-time token and return a URL here (http://127.0.0.1:<port>/exec/<token>); the agent replays
// the client's upgrade request to that URL and copies bytes both ways. Here the upgrade is
// answered — SPDY/3.1 or WebSocket, for every protocol — and the session driven
// through the runtime's StreamingRuntime callbacks.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { SpdyConnection } from '../../machinery/streaming/spdy.js';
import {
  SPDY_REMOTECOMMAND_PROTOCOLS,
  WS_REMOTECOMMAND_PROTOCOLS,
  serveRemoteCommandSpdy,
  serveRemoteCommandWebSocket,
  type CommandIO,
  type CommandResult,
  type StreamOptions,
} from './remotecommand.js';
import { PORT_FORWARD_PROTOCOL, servePortForwardSpdy, type PortForwardHandler } from './portforward.js';
import { WS_PORT_FORWARD_PROTOCOLS, servePortForwardWebSocket } from './portforward-websocket.js';

/** What the server drives; the runtime implements it. */
export interface StreamingRuntime {
  exec(containerId: string, cmd: string[], io: CommandIO): Promise<CommandResult>;
  attach(containerId: string, io: CommandIO): Promise<CommandResult>;
  /** Bridges `stream` to `port` in the sandbox's network; resolves when done. */
  portForward(podSandboxId: string, port: number, stream: Duplex): Promise<void>;
}

export interface ExecRequest extends StreamOptions {
  containerId: string;
  cmd: string[];
}
export interface AttachRequest extends StreamOptions {
  containerId: string;
}
export interface PortForwardRequest {
  podSandboxId: string;
  port: number[];
}

type Pending =
  | { kind: 'exec'; req: ExecRequest; expires: number }
  | { kind: 'attach'; req: AttachRequest; expires: number }
  | { kind: 'portforward'; req: PortForwardRequest; expires: number };

export interface StreamingServerOptions {
  /** How long a returned URL stays valid (containerd: 1 minute). */
  tokenTTLMs?: number;
  /** How long a client has to open its streams after the upgrade (kubelet: 30s). */
  streamCreationTimeoutMs?: number;
  logger?: Logger;
}

const MAX_TOKENS = 1000;

function header(req: http.IncomingMessage, name: string): string {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : (v ?? '');
}

/** Writes a plain HTTP error on a socket that was to be upgraded, and closes it. */
function refuse(socket: Duplex, code: number, message: string, extra: Record<string, string[]> = {}): void {
  if (socket.destroyed) return;
  const body = Buffer.from(message + '\n');
  let head = `HTTP/1.1 ${code} ${http.STATUS_CODES[code] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n`;
  for (const [k, vs] of Object.entries(extra)) for (const v of vs) head += `${k}: ${v}\r\n`;
  head += `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]));
}

/** The protocol both sides speak: the client's first choice the server supports (httpstream.Handshake). */
export function negotiate(clientProtocols: string[], serverProtocols: string[]): string | undefined {
  return clientProtocols.find((p) => serverProtocols.includes(p));
}

export class StreamingServer {
  private server?: http.Server;
  private readonly pending = new Map<string, Pending>();
  private readonly sockets = new Set<Duplex>();
  private starting?: Promise<void>;

  constructor(
    private readonly runtime: StreamingRuntime,
    private readonly options: StreamingServerOptions = {},
  ) {}

  get baseURL(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error('streaming server is not running');
    return `http://127.0.0.1:${addr.port}`;
  }

  /** Listens on 127.0.0.1 at a free port (once; later calls wait for the first). */
  start(): Promise<void> {
    this.starting ??= new Promise<void>((resolve, reject) => {
      const server = http.createServer({ requestTimeout: 0 });
      this.server = server;
      server.on('connection', (s: Duplex) => {
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
      });
      server.on('request', (req, res) => {
        res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('Upgrade request required\n');
      });
      server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
        this.upgrade(req, socket, head),
      );
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return this.starting;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.starting = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async register(p: Pending, path: string): Promise<string> {
    await this.start();
    const now = Date.now();
    for (const [t, v] of this.pending) if (v.expires <= now) this.pending.delete(t);
    if (this.pending.size >= MAX_TOKENS)
      throw Object.assign(new Error('maximum number of in-flight streaming requests exceeded'), { code: 8 });
    const token = randomBytes(12).toString('base64url');
    this.pending.set(token, p);
    return `${this.baseURL}/${path}/${token}`;
  }

  getExec(req: ExecRequest): Promise<string> {
    if (!req.cmd.length) throw new Error('cmd must not be empty');
    return this.register({ kind: 'exec', req, expires: Date.now() + (this.options.tokenTTLMs ?? 60_000) }, 'exec');
  }

  getAttach(req: AttachRequest): Promise<string> {
    return this.register({ kind: 'attach', req, expires: Date.now() + (this.options.tokenTTLMs ?? 60_000) }, 'attach');
  }

  getPortForward(req: PortForwardRequest): Promise<string> {
    return this.register(
      { kind: 'portforward', req, expires: Date.now() + (this.options.tokenTTLMs ?? 60_000) },
      'portforward',
    );
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const parts = new URL(req.url ?? '/', 'http://localhost').pathname.split('/').filter(Boolean);
    const p = parts.length === 2 ? this.pending.get(parts[1]) : undefined;
    if (!p || p.kind !== parts[0] || p.expires <= Date.now()) return refuse(socket, 404, '404 page not found');
    this.pending.delete(parts[1]);
    const upgrade = header(req, 'upgrade').toLowerCase();
    const connection = header(req, 'connection').toLowerCase();
    if (!connection.includes('upgrade'))
      return refuse(socket, 400, 'unable to upgrade: missing upgrade headers in request');
    if (upgrade === 'websocket') return this.upgradeWebSocket(p, req, socket, head);
    if (upgrade !== 'spdy/3.1')
      return refuse(socket, 400, `unable to upgrade: unsupported protocol "${header(req, 'upgrade')}"`);

    const serverProtocols = p.kind === 'portforward' ? [PORT_FORWARD_PROTOCOL] : SPDY_REMOTECOMMAND_PROTOCOLS;
    const clientProtocols = header(req, 'x-stream-protocol-version')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (!clientProtocols.length) return refuse(socket, 400, 'unable to upgrade: X-Stream-Protocol-Version is required');
    const protocol = negotiate(clientProtocols, serverProtocols);
    if (!protocol) {
      return refuse(
        socket,
        403,
        `unable to upgrade: unable to negotiate protocol: client supports [${clientProtocols.join(' ')}], server accepts [${serverProtocols.join(' ')}]`,
        {
          'X-Accepted-Stream-Protocol-Versions': serverProtocols,
        },
      );
    }
    if (socket instanceof net.Socket) socket.setNoDelay(true);
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`,
    );
    const conn = new SpdyConnection(socket, head);
    const timeout = this.options.streamCreationTimeoutMs ?? 30_000;
    const log = this.options.logger;
    const failed = (err: unknown) => {
      log?.warn({ err }, 'streaming session failed');
      conn.close();
    };
    switch (p.kind) {
      case 'exec':
        serveRemoteCommandSpdy(
          conn,
          protocol,
          p.req,
          (io) => this.runtime.exec(p.req.containerId, p.req.cmd, io),
          p.req.cmd,
          timeout,
        ).catch(failed);
        break;
      case 'attach':
        serveRemoteCommandSpdy(
          conn,
          protocol,
          p.req,
          (io) => this.runtime.attach(p.req.containerId, io),
          undefined,
          timeout,
        ).catch(failed);
        break;
      case 'portforward':
        servePortForwardSpdy(conn, this.portForwarder(p.req), `${p.req.podSandboxId}, uid `, timeout).catch(failed);
        break;
    }
  }

  /** Forwards to the sandbox's ports — only those the request named, when it named any (the API server authorised those). */
  private portForwarder(req: PortForwardRequest): PortForwardHandler {
    return (port, stream) => {
      if (req.port.length && !req.port.includes(port))
        return Promise.reject(new Error(`port ${port} was not requested`));
      return this.runtime.portForward(req.podSandboxId, port, stream);
    };
  }

  private upgradeWebSocket(p: Pending, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const offered = header(req, 'sec-websocket-protocol')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (p.kind === 'portforward') {
      // The ports come with the request here (one connection each), so they are required.
      if (!p.req.port.length) return refuse(socket, 400, 'query parameter "port" is required');
      const protocol = offered.length ? negotiate(offered, WS_PORT_FORWARD_PROTOCOLS) : '';
      if (protocol === undefined)
        return refuse(
          socket,
          400,
          `unable to upgrade: unable to negotiate a WebSocket subprotocol: client offers [${offered.join(' ')}], server accepts [${WS_PORT_FORWARD_PROTOCOLS.join(' ')}]`,
        );
      const pf = p.req;
      const wss = new WebSocketServer({
        noServer: true,
        perMessageDeflate: false,
        handleProtocols: () => protocol || false,
      });
      wss.handleUpgrade(
        req,
        socket,
        head,
        (ws) =>
          void servePortForwardWebSocket(ws, protocol, pf.port, this.portForwarder(pf), `${pf.podSandboxId}, uid `),
      );
      return;
    }
    const protocol = negotiate(offered, WS_REMOTECOMMAND_PROTOCOLS);
    if (!protocol)
      return refuse(
        socket,
        400,
        `unable to upgrade: unable to negotiate a WebSocket subprotocol: client offers [${offered.join(' ')}], server accepts [${WS_REMOTECOMMAND_PROTOCOLS.join(' ')}]`,
      );
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: () => protocol });
    wss.handleUpgrade(req, socket, head, (ws) => {
      const log = this.options.logger;
      const done = (err: unknown) => {
        log?.warn({ err }, 'streaming session failed');
        ws.terminate();
      };
      if (p.kind === 'exec')
        serveRemoteCommandWebSocket(
          ws,
          protocol,
          p.req,
          (io) => this.runtime.exec(p.req.containerId, p.req.cmd, io),
          p.req.cmd,
        ).catch(done);
      else
        serveRemoteCommandWebSocket(ws, protocol, p.req, (io) => this.runtime.attach(p.req.containerId, io)).catch(
          done,
        );
    });
  }
}
