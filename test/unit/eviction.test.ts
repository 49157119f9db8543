import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  crossed,
  evictionMessage,
  parseEvictionHard,
  rankByMemory,
  DEFAULT_EVICTION_HARD,
  type Observations,
} from '../../src/agent/eviction.js';

const obs = (memAvail: number): Observations => ({
  'memory.available': { available: memAvail, capacity: 8 * 1024 ** 3 },
  'nodefs.available': { available: 50e9, capacity: 100e9 },
  'nodefs.inodesFree': { available: 5e6, capacity: 6e6 },
  'imagefs.available': { available: 50e9, capacity: 100e9 },
  'pid.available': { available: 30000, capacity: 32768 },
});

test('eviction thresholds parse as upstream writes them, with clear errors', () => {
  const t = parseEvictionHard(DEFAULT_EVICTION_HARD);
  assert.deepEqual(t[0], { signal: 'memory.available', quantity: 100 * 1024 * 1024 });
  assert.deepEqual(t[1], { signal: 'nodefs.available', percent: 10 });
  assert.throws(() => parseEvictionHard('memory.free<1Gi'), /unknown signal "memory.free"/);
  assert.throws(() => parseEvictionHard('memory.available>1Gi'), /invalid threshold/);
  assert.throws(() => parseEvictionHard('nodefs.available<120%'), /invalid percentage/);
});

test('a threshold is crossed when less than its amount is available', () => {
  const t = parseEvictionHard(DEFAULT_EVICTION_HARD);
  assert.deepEqual(crossed(t, obs(1024 ** 3)), []);
  assert.deepEqual(
    crossed(t, obs(50 * 1024 * 1024)).map((x) => x.signal),
    ['memory.available'],
  );
  assert.equal(
    evictionMessage(t[0], obs(50 * 1024 * 1024)),
    'The node was low on resource: memory. Threshold quantity: 102400Ki, available: 51200Ki. ',
  );
});

test('pods over their requests go first, then lower priority, then the larger excess', () => {
  const pod = (name: string, request: string | undefined, priority = 0) => ({
    metadata: { name },
    spec: { priority, containers: [{ name: 'c', resources: request ? { requests: { memory: request } } : {} }] },
  });
  const usage: Record<string, number> = {
    guaranteed: 50 * 2 ** 20,
    burst: 300 * 2 ** 20,
    best: 100 * 2 ** 20,
    vip: 900 * 2 ** 20,
  };
  const ranked = rankByMemory(
    [pod('guaranteed', '100Mi'), pod('best', undefined), pod('burst', '200Mi'), pod('vip', undefined, 1000)],
    (p) => usage[p.metadata.name],
  );
  assert.deepEqual(
    ranked.map((p) => p.metadata.name),
    ['best', 'burst', 'vip', 'guaranteed'],
  );
});
