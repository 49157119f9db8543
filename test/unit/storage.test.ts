import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteBackend } from '../../src/storage/sqlite/backend.js';
import { StorageError, type StorageEvent } from '../../src/storage/interface.js';
import { WatchCache } from '../../src/storage/cacher.js';

async function withBackend(fn: (b: SqliteBackend, file: string) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-store-'));
  const file = join(dir, 'state.db');
  const b = new SqliteBackend(file);
  await b.start();
  try {
    await fn(b, file);
  } finally {
    await b.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

test('create, conditional update and delete with one global revision', () =>
  withBackend(async (b) => {
    const a = await b.create('/t/a', '1');
    const c = await b.create('/t/c', '1');
    assert.ok(c.modRevision > a.modRevision);
    await assert.rejects(b.create('/t/a', '2'), (e: StorageError) => e.code === 'KeyExists');
    const a2 = await b.update('/t/a', '2', a.modRevision);
    assert.equal(a2.createRevision, a.modRevision);
    await assert.rejects(
      b.update('/t/a', '3', a.modRevision),
      (e: StorageError) => e.code === 'Conflict' && e.current!.value === '2',
    );
    await assert.rejects(b.update('/t/missing', '3', 1), (e: StorageError) => e.code === 'NotFound');
    const del = await b.delete('/t/a', a2.modRevision);
    assert.equal(del.deleted.value, '2');
    assert.equal(await b.get('/t/a'), null);
    assert.equal(b.currentRevision(), del.revision);
  }));

test('concurrent writes are batched and every one is acknowledged', () =>
  withBackend(async (b) => {
    const revs = await Promise.all(
      Array.from({ length: 500 }, (_, i) => b.create(`/t/k${String(i).padStart(4, '0')}`, `v${i}`)),
    );
    assert.equal(new Set(revs.map((r) => r.modRevision)).size, 500);
    const all = await b.list('/t/');
    assert.equal(all.items.length, 500);
  }));

test('list paginates and reads history at an older revision', () =>
  withBackend(async (b) => {
    for (let i = 0; i < 10; i++) await b.create(`/p/${i}`, `a${i}`);
    const rev = b.currentRevision();
    await b.update('/p/3', 'changed', (await b.get('/p/3'))!.modRevision);
    await b.delete('/p/4');
    await b.create('/p/99', 'new');
    const page1 = await b.list('/p/', { revision: rev, limit: 4 });
    assert.deepEqual(
      page1.items.map((i) => i.value),
      ['a0', 'a1', 'a2', 'a3'],
    );
    assert.equal(page1.more, true);
    const rest = await b.list('/p/', { revision: rev, after: page1.items[3].key });
    assert.deepEqual(
      rest.items.map((i) => i.value),
      ['a4', 'a5', 'a6', 'a7', 'a8', 'a9'],
    );
    const now = await b.list('/p/');
    assert.ok(now.items.some((i) => i.value === 'changed'));
    assert.ok(!now.items.some((i) => i.key === '/p/4'));
  }));

test('watch replays from a revision then goes live, without gap or duplicate', () =>
  withBackend(async (b) => {
    await b.create('/w/a', '1');
    const from = b.currentRevision();
    await b.create('/w/b', '1');
    await b.update('/w/b', '2', b.currentRevision());
    const seen: StorageEvent[] = [];
    const stop = await b.watch('/w/', from, (evs) => seen.push(...evs));
    await b.delete('/w/a');
    await b.create('/other/x', '1');
    stop();
    assert.deepEqual(
      seen.map((e) => `${e.type} ${e.key} ${e.value}`),
      ['put /w/b 1', 'put /w/b 2', 'delete /w/a 1'],
    );
    const revs = seen.map((e) => e.revision);
    assert.deepEqual(
      revs,
      [...revs].sort((x, y) => x - y),
    );
  }));

test("compaction keeps each key's state at the compacted revision", () =>
  withBackend(async (b) => {
    const k = await b.create('/c/k', 'v1');
    await b.create('/c/gone', 'x');
    await b.delete('/c/gone');
    const mid = b.currentRevision();
    await b.update('/c/k', 'v2', k.modRevision);
    await b.compact(mid);
    const atMid = await b.list('/c/', { revision: mid });
    assert.deepEqual(
      atMid.items.map((i) => i.value),
      ['v1'],
    );
    assert.deepEqual(
      (await b.list('/c/')).items.map((i) => i.value),
      ['v2'],
    );
    await assert.rejects(b.list('/c/', { revision: mid - 1 }), (e: StorageError) => e.code === 'Compacted');
    await assert.rejects(
      b.watch('/c/', mid - 1, () => {}),
      (e: StorageError) => e.code === 'Compacted',
    );
    const seen: string[] = [];
    const stop = await b.watch('/c/', mid, (evs) => seen.push(...evs.map((e) => e.value)));
    stop();
    assert.deepEqual(seen, ['v2']);
  }));

test('data and revisions survive a reopen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-store-'));
  const file = join(dir, 'state.db');
  try {
    const b = new SqliteBackend(file);
    await b.start();
    await b.create('/r/a', '1');
    const rev = b.currentRevision();
    await b.close();
    const b2 = new SqliteBackend(file);
    await b2.start();
    assert.equal(b2.currentRevision(), rev);
    assert.equal((await b2.get('/r/a'))!.value, '1');
    const next = await b2.create('/r/b', '2');
    assert.ok(next.modRevision > rev);
    await b2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('watch cache serves state and resumes watchers from history', () =>
  withBackend(async (b) => {
    await b.create('/x/a', JSON.stringify({ metadata: { name: 'a' } }));
    const cache = new WatchCache(b, '/x/', (_k, v, rev) => ({
      ...JSON.parse(v),
      metadata: { ...JSON.parse(v).metadata, resourceVersion: String(rev) },
    }));
    await cache.start();
    assert.equal(cache.list().length, 1);
    const from = cache.revision;
    await b.create('/x/b', JSON.stringify({ metadata: { name: 'b' } }));
    await b.delete('/x/a');
    const types: string[] = [];
    const stop = cache.watch(from, { onEvent: (e) => types.push(`${e.type}:${e.cur.obj.metadata.name}`) });
    await b.create('/x/c', JSON.stringify({ metadata: { name: 'c' } }));
    await new Promise((r) => setImmediate(r)); // live events fan out after the write's acknowledgement
    stop();
    assert.deepEqual(types, ['ADDED:b', 'DELETED:a', 'ADDED:c']);
    assert.deepEqual(
      cache.list().map((s) => s.obj.metadata.name),
      ['b', 'c'],
    );
    cache.stop();
  }));
