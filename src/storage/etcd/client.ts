// A thin etcd v3 client over @grpc/grpc-js: the KV, Watch, Lease, Cluster and Maintenance calls
// this backend and the managed etcd (src/etcd/) need, with messages encoded by messages.ts. Unary calls fail over to the next
// endpoint when one is unreachable; watch streams are opened on the endpoint in use.
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
  /** Deadline of unary calls. */
  timeoutMs?: number;
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
}

const identity = (b: Buffer) => b;

/** Codes that mean this endpoint could not serve the call: another one may. */
const RETRYABLE = new Set<grpc.status>([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);

export interface WatchStream {
  send(req: WatchRequest): void;
  close(): void;
}

export class EtcdClient {
  private readonly targets: string[];
  private readonly credentials: grpc.ChannelCredentials;
  private readonly clients = new Map<number, grpc.Client>();
  private current = 0;
  private readonly timeoutMs: number;

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
  }

  private client(index: number): grpc.Client {
    let c = this.clients.get(index);
    if (!c) {
      c = new grpc.Client(this.targets[index], this.credentials, {
        // Lists of a big resource come back in one message.
        'grpc.max_receive_message_length': 512 * 1024 * 1024,
        'grpc.max_send_message_length': 16 * 1024 * 1024,
        'grpc.keepalive_time_ms': 30_000,
        'grpc.keepalive_timeout_ms': 10_000,
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

  private unaryOnce(index: number, method: string, req: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.client(index).makeUnaryRequest(
        method,
        identity,
        identity,
        req,
        new grpc.Metadata(),
        { deadline: Date.now() + this.timeoutMs },
        (err: grpc.ServiceError | null, res?: Buffer) => {
          if (err) reject(new EtcdError(err.code, err.details || err.message));
          else resolve(res ?? Buffer.alloc(0));
        },
      );
    });
  }

  /** One unary call, moving on to the next endpoint while the current one is unreachable. */
  private async unary(method: string, req: Buffer): Promise<Buffer> {
    let last: unknown;
    for (let attempt = 0; attempt < this.targets.length; attempt++) {
      const index = this.current;
      try {
        return await this.unaryOnce(index, method, req);
      } catch (err) {
        last = err;
        if (!(err instanceof EtcdError) || !RETRYABLE.has(err.code)) throw err;
        if (this.current === index) this.current = (index + 1) % this.targets.length;
      }
    }
    throw last;
  }

  async range(r: RangeRequest): Promise<RangeResponse> {
    return decode.range(await this.unary('/etcdserverpb.KV/Range', encode.range(r)));
  }
  async put(r: PutRequest) {
    return decode.put(await this.unary('/etcdserverpb.KV/Put', encode.put(r)));
  }
  async deleteRange(r: DeleteRangeRequest) {
    return decode.deleteRange(await this.unary('/etcdserverpb.KV/DeleteRange', encode.deleteRange(r)));
  }
  async txn(t: TxnRequest): Promise<TxnResponse> {
    return decode.txn(await this.unary('/etcdserverpb.KV/Txn', encode.txn(t)));
  }
  async compact(revision: number): Promise<void> {
    await this.unary('/etcdserverpb.KV/Compact', encode.compact(revision, false));
  }
  async leaseGrant(ttlSeconds: number): Promise<{ id: bigint; ttl: number }> {
    const r = decode.leaseGrant(await this.unary('/etcdserverpb.Lease/LeaseGrant', encode.leaseGrant(ttlSeconds)));
    if (r.error) throw new EtcdError(grpc.status.UNKNOWN, r.error);
    return r;
  }
  async status(): Promise<{ header: { revision: number }; version: string }> {
    return decode.status(await this.unary('/etcdserverpb.Maintenance/Status', encode.empty()));
  }

  async memberList(): Promise<Member[]> {
    return decode.members(await this.unary('/etcdserverpb.Cluster/MemberList', encode.memberList()));
  }
  async memberAdd(peerURLs: string[], isLearner = false): Promise<{ member: Member; members: Member[] }> {
    return decode.memberAdd(await this.unary('/etcdserverpb.Cluster/MemberAdd', encode.memberAdd(peerURLs, isLearner)));
  }
  async memberRemove(id: bigint): Promise<Member[]> {
    return decode.members(await this.unary('/etcdserverpb.Cluster/MemberRemove', encode.memberRemove(id)));
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
        new grpc.Metadata(),
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
    const index = this.current;
    const call = this.client(index).makeBidiStreamRequest(
      '/etcdserverpb.Watch/Watch',
      identity,
      identity,
      new grpc.Metadata(),
      {},
    );
    let closed = false;
    const fail = (err: EtcdError) => {
      if (closed) return;
      closed = true;
      if (this.current === index && RETRYABLE.has(err.code)) this.current = (index + 1) % this.targets.length;
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
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
