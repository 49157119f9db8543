// A namespace's list from the watch cache: its own keys, sorted, whatever comes and goes in it and
// in other namespaces between lists (the per-namespace index the cache keeps once a namespace is
// listed), compared with a plain filter and sort of every key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSqliteBackend } from '../support/sqlite.js';
import { WatchCache } from '../../src/storage/cacher.js';
import { Store } from '../../src/apiserver/store.js';

test('a namespace list has exactly its keys, sorted, through creates and deletes everywhere', async () => {
  await withSqliteBackend(async (b) => {
    const cache = new WatchCache(b, '/pods/', (_k, v, rev) => Store.decode(v, rev));
    await cache.start();
    try {
      const caught = async (rev: number) => {
        for (let i = 0; i < 200 && cache.revision < rev; i++) await new Promise((r) => setTimeout(r, 5));
        assert.ok(cache.revision >= rev, 'the cache caught up with the writes');
      };
      const expected = (prefix: string) => [...cache.items.keys()].filter((k) => k.startsWith(prefix)).sort();
      const listed = (prefix: string) => cache.list(prefix).map((s) => s.key);
      const body = (ns: string, name: string) => JSON.stringify({ metadata: { namespace: ns, name } });
      let seed = 7;
      const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
      const live = new Set<string>();
      let rev = 0;
      for (let round = 0; round < 300; round++) {
        const ns = ['a', 'b', 'ab', 'c'][rand(4)];
        const key = `/pods/${ns}/p-${rand(40)}`;
        rev = live.has(key) ? (await b.delete(key)).revision : (await b.create(key, body(ns, key))).modRevision;
        if (live.has(key)) live.delete(key);
        else live.add(key);
        if (round % 7 === 0) {
          await caught(rev);
          for (const prefix of ['/pods/a/', '/pods/ab/', '/pods/c/', '/pods/none/'])
            assert.deepEqual(listed(prefix), expected(prefix), `round ${round}, ${prefix}`);
          assert.deepEqual(listed('/pods/'), expected('/pods/'));
        }
      }
      // A key below a namespace's (not an object of the namespace itself) is still listed.
      rev = (await b.create('/pods/a/deep/x', body('a', 'x'))).modRevision;
      await caught(rev);
      assert.deepEqual(listed('/pods/a/'), expected('/pods/a/'));
      assert.ok(listed('/pods/a/').includes('/pods/a/deep/x'));
    } finally {
      cache.stop();
    }
  });
});
