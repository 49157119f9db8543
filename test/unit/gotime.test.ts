// Go's time.Parse errors for the API's two time layouts, as upstream's decoder returns them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goTimeParseError } from '../../src/machinery/gotime.js';

const RFC = '"2006-01-02T15:04:05Z07:00"';
const MICRO = '"2006-01-02T15:04:05.000000Z07:00"';

test('RFC 3339 texts metav1.Time accepts', () => {
  for (const ok of [
    '2024-01-01T00:00:00Z',
    '2024-01-01T00:00:00.123456789Z',
    '2024-01-01T00:00:00,5Z',
    '2024-02-29T23:59:59+05:30',
    '2024-01-01T7:00:00-01:00',
  ]) {
    assert.equal(goTimeParseError('RFC3339', ok), undefined, ok);
  }
});

test('cannot parse: the remaining text and the layout element it failed at', () => {
  assert.equal(
    goTimeParseError('RFC3339', 'yesterday'),
    `parsing time "yesterday" as ${RFC}: cannot parse "yesterday" as "2006"`,
  );
  assert.equal(goTimeParseError('RFC3339', ''), `parsing time "" as ${RFC}: cannot parse "" as "2006"`);
  assert.equal(
    goTimeParseError('RFC3339', '2024/01/01T00:00:00Z'),
    `parsing time "2024/01/01T00:00:00Z" as ${RFC}: cannot parse "/01/01T00:00:00Z" as "-"`,
  );
  assert.equal(
    goTimeParseError('RFC3339', '2024-1-01T00:00:00Z'),
    `parsing time "2024-1-01T00:00:00Z" as ${RFC}: cannot parse "1-01T00:00:00Z" as "01"`,
  );
  assert.equal(
    goTimeParseError('RFC3339', '2024-01-01'),
    `parsing time "2024-01-01" as ${RFC}: cannot parse "" as "T"`,
  );
  assert.equal(
    goTimeParseError('RFC3339', '2024-01-01 00:00:00Z'),
    `parsing time "2024-01-01 00:00:00Z" as ${RFC}: cannot parse " 00:00:00Z" as "T"`,
  );
  assert.equal(
    goTimeParseError('RFC3339', '2024-01-01T00:00:00'),
    `parsing time "2024-01-01T00:00:00" as ${RFC}: cannot parse "" as "Z07:00"`,
  );
  assert.equal(
    goTimeParseError('RFC3339', '2024-01-01T00:00:00+0100'),
    `parsing time "2024-01-01T00:00:00+0100" as ${RFC}: cannot parse "+0100" as "Z07:00"`,
  );
});

test('out of range and extra text', () => {
  assert.equal(
    goTimeParseError('RFC3339', '2024-13-01T00:00:00Z'),
    'parsing time "2024-13-01T00:00:00Z": month out of range',
  );
  assert.equal(
    goTimeParseError('RFC3339', '2023-02-29T00:00:00Z'),
    'parsing time "2023-02-29T00:00:00Z": day out of range',
  );
  assert.equal(
    goTimeParseError('RFC3339', '2024-01-01T24:00:00Z'),
    'parsing time "2024-01-01T24:00:00Z": hour out of range',
  );
  assert.equal(
    goTimeParseError('RFC3339', '2024-01-01T00:60:00Z'),
    'parsing time "2024-01-01T00:60:00Z": minute out of range',
  );
  assert.equal(
    goTimeParseError('RFC3339', '2024-01-01T00:00:60Z'),
    'parsing time "2024-01-01T00:00:60Z": second out of range',
  );
  assert.equal(
    goTimeParseError('RFC3339', '2024-01-01T00:00:00+25:00'),
    'parsing time "2024-01-01T00:00:00+25:00": time zone offset hour out of range',
  );
  assert.equal(
    goTimeParseError('RFC3339', '2024-01-01T00:00:00Zjunk'),
    'parsing time "2024-01-01T00:00:00Zjunk": extra text: "junk"',
  );
});

test('quoting as Go: bytes outside printable ASCII as \\x escapes', () => {
  assert.equal(
    goTimeParseError('RFC3339', 'é'),
    `parsing time "\\xc3\\xa9" as ${RFC}: cannot parse "\\xc3\\xa9" as "2006"`,
  );
  assert.equal(
    goTimeParseError('RFC3339', 'a"b\n'),
    `parsing time "a\\"b\\x0a" as ${RFC}: cannot parse "a\\"b\\x0a" as "2006"`,
  );
});

test('MicroTime: exactly six fractional digits', () => {
  assert.equal(goTimeParseError('RFC3339Micro', '2024-01-01T00:00:00.123456Z'), undefined);
  assert.equal(goTimeParseError('RFC3339Micro', '2024-01-01T00:00:00.123456+01:00'), undefined);
  assert.equal(
    goTimeParseError('RFC3339Micro', '2024-01-01T00:00:00Z'),
    `parsing time "2024-01-01T00:00:00Z" as ${MICRO}: cannot parse "Z" as ".000000"`,
  );
  assert.equal(
    goTimeParseError('RFC3339Micro', '2024-01-01T00:00:00.123Z'),
    `parsing time "2024-01-01T00:00:00.123Z" as ${MICRO}: cannot parse ".123Z" as ".000000"`,
  );
  assert.equal(
    goTimeParseError('RFC3339Micro', '2024-01-01T00:00:00.1234567Z'),
    `parsing time "2024-01-01T00:00:00.1234567Z" as ${MICRO}: cannot parse "7Z" as "Z07:00"`,
  );
  assert.equal(
    goTimeParseError('RFC3339Micro', '2024-01-01T00:00:00.-12345Z'),
    'parsing time "2024-01-01T00:00:00.-12345Z": fractional second out of range',
  );
});
