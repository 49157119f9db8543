// A thin etcd v3 client over @grpc/grpc-js: the KV, Watch, Lease, Cluster and Maintenance calls
// this backend and the managed etcd (src/etcd/) need, with messages encoded by messages.ts.
//
// Failover, as etcd's own client and kube-apiserver see it: every call asks for a member with a
// leader (etcd's `hasleader` metadata), so a member cut off from the majority refuses at once with
// "etcdserver: no leader" instead of holding a write until its own request timeout (15 s with
// k3s's election timing). A call then moves to another endpoint only when that is safe: reads
// always, writes only when the refused attempt cannot have been applied (no leader, or the
// endpoint was never reached). Endpoints other than the one in use get a short time to connect
// (`failoverConnectMs`), and the whole call, failover included, is bounded by `timeoutMs`: a
// server whose member lost quorum answers 503 within seconds. Watch streams are opened on the
// endpoint in use.
//
// Unary calls (every read and write of the backend) go over a plain node:http2 session per
// endpoint, framed as gRPC (a 5-byte length prefix, grpc-status in the trailers): grpc-js spends
// about as much CPU again as the call itself on its call layers (interceptors, retry buffering, a
// resolving and a load-balancing call, a stack captured per call): 340-480 µs per Txn against
// 190-210 µs this way (docs/benchmarks.md, the scale benchmark on etcd). Which endpoint is
// reachable is judged from those sessions (UnarySession); grpc-js carries the streams (Watch,
// LeaseKeepAlive, Snapshot).
import { createWriteStream, readFileSync, renameSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import {
  decode,
  encode,
  type DeleteRangeRequest,
  type Member,
  type PutRequest,
  type RangeRequest,
  type RangeResponse,
  type TxnRequest,
  type TxnResponse,
  type WatchRequest,
  type WatchResponse,
} from './messages.js';

export interface EtcdClientOptions {
  /** http://host:port or https://host:port, tried in order. */
  endpoints: string[];
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Deadline of a unary call, failover to other endpoints included. Default 15 s. */
  timeoutMs?: number;
  /**
   * After an endpoint failed a call, how long the others together get to connect and answer it.
   * Default 3 s.
   */
  failoverMs?: number;
}

/** A gRPC error from etcd, with its status code (grpc.status) and etcd's message. */
export class EtcdError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
  get compacted(): boolean {
    return this.code === grpc.status.OUT_OF_RANGE && /compacted/.test(this.message);
  }
  /** The member has no leader (cut off from the majority, or an election is under way). */
  get noLeader(): boolean {
    return this.code === grpc.status.UNAVAILABLE && this.message.includes('etcdserver: no leader');
  }
  /** etcd's NOSPACE alarm is raised (--quota-backend-bytes reached): writes are refused until it is disarmed. */
  get noSpace(): boolean {
    return this.code === grpc.status.RESOURCE_EXHAUSTED && this.message.includes('database space exceeded');
  }
}

const identity = (b: Buffer) => b;

/** Codes that mean this endpoint could not serve the call: another one may. */
const RETRYABLE = new Set<grpc.status>([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);

/** A read attempt on one endpoint waits this long at most before the next endpoint is asked. */
const READ_ATTEMPT_MS = 5000;

/** An endpoint that timed out or dropped its connection is tried last for this long. */
const DEMOTE_MS = 30_000;

/**
 * May a call that failed with `err` be sent to another endpoint? A read, whenever the endpoint
 * could not serve it. A write only when it was certainly not applied: "no leader" is refused by
 * etcd's interceptor before the request is handled; a timeout or a dropped connection leaves it
 * unknown (etcd's own client does not retry those either), and the caller gets Unavailable.
 */
function retryable(err: unknown, mutating: boolean): boolean {
  if (!(err instanceof EtcdError) || !RETRYABLE.has(err.code)) return false;
  return !mutating || err.noLeader;
}

/**
 * Asks etcd to refuse the call when the member has no leader (etcd's
 * rpctypes.MetadataRequireLeaderKey), for the data calls (KV, Lease, Watch). Cluster and
 * Maintenance calls go without: a member list read while the other members are still down (a
 * whole cluster restarting) must still answer.
 */
function metadataFor(method: string): grpc.Metadata {
  const md = new grpc.Metadata();
  if (requiresLeader(method)) md.set('hasleader', 'true');
  return md;
}

const requiresLeader = (method: string) => /^\/etcdserverpb\.(KV|Lease|Watch)\//.test(method);

/** The largest unary response accepted (a list of a big resource comes back in one message). */
const MAX_RECEIVE_BYTES = 512 * 1024 * 1024;
/** Keepalive of the unary sessions, as the grpc-js channels': a ping every 10 s, 5 s to answer. */
const KEEPALIVE_MS = 10_000;
const KEEPALIVE_TIMEOUT_MS = 5_000;
/** A connection that has not brought the server's SETTINGS by then is given up (and made again on demand). */
const CONNECT_TIMEOUT_MS = 10_000;

/** grpc-status of a response (trailers, or the headers of a trailers-only response), with its message. */
function statusOf(h: http2.IncomingHttpHeaders): { code: grpc.status; message: string } | undefined {
  const code = h['grpc-status'];
  if (code === undefined) return undefined;
  const raw = h['grpc-message'];
  let message = typeof raw === 'string' ? raw : '';
  try {
    message = decodeURIComponent(message);
  } catch {
    /* not percent-encoded after all */
  }
  return { code: Number(code) as grpc.status, message };
}

/**
 * One HTTP/2 connection to an endpoint for unary calls. It counts as ready once the server's
 * SETTINGS arrived (as a grpc-js channel does: a frozen process still completes the TCP handshake).
 * It is dropped, and the next call connects again, when it closes or errs, when a keepalive ping
 * sent while calls are in flight goes unanswered, or when a call ran out its deadline without a
 * byte from the server meanwhile (a member behind a partition, or stopped).
 */
class UnarySession {
  private session?: http2.ClientHttp2Session;
  private pinger?: NodeJS.Timeout;
  private inFlight = 0;
  /** When the server last sent anything (a frame of any call, a ping answer). */
  private lastHeard = 0;
  private readyWaiters: (() => void)[] = [];

  constructor(
    private readonly authority: string,
    private readonly tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined,
  ) {}

  private live(): http2.ClientHttp2Session | undefined {
    const s = this.session;
    return s && !s.closed && !s.destroyed ? s : undefined;
  }

  /** Connected, with the server's settings received. */
  get ready(): boolean {
    return !!this.live() && this.lastHeard > 0;
  }

  private drop(s: http2.ClientHttp2Session): void {
    if (this.session === s) {
      this.session = undefined;
      this.lastHeard = 0;
      clearInterval(this.pinger);
      this.pinger = undefined;
      for (const w of this.readyWaiters.splice(0)) w();
    }
    if (!s.destroyed) s.destroy();
  }

  /** The session, connecting it when there is none. */
  private open(): http2.ClientHttp2Session {
    const live = this.live();
    if (live) return live;
    const s = http2.connect(this.authority, {
      ...(this.tls ?? {}),
      // Big lists arrive in one response; the default 10 MB of buffered session data would refuse them.
      maxSessionMemory: 1024,
      settings: { initialWindowSize: 16 * 1024 * 1024, enablePush: false },
    });
    this.session = s;
    this.lastHeard = 0;
    s.on('error', () => this.drop(s));
    s.on('close', () => this.drop(s));
    s.on('goaway', () => this.drop(s));
    s.once('remoteSettings', () => {
      if (this.session !== s) return;
      this.lastHeard = Date.now();
      s.setLocalWindowSize(64 * 1024 * 1024);
      for (const w of this.readyWaiters.splice(0)) w();
    });
    s.unref();
    setTimeout(() => {
      if (this.session === s && !this.lastHeard) this.drop(s);
    }, CONNECT_TIMEOUT_MS).unref();
    // Keepalive while calls are in flight (etcd refuses pings on an idle connection).
    this.pinger = setInterval(() => {
      if (!this.inFlight || this.session !== s || s.destroyed) return;
      const timer = setTimeout(() => this.drop(s), KEEPALIVE_TIMEOUT_MS);
      const sent = s.ping((err) => {
        clearTimeout(timer);
        if (err) this.drop(s);
        else this.lastHeard = Date.now();
      });
      if (!sent) clearTimeout(timer);
    }, KEEPALIVE_MS);
    this.pinger.unref();
    return s;
  }

  /** Starts connecting (if needed); resolves once ready or failed, or after `ms`. */
  connect(ms: number): Promise<void> {
    this.open();
    if (this.ready) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        const i = this.readyWaiters.indexOf(done);
        if (i >= 0) this.readyWaiters.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.readyWaiters.push(done);
    });
  }

  call(method: string, req: Buffer, deadline: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const session = this.open();
      const started = Date.now();
      let settled = false;
      this.inFlight++;
      const finish = () => {
        settled = true;
        this.inFlight--;
        clearTimeout(timer);
      };
      const fail = (code: grpc.status, message: string) => {
        if (settled) return;
        finish();
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(new EtcdError(code, message));
      };
      const headers: http2.OutgoingHttpHeaders = {
        ':method': 'POST',
        ':path': method,
        'content-type': 'application/grpc',
        te: 'trailers',
      };
      if (requiresLeader(method)) headers.hasleader = 'true';
      const stream = session.request(headers, { endStream: false });
      const timer = setTimeout(
        () => {
          // Not a byte from the server since this call began: the connection is as good as dead.
          if (this.lastHeard < started) this.drop(session);
          fail(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded');
        },
        Math.max(0, deadline - started),
      );
      const head = Buffer.allocUnsafe(5);
      head[0] = 0;
      head.writeUInt32BE(req.length, 1);
      stream.write(head);
      stream.end(req);
      const chunks: Buffer[] = [];
      let size = 0;
      let status: { code: grpc.status; message: string } | undefined;
      let httpStatus = 0;
      const heard = () => {
        if (this.session === session) this.lastHeard = Date.now();
      };
      stream.on('response', (h) => {
        heard();
        httpStatus = Number(h[':status'] ?? 0);
        status = statusOf(h);
      });
      stream.on('trailers', (h: http2.IncomingHttpHeaders) => {
        heard();
        status = statusOf(h) ?? status;
      });
      stream.on('data', (d: Buffer) => {
        heard();
        size += d.length;
        if (size > MAX_RECEIVE_BYTES + 5)
          return fail(grpc.status.RESOURCE_EXHAUSTED, `response larger than ${MAX_RECEIVE_BYTES} bytes`);
        chunks.push(d);
      });
      stream.on('error', (err: Error) => fail(grpc.status.UNAVAILABLE, err.message));
      stream.on('close', () => {
        if (settled) return;
        if (!status) {
          // The connection went away, or the answer was no gRPC answer.
          return fail(
            grpc.status.UNAVAILABLE,
            httpStatus && httpStatus !== 200 ? `HTTP status ${httpStatus}` : 'connection closed before the answer',
          );
        }
        if (status.code !== grpc.status.OK) return fail(status.code, status.message);
        const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
        if (body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5)
          return fail(grpc.status.INTERNAL, 'malformed or compressed gRPC response');
        finish();
        resolve(body.subarray(5));
      });
    });
  }

  close(): void {
    if (this.session) this.drop(this.session);
  }
}

export interface WatchStream {
  send(req: WatchRequest): void;
  close(): void;
}

export class EtcdClient {
  private readonly targets: string[];
  private readonly credentials: grpc.ChannelCredentials;
  private readonly clients = new Map<number, grpc.Client>();
  private readonly sessions = new Map<number, UnarySession>();
  private readonly tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  private readonly scheme: string;
  private current = 0;
  private closed = false;
  private readonly timeoutMs: number;
  private readonly failoverMs: number;
  /** Endpoints tried last until the given time (ms): they timed out or lost their connection. */
  private readonly demoted = new Map<number, number>();
  /** The same for watch streams, which also move on after "no leader" (unary calls need not). */
  private readonly watchDemoted = new Map<number, number>();

  constructor(opts: EtcdClientOptions) {
    if (!opts.endpoints.length) throw new Error('etcd: no endpoints');
    const schemes = new Set<string>();
    this.targets = opts.endpoints.map((e) => {
      const url = new URL(e);
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new Error(`etcd endpoint ${e}: use http:// or https://`);
      schemes.add(url.protocol);
      return `${url.hostname.includes(':') ? `[${url.hostname}]` : url.hostname}:${url.port || 2379}`;
    });
    if (schemes.size > 1) throw new Error('etcd endpoints: mix of http:// and https://');
    this.scheme = schemes.has('https:') ? 'https:' : 'http:';
    if (this.scheme === 'https:') {
      this.tls = {
        ca: opts.caFile ? readFileSync(opts.caFile) : undefined,
        cert: opts.certFile ? readFileSync(opts.certFile) : undefined,
        key: opts.keyFile ? readFileSync(opts.keyFile) : undefined,
      };
    }
    this.credentials = this.tls
      ? grpc.credentials.createSsl(this.tls.ca ?? null, this.tls.key ?? null, this.tls.cert ?? null)
      : grpc.credentials.createInsecure();
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.failoverMs = opts.failoverMs ?? 3000;
  }

  private client(index: number): grpc.Client {
    let c = this.clients.get(index);
    if (!c) {
      c = new grpc.Client(this.targets[index], this.credentials, {
        // Lists of a big resource come back in one message.
        'grpc.max_receive_message_length': 512 * 1024 * 1024,
        'grpc.max_send_message_length': 16 * 1024 * 1024,
        // A call on a connection that died silently (a partition) fails within 15 s; etcd
        // refuses pings more often than every 5 s (--grpc-keepalive-min-time).
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
      });
      this.clients.set(index, c);
    }
    return c;
  }

  /** Every endpoint, host:port (for messages). */
  get endpoints(): string[] {
    return [...this.targets];
  }

  /** The endpoint calls go to now (for messages). */
  get endpoint(): string {
    return this.targets[this.current];
  }

  private unaryOnce(index: number, method: string, req: Buffer, deadline: number): Promise<Buffer> {
    return this.session(index).call(method, req, deadline);
  }

  private session(index: number): UnarySession {
    let s = this.sessions.get(index);
    if (!s) {
      s = new UnarySession(`${this.scheme}//${this.targets[index]}`, this.tls);
      this.sessions.set(index, s);
    }
    return s;
  }

  /**
   * The first of `indices` (in order) whose unary session is ready, else the first to become
   * ready within `ms`, else undefined. Asking connects the sessions that are not.
   */
  private async firstReady(indices: number[], ms: number): Promise<number | undefined> {
    const ready = indices.find((i) => this.session(i).ready);
    if (ready !== undefined || ms <= 0 || this.closed) return ready;
    const deadline = Date.now() + ms;
    return new Promise((resolve) => {
      let pending = indices.length;
      let done = false;
      for (const i of indices) {
        void this.session(i)
          .connect(Math.max(0, deadline - Date.now()))
          .then(() => {
            if (done) return;
            if (!this.closed && this.session(i).ready) {
              done = true;
              return resolve(i);
            }
            if (--pending === 0) resolve(undefined);
          });
      }
    });
  }

  /**
   * Endpoints in the order given (a server's own member first), those demoted last: the listed
   * order is kept rather than sticking to whichever answered last, so a server goes back to its own
   * member as soon as that one answers again.
   */
  private order(demoted = this.demoted): number[] {
    const now = Date.now();
    const all = this.targets.map((_, i) => i);
    const isDemoted = (i: number) => (demoted.get(i) ?? 0) > now;
    return [...all.filter((i) => !isDemoted(i)), ...all.filter(isDemoted)];
  }

  /**
   * Notes how an endpoint failed. A lost connection puts it last for a while, and so does a
   * timeout of a read or of a failover attempt (a connection that looks alive but is not, behind a
   * partition). A first write that timed out does not: a member that has just lost its leader
   * holds writes until it notices, and then answers "no leader" at once.
   */
  private noteFailure(index: number, err: unknown, firstWrite: boolean): void {
    if (!(err instanceof EtcdError) || !RETRYABLE.has(err.code) || err.noLeader) return;
    if (err.code === grpc.status.DEADLINE_EXCEEDED && firstWrite) return;
    this.demoted.set(index, Date.now() + DEMOTE_MS);
  }

  /**
   * One unary call: on the first endpoint (in `order`) that is connected or connects; after a
   * failure that allows it (`retryable`), on the next ones, which together get failoverMs to
   * connect and answer (a member behind a partition may look connected until a call times out
   * on it). The whole call ends by timeoutMs.
   */
  private async unary(method: string, req: Buffer, mutating: boolean): Promise<Buffer> {
    const deadline = Date.now() + this.timeoutMs;
    let failoverDeadline = deadline;
    const untried = this.order();
    let last: EtcdError | undefined;
    while (untried.length) {
      const end = last ? failoverDeadline : deadline;
      const index = await this.firstReady(untried, end - Date.now());
      if (index === undefined) break;
      untried.splice(untried.indexOf(index), 1);
      this.current = index;
      // A first read moves on after a few seconds (a connection may be dead without knowing it yet).
      const attemptDeadline = last || mutating || !untried.length ? end : Math.min(end, Date.now() + READ_ATTEMPT_MS);
      try {
        return await this.unaryOnce(index, method, req, attemptDeadline);
      } catch (err) {
        this.noteFailure(index, err, mutating && !last);
        if (!retryable(err, mutating)) throw err;
        if (!last) failoverDeadline = Math.min(deadline, Date.now() + this.failoverMs);
        last = err as EtcdError;
      }
    }
    throw (
      last ?? new EtcdError(grpc.status.UNAVAILABLE, `no etcd endpoint could be reached (${this.targets.join(', ')})`)
    );
  }

  async range(r: RangeRequest): Promise<RangeResponse> {
    return decode.range(await this.unary('/etcdserverpb.KV/Range', encode.range(r), false));
  }
  async put(r: PutRequest) {
    return decode.put(await this.unary('/etcdserverpb.KV/Put', encode.put(r), true));
  }
  async deleteRange(r: DeleteRangeRequest) {
    return decode.deleteRange(await this.unary('/etcdserverpb.KV/DeleteRange', encode.deleteRange(r), true));
  }
  async txn(t: TxnRequest): Promise<TxnResponse> {
    return decode.txn(await this.unary('/etcdserverpb.KV/Txn', encode.txn(t), true));
  }
  async compact(revision: number): Promise<void> {
    await this.unary('/etcdserverpb.KV/Compact', encode.compact(revision, false), true);
  }
  async leaseGrant(ttlSeconds: number): Promise<{ id: bigint; ttl: number }> {
    const r = decode.leaseGrant(
      await this.unary('/etcdserverpb.Lease/LeaseGrant', encode.leaseGrant(ttlSeconds), false),
    );
    if (r.error) throw new EtcdError(grpc.status.UNKNOWN, r.error);
    return r;
  }
  async status(): Promise<{ header: { revision: number }; version: string }> {
    return decode.status(await this.unary('/etcdserverpb.Maintenance/Status', encode.empty(), false));
  }

  async memberList(): Promise<Member[]> {
    return decode.members(await this.unary('/etcdserverpb.Cluster/MemberList', encode.memberList(), false));
  }
  async memberAdd(peerURLs: string[], isLearner = false): Promise<{ member: Member; members: Member[] }> {
    return decode.memberAdd(
      await this.unary('/etcdserverpb.Cluster/MemberAdd', encode.memberAdd(peerURLs, isLearner), true),
    );
  }
  async memberRemove(id: bigint): Promise<Member[]> {
    return decode.members(await this.unary('/etcdserverpb.Cluster/MemberRemove', encode.memberRemove(id), true));
  }

  /**
   * Streams a snapshot of the backend database (Maintenance.Snapshot) into `file`: written to a
   * temporary name and renamed once complete, so a file of that name is always a whole snapshot.
   * Resolves its size in bytes.
   */
  snapshot(file: string, timeoutMs = 10 * 60_000): Promise<number> {
    const partial = `${file}.part`;
    return new Promise((resolve, reject) => {
      const out = createWriteStream(partial, { mode: 0o600 });
      let size = 0;
      let failed = false;
      const fail = (err: Error) => {
        if (failed) return;
        failed = true;
        out.destroy();
        rmSync(partial, { force: true });
        reject(err);
      };
      const call = this.client(this.current).makeServerStreamRequest(
        '/etcdserverpb.Maintenance/Snapshot',
        identity,
        identity,
        encode.empty(),
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
      );
      call.on('data', (b: Buffer) => {
        const chunk = decode.snapshotChunk(b);
        size += chunk.blob.length;
        out.write(chunk.blob);
      });
      call.on('error', (err: grpc.ServiceError) => fail(new EtcdError(err.code, err.details || err.message)));
      call.on('end', () => {
        if (failed) return;
        out.end(() => {
          try {
            renameSync(partial, file);
            resolve(size);
          } catch (err) {
            fail(err as Error);
          }
        });
      });
      out.on('error', (err) => {
        call.cancel();
        fail(err);
      });
    });
  }

  /** Renews a lease once (LeaseKeepAlive is a stream; one request, one answer). Resolves its new TTL (0: expired). */
  leaseKeepAliveOnce(id: bigint): Promise<number> {
    return new Promise((resolve, reject) => {
      const call = this.client(this.current).makeBidiStreamRequest(
        '/etcdserverpb.Lease/LeaseKeepAlive',
        identity,
        identity,
        metadataFor('/etcdserverpb.Lease/LeaseKeepAlive'),
        { deadline: Date.now() + this.timeoutMs },
      );
      call.on('data', (b: Buffer) => {
        resolve(decode.leaseKeepAlive(b).ttl);
        call.end();
      });
      call.on('error', (err: grpc.ServiceError) => {
        if (err.code !== grpc.status.CANCELLED) reject(new EtcdError(err.code, err.details || err.message));
      });
      call.write(encode.leaseKeepAlive(id));
    });
  }

  /**
   * Opens a Watch stream on the current endpoint. `onError` is called once when the stream ends
   * for any reason other than close(); the caller then opens a new one (which, after a failure,
   * goes to the next endpoint).
   */
  watch(onResponse: (r: WatchResponse) => void, onError: (err: EtcdError) => void): WatchStream {
    // The first endpoint in order that is connected, else the first in order.
    const order = this.order(this.watchDemoted);
    const index =
      order.find(
        (i) =>
          this.sessions.get(i)?.ready ||
          this.clients.get(i)?.getChannel().getConnectivityState(false) === grpc.connectivityState.READY,
      ) ?? order[0];
    this.current = index;
    // With hasleader, a member that loses its leader ends the stream ("no leader"), and the
    // backend opens it again on another endpoint rather than waiting on a member cut off.
    const call = this.client(index).makeBidiStreamRequest(
      '/etcdserverpb.Watch/Watch',
      identity,
      identity,
      metadataFor('/etcdserverpb.Watch/Watch'),
      {},
    );
    let closed = false;
    const fail = (err: EtcdError) => {
      if (closed) return;
      closed = true;
      // The next stream goes elsewhere first; also after "no leader", which a member cut off
      // from the majority answers to every new stream.
      if (RETRYABLE.has(err.code)) this.watchDemoted.set(index, Date.now() + DEMOTE_MS);
      onError(err);
    };
    call.on('data', (b: Buffer) => {
      if (!closed) onResponse(decode.watch(b));
    });
    call.on('error', (err: grpc.ServiceError) => fail(new EtcdError(err.code, err.details || err.message)));
    call.on('end', () => fail(new EtcdError(grpc.status.UNAVAILABLE, 'watch stream ended')));
    return {
      send: (req) => {
        if (!closed) call.write(encode.watch(req));
      },
      close: () => {
        closed = true;
        call.cancel();
      },
    };
  }

  close(): void {
    this.closed = true;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
  }
}
