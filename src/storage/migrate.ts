// Copies every key of one datastore into another (`k8ts datastore migrate`, and k3s's move of a
// SQLite server to managed etcd on `--cluster-init`): a consistent list of the source at one
// revision, page by page, each key created in the target. The target's revision is first moved
// past the source's, so every object's resourceVersion is higher after the move than before it.
import { StorageError, type Backend } from './interface.js';

export interface MigrateOptions {
  /** Replace keys the target has with a different value (default: keep the target's, count them). */
  overwrite?: boolean;
  /** Moves the target's revision up to at least this (etcd: EtcdBackend.advanceRevisionTo). */
  advanceRevisionTo?: (revision: number) => Promise<void>;
  pageSize?: number;
  concurrency?: number;
}

export interface MigrateResult {
  /** Keys created in the target. */
  copied: number;
  /** Keys the target had with the same value. */
  unchanged: number;
  /** Keys the target had with another value: replaced with --overwrite, else kept. */
  differing: number;
  /** The source's revision the copy is consistent at. */
  sourceRevision: number;
}

export async function migrate(source: Backend, target: Backend, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const sourceRevision = source.currentRevision();
  if (opts.advanceRevisionTo && target.currentRevision() <= sourceRevision)
    await opts.advanceRevisionTo(sourceRevision + 1);
  const result: MigrateResult = { copied: 0, unchanged: 0, differing: 0, sourceRevision };
  const copyOne = async (key: string, value: string) => {
    try {
      await target.create(key, value);
      result.copied++;
    } catch (err) {
      if (!(err instanceof StorageError) || err.code !== 'KeyExists') throw err;
      const current = err.current ?? (await target.get(key));
      if (current && current.value === value) {
        result.unchanged++;
        return;
      }
      result.differing++;
      if (opts.overwrite && current) await target.update(key, value, current.modRevision);
    }
  };
  let after: string | undefined;
  for (;;) {
    const page = await source.list('', { revision: sourceRevision, after, limit: opts.pageSize ?? 500 });
    const items = page.items;
    const width = opts.concurrency ?? 16;
    for (let i = 0; i < items.length; i += width)
      await Promise.all(items.slice(i, i + width).map((kv) => copyOne(kv.key, kv.value)));
    if (!page.more || !items.length) break;
    after = items[items.length - 1].key;
  }
  return result;
}
