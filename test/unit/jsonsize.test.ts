// The store's size check counts a lower bound of an object's JSON length and stops once past the
// limit, so a 3 MiB body is refused for what the limit costs, not for what the body costs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonLengthExceeds, jsonTextLengthExceeds } from '../../src/machinery/jsonsize.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test('never claims an object is longer than its JSON', () => {
  const samples: unknown[] = [
    {},
    [],
    '',
    'x',
    0,
    -1.5e300,
    true,
    false,
    null,
    { a: undefined, b: [1, 'two', { c: null }], é: 'ü\u2028"\\' },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', labels: { a: 'b' } },
      spec: { containers: range(50).map((i) => ({ name: `c${i}`, image: 'i', ports: [{ containerPort: i + 1 }] })) },
    },
    { data: Object.fromEntries(range(1000).map((i) => [`k${i}`, 'v'.repeat(i % 7)])) },
  ];
  for (const v of samples) {
    const length = JSON.stringify(v).length;
    assert.equal(jsonLengthExceeds(v, length), false, JSON.stringify(v).slice(0, 80));
    // A lower bound, but a close one: within the commas and number digits it leaves out.
    if (length > 100) assert.equal(jsonLengthExceeds(v, Math.floor(length / 2)), true, JSON.stringify(v).slice(0, 80));
  }
});

test('stops as soon as the limit is passed: a huge object costs what the limit costs', () => {
  const small = { data: Object.fromEntries(range(20_000).map((i) => [`k${i}`, 'vvvvvvvvvv'])) };
  const huge = { items: range(2_000_000).map((i) => ({ name: `n${i}`, value: 'vvvvvvvvvv' })) };
  assert.equal(jsonLengthExceeds(huge, 1024), true);
  const time = (f: () => void) => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = process.hrtime.bigint();
      f();
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return best;
  };
  const limit = 300_000;
  const tSmall = time(() => assert.equal(jsonLengthExceeds(small, limit), true));
  const tHuge = time(() => assert.equal(jsonLengthExceeds(huge, limit), true));
  // 2,000,000 items against 20,000: linear work would take ~100x as long. (The top-level array's
  // elements are queued once, which is cheap; generous factor for a busy machine.)
  assert.ok(tHuge < Math.max(20 * tSmall, 50), `huge: ${tHuge.toFixed(1)} ms, small: ${tSmall.toFixed(1)} ms`);
});

test('deep nesting is walked without recursion', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = { a: deep };
  assert.equal(jsonLengthExceeds(deep, 10_000_000), false);
  assert.equal(jsonLengthExceeds(deep, 1000), true);
});

test('the text bound: never more than the re-serialised JSON, whatever the whitespace and escapes', () => {
  const values: unknown[] = [
    { a: 'x'.repeat(300), b: [1.0, -2e10, 3], c: 'line\nbreak \u00e9 \\ " /', d: null, e: true, f: false },
    { data: Object.fromEntries(range(500).map((i) => [`k${i}`, 'v'.repeat(i % 9)])) },
  ];
  const texts = values.flatMap((v) => [JSON.stringify(v), JSON.stringify(v, null, 4)]);
  // Escapes the parser decodes to fewer characters, and numbers it shortens.
  texts.push(
    `{"s": "${'\\u0041'.repeat(200)}", "n": [${range(100)
      .map(() => '1.000000e+0')
      .join(', ')}]}`,
  );
  for (const text of texts) {
    const length = JSON.stringify(JSON.parse(text)).length;
    assert.equal(jsonTextLengthExceeds(text, length), false, text.slice(0, 80));
    assert.equal(jsonTextLengthExceeds(text, Math.floor(length / 2)), true, text.slice(0, 80));
  }
});

test('the text bound: a body that cannot fit is decided without parsing it', () => {
  const body = JSON.stringify({ data: Object.fromEntries(range(200_000).map((i) => [`key-${i}`, 'value'])) }, null, 2);
  const compact = JSON.stringify(JSON.parse(body)).length;
  assert.equal(jsonTextLengthExceeds(body, compact - 1), true);
  assert.equal(jsonTextLengthExceeds(body, compact), false);
  // Whitespace alone never makes a body too big.
  assert.equal(jsonTextLengthExceeds(`{${' '.repeat(5000)}}`, 10), false);
});
