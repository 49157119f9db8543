// NGINX's access log for the ingress's observer (observe.ts): requests NGINX serves itself are
// logged as JSON (`log_format ... escape=json`, the route's namespace, Ingress, Service and path
// set per location) to a syslog UDP socket on 127.0.0.1 that k8ts reads; each line becomes the
// same RequestRecord the JS proxy makes, so the access log and the Prometheus metrics cover both.
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { RequestRecord } from '../observe.js';

/** The fields of the log_format (render.ts writes it from this list). */
export const LOG_FIELDS: Record<string, string> = {
  msec: '$msec',
  request_time: '$request_time',
  remote_addr: '$remote_addr',
  request_id: '$k8ts_request_id',
  method: '$request_method',
  host: '$host',
  uri: '$request_uri',
  protocol: '$server_protocol',
  status: '$status',
  bytes: '$body_bytes_sent',
  referer: '$http_referer',
  user_agent: '$http_user_agent',
  namespace: '$k8ts_namespace',
  ingress: '$k8ts_ingress',
  service: '$k8ts_service',
  path: '$k8ts_path',
  upstream_addr: '$upstream_addr',
  upstream_status: '$upstream_status',
  upstream_response_time: '$upstream_response_time',
};

/** The log_format's text: one JSON object (values escaped by NGINX's escape=json). */
export function logFormat(): string {
  return `{${Object.entries(LOG_FIELDS)
    .map(([k, v]) => `"${k}":"${v}"`)
    .join(',')}}`;
}

/** The last of NGINX's comma-separated values (one per upstream tried). */
const last = (v: string | undefined) =>
  v
    ?.split(/[,:]\s/)
    .pop()
    ?.trim() || undefined;

/** A request record from one syslog message NGINX sent (`<PRI>TIMESTAMP TAG: {json}`). */
export function parseNginxLog(message: string): RequestRecord | undefined {
  const start = message.indexOf('{');
  if (start < 0) return undefined;
  let f: Record<string, string>;
  try {
    f = JSON.parse(message.slice(start)) as Record<string, string>;
  } catch {
    return undefined;
  }
  const seconds = Number(f.request_time) || 0;
  const upstreamTimes = (f.upstream_response_time ?? '')
    .split(/[,:]\s/)
    .map(Number)
    .filter((n) => Number.isFinite(n));
  const upstreamStatus = Number(last(f.upstream_status));
  const opt = (v: string | undefined) => (v ? v : undefined);
  return {
    start: new Date(Number(f.msec) * 1000 - seconds * 1000),
    clientIP: f.remote_addr ?? '',
    method: f.method ?? '',
    host: f.host ?? '',
    url: f.uri ?? '',
    httpVersion: (f.protocol ?? 'HTTP/1.1').replace(/^HTTP\//, ''),
    status: Number(f.status) || 0,
    bytes: Number(f.bytes) || 0,
    durationMs: seconds * 1000,
    userAgent: opt(f.user_agent),
    referer: opt(f.referer),
    requestId: opt(f.request_id),
    namespace: opt(f.namespace),
    ingress: opt(f.ingress),
    kind: f.ingress ? 'Ingress' : undefined,
    path: opt(f.path),
    service: opt(f.service),
    upstreamAddr: last(f.upstream_addr),
    upstreamStatus: Number.isFinite(upstreamStatus) && upstreamStatus > 0 ? upstreamStatus : undefined,
    upstreamMs:
      f.upstream_response_time && upstreamTimes.length ? upstreamTimes.reduce((a, b) => a + b, 0) * 1000 : undefined,
  };
}

/** The UDP socket NGINX's syslog output goes to: each message is recorded. */
export async function listenForNginxLog(
  record: (r: RequestRecord) => void,
  logger: Logger,
): Promise<{ port: number; close(): void }> {
  const socket: Socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  socket.on('message', (msg) => {
    const r = parseNginxLog(msg.toString('utf8'));
    if (r) record(r);
  });
  socket.on('error', (err) => logger.warn({ err }, 'ingress: the NGINX access log socket failed'));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return { port: socket.address().port, close: () => socket.close() };
}
