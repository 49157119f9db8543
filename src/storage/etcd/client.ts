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
import { createWriteStream, readFileSync, renameSync, rmSync } from 'node:fs';
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
  if (/^\/etcdserverpb\.(KV|Lease|Watch)\//.test(method)) md.set('hasleader', 'true');
  return md;
}

export interface WatchStream {
  send(req: WatchRequest): void;
  close(): void;
}

export class EtcdClient {
  private readonly targets: string[];
  private readonly credentials: grpc.ChannelCredentials;
  private readonly clients = new Map<number, grpc.Client>();
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
    this.credentials = schemes.has('https:')
      ? grpc.credentials.createSsl(
          opts.caFile ? readFileSync(opts.caFile) : null,
          opts.keyFile ? readFileSync(opts.keyFile) : null,
          opts.certFile ? readFileSync(opts.certFile) : null,
        )
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
    return new Promise((resolve, reject) => {
      this.client(index).makeUnaryRequest(
        method,
        identity,
        identity,
        req,
        metadataFor(method),
        { deadline },
        (err: grpc.ServiceError | null, res?: Buffer) => {
          if (err) reject(new EtcdError(err.code, err.details || err.message));
          else resolve(res ?? Buffer.alloc(0));
        },
      );
    });
  }

  /**
   * The first of `indices` (in order) whose channel is connected, else the first to connect
   * within `ms`, else undefined. Asking connects the channels that are idle. Channels are watched
   * in short steps, so nothing is left waiting long after the answer (grpc-js cannot cancel a watch).
   */
  private firstReady(indices: number[], ms: number): Promise<number | undefined> {
    const state = (i: number) => this.client(i).getChannel().getConnectivityState(true);
    const ready = indices.find((i) => state(i) === grpc.connectivityState.READY);
    if (ready !== undefined || ms <= 0) return Promise.resolve(ready);
    const deadline = Date.now() + ms;
    return new Promise((resolve) => {
      let pending = indices.length;
      let done = false;
      const watch = (i: number) => {
        if (done) return;
        const now = this.closed ? grpc.connectivityState.SHUTDOWN : state(i);
        if (now === grpc.connectivityState.READY) {
          done = true;
          return resolve(i);
        }
        if (this.closed || now === grpc.connectivityState.SHUTDOWN || Date.now() >= deadline) {
          if (--pending === 0) resolve(undefined);
          return;
        }
        this.client(i)
          .getChannel()
          .watchConnectivityState(now, Math.min(deadline, Date.now() + 250), () => watch(i));
      };
      for (const i of indices) watch(i);
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
        (i) => this.clients.get(i)?.getChannel().getConnectivityState(false) === grpc.connectivityState.READY,
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
  }
}
