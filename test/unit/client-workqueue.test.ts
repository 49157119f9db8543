import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BucketRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  RateLimitingQueue,
  defaultControllerRateLimiter,
} from '../../src/client/workqueue.js';
import { ControllerRunner } from '../../src/client/controller.js';
import { eventually, sleep } from './client-fixture.js';

test('a key queued twice while waiting is processed once', async () => {
  const q = new RateLimitingQueue<string>();
  q.add('a');
  q.add('b');
  q.add('a');
  assert.equal(q.len(), 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
  assert.equal(q.len(), 0);
  q.done('a');
  q.done('b');
  assert.equal(q.len(), 0);
});

test('a key re-added while processing is processed again after done, never concurrently', async () => {
  const q = new RateLimitingQueue<string>();
  q.add('a');
  const item = await q.get();
  assert.equal(item, 'a');
  q.add('a'); // while processing
  assert.equal(q.len(), 0, 'not handed to another worker while processing');
  q.add('a');
  q.done('a');
  assert.equal(q.len(), 1);
  assert.equal(await q.get(), 'a');
  q.done('a');
  assert.equal(q.len(), 0);
});

test('get waits for an item; shutDown releases waiters', async () => {
  const q = new RateLimitingQueue<string>();
  const p = q.get();
  setTimeout(() => q.add('x'), 10);
  assert.equal(await p, 'x');
  q.done('x');
  const waiting = q.get();
  q.shutDown();
  assert.equal(await waiting, undefined);
  q.add('y');
  assert.equal(q.len(), 0, 'no adds after shutdown');
});

test('addAfter delays an item; the earliest of two delays wins', async () => {
  const q = new RateLimitingQueue<string>();
  const t0 = Date.now();
  q.addAfter('a', 200);
  q.addAfter('a', 30);
  assert.equal(q.len(), 0);
  assert.equal(await q.get(), 'a');
  const took = Date.now() - t0;
  assert.ok(took >= 25 && took < 150, `took ${took} ms`);
  q.done('a');
  await sleep(220);
  assert.equal(q.len(), 0, 'the later delay was dropped');
  q.shutDown();
});

test('per-item exponential backoff 5 ms → 1000 s, forget resets it', () => {
  const rl = new ItemExponentialFailureRateLimiter<string>(5, 1000_000);
  assert.deepEqual(
    [1, 2, 3, 4, 5].map(() => rl.when('a')),
    [5, 10, 20, 40, 80],
  );
  assert.equal(rl.when('b'), 5);
  assert.equal(rl.numRequeues('a'), 5);
  for (let i = 0; i < 40; i++) rl.when('a');
  assert.equal(rl.when('a'), 1000_000);
  rl.forget('a');
  assert.equal(rl.numRequeues('a'), 0);
  assert.equal(rl.when('a'), 5);
});

test('the bucket bounds the overall rate; default limiter is the max of both', () => {
  const bucket = new BucketRateLimiter<string>(10, 3);
  assert.deepEqual([bucket.when('a'), bucket.when('b'), bucket.when('c')], [0, 0, 0]);
  const d = bucket.when('d');
  assert.ok(d > 50 && d <= 100, `delay ${d}`);
  const max = new MaxOfRateLimiter<string>(
    new ItemExponentialFailureRateLimiter(5, 1000),
    new BucketRateLimiter(1000, 1000),
  );
  assert.equal(max.when('x'), 5);
  assert.equal(max.when('x'), 10);
  const def = defaultControllerRateLimiter<string>();
  assert.equal(def.when('k'), 5);
});

test('addRateLimited backs off; the runner retries failures and forgets successes', async () => {
  const attempts = new Map<string, number>();
  const processing = new Set<string>();
  let concurrent = false;
  const runner = new ControllerRunner({
    name: 'test',
    workers: 4,
    reconcile: async (key) => {
      if (processing.has(key)) concurrent = true;
      processing.add(key);
      await sleep(2);
      processing.delete(key);
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      if (key === 'flaky' && n < 4) throw new Error('not yet');
    },
  });
  runner.start();
  runner.enqueue('flaky');
  runner.enqueue('ok');
  for (let i = 0; i < 20; i++) runner.enqueue('ok');
  await eventually(() => attempts.get('flaky') === 4, 2000);
  assert.equal(runner.queue.numRequeues('flaky'), 0, 'forgotten after success');
  assert.ok((attempts.get('ok') ?? 0) <= 3, `ok processed ${attempts.get('ok')} times`);
  assert.equal(concurrent, false, 'a key never runs on two workers at once');
  await runner.stop();
});

test('requeueAfter asks for another look', async () => {
  let n = 0;
  const runner = new ControllerRunner({
    name: 'test',
    reconcile: () => {
      n++;
      return n < 3 ? { requeueAfterMs: 20 } : undefined;
    },
  });
  runner.start();
  runner.enqueue('k');
  await eventually(() => n === 3, 2000);
  await sleep(60);
  assert.equal(n, 3);
  await runner.stop();
});
