// Under memory pressure the watch cache keeps only the last half minute of history; watches
// resuming from before it are told to relist (Compacted), as after a compaction.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { withSqliteBackend } from '../support/sqlite.js';
import { StorageError } from '../../src/storage/interface.js';
import { WatchCache } from '../../src/storage/cacher.js';

test('shedHistory drops history older than 30 s and keeps the rest; off again, the full window returns', async () => {
  await withSqliteBackend(async (b) => {
    mock.timers.enable({ apis: ['Date'], now: Date.parse('2026-12-06T10:00:00Z') });
    try {
      const cache = new WatchCache(b, '/x/', (_k, v) => JSON.parse(v));
      await cache.start();
      const start = cache.revision;
      await b.create('/x/old', '{"metadata":{"name":"old"}}');
      const afterOld = cache.revision;
      mock.timers.tick(60_000);
      await b.create('/x/new', '{"metadata":{"name":"new"}}');

      // Without pressure the 10-minute window keeps both.
      assert.equal(cache.eventsSince(start).length, 2);
      cache.shedHistory(true);
      assert.throws(
        () => cache.eventsSince(start),
        (e) => e instanceof StorageError && e.code === 'Compacted',
      );
      assert.deepEqual(
        cache.eventsSince(afterOld).map((e) => e.cur.obj.metadata.name),
        ['new'],
      );
      // The state itself is untouched.
      assert.equal(cache.list().length, 2);

      cache.shedHistory(false);
      mock.timers.tick(60_000);
      await b.create('/x/later', '{"metadata":{"name":"later"}}');
      assert.equal(cache.eventsSince(afterOld).length, 2, 'a minute-old event is kept again');
      cache.stop();
    } finally {
      mock.timers.reset();
    }
  });
});
