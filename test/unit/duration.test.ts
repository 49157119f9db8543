import { test } from 'node:test';
import assert from 'node:assert/strict';
import { age, humanDuration, shortHumanDuration } from '../../src/machinery/duration.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

test('humanDuration (upstream TestHumanDuration)', () => {
  const cases: [number, string][] = [
    [S, '1s'],
    [70 * S, '70s'],
    [190 * S, '3m10s'],
    [70 * M, '70m'],
    [47 * H, '47h'],
    [49 * H, '2d1h'],
    [8 * D + 2 * H, '8d'],
    [367 * D, '367d'],
    [(365 * 2 * 24 + 25) * H, '2y1d'],
    [(365 * 8 * 24 + 2) * H, '8y'],
    // boundaries of every branch
    [0, '0s'],
    [5 * S, '5s'],
    [119 * S, '119s'],
    [120 * S, '2m'],
    [4 * M + 30 * S, '4m30s'],
    [9 * M + 59 * S, '9m59s'],
    [10 * M, '10m'],
    [10 * M + 30 * S, '10m'],
    [179 * M, '179m'],
    [3 * H, '3h'],
    [3 * H + 5 * M, '3h5m'],
    [7 * H + 59 * M, '7h59m'],
    [8 * H, '8h'],
    [47 * H + 59 * M, '47h'],
    [48 * H, '2d'],
    [2 * D + 5 * H, '2d5h'],
    [7 * D + 23 * H, '7d23h'],
    [45 * D, '45d'],
    [729 * D, '729d'],
    [730 * D, '2y'],
    [730 * D + 100 * D, '2y100d'],
    [365 * 8 * D - H, '7y364d'],
    [100 * 365 * D, '100y'],
    [999, '0s'],
    [1999, '1s'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}ms`);
});

test('humanDuration tolerates small clock skew', () => {
  assert.equal(humanDuration(-1 * S), '0s');
  assert.equal(humanDuration(-1999), '0s');
  assert.equal(humanDuration(-2 * S), '<invalid>');
  assert.equal(humanDuration(-1 * H), '<invalid>');
});

test('shortHumanDuration (upstream TestShortHumanDuration)', () => {
  const cases: [number, string][] = [
    [S, '1s'],
    [59 * S, '59s'],
    [70 * S, '1m'],
    [59 * M, '59m'],
    [70 * M, '1h'],
    [47 * H, '1d'],
    [23 * H, '23h'],
    [364 * D, '364d'],
    [365 * D, '1y'],
    [(365 * 2 * 24 + 25) * H, '2y'],
    [-1 * S, '0s'],
    [-2 * S, '<invalid>'],
  ];
  for (const [ms, want] of cases) assert.equal(shortHumanDuration(ms), want, `${ms}ms`);
});

test('age (kubectl translateTimestampSince)', () => {
  const now = Date.parse('2024-05-10T12:00:00Z');
  assert.equal(age(undefined, now), '<unknown>');
  assert.equal(age('', now), '<unknown>');
  assert.equal(age('not a date', now), '<unknown>');
  assert.equal(age('2024-05-10T11:59:55Z', now), '5s');
  assert.equal(age('2024-05-10T11:55:30Z', now), '4m30s');
  assert.equal(age('2024-05-10T08:55:00Z', now), '3h5m');
  assert.equal(age('2024-05-08T07:00:00Z', now), '2d5h');
  assert.equal(age('2024-03-26T12:00:00Z', now), '45d');
  assert.equal(age('2024-05-10T12:00:01Z', now), '0s');
});
