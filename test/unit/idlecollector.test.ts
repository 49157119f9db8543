// The heap guard's idle collection: once the server falls quiet with a burst's garbage still in its
// heap (V8 need not collect it: nothing allocates any more), one full collection is asked for. The
// decision is driven here by a scripted probe (heap in use, event-loop utilization); a second test
// runs the real one in a child process with garbage V8 left in the old generation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  IDLE_GARBAGE_MIN_BYTES,
  IDLE_SAMPLES,
  IDLE_UTILIZATION,
  IdleCollector,
  type IdleProbe,
} from '../../src/apiserver/heapguard.js';

const MiB = 2 ** 20;

/** A heap whose use and event-loop load the test sets; `collect` drops the use to `live`. */
class ScriptedHeap implements IdleProbe {
  inUse = 0;
  live = 0;
  load = 0;
  collections = 0;
  used(): number {
    return this.inUse;
  }
  utilization(): number {
    return this.load;
  }
  collect(): void {
    this.collections++;
    this.inUse = this.live;
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
  for (let i = 0; i < 60; i++) idle.sample();
  assert.equal(heap.collections, 1, 'nothing to collect: no second collection');
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
