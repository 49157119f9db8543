// SyncBridge: a synchronous call answered by a worker thread's asynchronous work (the bridge
// Helm's lookup uses from inside template execution).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SyncBridge, SyncBridgeError } from '../../src/chart/sync/bridge.js';

const serveUrl = new URL('../../src/chart/sync/serve.js', import.meta.url).href;

/** A worker module (as a data: URL) serving requests with `handler`'s source. */
function workerModule(handler: string): URL {
  const source = `import { serveSync } from ${JSON.stringify(serveUrl)};\nserveSync(${handler});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(source)}`);
}

const slowEcho = workerModule(`async (req, data) => {
  if (req.fail) throw new Error('failed: ' + req.fail);
  if (req.hang) return new Promise(() => {});
  await new Promise((r) => setTimeout(r, req.delayMs ?? 0));
  return { echo: req.value, data, big: 9007199254740993n };
}`);

test('a synchronous call returns what the worker computed asynchronously', async () => {
  const bridge = new SyncBridge<{ value: string; delayMs?: number }, unknown>(slowEcho, { tag: 'd' });
  try {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    // The caller's event loop does not turn while it waits: the answer comes before any tick.
    const answer = bridge.call({ value: 'one', delayMs: 50 });
    assert.equal(ticks, 0);
    clearInterval(timer);
    assert.deepEqual(answer, { echo: 'one', data: { tag: 'd' }, big: 9007199254740993n });
    for (let i = 0; i < 20; i++) assert.deepEqual((bridge.call({ value: `v${i}` }) as { echo: string }).echo, `v${i}`);
  } finally {
    await bridge.close();
  }
});

test("the worker's error is thrown to the caller, and the bridge keeps working", async () => {
  const bridge = new SyncBridge<{ value?: string; fail?: string }, { echo: string }>(slowEcho, null);
  try {
    assert.throws(
      () => bridge.call({ fail: 'forbidden' }),
      (e) => e instanceof SyncBridgeError && e.message === 'failed: forbidden',
    );
    assert.equal(bridge.call({ value: 'after' }).echo, 'after');
  } finally {
    await bridge.close();
  }
});

test('a call without an answer times out, stops the thread, and the next call starts a new one', async () => {
  const bridge = new SyncBridge<{ value?: string; hang?: boolean }, { echo: string }>(slowEcho, null, 3_000);
  try {
    // The first call also waits for the thread to start: give that a call of its own.
    assert.equal(bridge.call({ value: 'warm' }).echo, 'warm');
    assert.throws(() => bridge.call({ hang: true }), /no answer from the worker thread within 3000 ms/);
    assert.equal(bridge.call({ value: 'again' }).echo, 'again');
  } finally {
    await bridge.close();
  }
});
