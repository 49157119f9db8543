// grpc probe: one unary call of grpc.health.v1.Health/Check over plaintext HTTP/2 to podIP:port,
// written against node:http2 directly because the call is tiny and fixed:
//   request  POST /grpc.health.v1.Health/Check, content-type application/grpc, te: trailers,
//            body = [compressed flag 0][uint32 BE length][HealthCheckRequest{string service = 1}]
//   response [flag][length][HealthCheckResponse{enum status = 1}], grpc-status in the trailers
//            (or in the headers of a "trailers-only" response).
// Outcomes and messages follow the kubelet's prober (pkg/probe/grpc), which dials with
// grpc.WithBlock: a refused connection is retried until the timeout, so an unreachable server
// ends with the "failed to connect ... within" message.

import { STATUS_CODES } from 'node:http';
import http2 from 'node:http2';
import type { GRPCAction } from 'kubernetes-types/core/v1.js';
import { goDuration, goQuote, joinHostPort } from './goerrors.js';
import { PROBE_USER_AGENT, type ProbeContext, type ProbeOutcome } from './types.js';

const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
const CODE_NAMES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];
const CODE_UNIMPLEMENTED = 12;
const CODE_DEADLINE_EXCEEDED = 4;
/** Pause between connection attempts (grpc-go's reconnect backoff starts at one second). */
const RECONNECT_DELAY_MS = 1000;

// ---- protobuf, just the two messages of the health service ----

function encodeVarint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** HealthCheckRequest framed for the wire; an empty service is the proto3 default, so omitted. */
export function encodeHealthCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const message =
    name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, ...encodeVarint(name.length)]), name]);
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

function readVarint(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const byte = buf[pos++];
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return [value, pos];
    scale *= 128;
  }
}

/** Decodes HealthCheckResponse.status (0 when absent), skipping unknown fields. */
export function decodeHealthCheckResponse(message: Buffer): number {
  let status = 0;
  let pos = 0;
  while (pos < message.length) {
    let key: number;
    [key, pos] = readVarint(message, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      let value: number;
      [value, pos] = readVarint(message, pos);
      if (field === 1) status = value;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 2) {
      let len: number;
      [len, pos] = readVarint(message, pos);
      pos += len;
    } else if (wire === 5) {
      pos += 4;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
  if (pos > message.length) throw new Error('truncated message');
  return status;
}

export function servingStatusName(status: number): string {
  return SERVING_STATUS[status] ?? String(status);
}

// ---- transport ----

/** Go's status.Error text: `rpc error: code = NotFound desc = unknown service`. */
function rpcError(code: number, message: string): string {
  return `rpc error: code = ${CODE_NAMES[code] ?? `Code(${code})`} desc = ${message}`;
}

/** grpc-go's mapping of a non-200 HTTP status to a gRPC code. */
function codeForHttpStatus(status: number): number {
  switch (status) {
    case 400:
      return 13;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return 12;
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;
    default:
      return 2;
  }
}

function decodeGrpcMessage(raw: unknown): string {
  if (typeof raw !== 'string') return '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

type Connected = { session: http2.ClientHttp2Session } | { timedOut: true };

/** Opens an HTTP/2 session, retrying failed attempts until the deadline (grpc.WithBlock). */
async function connect(authority: string, deadline: number): Promise<Connected> {
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return { timedOut: true };
    const attempt = await new Promise<http2.ClientHttp2Session | 'failed' | 'timeout'>((resolve) => {
      const session = http2.connect(`http://${authority}`);
      const timer = setTimeout(() => {
        session.destroy();
        resolve('timeout');
      }, remaining);
      session.once('connect', () => {
        clearTimeout(timer);
        resolve(session);
      });
      session.once('error', () => {
        clearTimeout(timer);
        session.destroy();
        resolve('failed');
      });
    });
    if (attempt === 'timeout') return { timedOut: true };
    if (attempt !== 'failed') {
      // Errors after this point are reported through the call.
      attempt.on('error', () => {});
      return { session: attempt };
    }
    const wait = Math.min(RECONNECT_DELAY_MS, deadline - Date.now());
    if (wait <= 0) return { timedOut: true };
    await new Promise((r) => setTimeout(r, wait));
  }
}

type CallResult =
  { kind: 'status'; status: number } | { kind: 'rpcError'; code: number; message: string } | { kind: 'timeout' };

/** Makes the Check call on an open session; never rejects. */
function check(session: http2.ClientHttp2Session, service: string, deadline: number): Promise<CallResult> {
  return new Promise((resolve) => {
    const remaining = Math.max(1, deadline - Date.now());
    let settled = false;
    const settle = (value: CallResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => {
      settle({ kind: 'timeout' });
      stream.close(http2.constants.NGHTTP2_CANCEL);
    }, remaining);
    const stream = session.request({
      ':method': 'POST',
      ':path': HEALTH_CHECK_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': PROBE_USER_AGENT,
      // Tell the server our deadline, as grpc-go does ("m" = milliseconds).
      'grpc-timeout': `${remaining}m`,
    });
    const chunks: Buffer[] = [];
    let httpStatus = 0;
    let contentType = '';
    let grpcStatus: number | undefined;
    let grpcMessage = '';
    const takeStatus = (headers: http2.IncomingHttpHeaders): void => {
      const raw = headers['grpc-status'];
      if (raw !== undefined) {
        grpcStatus = Number(raw);
        grpcMessage = decodeGrpcMessage(headers['grpc-message']);
      }
    };
    stream.on('response', (headers) => {
      httpStatus = Number(headers[':status']);
      contentType = String(headers['content-type'] ?? '');
      takeStatus(headers);
    });
    stream.on('trailers', takeStatus);
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', (err: Error) =>
      settle({ kind: 'rpcError', code: 14, message: `connection error: ${err.message}` }),
    );
    stream.on('close', () => {
      if (httpStatus !== 200) {
        const text = httpStatus
          ? `unexpected HTTP status code received from server: ${httpStatus} (${STATUS_CODES[httpStatus] ?? 'Unknown'})`
          : 'transport is closing';
        settle({ kind: 'rpcError', code: httpStatus ? codeForHttpStatus(httpStatus) : 14, message: text });
        return;
      }
      if (!contentType.startsWith('application/grpc')) {
        settle({
          kind: 'rpcError',
          code: 13,
          message: `transport: received unexpected content-type ${goQuote(contentType)}`,
        });
        return;
      }
      if (grpcStatus === undefined) {
        settle({ kind: 'rpcError', code: 13, message: 'server closed the stream without sending trailers' });
        return;
      }
      if (grpcStatus !== 0) {
        settle({ kind: 'rpcError', code: grpcStatus, message: grpcMessage });
        return;
      }
      const body = Buffer.concat(chunks);
      if (body.length < 5 || body.length < 5 + body.readUInt32BE(1)) {
        settle({
          kind: 'rpcError',
          code: 13,
          message: 'grpc: client streaming protocol violation: get <nil>, want <EOF>',
        });
        return;
      }
      if (body[0] !== 0) {
        settle({
          kind: 'rpcError',
          code: 13,
          message: 'grpc: compressed message received without a negotiated compressor',
        });
        return;
      }
      try {
        settle({ kind: 'status', status: decodeHealthCheckResponse(body.subarray(5, 5 + body.readUInt32BE(1))) });
      } catch (err) {
        settle({
          kind: 'rpcError',
          code: 13,
          message: `grpc: failed to unmarshal the received message: ${(err as Error).message}`,
        });
      }
    });
    stream.end(encodeHealthCheckRequest(service));
  });
}

/** Calls Health/Check on host:port for `service` and classifies the answer like the kubelet. */
export async function grpcProbe(host: string, port: number, service: string, timeoutMs: number): Promise<ProbeOutcome> {
  const deadline = Date.now() + timeoutMs;
  const authority = joinHostPort(host, port);
  const timeout = goDuration(timeoutMs);
  const conn = await connect(authority, deadline);
  if ('timedOut' in conn) {
    return {
      result: 'failure',
      output: `timeout: failed to connect service ${goQuote(authority)} within ${timeout}: context deadline exceeded`,
    };
  }
  try {
    const res = await check(conn.session, service, deadline);
    if (res.kind === 'timeout' || (res.kind === 'rpcError' && res.code === CODE_DEADLINE_EXCEEDED)) {
      return { result: 'failure', output: `timeout: health rpc did not complete within ${timeout}` };
    }
    if (res.kind === 'rpcError') {
      if (res.code === CODE_UNIMPLEMENTED) {
        return {
          result: 'failure',
          output: `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${res.message}`,
        };
      }
      return { result: 'failure', output: `error: health rpc probe failed: ${rpcError(res.code, res.message)}` };
    }
    if (res.status !== 1) {
      return {
        result: 'failure',
        output: `service unhealthy (responded with ${goQuote(servingStatusName(res.status))})`,
      };
    }
    return { result: 'success', output: 'service healthy' };
  } finally {
    conn.session.destroy();
  }
}

export function runGrpcProbe(action: GRPCAction, ctx: ProbeContext): Promise<ProbeOutcome> {
  const port = action.port;
  if (!Number.isInteger(port) || port <= 0 || port >= 65536) {
    return Promise.resolve({ result: 'error', output: `invalid port number: ${port}` });
  }
  // The kubelet always probes gRPC on the pod IP; the action has no host field.
  return grpcProbe(ctx.podIP, port, action.service ?? '', ctx.timeoutMs);
}
