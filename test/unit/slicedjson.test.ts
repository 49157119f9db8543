// JSON.parse in slices (machinery/slicedjson.ts): the same values as JSON.parse, JSON.parse's
// errors, and other work runs while a big text is parsed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJSONInSlices } from '../../src/machinery/slicedjson.js';

test('values equal JSON.parse, key order and own __proto__ included', async () => {
  const cases = [
    '{}',
    '[]',
    '{"a":1}',
    '[1,2,[3,{"b":null}]]',
    ' {"a" : [ true , false , null , -0 , 1.5e3, "x\\u00e9\\n\\"" ] } ',
    '"s"',
    '1',
    '{"__proto__":{"x":1}}',
    '{"a":1,"b":2,"a":3}',
    '{"constructor":1,"2":0,"1":0}',
    '{"k":"\ud800"}',
    '[-1.0E-2, 1e400]',
  ];
  for (const c of cases) {
    const got = await parseJSONInSlices(c);
    assert.deepEqual(got, JSON.parse(c), c);
    assert.deepEqual(JSON.stringify(got), JSON.stringify(JSON.parse(c)), c);
  }
  const p = (await parseJSONInSlices('{"__proto__":{"polluted":1}}')) as object;
  assert.equal(Object.getPrototypeOf(p), Object.prototype);
  assert.ok(Object.hasOwn(p, '__proto__'));
  assert.equal(({} as { polluted?: number }).polluted, undefined);
});

test("text JSON.parse refuses is refused with JSON.parse's message", async () => {
  for (const bad of [
    '',
    '{',
    '{"a"}',
    '[1,]',
    '{"a":1,}',
    '01',
    '1 2',
    '"\\x"',
    '"a\nb"',
    'tru',
    '[1 2]',
    '\ufeff{}',
    '{"a":1}}',
    '-',
    '1.',
    '.5',
  ]) {
    let native = '';
    try {
      JSON.parse(bad);
    } catch (e) {
      native = (e as Error).message;
    }
    assert.ok(native, bad);
    await assert.rejects(parseJSONInSlices(bad), (e: Error) => e instanceof SyntaxError && e.message === native);
  }
});

test('a big text is parsed in slices: other work runs before it is done', async () => {
  const data = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, `value-${i}`]));
  const text = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data });
  let ranMeanwhile = false;
  setImmediate(() => (ranMeanwhile = true));
  const parsed = parseJSONInSlices(text, 1);
  assert.equal(ranMeanwhile, false);
  assert.deepEqual(await parsed, JSON.parse(text));
  assert.ok(ranMeanwhile, 'an immediate queued before the parse ran before it ended');
});
