// Pagination snapshots (keys and revisions of the first page's list): a later page has exactly the
// versions at the first page's revision, from the watch cache or its history, even after objects
// were modified, deleted or created (and that revision compacted in storage), and from storage
// when the history no longer has them; while the paginator sheds (memory pressure), no snapshot is
// kept, and later pages are read from storage at the token's revision (410 Gone once that is
// compacted, as upstream). Snapshots together stay within a byte budget (a slot and key per
// object), the least recently used going first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SqliteBackend } from '../../src/storage/sqlite/backend.js';
import { withSqliteBackend } from '../support/sqlite.js';
import { WatchCache, type WatchCacheOptions } from '../../src/storage/cacher.js';
import { Paginator, type PageRequest, type PaginatorOptions } from '../../src/apiserver/paginate.js';
import type { Store } from '../../src/apiserver/store.js';
import { ApiError } from '../../src/machinery/errors.js';

const value = (name: string) => JSON.stringify({ metadata: { name } });

async function withPaginator(
  fn: (b: SqliteBackend, p: Paginator, request: (continueToken?: string) => PageRequest) => Promise<void>,
  opts?: PaginatorOptions,
  cacheOpts?: WatchCacheOptions,
): Promise<void> {
  await withSqliteBackend(async (b) => {
    const cache = new WatchCache(
      b,
      '/x/',
      (_k, v, rev) => ({
        ...JSON.parse(v),
        metadata: { ...JSON.parse(v).metadata, resourceVersion: String(rev) },
      }),
      cacheOpts,
    );
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
    }
  });
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
      // A snapshot counts 32 bytes and its key's length per object, whatever the object's size:
      // two objects of about 1 KiB of JSON, keys of 4 characters, are 72 bytes; two such snapshots
      // do not fit in 100.
      const padded = (name: string) => JSON.stringify({ metadata: { name }, data: { pad: 'x'.repeat(1000) } });
      for (const n of ['a', 'b']) await b.create(`/x/${n}`, padded(n));
      const first = await p.page(request());
      const one = p.snapshotStats;
      assert.deepEqual(one, { count: 1, bytes: 2 * (32 + 4) });
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
    { snapshotBudgetBytes: 100 },
  ));

/** The objects' names and their values of `v` (which the writes below change). */
const versions = (items: { obj: any }[]) => items.map((s) => `${s.obj.metadata.name}=${s.obj.data.v}`);
const valueV = (name: string, v: number) => JSON.stringify({ metadata: { name }, data: { v } });

test('later pages have exactly the versions at the revision of the first page, however the objects changed since', () =>
  withPaginator(async (b, p, request) => {
    const rev: Record<string, number> = {};
    for (const n of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) rev[n] = (await b.create(`/x/${n}`, valueV(n, 1))).modRevision;
    const req = (token?: string): PageRequest => ({ ...request(token), limit: 2 });
    const first = await p.page(req());
    assert.deepEqual(versions(first.items), ['a=1', 'b=1']);
    assert.equal(first.meta.remainingItemCount, 5);
    // Since: c modified twice, d deleted, e deleted and created again, cc created between c and d,
    // g modified; f left alone.
    const c2 = await b.update('/x/c', valueV('c', 2), rev.c);
    await b.update('/x/c', valueV('c', 3), c2.modRevision);
    await b.delete('/x/d');
    await b.delete('/x/e');
    await b.create('/x/e', valueV('e', 9));
    await b.create('/x/cc', valueV('cc', 1));
    await b.update('/x/g', valueV('g', 2), rev.g);
    // Storage no longer has the revision: the pages come from the cache and its history alone.
    await b.compact(b.currentRevision());

    const second = await p.page(req(first.meta.continue));
    assert.deepEqual(versions(second.items), ['c=1', 'd=1']);
    assert.deepEqual(
      second.items.map((s) => [s.rev, s.obj.metadata.resourceVersion]),
      [rev.c, rev.d].map((r) => [r, String(r)]),
    );
    assert.equal(second.meta.resourceVersion, first.meta.resourceVersion);
    assert.equal(second.meta.remainingItemCount, 3);
    const third = await p.page(req(second.meta.continue));
    assert.deepEqual(versions(third.items), ['e=1', 'f=1']);
    assert.equal(third.meta.remainingItemCount, 1);
    assert.deepEqual(
      third.items.map((s) => s.rev),
      [rev.e, rev.f],
    );
    const last = await p.page(req(third.meta.continue));
    assert.deepEqual(versions(last.items), ['g=1']);
    assert.equal(last.meta.continue, undefined);
    assert.equal(last.meta.remainingItemCount, undefined);
  }));

test('with a selector: the versions at the revision that matched, without remainingItemCount', () =>
  withPaginator(async (b, p, request) => {
    const rev: Record<string, number> = {};
    for (const n of ['a', 'b', 'c', 'd', 'e']) rev[n] = (await b.create(`/x/${n}`, valueV(n, 1))).modRevision;
    // Matches what has v=1: all of them at the first page's revision.
    const req = (token?: string): PageRequest => ({
      ...request(token),
      limit: 2,
      matches: (o) => o.data.v === 1,
      matchesStored: (s) => s.obj.data.v === 1,
      selectorKey: 'v=1',
      hasSelector: true,
    });
    const first = await p.page(req());
    assert.deepEqual(versions(first.items), ['a=1', 'b=1']);
    assert.equal(first.meta.remainingItemCount, undefined);
    // c no longer matches, d is gone: both still listed as they were.
    await b.update('/x/c', valueV('c', 2), rev.c);
    await b.delete('/x/d');
    const second = await p.page(req(first.meta.continue));
    assert.deepEqual(versions(second.items), ['c=1', 'd=1']);
    assert.equal(second.meta.remainingItemCount, undefined);
    assert.deepEqual(versions((await p.page(req(second.meta.continue))).items), ['e=1']);
  }));

test('a page whose versions the history no longer has is read from storage at the revision, 410 once compacted', () =>
  withPaginator(
    async (b, p, request) => {
      const rev: Record<string, number> = {};
      for (const n of ['a', 'b', 'c', 'd']) rev[n] = (await b.create(`/x/${n}`, valueV(n, 1))).modRevision;
      const req = (token?: string): PageRequest => ({ ...request(token), limit: 2 });
      const first = await p.page(req());
      // More writes than the history keeps (4 events): b's and c's first changes are gone from it.
      let bRev = rev.b;
      for (let v = 2; v <= 6; v++) bRev = (await b.update('/x/b', valueV('b', v), bRev)).modRevision;
      let cRev = rev.c;
      for (let v = 2; v <= 6; v++) cRev = (await b.update('/x/c', valueV('c', v), cRev)).modRevision;
      const second = await p.page(req(first.meta.continue));
      assert.deepEqual(versions(second.items), ['c=1', 'd=1']);
      assert.equal(second.meta.resourceVersion, first.meta.resourceVersion);
      // The snapshot is still there; storage no longer has the revision.
      await b.compact(b.currentRevision());
      await assert.rejects(() => p.page(req(first.meta.continue)), isGone);
      assert.equal(p.snapshotStats.count, 1);
    },
    undefined,
    { maxEvents: 4 },
  ));
