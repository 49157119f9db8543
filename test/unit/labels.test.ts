import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/machinery/errors.js';
import {
  type Requirement,
  Selector,
  formatLabels,
  formatLabelSelector,
  labelSelectorMatches,
  newRequirement,
  parseSelector,
  selectorFromLabelSelector,
  selectorFromSet,
} from '../../src/machinery/labels.js';

const QNAME_PART_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

const parseErr = (s: string): string => {
  try {
    parseSelector(s);
  } catch (e) {
    assert.ok(e instanceof ApiError, 'throws ApiError');
    assert.equal(e.code, 400);
    assert.equal(e.reason, 'BadRequest');
    return e.message;
  }
  assert.fail(`expected ${JSON.stringify(s)} to fail`);
};

test('good and bad selector strings (upstream TestSelectorParse)', () => {
  for (const s of ['x=a,y=b,z=c', '', 'x!=a,y=b', 'x=', 'x= ', 'x=,z= ', 'x= ,z= ', '!x', 'x>1', 'x>1,z<5']) {
    assert.doesNotThrow(() => parseSelector(s), s);
  }
  for (const s of ['x=a||y=b', 'x==a==b', '!x=a', 'x<a']) parseErr(s);
});

test('toString round trip (upstream TestSelectorParse / TestToString)', () => {
  const cases: [string, string][] = [
    ['x=a,y=b,z=c', 'x=a,y=b,z=c'],
    ['', ''],
    ['x!=a,y=b', 'x!=a,y=b'],
    ['x=', 'x='],
    ['x= ', 'x='],
    ['x=,z= ', 'x=,z='],
    ['x= ,z= ', 'x=,z='],
    ['!x', '!x'],
    ['x>1', 'x>1'],
    ['x>1,z<5', 'x>1,z<5'],
    ['z,y,x', 'x,y,z'],
    ['x in (def,abc),y notin (jkl),z', 'x in (abc,def),y notin (jkl),z'],
    ['x notin (abc,def),y!=jkl,!z', 'x notin (abc,def),y!=jkl,!z'],
    ['x notin (abc),y in (jkl,mno),z notin ()', 'x notin (abc),y in (jkl,mno),z notin ()'],
    ['x=abc,y==jkl,z!=a,z', 'x=abc,y==jkl,z!=a,z'],
    ['x>2,y<8,z', 'x>2,y<8,z'],
  ];
  for (const [input, want] of cases) assert.equal(parseSelector(input).toString(), want, input);
});

const reqs = (s: string): Requirement[] => parseSelector(s).requirements;

test('set-based parsing (upstream TestSetSelectorParser)', () => {
  assert.deepEqual(reqs(''), []);
  assert.deepEqual(reqs('\rx'), [{ key: 'x', operator: 'Exists', values: [] }]);
  assert.deepEqual(reqs('this-is-a-dns.domain.com/key-with-dash'), [
    { key: 'this-is-a-dns.domain.com/key-with-dash', operator: 'Exists', values: [] },
  ]);
  assert.deepEqual(reqs('this-is-another-dns.domain.com/key-with-dash in (so,what)'), [
    { key: 'this-is-another-dns.domain.com/key-with-dash', operator: 'In', values: ['so', 'what'] },
  ]);
  assert.deepEqual(reqs('0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)'), [
    { key: '0.1.2.domain/99', operator: 'NotIn', values: ['10.10.100.1', 'tick.tack.clock'] },
  ]);
  assert.deepEqual(reqs('foo  in\t (abc)'), [{ key: 'foo', operator: 'In', values: ['abc'] }]);
  assert.deepEqual(reqs('x notin\n (abc)'), [{ key: 'x', operator: 'NotIn', values: ['abc'] }]);
  assert.deepEqual(reqs('x  notin\t\t(abc,def)'), [{ key: 'x', operator: 'NotIn', values: ['abc', 'def'] }]);
  assert.deepEqual(reqs('x in (abc,)'), [{ key: 'x', operator: 'In', values: ['', 'abc'] }]);
  assert.deepEqual(reqs('x in ()'), [{ key: 'x', operator: 'In', values: [''] }]);
  assert.deepEqual(reqs('x notin (abc,,def),bar,z in (),w'), [
    { key: 'bar', operator: 'Exists', values: [] },
    { key: 'w', operator: 'Exists', values: [] },
    { key: 'x', operator: 'NotIn', values: ['', 'abc', 'def'] },
    { key: 'z', operator: 'In', values: [''] },
  ]);
  assert.deepEqual(reqs('x,y in (a)'), [
    { key: 'x', operator: 'Exists', values: [] },
    { key: 'y', operator: 'In', values: ['a'] },
  ]);
  assert.deepEqual(reqs('x=a'), [{ key: 'x', operator: 'Equals', values: ['a'] }]);
  assert.deepEqual(reqs('x==a'), [{ key: 'x', operator: 'DoubleEquals', values: ['a'] }]);
  assert.deepEqual(reqs('x>1'), [{ key: 'x', operator: 'GreaterThan', values: ['1'] }]);
  assert.deepEqual(reqs('x<7'), [{ key: 'x', operator: 'LessThan', values: ['7'] }]);
  assert.deepEqual(reqs('x=a,y!=b,z in (h,i,j)'), [
    { key: 'x', operator: 'Equals', values: ['a'] },
    { key: 'y', operator: 'NotEquals', values: ['b'] },
    { key: 'z', operator: 'In', values: ['h', 'i', 'j'] },
  ]);
  assert.deepEqual(reqs('x notin ( )'), [{ key: 'x', operator: 'NotIn', values: [''] }]);
  assert.deepEqual(reqs('x notin (, )'), [{ key: 'x', operator: 'NotIn', values: [''] }]);
  assert.deepEqual(reqs('a '), [{ key: 'a', operator: 'Exists', values: [] }]);
  assert.deepEqual(reqs('a in (x,y,notin, z,in)'), [
    { key: 'a', operator: 'In', values: ['in', 'notin', 'x', 'y', 'z'] },
  ]);
  assert.deepEqual(reqs('notin=in'), [{ key: 'notin', operator: 'Equals', values: ['in'] }]);
  for (const s of [
    'x=a||y=b',
    'x,,y',
    ',x,y',
    'x nott in (y)',
    'a in (xyz),',
    'a in (xyz)b notin ()',
    'a in (xyz abc)',
    'a notin(',
    'a (',
    '(',
  ])
    parseErr(s);
});

test('upstream parse error messages', () => {
  assert.equal(parseErr(',x,y'), "found ',', expected: !, identifier, or 'end of string'");
  assert.equal(parseErr('x,,y'), "found ',', expected: identifier after ','");
  assert.equal(parseErr('a in (xyz),'), "found '', expected: identifier after ','");
  assert.equal(parseErr('x==a==b'), "found '==', expected: ',' or 'end of string'");
  assert.equal(parseErr('!x=a'), "found '=', expected: ',' or 'end of string'");
  assert.equal(parseErr('a in (xyz)b notin ()'), "found 'b', expected: ',' or 'end of string'");
  assert.equal(
    parseErr('x nott in (y)'),
    "unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt",
  );
  assert.equal(parseErr('a ('), "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt");
  assert.equal(parseErr('('), "found '(', expected: !, identifier, or 'end of string'");
  assert.equal(parseErr('a notin('), "unable to parse requirement: found '', expected: ',', ')' or identifier");
  assert.equal(parseErr('a in x'), "unable to parse requirement: found 'x' expected: '('");
  assert.equal(parseErr('a in (xyz abc)'), "unable to parse requirement: found 'abc', expected: ',' or ')'");
  assert.equal(parseErr('x=('), "unable to parse requirement: found '(', expected: identifier");
  assert.equal(parseErr('!'), "unable to parse requirement: found '', expected: identifier");
  assert.equal(
    parseErr('x<a'),
    "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer",
  );
  assert.equal(
    parseErr('x=a||y'),
    `unable to parse requirement: values[0][x]: Invalid value: "a||y": ${LABEL_VALUE_MSG}`,
  );
  assert.equal(parseErr('a$b'), `unable to parse requirement: <nil>: Invalid value: "a$b": ${QNAME_PART_MSG}`);
  assert.equal(parseErr('x=a=b'), "found '=', expected: ',' or 'end of string'");
  assert.equal(parseErr('x=<'), "unable to parse requirement: found '<', expected: identifier");
});

test('edge cases: bare keywords, empty sets, unfinished lists, NUL, newline, long values', () => {
  // "in" alone is a key (keywords are identifiers where a key is expected); "()" is {""}.
  assert.deepEqual(reqs('in'), [{ key: 'in', operator: 'Exists', values: [] }]);
  assert.deepEqual(reqs('a in ()'), [{ key: 'a', operator: 'In', values: [''] }]);
  assert.equal(parseErr('a in'), "unable to parse requirement: found '' expected: '('");
  assert.equal(parseErr('a in (b,'), "unable to parse requirement: found '', expected: ',', or identifier");
  assert.equal(parseErr('a in (b'), "unable to parse requirement: found '', expected: ',' or ')'");
  // Upstream's lexer reads a NUL as "end of input": it ends the word being read (which goes
  // on after it), and where a token would start it ends the selector.
  assert.equal(
    parseErr('a\u0000b=c'),
    "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
  );
  assert.deepEqual(reqs('a \u0000b=c'), [{ key: 'a', operator: 'Exists', values: [] }]);
  assert.deepEqual(reqs('a=b\u0000,c'), [
    { key: 'a', operator: 'Equals', values: ['b'] },
    { key: 'c', operator: 'Exists', values: [] },
  ]);
  assert.deepEqual(reqs('a=\u0000'), [{ key: 'a', operator: 'Equals', values: [''] }]);
  assert.equal(parseErr('a\nb=c'), "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt");
  const long = 'x'.repeat(64);
  assert.equal(
    parseErr(`a=${long}`),
    `unable to parse requirement: values[0][a]: Invalid value: "${long}": must be no more than 63 characters`,
  );
  assert.equal(
    parseErr(long),
    `unable to parse requirement: <nil>: Invalid value: "${long}": name part must be no more than 63 characters`,
  );
});

test('lexer: multi-char operators and keywords', () => {
  assert.deepEqual(reqs('x!=y'), [{ key: 'x', operator: 'NotEquals', values: ['y'] }]);
  assert.deepEqual(reqs('x==in'), [{ key: 'x', operator: 'DoubleEquals', values: ['in'] }]);
  assert.deepEqual(reqs('in in (in)'), [{ key: 'in', operator: 'In', values: ['in'] }]);
  assert.deepEqual(reqs('  a  ,  b  '), [
    { key: 'a', operator: 'Exists', values: [] },
    { key: 'b', operator: 'Exists', values: [] },
  ]);
  assert.deepEqual(reqs('a in(b)'), [{ key: 'a', operator: 'In', values: ['b'] }]);
});

test('matching (upstream TestEverything / TestSelectorMatches)', () => {
  const yes = (s: string, l: Record<string, string>) =>
    assert.ok(parseSelector(s).matches(l), `${s} should match ${JSON.stringify(l)}`);
  const no = (s: string, l: Record<string, string>) =>
    assert.ok(!parseSelector(s).matches(l), `${s} should not match ${JSON.stringify(l)}`);
  yes('', { x: 'y' });
  yes('x=y', { x: 'y' });
  yes('x=y,z=w', { x: 'y', z: 'w' });
  yes('x!=y,z!=w', { x: 'z', z: 'a' });
  yes('notin=in', { notin: 'in' });
  yes('x', { x: 'z' });
  yes('!x', { y: 'z' });
  yes('x>1', { x: '2' });
  yes('x<1', { x: '0' });
  no('x=z', {});
  no('x=y', { x: 'z' });
  no('x=y,z=w', { x: 'w', z: 'w' });
  no('x!=y,z!=w', { x: 'z', z: 'w' });
  no('x', { y: 'z' });
  no('!x', { x: 'z' });
  no('x>1', { x: '0' });
  no('x<1', { x: '2' });
  no('x>1', { x: 'a' });
  no('x>1', {});
  const labelset = { foo: 'bar', baz: 'blah' };
  yes('foo=bar', labelset);
  yes('baz=blah', labelset);
  yes('foo=bar,baz=blah', labelset);
  no('foo=blah', labelset);
  no('baz=bar', labelset);
  no('foo=bar,foobar=bar,baz=blah', labelset);
  yes('x in (a,b)', { x: 'b' });
  no('x in (a,b)', { x: 'c' });
  no('x in (a,b)', {});
  yes('x notin (a,b)', {});
  yes('x notin (a,b)', { x: 'c' });
  no('x notin (a,b)', { x: 'a' });
  yes('x in ()', { x: '' });
  yes('x=', { x: '' });
  no('x=', {});
  yes('x!=y', {});
  assert.ok(parseSelector('x').matches({ x: '' }));
  assert.ok(parseSelector('').matches(undefined));
  assert.ok(!parseSelector('x').matches(null));
  assert.ok(parseSelector('!x').matches(null));
  assert.ok(!parseSelector('constructor').matches({}), 'no prototype leaks');
});

test('everything / nothing / isEmpty', () => {
  assert.ok(Selector.everything().matches({ a: 'b' }));
  assert.ok(Selector.everything().isEmpty());
  assert.equal(Selector.everything().toString(), '');
  assert.ok(!Selector.nothing().matches({}));
  assert.ok(!Selector.nothing().isEmpty());
  assert.equal(Selector.nothing().toString(), '');
  assert.ok(parseSelector('').isEmpty());
  assert.ok(!parseSelector('a').isEmpty());
});

test('selectorFromSet', () => {
  const s = selectorFromSet({ b: '2', a: '1' });
  assert.equal(s.toString(), 'a=1,b=2');
  assert.ok(s.matches({ a: '1', b: '2', c: '3' }));
  assert.ok(!s.matches({ a: '1' }));
  assert.ok(selectorFromSet({}).isEmpty());
  assert.equal(s.requiresExactMatch('a'), '1');
  assert.equal(s.requiresExactMatch('c'), undefined);
});

test('selectorFromLabelSelector (metav1.LabelSelectorAsSelector)', () => {
  assert.ok(!selectorFromLabelSelector(undefined).matches({}));
  assert.ok(!selectorFromLabelSelector(null).matches({ a: 'b' }));
  assert.ok(selectorFromLabelSelector({}).matches({ a: 'b' }));
  assert.ok(selectorFromLabelSelector({ matchLabels: {}, matchExpressions: [] }).isEmpty());
  const s = selectorFromLabelSelector({
    matchLabels: { app: 'web' },
    matchExpressions: [
      { key: 'tier', operator: 'In', values: ['b', 'a'] },
      { key: 'env', operator: 'NotIn', values: ['prod'] },
      { key: 'gpu', operator: 'DoesNotExist' },
      { key: 'ssd', operator: 'Exists' },
    ],
  });
  assert.equal(s.toString(), 'app=web,env notin (prod),!gpu,ssd,tier in (a,b)');
  assert.ok(s.matches({ app: 'web', tier: 'a', ssd: '' }));
  assert.ok(!s.matches({ app: 'web', tier: 'a', ssd: '', env: 'prod' }));
  assert.ok(!s.matches({ app: 'web', tier: 'c', ssd: '' }));
  assert.ok(!s.matches({ app: 'web', tier: 'a', ssd: '', gpu: 'x' }));
  assert.throws(
    () => selectorFromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Foo' }] }),
    (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.code, 400);
      assert.equal(e.message, '"Foo" is not a valid label selector operator');
      return true;
    },
  );
  assert.throws(() => selectorFromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }), {
    message: "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty",
  });
  assert.throws(() => selectorFromLabelSelector({ matchLabels: { 'a b': 'c d' } }), {
    message: `[key: Invalid value: "a b": ${QNAME_PART_MSG}, values[0][a b]: Invalid value: "c d": ${LABEL_VALUE_MSG}]`,
  });
});

test('formatLabelSelector (metav1.FormatLabelSelector)', () => {
  assert.equal(formatLabelSelector(undefined), '<none>');
  assert.equal(formatLabelSelector(null), '<none>');
  assert.equal(formatLabelSelector({}), '<none>');
  assert.equal(
    formatLabelSelector({
      matchLabels: { app: 'web' },
      matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }],
    }),
    'app=web,tier in (a,b)',
  );
  assert.equal(formatLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Bad' }] }), '<error>');
});

test('labelSelectorMatches', () => {
  assert.ok(labelSelectorMatches({ matchLabels: { app: 'web' } }, { app: 'web', x: 'y' }));
  assert.ok(!labelSelectorMatches({ matchLabels: { app: 'web' } }, { app: 'db' }));
  assert.ok(!labelSelectorMatches(undefined, { app: 'web' }));
  assert.ok(labelSelectorMatches({}, undefined));
  assert.ok(!labelSelectorMatches({ matchExpressions: [{ key: 'a', operator: 'Bad' }] }, {}));
});

test('newRequirement validation (upstream TestRequirementConstructor)', () => {
  assert.throws(() => newRequirement('x1', 'In', []), /values set can't be empty/);
  assert.doesNotThrow(() => newRequirement('x2', 'NotIn', ['abc']));
  assert.throws(
    () => newRequirement('x4', 'Exists', ['abc']),
    /values set must be empty for exists and does not exist/,
  );
  assert.doesNotThrow(() => newRequirement('x5', 'Equals', ['abc']));
  assert.throws(
    () => newRequirement('x6', 'Equals', ['abc', 'def']),
    /exact-match compatibility requires one single value/,
  );
  assert.doesNotThrow(() => newRequirement('x7', 'GreaterThan', ['1']));
  assert.throws(() => newRequirement('x8', 'GreaterThan', ['-1.5']), /the value must be an integer/);
  assert.throws(() => newRequirement('x9', 'LessThan', ['1', '2']), /exactly one value is required/);
  assert.doesNotThrow(() => newRequirement('x10', 'DoesNotExist', []));
  assert.throws(() => newRequirement('1foo', 'In', ['bar', 'a'.repeat(64)]), /must be no more than 63 characters/);
  assert.throws(() => newRequirement('a'.repeat(254), 'Exists', []), /name part must be no more than 63 characters/);
});

test('formatLabels', () => {
  assert.equal(formatLabels({ b: '2', a: '1' }), 'a=1,b=2');
  assert.equal(formatLabels({}), '<none>');
  assert.equal(formatLabels(undefined), '<none>');
});
