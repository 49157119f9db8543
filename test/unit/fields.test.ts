import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/machinery/errors.js';
import { FieldSelector, escapeFieldValue, parseFieldSelector, unescapeFieldValue } from '../../src/machinery/fields.js';

const parseErr = (s: string): string => {
  try {
    parseFieldSelector(s);
  } catch (e) {
    assert.ok(e instanceof ApiError, 'throws ApiError');
    assert.equal(e.code, 400);
    assert.equal(e.reason, 'BadRequest');
    return e.message;
  }
  assert.fail(`expected ${JSON.stringify(s)} to fail`);
};

test('good and bad selectors (upstream TestSelectorParse)', () => {
  for (const s of ['x=a,y=b,z=c', '', 'x!=a,y=b', 'x=a||y\\=b', 'x=a\\=\\=b'])
    assert.doesNotThrow(() => parseFieldSelector(s), s);
  for (const s of ['x=a||y=b', 'x==a==b', 'x=a,b', 'x in (a)', 'x in (a,b,c)', 'x']) parseErr(s);
});

test('upstream error messages', () => {
  assert.equal(parseErr('x'), "invalid selector: 'x'; can't understand 'x'");
  assert.equal(parseErr('x=a,b'), "invalid selector: 'x=a,b'; can't understand 'b'");
  assert.equal(parseErr('x in (a)'), "invalid selector: 'x in (a)'; can't understand 'x in (a)'");
  assert.equal(parseErr('x=a||y=b'), 'invalid field selector: unescaped character in value: 61');
  assert.equal(parseErr('x==a==b'), 'invalid field selector: unescaped character in value: 61');
  assert.equal(parseErr('x=a\\b'), 'invalid field selector: invalid escape sequence: \\b');
  assert.equal(parseErr('x=a\\'), 'invalid field selector: invalid escape sequence: \\');
});

test('parsing: operators, sorting, escapes', () => {
  assert.deepEqual(parseFieldSelector('metadata.name=foo').requirements, [
    { field: 'metadata.name', op: '=', value: 'foo' },
  ]);
  assert.deepEqual(parseFieldSelector('status.phase==Running').requirements, [
    { field: 'status.phase', op: '=', value: 'Running' },
  ]);
  assert.deepEqual(parseFieldSelector('spec.nodeName!=').requirements, [
    { field: 'spec.nodeName', op: '!=', value: '' },
  ]);
  assert.deepEqual(parseFieldSelector('z=1,a=2').requirements, [
    { field: 'a', op: '=', value: '2' },
    { field: 'z', op: '=', value: '1' },
  ]);
  assert.deepEqual(parseFieldSelector('x=a\\,b\\=c\\\\d').requirements, [{ field: 'x', op: '=', value: 'a,b=c\\d' }]);
  assert.deepEqual(parseFieldSelector('x=a||y\\=b').requirements, [{ field: 'x', op: '=', value: 'a||y=b' }]);
  assert.deepEqual(parseFieldSelector('x=a,,y=b').requirements.length, 2, 'empty terms are skipped');
  assert.deepEqual(
    parseFieldSelector(' x = a ').requirements,
    [{ field: ' x ', op: '=', value: ' a ' }],
    'no whitespace trimming',
  );
  assert.ok(parseFieldSelector('').isEmpty());
  assert.deepEqual(parseFieldSelector('a=1,b!=2,a=3').fields(), ['a', 'b']);
});

test('splitTerm picks the first operator (upstream TestSplitTerm)', () => {
  assert.deepEqual(parseFieldSelector('a!=b').requirements[0], { field: 'a', op: '!=', value: 'b' });
  assert.deepEqual(parseFieldSelector('a==b').requirements[0], { field: 'a', op: '=', value: 'b' });
  assert.deepEqual(parseFieldSelector('a=!b').requirements[0], { field: 'a', op: '=', value: '!b' });
  assert.deepEqual(parseFieldSelector('=b').requirements[0], { field: '', op: '=', value: 'b' });
  assert.deepEqual(parseFieldSelector('a=').requirements[0], { field: 'a', op: '=', value: '' });
});

test('matching', () => {
  const obj: Record<string, string> = { 'metadata.name': 'web', 'status.phase': 'Running' };
  const get = (f: string) => obj[f];
  assert.ok(parseFieldSelector('metadata.name=web').matches(get));
  assert.ok(parseFieldSelector('metadata.name=web,status.phase!=Pending').matches(get));
  assert.ok(!parseFieldSelector('metadata.name=db').matches(get));
  assert.ok(!parseFieldSelector('status.phase!=Running').matches(get));
  assert.ok(parseFieldSelector('spec.nodeName=').matches(get), 'absent reads as empty');
  assert.ok(!parseFieldSelector('spec.nodeName!=').matches(get));
  assert.ok(parseFieldSelector('').matches(get));
  assert.ok(parseFieldSelector('a=x').matchesSet({ a: 'x' }));
  assert.ok(!parseFieldSelector('constructor=x').matchesSet({}));
});

test('escape / unescape (upstream TestEscapeValue / TestUnescapeValue)', () => {
  const cases: Record<string, string> = {
    '': '',
    a: 'a',
    '=': '\\=',
    ',': '\\,',
    '\\': '\\\\',
    '\\=\\,\\': '\\\\\\=\\\\\\,\\\\',
  };
  for (const [raw, escaped] of Object.entries(cases)) {
    assert.equal(escapeFieldValue(raw), escaped);
    assert.equal(unescapeFieldValue(escaped), raw);
  }
  assert.throws(() => unescapeFieldValue('\\'), /invalid escape sequence/);
  assert.throws(() => unescapeFieldValue('\\abc'), /invalid escape sequence: \\a/);
  assert.throws(() => unescapeFieldValue(','), /unescaped character in value: 44/);
  assert.throws(() => unescapeFieldValue('='), /unescaped character in value: 61/);
});

test('toString, fromSet, requiresExactMatch, transform', () => {
  assert.equal(parseFieldSelector('b!=2,a=x\\,y').toString(), 'a=x\\,y,b!=2');
  assert.equal(parseFieldSelector('a==1').toString(), 'a=1');
  const s = FieldSelector.fromSet({ 'spec.nodeName': 'n1', 'metadata.name': 'p' });
  assert.equal(s.toString(), 'metadata.name=p,spec.nodeName=n1');
  assert.equal(s.requiresExactMatch('spec.nodeName'), 'n1');
  assert.equal(parseFieldSelector('spec.nodeName!=n1').requiresExactMatch('spec.nodeName'), undefined);
  const t = parseFieldSelector('name=x').transform((f, v) => ({ field: `metadata.${f}`, value: v }));
  assert.equal(t.toString(), 'metadata.name=x');
  assert.ok(FieldSelector.everything().isEmpty());
});
