// One resource's view of the backend with its values transformed: encrypted on the way in,
// decrypted on the way out (gets, lists, watch events, a conflict's current state). Everything
// above it (Store, the watch cache and its JSON fast path, paging) sees plain JSON, whichever
// backend (SQLite, etcd) is underneath.
import {
  StorageError,
  type Backend,
  type KeyValue,
  type ListOptions,
  type StorageEvent,
} from '../../storage/interface.js';
import type { ValueTransformer } from './transformer.js';

export class TransformingBackend implements Backend {
  constructor(
    private readonly inner: Backend,
    private readonly transformer: ValueTransformer,
  ) {}

  start(): Promise<void> {
    return this.inner.start();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  currentRevision(): number {
    return this.inner.currentRevision();
  }
  compactedRevision(): number {
    return this.inner.compactedRevision();
  }
  compact(revision: number): Promise<void> {
    return this.inner.compact(revision);
  }

  private plain(kv: KeyValue, written?: string): KeyValue {
    return { ...kv, value: written ?? this.transformer.fromStorage(kv.key, kv.value) };
  }

  /** A conflict carries the current (stored, so encrypted) state: hand it up decrypted. */
  private async decrypting<T>(op: Promise<T>): Promise<T> {
    try {
      return await op;
    } catch (err) {
      if (err instanceof StorageError && err.current)
        throw new StorageError(err.code, err.key, this.plain(err.current), err.compactedRevision);
      throw err;
    }
  }

  async create(key: string, value: string): Promise<KeyValue> {
    return this.plain(await this.decrypting(this.inner.create(key, this.transformer.toStorage(key, value))), value);
  }

  async update(key: string, value: string, expectedRevision: number): Promise<KeyValue> {
    const kv = await this.decrypting(this.inner.update(key, this.transformer.toStorage(key, value), expectedRevision));
    return this.plain(kv, value);
  }

  async delete(key: string, expectedRevision?: number): Promise<{ deleted: KeyValue; revision: number }> {
    const res = await this.decrypting(this.inner.delete(key, expectedRevision));
    return { deleted: this.plain(res.deleted), revision: res.revision };
  }

  async get(key: string): Promise<KeyValue | null> {
    const kv = await this.inner.get(key);
    return kv && this.plain(kv);
  }

  async list(prefix: string, opts?: ListOptions) {
    const res = await this.inner.list(prefix, opts);
    return { ...res, items: res.items.map((kv) => this.plain(kv)) };
  }

  watch(prefix: string, fromRevision: number, onEvents: (events: StorageEvent[]) => void) {
    return this.inner.watch(prefix, fromRevision, (events) =>
      onEvents(
        events.map((e) => ({
          ...e,
          value: this.transformer.fromStorage(e.key, e.value),
          prevValue: e.prevValue === undefined ? undefined : this.transformer.fromStorage(e.key, e.prevValue),
        })),
      ),
    );
  }
}
