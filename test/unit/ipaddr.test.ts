// Addresses in the shared 128-bit space (src/machinery/ipaddr.ts): IPv4 values are plain numbers
// and IPv6 values above 2^53 bigints, each value in exactly one form, checked against bigint
// arithmetic done here from the address text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv4 } from 'node:net';
import { familyOf, formatIP, ipAdd, ipNum, ipSub, parseIP, V4_RANGE } from '../../src/machinery/ipaddr.js';
import { cidrRanges, familyRanges, mergeRanges, rangeContains, rangeElements } from '../../src/netpol/ranges.js';

/** Deterministic pseudo-random numbers (a test that fails names the same inputs next time). */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

const v4Big = (ip: string) => ip.split('.').reduce((n, p) => n * 256n + BigInt(p), 0n) + 0xffff_0000_0000n;

test('IPv4 addresses are numbers at ::ffff:a.b.c.d; text round-trips; the mapped form is the same value', () => {
  const r = rng(7);
  for (let i = 0; i < 2000; i++) {
    const ip = Array.from({ length: 4 }, () => Math.floor(r() * 256)).join('.');
    const n = parseIP(ip);
    assert.equal(typeof n, 'number', ip);
    assert.equal(BigInt(n!), v4Big(ip), ip);
    assert.equal(formatIP(n!), ip);
    assert.equal(parseIP(`::ffff:${ip}`), n, `::ffff:${ip}`);
    assert.equal(familyOf(n!), 4);
  }
  assert.equal(parseIP('0.0.0.0'), V4_RANGE.from);
  assert.equal(parseIP('255.255.255.255'), V4_RANGE.to);
  assert.equal(parseIP('010.001.0.7'), parseIP('10.1.0.7'), 'leading zeros read as decimal, as before');
});

test('malformed IPv4 and IPv6 text is no address', () => {
  for (const bad of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '1..2.3',
    '.1.2.3',
    '1.2.3.',
    '1234.1.1.1',
    '256.0.0.0',
    '1.2.3.4 ',
    '+1.2.3.4',
    '1.2.3.0x1',
    '١.2.3.4',
    'fd00:::1',
    '1:2:3:4:5:6:7:8:9',
    '::ffff:1.2.3.256',
  ]) {
    assert.equal(parseIP(bad), undefined, JSON.stringify(bad));
    if (!bad.includes(':')) assert.equal(isIPv4(bad), false, `node agrees ${JSON.stringify(bad)} is no IPv4 address`);
  }
});

test('IPv6 values: numbers up to 2^53 - 1, bigints above; arithmetic keeps the one form', () => {
  assert.equal(parseIP('::1'), 1);
  assert.equal(parseIP('::1f:ffff:ffff:ffff'), Number.MAX_SAFE_INTEGER);
  assert.equal(parseIP('::20:0:0:0'), 2n ** 53n);
  assert.equal(ipAdd(Number.MAX_SAFE_INTEGER, 1), 2n ** 53n);
  assert.equal(ipSub(2n ** 53n, 1), Number.MAX_SAFE_INTEGER);
  assert.equal(ipNum(5n), 5);
  assert.equal(formatIP(2n ** 53n), '::20:0:0:0');
  assert.equal(formatIP(0xffff_0a00_0001n), '10.0.0.1', 'a bigint in the IPv4 block still prints as IPv4');
  const top = parseIP('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
  assert.equal(top, 2n ** 128n - 1n);
  assert.equal(familyOf(top), 6);
  assert.equal(familyOf(parseIP('::1')!), 6);
  assert.ok(parseIP('10.0.0.1')! < parseIP('fd00::1')!, 'numbers and bigints compare by value');
});

test('IPv4 CIDRs match bigint arithmetic; ranges of both families merge and split in order', () => {
  const r = rng(11);
  for (let i = 0; i < 500; i++) {
    const ip = Array.from({ length: 4 }, () => Math.floor(r() * 256)).join('.');
    const bits = Math.floor(r() * 33);
    const [range] = cidrRanges(`${ip}/${bits}`);
    const size = 1n << BigInt(32 - bits);
    const from = (v4Big(ip) / size) * size;
    assert.equal(BigInt(range.from), from, `${ip}/${bits}`);
    assert.equal(BigInt(range.to), from + size - 1n, `${ip}/${bits}`);
    assert.equal(typeof range.from, 'number');
    assert.ok(rangeContains([range], ip));
  }
  const mixed = mergeRanges([
    ...cidrRanges('fd00::/120'),
    ...cidrRanges('10.0.0.2/31'),
    ...cidrRanges('10.0.0.0/31'),
    ...cidrRanges('::1/128'),
  ]);
  assert.deepEqual(rangeElements(mixed), ['::1', '10.0.0.0-10.0.0.3', 'fd00::-fd00::ff']);
  assert.deepEqual(rangeElements(familyRanges(mixed, 4)), ['10.0.0.0-10.0.0.3']);
  assert.deepEqual(rangeElements(familyRanges(mixed, 6)), ['::1', 'fd00::-fd00::ff']);
});
