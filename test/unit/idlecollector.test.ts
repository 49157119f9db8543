// The heap guard's idle collection: once the server falls quiet with a burst's garbage still in its
// heap (V8 need not collect it: nothing allocates any more), one full collection is asked for, and
// a compacting one when the old generation's committed pages are largely empty. The decision is
// driven here by a scripted probe (heap in use, free pages, event-loop utilization); the last test
// runs the real one in a child process with garbage V8 left in the old generation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  COMPACT_MAX_LIVE_BYTES,
  IDLE_FREE_MIN_BYTES,
  NATIVE_TRIM_MIN_BYTES,
  IDLE_GARBAGE_MIN_BYTES,
  IDLE_SAMPLES,
  IDLE_UTILIZATION,
  IdleCollector,
  type IdleProbe,
} from '../../src/apiserver/heapguard.js';

const MiB = 2 ** 20;

/**
 * A heap whose use, free pages and event-loop load the test sets; `collect` drops the use to
 * `live`, and a compacting one the free pages to `pinned` (what compaction cannot return).
 */
class ScriptedHeap implements IdleProbe {
  inUse = 0;
  live = 0;
  freePages = 0;
  pinned = 0;
  load = 0;
  collections = 0;
  compactions = 0;
  /** Memory outside the JS heap, and what a trim leaves of it. */
  outside = 0;
  outsideAfterTrim = 0;
  trims = 0;
  used(): number {
    return this.inUse;
  }
  free(): number {
    return this.freePages;
  }
  utilization(): number {
    return this.load;
  }
  collect(compact: boolean): void {
    this.collections++;
    this.inUse = this.live;
    if (!compact) return;
    this.compactions++;
    this.freePages = this.pinned;
  }
  native(): number {
    return this.outside;
  }
  trim(): void {
    this.trims++;
    this.outside = this.outsideAfterTrim;
  }
}

test('a quiet server with a burst of garbage collects once, a busy one never', () => {
  const heap = new ScriptedHeap();
  const idle = new IdleCollector(heap);
  heap.inUse = heap.live = 300 * MiB;
  idle.afterFullCollection();
  // A burst: 260 MiB of garbage on top of 300 MiB live, the event loop busy.
  heap.inUse = 560 * MiB;
  heap.load = 0.9;
  for (let i = 0; i < 30; i++) assert.equal(idle.sample(), false, 'no collection while busy');
  // Quiet: the collection comes after IDLE_SAMPLES quiet samples, once.
  heap.load = IDLE_UTILIZATION / 2;
  for (let i = 1; i < IDLE_SAMPLES; i++) assert.equal(idle.sample(), false, `quiet sample ${i}`);
  assert.equal(idle.sample(), true);
  assert.equal(heap.collections, 1);
  assert.equal(heap.inUse, 300 * MiB);
  assert.equal(heap.compactions, 1, 'the garbage pages are returned in the same collection');
  for (let i = 0; i < 60; i++) idle.sample();
  assert.equal(heap.collections, 1, 'nothing to collect: no second collection');
});

test('a quiet heap whose pages are largely empty is compacted once; a huge one is not', () => {
  const heap = new ScriptedHeap();
  const idle = new IdleCollector(heap);
  heap.inUse = heap.live = 300 * MiB;
  idle.afterFullCollection();
  // V8 collected by itself: no garbage left, but 150 MiB of committed pages hold nothing.
  heap.freePages = 150 * MiB;
  heap.pinned = 4 * MiB;
  for (let i = 1; i < IDLE_SAMPLES; i++) assert.equal(idle.sample(), false, `quiet sample ${i}`);
  assert.equal(idle.sample(), true);
  assert.deepEqual([heap.collections, heap.compactions, heap.freePages], [1, 1, 4 * MiB]);
  for (let i = 0; i < 60; i++) idle.sample();
  assert.equal(heap.collections, 1, 'compacted: nothing more to return');
  // Compaction could not return the pinned pages: it is not asked for again until as much more
  // has come free as the first time needed.
  heap.pinned = heap.freePages = 4 * MiB + IDLE_FREE_MIN_BYTES - 1;
  for (let i = 0; i < 60; i++) idle.sample();
  assert.equal(heap.collections, 1, 'less new free memory than the threshold');
  heap.freePages = 4 * MiB + 200 * MiB;
  for (let i = 0; i < IDLE_SAMPLES; i++) idle.sample();
  assert.deepEqual([heap.collections, heap.compactions], [2, 2]);

  // Live data above COMPACT_MAX_LIVE_BYTES: garbage is collected, pages are never moved (the pause).
  const big = new ScriptedHeap();
  const bigIdle = new IdleCollector(big);
  big.inUse = big.live = COMPACT_MAX_LIVE_BYTES + MiB;
  bigIdle.afterFullCollection();
  big.freePages = COMPACT_MAX_LIVE_BYTES;
  for (let i = 0; i < 30; i++) bigIdle.sample();
  assert.equal(big.collections, 0, 'free pages alone ask for nothing in a huge heap');
  big.inUse = big.live * 2;
  for (let i = 0; i < IDLE_SAMPLES; i++) bigIdle.sample();
  assert.deepEqual([big.collections, big.compactions], [1, 0]);
});

test('a quiet server trims the C heap once after a collection, or after its memory outside the JS heap grew', () => {
  const heap = new ScriptedHeap();
  const idle = new IdleCollector(heap);
  heap.inUse = heap.live = 100 * MiB;
  idle.afterFullCollection();
  // 1,000 connections came and went: 120 MiB outside the heap, 40 of it in use.
  heap.outside = 120 * MiB;
  heap.outsideAfterTrim = 40 * MiB;
  heap.load = 0.5;
  for (let i = 0; i < 30; i++) idle.sample();
  assert.equal(heap.trims, 0, 'not while busy');
  heap.load = 0;
  for (let i = 1; i < IDLE_SAMPLES; i++) idle.sample();
  assert.equal(heap.trims, 0);
  assert.equal(idle.sample(), false, 'a trim is no collection');
  assert.deepEqual([heap.trims, heap.collections, heap.outside], [1, 0, 40 * MiB]);
  for (let i = 0; i < 60; i++) idle.sample();
  assert.equal(heap.trims, 1, 'nothing more to return');
  heap.outside = heap.outsideAfterTrim = 40 * MiB + NATIVE_TRIM_MIN_BYTES - 1;
  for (let i = 0; i < 60; i++) idle.sample();
  assert.equal(heap.trims, 1, 'grew by less than the threshold');
  heap.outside = 40 * MiB + NATIVE_TRIM_MIN_BYTES;
  for (let i = 0; i < IDLE_SAMPLES; i++) idle.sample();
  assert.equal(heap.trims, 2);
  // A full collection (V8's): what it freed of sockets' native state may be free in malloc now.
  idle.afterFullCollection();
  for (let i = 0; i < IDLE_SAMPLES; i++) idle.sample();
  assert.equal(heap.trims, 3, 'trimmed after the collection');
  for (let i = 0; i < 60; i++) idle.sample();
  assert.equal(heap.trims, 3, 'once');
});

test('little garbage, or a short lull in a busy server, asks for nothing', () => {
  const heap = new ScriptedHeap();
  const idle = new IdleCollector(heap);
  for (let i = 0; i < 10; i++) idle.sample();
  assert.equal(heap.collections, 0, 'no full collection seen yet: the live data is unknown');
  heap.inUse = heap.live = 200 * MiB;
  idle.afterFullCollection();
  // Less garbage than half the live data (and than the minimum): kept until V8 wants it.
  heap.inUse = 200 * MiB + Math.max(IDLE_GARBAGE_MIN_BYTES, 90 * MiB) - 1;
  for (let i = 0; i < 20; i++) idle.sample();
  assert.equal(heap.collections, 0);
  // Enough garbage, but every few samples the loop is busy again.
  heap.inUse = 500 * MiB;
  for (let i = 0; i < 40; i++) {
    heap.load = i % IDLE_SAMPLES === 0 ? 0.5 : 0;
    idle.sample();
  }
  assert.equal(heap.collections, 0);
});

test('in a real process: garbage left in the old generation is collected once the loop is quiet', () => {
  const module = fileURLToPath(new URL('../../src/apiserver/heapguard.js', import.meta.url));
  // A full collection leaves little live data; then objects live long enough to be promoted to the
  // old generation are dropped while nothing allocates any more. V8's own idle-time collection is
  // off (--no-memory-reducer), so only the collector can free them; it samples once a second, as
  // the heap guard does. (Without it the heap stays at ~170 MiB in use for the whole wait.)
  const script = `
    const { IdleCollector } = await import(${JSON.stringify(module)});
    const { getHeapStatistics } = await import('node:v8');
    const used = () => getHeapStatistics().used_heap_size;
    const idle = new IdleCollector();
    globalThis.gc();
    idle.afterFullCollection();
    let junk = [];
    for (let i = 0; i < 400000; i++) junk.push({ i, s: 'x'.repeat(200) + i, more: [i, { i }] });
    junk = null;
    const before = used();
    let collected = false;
    for (let s = 0; s < 12 && !collected; s++) {
      await new Promise((r) => setTimeout(r, 1000));
      collected = idle.sample();
    }
    console.log(JSON.stringify({ collected, before, after: used() }));
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--no-memory-reducer', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { collected: boolean; before: number; after: number };
  assert.ok(out.before > 100 * MiB, `the garbage was made: ${JSON.stringify(out)}`);
  assert.equal(out.collected, true, JSON.stringify(out));
  assert.ok(out.after < out.before / 4, `heap in use after the quiet period: ${JSON.stringify(out)}`);
});

test('in a real process: a quiet heap of half-empty pages is compacted and the pages returned', () => {
  const module = fileURLToPath(new URL('../../src/apiserver/heapguard.js', import.meta.url));
  // Objects that lived through a full collection, half of them dropped and collected by V8 itself
  // (the plain full collection the script asks for): no garbage is left, but every page is half
  // empty and stays committed (~330 MiB for ~170 in use). With no garbage to collect, only the
  // empty pages make the quiet collector act: its compacting collection returns them.
  const script = `
    const { IdleCollector } = await import(${JSON.stringify(module)});
    const { getHeapSpaceStatistics } = await import('node:v8');
    const old = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
    const idle = new IdleCollector();
    let all = [];
    for (let i = 0; i < 800000; i++) all.push({ i, s: 'x'.repeat(200) + i, more: [i, { i }] });
    globalThis.gc();
    const kept = all.filter((_, i) => i % 2 === 0);
    all = null;
    globalThis.gc();
    idle.afterFullCollection();
    const before = old();
    let collected = false;
    for (let s = 0; s < 12 && !collected; s++) {
      await new Promise((r) => setTimeout(r, 1000));
      collected = idle.sample();
    }
    const after = old();
    console.log(JSON.stringify({ collected, kept: kept.length, sizeBefore: before.space_size,
      usedBefore: before.space_used_size, sizeAfter: after.space_size, usedAfter: after.space_used_size }));
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--no-memory-reducer', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
  assert.ok(out.sizeBefore - out.usedBefore > 100 * MiB, `half-empty pages were made: ${JSON.stringify(out)}`);
  assert.equal(out.collected, true, JSON.stringify(out));
  assert.ok(out.sizeAfter < out.usedBefore * 1.2, `the empty parts were returned: ${JSON.stringify(out)}`);
});
