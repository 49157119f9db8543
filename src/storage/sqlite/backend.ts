// Embedded SQLite backend. Writes go to the writer thread in batches (one batch in flight at a
// time, so concurrent requests share an fsync); reads run here on a second connection, which in
// WAL mode sees every commit that finished before the read began.
import { Worker } from 'node:worker_threads';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase, prefixEnd, type Row } from './schema.js';
import type { WriteOp, WriteReply, WriteResult } from './writer.js';
import {
  type Backend,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type StorageEvent,
  StorageError,
  type Unsubscribe,
} from '../interface.js';

interface Pending {
  op: WriteOp;
  resolve: (r: WriteResult) => void;
  reject: (e: Error) => void;
}

interface Watcher {
  prefix: string;
  onEvents: (events: StorageEvent[]) => void;
}

const MAX_BATCH = 2000;
/** Batches queued at the writer at once: it commits all that wait together, in one fsync. */
const MAX_IN_FLIGHT = 16;

const toKV = (r: Row): KeyValue => ({
  key: r.name,
  value: r.value,
  modRevision: r.id,
  createRevision: r.create_revision,
});

export class SqliteBackend implements Backend {
  private worker?: Worker;
  private reader!: Database.Database;
  private queue: Pending[] = [];
  /** Batches sent to the writer, oldest first; it answers them in order. */
  private inFlight: Pending[][] = [];
  private scheduled = false;
  private batchSeq = 0;
  private revision = 0;
  private compacted = 0;
  private watchers = new Set<Watcher>();
  private closing = false;
  /** Set once the queue is drained for good: later writes fail instead of waiting forever. */
  private closed = false;
  private stmts!: ReturnType<SqliteBackend['prepare']>;

  constructor(
    private readonly file: string,
    /** Never fsync (schema.ts OpenOptions): for a throwaway store only. */
    private readonly opts: { unsafeNoFsync?: boolean } = {},
  ) {}

  async start(): Promise<void> {
    // The store holds Secrets: only its owner may read it, wherever --datastore-endpoint puts it.
    // (SQLite gives its -wal and -shm files the database file's mode.)
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    closeSync(openSync(this.file, 'a', 0o600));
    chmodSync(this.file, 0o600);
    const worker = new Worker(new URL('./writer.js', import.meta.url), {
      workerData: { file: this.file, unsafeNoFsync: this.opts.unsafeNoFsync === true },
    });
    this.worker = worker;
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    worker.on('message', (m: WriteReply[]) => {
      for (const r of m) this.onReply(r);
    });
    worker.on('error', (err) => this.failAll(err));
    this.reader = openDatabase(this.file, this.opts);
    this.stmts = this.prepare(this.reader);
    this.revision = this.stmts.maxRevision.get()?.seq ?? 0;
    this.compacted = this.stmts.getMeta.get('compacted')?.v ?? 0;
  }

  private prepare(db: Database.Database) {
    return {
      maxRevision: db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'kv'"),
      getMeta: db.prepare<[string], { v: number }>('SELECT v FROM meta WHERE k = ?'),
      get: db.prepare<[string], Row>('SELECT kv.* FROM live JOIN kv ON kv.id = live.id WHERE live.name = ?'),
      listLive: db.prepare<[string, string, number], Row>(
        'SELECT kv.* FROM live JOIN kv ON kv.id = live.id WHERE live.name > ? AND live.name < ? ORDER BY live.name LIMIT ?',
      ),
      // Walks the (name, id) index in key order and stops at the limit: each version at or before
      // the revision is kept if it is its key's last one there. (Grouping in a subquery first made
      // SQLite group and sort every key after `after` for each page: 200-600 ms a page of 500 at
      // 150,000 pods, where this takes 3 ms.)
      listAt: db.prepare<[string, string, number, number, number], Row>(
        `SELECT kv.* FROM kv WHERE kv.name > ? AND kv.name < ? AND kv.id <= ?
         AND kv.id = (SELECT MAX(k2.id) FROM kv k2 WHERE k2.name = kv.name AND k2.id <= ?)
         AND kv.deleted = 0 ORDER BY kv.name LIMIT ?`,
      ),
      history: db.prepare<[number, string, string], Row & { prev_value: string | null }>(
        `SELECT k.*, p.value AS prev_value FROM kv k LEFT JOIN kv p ON p.id = k.prev_revision
         WHERE k.id > ? AND k.name > ? AND k.name < ? ORDER BY k.id`,
      ),
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    // Let queued writes commit first: nothing acknowledged-to-be may be dropped.
    while (this.inFlight.length || this.queue.length) await new Promise((r) => setTimeout(r, 5));
    this.closed = true;
    const worker = this.worker;
    if (worker) {
      await new Promise<void>((resolve) => {
        worker.once('message', () => resolve());
        worker.postMessage('close');
      });
      await worker.terminate();
    }
    this.reader?.close();
  }

  currentRevision(): number {
    return this.revision;
  }
  compactedRevision(): number {
    return this.compacted;
  }

  private submit(op: WriteOp): Promise<WriteResult> {
    if (!this.worker || this.closed) return Promise.reject(new StorageError('Unavailable', 'key' in op ? op.key : ''));
    return new Promise((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      this.schedule();
    });
  }

  private schedule() {
    if (this.scheduled || !this.queue.length || this.inFlight.length >= MAX_IN_FLIGHT) return;
    this.scheduled = true;
    // Collect everything submitted in this turn of the event loop into one batch.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush() {
    while (this.queue.length && this.inFlight.length < MAX_IN_FLIGHT) {
      const batch = this.queue.splice(0, MAX_BATCH);
      this.inFlight.push(batch);
      this.worker!.postMessage({ id: ++this.batchSeq, ops: batch.map((p) => p.op) });
    }
  }

  private onReply(reply: WriteReply) {
    const batch = this.inFlight.shift();
    if (!batch) return;
    if (reply.error || !reply.results) {
      const err = new Error(`storage write failed: ${reply.error}`);
      for (const p of batch) p.reject(err);
    } else {
      const results = reply.results;
      const events: StorageEvent[] = [];
      results.forEach((r, i) => {
        const op = batch[i].op;
        if (!r.ok || op.op === 'compact') return;
        // The writer leaves out the values we sent it.
        if (op.op !== 'delete') r.row.value = op.value;
        this.revision = Math.max(this.revision, r.row.id);
        events.push({
          type: r.row.deleted ? 'delete' : 'put',
          key: r.row.name,
          value: r.row.value,
          prevValue: r.prevValue,
          revision: r.row.id,
          createRevision: r.row.create_revision,
        });
      });
      // Watchers (the watch cache) see a change before its writer is acknowledged, so a client
      // that reads after its write was acknowledged always finds it in the cache.
      if (events.length) this.dispatch(events);
      batch.forEach((p, i) => p.resolve(results[i]));
    }
    this.schedule();
  }

  private failAll(err: Error) {
    const all = [...this.inFlight.flat(), ...this.queue];
    this.inFlight = [];
    this.queue = [];
    for (const p of all) p.reject(err);
  }

  private dispatch(events: StorageEvent[]) {
    for (const w of this.watchers) {
      const mine = events.filter((e) => e.key.startsWith(w.prefix));
      if (mine.length) w.onEvents(mine);
    }
  }

  async create(key: string, value: string): Promise<KeyValue> {
    const r = await this.submit({ op: 'create', key, value });
    if (!r.ok) throw new StorageError('KeyExists', key, r.current && toKV(r.current));
    return toKV(r.row);
  }

  async update(key: string, value: string, expectedRevision: number): Promise<KeyValue> {
    const r = await this.submit({ op: 'update', key, value, expected: expectedRevision });
    if (!r.ok) throw new StorageError(r.code, key, r.current && toKV(r.current));
    return toKV(r.row);
  }

  async delete(key: string, expectedRevision?: number): Promise<{ deleted: KeyValue; revision: number }> {
    const r = await this.submit({ op: 'delete', key, expected: expectedRevision });
    if (!r.ok) throw new StorageError(r.code, key, r.current && toKV(r.current));
    return {
      deleted: { key, value: r.row.value, modRevision: r.row.prev_revision, createRevision: r.row.create_revision },
      revision: r.row.id,
    };
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the Storage interface is asynchronous (etcd); SQLite errors must reject, not throw
  async get(key: string): Promise<KeyValue | null> {
    const row = this.stmts.get.get(key);
    return row ? toKV(row) : null;
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the Storage interface is asynchronous (etcd); SQLite errors must reject, not throw
  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    const current = this.revision;
    const at = opts.revision && opts.revision < current ? opts.revision : 0;
    if (at && at < this.compacted) throw new StorageError('Compacted', prefix, undefined, this.compacted);
    const limit = opts.limit && opts.limit > 0 ? opts.limit : -1;
    const after = opts.after && opts.after > prefix ? opts.after : prefix;
    const fetch = limit > 0 ? limit + 1 : -1;
    const rows = at
      ? this.stmts.listAt.all(after, prefixEnd(prefix), at, at, fetch)
      : this.stmts.listLive.all(after, prefixEnd(prefix), fetch);
    const more = limit > 0 && rows.length > limit;
    if (more) rows.length = limit;
    return { items: rows.map(toKV), revision: at || current, more };
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the Storage interface is asynchronous (etcd); SQLite errors must reject, not throw
  async watch(prefix: string, fromRevision: number, onEvents: (events: StorageEvent[]) => void): Promise<Unsubscribe> {
    if (fromRevision < this.compacted) throw new StorageError('Compacted', prefix, undefined, this.compacted);
    // Replay and subscribe in the same synchronous turn: no commit can slip in between.
    const past = fromRevision < this.revision ? this.stmts.history.all(fromRevision, prefix, prefixEnd(prefix)) : [];
    const watcher: Watcher = { prefix, onEvents };
    this.watchers.add(watcher);
    if (past.length) {
      onEvents(
        past.map((r) => ({
          type: r.deleted ? 'delete' : 'put',
          key: r.name,
          value: r.value,
          prevValue: r.deleted ? r.value : (r.prev_value ?? undefined),
          revision: r.id,
          createRevision: r.create_revision,
        })),
      );
    }
    return () => this.watchers.delete(watcher);
  }

  async compact(revision: number): Promise<void> {
    if (revision <= this.compacted) return;
    await this.submit({ op: 'compact', revision });
    this.compacted = revision;
  }

  /** For tests and benchmarks: how many writes are waiting. */
  get pendingWrites(): number {
    return this.queue.length + this.inFlight.reduce((n, b) => n + b.length, 0);
  }
  get isClosing(): boolean {
    return this.closing;
  }
}
