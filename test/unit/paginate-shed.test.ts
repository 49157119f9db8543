// Pagination snapshots under memory pressure: a snapshot serves later pages at the first page's
// revision even after its objects were deleted (and that revision compacted in storage); while
// the paginator sheds, no snapshot is kept, so the deleted objects are not held, and later pages
// are read from storage at the token's revision (410 Gone once that is compacted, as upstream).
// Snapshots together stay within a byte budget, the least recently used going first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteBackend } from '../../src/storage/sqlite/backend.js';
import { WatchCache } from '../../src/storage/cacher.js';
import { Paginator, type PageRequest, type PaginatorOptions } from '../../src/apiserver/paginate.js';
import type { Store } from '../../src/apiserver/store.js';
import { ApiError } from '../../src/machinery/errors.js';

const value = (name: string) => JSON.stringify({ metadata: { name } });

async function withPaginator(
  fn: (b: SqliteBackend, p: Paginator, request: (continueToken?: string) => PageRequest) => Promise<void>,
  opts?: PaginatorOptions,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-pageshed-'));
  const b = new SqliteBackend(join(dir, 'state.db'));
  await b.start();
  const cache = new WatchCache(b, '/x/', (_k, v, rev) => ({
    ...JSON.parse(v),
    metadata: { ...JSON.parse(v).metadata, resourceVersion: String(rev) },
  }));
  try {
    await cache.start();
    // The paginator reads a store only for its watch cache.
    const store = { cache } as unknown as Store;
    const request = (continueToken = ''): PageRequest => ({
      store,
      backend: b,
      keyPrefix: '/x/',
      matches: () => true,
      matchesStored: () => true,
      selectorKey: '',
      hasSelector: false,
      limit: 1,
      continueToken,
      resourceVersion: '',
      exact: false,
    });
    await fn(b, new Paginator(opts), request);
  } finally {
    cache.stop();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const names = (items: { obj: any }[]) => items.map((s) => s.obj.metadata.name);
const isGone = (e: unknown) => e instanceof ApiError && e.code === 410;

test('a snapshot keeps deleted objects for later pages; shedding keeps none and pages come from storage', () =>
  withPaginator(async (b, p, request) => {
    for (const n of ['a', 'b', 'c']) await b.create(`/x/${n}`, value(n));
    const first = await p.page(request());
    assert.deepEqual(names(first.items), ['a']);
    assert.equal(first.meta.remainingItemCount, 2);
    await b.delete('/x/b');
    await b.delete('/x/c');
    await b.compact(b.currentRevision());
    // From the snapshot: the list as it was, though storage no longer has that revision.
    const second = await p.page(request(first.meta.continue));
    assert.deepEqual(names(second.items), ['b']);

    for (const n of ['d', 'e', 'f']) await b.create(`/x/${n}`, value(n));
    p.shed(true);
    const shedFirst = await p.page(request());
    assert.deepEqual(names(shedFirst.items), ['a']);
    // No snapshot: the next page is read from storage at the token's revision...
    await b.delete('/x/f');
    const fromStorage = await p.page(request(shedFirst.meta.continue));
    assert.deepEqual(names(fromStorage.items), ['d']);
    // ...which answers 410 Gone once that revision is compacted.
    await b.compact(b.currentRevision());
    await assert.rejects(() => p.page(request(fromStorage.meta.continue)), isGone);
    // Shedding also dropped the snapshots already kept.
    await assert.rejects(() => p.page(request(second.meta.continue)), isGone);

    // Off again, snapshots are kept as before.
    p.shed(false);
    const again = await p.page(request());
    await b.delete('/x/d');
    await b.compact(b.currentRevision());
    assert.deepEqual(names((await p.page(request(again.meta.continue))).items), ['d']);
  }));

test('the snapshot goes once its last page was read', () =>
  withPaginator(async (b, p, request) => {
    for (const n of ['a', 'b']) await b.create(`/x/${n}`, value(n));
    const first = await p.page(request());
    await b.delete('/x/b');
    await b.compact(b.currentRevision());
    const last = await p.page(request(first.meta.continue));
    assert.deepEqual(names(last.items), ['b']);
    assert.equal(last.meta.continue, undefined);
    // Asked again, the last page comes from storage, which no longer has that revision.
    await assert.rejects(() => p.page(request(first.meta.continue)), isGone);
  }));

test('snapshots stay within their byte budget: the least recently used goes first, a list bigger than it keeps none', () =>
  withPaginator(
    async (b, p, request) => {
      // About 130 bytes of JSON each: a snapshot of two is about 280 bytes, two of them over 400.
      const padded = (name: string) => JSON.stringify({ metadata: { name }, data: { pad: 'x'.repeat(80) } });
      for (const n of ['a', 'b']) await b.create(`/x/${n}`, padded(n));
      const first = await p.page(request());
      const one = p.snapshotStats;
      assert.equal(one.count, 1);
      assert.ok(one.bytes > 200 && one.bytes <= 400, `snapshot of ${one.bytes} bytes`);
      // Another query's snapshot does not fit beside it: the older one goes.
      const other = (token?: string): PageRequest => ({ ...request(token), selectorKey: 'other' });
      const second = await p.page(other());
      assert.deepEqual(p.snapshotStats, one);
      await b.delete('/x/b');
      await b.compact(b.currentRevision());
      // The evicted token's next page is read from storage, which no longer has its revision...
      await assert.rejects(() => p.page(request(first.meta.continue)), isGone);
      // ...while the kept one still answers from memory.
      assert.deepEqual(names((await p.page(other(second.meta.continue))).items), ['b']);
      assert.equal(p.snapshotStats.count, 0);

      // A list bigger than the whole budget keeps no snapshot at all.
      for (const n of ['c', 'd', 'e']) await b.create(`/x/${n}`, padded(n));
      const big = await p.page(request());
      assert.equal(big.meta.remainingItemCount, 3);
      assert.equal(p.snapshotStats.count, 0);
      assert.deepEqual(names((await p.page(request(big.meta.continue))).items), ['c']);
    },
    { snapshotBudgetBytes: 400 },
  ));
