import { test } from 'node:test';
import assert from 'node:assert/strict';
import { path, formatFieldError } from '../../src/machinery/fielderrors.js';
import {
  ERR_FORMAT_WRONG,
  ERR_SUFFIX,
  Quantity,
  parseQuantityOrNull,
  validateNonNegativeQuantity,
  validateQuantity,
} from '../../src/machinery/quantity.js';

const str = (s: string | number): string => Quantity.parse(s).toString();

test('canonical string form (upstream examples)', () => {
  const cases: [string, string][] = [
    // zero in every format
    ['0', '0'],
    ['0n', '0'],
    ['0u', '0'],
    ['0m', '0'],
    ['0Ki', '0'],
    ['0k', '0'],
    ['0Mi', '0'],
    ['0M', '0'],
    ['0e3', '0'],
    ['-0', '0'],
    ['0.0', '0'],
    // decimal SI
    ['1000m', '1'],
    ['1', '1'],
    ['100m', '100m'],
    ['0.5', '500m'],
    ['1.5', '1500m'],
    ['0.1', '100m'],
    ['1.01', '1010m'],
    ['12.34', '12340m'],
    ['0.00001', '10u'],
    ['1000000', '1M'],
    ['2000k', '2M'],
    ['1M', '1M'],
    ['1500k', '1500k'],
    ['1.5M', '1500k'],
    ['250m', '250m'],
    ['1n', '1n'],
    ['1000n', '1u'],
    ['-1', '-1'],
    ['-0.5', '-500m'],
    ['-1000m', '-1'],
    ['5k', '5k'],
    ['5000', '5k'],
    // binary SI
    ['1Gi', '1Gi'],
    ['1024Mi', '1Gi'],
    ['1.5Gi', '1536Mi'],
    ['1536Mi', '1536Mi'],
    ['5Ki', '5Ki'],
    ['20Mi', '20Mi'],
    ['1024Ki', '1Mi'],
    ['0.5Ki', '512'],
    ['1.1Ki', '1126400m'],
    ['0.9Gi', '966367641600m'],
    ['-5Ki', '-5Ki'],
    ['8Ki', '8Ki'],
    ['16Ki', '16Ki'],
    // decimal exponent
    ['1e3', '1e3'],
    ['1.5e3', '1500'],
    ['129e-1', '12900e-3'],
    ['1e-3', '1e-3'],
    ['10e3', '10e3'],
    ['1000e3', '1e6'],
    // rounding up to nano
    ['0.1n', '1n'],
    ['1.0000000001', '1000000001n'],
    ['0.30000000000000004', '300000001n'],
    // non-canonical strings already in canonical form are kept as typed (upstream reuses the string)
    ['+1', '+1'],
    ['01', '01'],
  ];
  for (const [input, want] of cases) assert.equal(str(input), want, `parse(${JSON.stringify(input)})`);
});

test('format is kept (BinarySI/DecimalSI/DecimalExponent)', () => {
  assert.equal(Quantity.parse('1Gi').format, 'BinarySI');
  assert.equal(Quantity.parse('1G').format, 'DecimalSI');
  assert.equal(Quantity.parse('1e9').format, 'DecimalExponent');
  assert.equal(Quantity.parse('1E9').format, 'DecimalExponent');
  assert.equal(Quantity.parse('1E').format, 'DecimalSI', 'E alone is exa');
  assert.equal(Quantity.parse('0.5Ki').format, 'BinarySI');
  assert.equal(Quantity.parse('1Ki').add(Quantity.parse('1')).toString(), '1025');
  assert.equal(Quantity.parse('1Ki').add(Quantity.parse('1Ki')).toString(), '2Ki');
});

test('parse errors carry upstream messages', () => {
  assert.equal(
    ERR_FORMAT_WRONG,
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
  );
  for (const s of ['', ' 1', '1 ', '1.1.M', '1+1.0M', 'aoeu', '0.1am', '1.1.1', '1Kb', '1x', '1e1e1']) {
    assert.throws(() => Quantity.parse(s), { message: ERR_FORMAT_WRONG }, JSON.stringify(s));
  }
  for (const s of ['1KK', '0.1mi', '.5i', '1i', '-3.01i', '-3.01e-', '1e', '1iE']) {
    assert.throws(() => Quantity.parse(s), { message: ERR_SUFFIX }, JSON.stringify(s));
  }
});

test('numbers are parsed like unquoted JSON quantities', () => {
  assert.equal(str(1), '1');
  assert.equal(str(0.5), '500m');
  assert.equal(str(2048), '2048');
  assert.equal(str(0), '0');
  assert.equal(str(1e21), '1e+21');
});

test('value() and milliValue() round up away from zero', () => {
  const v = (s: string) => Quantity.parse(s).value();
  const m = (s: string) => Quantity.parse(s).milliValue();
  assert.equal(v('1.5'), 2);
  assert.equal(v('100m'), 1);
  assert.equal(v('1n'), 1);
  assert.equal(v('-1.5'), -2);
  assert.equal(v('1Gi'), 1073741824);
  assert.equal(v('1G'), 1000000000);
  assert.equal(v('1e3'), 1000);
  assert.equal(v('0'), 0);
  assert.equal(m('1'), 1000);
  assert.equal(m('250m'), 250);
  assert.equal(m('1n'), 1);
  assert.equal(m('1.5m'), 2);
  assert.equal(m('0.5'), 500);
  assert.equal(m('1Ki'), 1024000);
  assert.equal(Quantity.parse('12E').valueBig(), 12n * 10n ** 18n, 'exact beyond 2^53');
  assert.equal(Quantity.parse('100Mi').valueBig(), 104857600n);
});

test('asNumber()', () => {
  assert.equal(Quantity.parse('250m').asNumber(), 0.25);
  assert.equal(Quantity.parse('1.5Gi').asNumber(), 1610612736);
  assert.equal(Quantity.parse('1n').asNumber(), 1e-9);
  assert.equal(Quantity.parse('-2k').asNumber(), -2000);
});

test('cmp / equals / isZero / sign', () => {
  const c = (a: string, b: string) => Quantity.parse(a).cmp(Quantity.parse(b));
  assert.equal(c('1000m', '1'), 0);
  assert.equal(c('1Ki', '1024'), 0);
  assert.equal(c('1Gi', '1G'), 1);
  assert.equal(c('1G', '1Gi'), -1);
  assert.equal(c('100m', '0.1'), 0);
  assert.equal(c('1n', '0'), 1);
  assert.equal(c('-1', '0'), -1);
  assert.equal(c('1e3', '1k'), 0);
  assert.equal(c('9223372036854775807', '9223372036854775806'), 1, 'exact for large values');
  assert.ok(Quantity.parse('0m').isZero());
  assert.ok(!Quantity.parse('1n').isZero());
  assert.equal(Quantity.parse('-1m').sign(), -1);
  assert.ok(Quantity.parse('1Gi').equals(Quantity.parse('1024Mi')));
});

test('add / sub are exact and follow upstream format rules', () => {
  const q = (s: string) => Quantity.parse(s);
  assert.equal(q('1').add(q('500m')).toString(), '1500m');
  assert.equal(q('100m').add(q('200m')).toString(), '300m');
  assert.equal(q('0.1').add(q('0.2')).toString(), '300m', 'no float error');
  assert.equal(q('1Gi').add(q('1Gi')).toString(), '2Gi');
  assert.equal(q('1').sub(q('1500m')).toString(), '-500m');
  assert.equal(q('1Gi').sub(q('512Mi')).toString(), '512Mi');
  assert.equal(Quantity.zero().add(q('1Ki')).toString(), '1Ki', 'zero takes the format of the addend');
  assert.equal(Quantity.zero().sub(q('1Ki')).toString(), '-1Ki');
  assert.equal(q('1k').add(q('1Ki')).toString(), '2024', 'keeps the receiver format');
  assert.equal(q('2').mul(3).toString(), '6');
  assert.equal(q('1').neg().toString(), '-1');
  let sum = Quantity.zero();
  for (let i = 0; i < 10; i++) sum = sum.add(q('100m'));
  assert.equal(sum.toString(), '1');
});

test('constructors and roundUp', () => {
  assert.equal(Quantity.fromValue(1024, 'BinarySI').toString(), '1Ki');
  assert.equal(Quantity.fromValue(5).toString(), '5');
  assert.equal(Quantity.fromMilli(1500).toString(), '1500m');
  assert.equal(Quantity.fromMilli(512, 'BinarySI').toString(), '512m', 'BinarySI below 1 is shown as DecimalSI');
  assert.equal(Quantity.fromScaled(3, 6).toString(), '3M');
  assert.equal(Quantity.parse('1n').roundUp(-3).toString(), '1m');
  assert.equal(Quantity.parse('0.30000000000000004').roundUp(-3).toString(), '301m');
  assert.equal(Quantity.parse('100m').roundUp(-3).toString(), '100m');
  assert.equal(JSON.stringify({ cpu: Quantity.parse('0.5') }), '{"cpu":"500m"}');
});

test('BinarySI values are capped at max int64 like upstream', () => {
  assert.equal(str('8Ei'), '9223372036854775807');
  assert.equal(str('7Ei'), '7Ei');
});

test('parseQuantityOrNull / validateQuantity / validateNonNegativeQuantity', () => {
  assert.equal(parseQuantityOrNull('1Gi')?.toString(), '1Gi');
  assert.equal(parseQuantityOrNull('nope'), null);
  assert.equal(parseQuantityOrNull(undefined), null);
  assert.equal(parseQuantityOrNull({}), null);
  assert.equal(parseQuantityOrNull(2)?.toString(), '2');
  const p = path('spec', 'containers').index(0).child('resources', 'limits').key('cpu');
  assert.deepEqual(validateQuantity('100m', p), []);
  assert.deepEqual(validateQuantity(undefined, p), []);
  assert.deepEqual(validateQuantity('1x', p).map(formatFieldError), [
    `spec.containers[0].resources.limits[cpu]: Invalid value: "1x": ${ERR_FORMAT_WRONG}`,
  ]);
  assert.deepEqual(validateQuantity(true, p).length, 1);
  assert.deepEqual(validateNonNegativeQuantity('0', p), []);
  assert.deepEqual(validateNonNegativeQuantity('1', p), []);
  assert.deepEqual(validateNonNegativeQuantity('-1', p).map(formatFieldError), [
    'spec.containers[0].resources.limits[cpu]: Invalid value: "-1": must be greater than or equal to 0',
  ]);
  assert.deepEqual(validateNonNegativeQuantity('-1000m', p).map(formatFieldError), [
    'spec.containers[0].resources.limits[cpu]: Invalid value: "-1": must be greater than or equal to 0',
  ]);
  assert.equal(validateNonNegativeQuantity('1KK', p)[0].detail, `Invalid value: "1KK": ${ERR_SUFFIX}`);
});
