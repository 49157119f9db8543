// What the ingress reports about each request: an access log line (JSON, or nginx's "combined"
// format) and Prometheus metrics under ingress-nginx's names, so its dashboards and alerts work:
// nginx_ingress_controller_requests, ..._request_duration_seconds (the whole request at the
// proxy), ..._response_duration_seconds (the upstream: from sending the request to the last byte
// of its response, nginx's $upstream_response_time) and ..._response_size, by namespace, ingress,
// service, host, path, method and status. Served on --ingress-metrics-port (/metrics, /healthz).
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { Counter, Histogram, Registry } from 'prom-client';
import type { Logger } from 'pino';

export type AccessLogFormat = 'json' | 'combined';

export interface RequestRecord {
  start: Date;
  clientIP: string;
  method: string;
  host: string;
  url: string;
  httpVersion: string;
  status: number;
  /** Response body bytes (Content-Length; 0 when unknown). */
  bytes: number;
  durationMs: number;
  userAgent?: string;
  referer?: string;
  requestId?: string;
  /** The route's object (Ingress, HTTPProxy or HTTPRoute) and path, when one matched. */
  namespace?: string;
  ingress?: string;
  kind?: string;
  path?: string;
  service?: string;
  upstreamAddr?: string;
  upstreamStatus?: number;
  upstreamMs?: number;
}

export interface ObserverOptions {
  /** A file to append to, `-` for stdout, unset: no access log. */
  accessLog?: string;
  accessLogFormat?: AccessLogFormat;
  logger: Logger;
}

const LABELS = ['namespace', 'ingress', 'service', 'host', 'path', 'method', 'status'] as const;
const TIME_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SIZE_BUCKETS = [10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000];

/** One nginx "combined" line: `$remote_addr - - [$time_local] "$request" $status $bytes "$referer" "$agent"`. */
export function combinedLine(r: RequestRecord): string {
  const d = r.start;
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number) => String(n).padStart(2, '0');
  const time = `${two(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
  const q = (s: string | undefined) => `"${(s ?? '-').replace(/["\\]/g, (c) => '\\' + c)}"`;
  return `${r.clientIP} - - [${time}] ${q(`${r.method} ${r.url} HTTP/${r.httpVersion}`)} ${r.status} ${r.bytes} ${q(r.referer)} ${q(r.userAgent)}`;
}

/** One JSON line, fields named as ingress-nginx's common JSON log-format-upstream examples. */
export function jsonLine(r: RequestRecord): string {
  return JSON.stringify({
    time: r.start.toISOString(),
    remote_addr: r.clientIP,
    request_id: r.requestId,
    method: r.method,
    host: r.host,
    uri: r.url,
    protocol: `HTTP/${r.httpVersion}`,
    status: r.status,
    bytes_sent: r.bytes,
    request_time: r.durationMs / 1000,
    http_referer: r.referer,
    http_user_agent: r.userAgent,
    namespace: r.namespace,
    ingress_name: r.ingress,
    ingress_kind: r.kind,
    service_name: r.service,
    upstream_addr: r.upstreamAddr,
    upstream_status: r.upstreamStatus,
    upstream_response_time: r.upstreamMs === undefined ? undefined : r.upstreamMs / 1000,
  });
}

export class IngressObserver {
  readonly registry = new Registry();
  private readonly requests: Counter<(typeof LABELS)[number]>;
  private readonly duration: Histogram<(typeof LABELS)[number]>;
  private readonly upstream: Histogram<(typeof LABELS)[number]>;
  private readonly size: Histogram<(typeof LABELS)[number]>;
  private readonly out?: WriteStream | NodeJS.WriteStream;
  private server?: Server;

  constructor(private readonly o: ObserverOptions) {
    const common = { labelNames: LABELS, registers: [this.registry] };
    this.requests = new Counter({
      name: 'nginx_ingress_controller_requests',
      help: 'The total number of client requests',
      ...common,
    });
    this.duration = new Histogram({
      name: 'nginx_ingress_controller_request_duration_seconds',
      help: 'The request processing time in seconds (at the proxy)',
      buckets: TIME_BUCKETS,
      ...common,
    });
    this.upstream = new Histogram({
      name: 'nginx_ingress_controller_response_duration_seconds',
      help: 'The time spent on receiving the response from the upstream server, in seconds',
      buckets: TIME_BUCKETS,
      ...common,
    });
    this.size = new Histogram({
      name: 'nginx_ingress_controller_response_size',
      help: 'The response length (including request line, header, and request body)',
      buckets: SIZE_BUCKETS,
      ...common,
    });
    if (o.accessLog === '-') this.out = process.stdout;
    else if (o.accessLog) {
      this.out = createWriteStream(o.accessLog, { flags: 'a' });
      this.out.on('error', (err) => o.logger.error({ err }, `ingress: cannot write the access log ${o.accessLog}`));
    }
  }

  record(r: RequestRecord): void {
    const labels = {
      namespace: r.namespace ?? '',
      ingress: r.ingress ?? '',
      service: r.service ?? '',
      host: r.host,
      path: r.path ?? '',
      method: r.method,
      status: String(r.status),
    };
    this.requests.inc(labels);
    this.duration.observe(labels, r.durationMs / 1000);
    if (r.upstreamMs !== undefined) this.upstream.observe(labels, r.upstreamMs / 1000);
    this.size.observe(labels, r.bytes);
    if (this.out) this.out.write((this.o.accessLogFormat === 'combined' ? combinedLine(r) : jsonLine(r)) + '\n');
  }

  /** Serves /metrics and /healthz on the port (0: none); returns the port listened on. */
  async listen(port: number, address: string): Promise<number> {
    if (!port) return 0;
    this.server = createServer((req, res) => {
      if (req.url === '/metrics')
        void this.registry.metrics().then((body) => {
          res.writeHead(200, { 'content-type': this.registry.contentType });
          res.end(body);
        });
      else if (req.url === '/healthz') res.end('ok');
      else {
        res.writeHead(404);
        res.end();
      }
    });
    return new Promise((resolve) => {
      this.server!.once('error', (err) => {
        this.o.logger.error({ err, port }, 'ingress: no metrics listener');
        resolve(0);
      });
      this.server!.listen(port, address, () => resolve((this.server!.address() as { port: number }).port));
    });
  }

  async stop(): Promise<void> {
    if (this.out && this.out !== process.stdout)
      await new Promise<void>((r) => (this.out as WriteStream).end(() => r()));
    if (this.server?.listening) await new Promise<void>((r) => this.server!.close(() => r()));
  }
}
