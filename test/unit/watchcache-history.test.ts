// The watch cache keeps past versions as deltas against the version after them: a watch resuming
// from the past still gets every version byte for byte, and the history holds a fraction of the
// text it held whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSqliteBackend } from '../support/sqlite.js';
import { WatchCache, type CacheEvent } from '../../src/storage/cacher.js';
import { applyDelta, encodeDelta } from '../../src/storage/textdelta.js';
import { prng } from '../support/prng.js';

test('encodeDelta/applyDelta round-trip edited, unrelated, empty and non-ASCII texts', () => {
  const rand = prng(16);
  const alphabet = 'abcdefghij{}":,0123456789 é€😀';
  const word = (n: number) => Array.from({ length: n }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
  for (let round = 0; round < 300; round++) {
    const base = word(Math.floor(rand() * 3000));
    let text = base;
    for (let edits = Math.floor(rand() * 6); edits > 0; edits--) {
      const at = Math.floor(rand() * (text.length + 1));
      const cut = Math.floor(rand() * 40);
      text = text.slice(0, at) + word(Math.floor(rand() * 30)) + text.slice(at + cut);
    }
    const delta = encodeDelta(text, base);
    assert.equal(applyDelta(base, delta), text, `round ${round}`);
  }
  for (const [text, base] of [
    ['', ''],
    ['', 'abc'],
    ['abc', ''],
    ['x'.repeat(100), 'y'.repeat(100)],
    ['same text that is long enough', 'same text that is long enough'],
  ])
    assert.equal(applyDelta(base, encodeDelta(text, base)), text);
  // A small edit of a long text costs about the edit.
  const long = JSON.stringify({ metadata: { name: 'n', labels: { a: 'b' } }, spec: { x: 'y'.repeat(3000) } });
  assert.ok(encodeDelta(long.replace('"n"', '"m"'), long).length < 40);
  assert.throws(() => applyDelta('abc', '=0,9;'), /malformed/);
  assert.throws(() => applyDelta('abc', '?'), /malformed/);
});

test('history keeps past versions as deltas; a watch from the start replays each version exactly', async () => {
  await withSqliteBackend(async (b) => {
    const decode = (_k: string, v: string, rev: number) => {
      const o = JSON.parse(v);
      o.metadata.resourceVersion = String(rev);
      return o;
    };
    const cache = new WatchCache(b, '/leases/', decode);
    await cache.start();
    const start = cache.revision;
    const live: CacheEvent[] = [];
    cache.watch(start, { onEvent: (ev) => live.push(ev) });

    const lease = (i: number) =>
      JSON.stringify({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: `node-${i % 3}`, namespace: 'kube-node-lease', uid: `uid-${i % 3}` },
        spec: {
          holderIdentity: `node-${i % 3}`,
          leaseDurationSeconds: 40,
          renewTime: `2026-12-07T00:${String(i % 60).padStart(2, '0')}:00.000000Z`,
        },
        usage: 'u'.repeat(1500),
      });
    const revs = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const key = `/leases/node-${i % 3}`;
      const kv = revs.has(key) ? await b.update(key, lease(i), revs.get(key)!) : await b.create(key, lease(i));
      revs.set(key, kv.modRevision);
    }
    await b.delete('/leases/node-0');
    await b.create('/leases/node-0', lease(60));
    // Fan-out runs after the writes' acknowledgements.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.equal(live.length, 62);

    const shape = (ev: CacheEvent) => ({
      type: ev.type,
      rev: ev.rev,
      cur: ev.cur.json,
      prev: ev.prev?.json,
      name: ev.cur.obj.metadata.name,
    });
    const replayed = cache.eventsSince(start);
    assert.deepEqual(replayed.map(shape), live.map(shape));
    const resumed: CacheEvent[] = [];
    const stop = cache.watch(start + 30, { onEvent: (ev) => resumed.push(ev) });
    stop();
    assert.deepEqual(resumed.map(shape), live.slice(30).map(shape));

    // What history holds: most versions as a short delta, not 1.6 KiB of text each.
    const kept = replayed.reduce((n, ev) => n + (ev.cur as unknown as { text: string }).text.length, 0);
    const whole = live.reduce((n, ev) => n + ev.cur.json.length, 0);
    assert.ok(kept < whole / 4, `history keeps ${kept} of ${whole} characters`);
    cache.stop();
  });
});

test('a superseded entry held elsewhere (a list snapshot) does not keep the later versions in history alive', async () => {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  await withSqliteBackend(async (b) => {
    // One event of history: each new event pushes the one before out.
    const cache = new WatchCache(b, '/x/', (_k, v) => JSON.parse(v), { maxEvents: 1 });
    try {
      await cache.start();
      const big = (n: number) => JSON.stringify({ metadata: { name: 'a' }, data: String(n).repeat(8192) });
      await b.create('/x/a', big(1));
      // What a list with a limit keeps for its continue token: the cache entry of the version.
      const old = cache.get('/x/a')!;
      const from = cache.revision;
      await b.update('/x/a', big(2), from);
      await b.delete('/x/a');
      // The deletion's history record (its own copy of the last version), while history has it...
      const tombstone = new WeakRef(cache.eventsSince(cache.revision - 1)[0].cur);
      await b.create('/x/other', big(3));
      for (let i = 0; i < 5 && tombstone.deref() !== undefined; i++) {
        await new Promise((r) => setTimeout(r, 20));
        gc();
      }
      // ...is collected once history let go of it, though the first version's entry is still held.
      assert.equal(tombstone.deref(), undefined, 'the history of later versions is not kept by an old entry');
      assert.equal(JSON.parse(old.json).data, JSON.parse(big(1)).data);
    } finally {
      cache.stop();
    }
  });
});
