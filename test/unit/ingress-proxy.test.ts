// Pieces of the ingress data path (src/ingress/proxy.ts) that need no sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requestId } from '../../src/ingress/proxy.js';

test('request ids are 32 hex digits and stay unique across refills of the random pool', () => {
  const seen = new Set<string>();
  // 4096-byte pool, 16 bytes an id: 1,000 ids refill it several times.
  for (let i = 0; i < 1000; i++) {
    const id = requestId();
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.ok(!seen.has(id), `id ${id} repeated after ${i} ids`);
    seen.add(id);
  }
});
