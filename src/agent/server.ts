// The node agent's HTTPS server: the kubelet's API on port 10250 that the API server calls for
// `kubectl logs`, `exec`, `attach`, `port-forward` and `nodes/<n>/proxy`.
//
// Every request is authenticated and authorized as the kubelet does (auth.ts): a client
// certificate of the cluster CA or a bearer token (TokenReview) names the user, and a
// SubjectAccessReview on nodes/proxy (or log, stats, ...) of this node decides; the API server
// presents its kubelet-client certificate. Logs are read from the CRI log files here (logs.ts). Exec, attach
// and port-forward are not implemented here at all: the runtime's Exec/Attach/PortForward calls
// return a URL on its own streaming server (containerd speaks remotecommand over SPDY and
// WebSocket, and the port-forward protocol), so the agent only replays the client's upgrade
// request there and then copies bytes both ways — whatever the backend answers, including a
// refusal (kubectl tries WebSocket first and falls back to SPDY only if it sees the refusal).
import { access } from 'node:fs/promises';
import https from 'node:https';
import tls from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { readLogs, sinceOf, type LogOptions } from './logs.js';
import { dialURL, proxyUpgrade, writeRawResponse } from '../machinery/upgradeproxy.js';
import type { Runtime } from './runtime/types.js';
import type { AgentAuth } from './auth.js';

export interface LocatedContainer {
  current?: { id: string; logPath: string; running: boolean };
  previous?: { id: string; logPath: string };
}

/** What the server needs from the agent: its runtime and where a pod's containers are (sync or async). */
export interface PodLocator {
  runtime: Runtime;
  /** Current and previous runtime containers of a pod's container (by pod namespace/name and container name); undefined: no such pod here. */
  container(
    namespace: string,
    pod: string,
    container: string,
  ): LocatedContainer | undefined | Promise<LocatedContainer | undefined>;
  /** The pod's sandbox id, if it has one. */
  sandbox(namespace: string, pod: string): string | undefined | Promise<string | undefined>;
}

export interface AgentServerOptions {
  locator: PodLocator;
  /** Authentication and authorization of every request (TokenReview / SubjectAccessReview). */
  auth: AgentAuth;
  /** Serving certificate and key, and the CA client certificates must be signed by. */
  tls: { cert: string; key: string; ca: string };
  /** Default 10250, as the kubelet; 0 picks a free port. */
  port?: number;
  bindAddress?: string;
  logger?: Logger;
  /** /metrics, /metrics/cadvisor, /metrics/resource (agent/metrics.ts). */
  metrics?: { render(path: string): Promise<string | undefined>; contentType: string };
}

// ---------------------------------------------------------------------------------------------
// The server.

/** A boolean query parameter as Go's API machinery decodes it: "false"/"0" are false, anything else (even empty) true. */
function flag(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v !== null && v.toLowerCase() !== 'false' && v !== '0';
}

/** The streaming flags of exec/attach as the kubelet reads them ("1", or "true" from other clients). */
function streamFlag(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v === '1' || v?.toLowerCase() === 'true';
}

class HttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The kubelet's log options from a /containerLogs query (errors as the kubelet words them). */
export function logOptionsFromQuery(q: URLSearchParams, nowMs = Date.now()): LogOptions & { previous: boolean } {
  const int = (name: string): number | undefined => {
    const v = q.get(name);
    if (v === null) return undefined;
    if (!/^-?\d+$/.test(v)) throw new HttpError(400, '{"message": "Unable to decode query."}');
    return Number(v);
  };
  // Backwards compatibility: "tail" (with "all" meaning no limit) stands for tailLines.
  const tail = q.get('tail');
  if (tail) {
    if (tail === 'all') q.delete('tailLines');
    else q.set('tailLines', tail);
  }
  const tailLines = int('tailLines');
  const limitBytes = int('limitBytes');
  const sinceSeconds = int('sinceSeconds');
  const sinceTimeText = q.get('sinceTime') ?? undefined;
  let sinceTime: Date | undefined;
  if (sinceTimeText !== undefined) {
    sinceTime = new Date(sinceTimeText);
    if (Number.isNaN(sinceTime.getTime())) throw new HttpError(400, '{"message": "Unable to decode query."}');
  }
  const invalid =
    (tailLines !== undefined && tailLines < 0) ||
    (limitBytes !== undefined && limitBytes < 1) ||
    (sinceSeconds !== undefined && sinceTime !== undefined) ||
    (sinceSeconds !== undefined && sinceSeconds < 1);
  if (invalid) throw new HttpError(422, '{"message": "Invalid request."}');
  return {
    follow: flag(q, 'follow'),
    previous: flag(q, 'previous'),
    timestamps: flag(q, 'timestamps'),
    tailLines,
    limitBytes,
    sinceNs: sinceOf(sinceSeconds, sinceTime, nowMs),
  };
}

/** A CRI error's HTTP status as the kubelet's streaming.WriteError maps it (gRPC NotFound → 404). */
function runtimeErrorCode(err: unknown): number {
  const code = (err as { code?: unknown })?.code;
  if (code === 5) return 404;
  if (code === 8) return 429;
  return 500;
}

export class AgentServer {
  private server?: https.Server;
  private readonly sockets = new Set<Duplex>();
  private readonly follows = new Set<AbortController>();

  constructor(readonly options: AgentServerOptions) {}

  get log(): Logger | undefined {
    return this.options.logger;
  }

  get port(): number {
    const addr = this.server?.address();
    return typeof addr === 'object' && addr ? addr.port : (this.options.port ?? 10250);
  }

  /** Listens; resolves with the port. */
  async start(): Promise<number> {
    const { tls: t } = this.options;
    const server = https.createServer({
      cert: t.cert,
      key: t.key,
      ca: t.ca,
      requestCert: true,
      rejectUnauthorized: false,
      requestTimeout: 0,
    });
    this.server = server;
    server.on('connection', (s: Duplex) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    server.on('secureConnection', (s: tls.TLSSocket) => s.setNoDelay(true));
    server.on('request', (req, res) => void this.handle(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 10250, this.options.bindAddress ?? '0.0.0.0', () => resolve());
    });
    return this.port;
  }

  /** Serves a renewed certificate to new connections (open ones keep theirs). */
  setServingCertificate(cert: string, key: string): void {
    this.options.tls = { ...this.options.tls, cert, key };
    this.server?.setSecureContext({ cert, key, ca: this.options.tls.ca });
  }

  async stop(): Promise<void> {
    for (const f of this.follows) f.abort();
    const closed = new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeIdleConnections();
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (code: number, body: string) => {
      if (res.headersSent) return void res.end();
      res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
      res.end(body);
    };
    try {
      const decision = await this.options.auth.check(req);
      if (decision.code !== 200) return send(decision.code, decision.message);
      const url = new URL(req.url ?? '/', 'https://localhost');
      const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      if (url.pathname === '/healthz') return send(200, 'ok');
      switch (parts[0]) {
        case 'containerLogs':
          if (req.method !== 'GET') return send(405, 'Method Not Allowed');
          if (parts.length !== 4) return send(404, '404 page not found\n');
          return await this.containerLogs(parts[1], parts[2], parts[3], url.searchParams, req, res);
        case 'metrics': {
          const body = await this.options.metrics?.render(url.pathname.replace(/\/+$/, ''));
          if (body === undefined) break;
          res.writeHead(200, { 'Content-Type': this.options.metrics!.contentType });
          return void res.end(body);
        }
        case 'exec':
        case 'attach':
        case 'portForward':
          // Only upgrades reach the streaming endpoints (those arrive through 'upgrade').
          return send(400, 'Upgrade request required');
      }
      send(404, '404 page not found\n');
    } catch (err) {
      if (err instanceof HttpError) return send(err.code, err.message);
      this.log?.error({ err, url: req.url }, 'agent request failed');
      send(500, (err as Error).message);
    }
  }

  private async containerLogs(
    ns: string,
    pod: string,
    name: string,
    query: URLSearchParams,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const opts = logOptionsFromQuery(query);
    const { locator } = this.options;
    const found = await locator.container(ns, pod, name);
    if (!found) {
      if (!(await locator.sandbox(ns, pod))) throw new HttpError(404, `pod "${pod}" does not exist`);
      throw new HttpError(404, `container "${name}" not found in pod "${pod}"`);
    }
    let logPath: string;
    let running: () => boolean | Promise<boolean>;
    if (opts.previous) {
      if (!found.previous)
        throw new HttpError(400, `previous terminated container "${name}" in pod "${pod}" not found`);
      logPath = found.previous.logPath;
      running = () => false;
    } else {
      const current = found.current ?? (found.previous && { ...found.previous, running: false });
      if (!current) throw new HttpError(400, `container "${name}" in pod "${pod}" is waiting to start - no logs yet`);
      logPath = current.logPath;
      // Follow ends when this container (not a later restart of it) stops.
      running = async () => {
        const now = (await locator.container(ns, pod, name))?.current;
        return !!now && now.id === current.id && now.running;
      };
      if (!current.running) running = () => false;
    }
    const abort = new AbortController();
    req.once('close', () => abort.abort());
    this.follows.add(abort);
    try {
      // The kubelet's error for a missing file, before any byte of the answer is sent.
      await access(logPath).catch((e: NodeJS.ErrnoException) => {
        throw new HttpError(
          400,
          `failed to try resolving symlinks in path "${logPath}": lstat ${logPath}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`,
        );
      });
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Transfer-Encoding': 'chunked' });
      // Headers go out at once, so a following client sees the stream open before any line.
      res.flushHeaders();
      await readLogs(logPath, opts, res, { running, signal: abort.signal });
      res.end();
    } finally {
      this.follows.delete(abort);
    }
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    try {
      const decision = await this.options.auth.check(req);
      if (decision.code !== 200) return writeRawResponse(socket, decision.code, decision.message);
      const url = new URL(req.url ?? '/', 'https://localhost');
      const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      const q = url.searchParams;
      const { locator } = this.options;
      let streamURL: string;
      if (parts[0] === 'exec' || parts[0] === 'attach') {
        // /exec/{ns}/{pod}/{container} or /exec/{ns}/{pod}/{uid}/{container}.
        if (parts.length !== 4 && parts.length !== 5) return writeRawResponse(socket, 404, '404 page not found\n');
        const [ns, pod] = [parts[1], parts[2]];
        const name = parts[parts.length - 1];
        const tty = streamFlag(q, 'tty');
        const stdin = streamFlag(q, 'input') || streamFlag(q, 'stdin');
        const stdout = streamFlag(q, 'output') || streamFlag(q, 'stdout');
        // A terminal merges stderr into stdout (the kubelet drops the stderr stream then).
        const stderr = !tty && (streamFlag(q, 'error') || streamFlag(q, 'stderr'));
        if (!stdin && !stdout && !stderr)
          return writeRawResponse(socket, 400, 'you must specify at least 1 of stdin, stdout, stderr');
        const found = await locator.container(ns, pod, name);
        if (!found && !(await locator.sandbox(ns, pod))) return writeRawResponse(socket, 404, 'pod does not exist');
        const current = found?.current;
        if (!current) return writeRawResponse(socket, 500, `container not found ("${name}")`);
        streamURL =
          parts[0] === 'exec'
            ? await locator.runtime.exec({
                containerId: current.id,
                cmd: q.getAll('command'),
                tty,
                stdin,
                stdout,
                stderr,
              })
            : await locator.runtime.attach({ containerId: current.id, tty, stdin, stdout, stderr });
      } else if (parts[0] === 'portForward') {
        if (parts.length !== 3 && parts.length !== 4) return writeRawResponse(socket, 404, '404 page not found\n');
        const sandbox = await locator.sandbox(parts[1], parts[2]);
        if (!sandbox) return writeRawResponse(socket, 404, 'pod does not exist');
        const ports: number[] = [];
        for (const list of q.getAll('port')) {
          for (const p of list.split(',')) {
            const n = Number(p);
            if (!/^\d+$/.test(p) || n > 65535)
              return writeRawResponse(
                socket,
                400,
                `unable to parse "${p}" as a port: strconv.ParseUint: parsing "${p}": invalid syntax`,
              );
            if (n === 0) return writeRawResponse(socket, 400, `port "${p}" must be > 0`);
            ports.push(n);
          }
        }
        streamURL = await locator.runtime.portForward({ podSandboxId: sandbox, port: ports });
      } else {
        return writeRawResponse(socket, 404, '404 page not found\n');
      }
      const target = new URL(streamURL);
      proxyUpgrade(
        req,
        socket,
        head,
        {
          dial: dialURL(target),
          host: target.host,
          path: `${target.pathname}${target.search}`,
          onDialError: (err, client) => writeRawResponse(client, 500, `error dialing backend: ${err.message}`),
        },
        this.log,
      );
    } catch (err) {
      this.log?.warn({ err, url: req.url }, 'streaming request failed');
      writeRawResponse(socket, runtimeErrorCode(err), (err as Error).message ?? String(err));
    }
  }
}
