// What the API server allows a connection and a request before it stops serving them: the
// timeouts of Go's http.Server as kube-apiserver sets them, the legacy max-in-flight filter, and
// a cap on connections that have not shown who they are.
import * as errors from '../machinery/errors.js';
import { parseGoDuration } from '../machinery/duration.js';

export interface ServingLimits {
  /** Whole-request deadline for requests that are not long-running (--request-timeout). */
  requestTimeoutMs: number;
  /** Time to receive a request's headers (Go's ReadHeaderTimeout, "just shy of" the request timeout bound). */
  readHeaderTimeoutMs: number;
  /** An idle keep-alive connection is closed after this (as Go's http.DefaultTransport's idle timeout). */
  idleTimeoutMs: number;
  tlsHandshakeTimeoutMs: number;
  /** --max-requests-inflight: concurrent non-mutating requests; 0 = no limit. */
  maxRequestsInflight: number;
  /** --max-mutating-requests-inflight: concurrent mutating requests; 0 = no limit. */
  maxMutatingRequestsInflight: number;
  /** Connections that have not authenticated yet (TLS without a client certificate and no request served). */
  maxUnauthenticatedConnections: number;
  /** --http2-max-streams-per-connection: concurrent HTTP/2 streams a connection may open. */
  http2MaxStreamsPerConnection: number;
  /**
   * --enable-priority-and-fairness: API Priority and Fairness (apiserver/flowcontrol) instead of
   * the max-in-flight filter; the two in-flight limits then add up to its concurrency limit.
   */
  enablePriorityAndFairness: boolean;
}

export const DEFAULT_SERVING_LIMITS: ServingLimits = {
  requestTimeoutMs: 60_000,
  readHeaderTimeoutMs: 32_000,
  idleTimeoutMs: 90_000,
  tlsHandshakeTimeoutMs: 10_000,
  maxRequestsInflight: 400,
  maxMutatingRequestsInflight: 200,
  maxUnauthenticatedConnections: 256,
  // kube-apiserver's default since the HTTP/2 rapid-reset fixes (it matches Go clients' initial limit).
  http2MaxStreamsPerConnection: 100,
  enablePriorityAndFairness: true,
};

/**
 * HTTP/2 as kube-apiserver configures Go's http2.Server: 256 KiB frames and per-stream upload
 * buffer ("99% of serialized resources are smaller"), a connection buffer of that times the
 * stream limit, and a header list as large as HTTP/1.1's header limit.
 */
export function http2Settings(limits: Pick<ServingLimits, 'http2MaxStreamsPerConnection'>, maxHeaderBytes: number) {
  const perStream = 256 * 1024;
  return {
    settings: {
      maxConcurrentStreams: limits.http2MaxStreamsPerConnection,
      maxFrameSize: perStream,
      initialWindowSize: perStream,
      maxHeaderListSize: maxHeaderBytes,
    },
    connectionWindow: perStream * limits.http2MaxStreamsPerConnection,
  };
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The legacy max-in-flight filter: two pools (mutating, read-only), a 429 with Retry-After when
 * one is full. Long-running requests and system:masters are not counted, as upstream.
 */
export class InflightLimiter {
  private readonly used = { mutating: 0, readonly: 0 };

  constructor(private readonly limits: Pick<ServingLimits, 'maxRequestsInflight' | 'maxMutatingRequestsInflight'>) {}

  /** Take a slot for a request; the returned function gives it back. Throws 429 when full. */
  acquire(method: string | undefined): () => void {
    const pool = MUTATING.has(method ?? 'GET') ? 'mutating' : 'readonly';
    const max = pool === 'mutating' ? this.limits.maxMutatingRequestsInflight : this.limits.maxRequestsInflight;
    if (max > 0 && this.used[pool] >= max)
      throw errors.tooManyRequests('Too many requests, please try again later.', 1);
    this.used[pool]++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used[pool]--;
    };
  }
}

/**
 * Connections that have not authenticated: each costs a file descriptor and TLS state, and
 * anyone who can reach the port can open them. Past the cap the oldest is closed, so a flood of
 * idle ones can't keep out a client that connects now and authenticates with its first request.
 */
export class UnauthenticatedConnections {
  // A Set iterates in insertion order: the first entry is the oldest.
  private readonly pending = new Set<Closable>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.pending.size;
  }

  opened(socket: Closable & { once(event: 'close', f: () => void): unknown }): void {
    this.pending.add(socket);
    socket.once('close', () => this.pending.delete(socket));
    while (this.max > 0 && this.pending.size > this.max) {
      const oldest = this.pending.values().next().value as Closable;
      this.pending.delete(oldest);
      oldest.destroy();
    }
  }

  authenticated(socket: Closable): void {
    this.pending.delete(socket);
  }
}

/** A connection: a TLS socket (HTTP/1.1) or an HTTP/2 session, closed by destroying it. */
export interface Closable {
  destroy(): void;
  readonly destroyed: boolean;
}

/**
 * Deadlines on a connection between requests, kept by the server itself: Node's own header
 * timeout goes unchecked on HTTPS servers in Node 20, so a connection that completes its TLS
 * handshake and then sends nothing, or half a request line, would stay open for ever.
 * Armed when a connection is ready for a request; disarmed while one is being served (for
 * HTTP/2, while any of its streams is open).
 */
export class ConnectionDeadlines {
  private readonly timers = new WeakMap<Closable, NodeJS.Timeout>();

  arm(socket: Closable, ms: number): void {
    this.disarm(socket);
    if (socket.destroyed) return;
    const timer = setTimeout(() => socket.destroy(), ms);
    timer.unref();
    this.timers.set(socket, timer);
  }

  disarm(socket: Closable): void {
    clearTimeout(this.timers.get(socket));
    this.timers.delete(socket);
  }
}

/** Long-running requests (watches, streams, proxies) have no request deadline and no in-flight slot. */
export function isLongRunning(method: string | undefined, watching: boolean, subresource: string | undefined): boolean {
  if (watching) return true;
  if (subresource === 'proxy' || subresource === 'exec' || subresource === 'attach' || subresource === 'portforward')
    return true;
  // A log is a stream whether followed or not; upstream counts it as long-running.
  return method === 'GET' && subresource === 'log';
}

/** The deadline of a request: the server's, shortened by a `timeout` query parameter. */
export function requestDeadlineMs(query: URLSearchParams, serverTimeoutMs: number): number {
  const t = query.get('timeout');
  if (t === null || t === '') return serverTimeoutMs;
  let ms: number;
  try {
    ms = parseGoDuration(t);
  } catch {
    throw errors.badRequest(`invalid timeout specified in the request URL: ${t}`);
  }
  return ms > 0 && ms < serverTimeoutMs ? ms : serverTimeoutMs;
}
