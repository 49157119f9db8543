// etcd v3 backend. resourceVersion is etcd's mod revision; writes are transactions comparing
// create_revision (create) or mod_revision (update, delete), so the storage interface's
// preconditions are etcd's own optimistic concurrency.
//
// One Watch on the whole --etcd-prefix feeds everything: it starts at the compacted revision
// (replaying the history etcd still holds into an in-memory log), so watch() can replay from
// any revision since the last compaction synchronously, as the SQLite backend does from its
// table. A write is acknowledged only once its event came back on that watch, which keeps the
// watch cache's promise that every acknowledged write is already in the cache. Progress
// notifications, requested every few seconds, move the current revision past writes outside
// the prefix, so the cache's resourceVersion follows etcd's even when nothing here changes.
import * as grpc from '@grpc/grpc-js';
import {
  type Backend,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type StorageEvent,
  StorageError,
  type Unsubscribe,
} from '../interface.js';
import { EtcdClient, EtcdError, type EtcdClientOptions, type WatchStream } from './client.js';
import { CompareResult, CompareTarget, type KV, type RequestOp, type WatchResponse } from './messages.js';
import { KeyMapper, prefixRangeEnd } from './keys.js';
import { ApiError } from '../../machinery/errors.js';

export interface EtcdBackendOptions extends EtcdClientOptions {
  /** --etcd-prefix: every key lies under it. Default /registry. */
  prefix?: string;
  /** The most events the in-memory log keeps for watch() to replay (trimLog). Default 20,000. */
  maxLoggedEvents?: number;
  /** --event-ttl in seconds: Events are written with a lease this long. Default one hour. */
  eventTtlSeconds?: number;
  /** How often the watch asks etcd for a progress notification. Default 5 s. */
  progressIntervalMs?: number;
  /** Where connection trouble is reported. */
  onWarning?: (message: string, err?: unknown) => void;
}

/** Where the compacted revision is recorded, as kube-apiserver's compactor records it. */
const COMPACT_REV_KEY = Buffer.from('compact_rev_key');

interface LoggedEvent {
  type: 'put' | 'delete';
  etcdKey: string;
  value: string;
  prevValue?: string;
  revision: number;
  createRevision: number;
}

interface Subscriber {
  etcdPrefix: string;
  prefix: string;
  onEvents: (events: StorageEvent[]) => void;
  /** Events at or below this revision were delivered (or were before the watch began). */
  lastRev: number;
}

interface Waiter {
  revision: number;
  /** A progress notification may release it too (not only an event). */
  progress: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class EtcdBackend implements Backend {
  private readonly client: EtcdClient;
  private readonly keys: KeyMapper;
  private readonly eventPrefix: string;
  private readonly eventTtl: number;
  private readonly progressIntervalMs: number;
  private readonly warn: (message: string, err?: unknown) => void;

  private stream?: WatchStream;
  private progressTimer?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;
  private closed = false;

  /** Every event up to this revision has been dispatched. */
  private lastEventRev = 0;
  /** The newest revision a progress notification vouched for. */
  private progressRev = 0;
  private compacted = 0;
  /** Recent events, oldest first (the history watch() replays), about maxLoggedEvents at most. */
  private log: LoggedEvent[] = [];
  /** Watches from before this revision are answered Compacted: the log no longer reaches back. */
  private logFloor = 0;
  private readonly maxLoggedEvents: number;
  private subscribers = new Set<Subscriber>();
  private waiters: Waiter[] = [];
  private eventLease?: { id: bigint; reuseUntil: number };
  private pendingLease?: Promise<bigint>;

  constructor(opts: EtcdBackendOptions) {
    this.client = new EtcdClient(opts);
    this.keys = new KeyMapper(opts.prefix ?? '/registry');
    this.eventPrefix = this.keys.toEtcd('/core/events/');
    this.eventTtl = opts.eventTtlSeconds ?? 3600;
    this.maxLoggedEvents = opts.maxLoggedEvents ?? 20_000;
    this.progressIntervalMs = opts.progressIntervalMs ?? 5000;
    this.warn = opts.onWarning ?? (() => {});
  }

  async start(): Promise<void> {
    const status = await this.client.status().catch((err: Error) => {
      throw new Error(`etcd (${this.client.endpoints.join(', ')}): ${err.message}`, { cause: err });
    });
    const recorded = await this.client.range({ key: COMPACT_REV_KEY });
    this.compacted = Number(recorded.kvs[0]?.value.toString() ?? 0) || 0;
    this.lastEventRev = this.compacted;
    this.openWatch();
    // Serve nothing until the log holds etcd's history up to now.
    const ask = setInterval(() => this.stream?.send({ progress: true }), 100);
    const timeout = setTimeout(() => this.failWaiters(), this.progressIntervalMs * 6 + 30_000);
    try {
      await this.reached(status.header.revision, true);
    } finally {
      clearInterval(ask);
      clearTimeout(timeout);
    }
    this.progressTimer = setInterval(() => this.stream?.send({ progress: true }), this.progressIntervalMs);
    this.progressTimer.unref();
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the interface is asynchronous
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.progressTimer);
    clearTimeout(this.reconnectTimer);
    this.stream?.close();
    this.failWaiters();
    this.subscribers.clear();
    this.client.close();
  }

  currentRevision(): number {
    return Math.max(this.lastEventRev, this.progressRev);
  }

  /**
   * Moves etcd's revision past `revision` with writes to a key outside the prefix (each write is
   * one revision; etcd has no other way), so that objects copied in afterwards get
   * resourceVersions above those they had elsewhere (`k8ts datastore migrate`).
   */
  async advanceRevisionTo(revision: number, concurrency = 64): Promise<void> {
    const key = Buffer.from('k8ts_migrate_revision');
    let current = (await this.client.range({ key, limit: 1 })).header.revision;
    while (current < revision) {
      const batch = Math.min(concurrency, revision - current);
      const results = await Promise.all(
        Array.from({ length: batch }, () => this.client.put({ key, value: Buffer.from(String(revision)) })),
      );
      current = Math.max(current, ...results.map((r) => r.header.revision));
    }
    await this.client.deleteRange({ key });
  }

  compactedRevision(): number {
    return this.compacted;
  }

  // ---- the watch feeding the log ----

  private openWatch() {
    const root = Buffer.from(this.keys.root);
    this.stream = this.client.watch(
      (r) => this.onWatchResponse(r),
      (err) => {
        if (this.closed) return;
        this.warn(`etcd watch on ${this.client.endpoint} failed; reconnecting`, err);
        this.reconnectTimer = setTimeout(() => this.openWatch(), 500);
      },
    );
    this.stream.send({
      create: { key: root, rangeEnd: prefixRangeEnd(root), startRevision: this.lastEventRev + 1, prevKv: true },
    });
  }

  private onWatchResponse(r: WatchResponse) {
    if (r.canceled) {
      if (r.compactRevision) {
        // History we had not seen yet is gone (etcd was compacted by someone else while we were
        // away): go on from what is left; a watch cache started before has a gap.
        this.warn(`etcd history up to revision ${r.compactRevision} was compacted before this server read it`);
        this.compacted = Math.max(this.compacted, r.compactRevision);
        this.lastEventRev = Math.max(this.lastEventRev, r.compactRevision - 1);
      } else {
        this.warn(`etcd canceled the watch: ${r.cancelReason}`);
      }
      this.stream?.close();
      if (!this.closed) this.reconnectTimer = setTimeout(() => this.openWatch(), 500);
      return;
    }
    if (r.created) return;
    if (!r.events.length) {
      this.progressRev = Math.max(this.progressRev, r.header.revision);
      this.releaseWaiters();
      return;
    }
    const fresh: LoggedEvent[] = [];
    for (const e of r.events) {
      // After a reconnect etcd may send again what we had.
      if (e.kv.modRevision <= this.lastEventRev) continue;
      const last = e.type === 'delete' ? e.prevKv : e.kv;
      fresh.push({
        type: e.type,
        etcdKey: e.kv.key.toString(),
        value: last ? last.value.toString() : '',
        prevValue: e.prevKv?.value.toString(),
        revision: e.kv.modRevision,
        createRevision: e.type === 'delete' ? (e.prevKv?.createRevision ?? 0) : e.kv.createRevision,
      });
    }
    if (!fresh.length) return;
    this.lastEventRev = fresh[fresh.length - 1].revision;
    for (const e of fresh) this.log.push(e);
    this.trimLog();
    for (const s of this.subscribers) this.deliver(s, fresh);
    this.releaseWaiters();
  }

  private releaseWaiters() {
    if (!this.waiters.length) return;
    const done = (w: Waiter) => (w.progress ? this.currentRevision() : this.lastEventRev) >= w.revision;
    const ready = this.waiters.filter(done);
    if (!ready.length) return;
    this.waiters = this.waiters.filter((w) => !done(w));
    for (const w of ready) w.resolve();
  }

  private failWaiters() {
    const err = new StorageError('Unavailable', this.keys.root);
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private deliver(s: Subscriber, events: LoggedEvent[]) {
    const out: StorageEvent[] = [];
    for (const e of events) {
      if (e.revision <= s.lastRev || !e.etcdKey.startsWith(s.etcdPrefix)) continue;
      out.push({
        type: e.type,
        key: s.prefix + e.etcdKey.slice(s.etcdPrefix.length),
        value: e.value,
        prevValue: e.prevValue,
        revision: e.revision,
        createRevision: e.createRevision,
      });
    }
    if (!out.length) return;
    s.lastRev = out[out.length - 1].revision;
    s.onEvents(out);
  }

  /**
   * Resolves once the watch has dispatched everything up to `revision`. Writes wait for their
   * own event (`progress` false): only then is it in the watch cache.
   */
  private reached(revision: number, progress = false): Promise<void> {
    if ((progress ? this.currentRevision() : this.lastEventRev) >= revision) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ revision, progress, resolve, reject }));
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the interface is asynchronous
  async watch(prefix: string, fromRevision: number, onEvents: (events: StorageEvent[]) => void): Promise<Unsubscribe> {
    const floor = Math.max(this.compacted, this.logFloor);
    if (fromRevision < floor) throw new StorageError('Compacted', prefix, undefined, floor);
    const s: Subscriber = { etcdPrefix: this.keys.toEtcd(prefix), prefix, onEvents, lastRev: fromRevision };
    // Replay and subscribe in one synchronous turn: no event can slip in between.
    this.deliver(s, this.log.slice(this.firstAfter(fromRevision)));
    this.subscribers.add(s);
    return () => this.subscribers.delete(s);
  }

  /**
   * Bounds the log by count, not only by compaction: at a thousand writes a second, five minutes
   * of values would be gigabytes. Watches start from a fresh list (the watch caches, at start and
   * when a CRD is added), so the log only needs to reach a little way back; the watch caches keep
   * the history clients resume from.
   */
  private trimLog(): void {
    const excess = this.log.length - this.maxLoggedEvents;
    // Cut in batches (splice is linear in what stays).
    if (excess <= 0 || excess < this.maxLoggedEvents / 10) return;
    this.logFloor = this.log[excess - 1].revision;
    this.log.splice(0, excess);
  }

  /** Index of the first logged event with revision > rev. */
  private firstAfter(rev: number): number {
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.log[mid].revision <= rev) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // ---- reads ----

  private toKV(key: string, kv: KV): KeyValue {
    return { key, value: kv.value.toString(), modRevision: kv.modRevision, createRevision: kv.createRevision };
  }

  async get(key: string): Promise<KeyValue | null> {
    const r = await this.unavailableOnError(key, () => this.client.range({ key: Buffer.from(this.keys.toEtcd(key)) }));
    return r.kvs.length ? this.toKV(key, r.kvs[0]) : null;
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    const at = opts.revision ?? 0;
    if (at && at < this.compacted) throw new StorageError('Compacted', prefix, undefined, this.compacted);
    const etcdPrefix = this.keys.toEtcd(prefix);
    const from = opts.after && opts.after > prefix ? `${this.keys.toEtcd(opts.after)}\0` : etcdPrefix;
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    const r = await this.unavailableOnError(prefix, () =>
      this.client.range({
        key: Buffer.from(from),
        rangeEnd: prefixRangeEnd(Buffer.from(etcdPrefix)),
        limit,
        revision: at,
      }),
    ).catch((err) => {
      if (err instanceof EtcdError && err.compacted) {
        throw new StorageError('Compacted', prefix, undefined, Math.max(this.compacted, at + 1));
      }
      throw err;
    });
    const items = r.kvs.map((kv) => this.toKV(prefix + kv.key.toString().slice(etcdPrefix.length), kv));
    return { items, revision: at || r.header.revision, more: r.more };
  }

  // ---- writes ----

  private leaseFor(key: string, etcdKey: string): Promise<bigint | undefined> {
    return this.unavailableOnError(key, () => this.eventLeaseFor(etcdKey));
  }

  private async eventLeaseFor(etcdKey: string): Promise<bigint | undefined> {
    if (!etcdKey.startsWith(this.eventPrefix)) return undefined;
    if (this.eventLease && Date.now() < this.eventLease.reuseUntil) return this.eventLease.id;
    // One lease serves the Events written in a short window (as kube-apiserver's lease manager
    // does); it is granted that much longer so each of them lives at least --event-ttl.
    this.pendingLease ??= (async () => {
      const reuse = Math.min(60, Math.floor(this.eventTtl * 0.05));
      const { id } = await this.client.leaseGrant(this.eventTtl + reuse);
      this.eventLease = { id, reuseUntil: Date.now() + reuse * 1000 };
      return id;
    })().finally(() => (this.pendingLease = undefined));
    return this.pendingLease;
  }

  private async write(key: string, etcdKey: Buffer, compare: { target: number; revision: number }, success: RequestOp) {
    const r = await this.unavailableOnError(key, () =>
      this.client.txn({
        compare: [{ key: etcdKey, result: CompareResult.EQUAL, ...compare }],
        success: [success],
        failure: [{ range: { key: etcdKey } }],
      }),
    );
    if (!r.succeeded) {
      const current = r.responses[0]?.range?.kvs[0];
      return { ok: false as const, current: current && this.toKV(key, current) };
    }
    await this.reached(r.header.revision);
    return { ok: true as const, revision: r.header.revision, response: r.responses[0] };
  }

  async create(key: string, value: string): Promise<KeyValue> {
    const etcdKey = Buffer.from(this.keys.toEtcd(key));
    const lease = await this.leaseFor(key, etcdKey.toString());
    const r = await this.write(
      key,
      etcdKey,
      { target: CompareTarget.CREATE, revision: 0 },
      { put: { key: etcdKey, value: Buffer.from(value), lease } },
    );
    if (!r.ok) throw new StorageError('KeyExists', key, r.current);
    return { key, value, modRevision: r.revision, createRevision: r.revision };
  }

  async update(key: string, value: string, expectedRevision: number): Promise<KeyValue> {
    const etcdKey = Buffer.from(this.keys.toEtcd(key));
    const lease = await this.leaseFor(key, etcdKey.toString());
    const r = await this.write(
      key,
      etcdKey,
      { target: CompareTarget.MOD, revision: expectedRevision },
      { put: { key: etcdKey, value: Buffer.from(value), lease, prevKv: true } },
    );
    if (!r.ok) throw new StorageError(r.current ? 'Conflict' : 'NotFound', key, r.current);
    const createRevision = r.response?.put?.prevKv?.createRevision ?? 0;
    return { key, value, modRevision: r.revision, createRevision };
  }

  async delete(key: string, expectedRevision?: number): Promise<{ deleted: KeyValue; revision: number }> {
    const etcdKey = Buffer.from(this.keys.toEtcd(key));
    const op: RequestOp = { deleteRange: { key: etcdKey, prevKv: true } };
    // Without a precondition: any existing version (mod_revision > 0).
    const compare =
      expectedRevision === undefined
        ? { target: CompareTarget.CREATE, revision: 0 }
        : { target: CompareTarget.MOD, revision: expectedRevision };
    const r = await this.unavailableOnError(key, () =>
      this.client.txn({
        compare: [
          {
            key: etcdKey,
            result: expectedRevision === undefined ? CompareResult.GREATER : CompareResult.EQUAL,
            ...compare,
          },
        ],
        success: [op],
        failure: [{ range: { key: etcdKey } }],
      }),
    );
    const prev = r.responses[0]?.deleteRange?.prevKvs[0];
    if (!r.succeeded || !prev) {
      const current = r.responses[0]?.range?.kvs[0];
      throw new StorageError(current ? 'Conflict' : 'NotFound', key, current && this.toKV(key, current));
    }
    await this.reached(r.header.revision);
    return { deleted: this.toKV(key, prev), revision: r.header.revision };
  }

  async compact(revision: number): Promise<void> {
    if (revision <= this.compacted) return;
    await this.client.put({ key: COMPACT_REV_KEY, value: Buffer.from(String(revision)) });
    try {
      await this.client.compact(revision);
    } catch (err) {
      // Another server compacted as far already.
      if (!(err instanceof EtcdError && err.compacted)) throw err;
    }
    this.compacted = revision;
    this.log.splice(0, this.firstAfter(revision));
  }

  /**
   * Runs an etcd call; unreachable etcd (or a member without quorum) becomes
   * StorageError('Unavailable'). etcd's full quota comes out as kube-apiserver answers it: its
   * store hands etcd's error on untranslated, so the client gets a 500 Status whose message is
   * etcd's ("etcdserver: mvcc: database space exceeded") and whose reason is empty (Unknown).
   */
  private async unavailableOnError<T>(key: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (
        err instanceof EtcdError &&
        (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED)
      )
        throw new StorageError('Unavailable', key);
      if (err instanceof EtcdError && err.noSpace) throw new ApiError(500, '', err.message);
      throw err;
    }
  }
}
