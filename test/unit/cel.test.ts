// The CEL wrapper (src/cel): compilation with cel-go style errors, int/double typing from the
// schema, the cost limit, Kubernetes' CEL libraries, matchConditions and CRD schema rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CelCompileError,
  CelEvaluationError,
  compile,
  compileMatchConditions,
  toCel,
  PER_CALL_LIMIT,
} from '../../src/cel/index.js';
import { SchemaRules, schemaRuleErrors } from '../../src/cel/schemarules.js';
import { path } from '../../src/machinery/fielderrors.js';

const SELF = { self: 'dyn', oldSelf: 'dyn' };
const evalSelf = (expr: string, self: unknown): unknown => compile(expr, SELF).evaluate({ self: toCel(self) }).value;

test('compile errors carry the expression in cel-go layout', () => {
  assert.throws(
    () => compile('self.a <=', SELF),
    (e: unknown) =>
      e instanceof CelCompileError &&
      e.detail === 'compilation failed: ERROR: <input>:1:10: Unexpected token: EOF\n | self.a <=\n | .........^',
  );
  assert.throws(
    () => compile('nosuchfn(1)', SELF),
    /compilation failed: ERROR: <input>:1:1: found no matching overload/,
  );
  assert.throws(() => compile('1 == "a"', SELF), /no such overload: int == string/);
  assert.throws(() => compile('unknownVar > 1', SELF), CelCompileError);
});

test('integers from the schema are CEL ints, numbers doubles; untyped integral JSON numbers are ints', () => {
  const schema = { type: 'object', properties: { i: { type: 'integer' }, n: { type: 'number' } } };
  const v = toCel({ i: 3, n: 2, x: 4, y: 1.5 }, schema) as Record<string, unknown>;
  assert.equal(v.i, 3n);
  assert.equal(v.n, 2);
  assert.equal(v.x, 4n);
  assert.equal(v.y, 1.5);
  assert.equal(compile('self.i + 1 == 4', SELF).evaluate({ self: v }).value, true);
  assert.equal(compile('self.n + 0.5 == 2.5', SELF).evaluate({ self: v }).value, true);
  // int + double is no overload at run time (dyn values), as cel-go
  assert.throws(() => compile('self.i + self.n', SELF).evaluate({ self: v }), /no such overload/);
  // Field selection never reaches Object.prototype.
  assert.throws(() => evalSelf('self.constructor', {}), /No such key: constructor/);
  const polluted = toCel(JSON.parse('{"__proto__": {"x": 1}}')) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(polluted), Object.prototype);
  assert.equal(compile('self["__proto__"].x', SELF).evaluate({ self: polluted }).value, 1n);
});

test('macros, optionals and standard functions', () => {
  const self = { items: [1, 2, 3], name: 'web-1', m: { a: 1 } };
  assert.equal(evalSelf('self.items.all(x, x > 0) && self.items.exists_one(x, x == 2)', self), true);
  assert.deepEqual(evalSelf('self.items.map(x, x * 2).filter(x, x > 2)', self), [4n, 6n]);
  assert.equal(evalSelf('has(self.m.a) && !has(self.m.b)', self), true);
  assert.equal(evalSelf('self.?missing.orValue("d")', self), 'd');
  assert.equal(evalSelf('self.name.startsWith("web") && self.name.matches("^[a-z]+-[0-9]$")', self), true);
  assert.equal(
    evalSelf(
      'duration("1h") > duration("30m") && timestamp("2024-01-01T00:00:00Z") < timestamp("2025-01-01T00:00:00Z")',
      self,
    ),
    true,
  );
});

test('Kubernetes list library', () => {
  const self = { l: [3, 1, 2], s: ['a', 'b'] };
  assert.equal(evalSelf('self.l.isSorted()', self), false);
  assert.equal(evalSelf('self.s.isSorted()', self), true);
  assert.equal(evalSelf('self.l.sum()', self), 6n);
  assert.equal(evalSelf('[1.5, 2.5].sum()', self), 4);
  assert.equal(evalSelf('self.l.min()', self), 1n);
  assert.equal(evalSelf('self.l.max()', self), 3n);
  assert.equal(evalSelf('self.l.indexOf(2)', self), 2n);
  assert.equal(evalSelf('[1, 2, 1].lastIndexOf(1)', self), 2n);
  assert.equal(evalSelf('self.l.indexOf(9)', self), -1n);
  assert.throws(() => evalSelf('[].min()', self), /empty list/);
});

test('Kubernetes regex and strings libraries', () => {
  const self = { s: 'abc 123 def 456' };
  assert.equal(evalSelf('self.s.find("[0-9]+")', self), '123');
  assert.equal(evalSelf('self.s.find("xyz")', self), '');
  assert.deepEqual(evalSelf('self.s.findAll("[0-9]+")', self), ['123', '456']);
  assert.deepEqual(evalSelf('self.s.findAll("[a-z]+", 2)', self), ['abc', 'def']);
  assert.equal(evalSelf('"TacoCat".lowerAscii() + "x".upperAscii()', self), 'tacocatX');
  assert.equal(evalSelf('"a-b-c".replace("-", "+")', self), 'a+b+c');
  assert.equal(evalSelf('"a-b-c".replace("-", "+", 1)', self), 'a+b-c');
  assert.deepEqual(evalSelf('"a,b".split(",")', self), ['a', 'b']);
  assert.equal(evalSelf('["a", "b"].join("-")', self), 'a-b');
  assert.equal(evalSelf('"  x ".trim()', self), 'x');
  assert.equal(evalSelf('"hello".substring(1, 3)', self), 'el');
  assert.equal(evalSelf('"hello".charAt(1)', self), 'e');
  assert.equal(evalSelf('"hello".indexOf("l")', self), 2n);
  assert.equal(evalSelf('"hello".lastIndexOf("l")', self), 3n);
  assert.equal(evalSelf('"abc".reverse()', self), 'cba');
});

test('Kubernetes URL, quantity, IP/CIDR and format libraries', () => {
  const u = 'https://user@example.com:8443/a/b?x=1&x=2';
  assert.equal(evalSelf(`url("${u}").getScheme()`, {}), 'https');
  assert.equal(evalSelf(`url("${u}").getHost()`, {}), 'example.com:8443');
  assert.equal(evalSelf(`url("${u}").getHostname()`, {}), 'example.com');
  assert.equal(evalSelf(`url("${u}").getPort()`, {}), '8443');
  assert.equal(evalSelf(`url("${u}").getEscapedPath()`, {}), '/a/b');
  assert.deepEqual(evalSelf(`url("${u}").getQuery()`, {}), new Map([['x', ['1', '2']]]));
  assert.equal(evalSelf('url("https://[::1]:80/").getHostname()', {}), '::1');
  assert.equal(evalSelf('isURL("/just/a/path") && !isURL("not a url")', {}), true);

  assert.equal(evalSelf('quantity("1Gi").isGreaterThan(quantity("1G"))', {}), true);
  assert.equal(evalSelf('quantity("1500m").isInteger()', {}), false);
  assert.equal(evalSelf('quantity("1500m").add(quantity("500m")).asInteger()', {}), 2n);
  assert.equal(evalSelf('quantity("2").sub(1).compareTo(quantity("1"))', {}), 0n);
  assert.equal(evalSelf('quantity("1") == quantity("1000m")', {}), true);
  assert.equal(evalSelf('isQuantity("1Gi") && !isQuantity("1 Gi")', {}), true);

  assert.equal(evalSelf('ip("10.0.0.1").family()', {}), 4n);
  assert.equal(evalSelf('ip("::1").isLoopback() && ip("fe80::1").isLinkLocalUnicast()', {}), true);
  assert.equal(
    evalSelf('cidr("10.0.0.0/8").containsIP(ip("10.1.2.3")) && !cidr("10.0.0.0/8").containsIP("11.0.0.1")', {}),
    true,
  );
  assert.equal(evalSelf('cidr("10.0.0.0/8").containsCIDR("10.1.0.0/16")', {}), true);
  assert.equal(evalSelf('string(cidr("10.1.2.3/8").masked())', {}), '10.0.0.0/8');
  assert.equal(evalSelf('cidr("10.1.2.3/8").prefixLength()', {}), 8n);
  assert.equal(evalSelf('isIP("1.2.3") || isCIDR("10.0.0.0/33")', {}), false);

  assert.equal(evalSelf('!format.dns1123Label().validate("my-name").hasValue()', {}), true);
  const errs = evalSelf('format.dns1123Label().validate("Not_Valid").value()', {}) as string[];
  assert.match(errs[0], /a lowercase RFC 1123 label must consist of/);
  assert.equal(evalSelf('format.named("labelValue").hasValue() && !format.named("nope").hasValue()', {}), true);
});

test('runaway expressions hit the cost limit, even when an error would be absorbed by ||', () => {
  const big = toCel({ l: Array.from({ length: 2000 }, (_, i) => i) });
  const nested = 'self.l.all(x, self.l.all(y, x + y >= 0))';
  for (const expr of [nested, `${nested} || true`]) {
    assert.throws(
      () => compile(expr, SELF).evaluate({ self: big }),
      (e: unknown) =>
        e instanceof CelEvaluationError &&
        e.costExceeded &&
        e.message === 'operation cancelled: actual cost limit exceeded',
    );
  }
  // A typical rule costs a handful of units.
  const r = compile('self.a <= self.b', SELF).evaluate({ self: toCel({ a: 1, b: 2 }) });
  assert.equal(r.value, true);
  assert.ok(r.cost > 0 && r.cost < 10, `cost ${r.cost}`);
  assert.ok(r.cost < PER_CALL_LIMIT);
  // A lower limit applies per evaluation.
  assert.throws(() => compile('self.l.all(x, x >= 0)', SELF).evaluate({ self: big }, 100), /cost limit exceeded/);
});

test('compileMatchConditions: all true matches, a false one wins over errors, errors are reported', () => {
  const conds = compileMatchConditions([
    { name: 'is-create', expression: "request.operation == 'CREATE'" },
    { name: 'has-label', expression: "'team' in object.metadata.labels" },
  ]);
  assert.deepEqual(conds.errors, []);
  const vars = (op: string, labels: unknown) => ({
    request: toCel({ operation: op }),
    object: toCel({ metadata: { labels } }),
  });
  assert.deepEqual(conds.evaluate(vars('CREATE', { team: 'a' })), { matches: true });
  assert.deepEqual(conds.evaluate(vars('UPDATE', { team: 'a' })), { matches: false, failedCondition: 'is-create' });
  const err = conds.evaluate({ request: toCel({ operation: 'CREATE' }), object: toCel({ metadata: {} }) });
  assert.equal(err.matches, false);
  assert.ok('error' in err && /No such key: labels/.test(err.error) && err.failedCondition === 'has-label');
  const bad = compileMatchConditions([{ name: 'x', expression: 'object.' }]);
  assert.equal(bad.errors.length, 1);
  assert.equal(bad.errors[0].field, 'matchConditions[0].expression');
  assert.match(bad.errors[0].detail, /compilation failed: ERROR: <input>:1:/);
});

const scaler = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      'x-kubernetes-validations': [
        { rule: 'self.min <= self.max', message: 'min must not exceed max' },
        { rule: 'self.mode == oldSelf.mode', message: 'mode is immutable' },
        { rule: 'oldSelf.hasValue() || self.min > 0', optionalOldSelf: true, reason: 'FieldValueForbidden' },
      ],
      properties: {
        min: { type: 'integer' },
        max: { type: 'integer' },
        mode: { type: 'string' },
        ports: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: {
            type: 'object',
            properties: { name: { type: 'string' }, port: { type: 'integer' } },
            'x-kubernetes-validations': [
              {
                rule: 'self.port >= oldSelf.port',
                messageExpression: "'port may only grow, was ' + string(oldSelf.port)",
              },
            ],
          },
        },
      },
    },
  },
};

test('schema rules: messages, transition rules only with an old value, list items correlated by key', () => {
  const rules = new SchemaRules(scaler, path('spec', 'versions').index(0).child('schema', 'openAPIV3Schema'));
  assert.deepEqual(rules.errors, []);
  const obj = (min: number, max: number, mode = 'a', ports: unknown[] = []) => ({ spec: { min, max, mode, ports } });
  assert.deepEqual(rules.validate(obj(1, 2), undefined, path()), []);
  assert.deepEqual(
    rules.validate(obj(3, 2), undefined, path()).map((e) => `${e.field}: ${e.detail}`),
    ['spec: Invalid value: "object": min must not exceed max'],
  );
  // optionalOldSelf: runs on create with oldSelf = optional.none()
  assert.deepEqual(
    rules.validate(obj(0, 2), undefined, path()).map((e) => `${e.field}: ${e.detail}`),
    ['spec: Forbidden: failed rule: oldSelf.hasValue() || self.min > 0'],
  );
  // Transition rules on update.
  assert.deepEqual(
    rules.validate(obj(1, 2, 'b'), obj(1, 2, 'a'), path()).map((e) => e.detail),
    ['Invalid value: "object": mode is immutable'],
  );
  const before = obj(1, 2, 'a', [{ name: 'http', port: 80 }]);
  const after = obj(1, 2, 'a', [
    { name: 'new', port: 1 },
    { name: 'http', port: 79 },
  ]);
  assert.deepEqual(
    rules.validate(after, before, path()).map((e) => `${e.field}: ${e.detail}`),
    ['spec.ports[1]: Invalid value: "object": port may only grow, was 80'],
  );
});

test('schema rules that do not compile are reported with upstream paths and messages', () => {
  const schema = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        'x-kubernetes-validations': [
          { rule: 'self.a ==' },
          { rule: '1 + 1' },
          { rule: 'true', reason: 'Nope' },
          { rule: 'true', fieldPath: '.missing' },
          { rule: 'true', optionalOldSelf: true },
        ],
        properties: { a: { type: 'string' } },
      },
    },
  };
  const errs = schemaRuleErrors(schema, path('spec', 'validation', 'openAPIV3Schema'));
  const lines = errs.map((e) => `${e.field}: ${e.detail.split('\n')[0]}`);
  const at = 'spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations';
  assert.match(
    lines[0],
    new RegExp(
      `^${at.replace(/[.[\]]/g, '\\$&')}\\[0\\]\\.rule: Invalid value: apiextensions\\.ValidationRule\\{Rule:"self\\.a ==".*compilation failed: ERROR: <input>:1:10:`,
    ),
  );
  assert.match(lines[1], /\[1\]\.rule: Invalid value: .*cel expression must evaluate to a bool/);
  assert.match(lines[2], /\[2\]\.reason: Unsupported value: "Nope": supported values: "FieldValueInvalid"/);
  assert.match(
    lines[3],
    /\[3\]\.fieldPath: Invalid value: "\.missing": fieldPath must be a valid path: does not refer to a valid field/,
  );
  assert.match(lines[4], /\[4\]\.optionalOldSelf: Invalid value: true: may not be set if oldSelf is not used in rule/);
  assert.equal(lines.length, 5);
});

test('root rules see metadata.name and generateName only', () => {
  const schema = {
    type: 'object',
    'x-kubernetes-validations': [{ rule: "self.metadata.name.startsWith('a') && !has(self.metadata.labels)" }],
  };
  const rules = new SchemaRules(schema, path());
  assert.deepEqual(rules.validate({ metadata: { name: 'ab', labels: { x: 'y' } } }, undefined, path()), []);
  assert.equal(rules.validate({ metadata: { name: 'b' } }, undefined, path()).length, 1);
});

test('a runaway rule stops validation with upstream message', () => {
  const schema = {
    type: 'object',
    'x-kubernetes-validations': [{ rule: 'self.l.all(x, self.l.all(y, x != y || x == y))' }],
    properties: { l: { type: 'array', items: { type: 'integer' } } },
  };
  const rules = new SchemaRules(schema, path());
  const errs = rules.validate({ l: Array.from({ length: 3000 }, (_, i) => i) }, undefined, path());
  assert.equal(errs.length, 1);
  assert.match(
    errs[0].detail,
    /'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: self\.l\.all/,
  );
});

test('estimated cost: unbounded nested loops are refused with upstream text, bounds make them pass', () => {
  const at = path('spec', 'validation', 'openAPIV3Schema');
  const list = (extra: object, item: object = { type: 'string' }) => ({
    type: 'object',
    properties: {
      l: {
        type: 'array',
        items: item,
        ...extra,
        'x-kubernetes-validations': [{ rule: 'self.all(x, self.all(y, x == y))' }],
      },
    },
  });
  const refused = schemaRuleErrors(list({}), at);
  assert.deepEqual(
    refused.map((e) => `${e.field}: ${e.detail}`),
    [
      'spec.validation.openAPIV3Schema.properties[l].x-kubernetes-validations[0].rule: Forbidden: estimated rule cost exceeds budget by factor of more than 100x (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)',
      'spec.validation.openAPIV3Schema.properties[l].x-kubernetes-validations[0].rule: Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema',
      'spec.validation.openAPIV3Schema: Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of more than 100x (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)',
    ],
  );
  assert.equal(refused[0].type, 'FieldValueForbidden');
  assert.deepEqual(schemaRuleErrors(list({ maxItems: 10 }, { type: 'string', maxLength: 64 }), at), []);
  // One loop over an unbounded list of unbounded strings walking each string: still too much.
  const walk = {
    type: 'array',
    items: { type: 'string' },
    'x-kubernetes-validations': [{ rule: "self.all(x, x.startsWith('a'))" }],
  };
  assert.match(
    schemaRuleErrors(walk, at)[0].detail ?? '',
    /estimated rule cost exceeds budget by factor of more than 100x/,
  );
  // Bounded strings: the same loop is fine; so is a cheap rule over an unbounded list.
  assert.deepEqual(schemaRuleErrors({ ...walk, items: { type: 'string', maxLength: 16 } }, at), []);
  assert.deepEqual(
    schemaRuleErrors(
      { type: 'array', items: { type: 'integer' }, 'x-kubernetes-validations': [{ rule: 'size(self) < 5' }] },
      at,
    ),
    [],
  );
});

test('estimated cost: rules that are cheap alone but run for every item of nested lists exceed the CRD total', () => {
  const at = path('spec', 'validation', 'openAPIV3Schema');
  const item = {
    type: 'object',
    properties: { a: { type: 'integer' }, b: { type: 'integer' } },
    'x-kubernetes-validations': [{ rule: 'self.a <= self.b && self.a >= 0 && self.b >= 0' }],
  };
  const schema = (n: number) => ({
    type: 'object',
    properties: { outer: { type: 'array', maxItems: n, items: { type: 'array', maxItems: n, items: item } } },
  });
  const errs = schemaRuleErrors(schema(5000), at);
  assert.deepEqual(
    errs.map((e) => e.field),
    [
      'spec.validation.openAPIV3Schema.properties[outer].items.items.x-kubernetes-validations[0].rule',
      'spec.validation.openAPIV3Schema',
    ],
  );
  assert.match(
    errs[1].detail ?? '',
    /^Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of \d+\.\dx/,
  );
  assert.deepEqual(schemaRuleErrors(schema(100), at), []);
});

test('estimated cost: the factor is printed as upstream (%f below 1.5x, %.1f up to 100x)', async () => {
  const { costErrorMessage } = await import('../../src/cel/estimate.js');
  assert.match(costErrorMessage('estimated rule cost', 12_000_000, 10_000_000), /by factor of 1\.200000x \(/);
  assert.match(costErrorMessage('estimated rule cost', 25_000_000, 10_000_000), /by factor of 2\.5x \(/);
  assert.match(costErrorMessage('estimated rule cost', 2_000_000_000, 10_000_000), /by factor of more than 100x \(/);
});
